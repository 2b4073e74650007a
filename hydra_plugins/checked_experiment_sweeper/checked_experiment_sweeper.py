"""The `experiment` sweeper with a cheaper up-front check and honest failure reporting.

Select it with `override hydra/sweeper: checked_experiment`; it takes the same `overrides`
and `max_batch_size` as hydra-experiment-sweeper. On top of that sweeper it

- checks every job's config before any job runs, composing one job per *variant* instead of
  every job (see `variant`), and resolves each composed variant, so that a missing
  interpolation is refused too;
- runs every job even when some fail, then names each failed job with its error and ends the
  sweep with an error (non-zero exit), whatever the launcher;
- counts the jobs that found their finished result already on disk (see task.py's
  `output.resume`) and reports "skipped N finished, ran M".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn
from hydra.errors import CompactHydraException, ConfigCompositionException
from more_itertools import chunked
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


class SweepFailed(CompactHydraException):
    """Some jobs of a sweep failed; the others ran to the end."""


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


def _job_result_started(ret: JobReturn) -> datetime | None:
    """When the result this job returned was computed, read from its result file."""
    try:
        import utils  # the project's result reader, next to task.py
    except ImportError:
        return None
    try:
        record = utils.read_result(utils.result_path(OmegaConf.to_container(ret.cfg, resolve=True)))
        return datetime.fromisoformat(record["provenance"]["started"])
    except Exception:  # noqa: BLE001 - no readable result: nothing to count
        return None


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

        started = datetime.now().astimezone()
        tic = time.perf_counter()
        returns = []
        failures = []
        skipped = 0
        job_idx = 0
        for batch in chunked(jobs, self.batch_size(jobs)):
            results = self.launcher.launch(batch, initial_job_idx=job_idx)
            for overrides, ret in zip(batch, results, strict=True):
                try:
                    _ = ret.return_value  # raises the job's error
                except Exception as e:  # noqa: BLE001 - every job's error is reported
                    first_line = next(iter(str(e).splitlines()), "")  # the whole error is logged
                    failures.append(
                        f"#{job_idx} [{' '.join(overrides)}]: {type(e).__name__}: {first_line}"
                    )
                    log.error(f"Job #{job_idx} failed: {' '.join(overrides)}", exc_info=e)
                else:
                    result_started = _job_result_started(ret)
                    skipped += result_started is not None and result_started < started
                job_idx += 1
            returns.append(results)

        ran = len(jobs) - skipped - len(failures)
        log.info(
            f"Sweep done in {time.perf_counter() - tic:.1f}s: skipped {skipped} finished, "
            f"ran {ran}, failed {len(failures)}"
        )
        if failures:
            raise SweepFailed(
                f"{len(failures)} of {len(jobs)} jobs failed (the other {len(jobs) - len(failures)}"
                f" kept their results; logs in {self.config.hydra.sweep.dir}):\n"
                + "\n".join(failures)
            )
        return returns

    def __repr__(self) -> str:
        return f"CheckedExperimentSweeper(overrides={self.overrides!r})"
