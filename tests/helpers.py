"""Helpers for every test: run the project's commands as a user would, outputs in tmp_path.

Nothing here knows the example task: the machinery's tests (tests/machinery/) use it too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    CheckedExperimentSweeper,
)
from hydra_plugins.slurm_launcher.cluster import slurm_problem

ROOT = Path(__file__).resolve().parents[1]

# Why SLURM jobs cannot run here (None when a controller answers), as the launcher checks it.
NO_SLURM = slurm_problem()
needs_slurm = pytest.mark.skipif(
    NO_SLURM is not None, reason=f"{NO_SLURM}; start one with scripts/slurm-up.sh"
)


def run(
    *args: str, cwd: Path = ROOT, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python *args` in a subprocess, as typed at a shell in `cwd`."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
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


SUMMARY = re.compile(
    r"Sweep done in [\d.]+s: (?:skipped (?P<old_reused>\d+) finished|reused (?P<reused>\d+)), "
    r"ran (?P<ran>\d+)(?P<reran>(?:, re-ran \d+ [^,\n]+)*), failed (?P<failed>\d+)"
)


def sweep_counts(log: str) -> dict[str, int]:
    """The checked sweeper's closing counts: {"reused": N, "ran": M, "re-ran": K, "failed": F}
    (re-ran: runs that replaced a stored result made by other code or packages)."""
    [match] = SUMMARY.finditer(log)
    reran = sum(int(n) for n in re.findall(r"re-ran (\d+)", match["reran"]))
    return {
        "reused": int(match["reused"] or match["old_reused"]),
        "ran": int(match["ran"]),
        "re-ran": reran,
        "failed": int(match["failed"]),
    }


def composed(
    config_dir: str, name: str = "task", overrides: list[str] = (), hydra: bool = False
) -> DictConfig:
    """Config `name` of ROOT/`config_dir`, through Hydra's compose API."""
    with initialize_config_dir(config_dir=str(ROOT / config_dir)):
        return compose(name, overrides=list(overrides), return_hydra_config=hydra)


def resolved(config_dir: str, name: str = "task", overrides: list[str] = ()) -> dict:
    return OmegaConf.to_container(composed(config_dir, name, overrides), resolve=True)


def experiment_sweeper(
    name: str = "task", config_dir: str = "experiment"
) -> CheckedExperimentSweeper:
    """The sweeper that `config_dir`/`name`.yaml configures, ready to expand its jobs."""
    config = composed(config_dir, name, hydra=True)
    assert config.hydra.sweeper._target_.endswith("CheckedExperimentSweeper")
    return CheckedExperimentSweeper(
        max_batch_size=config.hydra.sweeper.max_batch_size,
        overrides=OmegaConf.to_container(config.hydra.sweeper.overrides),
    )


@contextmanager
def checking_sweeper(config_dir: str, name: str) -> Iterator[CheckedExperimentSweeper]:
    """The sweeper that `config_dir`/`name`.yaml configures, set up in-process on that composed
    config as Hydra sets it up for a sweep, so that it can check batches of jobs
    (`validate_batch_is_legal`)."""
    with initialize_config_dir(config_dir=str(ROOT / config_dir)):
        config = compose(name, return_hydra_config=True)
        HydraConfig.instance().set_config(config)
        sweeper = CheckedExperimentSweeper(
            max_batch_size=None, overrides=OmegaConf.to_container(config.hydra.sweeper.overrides)
        )
        loader = GlobalHydra.instance().config_loader()
        sweeper.hydra_context = HydraContext(config_loader=loader, callbacks=None)
        sweeper.config = config
        yield sweeper
