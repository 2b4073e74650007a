"""Result files: one per run, named by a hash of the run's config, read back safely.

`run_and_save` is the machinery around a task: it reuses a stored result when the same config,
code and packages made it, and otherwise runs the task and saves what it returns with the run's
provenance. It knows the task only through `run(config) -> outcome`, a dict of plain values and
numpy arrays (see docs/adapting.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import pickle
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent
UNKNOWN = "unknown"
STATUS_FILE = "job.json"  # in each job's Hydra output folder: what became of the job's result
Outcome = dict[str, Any]


# --- A run's identity: its config ----------------------------------------------------------


def canonical(value: Any) -> Any:
    """`value` with numbers compared by value: a float that equals an integer (5.0) is that
    integer, so `stepmx=5` and the default `5.0` are one config. Booleans stay booleans."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """What determines a run's outcome: its resolved config, all but `output`, canonical."""
    return canonical({key: value for key, value in config.items() if key != "output"})


def config_hash(identity: dict[str, Any]) -> str:
    canonical_json = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical_json.encode()).hexdigest()[:12]


def result_path(config: dict[str, Any]) -> Path:
    """`output.dir/output.name-<hash>.pickle` for a resolved config: distinct configs never
    share a file, and equal ones always do. A file of the same hash whose readable name was
    spelled otherwise (`scale2.0` for `scale2`) is the same run's: that one is returned."""
    output = config["output"]
    digest = config_hash(run_identity(config))
    path = Path(output["dir"]) / f"{output['name']}-{digest}.pickle"
    if not path.exists() and path.parent.is_dir():
        same = sorted(path.parent.glob(f"*-{digest}.pickle"))
        if same:
            return same[0]
    return path


# --- Writing and reading result files --------------------------------------------------------


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


class UnreadableResult(ValueError):
    """A file that is not a result record this project wrote, or that may not be loaded."""


# What a result record may contain besides pickle's own containers and scalars: numpy arrays
# and scalars (as numpy 1 and 2 pickle them), sets, and the codec pickle protocol 2 uses for
# bytes. Nothing else is ever imported or called while reading, so a crafted file cannot run
# code: it is refused.
BUILTINS = ("set", "frozenset", "complex")  # `__builtin__` is their module in protocol 2
ALLOWED_GLOBALS = {
    *((builtins, name) for builtins in ("builtins", "__builtin__") for name in BUILTINS),
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    *(
        (f"numpy.{core}.{module}", name)
        for core in ("core", "_core")
        for module, name in [
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        ]
    ),
}


class RecordUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def read_result(path: str | Path) -> dict[str, Any]:
    """Load one result record. Raises UnreadableResult, whose message is one line naming the
    file, on a missing, truncated, foreign or unsafe file."""
    try:
        with open(path, "rb") as f:
            record = RecordUnpickler(f).load()
    except Exception as error:  # noqa: BLE001 - every way a file can be bad is one message
        first = next(iter(str(error).splitlines()), "")
        raise UnreadableResult(f"{path}: {type(error).__name__}: {first}") from error
    if not (isinstance(record, dict) and {"config", "result"} <= record.keys()):
        raise UnreadableResult(f"{path}: not a result record (no config and result)")
    return record


