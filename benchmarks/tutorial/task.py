"""The original tutorial's code, reproduced as the baseline of the benchmark (python -m benchmarks):
a plain Hydra app on the same stack, with none of this project's checks, provenance, resume
or atomic writing. Run from this folder: python task.py -cp experiment -m
"""

import pickle
from pathlib import Path

import hydra
import numpy as np
from hydra.utils import to_absolute_path
from scipy.optimize import minimize, rosen


@hydra.main(config_path="config", config_name="task")
def main(config):  # noqa: ANN001, ANN201 - as in the tutorial
    x0 = np.random.default_rng().uniform(-1, 1, 2) if config.x0 is None else np.array(config.x0)
    method = config.method
    result = minimize(rosen, x0, method=method.name, jac=config.get("jac"), options=method.options)
    if config.output_path is not None:
        path = Path(to_absolute_path(config.output_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump({"config": config, "result": result}, f)
    return float(result.fun)


if __name__ == "__main__":
    main()
