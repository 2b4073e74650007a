"""The same sweep through the local sequential and parallel launchers gives the same results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import utils
from tests.helpers import into, run

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


def test_parallel_launcher_gives_the_sequential_results(paper_results: Path, tmp_path: Path):
    sequential = outcomes(paper_results)
    assert len(sequential) == JOBS
    proc = run(*EXPERIMENT, *into(tmp_path), "hydra/launcher=parallel")
    assert proc.returncode == 0, proc.stderr
    assert outcomes(tmp_path / "results") == sequential
