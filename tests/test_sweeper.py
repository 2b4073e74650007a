"""The checked experiment sweeper: its cheap up-front check refuses every config that Hydra's
full check (composing every job) refuses, before any job runs, with every launcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext
from omegaconf import OmegaConf

from conftest import ROOT, into, last_line, needs_slurm, run
from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    CheckedExperimentSweeper,
    variant,
)


def parsed(*overrides: str) -> list:
    return OverridesParser.create().parse_overrides(list(overrides))


def test_variant_keeps_values_only_where_they_matter() -> None:
    groups = {"settings"}
    assert variant(parsed("settings=tnc", "maxfun=10"), groups) == (
        ("settings", "tnc"),
        ("maxfun", "int"),
    )
    assert variant(parsed("settings=tnc", "maxfun=10"), groups) == variant(
        parsed("settings=tnc", "maxfun=150"), groups
    )
    assert variant(parsed("maxfun=abc"), groups) != variant(parsed("maxfun=10"), groups)
    assert variant(parsed("hydra/launcher=basic"), set()) == (("hydra/launcher", "basic"),)
    assert variant(parsed("~jac=2-point"), set()) == (("~jac", "2-point"),)
    assert variant(parsed("method.options={eta:1}"), set()) == (("method.options", "{eta:1}"),)
    assert variant(parsed("+foo=${bar}"), set())[0][1] != "str"


@pytest.fixture(scope="module")
def sweeper() -> Iterator[CheckedExperimentSweeper]:
    """The experiment's sweeper, set up in-process on the composed experiment config."""
    with initialize_config_dir(config_dir=str(ROOT / "experiment")):
        config = compose("task", return_hydra_config=True)
        HydraConfig.instance().set_config(config)
        sweeper = CheckedExperimentSweeper(
            max_batch_size=None, overrides=OmegaConf.to_container(config.hydra.sweeper.overrides)
        )
        loader = GlobalHydra.instance().config_loader()
        sweeper.hydra_context = HydraContext(config_loader=loader, callbacks=None)
        sweeper.config = config
        yield sweeper


def outcome(check, batch) -> str:  # noqa: ANN001
    try:
        check(batch)
    except Exception as e:  # noqa: BLE001 - the error itself is what is compared
        return f"{type(e).__name__}: {e}"
    return "accepted"


# Small budgets keep Hydra's full check (about 0.15 s a job) short. (overrides, refused?)
SWEEPS = [
    ([], False),
    (["settings=tnc", "method.options.maxCGit=1,5"], False),
    (["jac=2-point,3-point"], False),
    (["x0=[0.5,0.5],abc"], False),  # any value is fine for an untyped key ...
    (["hydra.job.chdir=false,abc"], True),  # ... but not for a typed one
    (["settings=tnc,bogus"], True),
    (["method.options.nokey=1"], True),
    (["+method.options.maxfev=5"], True),  # only for nelder-mead, where maxfev exists
    (["~method.options.eta"], True),  # only for the settings without eta
    (["method.options={eta:0.3},{nokey:1}"], True),  # dicts merge key by key
]


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "refused"), SWEEPS, ids=str)
def test_same_verdict_as_the_full_check(
    sweeper: CheckedExperimentSweeper, overrides: list[str], refused: bool
) -> None:
    batch = sweeper.generate_jobs(["maxfun=10,20", *overrides])
    full = outcome(lambda b: Sweeper.validate_batch_is_legal(sweeper, b), batch)
    assert (full != "accepted") == refused
    assert outcome(sweeper.validate_batch_is_legal, batch) == full


def test_missing_interpolation_is_refused_too(sweeper: CheckedExperimentSweeper) -> None:
    batch = sweeper.generate_jobs(["maxfun=10", "+foo=${missing}"])
    assert outcome(lambda b: Sweeper.validate_batch_is_legal(sweeper, b), batch) == "accepted"
    assert outcome(sweeper.validate_batch_is_legal, batch).startswith(
        "ConfigCompositionException: Interpolation key 'missing' not found (at foo) in the config"
    )


LAUNCHERS = [
    "basic",
    "parallel",
    pytest.param("slurm", marks=needs_slurm),
]
REFUSED = [
    (["settings=tnc,bogus"], "Error: unknown settings 'bogus': valid choices are "),
    (["method.options.nokey=1,2"], "Error: method.options has no key 'nokey': valid keys are "),
    # A single value applies to Hydra's own config of the whole sweep, which has no settings.
    (["method.options.nokey=1"], "Error: the config has no key 'method': valid keys are "),
    (["+foo=${missing}"], "Error: Interpolation key 'missing' not found (at foo) in the config"),
]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize(("overrides", "message"), REFUSED, ids=lambda v: str(v)[:30])
def test_refused_before_any_job_runs(
    tmp_path: Path, launcher: str, overrides: list[str], message: str
) -> None:
    proc = run("task.py", "-cp", "experiment", "-m", f"hydra/launcher={launcher}", *overrides,
               *into(tmp_path))  # fmt: skip
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith(message)
    if "Interpolation" in message or "," in overrides[0]:  # refused by the sweeper's check
        assert "Refusing the sweep: the config of job [" in proc.stdout
    assert "Launching" not in proc.stdout
    assert not (tmp_path / "results").exists()
