"""A task for the SLURM launcher's tests. Each job is named (`name=a`); on request it sleeps,
raises or ends its own process, and it records what it did in files under `out`:

- `<name>.started`: one line per start, the SLURM job that ran it (`123_4`);
- `<name>.done`: its result, written when it finishes; a job whose file exists is skipped,
  as task.py skips a job whose result exists;
- `runs.txt`: one line per job that ran to the end.

    python tests/slurm_task.py -m name=a,b,c out=/tmp/x slow=[b] hydra.sweep.dir=/tmp/x/multirun

A slow job sleeps `sleep_s` seconds, or until the file `<out>/release` exists.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's plugins (hydra_plugins/), as for task.py

import hydra  # noqa: E402
from hydra.core.config_store import ConfigStore  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

CONFIG = ROOT / "config"

ConfigStore.instance().store(
    name="slurm_task",
    node={
        "defaults": [
            {"override hydra/sweeper": "checked_experiment"},
            {"override hydra/launcher": "slurm"},
            "_self_",
        ],
        "hydra": {"searchpath": [f"file://{CONFIG}"]},
        "name": "a",
        "out": "???",
        "slow": [],  # names of the jobs that sleep
        "raising": [],  # ... that raise ValueError
        "exiting": [],  # ... that end their process with os._exit(3)
        "sleep_s": 300.0,
    },
)


def slurm_job() -> str:
    if "SLURM_ARRAY_TASK_ID" in os.environ:
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID", "none")


@hydra.main(config_path=None, config_name="slurm_task")
def main(config: DictConfig) -> int:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    done = out / f"{config.name}.done"
    if done.exists():
        return int(done.read_text())
    with open(out / f"{config.name}.started", "a") as f:
        f.write(f"{slurm_job()}\n")
    if config.name in config.slow:
        deadline = time.monotonic() + config.sleep_s
        while time.monotonic() < deadline and not (out / "release").exists():
            time.sleep(0.1)
    if config.name in config.raising:
        raise ValueError(f"job {config.name} raises")
    if config.name in config.exiting:
        os._exit(3)
    value = sum(map(ord, config.name))
    done.write_text(str(value))
    with open(out / "runs.txt", "a") as f:
        f.write(f"{config.name}\n")
    return value


if __name__ == "__main__":
    main()
