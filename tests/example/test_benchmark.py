"""`python -m benchmarks --quick` runs and prints a table with every row and sensible values.
Timings are not asserted: the machine is shared and noisy."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run

pytestmark = pytest.mark.slow

ROWS = (
    "floor: 45 minimize calls, whole process",
    "floor: 45 minimize calls, in-process loop",
    "tutorial code: 45-job sweep",
    "task.py: 45-job sweep",
    "bare task body: 45-job sweep, same sweeper",
    "task.py: 45-job sweep, CPU time",
    "bare task body: 45-job sweep, CPU time",
    "per job: save_result (atomic, fsync)",
    "per job: all of the above for a job that runs",
    "default launcher (sequential):",
    "parallel launcher",
    "task.py: re-run of the finished sweep (resume)",
    "plot.py over 100 result files",
    "plot.py: peak memory",
    "only unpickling the 100 files",
)
SPLIT = (
    "config composition at validation",
    "config composition at launch",
    "Hydra's per-job bookkeeping",
    "task body outside the optimizer",
    "optimizer (scipy minimize)",
)


def cells(output: str, name: str) -> list[str]:
    """The cells of the table row named `name`, or else of the one whose name starts so."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("| ")
    ]
    (row,) = [r for r in rows if r[0] == name] or [r for r in rows if r[0].startswith(name)]
    return row


def seconds(cell: str) -> float:
    value, unit = cell.split()
    return float(value) * {"s": 1, "ms": 1e-3, "MB": 1}[unit]


def percent(cell: str) -> float:
    return float(re.match(r"([\d.]+)%", cell).group(1))


def test_quick_benchmark() -> None:
    proc = run("-m", "benchmarks", "--quick", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ROWS:
        name_, low, median, high, *_ = cells(out, name)
        assert 0 < seconds(median), name
        if low:  # several repeats
            assert seconds(low) <= seconds(median) <= seconds(high), name

    floor = seconds(cells(out, ROWS[0])[2])
    loop = seconds(cells(out, ROWS[1])[2])
    assert loop < floor  # the process includes the loop
    for sweep in ("tutorial code: 45-job sweep", "task.py: 45-job sweep"):
        assert seconds(cells(out, sweep)[2]) > floor
    assert "same f(x) as task.py: 45/45" in cells(out, "tutorial code: 45-job sweep")[5]
    assert re.search(r"task.py / bare = [\d.]+", cells(out, ROWS[4])[4])
    assert re.search(r"task.py / bare = [\d.]+", cells(out, ROWS[6])[4])
    assert "identical results: True" in cells(out, "parallel launcher")[5]
    assert re.search(r"[\d.]+ of the first run", cells(out, ROWS[11])[4])
    assert 10 < seconds(cells(out, "plot.py: peak memory")[2]) < 4000

    for name in SPLIT:
        ours, tutorial = (percent(c) for c in cells(out, name)[1:3])
        assert 0 <= ours <= 100 and 0 <= tutorial <= 100, name
    # The optimizer is a small part of a 2-d job either way; composition a large one.
    assert percent(cells(out, "optimizer (scipy minimize)")[1]) < 50
    assert percent(cells(out, "config composition at launch")[2]) > 10
