"""The same sweep through SLURM (hydra/launcher=slurm) gives the sequential launcher's results
(the local parallel launcher's test: tests/example/test_launchers.py). The SLURM tests
need a controller that answers, such as the one scripts/slurm-up.sh starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import utils
from conftest import ROOT, into, last_line, needs_slurm, run

pytestmark = pytest.mark.slow

EXPERIMENT = ["task.py", "-cp", "experiment", "-m"]
JOBS = 45
NO_SLURM_MESSAGE = "Error: hydra/launcher=slurm needs a SLURM cluster: "


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


@needs_slurm
def test_slurm_launcher_gives_the_sequential_results(paper_results: Path, tmp_path: Path):
    assert experiment(tmp_path, "hydra/launcher=slurm") == outcomes(paper_results)


@needs_slurm
def test_slurm_launcher_names_a_failed_job(tmp_path: Path):
    proc = run(
        *EXPERIMENT, *into(tmp_path), "hydra/launcher=slurm", "settings=tnc", "maxfun=10,abc"
    )
    assert proc.returncode != 0
    assert "1 of 2 jobs failed" in proc.stderr
    failed = f"#1 [output.dir={tmp_path}/results settings=tnc maxfun=abc]: TypeError: "
    assert last_line(proc.stderr).startswith(failed)
    # The job that could run kept its result.
    assert list(outcomes(tmp_path / "results")) == [("TNC", 10)]


def no_slurm(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *EXPERIMENT, *into(tmp_path), "hydra/launcher=slurm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    return proc, time.perf_counter() - tic


def test_slurm_launcher_without_sbatch_fails_at_once(tmp_path: Path):
    # Only Python's own folder on PATH: no sbatch, wherever SLURM is installed.
    proc, seconds = no_slurm(tmp_path, {"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        NO_SLURM_MESSAGE + "no sbatch on PATH (no SLURM client on this machine); start one "
        "(scripts/slurm-up.sh) or choose another launcher "
        "(hydra/launcher=parallel or hydra/launcher=basic)"
    )
    assert "Traceback" not in proc.stderr
    assert seconds < 30
    assert not (tmp_path / "results").exists()


@pytest.mark.skipif(shutil.which("sbatch") is None, reason="needs the SLURM client (sbatch)")
def test_slurm_launcher_without_a_controller_fails_at_once(tmp_path: Path):
    # A cluster whose controller's port nobody listens on.
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        "ClusterName=none\n"
        "SlurmctldHost=nohost(127.0.0.1)\n"
        "SlurmctldPort=9\n"
        "NodeName=nohost CPUs=1\n"
        "PartitionName=none Nodes=ALL Default=YES\n"
    )
    proc, seconds = no_slurm(tmp_path, {"SLURM_CONF": str(conf)})
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith(NO_SLURM_MESSAGE + "no SLURM controller answers")
    assert "Traceback" not in proc.stderr
    assert seconds < 30
    assert not (tmp_path / "results").exists()
