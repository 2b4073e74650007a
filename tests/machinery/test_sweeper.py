"""The checked experiment sweeper: its cheap up-front check refuses every config that Hydra's
full check (composing every job) refuses, before any job runs, with every launcher; a failed
sweep raises the first failed job's own error and names every failed job. On the tiny task's
study (tests/machinery/tiny/experiment/study.yaml) and on tests/machinery/sweeper_task/."""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.test_utils import TSweepRunner
from omegaconf import OmegaConf

from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    STATUS_FILE,
    CheckedExperimentSweeper,
    JobStatus,
    read_job_status,
    summary,
    variant,
)
from hydra_plugins.isolated_launcher.isolated import JobDied
from tests.helpers import ROOT, checking_sweeper, into, last_line, needs_slurm
from tests.machinery.sweeper_task.app import job
from tests.machinery.tiny_task import tiny

# Import every plugin now, so that their configs are in Hydra's config store before the fixture
# `hydra_restore_singletons` first saves the store, and again each time it restores it.
Plugins.instance()


def parsed(*overrides: str) -> list:
    return OverridesParser.create().parse_overrides(list(overrides))


def test_variant_keeps_values_only_where_they_matter() -> None:
    groups = {"settings"}
    assert variant(parsed("settings=few", "size=10"), groups) == (
        ("settings", "few"),
        ("size", "int"),
    )
    assert variant(parsed("settings=few", "size=10"), groups) == variant(
        parsed("settings=few", "size=150"), groups
    )
    assert variant(parsed("size=abc"), groups) != variant(parsed("size=10"), groups)
    assert variant(parsed("hydra/launcher=basic"), set()) == (("hydra/launcher", "basic"),)
    assert variant(parsed("~behave=ok"), set()) == (("~behave", "ok"),)
    assert variant(parsed("options={step:1}"), set()) == (("options", "{step:1}"),)
    assert variant(parsed("+foo=${bar}"), set())[0][1] != "str"


# The tiny task's study: settings few and many, each with `options` of its own.
STUDY = ["-cp", "experiment", "-cn", "study", "-m"]


@pytest.fixture(scope="module")
def sweeper() -> Iterator[CheckedExperimentSweeper]:
    """The study's sweeper, set up in-process on the composed study config."""
    with checking_sweeper("tests/machinery/tiny/experiment", "study") as sweeper:
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
    (["settings=few", "options.tol=0.1,0.01"], False),
    (["behave=ok,raise"], False),
    (["seed=[0.5,0.5],abc"], False),  # any value is fine for an untyped key ...
    (["hydra.job.chdir=false,abc"], True),  # ... but not for a typed one
    (["settings=few,bogus"], True),
    (["options.nokey=1"], True),
    (["+options.maxiter=5"], True),  # only for many, where maxiter exists
    (["~options.tol"], True),  # only for the settings without tol
    (["options={step:0.3},{nokey:1}"], True),  # dicts merge key by key
]


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "refused"), SWEEPS, ids=str)
def test_same_verdict_as_the_full_check(
    sweeper: CheckedExperimentSweeper, overrides: list[str], refused: bool
) -> None:
    batch = sweeper.generate_jobs(["size=1.0,2.0", *overrides])
    full = outcome(lambda b: Sweeper.validate_batch_is_legal(sweeper, b), batch)
    assert (full != "accepted") == refused
    assert outcome(sweeper.validate_batch_is_legal, batch) == full


def test_missing_interpolation_is_refused_too(sweeper: CheckedExperimentSweeper) -> None:
    batch = sweeper.generate_jobs(["size=1.0", "+foo=${missing}"])
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
    (["settings=few,bogus"], "Error: unknown settings 'bogus': valid choices are few, many"),
    (["options.nokey=1,2"], "Error: options has no key 'nokey': valid keys are step, tol"),
    # A single value applies to Hydra's own config of the whole sweep, which has no settings.
    (["options.nokey=1"], "Error: the config has no key 'options': valid keys are "),
    (["+foo=${missing}"], "Error: Interpolation key 'missing' not found (at foo) in the config"),
]
# hydra/launcher=slurm is configured in the project's config tree (config/hydra/launcher/).
SEARCH_PATH = {"slurm": ["hydra.searchpath=[file://tests/machinery/tiny/config,file://config]"]}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize(("overrides", "message"), REFUSED, ids=lambda v: str(v)[:30])
def test_refused_before_any_job_runs(
    tmp_path: Path, launcher: str, overrides: list[str], message: str
) -> None:
    proc = tiny(*STUDY, f"hydra/launcher={launcher}", *SEARCH_PATH.get(launcher, []), *overrides,
                *into(tmp_path))  # fmt: skip
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith(message)
    if "Interpolation" in message or "," in overrides[0]:  # refused by the sweeper's check
        assert "Refusing the sweep: the config of job [" in proc.stdout
    assert "Launching" not in proc.stdout
    assert not (tmp_path / "results").exists()


