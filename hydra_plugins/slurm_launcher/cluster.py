"""What the SLURM launcher asks the cluster: is it there, how large may an array be, which
jobs are still queued or running, and why did a job end.

Every question goes through SLURM's own commands (scontrol, squeue, sacct), so nothing here
needs accounting: `sacct` is asked only for why a job ended, and when it does not answer the
job's stderr and `scontrol show job` are read instead.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PING_TIMEOUT_S = 5
ACCOUNTING_LAG_S = 10  # how long sacct may lag behind squeue before it is not waited for
COMMAND_TIMEOUT_S = 30
DEFAULT_MAX_ARRAY_SIZE = 1001  # SLURM's default, used when the config does not say


def slurm_problem() -> str | None:
    """Why jobs cannot be submitted to SLURM from here, or None if a controller answers."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH (no SLURM client on this machine)"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=PING_TIMEOUT_S
        )
    except FileNotFoundError:
        return "no scontrol on PATH (incomplete SLURM client)"
    except subprocess.TimeoutExpired:
        return f"no SLURM controller answered `scontrol ping` within {PING_TIMEOUT_S} s"
    answer = (ping.stdout.strip() or ping.stderr.strip()).splitlines()
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        return f"no SLURM controller answers (`scontrol ping`: {answer[0] if answer else ''})"
    return None


def _run(args: list[str]) -> subprocess.CompletedProcess[str] | None:
    """`args` run with a timeout; None if the command is missing or hangs."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None


def max_array_size() -> int:
    """The cluster's MaxArraySize: an array's indices run from 0 to MaxArraySize - 1."""
    shown = _run(["scontrol", "show", "config"])
    if shown is not None and shown.returncode == 0:
        found = re.search(r"^MaxArraySize\s*=\s*(\d+)", shown.stdout, re.MULTILINE)
        if found:
            return max(1, int(found.group(1)))
    return DEFAULT_MAX_ARRAY_SIZE


def queued() -> dict[str, str] | None:
    """State (PENDING, RUNNING, COMPLETING, ...) of each of this user's jobs that SLURM still
    queues or runs, by job id (`123` or, for an array element, `123_4`); None if squeue fails.
    A job that has ended is not listed."""
    shown = _run(["squeue", "--noheader", "--array", "--user", getpass.getuser(), "-o", "%i %T"])
    if shown is None or shown.returncode != 0:
        return None
    states = {}
    for line in shown.stdout.splitlines():
        job_id, _, state = line.strip().partition(" ")
        if job_id:
            states[job_id] = state
    return states


@dataclass(frozen=True)
class Ending:
    """How a SLURM job ended, as far as the cluster can tell."""

    kind: str  # "cancelled", "timeout", "out of memory", "exit code N", "completed", ...
    evidence: str  # where that comes from, e.g. "sacct: CANCELLED by 0"

    @property
    def completed(self) -> bool:
        return self.kind == "completed"

    @property
    def phrase(self) -> str:
        """What happened to the job, as in "SLURM job 12_3 <phrase>"."""
        if self.kind in PHRASES:
            return PHRASES[self.kind]
        return f"ended with {self.kind}" if self.kind.startswith("exit") else f"was {self.kind}"


BEHIND = Ending("behind", "sacct still lists the job as queued or running")

# sacct's and scontrol's job states, in the words a failure report uses.
STATE_KINDS = {
    "CANCELLED": "cancelled",
    "TIMEOUT": "timeout",
    "OUT_OF_MEMORY": "out of memory",
    "NODE_FAIL": "node failure",
    "PREEMPTED": "preempted",
    "BOOT_FAIL": "node boot failure",
    "DEADLINE": "deadline reached",
}
PHRASES = {
    "cancelled": "was cancelled",
    "timeout": "reached its time limit",
    "out of memory": "ran out of memory",
    "node failure": "was lost with its node",
    "preempted": "was preempted",
    "node boot failure": "did not start: its node failed to boot",
    "deadline reached": "reached its deadline",
    "completed": "ended normally but left no result",
}
# What slurmstepd writes into a job's stderr when it stops the job.
STDERR_KINDS = [
    (re.compile(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+ DUE TO TIME LIMIT"), "timeout"),
    (re.compile(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+ DUE TO PREEMPTION"), "preempted"),
    (re.compile(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+ DUE TO NODE FAIL"), "node failure"),
    (re.compile(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT"), "cancelled"),
    (re.compile(r"oom[-_ ]kill", re.IGNORECASE), "out of memory"),
]
STILL_ACTIVE = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "RESIZING"}


def _kind(state: str, exit_code: str) -> str:
    """`cancelled`, `timeout`, ..., `exit code N` or `completed`, from a state such as
    `CANCELLED by 0` and an exit code such as `1:0` (code:signal)."""
    word = state.split()[0] if state.split() else ""
    if word in STATE_KINDS:
        return STATE_KINDS[word]
    code, _, sig = exit_code.partition(":")
    if sig not in ("", "0"):
        return f"killed by signal {sig}"
    if word == "COMPLETED" and code in ("", "0"):
        return "completed"
    return f"exit code {code or '?'}"


def _state(state: str, exit_code: str) -> str:
    """`TIMEOUT`, or `FAILED, exit code 1:0` when the exit code says more."""
    return state if exit_code in ("", "0:0") else f"{state}, exit code {exit_code}"


def _from_sacct(job_id: str) -> Ending | None:
    shown = _run(["sacct", "--noheader", "--parsable2", "-X", "-j", job_id, "-o", "State,ExitCode"])
    if shown is None or shown.returncode != 0 or not shown.stdout.strip():
        return None
    state, _, exit_code = shown.stdout.strip().splitlines()[0].partition("|")
    if state.split()[0] in STILL_ACTIVE:  # accounting has not caught up yet
        return BEHIND
    return Ending(_kind(state, exit_code), f"sacct: {_state(state, exit_code)}")


def _from_stderr(stderr: Path) -> Ending | None:
    try:
        text = stderr.read_text(errors="replace")
    except OSError:
        return None
    for pattern, kind in STDERR_KINDS:
        for line in text.splitlines():
            if pattern.search(line):
                return Ending(kind, f"its stderr: {line.strip()}")
    return None


def _from_scontrol(job_id: str) -> Ending | None:
    shown = _run(["scontrol", "show", "job", job_id])
    if shown is None or shown.returncode != 0:
        return None
    state = re.search(r"\bJobState=(\S+)", shown.stdout)
    code = re.search(r"\bExitCode=(\S+)", shown.stdout)
    if state is None or state.group(1) in STILL_ACTIVE:
        return None
    job_state, exit_code = state.group(1), code.group(1) if code else ""
    return Ending(_kind(job_state, exit_code), f"scontrol: {_state(job_state, exit_code)}")


def ending(job_id: str, stderr: Path, patient: bool) -> Ending | None:
    """Why the SLURM job `job_id` (no longer queued) ended: from accounting (sacct) if the
    cluster keeps it, else from what slurmstepd wrote into the job's stderr, else from the
    controller's memory of recent jobs (scontrol). A job that never started and left no record
    was cancelled while pending. None if nothing tells. If accounting has
    not recorded the job's end yet, and `patient`, returns BEHIND: ask again later."""
    accounted = _from_sacct(job_id)
    if accounted is BEHIND and patient:
        return BEHIND
    if accounted is not None and accounted is not BEHIND:
        return accounted
    found = _from_stderr(stderr) or _from_scontrol(job_id)
    if found is None and not stderr.exists():
        # An array element cancelled while pending leaves no trace in sacct or scontrol.
        return Ending("cancelled", "it never started, and SLURM keeps no record of it")
    return found
