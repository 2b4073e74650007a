"""The example task: minimize the Rosenbrock function with one scipy optimizer.

python task.py method=tnc
python task.py -cp experiment -m

Replace `run` with your own training loop: it takes the config and returns the outcome, a dict
of plain values and numpy arrays. `main` returns the number a hyperparameter sweeper minimizes.
Everything else (result files, resume, provenance) is utils.run_and_save's.
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from scipy.optimize import minimize, rosen

import cli
import methods
import utils

log = logging.getLogger(__name__)

MAX_ITERATES = 301  # rows kept of an optimizer's path: the start, the iterates, the end


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
        raise cli.ConfigError(
            f"x0 must be null or a list of numbers such as [-0.5,-0.5], got {x0!r}"
        )
    if len(x0) != dim:
        raise cli.ConfigError(f"x0 {x0!r} has {len(x0)} entries but dim is {dim}")
    return np.array(x0, dtype=float)


def thin(points: list[np.ndarray], limit: int = MAX_ITERATES) -> np.ndarray:
    """At most `limit` of `points`, evenly spaced, the first and the last always kept."""
    keep = np.unique(np.linspace(0, len(points) - 1, min(limit, len(points))).round())
    return np.array([points[int(i)] for i in keep], dtype=float)


def run(config: DictConfig) -> dict[str, Any]:
    """Run `minimize` on the Rosenbrock function as `config` says; return its outcome."""
    methods.check_config(config)
    x0 = start_point(config.x0, config.dim, config.seed)
    options = OmegaConf.to_container(config.method.options, resolve=True) or {}
    path = [x0]

    def record(xk: np.ndarray) -> None:  # scipy calls it after each iteration
        path.append(np.array(xk, dtype=float))

    result = minimize(
        rosen, x0, method=config.method.name, jac=config.jac, options=options, callback=record
    )
    x = np.asarray(result.x, dtype=float)
    if not np.array_equal(path[-1], x):
        path.append(x)
    return {
        "start": x0,  # the start point used, drawn or given
        "fun": float(result.fun),
        "x": x,
        "nfev": int(result.nfev),
        "nit": int(result.nit),
        "success": bool(result.success),
        "message": str(result.message),
        "iterates": thin(path),  # the path from x0 to x, one row per iteration
    }


@hydra.main(config_path="config", config_name="task")
def main(config: DictConfig) -> float:
    methods.check_config(config)  # before the result's name, which needs a method, is made
    outcome = utils.run_and_save(config, run)
    log.info(f"f(x) = {outcome['fun']:.3e} after {outcome['nfev']} evaluations")
    return outcome["fun"]


if __name__ == "__main__":
    cli.run_cli(main)
