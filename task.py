"""Minimize the Rosenbrock function with one scipy optimizer and keep the result.

python task.py method=tnc
python task.py -cp experiment -m
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import time
from datetime import datetime, timezone
from numbers import Real
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError
from scipy.optimize import minimize, rosen

# scipy's solvers behind `minimize`; their keyword arguments are each method's options.
from scipy.optimize._lbfgsb_py import _minimize_lbfgsb
from scipy.optimize._optimize import _minimize_neldermead
from scipy.optimize._tnc import _minimize_tnc

import utils

log = logging.getLogger(__name__)

METHOD_DIR = Path(__file__).resolve().parent / "config" / "method"
SOLVERS = {
    "L-BFGS-B": _minimize_lbfgsb,
    "Nelder-Mead": _minimize_neldermead,
    "TNC": _minimize_tnc,
}
# Solver arguments that `minimize` fills itself and that are therefore not options.
NOT_OPTIONS = {"fun", "func", "x0", "args", "jac", "bounds", "callback", "unknown_options"}
JAC_CHOICES = (None, "2-point", "3-point", "cs")


class ConfigError(ValueError):
    """A config value the task cannot run with."""


def method_choices() -> list[str]:
    return sorted(p.stem for p in METHOD_DIR.glob("*.yaml"))


def solver_options(method: str) -> list[str]:
    params = inspect.signature(SOLVERS[method]).parameters
    return sorted(params.keys() - NOT_OPTIONS, key=str.lower)


def check_config(config: DictConfig) -> None:
    """Raise ConfigError naming the bad value and the valid choices."""
    if config.get("method") is None:
        raise ConfigError(
            f"no method chosen: add method=NAME with NAME one of {', '.join(method_choices())}"
        )
    name = config.method.name
    if name not in SOLVERS:
        raise ConfigError(f"unknown method.name {name!r}: valid names are {', '.join(SOLVERS)}")
    unknown = sorted(set(config.method.options or {}) - set(solver_options(name)))
    if unknown:
        raise ConfigError(
            f"{name} has no option {', '.join(map(repr, unknown))}: "
            f"valid options are {', '.join(solver_options(name))}"
        )
    if config.jac not in JAC_CHOICES:
        raise ConfigError(
            f"unknown jac {config.jac!r}: valid choices are {', '.join(map(str, JAC_CHOICES))}"
        )


def start_point(x0: Any, dim: int, seed: int) -> np.ndarray:
    """`x0` as an array, or a point drawn from U(-1, 1)^dim by a generator seeded by `seed`."""
    if x0 is None:
        return np.random.default_rng(seed).uniform(-1, 1, size=dim)
    x0 = OmegaConf.to_container(x0) if OmegaConf.is_config(x0) else x0
    if not (
        isinstance(x0, list)
        and x0
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in x0)
    ):
        raise ConfigError(f"x0 must be null or a list of numbers such as [-0.5,-0.5], got {x0!r}")
    if len(x0) != dim:
        raise ConfigError(f"x0 {x0!r} has {len(x0)} entries but dim is {dim}")
    return np.array(x0, dtype=float)


def optimize(config: DictConfig) -> dict[str, Any]:
    """Run `minimize` on the Rosenbrock function as `config` says; return its outcome."""
    check_config(config)
    x0 = start_point(config.x0, config.dim, config.seed)
    options = OmegaConf.to_container(config.method.options, resolve=True) or {}
    result = minimize(rosen, x0, method=config.method.name, jac=config.jac, options=options)
    return {
        "start": x0,  # the start point used, drawn or given
        "fun": float(result.fun),
        "x": np.asarray(result.x, dtype=float),
        "nfev": int(result.nfev),
        "nit": int(result.nit),
        "success": bool(result.success),
        "message": str(result.message),
    }


@hydra.main(config_path="config", config_name="task")
def main(config: DictConfig) -> float:
    check_config(config)
    resolved = OmegaConf.to_container(config, resolve=True)
    path = utils.result_path(resolved)
    if config.output.resume:
        finished = utils.finished_result(path, resolved)
        if finished is not None:
            log.info(f"Skipped: {path} already holds this run")
            return finished["result"]["fun"]

    started = datetime.now(timezone.utc)
    tic = time.perf_counter()
    outcome = optimize(config)
    duration = time.perf_counter() - tic

    provenance = utils.hydra_provenance(HydraConfig.get())
    provenance.update(started=started.isoformat(), duration_s=duration)
    utils.save_result(path, utils.make_record(resolved, outcome, provenance))
    log.info(f"f(x) = {outcome['fun']:.3e} after {outcome['nfev']} evaluations -> {path}")
    return outcome["fun"]


def describe_config_error(error: Exception) -> str | None:
    """One line naming the bad value and the valid choices, for errors a user can fix."""
    cause = error.__cause__
    if isinstance(error, ConfigError):
        return str(error)
    if isinstance(error, MissingConfigException) and error.options:
        group, _, name = (error.missing_cfg_file or "").rpartition("/")
        return f"unknown {group} {name!r}: valid choices are {', '.join(error.options)}"
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and cause.full_key:
        parent, _, key = cause.full_key.rpartition(".")
        valid = list(cause.parent_node.keys()) if OmegaConf.is_dict(cause.parent_node) else []
        return f"{parent or 'the config'} has no key {key!r}: valid keys are {', '.join(valid)}"
    if isinstance(error, CompactHydraException):
        return str(error)
    return None


def cli() -> None:
    """Run `main` so that a config error ends the output as one line, with no traceback."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then re-raises errors instead of printing them
    try:
        main()
    except Exception as error:
        message = describe_config_error(error)
        if message is None:
            raise
        sys.exit(f"Error: {message}")


if __name__ == "__main__":
    cli()