# A sweep of the task in tests/machinery/sweeper_task: job n does what outcomes[n] says.
TASK = ROOT / "tests" / "machinery" / "sweeper_task"


@pytest.fixture
def no_global_hydra(hydra_restore_singletons: None) -> None:
    """No Hydra app initialized (the `sweeper` fixture keeps one) until the test ends."""
    GlobalHydra.instance().clear()


@pytest.fixture
def sweeper_log() -> Iterator[list[str]]:
    """The messages the sweeper logs. (Its own handler: Hydra's launchers set up logging anew,
    which removes pytest's handler from the root logger.)"""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger(CheckedExperimentSweeper.__module__)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def sweep_task(runner: TSweepRunner, tmp_path: Path, outcomes: list[str], launcher: str):  # noqa: ANN201
    """Run one job per entry of `outcomes` in-process; return the sweep (a context manager)."""
    quoted = ",".join(f"'{o}'" for o in outcomes)
    return runner(
        calling_file=str(TASK / "app.py"),
        calling_module=None,
        task_function=job,
        config_path=".",
        config_name="config",
        overrides=[
            f"hydra/launcher={launcher}",
            f"outcomes=[{quoted}]",
            f"n=range({len(outcomes)})",
        ],
        temp_dir=tmp_path / "multirun",
    )


def failure(job_idx: int, outcomes: list[str], error: str) -> str:
    """The report's line for job `job_idx` of `sweep_task(..., outcomes, ...)`."""
    listed = ",".join(f"'{o}'" for o in outcomes)
    return f"#{job_idx} [outcomes=[{listed}] n={job_idx}]: {error}"


@pytest.mark.usefixtures("no_global_hydra")
@pytest.mark.parametrize("launcher", ["basic", pytest.param("joblib", marks=pytest.mark.slow)])
def test_failed_sweep_raises_the_first_failed_jobs_own_error(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, launcher: str
) -> None:
    outcomes = ["ran", "fail", "ran", "fail"]
    with pytest.raises(ValueError) as caught:
        with sweep_task(hydra_sweep_runner, tmp_path, outcomes, launcher):
            pass
    error = caught.value
    assert str(error) == "job 1 failed"
    # (Errors from other processes come back as look-alike classes, with the same name.)
    assert type(error.__cause__).__name__ == "KeyError" and str(error.__cause__) == "1"
    frames = [(Path(f.filename), f.name) for f in traceback.extract_tb(error.__traceback__)]
    assert (TASK / "app.py", "job") in frames
    report = (
        f"2 of 4 jobs failed (the other 2 kept their results; logs in {tmp_path}/multirun):\n"
        + failure(1, outcomes, "ValueError: job 1 failed")
        + "\n"
        + failure(3, outcomes, "ValueError: job 3 failed")
    )
    assert error.__notes__ == [report]
    assert error.sweep_report == report
    # The jobs that did not fail ran to the end.
    for n in (0, 2):
        status = json.loads((tmp_path / "multirun" / str(n) / STATUS_FILE).read_text())
        assert status == {"result": f"result-{n}.pickle", "status": "ran", "redone": None}


@pytest.mark.usefixtures("no_global_hydra")
def test_summary_counts_what_each_job_did(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, sweeper_log: list[str]
) -> None:
    other_code = "made by other code: commit 296dfd2 -> 8c1e0aa"
    other_packages = "made with other packages: scipy 1.15.3 -> 1.17.1"
    outcomes = [
        "reused",
        "ran",
        f"redone:{other_packages}",
        f"redone:{other_code}",
        "silent",  # wrote no status file: counts as ran
        f"redone:{other_code}",
        "fail",
        "reused",
        "reused",
    ]
    with pytest.raises(ValueError):
        with sweep_task(hydra_sweep_runner, tmp_path, outcomes, "basic"):
            pass
    [done] = [m for m in sweeper_log if m.startswith("Sweep done in ")]
    assert re.fullmatch(
        rf"Sweep done in \d+\.\ds: reused 3, ran 2, re-ran 2 {other_code}, "
        rf"re-ran 1 {other_packages}, failed 1",
        done,
    ), done


