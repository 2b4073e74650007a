"""The commands as a user types them: exit codes, messages and the files they leave."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import utils
from tests.example.rosenbrock import direct_minimize
from tests.helpers import into, last_line, run


def results_in(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "results").glob("*.pickle"))


def test_one_off_run(tmp_path: Path) -> None:
    proc = run("task.py", "method=tnc", *into(tmp_path))
    assert proc.returncode == 0, proc.stderr
    [path] = results_in(tmp_path)
    record = utils.read_result(path)
    assert record["config"]["method"]["options"]["eta"] == 0.2
    expected = direct_minimize(record["config"])
    assert record["result"]["fun"] == expected.fun
    np.testing.assert_array_equal(record["result"]["x"], expected.x)
    assert path.name.startswith("TNC-")


def test_one_off_option_override_and_rerun(tmp_path: Path) -> None:
    args = ("task.py", "method=tnc", "method.options.eta=0.1", *into(tmp_path))
    assert run(*args).returncode == 0
    [path] = results_in(tmp_path)
    record = utils.read_result(path)
    assert record["config"]["method"]["options"]["eta"] == 0.1
    assert record["result"]["fun"] == direct_minimize(record["config"]).fun
    stamp = path.stat().st_mtime_ns

    again = run(*args)  # the identical config finds its finished result
    assert again.returncode == 0 and f"Skipped: {path}" in again.stdout
    assert path.stat().st_mtime_ns == stamp

    forced = run(*args, "output.resume=false")  # recomputes and replaces its own file
    assert forced.returncode == 0 and "Skipped" not in forced.stdout
    assert results_in(tmp_path) == [path] and path.stat().st_mtime_ns != stamp
    assert pickle.loads(path.read_bytes())["result"]["fun"] == record["result"]["fun"]


METHODS = "lbfgsb, nelder-mead, tnc"
TNC_OPTIONS = "accuracy, disp, eps, eta, finite_diff_rel_step, ftol, gtol, maxCGit, maxfun"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], f"Error: no method chosen: add method=NAME with NAME one of {METHODS}"),
        (["method=bfgs"], f"Error: unknown method 'bfgs': valid choices are {METHODS}"),
        (["method=tnc", "x0=abc"], "Error: x0 must be null or a list of numbers"),
        (["method=tnc", "x0=[1,a]"], "got [1, 'a']"),
        (
            ["method=tnc", "+method.options.maxfev=5"],
            f"option 'maxfev': valid options are {TNC_OPTIONS}",
        ),
        (
            ["method=tnc", "method.options.maxfev=5"],
            "method.options has no key 'maxfev': valid keys are eta",
        ),
        (
            ["method=tnc", "jac=exact"],
            "Error: unknown jac 'exact': valid choices are None, 2-point",
        ),
        (
            ["method=tnc", "method.name=BFGS"],
            "unknown method.name 'BFGS': valid names are L-BFGS-B",
        ),
    ],
)
def test_bad_input_ends_with_one_clear_line(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    proc = run("task.py", *overrides, *into(tmp_path))
    assert proc.returncode == 1
    assert message in last_line(proc.stderr)
    assert "Traceback" not in proc.stderr
    assert results_in(tmp_path) == []


def test_failed_job_is_reported_and_the_others_kept(tmp_path: Path) -> None:
    proc = run(
        "task.py", "-cp", "experiment", "-m", "settings=tnc", "maxfun=10,abc", *into(tmp_path)
    )
    assert proc.returncode == 1
    tail = proc.stderr.strip().splitlines()[-2:]
    assert tail[0].startswith("Error: 1 of 2 jobs failed (the other 1 kept their results")
    assert tail[1].startswith("#1 [settings=tnc maxfun=abc ")
    assert tail[1].endswith("]: TypeError: an integer is required")
    [path] = results_in(tmp_path)
    assert utils.read_result(path)["config"]["maxfun"] == 10
