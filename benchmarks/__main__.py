"""Where a sweep's time goes: measure the project's sweeps side by side and print a table.

python -m benchmarks            # the full benchmark, about 25 minutes on 2 cores
python -m benchmarks --quick    # fewer repeats, 100 result files, a lighter parallel sweep (~4 min)

Every timing is the wall time of a whole command in a fresh subprocess (start-up included),
repeated and interleaved (A B A B ...) so that load on a shared machine hits all variants alike;
the table gives min, median and max, and each ratio A/B as the median of its repeats' A/B.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.features import features
from benchmarks.measure import (
    JOBS,
    ROOT,
    machine,
    table,
)
from benchmarks.plotting import plotting
from benchmarks.profiling import profiles
from benchmarks.sweeps import parallel, sweeps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run, for the tests")
    parser.add_argument("--repeats", type=int, help="default: 9 (2 at most for the launchers)")
    parser.add_argument("--files", type=int, help="default: 10000, or 100 with --quick")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile split")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 9)
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
