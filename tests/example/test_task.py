"""The example task's functions, called directly and compared with scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig, OmegaConf
from scipy.optimize import minimize, rosen

import cli
import task
import utils
from tests.example.rosenbrock import direct_minimize, start
from tests.helpers import composed, resolved


def experiment_config(*overrides: str) -> DictConfig:
    return composed("experiment", overrides=overrides)


def experiment_resolved(*overrides: str) -> dict:
    return resolved("experiment", overrides=overrides)


def test_start_point_comes_from_the_seed() -> None:
    a = task.start_point(None, dim=5, seed=3)
    assert a.shape == (5,)
    assert np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(a, task.start_point(None, dim=5, seed=3))
    np.testing.assert_array_equal(a, np.random.default_rng(3).uniform(-1, 1, size=5))
    assert not np.array_equal(a, task.start_point(None, dim=5, seed=4))


def test_start_point_takes_a_list() -> None:
    np.testing.assert_array_equal(task.start_point([-0.5, 1], dim=2, seed=0), [-0.5, 1.0])


@pytest.mark.parametrize("x0", ["abc", [1, "a"], [], 5, [True, 1.0], {"a": 1}])
def test_start_point_rejects_non_numbers(x0: object) -> None:
    with pytest.raises(cli.ConfigError, match="x0 must be null or a list of numbers") as e:
        task.start_point(x0, dim=2, seed=0)
    assert repr(x0) in str(e.value)


def test_start_point_checks_dim() -> None:
    with pytest.raises(cli.ConfigError, match=r"x0 \[1.0, 2.0, 3.0\] has 3 entries but dim is 2"):
        task.start_point([1.0, 2.0, 3.0], dim=2, seed=0)


@pytest.mark.parametrize("settings", ["lbfgsb", "nelder-mead", "tnc"])
@pytest.mark.parametrize("maxfun", [10, 70])
def test_run_equals_scipy(settings: str, maxfun: int) -> None:
    config = experiment_config(f"settings={settings}", f"maxfun={maxfun}")
    outcome = task.run(config)
    path = []
    expected = direct_minimize(OmegaConf.to_container(config, resolve=True), callback=path.append)
    assert set(outcome) == {"start", "fun", "x", "nfev", "nit", "success", "message", "iterates"}
    assert outcome["fun"] == expected.fun
    np.testing.assert_array_equal(outcome["x"], expected.x)
    assert (outcome["nfev"], outcome["nit"]) == (expected.nfev, expected.nit)
    assert (outcome["success"], outcome["message"]) == (expected.success, expected.message)
    assert type(outcome["fun"]) is float and outcome["x"].dtype == np.float64
    np.testing.assert_array_equal(outcome["start"], [-0.5, -0.5])
    # The path: the start, scipy's iterate after each iteration, and the end (once).
    rows = [outcome["start"], *map(np.copy, path)]
    if not np.array_equal(rows[-1], expected.x):
        rows.append(expected.x)
    assert outcome["iterates"].dtype == np.float64
    np.testing.assert_array_equal(outcome["iterates"], np.array(rows))


def test_iterates_are_thinned_to_301_rows() -> None:
    config = composed("config", overrides=["method=nelder-mead", "dim=10"])
    outcome = task.run(config)
    path = []
    expected = direct_minimize(OmegaConf.to_container(config, resolve=True), callback=path.append)
    rows = [start(OmegaConf.to_container(config)), *map(np.copy, path)]
    if not np.array_equal(rows[-1], expected.x):
        rows.append(expected.x)
    assert len(rows) > task.MAX_ITERATES == 301
    keep = np.unique(np.linspace(0, len(rows) - 1, 301).round()).astype(int)
    np.testing.assert_array_equal(outcome["iterates"], np.array(rows)[keep])
    np.testing.assert_array_equal(outcome["iterates"][0], rows[0])
    np.testing.assert_array_equal(outcome["iterates"][-1], outcome["x"])


def test_option_unknown_to_scipy_is_refused() -> None:
    config = experiment_config("settings=tnc", "maxfun=10", "+method.options.maxfev=3")
    with pytest.raises(cli.ConfigError, match="TNC has no option 'maxfev': valid options are "):
        task.run(config)


def test_result_path_names_the_config() -> None:
    a = utils.result_path(experiment_resolved("settings=tnc", "maxfun=10"))
    assert a == utils.result_path(experiment_resolved("settings=tnc", "maxfun=10"))
    assert a.parent == Path("results/paper") and a.name.startswith("TNC-maxfun10-")
    # Options that the file name does not show still give distinct files ...
    maxcgit = experiment_resolved("settings=tnc", "maxfun=10", "method.options.maxCGit=5")
    b = utils.result_path(maxcgit)
    assert b != a and b.name.startswith("TNC-maxfun10-")
    # ... while where and how results are written is not part of a run's identity.
    c = utils.result_path(experiment_resolved("settings=tnc", "maxfun=10", "output.resume=false"))
    assert c == a


def outcome_bits(outcome: dict) -> tuple:
    """An outcome as exact, comparable values: arrays as their shape and bytes, anything else
    as its repr (exact for floats)."""
    return tuple(
        (key, (value.shape, value.tobytes()) if isinstance(value, np.ndarray) else repr(value))
        for key, value in sorted(outcome.items())
    )


def test_lbfgsb_with_jac_set_ignores_eps() -> None:
    """Why experiment/settings/lbfgsb.yaml leaves eps alone: with jac: 2-point, L-BFGS-B
    ignores method.options.eps; eps sizes the steps of its gradient only when jac is null."""
    runs = {
        (jac, eps): task.run(
            experiment_config(
                "settings=lbfgsb", "maxfun=30", f"jac={jac}", f"method.options.eps={eps}"
            )
        )
        for jac in ("2-point", "null")
        for eps in (1e-3, 1e-8, 0.5)
    }
    assert runs["2-point", 1e-8]["nfev"] == 36 and runs["null", 1e-8]["nfev"] == 36
    with_jac = {outcome_bits(runs["2-point", eps]) for eps in (1e-3, 1e-8, 0.5)}
    assert len(with_jac) == 1  # bit-identical, whatever eps
    without_jac = {runs["null", eps]["fun"] for eps in (1e-3, 1e-8, 0.5)}
    assert len(without_jac) == 3  # each eps its own answer
    assert runs["null", 1e-8]["fun"] != runs["2-point", 1e-8]["fun"]


def test_the_papers_lbfgsb_keeps_scipys_eps() -> None:
    settings = OmegaConf.load("experiment/settings/lbfgsb.yaml")
    assert set(settings.method.options) == {"maxfun"}  # no eps override
    config = experiment_resolved("settings=lbfgsb", "maxfun=30")
    assert config["jac"] == "2-point"
    assert config["method"]["options"]["eps"] == 1e-08
    # 1e-08 is scipy's default eps: the same answer as no eps at all (with jac null, where eps
    # counts; 1e-3 gives another).
    x0 = np.array([-0.5, -0.5])
    default = minimize(rosen, x0, method="L-BFGS-B", options={"maxfun": 30})
    same = minimize(rosen, x0, method="L-BFGS-B", options={"maxfun": 30, "eps": 1e-08})
    other = minimize(rosen, x0, method="L-BFGS-B", options={"maxfun": 30, "eps": 1e-3})
    assert default.fun == same.fun and np.array_equal(default.x, same.x)
    assert other.fun != default.fun
