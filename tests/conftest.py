"""Fixtures for every test. The helpers live in tests/helpers.py; the names below are also
importable from here (`from conftest import run`) for the tests at this folder's top level."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import (  # noqa: F401 - re-exported
    NO_SLURM,
    ROOT,
    composed,
    experiment_sweeper,
    into,
    last_line,
    needs_slurm,
    resolved,
    run,
)


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # experiment/task.yaml adds `file://config` to the search path, relative to the working dir.
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def paper_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's experiment (python task.py -cp experiment -m), run once per session;
    returns its results folder."""
    tmp = tmp_path_factory.mktemp("paper")
    proc = run("task.py", "-cp", "experiment", "-m", *into(tmp))
    assert proc.returncode == 0, proc.stderr
    return tmp / "results"
