"""The 45-job sweep five ways (floor, tutorial code, task.py, bare task body, resume), and the
same heavy sweep on the default and the parallel launcher."""

from __future__ import annotations

import json
import os
import pickle
import statistics
from pathlib import Path
from typing import Any

import numpy as np

import utils
from benchmarks.measure import (
    JOBS,
    LAST_CPU,
    ROOT,
    SWEEP,
    TUTORIAL,
    Row,
    check,
    paired,
    run,
    sweep_into,
    times,
    tutorial_into,
)

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
        # task.py and the bare body back to back (their ratio is the features' cost), then
        # the re-run, the tutorial's code and the floor.
        rows["ours"].values.append(
            run([*SWEEP, *sweep_into(out / "ours")], expect="reused 0, ran 45")[0]
        )
        rows["ours_cpu"].values.append(LAST_CPU[0])
        rows["bare"].values.append(run(bare_sweep(out / "bare"), expect="failed 0")[0])
        rows["bare_cpu"].values.append(LAST_CPU[0])
        rows["resume"].values.append(
            run([*SWEEP, *sweep_into(out / "ours")], expect="reused 45, ran 0")[0]
        )
        rows["tutorial"].values.append(
            run([*SWEEP, *tutorial_into(out / "tutorial")], cwd=TUTORIAL)[0]
        )
        agree.append(same_outcomes(out / "ours/results", out / "tutorial/results"))
        if not specs_file.exists():
            specs_file.write_text(json.dumps(floor_specs(out / "ours/results")))
        wall, output = run(["-c", FLOOR, str(specs_file)])
        rows["floor"].values.append(wall)
        rows["loop"].values.append(float(output.split()[-1]))

    floor, ours, tut = rows["floor"], rows["ours"], rows["tutorial"]
    rows["loop"].ratio = f"{paired(rows['loop'], ours):.1%} of task.py's sweep"
    rows["tutorial"].ratio = f"{times(paired(tut, floor))} floor"
    rows["tutorial"].target = f"same f(x) as task.py: {min(agree)}/{JOBS}"
    rows["ours"].ratio = f"{times(paired(ours, floor))} floor, {times(paired(ours, tut))} tutorial"
    overhead = paired(ours, rows["bare"])
    rows["bare"].ratio = f"task.py / bare = {overhead:.3f}"
    rows["bare"].target = check(overhead <= 1.10, "features add <= 10%")
    rows["resume"].ratio = f"{paired(rows['resume'], ours):.2f} of the first run"
    cpu_overhead = paired(rows["ours_cpu"], rows["bare_cpu"])
    rows["bare_cpu"].ratio = f"task.py / bare = {cpu_overhead:.3f}"
    rows["bare_cpu"].target = "CPU time is less sensitive to other load"
    keys = ("floor", "loop", "tutorial", "ours", "bare", "ours_cpu", "bare_cpu")
    return [rows[k] for k in keys], rows


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
    launcher = ["hydra/launcher=parallel"]
    label = f"{jobs} Nelder-Mead jobs, dim {dim}, maxfev {maxfev}"
    serial = Row(f"default launcher (sequential): {label}")
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
    speedup = paired(serial, para)
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
