"""An interrupted job is never saved as finished, even when the task's library swallows the
Ctrl-C and returns a partial outcome; the sweep stops, and running it again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import utils
from tests.helpers import ROOT, into, sweep_counts
from tests.machinery.tiny_task import JOBS, TINY, env, results, snapshot, sweep, tiny


@pytest.mark.slow
def test_swallowed_interrupt_is_not_saved(tmp_path: Path) -> None:
    # Job #1 sends itself a SIGINT, catches the KeyboardInterrupt and returns half its draws.
    args = ("-m", "behave=ok,swallow-interrupt", *into(tmp_path))
    proc = tiny(*args)
    assert proc.returncode == 130, proc.stderr  # as a shell reports a Ctrl-C
    assert proc.stderr == "Interrupted: SIGINT during the run: its result was not saved\n"
    job_log = (tmp_path / "multirun" / "1" / "tiny.log").read_text()
    assert "Training interrupted by user: returning the draws so far" in job_log
    saved = results(tmp_path / "results")
    assert [r["config"]["behave"] for r in saved.values()] == ["ok"]
    assert not (tmp_path / "multirun" / "1" / utils.STATUS_FILE).exists()

    again = tiny(*args)  # the same command runs the job again: nothing stands for it
    assert again.returncode == 130
    assert results(tmp_path / "results").keys() == saved.keys()
    assert (tmp_path / "multirun" / "1" / "tiny.log").read_text().count("interrupted by user") == 2


def last_error(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_ctrl_c_during_a_swallowing_job_then_resume(tmp_path: Path) -> None:
    """Ctrl-C in the terminal (SIGINT to the sweep's process group) while job #2 works: the
    job's library swallows it, yet nothing is saved for it and the sweep stops. The same
    command then reuses the 2 finished results and runs the 4 others."""
    command = [
        sys.executable, str(TINY / "tiny.py"), "-cp", "experiment", "-cn", "sweep", "-m",
        "behave=swallow-interrupt", "sleep_s=1", *into(tmp_path),
    ]  # fmt: skip
    folder = tmp_path / "results"
    with open(tmp_path / "interrupted.log", "w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env(ROOT), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            job_log = tmp_path / "multirun" / "2" / "tiny.log"
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if job_log.exists() and "Working for" in job_log.read_text():
                    break  # job #2 is now in its 1 s of work
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code != 0, "the interrupted sweep reported success"
    job_log = (tmp_path / "multirun" / "2" / "tiny.log").read_text()
    assert "Training interrupted by user: returning the draws so far" in job_log
    before = snapshot(folder)
    assert len(before) == 2, sorted(before)
    assert {r["config"]["seed"] for r in results(folder).values()} == {0, 1}
    for record in results(folder).values():
        assert len(record["result"]["draws"]) == 5  # whole outcomes only

    again = sweep("behave=swallow-interrupt", "sleep_s=1", *into(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert sweep_counts(again.stdout) == {"reused": 2, "ran": JOBS - 2, "re-ran": 0, "failed": 0}
    after = snapshot(folder)
    assert len(after) == JOBS
    assert {name: after[name] for name in before} == before  # same bytes, same time
    for record in results(folder).values():
        assert len(record["result"]["draws"]) == 5
