"""The `experiment` sweeper with a cheaper up-front check and honest reporting.

Select it with `override hydra/sweeper: checked_experiment`; it takes the same `overrides`
and `max_batch_size` as hydra-experiment-sweeper. On top of that sweeper it

- checks every job's config before any job runs, composing one job per *variant* instead of
  every job (see `variant`), and resolves each composed variant, so that a missing
  interpolation is refused too;
- runs every job even when some fail, whatever the launcher, then raises the first failed
  job's own exception (its type and traceback intact) with a report attached that names each
  failed job and its error, one line per job: as a note (shown under the traceback on
  Python 3.11+; on 3.10 it is stored in `__notes__` and logged) and as `sweep_report`;
- ends with a summary line that counts the jobs that reused a stored result, ran, re-ran (and
  why) and failed, read from the status file `job.json` that each job may write into its
  output directory (see `JobStatus`). A job without a readable status file counts as "ran".
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import (
    ExperimentSweeper,
    SweeperConfig,
)

log = logging.getLogger(__name__)


@dataclass
class CheckedExperimentSweeperConf(SweeperConfig):
    _target_: str = (
        "hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper."
        "CheckedExperimentSweeper"
    )


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_experiment",
    node=CheckedExperimentSweeperConf,
    provider="checked_experiment_sweeper",
)


def variant(overrides: Sequence[Override], sensitive: set[str]) -> tuple[tuple[str, str], ...]:
    """What composition can tell apart about a job: each override's key, and its value only
    where the value can change the outcome of composition. Values matter for config-group
    choices and typed (structured-config) keys, which the caller marks `sensitive`, and for
    deletions, dicts (merged key by key) and interpolations. Elsewhere an untyped YAML node
    accepts any value, so the value's type stands in for the value.

    (The return type has no module-level alias: Hydra's plugin scan takes a `tuple[...]` alias
    for a class, and fails on it on Python 3.10.)"""
    parts = []
    for o in overrides:
        value = o.value()
        if (
            o.key_or_group in sensitive
            or "/" in o.key_or_group
            or o.is_delete()
            or isinstance(value, dict)
            or "${" in str(value)
        ):
            parts.append((o.get_key_element(), o.get_value_element_as_str()))
        else:
            parts.append((o.get_key_element(), type(value).__name__))
    return tuple(parts)


def _is_typed(config: DictConfig, key: str) -> bool:
    """Whether `key` lies inside a structured config, whose nodes check their values' types."""
    path = key.split(".")
    for depth in range(len(path)):
        node = OmegaConf.select(config, ".".join(path[:depth])) if depth else config
        if OmegaConf.is_dict(node) and OmegaConf.get_type(node) not in (dict, None):
            return True
    return False


def config_groups(config: DictConfig) -> set[str]:
    """The config groups that `config` chose an option of (`settings`, `hydra/launcher`)."""
    return {choice.split("@")[0] for choice in config.hydra.runtime.choices}


def value_sensitive_keys(config: DictConfig, overrides: Sequence[Override]) -> set[str]:
    groups = config_groups(config)
    return {
        o.key_or_group
        for o in overrides
        if o.key_or_group in groups or _is_typed(config, o.key_or_group)
    }


STATUS_FILE = "job.json"


@dataclass(frozen=True)
class JobStatus:
    """What a job wrote into `<its output dir>/job.json`: `status` "reused" (a stored result
    was reused) or "ran", and for a run, `redone`: why a stored result was not reused (or None)."""

    status: str
    redone: str | None = None


def read_job_status(ret: JobReturn) -> JobStatus | None:
    """The status file of a finished job; None if it wrote none (or one that is not valid)."""
    if ret.hydra_cfg is None:
        return None
    path = Path(ret.hydra_cfg.hydra.runtime.output_dir) / STATUS_FILE
    try:
        data = json.loads(path.read_text())
        status, redone = data["status"], data.get("redone")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as e:
        log.warning(f"Ignoring the job status file {path}: {type(e).__name__}: {e}")
        return None
    if status not in ("reused", "ran") or not (redone is None or isinstance(redone, str)):
        log.warning(f"Ignoring the job status file {path}: not a status: {data!r}")
        return None
    return JobStatus(status, redone)


def summary(statuses: Sequence[JobStatus | None], failed: int) -> str:
    """`reused N, ran N[, re-ran N <why>]..., failed N` for the finished jobs' statuses."""
    reused = sum(s is not None and s.status == "reused" for s in statuses)
    redone = Counter(s.redone for s in statuses if s is not None and s.status == "ran" and s.redone)
    ran = len(statuses) - reused - redone.total()
    parts = [f"reused {reused}", f"ran {ran}"]
    parts += [f"re-ran {n} {why}" for why, n in redone.most_common()]
    return ", ".join([*parts, f"failed {failed}"])


