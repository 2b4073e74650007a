"""task.py without its features: the same config tree and optimizer, but no result path,
resume check, provenance or result file. python -m benchmarks times sweeps of it against task.py:

PYTHONPATH=. python benchmarks/bare_task.py -cp "$PWD/experiment" -m
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import task


@hydra.main(config_path="../config", config_name="task")
def main(config: DictConfig) -> float:
    return task.run(config)["fun"]


if __name__ == "__main__":
    main()
