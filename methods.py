"""The example's optimizers: which exist, and which options scipy documents for each.

Options are read from scipy's public `show_options`, so a scipy release that adds or renames
one is followed without an edit here.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from omegaconf import DictConfig
from scipy.optimize import show_options

from cli import ConfigError

METHOD_DIR = Path(__file__).resolve().parent / "config" / "method"
NAMES = ("L-BFGS-B", "Nelder-Mead", "TNC")  # scipy's names, as config/method/*.yaml give them
# Documented among the options, but arguments of `minimize` itself: not options.
MINIMIZE_ARGUMENTS = {"bounds", "callback", "jac", "hess"}
JAC_CHOICES = (None, "2-point", "3-point", "cs")


def method_choices() -> list[str]:
    return sorted(p.stem for p in METHOD_DIR.glob("*.yaml"))


@functools.cache
def documented_options(name: str) -> list[str]:
    """The options scipy documents for `minimize(method=name)`, from its Options section,
    where one line may name several (`maxiter, maxfev : int`)."""
    text = show_options("minimize", name, disp=False)
    section = text.split("Options\n-------\n", 1)[-1]
    names = []
    for line in re.findall(r"^(\w+(?:, \w+)*) : ", section, re.M):
        names += line.split(", ")
    return sorted(set(names) - MINIMIZE_ARGUMENTS, key=str.lower)


def check_config(config: DictConfig) -> None:
    """Raise ConfigError naming the bad value and the valid choices."""
    if config.get("method") is None:
        raise ConfigError(
            f"no method chosen: add method=NAME with NAME one of {', '.join(method_choices())}"
        )
    name = config.method.name
    if name not in NAMES:
        raise ConfigError(f"unknown method.name {name!r}: valid names are {', '.join(NAMES)}")
    unknown = sorted(set(config.method.options or {}) - set(documented_options(name)))
    if unknown:
        raise ConfigError(
            f"{name} has no option {', '.join(map(repr, unknown))}: "
            f"valid options are {', '.join(documented_options(name))}"
        )
    if config.jac not in JAC_CHOICES:
        raise ConfigError(
            f"unknown jac {config.jac!r}: valid choices are {', '.join(map(str, JAC_CHOICES))}"
        )
