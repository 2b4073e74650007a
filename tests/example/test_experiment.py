"""End-to-end sweeps in subprocesses, checked against scipy called directly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import utils
from tests.example.rosenbrock import direct_minimize
from tests.helpers import into, run

pytestmark = pytest.mark.slow


def assert_equal_to_scipy(results: pd.DataFrame) -> None:
    for path in results["path"]:
        record = utils.read_result(Path(path))
        expected = direct_minimize(record["config"])
        assert record["result"]["fun"] == expected.fun, path
        np.testing.assert_array_equal(record["result"]["x"], expected.x)
        assert record["result"]["nfev"] == expected.nfev


def test_paper_experiment(paper_results: Path) -> None:
    results = utils.load_results(paper_results)
    assert len(results) == 45
    assert sorted(zip(results["method.name"], results["maxfun"], strict=True)) == sorted(
        (name, maxfun)
        for name in ("L-BFGS-B", "Nelder-Mead", "TNC")
        for maxfun in range(10, 151, 10)
    )
    assert (results["x0"].map(list) == pd.Series([[-0.5, -0.5]] * 45)).all()
    nelder_mead = results[results["method.name"] == "Nelder-Mead"]
    assert (nelder_mead["method.options.maxfev"] == nelder_mead["maxfun"]).all()
    assert nelder_mead["method.options.maxfun"].isna().all()
    lbfgsb = results[results["method.name"] == "L-BFGS-B"]
    # eps is left at its default: with jac set, L-BFGS-B does not use it.
    assert (lbfgsb["jac"] == "2-point").all() and (lbfgsb["method.options.eps"] == 1e-8).all()
    tnc = results[results["method.name"] == "TNC"]
    assert (tnc["method.options.eta"] == 0.5).all() and (tnc["method.options.stepmx"] == 5).all()
    assert_equal_to_scipy(results)


def test_one_settings_file(tmp_path: Path) -> None:
    proc = run("task.py", "-cp", "experiment", "settings=lbfgsb", "-m", *into(tmp_path))
    assert proc.returncode == 0, proc.stderr
    results = utils.load_results(tmp_path / "results")
    assert len(results) == 15 and set(results["method.name"]) == {"L-BFGS-B"}
    assert sorted(results["maxfun"]) == list(range(10, 151, 10))


def test_one_off_sweep_keeps_every_result(tmp_path: Path) -> None:
    proc = run(
        "task.py", "-cp", "experiment", "settings=tnc", "method.options.maxCGit=1,5,10", "-m",
        *into(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = utils.load_results(tmp_path / "results")
    assert len(results) == 45 and results["path"].is_unique
    assert sorted(zip(results["method.options.maxCGit"], results["maxfun"], strict=True)) == sorted(
        (n, maxfun) for n in (1, 5, 10) for maxfun in range(10, 151, 10)
    )
    assert_equal_to_scipy(results)


def test_nevergrad_small_budget(tmp_path: Path) -> None:
    proc = run(
        "task.py", "hydra/sweeper=nevergrad", "method=tnc",
        "method.options.eta=tag(log, interval(0.001, 1))",
        "hydra.sweeper.optim.budget=6", "hydra.sweeper.optim.num_workers=2", "-m",
        *into(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    best = re.search(r"Best parameters: method=tnc method.options.eta=(\S+)", proc.stdout)
    assert best, proc.stdout
    results = utils.load_results(tmp_path / "results")
    assert len(results) == 6
    # The reported best eta is the one whose stored run reached the lowest f(x).
    winner = results.loc[results["fun"].idxmin()]
    assert winner["method.options.eta"] == float(best.group(1))
    assert_equal_to_scipy(results)
