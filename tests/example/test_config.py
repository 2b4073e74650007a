"""Every config composed through Hydra's compose API, asserted as whole resolved dicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize, rosen

import methods
from tests.example.rosenbrock import LBFGSB, NELDER_MEAD, SETTINGS, TNC
from tests.helpers import composed, experiment_sweeper, resolved

BASE = {"x0": None, "dim": 2, "seed": 0, "jac": None}


@pytest.mark.parametrize(
    ("method", "name", "options"),
    [
        ("lbfgsb", "L-BFGS-B", LBFGSB),
        ("nelder-mead", "Nelder-Mead", NELDER_MEAD),
        ("tnc", "TNC", TNC),
    ],
)
def test_task_config(method: str, name: str, options: dict) -> None:
    assert resolved("config", overrides=[f"method={method}"]) == {
        **BASE,
        "output": {"dir": "results/one-off", "name": name, "resume": True},
        "method": {"name": name, "options": options},
    }


def test_task_config_without_method() -> None:
    assert "method" not in composed("config")


def test_command_line_option_override() -> None:
    config = resolved("config", overrides=["method=tnc", "method.options.eta=0.1"])
    assert config["method"]["options"] == {**TNC, "eta": 0.1}


EXPERIMENT = {
    **BASE,
    "x0": [-0.5, -0.5],
    "maxfun": 30,
}


def test_settings_lbfgsb() -> None:
    assert resolved("experiment", overrides=["settings=lbfgsb", "maxfun=30"]) == {
        **EXPERIMENT,
        "jac": "2-point",
        "output": {"dir": "results/paper", "name": "L-BFGS-B-maxfun30", "resume": True},
        "method": {"name": "L-BFGS-B", "options": {**LBFGSB, "maxfun": 30}},
    }


def test_settings_nelder_mead() -> None:
    assert resolved("experiment", overrides=["settings=nelder-mead", "maxfun=30"]) == {
        **EXPERIMENT,
        "output": {"dir": "results/paper", "name": "Nelder-Mead-maxfun30", "resume": True},
        "method": {"name": "Nelder-Mead", "options": {**NELDER_MEAD, "maxfev": 30}},
    }


def test_settings_tnc() -> None:
    assert resolved("experiment", overrides=["settings=tnc", "maxfun=30"]) == {
        **EXPERIMENT,
        "output": {"dir": "results/paper", "name": "TNC-maxfun30", "resume": True},
        "method": {"name": "TNC", "options": {**TNC, "maxfun": 30, "eta": 0.5}},
    }


# Documented by scipy but not declared: disp and iprint only print, return_all only adds the
# path to scipy's result (task.py records it itself), workers only parallelizes the gradient.
NOT_DECLARED = {"disp", "iprint", "return_all", "workers"}


@pytest.mark.parametrize("method", ["lbfgsb", "nelder-mead", "tnc"])
def test_declared_options_are_scipys(method: str) -> None:
    """config/method/*.yaml declares the options scipy documents for the method."""
    options = resolved("config", overrides=[f"method={method}"])["method"]
    documented = set(methods.documented_options(options["name"]))
    assert set(options["options"]) == documented - NOT_DECLARED


@pytest.mark.parametrize("x0", [[-0.5, -0.5], [1.5, -1.0], [-1.2, 1.0]])
@pytest.mark.parametrize("method", ["lbfgsb", "nelder-mead", "tnc"])
def test_declared_values_are_scipys_defaults(method: str, x0: list[float]) -> None:
    """With the declared values, scipy computes what it computes with no options at all
    (TNC: with the eta and stepmx the comments name as ours)."""
    config = resolved("config", overrides=[f"method={method}"])
    name, options = config["method"]["name"], config["method"]["options"]
    ours = {"eta": 0.2, "stepmx": 5.0} if method == "tnc" else {}
    declared = minimize(rosen, np.array(x0), method=name, options=options)
    default = minimize(rosen, np.array(x0), method=name, options=ours)
    assert declared.fun == default.fun and declared.nfev == default.nfev
    np.testing.assert_array_equal(declared.x, default.x)


def test_experiment_expands_to_45_jobs() -> None:
    jobs = experiment_sweeper().generate_jobs([])
    assert jobs == [
        (f"settings={settings}", f"maxfun={maxfun}")
        for settings in SETTINGS
        for maxfun in range(10, 151, 10)
    ]


def test_command_line_narrows_the_experiment() -> None:
    jobs = experiment_sweeper().generate_jobs(["settings=lbfgsb"])
    assert sorted(map(sorted, jobs)) == sorted(
        sorted(["settings=lbfgsb", f"maxfun={maxfun}"]) for maxfun in range(10, 151, 10)
    )


def test_one_off_sweep_on_top_of_the_experiment() -> None:
    jobs = experiment_sweeper().generate_jobs(["settings=tnc", "method.options.maxCGit=1,5,10"])
    assert len(jobs) == 45
    assert len(set(jobs)) == 45
    assert {job[2] for job in jobs} == {f"method.options.maxCGit={n}" for n in (1, 5, 10)}
