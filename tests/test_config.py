"""Every config composed through Hydra's compose API, asserted as whole resolved dicts."""

from __future__ import annotations

import inspect

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import task
from conftest import ROOT
from hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper import (
    CheckedExperimentSweeper,
)

LBFGSB = {
    "maxcor": 10,
    "ftol": 2.220446049250313e-09,
    "gtol": 1e-05,
    "eps": 1e-08,
    "maxfun": 15000,
    "maxiter": 15000,
    "maxls": 20,
    "finite_diff_rel_step": None,
}
NELDER_MEAD = {
    "maxiter": None,
    "maxfev": None,
    "xatol": 0.0001,
    "fatol": 0.0001,
    "adaptive": False,
    "initial_simplex": None,
}
TNC = {
    "eta": 0.2,
    "stepmx": 5.0,
    "maxCGit": -1,
    "maxfun": None,
    "eps": 1e-08,
    "accuracy": 0,
    "minfev": 0,
    "ftol": -1,
    "xtol": -1,
    "gtol": -1,
    "rescale": -1,
    "offset": None,
    "scale": None,
    "finite_diff_rel_step": None,
}
SETTINGS = ["nelder-mead", "tnc", "lbfgsb"]


def resolved(config_dir: str, overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=str(ROOT / config_dir)):
        return OmegaConf.to_container(compose("task", overrides=overrides), resolve=True)


def sweeper(overrides: list[str] = ()) -> CheckedExperimentSweeper:
    with initialize_config_dir(config_dir=str(ROOT / "experiment")):
        config = compose("task", overrides=list(overrides), return_hydra_config=True)
    assert config.hydra.sweeper._target_.endswith("CheckedExperimentSweeper")
    return CheckedExperimentSweeper(
        max_batch_size=config.hydra.sweeper.max_batch_size,
        overrides=OmegaConf.to_container(config.hydra.sweeper.overrides),
    )


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
    assert resolved("config", [f"method={method}"]) == {
        **BASE,
        "output": {"dir": "results/one-off", "name": name, "resume": True},
        "method": {"name": name, "options": options},
    }


def test_task_config_without_method() -> None:
    with initialize_config_dir(config_dir=str(ROOT / "config")):
        assert "method" not in compose("task")


def test_command_line_option_override() -> None:
    config = resolved("config", ["method=tnc", "method.options.eta=0.1"])
    assert config["method"]["options"] == {**TNC, "eta": 0.1}


EXPERIMENT = {
    **BASE,
    "x0": [-0.5, -0.5],
    "maxfun": 30,
}


def test_settings_lbfgsb() -> None:
    assert resolved("experiment", ["settings=lbfgsb", "maxfun=30"]) == {
        **EXPERIMENT,
        "jac": "2-point",
        "output": {"dir": "results/paper", "name": "L-BFGS-B-maxfun30", "resume": True},
        "method": {"name": "L-BFGS-B", "options": {**LBFGSB, "maxfun": 30, "eps": 0.001}},
    }


def test_settings_nelder_mead() -> None:
    assert resolved("experiment", ["settings=nelder-mead", "maxfun=30"]) == {
        **EXPERIMENT,
        "output": {"dir": "results/paper", "name": "Nelder-Mead-maxfun30", "resume": True},
        "method": {"name": "Nelder-Mead", "options": {**NELDER_MEAD, "maxfev": 30}},
    }


def test_settings_tnc() -> None:
    assert resolved("experiment", ["settings=tnc", "maxfun=30"]) == {
        **EXPERIMENT,
        "output": {"dir": "results/paper", "name": "TNC-maxfun30", "resume": True},
        "method": {"name": "TNC", "options": {**TNC, "maxfun": 30, "eta": 0.5}},
    }


@pytest.mark.parametrize("method", ["lbfgsb", "nelder-mead", "tnc"])
def test_declared_options_are_scipys_defaults(method: str) -> None:
    """config/method/*.yaml declares scipy's own options with scipy's defaults, except the
    choices its comments name."""
    options = resolved("config", [f"method={method}"])["method"]
    signature = inspect.signature(task.SOLVERS[options["name"]]).parameters
    ours = {"eta": 0.2, "stepmx": 5.0} if method == "tnc" else {}
    for key, value in options["options"].items():
        assert value == ours.get(key, signature[key].default), key


def test_experiment_expands_to_45_jobs() -> None:
    jobs = sweeper().generate_jobs([])
    assert jobs == [
        (f"settings={settings}", f"maxfun={maxfun}")
        for settings in SETTINGS
        for maxfun in range(10, 151, 10)
    ]


def test_command_line_narrows_the_experiment() -> None:
    jobs = sweeper().generate_jobs(["settings=lbfgsb"])
    assert sorted(map(sorted, jobs)) == sorted(
        sorted(["settings=lbfgsb", f"maxfun={maxfun}"]) for maxfun in range(10, 151, 10)
    )


def test_one_off_sweep_on_top_of_the_experiment() -> None:
    jobs = sweeper().generate_jobs(["settings=tnc", "method.options.maxCGit=1,5,10"])
    assert len(jobs) == 45
    assert len(set(jobs)) == 45
    assert {job[2] for job in jobs} == {f"method.options.maxCGit={n}" for n in (1, 5, 10)}
