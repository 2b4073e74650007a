"""The same sweep through each local launcher gives the same results: sequential and parallel
(hydra/launcher=parallel). tests/test_slurm.py does the same for SLURM (hydra/launcher=slurm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import utils
from conftest import into, run

pytestmark = pytest.mark.slow

EXPERIMENT = ["task.py", "-cp", "experiment", "-m"]
JOBS = 45


def outcomes(folder: Path) -> dict[tuple[str, int], tuple[float, list[float]]]:
    """(fun, x) per (method.name, maxfun) of the results in `folder`."""
    table = utils.load_results(folder)
    keys = list(zip(table["method.name"], table["maxfun"], strict=True))
    assert len(set(keys)) == len(keys), "two results for one run"
    return {
        key: (fun, np.asarray(x).tolist())
        for key, fun, x in zip(keys, table["fun"], table["x"], strict=True)
    }


def experiment(tmp_path: Path, *overrides: str) -> dict[tuple[str, int], tuple[float, list]]:
    proc = run(*EXPERIMENT, *into(tmp_path), *overrides)
    assert proc.returncode == 0, proc.stderr
    return outcomes(tmp_path / "results")


def test_parallel_launcher_gives_the_sequential_results(paper_results: Path, tmp_path: Path):
    sequential = outcomes(paper_results)
    assert len(sequential) == JOBS
    assert experiment(tmp_path, "hydra/launcher=parallel") == sequential
