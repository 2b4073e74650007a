"""Where a sweep's time goes: measure the project's sweeps side by side and print a table.

python benchmark.py            # the full benchmark, about 15 minutes on 2 cores
python benchmark.py --quick    # fewer repeats, 100 result files, a lighter parallel sweep

Every timing is the wall time of a whole command in a fresh subprocess (start-up included),
repeated and interleaved (A B A B ...) so that load on a shared machine hits all variants alike;
the table gives min, median and max, and ratios of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import task
import utils

ROOT = Path(__file__).resolve().parent
TUTORIAL = ROOT / "benchmarks" / "tutorial"
SWEEP = ["task.py", "-cp", "experiment", "-m"]
JOBS = 45  # the paper experiment: 3 settings x 15 budgets
SETTINGS = ("nelder-mead", "tnc", "lbfgsb")
BUDGETS = range(10, 151, 10)

# The floor: the same minimize calls in one plain process; prints the loop's own time.
FLOOR = """
import json, sys, time
import numpy as np
from scipy.optimize import minimize, rosen
specs = json.load(open(sys.argv[1]))
tic = time.perf_counter()
for s in specs:
    minimize(rosen, np.array(s["x0"]), method=s["method"], jac=s["jac"], options=s["options"])
print(time.perf_counter() - tic)
"""
# Reading result files with nothing but pickle (numpy is imported by the pickles themselves).
UNPICKLE = """
import os, pickle, sys
records = [pickle.load(open(e.path, "rb")) for e in os.scandir(sys.argv[1])]
print(len(records))
"""
# Runs a command as its only child; prints its exit code, wall time and peak memory (KiB).
MAXRSS = """
import resource, subprocess, sys, time
tic = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - tic
print(code, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


LAST_CPU = [0.0]


@dataclass
class Row:
    """One line of the table: a list of seconds (or another unit) and how to read it."""

    name: str
    values: list[float] = field(default_factory=list)
    unit: str = "s"
    ratio: str = ""
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cells(self) -> list[str]:
        if not self.values:
            return [self.name, "", "", "", self.ratio, self.target]
        low, mid, high = min(self.values), self.median, max(self.values)
        stats = [fmt(low, self.unit), fmt(mid, self.unit), fmt(high, self.unit)]
        if len(self.values) == 1:
            stats = ["", stats[1], ""]
        return [self.name, *stats, self.ratio, self.target]


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value * 1e3:.2f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3g}{unit}"


def times(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def check(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'MISSED'}"


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: Sequence[str], cwd: Path = ROOT, expect: str | None = None) -> tuple[float, str]:
    """Run `python *args` in `cwd`; return its wall time and its output (stdout + stderr).
    Its CPU time (user + system, its own children included) goes to LAST_CPU[0]."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "1"}
    cpu = cpu_of_children()
    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - tic
    LAST_CPU[0] = cpu_of_children() - cpu
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or (expect is not None and expect not in output):
        raise RuntimeError(f"{' '.join(args)} failed (exit {proc.returncode}):\n{output[-3000:]}")
    return wall, output


def sweep_into(out: Path) -> list[str]:
    return [f"output.dir={out}/results", f"hydra.sweep.dir={out}/multirun"]


def tutorial_into(out: Path) -> list[str]:
    return [f"output_path={out}/results/${{method.name}}-${{maxfun}}.pickle", *sweep_into(out)[1:]]


def bare_sweep(out: Path) -> list[str]:
    return ["benchmarks/bare_task.py", "-cp", str(ROOT / "experiment"), "-m", *sweep_into(out)]


def floor_specs(results: Path) -> list[dict[str, Any]]:
    """The 45 minimize calls of a finished sweep, as plain JSON."""
    specs = []
    for path in sorted(results.glob("*.pickle")):
        config = utils.read_result(path)["config"]
        method = config["method"]
        specs.append(
            {
                "x0": config["x0"],
                "method": method["name"],
                "jac": config["jac"],
                "options": method["options"],
            }  # fmt: skip
        )
    return specs


def same_outcomes(ours: Path, tutorial: Path) -> int:
    """How many of our results have the same f(x) as the tutorial's file for that job."""
    same = 0
    for path in ours.glob("*.pickle"):
        record = utils.read_result(path)
        name = f"{record['config']['method']['name']}-{record['config']['maxfun']}.pickle"
        with open(tutorial / name, "rb") as f:
            same += float(pickle.load(f)["result"].fun) == record["result"]["fun"]
    return same


