"""What every section of the benchmark shares: the sweep it times, running a command and
timing it, and the table rows."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]  # the repository root
TUTORIAL = ROOT / "benchmarks" / "tutorial"
SWEEP = ["task.py", "-cp", "experiment", "-m"]
JOBS = 45  # the paper experiment: 3 settings x 15 budgets
SETTINGS = ("nelder-mead", "tnc", "lbfgsb")
BUDGETS = range(10, 151, 10)

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


def paired(a: Row, b: Row) -> float:
    """The median of a / b repeat by repeat: the two ran back to back in each repeat, so a
    drift in the machine's speed between repeats cancels out."""
    return statistics.median(x / y for x, y in zip(a.values, b.values, strict=True))


def times(ratio: float) -> str:
    return f"{ratio:.2f}x"


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


def max_rss(args: Sequence[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of `python *args` run in the repository root."""
    _, output = run(["-c", MAXRSS, sys.executable, *args])
    code, wall, kib = output.split()[-3:]
    if code != "0":
        raise RuntimeError(f"{' '.join(args)} exited with {code}")
    return float(wall), int(kib) / 1024


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
