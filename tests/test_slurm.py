"""The SLURM launcher (hydra/launcher=slurm): packed jobs give the sequential results, a sweep of
any size fits the cluster's MaxArraySize, and every job that does not finish is named with its
overrides and why, with or without accounting on the cluster.

The tests marked needs_slurm need a controller that answers, such as the one
scripts/slurm-up.sh starts; those marked needs_dev_cluster also reconfigure that cluster for a
while (MaxArraySize=10, no accounting), so they run only on it, as root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hydra.core.utils import JobReturn, JobStatus

import utils
from conftest import ROOT, into, last_line, needs_slurm, run
from hydra_plugins.slurm_launcher import cluster
from hydra_plugins.slurm_launcher.slurm_launcher import Element, count, packs

EXPERIMENT = ["task.py", "-cp", "experiment", "-m"]
SLURM = "hydra/launcher=slurm"
TEST_TASK = "tests/slurm_task.py"
NO_SLURM_MESSAGE = "Error: hydra/launcher=slurm needs a SLURM cluster: "
PROGRESS = re.compile(
    r"SLURM sweep: (\d+) finished, (\d+) running, (\d+) pending, (\d+) failed "
    r"\(of (\d+) jobs? in (\d+) SLURM jobs?\)"
)
DEV_DIR = Path(os.environ.get("SLURM_DEV_DIR", "/tmp/slurm-dev"))
needs_dev_cluster = pytest.mark.skipif(
    not (DEV_DIR / "slurmctld.pid").exists() or os.geteuid() != 0,
    reason="reconfigures the cluster of scripts/slurm-up.sh, as root",
)


# Quick checks of the parts, without a cluster.


def test_packs_are_in_order_and_even():
    jobs = list(range(45))
    assert [len(p) for p in packs(jobs, 10)] == [9, 9, 9, 9, 9]
    assert [len(p) for p in packs(jobs, 20)] == [15, 15, 15]
    assert [len(p) for p in packs(list(range(7)), 3)] == [3, 2, 2]
    assert sum(packs(jobs, 10), []) == jobs
    assert packs(jobs, 1) == [[j] for j in jobs]
    with pytest.raises(ValueError, match="jobs_per_task=0: choose a positive number"):
        packs(jobs, 0)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("slurmstepd-vm: error: *** JOB 11 ON vm CANCELLED AT 2026-11-29T04:16:49 "
         "DUE TO TIME LIMIT ***", "timeout"),
        ("slurmstepd-vm: error: *** JOB 2 ON vm CANCELLED AT 2026-11-29T04:11:26 ***",
         "cancelled"),
        ("slurmstepd: error: Detected 1 oom_kill event in StepId=7.batch. Some of the step "
         "tasks have been OOM Killed.", "out of memory"),
        ("slurmstepd: error: Detected 1 oom-kill event(s) in step 7.batch cgroup.",
         "out of memory"),
    ],
)  # fmt: skip
def test_why_a_job_ended_is_read_from_its_stderr(tmp_path: Path, line: str, kind: str):
    stderr = tmp_path / "1_0_0_log.err"
    stderr.write_text(f"submitit INFO (2026-11-29) - Starting\n{line}\nmore\n")
    assert cluster._from_stderr(stderr) == cluster.Ending(kind, f"its stderr: {line}")


def test_a_job_that_never_started_and_left_no_record_was_cancelled(tmp_path: Path):
    # What `scancel` of a pending array element leaves: no stderr, no sacct or scontrol record.
    ending = cluster.ending("999999_4", tmp_path / "999999_4_0_log.err", patient=False)
    assert ending == cluster.Ending(
        "cancelled", "it never started, and SLURM keeps no record of it"
    )


@pytest.mark.parametrize(
    ("state", "exit_code", "kind", "phrase"),
    [
        ("CANCELLED by 0", "0:0", "cancelled", "was cancelled"),
        ("TIMEOUT", "0:0", "timeout", "reached its time limit"),
        ("OUT_OF_MEMORY", "0:125", "out of memory", "ran out of memory"),
        ("FAILED", "1:0", "exit code 1", "ended with exit code 1"),
        ("FAILED", "0:9", "killed by signal 9", "was killed by signal 9"),
        ("COMPLETED", "0:0", "completed", "ended normally but left no result"),
    ],
)
def test_why_a_job_ended_is_read_from_its_state(state, exit_code, kind, phrase):
    assert cluster._kind(state, exit_code) == kind
    assert cluster.Ending(kind, "").phrase == phrase


def test_progress_counts_one_running_job_per_running_slurm_job():
    ok = JobReturn(status=JobStatus.COMPLETED)
    bad = JobReturn(status=JobStatus.FAILED)
    jobs = [(i, []) for i in range(7)]
    elements = [
        Element("5_0", jobs[:3], Path("e0"), state="RUNNING"),
        Element("5_1", jobs[3:5], Path("e1"), state="PENDING"),
        Element("5_2", jobs[5:], Path("e2"), state="RUNNING"),
    ]
    done = {0: ok, 1: bad, 5: ok, 6: RuntimeError("lost")}
    counts = count(elements, done, failed_before=2)
    assert (counts.finished, counts.running, counts.pending, counts.failed) == (2, 1, 2, 4)
    assert counts.line(9, 3) == (
        "SLURM sweep: 2 finished, 1 running, 2 pending, 4 failed (of 9 jobs in 3 SLURM jobs)"
    )


# The whole launcher, on a cluster.


def outcomes(folder: Path) -> dict[tuple[str, int], dict]:
    """Every outcome (fun, x, nfev, ...) per (method.name, maxfun) of the results in `folder`."""
    table = utils.load_results(folder)
    keys = list(zip(table["method.name"], table["maxfun"], strict=True))
    assert len(set(keys)) == len(keys), "two results for one run"
    out = {}
    for key, path in zip(keys, table["path"], strict=True):
        out[key] = utils.read_result(Path(path))["result"]
    return out


def assert_same(ours: dict[tuple[str, int], dict], reference: dict[tuple[str, int], dict]):
    """Bit for bit: every value of every outcome, arrays included."""
    assert ours.keys() == reference.keys()
    for key, outcome in ours.items():
        assert outcome.keys() == reference[key].keys(), key
        for name, value in outcome.items():
            expected = reference[key][name]
            if isinstance(value, np.ndarray):
                assert value.dtype == expected.dtype and np.array_equal(value, expected), key
            else:
                assert type(value) is type(expected) and value == expected, (key, name)


def progress(output: str) -> list[tuple[int, ...]]:
    return [tuple(map(int, m.groups())) for m in PROGRESS.finditer(output)]


@pytest.mark.slow
@needs_slurm
def test_packed_sweep_gives_the_sequential_results(paper_results: Path, tmp_path: Path):
    proc = run(*EXPERIMENT, *into(tmp_path), SLURM)
    assert proc.returncode == 0, proc.stderr
    assert_same(outcomes(tmp_path / "results"), outcomes(paper_results))
    # 45 jobs in packs of at most 10 (the default): 5 SLURM jobs of 9.
    assert "Submitting 45 jobs as 5 SLURM jobs of up to 10 (jobs_per_task) in 1 array" in (
        proc.stdout
    )
    assert len(list((tmp_path / "multirun" / ".submitit").glob("*_*/*_log.err"))) == 5
    lines = progress(proc.stdout)
    # The first line comes right after submission: nothing has finished yet, though up to
    # 5 SLURM jobs (one job each) may already be running, as many as the scheduler started.
    finished, running, pending, failed, total, slurm_jobs = lines[0]
    assert (finished, failed, total, slurm_jobs) == (0, 0, 45, 5)
    assert running <= 5 and running + pending == 45
    assert lines[-1] == (45, 0, 0, 0, 45, 5)
    for finished, running, pending, failed, total, _ in lines:
        assert finished + running + pending + failed == total
        assert running <= 5
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)
    # Run again, every job finds its result, made by the same code, and reuses it.
    again = run(*EXPERIMENT, *into(tmp_path), SLURM)
    assert again.returncode == 0, again.stderr
    assert "reused 45, ran 0, failed 0" in again.stdout


@pytest.mark.slow
@needs_slurm
def test_slurm_launcher_names_a_failed_job(tmp_path: Path):
    proc = run(*EXPERIMENT, *into(tmp_path), SLURM, "settings=tnc", "maxfun=10,abc")
    assert proc.returncode != 0
    assert "1 of 2 jobs failed" in proc.stderr
    failed = f"#1 [output.dir={tmp_path}/results settings=tnc maxfun=abc]: TypeError: "
    assert last_line(proc.stderr).startswith(failed)
    # The job that could run kept its result.
    assert list(outcomes(tmp_path / "results")) == [("TNC", 10)]


def task_command(tmp_path: Path, *overrides: str) -> list[str]:
    return [TEST_TASK, "-m", *overrides, f"out={tmp_path}", f"hydra.sweep.dir={tmp_path}/multirun"]


def ran(out: Path) -> list[str]:
    """The jobs of tests/slurm_task.py that ran to the end, in order."""
    runs = out / "runs.txt"
    return runs.read_text().split() if runs.exists() else []


@pytest.mark.slow
@needs_slurm
def test_a_job_that_raises_or_exits_loses_nothing_else_in_its_pack(tmp_path: Path):
    # Five jobs in one SLURM job: b raises, d ends its process.
    proc = run(
        *task_command(tmp_path, "name=a,b,c,d,e", "raising=[b]", "exiting=[d]"),
        "hydra.launcher.jobs_per_task=5",
    )
    assert proc.returncode == 1
    assert "Submitting 5 jobs as 1 SLURM job of up to 5" in proc.stdout
    overrides = f"raising=[b] exiting=[d] out={tmp_path}"
    assert proc.stderr.strip().splitlines()[-3:] == [
        f"2 of 5 jobs failed (the other 3 kept their results; logs in {tmp_path}/multirun):",
        f"#1 [name=b {overrides}]: ValueError: job b raises",
        f"#3 [name=d {overrides}]: JobDied: the job's process ended without a result: exit code 3",
    ]
    assert ran(tmp_path) == ["a", "c", "e"]
    assert progress(proc.stdout)[-1] == (3, 0, 0, 2, 5, 1)


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.2)
    time.sleep(0.2)  # the line is written right after the file is made
    return path.read_text().split()[0]


def sweep(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
@needs_slurm
def test_cancelled_and_timed_out_jobs_are_named_and_a_rerun_completes_them(tmp_path: Path):
    # Three SLURM jobs of two jobs each, with a 1-minute time limit: b sleeps past it, c sleeps
    # until its SLURM job is cancelled, which also loses d, not started yet.
    command = task_command(
        tmp_path,
        "name=a,b,c,d,e,f",
        "slow=[b,c]",
        "hydra.launcher.jobs_per_task=2",
        "hydra.launcher.timeout_min=1",
    )
    proc = sweep(command)
    cancelled = wait_for_file(tmp_path / "c.started", proc)
    subprocess.run(["scancel", cancelled], check=True)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    timed_out = (tmp_path / "b.started").read_text().split()[0]
    lines = stderr.strip().splitlines()[-4:]
    assert lines[0] == (
        f"3 of 6 jobs failed (the other 3 kept their results; logs in {tmp_path}/multirun):"
    )
    # Why: from sacct, or from the job's stderr when accounting lags behind.
    expected = [
        ("b", timed_out, "timeout", "reached its time limit", r"TIMEOUT|.*DUE TO TIME LIMIT \*+"),
        ("c", cancelled, "cancelled", "was cancelled", r"CANCELLED.*|.*CANCELLED AT \S+ \*+"),
        ("d", cancelled, "cancelled", "was cancelled", r"CANCELLED.*|.*CANCELLED AT \S+ \*+"),
    ]
    for number, (line, (name, slurm_id, kind, phrase, why)) in enumerate(
        zip(lines[1:], expected, strict=True), start=1
    ):
        log = tmp_path / "multirun" / ".submitit" / slurm_id / f"{slurm_id}_0_log.err"
        pattern = (
            rf"#{number} \[name={name} slow=\[b,c\] out={re.escape(str(tmp_path))}\]: "
            rf"SlurmJobLost: {kind}: "
            rf"SLURM job {slurm_id} {phrase} before this job finished "
            rf"\((sacct: (?:{why})|its stderr: (?:{why}))\); log: {re.escape(str(log))}"
        )
        assert re.fullmatch(pattern, line), line
    # The sweep waited for e and f, which ran after the cancel freed a core.
    assert sorted(ran(tmp_path)) == ["a", "e", "f"]
    assert progress(stdout)[-1] == (3, 0, 0, 3, 6, 3)

    # The same command again, now that b and c no longer sleep: only b, c and d run.
    (tmp_path / "release").touch()
    proc = run(*command)
    assert proc.returncode == 0, proc.stderr
    assert sorted(ran(tmp_path)) == ["a", "b", "c", "d", "e", "f"]
    assert sorted(ran(tmp_path)[3:]) == ["b", "c", "d"]


@pytest.fixture(scope="module")
def small_cluster_without_accounting() -> Iterator[None]:
    """The cluster of scripts/slurm-up.sh with MaxArraySize=10 and no accounting, for the
    module's tests; then its default configuration again."""
    up = ["bash", "scripts/slurm-up.sh"]
    subprocess.run([*up, "--no-accounting", "--max-array-size", "10"], cwd=ROOT, check=True)
    try:
        yield
    finally:
        subprocess.run(up, cwd=ROOT, check=True)