def sweeps(tmp: Path, repeats: int) -> tuple[list[Row], dict[str, Row]]:
    """Sections 1, 2 and 4: the 45-job sweep five ways, interleaved."""
    rows = {
        "floor": Row("floor: 45 minimize calls, whole process"),
        "loop": Row("floor: 45 minimize calls, in-process loop"),
        "tutorial": Row("tutorial code: 45-job sweep"),
        "ours": Row("task.py: 45-job sweep"),
        "bare": Row("bare task body: 45-job sweep, same sweeper"),
        "resume": Row("task.py: re-run of the finished sweep (resume)"),
        "ours_cpu": Row("task.py: 45-job sweep, CPU time"),
        "bare_cpu": Row("bare task body: 45-job sweep, CPU time"),
    }
    specs_file = tmp / "specs.json"
    agree = []
    for i in range(repeats):
        out = tmp / f"sweep{i}"
        rows["ours"].values.append(
            run([*SWEEP, *sweep_into(out / "ours")], expect="skipped 0 finished, ran 45")[0]
        )
        rows["ours_cpu"].values.append(LAST_CPU[0])
        rows["resume"].values.append(
            run([*SWEEP, *sweep_into(out / "ours")], expect="skipped 45 finished, ran 0")[0]
        )
        rows["bare"].values.append(run(bare_sweep(out / "bare"), expect="failed 0")[0])
        rows["bare_cpu"].values.append(LAST_CPU[0])
        rows["tutorial"].values.append(
            run([*SWEEP, *tutorial_into(out / "tutorial")], cwd=TUTORIAL)[0]
        )
        agree.append(same_outcomes(out / "ours/results", out / "tutorial/results"))
        if not specs_file.exists():
            specs_file.write_text(json.dumps(floor_specs(out / "ours/results")))
        wall, output = run(["-c", FLOOR, str(specs_file)])
        rows["floor"].values.append(wall)
        rows["loop"].values.append(float(output.split()[-1]))

    floor, ours, tut = rows["floor"].median, rows["ours"].median, rows["tutorial"].median
    rows["loop"].ratio = f"{rows['loop'].median / ours:.1%} of task.py's sweep"
    rows["tutorial"].ratio = f"{times(tut, floor)} floor"
    rows["tutorial"].target = f"same f(x) as task.py: {min(agree)}/{JOBS}"
    rows["ours"].ratio = f"{times(ours, floor)} floor, {times(ours, tut)} tutorial"
    overhead = ours / rows["bare"].median
    rows["bare"].ratio = f"task.py / bare = {overhead:.3f}"
    rows["bare"].target = check(overhead <= 1.10, "features add <= 10%")
    rows["resume"].ratio = f"{rows['resume'].median / ours:.2f} of the first run"
    cpu_overhead = rows["ours_cpu"].median / rows["bare_cpu"].median
    rows["bare_cpu"].ratio = f"task.py / bare = {cpu_overhead:.3f}"
    rows["bare_cpu"].target = "CPU time is less sensitive to other load"
    keys = ("floor", "loop", "tutorial", "ours", "bare", "ours_cpu", "bare_cpu")
    return [rows[k] for k in keys], rows


def experiment_config(overrides: Sequence[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "experiment")):
        return compose("task", overrides=list(overrides))


def per_call(fn: Callable[[], object], number: int) -> list[float]:
    """Seconds per call of `fn`, for 5 batches of `number` calls."""
    samples = []
    for _ in range(5):
        tic = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - tic) / number)
    return samples