@pytest.mark.usefixtures("no_global_hydra")
def test_summary_of_a_sweep_without_reruns(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, sweeper_log: list[str]
) -> None:
    with sweep_task(hydra_sweep_runner, tmp_path, ["ran", "reused"], "basic") as sweep:
        assert [ret.return_value for ret in sweep.returns[0]] == [0, 1]
    [done] = [m for m in sweeper_log if m.startswith("Sweep done in ")]
    assert re.fullmatch(r"Sweep done in \d+\.\ds: reused 1, ran 1, failed 0", done), done


@pytest.mark.usefixtures("no_global_hydra")
@pytest.mark.parametrize("launcher", ["sequential", "parallel"])
def test_a_dead_job_is_named_with_how_it_died(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, sweeper_log: list[str], launcher: str
) -> None:
    outcomes = ["ran", "exit:3", "kill:SIGKILL", "fail", "reused"]
    with pytest.raises(JobDied) as caught:
        with sweep_task(hydra_sweep_runner, tmp_path, outcomes, launcher):
            pass
    died = "JobDied: the job's process ended without a result:"
    assert caught.value.__notes__ == [
        f"3 of 5 jobs failed (the other 2 kept their results; logs in {tmp_path}/multirun):\n"
        + failure(1, outcomes, f"{died} exit code 3")
        + "\n"
        + failure(2, outcomes, f"{died} killed by signal 9 (SIGKILL)")
        + "\n"
        + failure(3, outcomes, "ValueError: job 3 failed")
    ]
    [done] = [m for m in sweeper_log if m.startswith("Sweep done in ")]
    assert re.fullmatch(r"Sweep done in \d+\.\ds: reused 1, ran 1, failed 3", done), done


def test_a_status_file_that_is_not_valid_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output_dir = {"hydra": {"runtime": {"output_dir": str(tmp_path)}}}
    ret = JobReturn(hydra_cfg=OmegaConf.create(output_dir))
    assert read_job_status(ret) is None  # no file, no warning
    assert caplog.records == []
    for text in ["{", "[]", '{"status": "skipped"}', '{"status": "ran", "redone": 3}']:
        (tmp_path / STATUS_FILE).write_text(text)
        caplog.clear()
        assert read_job_status(ret) is None
        [record] = caplog.records
        assert record.levelname == "WARNING"
        assert record.message.startswith(f"Ignoring the job status file {tmp_path}/job.json: ")
    (tmp_path / STATUS_FILE).write_text('{"result": "r.pickle", "status": "ran", "redone": "x"}')
    assert read_job_status(ret) == JobStatus("ran", "x")
    assert (
        summary([read_job_status(ret), None], failed=0) == "reused 0, ran 1, re-ran 1 x, failed 0"
    )


def test_the_cli_ends_with_the_failed_jobs(tmp_path: Path) -> None:
    """Run as a user would: the output ends with the first failed job's traceback, then the
    list of every failed job; exit code 1."""
    proc = subprocess.run(
        [
            sys.executable,
            str(TASK / "app.py"),
            "-m",
            "n=0,1,2",
            "outcomes=[fail,ran,fail]",
            f"hydra.sweep.dir={tmp_path}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "1"},
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-4:] == [
        "ValueError: job 0 failed",
        f"2 of 3 jobs failed (the other 1 kept their results; logs in {tmp_path}):",
        "#0 [n=0 outcomes=[fail,ran,fail]]: ValueError: job 0 failed",
        "#2 [n=2 outcomes=[fail,ran,fail]]: ValueError: job 2 failed",
    ]
    assert "Sweep done in " in proc.stdout and "reused 0, ran 1, failed 2" in proc.stdout


# The project's own modules, which Hydra plugins must not import (they launch jobs; the task
# writes results).
APP_MODULES = {path.stem for path in ROOT.glob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The top-level modules that the file at `path` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_sweeper_imports_no_app_module_and_only_declared_packages() -> None:
    assert {"utils", "cli", "plot", "rerun"} <= APP_MODULES
    imported = imported_modules(
        ROOT / "hydra_plugins/checked_experiment_sweeper/checked_experiment_sweeper.py"
    )
    assert not imported & APP_MODULES
    allowed = {"hydra", "omegaconf", "hydra_plugins"}  # hydra-core, its config library, plugins
    assert imported - sys.stdlib_module_names - {"__future__"} <= allowed
