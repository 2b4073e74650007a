"""Where the time of one profiled sweep goes, for task.py and for the tutorial code."""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

from benchmarks.measure import (
    JOBS,
    SWEEP,
    TUTORIAL,
    run,
    sweep_into,
    tutorial_into,
)


# Where the time of a profiled sweep goes; each entry picks pstats entries by (file, function).
def profile_split(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile))
    entries: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]

    def cumulative(file: str, function: str) -> float:
        return sum(v[3] for (f, _, fn), v in entries.items() if f.endswith(file) and fn == function)

    def task_function() -> float:  # main() of the script that was run, task.py in both trees
        return sum(v[3] for (f, _, fn), v in entries.items() if f == "task.py" and fn == "main")

    def called_by(file: str, function: str, caller_files: tuple[str, ...]) -> float:
        return sum(
            ct
            for (f, _, fn), v in entries.items()
            if f.endswith(file) and fn == function
            for (cf, _, _), (_, _, _, ct) in v[4].items()
            if cf.endswith(caller_files)
        )

    total = stats.total_tt  # type: ignore[attr-defined]
    validate = cumulative("", "validate_batch_is_legal")
    launch = called_by(
        "config_loader_impl.py", "load_sweep_config", ("basic_launcher.py", "_core.py")
    )
    run_job = cumulative("hydra/core/utils.py", "run_job")
    body = task_function()
    optimizer = cumulative("scipy/optimize/_minimize.py", "minimize")
    skip_count = cumulative("checked_experiment_sweeper.py", "_job_result_started")
    return {
        "config composition at validation (validate_batch_is_legal)": validate,
        "config composition at launch (load_sweep_config from the launcher)": launch,
        "Hydra's per-job bookkeeping (run_job minus the task function)": run_job - body,
        "task body outside the optimizer": body - optimizer,
        "optimizer (scipy minimize)": optimizer,
        "sweeper's skip count (reads each job's result file)": skip_count,
        "start-up and the rest (imports, Hydra set-up, logging)": total
        - validate
        - launch
        - run_job
        - skip_count,
    }


def profiles(tmp: Path) -> str:
    """Profile one 45-job sweep of task.py and of the tutorial code; a markdown table."""
    ours, tut = tmp / "ours.prof", tmp / "tutorial.prof"
    # Hydra's in-process launcher, so that the profiler sees the jobs, which the default
    # launcher runs in forked children.
    in_process = ["hydra/launcher=basic"]
    run(["-m", "cProfile", "-o", str(ours), *SWEEP, *sweep_into(tmp / "prof-ours"), *in_process])
    run(
        ["-m", "cProfile", "-o", str(tut), *SWEEP, *tutorial_into(tmp / "prof-tut")],
        cwd=TUTORIAL,
    )
    a, b = profile_split(ours), profile_split(tut)
    lines = [
        "| where the time goes (cProfile) | task.py | tutorial code |",
        "| --- | ---: | ---: |",
    ]
    for key in a:
        lines.append(
            f"| {key} | {a[key] / sum(a.values()):.1%} ({a[key] * 1e3 / JOBS:.0f} ms/job) "
            f"| {b[key] / sum(b.values()):.1%} ({b[key] * 1e3 / JOBS:.0f} ms/job) |"
        )
    lines.append(
        f"| total under the profiler | {sum(a.values()):.1f} s | {sum(b.values()):.1f} s |"
    )
    return "\n".join(lines)