def failure_line(job_idx: int, overrides: Sequence[str], error: BaseException) -> str:
    """`#3 [settings=tnc maxfun=40]: JobDied: killed by signal 9 (SIGKILL)`."""
    first_line = next(iter(str(error).splitlines()), "")  # the whole error is logged
    return f"#{job_idx} [{' '.join(overrides)}]: {type(error).__name__}: {first_line}"


def attach_report(error: BaseException, report: str) -> None:
    """Attach `report` to `error` as a note and as `error.sweep_report`."""
    if sys.version_info >= (3, 11):
        error.add_note(report)
    else:  # no add_note: keep the note where 3.11 would, for callers that read it
        error.__notes__ = [*getattr(error, "__notes__", []), report]
    error.sweep_report = report


class CheckedExperimentSweeper(ExperimentSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Compose and resolve one job per variant; raise on the first bad config."""
        assert self.config is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = [(list(overrides), parser.parse_overrides(list(overrides))) for overrides in batch]
        # Config groups of the primary config; groups chosen inside them show up on the way.
        sensitive = config_groups(self.config)
        checked: set[tuple[tuple[str, str], ...]] = set()
        while True:
            pending = {}
            for overrides, parsed in jobs:
                key = variant(parsed, sensitive)
                if key not in checked:
                    pending.setdefault(key, (overrides, parsed))
            if not pending:
                break
            for key, (overrides, parsed) in pending.items():
                config = self._compose_and_resolve(overrides)
                sensitive |= value_sensitive_keys(config, parsed)
                checked.add(key)
        log.info(f"Checked the configs of {len(batch)} jobs by composing {len(checked)}")

    def _compose_and_resolve(self, overrides: list[str]) -> DictConfig:
        assert self.config is not None and self.hydra_context is not None
        try:
            config = self.hydra_context.config_loader.load_sweep_config(
                master_config=self.config, sweep_overrides=overrides
            )
            with open_dict(config):
                # What a launcher sets before a job runs, so that ${hydra:job.num} resolves.
                config.hydra.job.num = 0
                config.hydra.job.id = "check"
            previous = HydraConfig.instance().cfg
            HydraConfig.instance().set_config(config)
            try:
                for key in config:
                    node = config[key] if key != "hydra" else None  # resolves a scalar
                    if OmegaConf.is_config(node):
                        OmegaConf.to_container(node, resolve=True)
            except OmegaConfBaseException as e:
                raise ConfigCompositionException(
                    f"{str(e).splitlines()[0]} (at {e.full_key}) in the config of job "
                    f"[{' '.join(overrides)}]"
                ) from e
            finally:
                if previous is not None:
                    HydraConfig.instance().set_config(previous)
        except Exception:
            log.error(f"Refusing the sweep: the config of job [{' '.join(overrides)}] is invalid")
            raise
        return config

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        assert self.config is not None and self.launcher is not None
        log.info(f"Sweep output dir : {self.config.hydra.sweep.dir}")
        self.save_sweep_config()
        jobs = self.generate_jobs(arguments)
        self.validate_batch_is_legal(jobs)

        tic = time.perf_counter()
        returns = []
        statuses: list[JobStatus | None] = []
        failures: list[tuple[str, Exception]] = []
        size = self.batch_size(jobs)
        for first in range(0, len(jobs), size):
            batch = jobs[first : first + size]
            results = self.launcher.launch(batch, initial_job_idx=first)
            for job_idx, overrides, ret in zip(
                range(first, first + len(batch)), batch, results, strict=True
            ):
                try:
                    _ = ret.return_value  # raises the job's error
                except Exception as e:  # noqa: BLE001 - every job's error is reported
                    failures.append((failure_line(job_idx, overrides, e), e))
                    log.error(f"Job #{job_idx} failed: {' '.join(overrides)}", exc_info=e)
                else:
                    statuses.append(read_job_status(ret))
            returns.append(results)

        log.info(
            f"Sweep done in {time.perf_counter() - tic:.1f}s: {summary(statuses, len(failures))}"
        )
        if failures:
            report = (
                f"{len(failures)} of {len(jobs)} jobs failed (the other {len(statuses)} kept "
                f"their results; logs in {self.config.hydra.sweep.dir}):\n"
                + "\n".join(line for line, _ in failures)
            )
            error = failures[0][1]
            attach_report(error, report)
            if sys.version_info < (3, 11):  # the traceback will not show the note
                log.error(report)
            raise error
        return returns

    def __repr__(self) -> str:
        return f"CheckedExperimentSweeper(overrides={self.overrides!r})"
