"""A tiny task for the machinery's tests, apart from the example: sums `n` seeded draws.

PYTHONPATH=<project root> python tests/machinery/tiny/tiny.py scale=2
`behave` makes a job misbehave the ways real jobs do (see config/tiny.yaml).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig

import cli
import utils

log = logging.getLogger(__name__)


def run(config: DictConfig) -> dict[str, Any]:
    draws = np.random.default_rng(config.seed).normal(size=config.n) * config.scale
    if config.behave == "raise":
        raise ValueError(f"scale {config.scale} refused on purpose")
    if config.behave == "exit":
        os._exit(3)  # dies as a segfault or an out-of-memory kill would: no exception, no result
    if config.behave == "sleep":
        time.sleep(config.sleep_s)
    if config.behave == "swallow-interrupt":
        # As a library that stops early on Ctrl-C and returns what it has: an interrupt that
        # arrives during the work (sleep_s seconds; with 0, one it sends itself at once) is
        # caught here, and a partial outcome is returned.
        log.info(f"Working for {config.sleep_s or 1} s")  # the tests wait for this line
        try:
            if config.sleep_s == 0:
                os.kill(os.getpid(), signal.SIGINT)
            time.sleep(config.sleep_s or 1)
        except KeyboardInterrupt:
            log.warning("Training interrupted by user: returning the draws so far")
            draws = draws[: len(draws) // 2]
    return {"value": float(draws.sum()), "draws": draws}


@hydra.main(config_path="config", config_name="tiny")
def main(config: DictConfig) -> float:
    return utils.run_and_save(config, run)["value"]


if __name__ == "__main__":
    cli.run_cli(main)
