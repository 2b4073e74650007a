"""Command-line errors: a mistake in the config ends with one line, not a traceback.

task.py runs its Hydra `main` through `run_cli`. Errors a user can fix (an unknown config
group option, an unknown key, a value the task refuses) end the output with
`Error: <the bad value and the valid choices>` and exit code 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from hydra.errors import CompactHydraException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

import utils


class ConfigError(ValueError):
    """A config value the task cannot run with."""


def describe_config_error(error: BaseException) -> str | None:
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


def run_cli(main: Callable[[], object]) -> None:
    """Run a Hydra `main` so that a config error ends the output as one line."""
    # The project's code, read as soon as it is loaded: the local launchers fork every job
    # from this process, so each job records the code it inherited (see utils.environment).
    utils.environment()
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then re-raises errors instead of printing them
    try:
        main()
    except KeyboardInterrupt as interrupt:
        print(f"Interrupted{': ' if str(interrupt) else ''}{interrupt}", file=sys.stderr)
        sys.exit(130)  # as a shell reports a Ctrl-C
    except Exception as error:
        report = getattr(error, "sweep_report", None)
        if report is not None:  # jobs of a sweep failed; each one's traceback is logged above
            sys.exit(f"Error: {report}")
        message = describe_config_error(error)
        if message is None:
            raise
        sys.exit(f"Error: {message}")
