"""What the example's results record about how they were made (the machinery's own tests of
provenance: tests/machinery/test_provenance.py)."""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import utils
from tests.helpers import ROOT, into, run

UNKNOWN_GIT = {"commit": "unknown", "dirty": "unknown", "modified": "unknown"}


def the_result(folder: Path) -> dict:
    (path,) = folder.glob("*.pickle")
    return utils.read_result(path)


def head(repo: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return out.stdout.strip()


def installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def test_one_off_run_records_where_it_came_from(tmp_path: Path) -> None:
    commit_before = head(ROOT)
    begin = datetime.now(timezone.utc)
    proc = run("task.py", "method=tnc", "seed=3", *into(tmp_path))
    end = datetime.now(timezone.utc)
    assert proc.returncode == 0, proc.stderr
    provenance = the_result(tmp_path / "results")["provenance"]

    assert provenance["commit"] in {commit_before, head(ROOT)}  # HEAD may move meanwhile
    assert len(provenance["commit"]) == 40
    assert isinstance(provenance["dirty"], bool)
    assert isinstance(provenance["modified"], list)
    assert provenance["dirty"] == bool(provenance["modified"])
    assert provenance["config_name"] == "task"
    assert provenance["config_path"] == str(ROOT / "config")
    assert provenance["overrides"] == ["method=tnc", "seed=3", f"output.dir={tmp_path}/results"]
    assert provenance["versions"] == {
        "python": platform.python_version(),
        **{name: installed(name) for name in utils.declared_distributions()},
    }
    for name in ("hydra-core", "omegaconf", "numpy", "scipy", "hydra-experiment-sweeper"):
        assert provenance["versions"][name] == importlib.metadata.version(name)
    assert provenance["versions"]["hydra-core"] == "1.4.0rc3"
    assert provenance["sweeper"] == "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    assert (
        provenance["launcher"]
        == "hydra_plugins.isolated_launcher.isolated_launcher.IsolatedLauncher"
    )
    assert provenance["host"] == socket.gethostname()
    assert provenance["job_dir"] == f"{tmp_path}/outputs"
    started = datetime.fromisoformat(provenance["started"])
    assert begin < started < end
    assert 0 < provenance["duration_s"] < (end - started).total_seconds()


def test_sweep_records_each_jobs_overrides(tmp_path: Path) -> None:
    proc = run(
        "task.py", "-cp", "experiment", "-m", "settings=tnc", "maxfun=10,20", *into(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    records = [utils.read_result(p) for p in sorted((tmp_path / "results").glob("*.pickle"))]
    by_maxfun = {r["config"]["maxfun"]: r["provenance"] for r in records}
    assert sorted(by_maxfun) == [10, 20]
    for job, maxfun in enumerate((10, 20)):
        provenance = by_maxfun[maxfun]
        assert provenance["overrides"] == [
            "settings=tnc",
            f"maxfun={maxfun}",
            f"output.dir={tmp_path}/results",
        ]
        assert provenance["config_path"] == str(ROOT / "experiment")
        assert provenance["sweeper"].endswith("CheckedExperimentSweeper")
        assert provenance["job_dir"] == f"{tmp_path}/multirun/{job}"
