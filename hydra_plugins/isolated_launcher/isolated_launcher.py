"""Hydra's local launcher, with each job in a child process of its own.

`hydra/launcher=sequential` (one job at a time; the project's default) and
`hydra/launcher=parallel` (one job per CPU core; `hydra.launcher.n_jobs=4` for four) select
it. Jobs run as with Hydra's basic launcher, but each in a forked child of the sweep's
process: a job that kills its process (a segfault, `os._exit`, the out-of-memory killer) is
reported as a failed job, and every other job still runs.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from hydra_plugins.isolated_launcher.isolated import run_all

log = logging.getLogger(__name__)


@dataclass
class IsolatedLauncherConf:
    _target_: str = "hydra_plugins.isolated_launcher.isolated_launcher.IsolatedLauncher"
    n_jobs: int = 1  # jobs at a time; -1: one per CPU core


for name, n_jobs in [("sequential", 1), ("parallel", -1)]:
    ConfigStore.instance().store(
        group="hydra/launcher",
        name=name,
        node=IsolatedLauncherConf(n_jobs=n_jobs),
        provider="isolated_launcher",
    )


def workers(n_jobs: int) -> int:
    if n_jobs == -1:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if n_jobs < 1:
        raise ValueError(f"hydra.launcher.n_jobs={n_jobs}: choose a positive number or -1")
    return n_jobs


def failed_return(config: DictConfig, overrides: list[str], error: BaseException) -> JobReturn:
    """The JobReturn of a job whose process ended without handing one back."""
    task_config = copy.deepcopy(config)
    with open_dict(task_config):
        del task_config["hydra"]
    return JobReturn(
        overrides=overrides,
        cfg=task_config,
        hydra_cfg=config,
        _return_value=error,
        task_name=config.hydra.job.name,
        status=JobStatus.FAILED,
    )


def sweep_job(
    hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
) -> Callable[[], JobReturn]:
    """One job of a sweep, as Hydra's launchers run it, to be called in the job's process."""

    def job() -> JobReturn:
        return run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    return job


class IsolatedLauncher(Launcher):
    def __init__(self, n_jobs: int = 1) -> None:
        super().__init__()
        self.n_jobs = n_jobs
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Any, initial_job_idx: int) -> list[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(
            self.config.hydra.hydra_logging,
            self.config.hydra.verbose,
            execution_whitelist=self.hydra_context.execution_whitelist,
        )
        n = workers(self.n_jobs)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs, {n} at a time, each in its own process")
        configs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides)
            )
            with open_dict(config):
                config.hydra.job.id = str(idx)
                config.hydra.job.num = idx
            configs.append(config)
        assert self.task_function is not None
        jobs = [sweep_job(self.hydra_context, self.task_function, c) for c in configs]
        outcomes = run_all(jobs, max_running=n)
        returns = []
        for config, overrides, outcome in zip(configs, job_overrides, outcomes, strict=True):
            if outcome.error is None:
                returns.append(outcome.value)
            else:
                log.error(f"Job {' '.join(overrides)}: {outcome.error}")
                returns.append(failed_return(config, list(overrides), outcome.error))
        return returns
