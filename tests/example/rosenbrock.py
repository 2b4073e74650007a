"""What the example's tests compare with: scipy's own options and answers."""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult, minimize, rosen

SETTINGS = ["nelder-mead", "tnc", "lbfgsb"]  # the order of experiment/comparison.yaml

# Each config/method/*.yaml: scipy's options with scipy's defaults (TNC: eta and stepmx ours).
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


def start(config: dict) -> np.ndarray:
    """The documented start point: x0, or U(-1, 1)^dim drawn by numpy's default_rng(seed)."""
    if config["x0"] is None:
        return np.random.default_rng(config["seed"]).uniform(-1, 1, size=config["dim"])
    return np.array(config["x0"], dtype=float)


def direct_minimize(config: dict, callback=None) -> OptimizeResult:
    """scipy's own answer for a stored config, without any of the project's code."""
    return minimize(
        rosen,
        start(config),
        method=config["method"]["name"],
        jac=config["jac"],
        options=config["method"]["options"],
        callback=callback,
    )
