"""What every result records about how it was made, checked against the real sources."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import utils
from tests.helpers import ROOT, into, run
from tests.project_copy import commit_all, copy_project, edit

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
        **{name: installed(name) for name in utils.PACKAGES},
    }
    for name in ("hydra-core", "omegaconf", "numpy", "scipy", "hydra-experiment-sweeper"):
        assert provenance["versions"][name] == importlib.metadata.version(name)
    assert provenance["versions"]["hydra-core"] == "1.4.0rc3"
    assert provenance["sweeper"] == "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    assert provenance["launcher"] == "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
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


@pytest.mark.slow
def test_clean_and_dirty_trees(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    commit = commit_all(project, "the project")
    proc = run("task.py", "method=tnc", "output.dir=results/clean", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert {k: the_result(project / "results" / "clean")["provenance"][k] for k in UNKNOWN_GIT} == {
        "commit": commit,
        "dirty": False,
        "modified": [],
    }

    edit(project / "config" / "base.yaml", "seed: 0 ", "seed: 1 ")
    proc = run("task.py", "method=tnc", "output.dir=results/dirty", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert {k: the_result(project / "results" / "dirty")["provenance"][k] for k in UNKNOWN_GIT} == {
        "commit": commit,
        "dirty": True,
        "modified": ["config/base.yaml"],
    }


def test_outside_a_git_repository(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    assert not (project / ".git").exists()
    proc = run("task.py", "method=tnc", cwd=project)
    assert proc.returncode == 0, proc.stderr
    record = the_result(project / "results" / "one-off")
    assert {k: record["provenance"][k] for k in UNKNOWN_GIT} == UNKNOWN_GIT
    assert record["provenance"]["versions"]["scipy"] == importlib.metadata.version("scipy")
    assert record["result"]["success"]


def test_without_git_installed(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH where python is found but git is not
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    proc = subprocess.run(
        [sys.executable, "task.py", "method=tnc", *into(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    record = the_result(tmp_path / "results")
    assert {k: record["provenance"][k] for k in UNKNOWN_GIT} == UNKNOWN_GIT
    assert record["result"]["success"]


@pytest.mark.parametrize("where", ["no git", "no repository"])
def test_code_version_unknown(where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "no git":
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        monkeypatch.setattr(utils, "REPO_ROOT", tmp_path)
    assert utils.code_version.__wrapped__() == UNKNOWN_GIT
