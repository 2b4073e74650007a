"""Run the machinery's tiny task (tests/machinery/tiny/) as a user runs a task."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

import utils
from tests.helpers import ROOT, run

TINY = Path("tests/machinery/tiny")  # relative to a project's root
JOBS = 6  # of the tiny experiment, experiment/sweep.yaml: 2 scales x 3 seeds


def env(project: Path) -> dict[str, str]:
    """The environment in which `project`'s tiny task imports the project's utils.py."""
    return {**os.environ, "PYTHONPATH": str(project)}


def tiny(*args: str, project: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python tests/machinery/tiny/tiny.py *args` in `project`."""
    return run(str(TINY / "tiny.py"), *args, cwd=project, env=env(project), timeout=timeout)


def sweep(*args: str, project: Path = ROOT) -> subprocess.CompletedProcess:
    """The tiny experiment through the checked sweeper: tiny.py -cp experiment -cn sweep -m."""
    return tiny("-cp", "experiment", "-cn", "sweep", "-m", *args, project=project)


def rerun_tiny(result: Path, project: Path = ROOT) -> subprocess.CompletedProcess:
    """rerun.py on a result of the tiny task, which the result names as its task."""
    return run("rerun.py", str(result), cwd=project, env=env(project))


def expected_draws(seed: int, n: int = 5, scale: float = 1.0) -> np.ndarray:
    """The tiny task's draws, computed here without the project's code."""
    return np.random.default_rng(seed).normal(size=n) * scale


def results(folder: Path) -> dict[str, dict]:
    """{file name: record} of every result file in `folder`."""
    return {p.name: utils.read_result(p) for p in sorted(folder.glob("*.pickle"))}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each result file's bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*.pickle")}