def features(tmp: Path, job_wall: float, number: int) -> list[Row]:
    """Section 2, in process: each feature function against the mean wall time of a job."""
    config = experiment_config(["settings=tnc", "maxfun=100", f"output.dir={tmp}/features"])
    outcome = task.optimize(config)
    provenance = {"config_name": "task", "overrides": ["settings=tnc", "maxfun=100"]}
    resolved = OmegaConf.to_container(config, resolve=True)
    assert isinstance(resolved, dict)
    path = utils.result_path(resolved)
    tic = time.perf_counter()
    utils.environment.cache_clear()
    utils.code_version.cache_clear()
    utils.environment()
    environment = time.perf_counter() - tic
    record = utils.make_record(resolved, outcome, provenance)
    calls = {  # the steps of task.main around the optimizer, in order
        "check_config": lambda: task.check_config(config),
        "resolve the config": lambda: OmegaConf.to_container(config, resolve=True),
        "result_path": lambda: utils.result_path(resolved),
        "finished_result, no file yet": lambda: utils.finished_result(tmp / "none", resolved),
        "make_record": lambda: utils.make_record(resolved, outcome, provenance),
        "save_result (atomic, fsync)": lambda: utils.save_result(path, record),
        "finished_result, file found": lambda: utils.finished_result(path, resolved),
    }
    rows = []
    for name, fn in calls.items():
        row = Row(f"per job: {name}", per_call(fn, number), unit="ms")
        row.ratio = f"{row.median / job_wall:.2%} of a job"
        rows.append(row)
    first_run = sum(r.median for r in rows[:-1])  # a job that runs: all but the last
    rows.append(
        Row(
            "per job: all of the above for a job that runs",
            [first_run],
            "ms",
            f"{first_run / job_wall:.2%} of a job ({job_wall * 1e3:.0f} ms)",
        )  # fmt: skip
    )
    rows.append(
        Row(
            "per process: environment() (git, versions)",
            [environment],
            "ms",
            f"{environment / job_wall:.2%} of a job, once per process",
        )  # fmt: skip
    )
    return rows


def parallel(tmp: Path, repeats: int, quick: bool) -> list[Row]:
    """Section 3: heavy jobs on the default launcher and on the parallel one."""
    # 64 jobs of about 1.5 s: a sweep's fixed cost (start-up, composing every job's config in
    # the parent, starting the workers) is a few seconds that do not parallelize.
    dim, maxfev, jobs = (20, 4000, 4) if quick else (100, 30000, 64)
    repeats = min(repeats, 2)  # about 2.5 minutes a repeat
    args = [
        *SWEEP, "settings=nelder-mead", "x0=null", f"dim={dim}", f"maxfun={maxfev}",
        f"seed=range(0,{jobs})",
    ]  # fmt: skip
    if (ROOT / "config/hydra/launcher/parallel.yaml").exists():
        launcher = ["hydra/launcher=parallel"]
    else:
        launcher = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    label = f"{jobs} Nelder-Mead jobs, dim {dim}, maxfev {maxfev}"
    serial = Row(f"default launcher: {label}")
    para = Row(f"parallel launcher ({' '.join(launcher)}): same jobs")
    loads = []
    for i in range(repeats):
        for row, extra in ((serial, []), (para, launcher)):
            out = tmp / f"launcher{i}-{len(extra)}"
            loads.append(os.getloadavg()[0])
            row.values.append(run([*args, *sweep_into(out), *extra], expect="failed 0")[0])
    reference = results_by_name(tmp / "launcher0-0/results")
    identical = all(
        same_results(reference, results_by_name(tmp / f"launcher{i}-{n}/results"))
        for i in range(repeats)
        for n in (0, len(launcher))
    )
    durations = [r["provenance"]["duration_s"] for r in reference.values()]
    job = Row("heavy job: optimizer time (provenance duration_s)", durations)
    job.target = check(statistics.mean(durations) >= 0.5, "mean >= 0.5 s")
    speedup = serial.median / para.median
    para.ratio = f"{speedup:.2f}x faster"
    para.target = f"{check(speedup >= 1.8, '>= 1.8x')}; identical results: {identical}"
    serial.target = f"load average before runs: {min(loads):.1f} to {max(loads):.1f}"
    return [job, serial, para]


def results_by_name(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: utils.read_result(p) for p in folder.glob("*.pickle")}


