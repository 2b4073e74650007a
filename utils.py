"""Reading and writing results: one pickle per run, named by a hash of the run's config."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import pickle
import platform
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

if TYPE_CHECKING:
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent
UNKNOWN = "unknown"
# Distributions whose versions every result records; plugins that are not installed say so.
PACKAGES = (
    "hydra-core",
    "omegaconf",
    "numpy",
    "scipy",
    "hydra-experiment-sweeper",
    "hydra-nevergrad-sweeper",
    "hydra-joblib-launcher",
    "hydra-submitit-launcher",
)


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """What determines a run's outcome: its resolved config, all but `output`."""
    return {key: value for key, value in config.items() if key != "output"}


def config_hash(identity: dict[str, Any]) -> str:
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def result_path(config: dict[str, Any]) -> Path:
    """`output.dir/output.name-<hash>.pickle` for a resolved config: distinct configs never
    share a file."""
    output = config["output"]
    return Path(output["dir"]) / f"{output['name']}-{config_hash(run_identity(config))}.pickle"


def save_result(path: Path, record: dict[str, Any]) -> None:
    """Pickle `record` to `path` atomically: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_result(path: Path) -> dict[str, Any]:
    """Load one result; raises on a missing, truncated or foreign file."""
    with open(path, "rb") as f:
        record = pickle.load(f)
    if not (isinstance(record, dict) and {"config", "result"} <= record.keys()):
        raise ValueError("not a result record")
    return record


def finished_result(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result at `path` if it is complete and ran exactly `config`, else None."""
    try:
        record = read_result(path)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError):
        return None
    return record if run_identity(record["config"]) == run_identity(config) else None


def load_results(folder: str | Path) -> pd.DataFrame:
    """One row per result file below `folder`: the config flattened into dotted columns
    (`method.options.maxfun`), the outcome beside it (`fun`, `x`, `nfev`, ...), provenance
    as `provenance.*` and the file as `path`. Unreadable files are skipped with a warning."""
    import pandas as pd  # here, not at the top: every job imports this module, few need pandas

    rows = []
    for path in sorted(Path(folder).rglob("*.pickle")):
        try:
            record = read_result(path)
        except Exception as e:  # noqa: BLE001 - any broken file is reported, not fatal
            warnings.warn(f"skipping unreadable result {path}: {e!r}", stacklevel=2)
            continue
        rows.append(
            {
                **record["config"],
                **record["result"],
                "provenance": record.get("provenance", {}),
                "path": str(path),
            }
        )
    return pd.json_normalize(rows)


def make_record(
    config: dict[str, Any], outcome: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """What a result file holds, in plain Python and numpy types."""
    return {
        "config": config,
        "result": outcome,
        "provenance": {**environment(), **provenance},
    }


def _git(*args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return out.stdout


@functools.cache
def code_version() -> dict[str, Any]:
    """The git commit of this code, whether the tree is dirty and which files differ."""
    try:
        commit = _git("rev-parse", "HEAD").strip()
        changed = [line[3:] for line in _git("status", "--porcelain").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": UNKNOWN, "modified": UNKNOWN}
    return {"commit": commit, "dirty": bool(changed), "modified": changed}


@functools.cache
def environment() -> dict[str, Any]:
    """What a process runs on; collected once per process, not once per job."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"versions": versions, "host": socket.gethostname(), **code_version()}


def hydra_provenance(hydra: DictConfig) -> dict[str, Any]:
    """How Hydra made this run: config name and path, overrides, sweeper and launcher."""
    main_source = [s for s in hydra.runtime.config_sources if s.provider == "main"]
    return {
        "config_name": hydra.job.config_name,
        "config_path": main_source[0].path if main_source else UNKNOWN,
        "overrides": list(hydra.overrides.task),
        "sweeper": hydra.sweeper.get("_target_", UNKNOWN),
        "launcher": hydra.launcher.get("_target_", UNKNOWN),
        "job_dir": hydra.runtime.output_dir,
        "cwd": hydra.runtime.cwd,
    }
