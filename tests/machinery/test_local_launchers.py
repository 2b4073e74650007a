"""The local launchers: a job that dies with its process costs only its own result."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_plugins.isolated_launcher.isolated import JobDied, how_it_ended, run_all, run_isolated

ROOT = Path(__file__).resolve().parents[2]
TINY = "tests/machinery/tiny/tiny.py"


def tiny(*args: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, TINY, *args, f"output.dir={out}/results"]
    command += [f"hydra.sweep.dir={out}/multirun"]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    proc.output = proc.stdout + proc.stderr  # Hydra logs to stdout, errors go to stderr
    return proc


def test_a_value_an_error_and_a_death_each_come_back() -> None:
    def kill_self() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def refuse() -> None:
        raise ValueError("no")

    outcomes = run_all([lambda: 41 + 1, refuse, lambda: os._exit(3), kill_self], max_running=2)
    assert outcomes[0].get() == 42
    assert isinstance(outcomes[1].error, ValueError) and str(outcomes[1].error) == "no"
    assert isinstance(outcomes[2].error, JobDied)
    assert str(outcomes[2].error) == "the job's process ended without a result: exit code 3"
    assert str(outcomes[3].error).endswith("killed by signal 9 (SIGKILL)")
    assert run_isolated(lambda: os.getpid()) != os.getpid()


def test_how_a_process_ended() -> None:
    assert how_it_ended(3 << 8) == "exit code 3"
    assert how_it_ended(signal.SIGSEGV) == "killed by signal 11 (SIGSEGV)"


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["sequential", "parallel"])
def test_a_dead_job_loses_no_other_result(launcher: str, tmp_path: Path) -> None:
    # 2 scales x 3 seeds x 2 behaviours; the 6 jobs with behave=exit end their own process
    # with os._exit(3), as a segfault or the out-of-memory killer would.
    args = ["-cp", "experiment", "-cn", "sweep", "-m", "behave=ok,exit"]
    proc = tiny(*args, f"hydra/launcher={launcher}", out=tmp_path)
    assert proc.returncode == 1, proc.output
    results = sorted(p.name for p in (tmp_path / "results").glob("*.pickle"))
    assert len(results) == 6
    died = re.findall(
        r"^#\d+ \[(.*behave=exit.*)\]: JobDied: the job's process ended without a result: "
        r"exit code 3$",
        proc.stderr,
        re.M,
    )
    assert len(died) == 6, proc.stderr

    # The finished ones are reused, the dead ones die again.
    again = tiny(*args, f"hydra/launcher={launcher}", out=tmp_path)
    assert again.returncode == 1
    assert again.output.count("already holds this run") == 6
    assert sorted(p.name for p in (tmp_path / "results").glob("*.pickle")) == results
