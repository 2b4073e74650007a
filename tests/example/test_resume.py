"""The full experiment interrupted and resumed, recomputed, and run twice: always the same
45 outcomes, bit for bit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import utils
from tests.helpers import ROOT, into, run, sweep_counts

pytestmark = pytest.mark.slow

EXPERIMENT = ["task.py", "-cp", "experiment", "-m"]
JOBS = 45
INTERRUPT_AFTER = 5  # result files; the sweep writes about one every 0.1-0.3 s


def outcomes(folder: Path) -> dict[tuple[str, int], tuple[str, bytes]]:
    """fun (as float.hex) and x (as bytes) per (method.name, maxfun), from every result."""
    table = {}
    for path in sorted(folder.glob("*.pickle")):
        record = utils.read_result(path)
        key = (record["config"]["method"]["name"], record["config"]["maxfun"])
        x = record["result"]["x"]
        assert key not in table, f"two results for {key}"
        assert x.dtype == np.float64
        table[key] = (record["result"]["fun"].hex(), x.tobytes())
    return table


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each result file's bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*.pickle")}


def interrupted_sweep(tmp_path: Path, sig: signal.Signals) -> int:
    """Start the experiment, send `sig` once INTERRUPT_AFTER results exist; returns its exit
    code."""
    results = tmp_path / "results"
    with open(tmp_path / "interrupted.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, *EXPERIMENT, *into(tmp_path)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while proc.poll() is None and len(list(results.glob("*.pickle"))) < INTERRUPT_AFTER:
                time.sleep(0.005)
            if proc.poll() is not None:
                pytest.fail(
                    f"the sweep ended (exit {proc.returncode}) before {INTERRUPT_AFTER} results "
                    f"existed, so it could not be interrupted; see {tmp_path}/interrupted.log"
                )
            proc.send_signal(sig)
            return proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_resume_after_interruption(
    sig: signal.Signals, tmp_path: Path, paper_results: Path
) -> None:
    code = interrupted_sweep(tmp_path, sig)
    assert code != 0, "the interrupted sweep reported success"
    results = tmp_path / "results"

    before = snapshot(results)
    finished = len(before)
    assert INTERRUPT_AFTER <= finished < JOBS, f"{finished} results after the interruption"
    for name in before:
        utils.read_result(results / name)  # none is truncated
    leftovers = {p.name for p in results.iterdir()} - set(before)
    # At most the one temporary file a killed process had open, never a partial result.
    assert all(n.startswith(".") and n.endswith(".tmp") for n in leftovers), leftovers
    assert len(leftovers) <= (1 if sig == signal.SIGKILL else 0), leftovers

    proc = run(*EXPERIMENT, *into(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sweep_counts(proc.stdout) == {
        "reused": finished,
        "ran": JOBS - finished,
        "re-ran": 0,
        "failed": 0,
    }

    after = snapshot(results)
    assert len(after) == JOBS
    assert {name: after[name] for name in before} == before  # same bytes, same mtime
    assert outcomes(results) == outcomes(paper_results)


def test_resume_false_recomputes_everything(tmp_path: Path) -> None:
    proc = run(*EXPERIMENT, *into(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = tmp_path / "results"
    first, first_outcomes = snapshot(results), outcomes(results)
    assert len(first) == JOBS

    proc = run(*EXPERIMENT, *into(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sweep_counts(proc.stdout) == {"reused": JOBS, "ran": 0, "re-ran": 0, "failed": 0}
    assert snapshot(results) == first

    proc = run(*EXPERIMENT, "output.resume=false", *into(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sweep_counts(proc.stdout) == {"reused": 0, "ran": JOBS, "re-ran": 0, "failed": 0}
    again = snapshot(results)
    assert again.keys() == first.keys()  # the same files, since output is no part of the hash
    assert all(again[name][1] > first[name][1] for name in first)
    assert outcomes(results) == first_outcomes


def test_two_runs_give_identical_outcomes(tmp_path: Path, paper_results: Path) -> None:
    proc = run(*EXPERIMENT, *into(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours, theirs = outcomes(tmp_path / "results"), outcomes(paper_results)
    assert len(ours) == JOBS
    assert sorted(p.name for p in (tmp_path / "results").glob("*.pickle")) == sorted(
        p.name for p in paper_results.glob("*.pickle")
    )
    differing = [key for key in ours if ours[key] != theirs.get(key)]
    assert not differing, f"runs with different outcomes: {differing}"