def same_results(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> bool:
    return a.keys() == b.keys() and all(
        a[k]["result"]["fun"] == b[k]["result"]["fun"]
        and np.array_equal(a[k]["result"]["x"], b[k]["result"]["x"])
        for k in a
    )


def write_results(folder: Path, count: int) -> None:
    """`count` result files through the project's own writer, each as task.py would write it:
    the paper's 45 jobs (x0 = [-0.5, -0.5]), each with seeds 0, 1, ... Seeds make the configs
    distinct but do not change the outcome when x0 is given, so each job is optimized once.
    Only os.fsync is skipped while writing, which changes no byte of the files."""
    jobs = []
    for settings in SETTINGS:
        config = experiment_config([f"settings={settings}", f"output.dir={folder}"])
        for maxfun in BUDGETS:
            config.maxfun = maxfun
            started = datetime.now(timezone.utc).isoformat()
            tic = time.perf_counter()
            outcome = task.optimize(config)
            provenance = {
                "config_name": "task",
                "config_path": str(ROOT / "experiment"),
                "overrides": [f"settings={settings}", f"maxfun={maxfun}"],
                "sweeper": "hydra_plugins.checked_experiment_sweeper.checked_experiment_sweeper."
                "CheckedExperimentSweeper",
                "launcher": "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
                "job_dir": f"multirun/{len(jobs)}",
                "started": started,
                "duration_s": time.perf_counter() - tic,
            }
            jobs.append((OmegaConf.to_container(config, resolve=True), outcome, provenance))
    with mock.patch("os.fsync"):
        for i in range(count):
            resolved, outcome, provenance = jobs[i % len(jobs)]
            assert isinstance(resolved, dict)
            resolved = {**resolved, "seed": i // len(jobs)}
            record = utils.make_record(resolved, outcome, provenance)
            utils.save_result(utils.result_path(resolved), record)


def max_rss(args: Sequence[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of `python *args` run in the repository root."""
    _, output = run(["-c", MAXRSS, sys.executable, *args])
    code, wall, kib = output.split()[-3:]
    if code != "0":
        raise RuntimeError(f"{' '.join(args)} exited with {code}")
    return float(wall), int(kib) / 1024


def plotting(tmp: Path, count: int, repeats: int) -> list[Row]:
    """Section 5: plot.py over `count` result files, against only unpickling them."""
    folder = tmp / "many"
    tic = time.perf_counter()
    write_results(folder, count)
    made = time.perf_counter() - tic
    plot, plot_mb = (
        Row(f"plot.py over {count} result files"),
        Row("plot.py: peak memory", unit="MB"),
    )
    load, load_mb = (
        Row(f"only unpickling the {count} files"),
        Row("unpickling: peak memory", unit="MB"),
    )
    for _ in range(repeats):
        for wall_row, mb_row, args in (
            (plot, plot_mb, ["plot.py", str(folder), "-o", str(tmp / "many.png")]),
            (load, load_mb, ["-c", UNPICKLE, str(folder)]),
        ):
            wall, mb = max_rss(args)
            wall_row.values.append(wall)
            mb_row.values.append(mb)
    plot.ratio = f"{times(plot.median, load.median)} unpickling"
    plot.target = check(plot.median <= 3, "<= 3 s")
    plot_mb.target = check(max(plot_mb.values) <= 400, "<= 400 MB")
    load.target = f"files written in {made:.0f} s"
    return [plot, plot_mb, load, load_mb]


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
    run(["-m", "cProfile", "-o", str(ours), *SWEEP, *sweep_into(tmp / "prof-ours")])
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


def table(rows: list[Row]) -> str:
    header = ["measurement", "min", "median", "max", "ratio", "target / check"]
    lines = ["| " + " | ".join(header) + " |", "| --- | ---: | ---: | ---: | --- | --- |"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run, for the tests")
    parser.add_argument("--repeats", type=int, help="default: 5 (2 at most for the launchers)")
    parser.add_argument("--files", type=int, help="default: 10000, or 100 with --quick")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile split")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    files = args.files or (100 if args.quick else 10_000)
    os.chdir(ROOT)  # experiment/task.yaml's search path is relative to the working directory

    print(f"Benchmark on {machine()}; {repeats} repeat(s), interleaved", flush=True)
    with tempfile.TemporaryDirectory(prefix="benchmark-") as name:
        tmp = Path(name)
        rows, by_key = sweeps(tmp, repeats)
        job_wall = by_key["ours"].median / JOBS
        rows += features(tmp, job_wall, number=20 if args.quick else 200)
        rows += parallel(tmp, repeats, args.quick)
        rows.append(by_key["resume"])
        rows += plotting(tmp, files, repeats)
        print(table(rows), flush=True)
        if not args.no_profile:
            print()
            print(profiles(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