def iter_results(
    folder: str | Path, skipped: Callable[[UnreadableResult], None] | None = None
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(file, record) for every result file below `folder`, in order of path. An unreadable
    or refused file is passed to `skipped`, by default a warning that names it, and left out."""
    for path in sorted(Path(folder).rglob("*.pickle"), key=str):
        try:
            record = read_result(path)
        except UnreadableResult as error:
            if skipped is None:
                warnings.warn(f"skipped {error}", stacklevel=3)
            else:
                skipped(error)
            continue
        yield path, record


def load_results(folder: str | Path) -> pd.DataFrame:
    """One row per result file below `folder`: the config flattened into dotted columns
    (`method.options.maxfun`), the outcome beside it (`fun`, `x`, `nfev`, ...), provenance
    as `provenance.*` and the file as `path`. Unreadable files are skipped with a warning
    that names each."""
    import pandas as pd  # here, not at the top: every job imports this module, few need pandas

    rows = [
        {
            **record["config"],
            **record["result"],
            "provenance": record.get("provenance", {}),
            "path": str(path),
        }
        for path, record in iter_results(folder)
    ]
    return pd.json_normalize(rows)


# --- What made a result: code and packages ---------------------------------------------------


@functools.cache
def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read once per process (and inherited by the jobs it forks,
    see `environment`): the code as it was loaded."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _is_project_code(relative: str) -> bool:
    """A Python file of this project's own (`relative` to its root), not an installed package
    or a Hydra plugin (plugins launch jobs; they do not compute results)."""
    parts = relative.split(os.sep)
    return (
        relative.endswith(".py")
        and "site-packages" not in parts
        and not parts[0].startswith(".")  # .venv and the like
        and parts[0] != "hydra_plugins"
    )


def project_path(path: str | Path) -> str:
    """`path` relative to the project's root (as code_files names files), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(REPO_ROOT))
    except ValueError:
        return str(absolute)


def code_files(*also: str | Path) -> dict[str, str]:
    """The project's modules loaded in this process (and the files `also` names), as
    {path relative to the project: sha256 of its contents}. Plain string checks: a virtual
    environment inside the project puts hundreds of modules under its root."""
    root = str(REPO_ROOT) + os.sep
    paths = {os.path.abspath(p) for p in also}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.endswith(".py"):
            if not os.path.isabs(file) or ".." in file:  # abspath also normalizes
                file = os.path.abspath(file)
            paths.add(file)
    relatives = (p[len(root) :] for p in sorted(paths) if p.startswith(root))
    return {
        relative: file_digest(REPO_ROOT / relative)
        for relative in relatives
        if _is_project_code(relative)
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
def code_state(files: tuple[str, ...]) -> dict[str, Any]:
    """The git commit, and whether `files` (the code that ran) differ from it: one `git status`
    call, since every job asks."""
    try:
        status = _git("status", "--porcelain=v2", "--branch", "--untracked-files=all", "--", *files)
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": UNKNOWN, "modified": UNKNOWN}
    commit = re.search(r"^# branch\.oid (\S+)$", status, re.M)
    if commit is None or commit.group(1) == "(initial)":
        return {"commit": UNKNOWN, "dirty": UNKNOWN, "modified": UNKNOWN}
    # Each entry ends in its path after a fixed number of fields (git-status(1), porcelain v2).
    fields = {"1": 8, "2": 9, "u": 10, "?": 1, "!": 1}
    changed = [
        line.split(" ", fields[line[0]])[-1].split("\t")[0]
        for line in status.splitlines()
        if line[:1] in fields
    ]
    return {"commit": commit.group(1), "dirty": bool(changed), "modified": changed}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def declared_distributions() -> tuple[str, ...]:
    """Every distribution named in pyproject.toml's dependencies (optional ones included) and
    pinned in requirements.lock: a dependency added there is recorded with no other edit."""
    names: set[str] = set()
    lock = REPO_ROOT / "requirements.lock"
    if lock.exists():
        names |= set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(), re.M))
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists() and sys.version_info >= (3, 11):
        import tomllib

        project = tomllib.loads(pyproject.read_text()).get("project", {})
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        names |= {re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group() for r in requirements}
    return tuple(sorted({_normalize(n) for n in names}))


