"""Shared helpers: run the project's commands as a user would, with outputs in tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from scipy.optimize import OptimizeResult, minimize, rosen

from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    CheckedExperimentSweeper,
)
from hydra_plugins.slurm_launcher.cluster import slurm_problem

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["nelder-mead", "tnc", "lbfgsb"]  # the order of experiment/comparison.yaml

# Each config/method/*.yaml: scipy's options with scipy's defaults (TNC: eta and stepmx ours).
LBFGSB = {
    "maxcor": 10,
    "ftol": 2.220446049250313e-09,
    "gtol": 1e-05,
    "eps": 1e-08,
    "maxfun": 15000,
    "maxiter": 15000,
    "maxls": 20,
    "finite_diff_rel_step": None,
}
NELDER_MEAD = {
    "maxiter": None,
    "maxfev": None,
    "xatol": 0.0001,
    "fatol": 0.0001,
    "adaptive": False,
    "initial_simplex": None,
}
TNC = {
    "eta": 0.2,
    "stepmx": 5.0,
    "maxCGit": -1,
    "maxfun": None,
    "eps": 1e-08,
    "accuracy": 0,
    "minfev": 0,
    "ftol": -1,
    "xtol": -1,
    "gtol": -1,
    "rescale": -1,
    "offset": None,
    "scale": None,
    "finite_diff_rel_step": None,
}


# Why SLURM jobs cannot run here (None when a controller answers), as the launcher checks it.
NO_SLURM = slurm_problem()
needs_slurm = pytest.mark.skipif(
    NO_SLURM is not None, reason=f"{NO_SLURM}; start one with scripts/slurm-up.sh"
)


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


def composed(
    config_dir: str, name: str = "task", overrides: list[str] = (), hydra: bool = False
) -> DictConfig:
    """Config `name` of ROOT/`config_dir`, through Hydra's compose API."""
    with initialize_config_dir(config_dir=str(ROOT / config_dir)):
        return compose(name, overrides=list(overrides), return_hydra_config=hydra)


def resolved(config_dir: str, name: str = "task", overrides: list[str] = ()) -> dict:
    return OmegaConf.to_container(composed(config_dir, name, overrides), resolve=True)


def experiment_sweeper(name: str = "task") -> CheckedExperimentSweeper:
    """The sweeper that experiment/`name`.yaml configures, ready to expand its jobs."""
    config = composed("experiment", name, hydra=True)
    assert config.hydra.sweeper._target_.endswith("CheckedExperimentSweeper")
    return CheckedExperimentSweeper(
        max_batch_size=config.hydra.sweeper.max_batch_size,
        overrides=OmegaConf.to_container(config.hydra.sweeper.overrides),
    )


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
