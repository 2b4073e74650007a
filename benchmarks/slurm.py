"""SLURM sweeps beside the local sequential sweep of the same jobs; prints a Markdown table.

    python -m benchmarks.slurm --big 0 --repeats 3   # the 45-job sweeps only (~9 minutes)
    python -m benchmarks.slurm                       # and the 2,000-job sweeps (~30 minutes)

Needs the one-node cluster of scripts/slurm-up.sh (as root): the benchmark sets it to SLURM's
default scheduler settings (`--default-scheduler`), then to the script's tuned ones, and leaves
it tuned, as `scripts/slurm-up.sh` starts it. Every timing is the wall time of a whole command
in a fresh subprocess (start-up and waiting included), repeated and interleaved (A B C A B C)
so that load on a shared machine hits every variant alike. Each SLURM sweep's results are
compared with the local sweep's: `fun` and `x` must be equal to the last bit.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import utils

ROOT = Path(__file__).resolve().parents[1]
PAPER = ["task.py", "-cp", "experiment", "-m"]  # the paper's 45 jobs


def tiny(count: int) -> list[str]:
    """`count` jobs of a few milliseconds each: L-BFGS-B from `count` random start points."""
    return ["task.py", "-m", "method=lbfgsb", f"seed=range(0,{count})"]


@dataclass
class Variant:
    name: str
    launcher: list[str]
    seconds: list[float] = field(default_factory=list)
    slurm_jobs: int | None = None
    same: bool | None = None


def slurm_up(*options: str) -> None:
    subprocess.run(
        ["bash", "scripts/slurm-up.sh", *options], cwd=ROOT, check=True, capture_output=True
    )


def slurm_jobs(log: str) -> int | None:
    """SLURM jobs a sweep submitted, as its launcher says ("Submitting 45 jobs as 5 SLURM jobs")."""
    found = re.search(r"Submitting \d+ jobs? as (\d+) SLURM jobs?", log)
    return int(found.group(1)) if found else None


def outcomes(folder: Path) -> dict[str, tuple[float, list[float]]]:
    table = utils.load_results(folder)
    return {
        Path(path).name: (fun, np.asarray(x).tolist())
        for path, fun, x in zip(table["path"], table["fun"], table["x"], strict=True)
    }


def timed(command: list[str], out: Path) -> tuple[float, str]:
    args = [
        sys.executable,
        *command,
        f"output.dir={out}/results",
        f"hydra.sweep.dir={out}/multirun",
        f"hydra.run.dir={out}/run",
    ]
    tic = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - tic
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def measure(
    command: list[str], variants: list[Variant], repeats: int, tmp: Path, label: str
) -> None:
    """Run each variant `repeats` times, interleaved; the first variant is the local one whose
    results the others must reproduce."""
    for i in range(repeats):
        for j, v in enumerate(variants):
            out = tmp / f"{label}-{j}-{i}"
            seconds, log = timed([*command, *v.launcher], out)
            v.seconds.append(seconds)
            v.slurm_jobs = slurm_jobs(log)
            reference = tmp / f"{label}-0-0"
            if v is not variants[0] and v.same is not False:
                v.same = outcomes(out / "results") == outcomes(reference / "results")
            print(f"  {label}, {v.name}: {v.seconds[-1]:.1f} s", file=sys.stderr)


def rows(sweep: str, scheduler: str, variants: list[Variant]) -> list[str]:
    local = variants[0].seconds
    out = []
    for v in variants:
        med = statistics.median(v.seconds)
        # Repeat by repeat against the local run just before it, then the median.
        ratio = statistics.median(s / t for s, t in zip(v.seconds, local, strict=True))
        spread = f"{min(v.seconds):.1f} / {med:.1f} / {max(v.seconds):.1f} s"
        same = {None: "", True: "yes", False: "**no**"}[v.same]
        jobs = "" if v.slurm_jobs is None else str(v.slurm_jobs)
        out.append(
            f"| {sweep} | {scheduler} | {v.name} | {jobs} | {spread} | {ratio:.2f}x | {same} |"
        )
    return out


def machine() -> str:
    cores = len(__import__("os").sched_getaffinity(0))
    load = Path("/proc/loadavg").read_text().split()[0]
    return f"{platform.platform()}, Python {platform.python_version()}, {cores} cores, load {load}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each 45-job variant")
    parser.add_argument("--big", type=int, default=2000, help="jobs of the large sweep (0: none)")
    args = parser.parse_args(argv)

    slurm = ["hydra/launcher=slurm"]
    table = [
        "| sweep | scheduler | launcher | SLURM jobs | wall time (min / median / max) "
        "| vs local | same results |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="benchmark-slurm-") as name:
        tmp = Path(name)
        try:
            slurm_up("--default-scheduler")
            variants = [
                Variant("local sequential", ["hydra/launcher=sequential"]),
                Variant("SLURM, jobs_per_task=10 (default)", slurm),
            ]
            if args.big:
                measure(tiny(args.big), variants, 1, tmp, "big")
                table += rows(f"tiny, {args.big} jobs", "SLURM's default", variants)
                print("\n".join(table), file=sys.stderr)
            for scheduler, options in (("SLURM's default", ["--default-scheduler"]), ("tuned", [])):
                slurm_up(*options)
                variants = [
                    Variant("local sequential", ["hydra/launcher=sequential"]),
                    Variant("SLURM, jobs_per_task=10 (default)", slurm),
                    Variant("SLURM, jobs_per_task=1", [*slurm, "hydra.launcher.jobs_per_task=1"]),
                ]
                label = f"paper-{options[0][2:] if options else 'tuned'}"
                measure(PAPER, variants, args.repeats, tmp, label)
                table += rows("paper, 45 jobs", scheduler, variants)
                print("\n".join(table), file=sys.stderr)
        finally:
            slurm_up()
    print(f"Machine: {machine()}\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
