"""rerun.py: a result file re-run from its stored config, and the report of what changed."""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import numpy as np
import pytest

import rerun
import utils
from tests.helpers import ROOT, into, run
from tests.project_copy import commit_all, copy_project, edit


def one_result(folder: Path) -> Path:
    (path,) = folder.glob("*.pickle")
    return path


@pytest.fixture(scope="module")
def tnc_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh result of one experiment job."""
    tmp_path = tmp_path_factory.mktemp("tnc")
    proc = run("task.py", "-cp", "experiment", "-m", "settings=tnc", "maxfun=40", *into(tmp_path))
    assert proc.returncode == 0, proc.stderr
    return one_result(tmp_path / "results")


def altered(path: Path, tmp_path: Path, **provenance: object) -> Path:
    """A copy of the result at `path` whose provenance says otherwise."""
    record = utils.read_result(path)
    record["provenance"].update(provenance)
    copy = tmp_path / "altered" / path.name
    utils.save_result(copy, record)
    return copy


def test_same_is_bit_for_bit() -> None:
    outcome = {"fun": 0.5, "x": np.array([1.0, 2.0])}
    assert rerun.same(outcome, {"fun": 0.5, "x": np.array([1.0, 2.0])})
    assert not rerun.same(outcome, {"fun": 0.5 + 2**-53, "x": np.array([1.0, 2.0])})
    assert not rerun.same(outcome, {"fun": 0.5, "x": np.array([1.0, np.nextafter(2, 3)])})
    assert not rerun.same(outcome, {"fun": 0.5, "x": np.array([1.0, 2.0, 3.0])})
    assert not rerun.same(outcome, {"fun": 0.5, "x": np.array([1.0, 2.0], np.float32)})
    negative_zero = {"fun": -0.0, "x": np.array([-0.0])}
    assert not rerun.same(negative_zero, {"fun": 0.0, "x": np.array([-0.0])})
    assert not rerun.same(negative_zero, {"fun": -0.0, "x": np.array([0.0])})


def test_differences() -> None:
    then = {"a": 1, "b": {"c": [1, 2], "d": None}, "e": 1}
    now = {"a": 1, "b": {"c": [1, 3], "f": 2}, "e": 1.0}
    assert rerun.differences(then, now) == [
        "b.c: [1, 2] -> [1, 3]",
        "b.d: None -> (absent)",
        "e: 1 -> 1.0",
        "b.f: (absent) -> 2",
    ]


def test_rerun_of_a_fresh_result_is_identical(tnc_result: Path) -> None:
    proc = run("rerun.py", str(tnc_result))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stored = utils.read_result(tnc_result)
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Re-ran {tnc_result}, made {stored['provenance']['started']}"
    outcome = stored["result"]
    assert lines[1] == (
        f"Outcome: identical, bit for bit: start = [-0.5, -0.5], fun = {outcome['fun']!r}, "
        f"x = {outcome['x'].tolist()}, nfev = {outcome['nfev']}, nit = {outcome['nit']}, "
        f"success = {outcome['success']}, message = {outcome['message']!r}, "
        f"iterates = array of shape {outcome['iterates'].shape} (float64)"
    )
    assert lines[2].startswith(f"Config: {ROOT / 'experiment'} composes the same config")
    assert lines[3] == "Code: unchanged (cli.py, methods.py, task.py, utils.py)"
    assert lines[4] == "Versions: unchanged"
    assert lines[5].startswith("Commit: ")


def test_version_change_is_reported(
    tnc_result: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    versions = {**utils.read_result(tnc_result)["provenance"]["versions"], "scipy": "1.0.0"}
    del versions["omegaconf"]
    assert rerun.main([str(altered(tnc_result, tmp_path, versions=versions))]) == 0
    out = capsys.readouterr().out
    assert "Outcome: identical" in out
    assert (
        "Versions (then -> now):\n"
        f"  scipy: '1.0.0' -> {importlib.metadata.version('scipy')!r}\n"
        f"  omegaconf: (absent) -> {importlib.metadata.version('omegaconf')!r}\n"
    ) in out


def test_moved_or_missing_config_path(
    tnc_result: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    moved = altered(tnc_result, tmp_path, config_path="/elsewhere/project/experiment")
    assert rerun.main([str(moved)]) == 0
    out = capsys.readouterr().out
    assert (f"Config: {ROOT / 'experiment'} composes the same config for [task settings=tnc") in out
    assert (
        f"  /elsewhere/project/experiment no longer exists; composed from {ROOT / 'experiment'}"
        " instead\n"
    ) in out

    gone = altered(tnc_result, tmp_path, config_path="/elsewhere/project/configs")
    assert rerun.main([str(gone)]) == 0
    assert (
        "Config: cannot compare\n  config path /elsewhere/project/configs no longer exists"
        in capsys.readouterr().out
    )


def test_config_that_no_longer_composes(
    tnc_result: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    renamed = altered(tnc_result, tmp_path, overrides=["settings=truncated-newton", "maxfun=40"])
    assert rerun.main([str(renamed)]) == 0
    assert (
        f"Config: {ROOT / 'experiment'} cannot compose [task settings=truncated-newton maxfun=40]: "
        "MissingConfigException: "
    ) in capsys.readouterr().out


def test_run_that_fails_today(
    tmp_path: Path, tnc_result: Path, capsys: pytest.CaptureFixture
) -> None:
    record = utils.read_result(tnc_result)
    record["config"]["method"]["options"]["no_such_option"] = 1
    utils.save_result(tmp_path / "bad.pickle", record)
    assert rerun.main([str(tmp_path / "bad.pickle")]) == 1
    out = capsys.readouterr().out
    assert "Outcome: DIFFERENT: the run fails today: ConfigError: TNC has no option" in out
    assert "  method.options.no_such_option: 1 -> (absent)\n" in out


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.pickle").write_bytes(b"\x80\x05")
    assert rerun.main([str(tmp_path / "broken.pickle")]) == 1
    assert capsys.readouterr().err.startswith(f"Error: cannot read {tmp_path}/broken.pickle: ")


def rerun_in(project: Path, result: Path) -> tuple[int, str]:
    proc = run("rerun.py", str(result), cwd=project)
    assert not proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str, Path]:
    """A committed copy of the project with one fresh result from a drawn start point."""
    project = copy_project(tmp_path / "project")
    commit = commit_all(project, "the project")
    proc = run("task.py", "method=tnc", cwd=project)  # x0 null: drawn from seed 0
    assert proc.returncode == 0, proc.stderr
    return project, commit, one_result(project / "results" / "one-off")


@pytest.mark.slow
def test_code_change_changes_the_outcome(project: tuple[Path, str, Path]) -> None:
    project, before, result = project
    assert rerun_in(project, result)[0] == 0
    edit(project / "task.py", ".uniform(-1, 1, size=dim)", ".uniform(-2, 2, size=dim)")
    after = commit_all(project, "draw start points from a wider box")

    code, out = rerun_in(project, result)
    assert code == 1, out
    stored = utils.read_result(result)["result"]
    assert "Outcome: DIFFERENT (stored -> today):\n" in out
    assert f"  start: {stored['start'].tolist()!r} -> " in out
    assert f"  fun: {stored['fun']!r} -> " in out
    assert f"  x: {stored['x'].tolist()!r} -> " in out
    assert "Code: changed since: task.py\n" in out
    assert "Config: " in out and "composes the same config for [task method=tnc]" in out
    assert "Versions: unchanged\n" in out
    assert f"Commit: {before[:12]} (clean) -> {after[:12]} (clean)\n" in out
    assert "  files changed since: task.py\n" in out


@pytest.mark.slow
def test_config_default_change_is_shown(project: tuple[Path, str, Path]) -> None:
    """The stored config still gives the stored outcome, and the report names the default
    that a run of the same command would now take."""
    project, before, result = project
    edit(project / "config" / "method" / "tnc.yaml", "eta: 0.2 ", "eta: 0.6 ")
    after = commit_all(project, "a more severe line search")

    code, out = rerun_in(project, result)
    assert code == 0, out
    assert "Outcome: identical, bit for bit" in out
    assert "composes [task method=tnc] differently (stored -> today):\n" in out
    assert "  method.options.eta: 0.2 -> 0.6\n" in out
    assert f"Commit: {before[:12]} (clean) -> {after[:12]} (clean)\n" in out
    assert "  files changed since: config/method/tnc.yaml\n" in out

    # The change is real: the same command today computes another outcome.
    proc = run("task.py", "method=tnc", "output.dir=results/today", cwd=project)
    assert proc.returncode == 0, proc.stderr
    today = utils.read_result(one_result(project / "results" / "today"))["result"]
    assert today["fun"] != utils.read_result(result)["result"]["fun"]


@pytest.mark.slow
def test_the_result_file_is_enough(project: tuple[Path, str, Path], tmp_path: Path) -> None:
    """No job folder, no Hydra output, no results folder: the file alone is re-run."""
    project, _, result = project
    kept = tmp_path / result.name
    shutil.copy2(result, kept)
    for folder in ("outputs", "multirun", "results"):
        shutil.rmtree(project / folder, ignore_errors=True)
    code, out = rerun_in(project, kept)
    assert code == 0, out
    assert "Outcome: identical, bit for bit" in out