@pytest.mark.slow
@needs_slurm
@needs_dev_cluster
def test_a_sweep_larger_than_max_array_size_completes(
    small_cluster_without_accounting: None, paper_results: Path, tmp_path: Path
):
    assert cluster.max_array_size() == 10
    proc = run(
        *EXPERIMENT, *into(tmp_path), SLURM, "settings=lbfgsb", "hydra.launcher.jobs_per_task=1"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Submitting 15 jobs as 15 SLURM jobs of up to 1 (jobs_per_task) in 2 arrays " in (
        proc.stdout
    )
    elements = [p.name for p in (tmp_path / "multirun" / ".submitit").glob("*_*")]
    arrays = {name.split("_")[0] for name in elements if re.fullmatch(r"\d+_\d+", name)}
    assert len(arrays) == 2
    lbfgsb = {k: v for k, v in outcomes(paper_results).items() if k[0] == "L-BFGS-B"}
    assert len(lbfgsb) == 15
    assert_same(outcomes(tmp_path / "results"), lbfgsb)


@pytest.mark.slow
@needs_slurm
@needs_dev_cluster
def test_a_cancelled_job_is_named_without_accounting(
    small_cluster_without_accounting: None, tmp_path: Path
):
    assert subprocess.run(["sacct"], capture_output=True).returncode != 0
    proc = sweep(task_command(tmp_path, "name=a,b,c", "slow=[b]", "hydra.launcher.jobs_per_task=1"))
    cancelled = wait_for_file(tmp_path / "b.started", proc)
    subprocess.run(["scancel", cancelled], check=True)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    found = re.fullmatch(
        rf"#1 \[name=b slow=\[b\] out={tmp_path}\]: SlurmJobLost: cancelled: SLURM job "
        rf"{cancelled} was cancelled before this job finished \(its stderr: slurmstepd\S*: "
        rf"error: \*\*\* JOB \d+ ON \S+ CANCELLED AT \S+ \*\*\*\); log: (\S+)",
        last_line(stderr),
    )
    assert found, last_line(stderr)
    assert Path(found.group(1)).parent.name == cancelled
    assert sorted(ran(tmp_path)) == ["a", "c"]
    assert progress(stdout)[-1] == (2, 0, 0, 1, 3, 3)


# Without a cluster: the sweep stops at once.


def no_slurm(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *EXPERIMENT, *into(tmp_path), SLURM],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    return proc, time.perf_counter() - tic


@pytest.mark.slow
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


@pytest.mark.slow
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
