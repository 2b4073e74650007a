"""The checked sweeper on the example's experiment, as docs/checked-sweeper.md shows it (the
sweeper's own tests, on the tiny task: tests/machinery/test_sweeper.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins

from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    CheckedExperimentSweeper,
)
from tests.helpers import checking_sweeper, into, last_line, run

# Every plugin's config in Hydra's config store before the sweeper composes jobs.
Plugins.instance()


def test_the_papers_45_jobs_are_checked_by_composing_3_configs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=CheckedExperimentSweeper.__module__)
    with checking_sweeper("experiment", "task") as sweeper:
        batch = sweeper.generate_jobs([])
        assert len(batch) == 45
        sweeper.validate_batch_is_legal(batch)
    assert caplog.messages == ["Checked the configs of 45 jobs by composing 3"]


def test_an_unknown_settings_is_refused_with_the_valid_choices(tmp_path: Path) -> None:
    proc = run("task.py", "-cp", "experiment", "-m", "settings=tnc,bogus", *into(tmp_path))
    assert proc.returncode == 1
    job = f"maxfun=10 settings=bogus output.dir={tmp_path}/results"
    assert f"Refusing the sweep: the config of job [{job}] is invalid" in proc.stdout
    assert last_line(proc.stderr) == (
        "Error: unknown settings 'bogus': valid choices are lbfgsb, nelder-mead, tnc"
    )
    assert "Launching" not in proc.stdout
    assert not (tmp_path / "results").exists()
