"""A task for the sweeper's tests: job `n` does what `outcomes[n]` of its config says.

- `ran`, `reused`, `redone:<why>`: writes the job status file `job.json` saying so;
- `silent`: writes no status file (a task that does not follow the interface);
- `fail`: raises ValueError("job <n> failed"), caused by a KeyError;
- `exit:<code>`: ends its process with that exit code; `kill:<signal>`: with that signal.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def job(config: DictConfig) -> int:
    what, _, arg = config.outcomes[config.n].partition(":")
    if what == "fail":
        try:
            raise KeyError(config.n)
        except KeyError as cause:
            raise ValueError(f"job {config.n} failed") from cause
    if what == "exit":
        os._exit(int(arg))
    if what == "kill":
        os.kill(os.getpid(), signal.Signals[arg])
    if what != "silent":
        status = {
            "result": f"result-{config.n}.pickle",
            "status": "reused" if what == "reused" else "ran",
            "redone": arg if what == "redone" else None,
        }
        path = Path(HydraConfig.get().runtime.output_dir) / "job.json"
        path.write_text(json.dumps(status))
    return config.n


main = hydra.main(config_path=".", config_name="config")(job)

if __name__ == "__main__":
    main()
