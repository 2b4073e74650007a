"""What the features of task.py cost per job, timed in process."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import OmegaConf

import methods
import task
import utils
from benchmarks.measure import (
    ROOT,
    Row,
    experiment_config,
    per_call,
)


def features(tmp: Path, job_wall: float, number: int) -> list[Row]:
    """Section 2, in process: each feature function against the mean wall time of a job."""
    config = experiment_config(["settings=tnc", "maxfun=100", f"output.dir={tmp}/features"])
    outcome = task.run(config)
    provenance = {"config_name": "task", "overrides": ["settings=tnc", "maxfun=100"]}
    resolved = OmegaConf.to_container(config, resolve=True)
    assert isinstance(resolved, dict)
    path = utils.result_path(resolved)
    tic = time.perf_counter()
    caches = (utils.file_digest, utils.code_state, utils.declared_distributions, utils.versions)
    for cached in caches:
        cached.cache_clear()
    utils.environment()
    environment = time.perf_counter() - tic
    record = utils.make_record(resolved, outcome, provenance)
    calls = {  # the steps of task.main around the optimizer, in order
        "check_config": lambda: methods.check_config(config),
        "resolve the config": lambda: OmegaConf.to_container(config, resolve=True),
        "result_path": lambda: utils.result_path(resolved),
        "look for a stored result, no file yet": lambda: (tmp / "none").exists(),
        "make_record": lambda: utils.make_record(resolved, outcome, provenance),
        "save_result (atomic, fsync)": lambda: utils.save_result(path, record),
        "read and check a stored result, file found": lambda: utils.why_not_reusable(
            utils.read_result(path), resolved, str(ROOT / "task.py")
        ),
    }
    calls["code_files (loaded modules; digests read once per sweep)"] = lambda: utils.code_files(
        ROOT / "task.py"
    )
    rows = []
    for name, fn in calls.items():
        row = Row(f"per job: {name}", per_call(fn, number), unit="ms")
        row.ratio = f"{row.median / job_wall:.2%} of a job"
        rows.append(row)
    rows.insert(-1, rows.pop())  # code_files belongs to a job that runs
    first_run = sum(r.median for r in rows if "file found" not in r.name)  # a job that runs
    rows.append(
        Row(
            "per job: all of the above for a job that runs",
            [first_run],
            "ms",
            f"{first_run / job_wall:.2%} of a job ({job_wall * 1e3:.0f} ms)",
        )  # fmt: skip
    )
    # The sweep's process reads the code, git's state and the versions once (cli.run_cli);
    # the local launchers fork every job from it, so no job pays for them again.
    env_row = Row(
        "per sweep: environment() (git status, versions, code hashes)", [environment], "ms"
    )
    env_row.ratio = "once, before the first job"
    rows.append(env_row)
    return rows
