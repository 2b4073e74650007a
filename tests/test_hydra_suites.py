"""Hydra's own test suites for launchers and sweepers, run against the checked sweeper."""

from __future__ import annotations

import os

import pytest
from hydra.core.plugins import Plugins
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)

from conftest import ROOT

LAUNCHERS = ["basic", "joblib"]
SWEEPER = "hydra/sweeper=checked_experiment"

# Import every plugin now, so that their configs are in Hydra's config store before the suites'
# fixture first saves the store, and again each time it restores it.
Plugins.instance()


# The suites extend the `overrides` list they are given: one fresh list per test.
@pytest.mark.parametrize(("launcher_name", "overrides"), [(name, [SWEEPER]) for name in LAUNCHERS])
class TestLauncherSuite(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    ("launcher_name", "overrides"),
    [(name, [SWEEPER, "hydra.sweeper.max_batch_size=2"]) for name in LAUNCHERS],
)
class TestBatchedSuite(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({}, ["-m", SWEEPER, f"hydra/launcher={name}"]) for name in LAUNCHERS],
)
class TestIntegrationSuite(IntegrationTestSuite):
    @pytest.fixture(autouse=True)
    def _plugins_importable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # The suite runs its apps in a scratch folder: the project's plugins come from ROOT.
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        )