def installed_versions() -> dict[str, str]:
    """{normalized name: version} of the installed distributions, from the names of their
    *.dist-info folders (reading each one's metadata would cost ~0.1 s per job)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].partition("-")
                found.setdefault(_normalize(dist), version)
    return found


@functools.cache
def versions() -> dict[str, str]:
    """Python's version and each declared distribution's ("not installed" where absent)."""
    installed = installed_versions()
    result = {"python": platform.python_version()}
    for name in declared_distributions():
        version = installed.get(name)
        if version is None:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = "not installed"
        result[name] = version
    return result


def environment(*also: str | Path) -> dict[str, Any]:
    """What a run ran on: the code (files and git state), the package versions, the host."""
    files = code_files(*also)
    return {
        "code_files": sorted(files.items()),
        **code_state(tuple(files)),
        "versions": versions(),
        "host": socket.gethostname(),
    }


# A process that forks jobs (a local launcher, or a SLURM pack) reads the code, git's state
# and the versions once, before its first fork: every job inherits them, as it inherits the
# code this process loaded, and none pays for them again. (Cached: later forks skip it.)
os.register_at_fork(before=functools.cache(environment))


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


def make_record(
    config: dict[str, Any], outcome: Outcome, provenance: dict[str, Any]
) -> dict[str, Any]:
    """What a result file holds, in plain Python and numpy types."""
    return {"config": config, "result": outcome, "provenance": provenance}


# --- Whether a stored result stands for a run ------------------------------------------------


def describe_code(provenance: dict[str, Any]) -> str:
    """`commit 296dfd2`, with `+ uncommitted changes` when the code that ran had some."""
    commit = provenance.get("commit", UNKNOWN)
    if commit == UNKNOWN:
        return "unknown commit"
    dirty = " + uncommitted changes" if provenance.get("dirty") is True else ""
    return f"commit {commit[:7]}{dirty}"


def why_not_reusable(record: dict[str, Any], config: dict[str, Any], task_file: str) -> str | None:
    """None when `record` was made by this config, the same code and the same packages;
    otherwise why not, in a few words (the sweep's summary groups runs by it)."""
    if run_identity(record["config"]) != run_identity(config):
        return "holds another config"
    stored = record.get("provenance", {})
    then_files = dict(stored.get("code_files", []))
    if not then_files:
        return "made by code that recorded no fingerprint"
    task = project_path(task_file)
    changed = [
        name for name, digest in then_files.items() if file_digest(REPO_ROOT / name) != digest
    ]
    if task not in then_files:
        changed.append(task)
    if changed:
        now = code_state(tuple(code_files(task_file)))
        return f"made by other code: {describe_code(stored)} -> {describe_code(now)}"
    then_versions, now_versions = stored.get("versions", {}), versions()
    other = [
        f"{name} {then_versions.get(name, 'absent')} -> {now_versions.get(name, 'absent')}"
        for name in sorted(then_versions.keys() | now_versions.keys())
        if then_versions.get(name) != now_versions.get(name)
    ]
    if other:
        return f"made with other packages: {', '.join(other)}"
    return None


# --- Running a task ------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """A run was interrupted (SIGINT or SIGTERM); its result was not saved."""


@contextlib.contextmanager
def interrupts_noticed() -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM while the block runs, then let each do what it did before
    (a KeyboardInterrupt, the end of the process). A task whose library catches the
    KeyboardInterrupt and returns a partial result is still seen as interrupted."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen  # signal handlers can be set in the main thread only
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        seen.append(signum)
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield seen
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def write_status(result: Path, status: str, redone: str | None) -> None:
    """Tell the sweeper what became of this job's result, in the job's Hydra output folder."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    status_record = {"result": str(result), "status": status, "redone": redone}
    (folder / STATUS_FILE).write_text(json.dumps(status_record) + "\n")


def run_and_save(config: DictConfig, run: Callable[[DictConfig], Outcome]) -> Outcome:
    """The outcome of `run(config)`: the stored one when the same config, code and packages
    made it (and `output.resume` is true), else computed now and saved with its provenance."""
    from hydra.core.hydra_config import HydraConfig

    resolved = OmegaConf.to_container(config, resolve=True)
    path = result_path(resolved)
    task_file = run.__code__.co_filename
    redone = None
    if config.output.resume and path.exists():
        try:
            stored = read_result(path)
            redone = why_not_reusable(stored, resolved, task_file)
        except UnreadableResult as error:
            redone = f"unreadable ({error})"
        if redone is None:
            log.info(f"Skipped: {path} already holds this run (same config, code and packages)")
            write_status(path, "reused", None)
            return stored["result"]
        log.info(f"Re-running: {path} was {redone}")

    started = datetime.now(timezone.utc)
    tic = time.perf_counter()
    with interrupts_noticed() as interrupts:
        outcome = run(config)
    duration = time.perf_counter() - tic
    if interrupts:
        name = signal.Signals(interrupts[0]).name
        raise Interrupted(f"{name} during the run: its result was not saved")

    provenance = {
        "task": f"{project_path(task_file)}:{run.__name__}",  # what rerun.py calls
        **environment(task_file),
        "started": started.isoformat(),
        "duration_s": duration,
    }
    if HydraConfig.initialized():
        provenance.update(hydra_provenance(HydraConfig.get()))
    save_result(path, make_record(resolved, outcome, provenance))
    write_status(path, "ran", redone)
    return outcome
