"""Shared helpers: run the project's commands as a user would, with outputs in tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import OptimizeResult, minimize, rosen

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # experiment/task.yaml adds `file://config` to the search path, relative to the working dir.
    monkeypatch.chdir(ROOT)


def run(*args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python *args` in a subprocess, as typed at a shell in `cwd`."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def into(tmp_path: Path) -> list[str]:
    """Overrides that send a run's results and Hydra's logs into `tmp_path`."""
    return [
        f"output.dir={tmp_path}/results",
        f"hydra.run.dir={tmp_path}/outputs",
        f"hydra.sweep.dir={tmp_path}/multirun",
    ]


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def direct_minimize(config: dict) -> OptimizeResult:
    """scipy's own answer for a stored config, without any of the project's code."""
    x0 = config["x0"]
    if x0 is None:  # the documented draw: U(-1, 1)^dim from numpy's default_rng(seed)
        x0 = np.random.default_rng(config["seed"]).uniform(-1, 1, size=config["dim"])
    return minimize(
        rosen,
        np.array(x0, dtype=float),
        method=config["method"]["name"],
        jac=config["jac"],
        options=config["method"]["options"],
    )


@pytest.fixture(scope="session")
def paper_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full 45-job experiment, run once per session; returns its results folder."""
    tmp = tmp_path_factory.mktemp("paper")
    proc = run("task.py", "-cp", "experiment", "-m", *into(tmp))
    assert proc.returncode == 0, proc.stderr
    return tmp / "results"
