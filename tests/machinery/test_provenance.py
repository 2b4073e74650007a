"""What every result records about how it was made, on the tiny task, checked against the real
sources: git, the installed distributions, pyproject.toml."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
import time
import types
from datetime import datetime, timezone
from pathlib import Path

import pytest

import utils
from tests.helpers import ROOT, into, run
from tests.machinery.tiny_task import TINY, env, tiny
from tests.project_copy import commit_all, copy_project, edit

UNKNOWN_GIT = {"commit": "unknown", "dirty": "unknown", "modified": "unknown"}


def the_result(folder: Path) -> dict:
    (path,) = folder.glob("*.pickle")
    return utils.read_result(path)


def installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # colorama: pinned for Windows only
        return "not installed"


def head(repo: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.mark.slow
def test_a_run_records_where_it_came_from(tmp_path: Path) -> None:
    commit_before = head(ROOT)
    begin = datetime.now(timezone.utc)
    proc = tiny("seed=3", *into(tmp_path))
    end = datetime.now(timezone.utc)
    assert proc.returncode == 0, proc.stderr
    provenance = the_result(tmp_path / "results")["provenance"]

    assert provenance["commit"] in {commit_before, head(ROOT)}  # HEAD may move meanwhile
    assert len(provenance["commit"]) == 40
    assert provenance["dirty"] == bool(provenance["modified"])
    assert [name for name, _ in provenance["code_files"]] == [
        "cli.py", str(TINY / "tiny.py"), "utils.py"
    ]  # fmt: skip
    for name, digest in provenance["code_files"]:
        assert digest == utils.file_digest(ROOT / name)
    assert provenance["config_name"] == "tiny"
    assert provenance["config_path"] == str(ROOT / TINY / "config")
    assert provenance["overrides"] == ["seed=3", f"output.dir={tmp_path}/results"]
    declared = utils.declared_distributions()
    assert {"numpy", "scipy", "pandas", "matplotlib", "hydra-core", "pytest"} <= set(declared)
    assert provenance["versions"] == {
        "python": platform.python_version(),
        **{name: installed(name) for name in declared},
    }
    assert provenance["sweeper"] == "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    assert provenance["host"] == socket.gethostname()
    assert provenance["job_dir"] == f"{tmp_path}/outputs"
    started = datetime.fromisoformat(provenance["started"])
    assert begin < started < end
    assert 0 < provenance["duration_s"] < (end - started).total_seconds()


@pytest.mark.slow
def test_a_declared_dependency_is_recorded_without_code_changes(tmp_path: Path) -> None:
    """A distribution added to pyproject.toml is recorded; utils.py stays as it is."""
    project = copy_project(tmp_path / "project")
    # pip: installed here, yet neither in pyproject.toml nor in requirements.lock.
    assert "pip" not in utils.declared_distributions()
    edit(
        project / "pyproject.toml",
        '    "matplotlib>=3.9",\n',
        '    "matplotlib>=3.9",\n    "pip",\n',
    )
    proc = tiny("output.dir=results", project=project)
    assert proc.returncode == 0, proc.stderr
    versions = the_result(project / "results")["provenance"]["versions"]
    assert versions["pip"] == importlib.metadata.version("pip")
    assert (project / "utils.py").read_bytes() == (ROOT / "utils.py").read_bytes()


@pytest.mark.slow
def test_a_sweep_records_the_code_it_loaded_not_a_later_edit(tmp_path: Path) -> None:
    # A local sweep forks every job from its own process, so each job runs the code that
    # process loaded at the start, whatever the file holds by then: its record must say so.
    project = copy_project(tmp_path / "project")
    commit = commit_all(project, "the project")
    task_file = project / TINY / "tiny.py"
    loaded = hashlib.sha256(task_file.read_bytes()).hexdigest()
    command = [str(TINY / "tiny.py"), "-m", "seed=1,2", "behave=sleep", "sleep_s=1"]
    command += ["output.dir=results", "hydra.sweep.dir=multirun"]
    proc = subprocess.Popen(
        [sys.executable, *command], cwd=project, env=env(project), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first_job = project / "multirun" / "0"
    deadline = time.monotonic() + 120
    while not first_job.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    edit(task_file, "* config.scale", "* config.scale * 1")  # while the first job runs
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    records = [utils.read_result(p) for p in sorted((project / "results").glob("*.pickle"))]
    assert len(records) == 2
    for record in records:
        provenance = record["provenance"]
        assert dict(provenance["code_files"])[str(TINY / "tiny.py")] == loaded
        assert {k: provenance[k] for k in UNKNOWN_GIT} == {
            "commit": commit, "dirty": False, "modified": []
        }  # fmt: skip
    # The edited file is other code: the same sweep again runs both jobs anew.
    again = tiny(*command[1:], project=project)
    assert again.returncode == 0, again.stderr
    redone = f"was made by other code: commit {commit[:7]} -> commit {commit[:7]} + uncommitted"
    assert again.stdout.count(redone) == 2, again.stdout


@pytest.mark.slow
def test_clean_and_dirty_trees(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    commit = commit_all(project, "the project")
    proc = tiny("output.dir=results/clean", project=project)
    assert proc.returncode == 0, proc.stderr
    assert {k: the_result(project / "results" / "clean")["provenance"][k] for k in UNKNOWN_GIT} == {
        "commit": commit,
        "dirty": False,
        "modified": [],
    }

    edit(project / TINY / "tiny.py", "* config.scale", "* config.scale * 1")
    proc = tiny("output.dir=results/dirty", project=project)
    assert proc.returncode == 0, proc.stderr
    assert {k: the_result(project / "results" / "dirty")["provenance"][k] for k in UNKNOWN_GIT} == {
        "commit": commit,
        "dirty": True,
        "modified": [str(TINY / "tiny.py")],
    }


@pytest.mark.slow
def test_outside_a_git_repository(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    assert not (project / ".git").exists()
    proc = tiny("output.dir=results", project=project)
    assert proc.returncode == 0, proc.stderr
    record = the_result(project / "results")
    assert {k: record["provenance"][k] for k in UNKNOWN_GIT} == UNKNOWN_GIT
    assert record["provenance"]["versions"]["numpy"] == importlib.metadata.version("numpy")


@pytest.mark.slow
def test_without_git_installed(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH where python is found but git is not
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    proc = run(str(TINY / "tiny.py"), *into(tmp_path), env={**env(ROOT), "PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr
    record = the_result(tmp_path / "results")
    assert {k: record["provenance"][k] for k in UNKNOWN_GIT} == UNKNOWN_GIT


@pytest.mark.parametrize("where", ["no git", "no repository"])
def test_code_state_unknown(where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "no git":
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        monkeypatch.setattr(utils, "REPO_ROOT", tmp_path)
    assert utils.code_state.__wrapped__(("utils.py",)) == UNKNOWN_GIT
    assert os.environ["PATH"] == (str(tmp_path) if where == "no git" else os.environ["PATH"])


@pytest.mark.parametrize("spelled", ["tests/../benchmarks/bare_task.py", "benchmarks/bare_task.py"])
def test_code_files_names_a_module_by_its_normal_path(
    spelled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module imported through a sys.path entry with "..", or a relative one, is still the
    # project's file of that name (one that no test imports).
    file = str(ROOT / spelled) if ".." in spelled else spelled
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "as_imported", types.SimpleNamespace(__file__=file))
    files = utils.code_files()
    name = "benchmarks/bare_task.py"
    assert files[name] == hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
    assert not [name for name in files if ".." in name]
