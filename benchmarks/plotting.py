"""plot.py over many result files, against only unpickling them."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

from omegaconf import OmegaConf

import task
import utils
from benchmarks.measure import (
    BUDGETS,
    ROOT,
    SETTINGS,
    Row,
    check,
    experiment_config,
    max_rss,
    paired,
    times,
)

# Reading result files with nothing but pickle (numpy is imported by the pickles themselves).
UNPICKLE = """
import os, pickle, sys
records = [pickle.load(open(e.path, "rb")) for e in os.scandir(sys.argv[1])]
print(len(records))
"""


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
            outcome = task.run(config)
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
    plot.ratio = f"{times(paired(plot, load))} unpickling"
    plot.target = check(plot.median <= 3, "<= 3 s")
    plot_mb.target = check(max(plot_mb.values) <= 400, "<= 400 MB")
    load.target = f"files written in {made:.0f} s"
    return [plot, plot_mb, load, load_mb]
