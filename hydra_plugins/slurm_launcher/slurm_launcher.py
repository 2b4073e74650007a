"""A Hydra launcher that runs a sweep on SLURM, several jobs per SLURM job.

config/hydra/launcher/slurm.yaml selects it (hydra/launcher=slurm). It

- checks first that a SLURM controller answers, and stops at once with one line if not;
- packs `jobs_per_task` Hydra jobs into each SLURM job (one element of a job array), where
  they run one after another, each in a forked child process (`run_isolated`): a job that
  raises or kills its own process is one failed job, and the rest of its pack still runs;
- splits the sweep into as many arrays as the cluster's MaxArraySize requires;
- waits by itself, without accounting: squeue says which SLURM jobs are still queued or
  running, and each Hydra job leaves a file with its JobReturn as soon as it ends. It logs the
  counts of finished, running, pending and failed jobs as they change;
- when a SLURM job ends before all of its Hydra jobs did (cancelled, timeout, out of memory,
  exit code), waits for the others, then returns a failed JobReturn for each lost Hydra job,
  whose error (`SlurmJobLost`) says why.

Submission (the sbatch script, the pickled pack, its logs) is submitit's.
"""

from __future__ import annotations

import getpass
import logging
import os
import pickle
import runpy
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, setup_globals
from hydra.errors import CompactHydraException
from omegaconf import OmegaConf, open_dict

from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from hydra_plugins.isolated_launcher.isolated import run_isolated
from hydra_plugins.isolated_launcher.isolated_launcher import failed_return, sweep_job
from hydra_plugins.slurm_launcher import cluster

log = logging.getLogger(__name__)

ADVICE = (
    "start one (scripts/slurm-up.sh) or choose another launcher "
    "(hydra/launcher=parallel or hydra/launcher=basic)"
)
FILES_EVERY_S = 0.2  # how often the sweep looks for finished jobs' files
SQUEUE_EVERY_S = 2.0  # how often it asks squeue which SLURM jobs are still queued or running
PROGRESS_EVERY_S = 2.0  # at most one progress line this often, while counts change
QUIET_PROGRESS_S = 15.0  # and at least one this often while nothing changes
SETTLE_S = 60.0  # how long a SLURM job that ended normally gets for its files to show up
# (on a shared file system, another machine's new files can take that long to appear here)


@dataclass
class PackedSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.slurm_launcher.slurm_launcher.PackedSlurmLauncher"
    # Hydra jobs per SLURM job (array element). 1: one SLURM job per Hydra job.
    jobs_per_task: int = 10


ConfigStore.instance().store(
    group="hydra/launcher", name="packed_slurm", node=PackedSlurmConf, provider="slurm_launcher"
)


class SlurmUnavailable(CompactHydraException):
    """hydra/launcher=slurm was chosen where no SLURM cluster answers."""


class SlurmJobLost(RuntimeError):
    """The SLURM job that was to run a Hydra job ended before that job finished."""


def packs(jobs: list[Any], per_pack: int) -> list[list[Any]]:
    """`jobs` in order, cut into as few packs of at most `per_pack` as possible, whose sizes
    differ by at most one."""
    if per_pack < 1:
        raise ValueError(f"hydra.launcher.jobs_per_task={per_pack}: choose a positive number")
    count = -(-len(jobs) // per_pack)
    size, extra = divmod(len(jobs), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        out.append(jobs[start:end])
        start = end
    return out


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def return_file(folder: Path, idx: int) -> Path:
    return folder / f"job-{idx}.pickle"


def _save(path: Path, value: Any) -> None:
    """Pickle `value` to `path` atomically: the sweep sees no file or the whole file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


@dataclass
class Pack:
    """The Hydra jobs of one SLURM job, and what they need to run there."""

    launcher: PackedSlurmLauncher
    jobs: list[tuple[int, list[str]]]  # (job index, overrides)
    returns: str  # folder for each job's JobReturn
    singleton_state: dict[Any, Any] = field(repr=False)


def run_pack(pack: Pack) -> int:
    """In the SLURM job: run each Hydra job of the pack in a child process, one after another,
    and save its JobReturn as soon as it ends. Returns the number of jobs run."""
    # submitit's handlers would ignore SIGTERM, and on its warning signal (USR2, sent before
    # the time limit) stop the pack halfway; here SLURM's SIGTERM stops the job at once, and
    # the warning is ignored: the jobs not done by then are reported as lost.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    launcher = pack.launcher
    assert launcher.hydra_context is not None and launcher.config is not None
    Singleton.set_state(pack.singleton_state)
    setup_globals()
    slurm_id = os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", "?"))
    if "SLURM_ARRAY_TASK_ID" in os.environ:
        slurm_id += f"_{os.environ['SLURM_ARRAY_TASK_ID']}"
    for idx, overrides in pack.jobs:
        try:
            config = launcher.hydra_context.config_loader.load_sweep_config(
                launcher.config, list(overrides)
            )
        except Exception as error:  # noqa: BLE001 - this job's failure, not the pack's
            ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
            ret.return_value = error
        else:
            with open_dict(config):
                config.hydra.job.id = slurm_id
                config.hydra.job.num = idx
            try:
                ret = run_isolated(
                    sweep_job(launcher.hydra_context, launcher.task_function, config)
                )
            except Exception as error:  # noqa: BLE001 - the job's death is its failure
                ret = failed_return(config, list(overrides), error)
        _save(return_file(Path(pack.returns), idx), ret)
    return len(pack.jobs)


@dataclass
class Element:
    """One submitted SLURM job (array element) and the Hydra jobs it runs."""

    slurm_id: str
    jobs: list[tuple[int, list[str]]]
    stderr: Path
    state: str = "PENDING"
    gone_at: float | None = None  # when squeue stopped listing it


@dataclass
class Counts:
    finished: int = 0
    running: int = 0
    pending: int = 0
    failed: int = 0

    def line(self, total: int, elements: int) -> str:
        return (
            f"SLURM sweep: {self.finished} finished, {self.running} running, "
            f"{self.pending} pending, {self.failed} failed (of {plural(total, 'job')} in "
            f"{plural(elements, 'SLURM job')})"
        )


def script_task(fn: Any) -> tuple[str, str] | None:
    """(script, name) when `fn` is a top-level function of the script that was run
    (`python task.py`), else None."""
    module = sys.modules.get(getattr(fn, "__module__", ""))
    path = getattr(module, "__file__", None)
    found = getattr(module, getattr(fn, "__name__", ""), None)
    if fn.__module__ != "__main__" or path is None or found is None:
        return None
    return (path, fn.__name__) if getattr(found, "__wrapped__", found) is fn else None


def load_script_task(path: str, name: str) -> Any:
    """The function `name` of the script at `path`, run as a module (not as __main__); the
    function itself where @hydra.main wrapped it."""
    found = runpy.run_path(path, run_name="__slurm_task__")[name]
    return getattr(found, "__wrapped__", found)


class PackedSlurmLauncher(SlurmLauncher):
    def __init__(self, jobs_per_task: int = 10, **params: Any) -> None:
        super().__init__(**params)
        self.jobs_per_task = jobs_per_task

    # A task function of the script that was run would travel by value (cloudpickle), and
    # its code would no longer know its file; it travels as (script, name) instead and is
    # loaded from that file in the SLURM job, where the task can then name its own code.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        reference = script_task(self.task_function) if self.task_function else None
        if reference is not None:
            state["task_function"], state["_script_task"] = None, reference
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        reference = state.pop("_script_task", None)
        self.__dict__.update(state)
        if reference is not None:
            self.task_function = load_script_task(*reference)

    def _executor(self) -> Any:
        """submitit's SLURM executor with the sbatch parameters of the launcher's config."""
        import submitit  # here: plugin discovery imports this module and should stay fast

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        for key in ("max_num_timeout", "python"):
            if key in params:
                init[f"slurm_{key}"] = params.pop(key)
        executor = submitit.AutoExecutor(cluster="slurm", **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{(k if k in base else f"slurm_{k}"): v for k, v in params.items()}
        )
        return executor

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        problem = cluster.slurm_problem()
        if problem is not None:
            raise SlurmUnavailable(
                f"hydra/launcher=slurm needs a SLURM cluster: {problem}; {ADVICE}"
            )
        assert self.config is not None
        jobs = [
            (idx, list(overrides))
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx)
        ]
        for idx, overrides in jobs:
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        grouped = packs(jobs, self.jobs_per_task)
        max_array = cluster.max_array_size()
        arrays = [grouped[i : i + max_array] for i in range(0, len(grouped), max_array)]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        (sweep_dir / ".slurm").mkdir(parents=True, exist_ok=True)
        # Each launch its own folder: a sweep run again into the same dir starts afresh.
        stamp = time.strftime("%Y%m%d-%H%M%S-")
        returns = Path(tempfile.mkdtemp(prefix=stamp, dir=sweep_dir / ".slurm"))
        log.info(
            f"Submitting {plural(len(jobs), 'job')} as {plural(len(grouped), 'SLURM job')} of "
            f"up to {self.jobs_per_task} (jobs_per_task) in {plural(len(arrays), 'array')} "
            f"(MaxArraySize={max_array})"
        )
        executor = self._executor()
        state = Singleton.get_state()
        elements: list[Element] = []
        unsubmitted: dict[int, str] = {}
        for array in arrays:
            try:
                submitted = executor.map_array(
                    run_pack, [Pack(self, pack, str(returns), state) for pack in array]
                )
            except Exception as error:  # noqa: BLE001 - reported per job, after the others
                reason = f"not submitted: {str(error).strip().splitlines()[-1]}"
                log.error(f"SLURM refused {sum(map(len, array))} jobs: {reason}")
                unsubmitted.update({idx: reason for pack in array for idx, _ in pack})
                continue
            for slurm_job, pack in zip(submitted, array, strict=True):
                elements.append(Element(slurm_job.job_id, pack, Path(slurm_job.paths.stderr)))
        if elements:
            ids = f"job {elements[0].slurm_id}"
            if len(elements) > 1:
                ids = f"jobs {elements[0].slurm_id} .. {elements[-1].slurm_id}"
            logs = str(executor.folder).replace("%j", "<SLURM job id>")
            log.info(f"Submitted SLURM {ids}; logs in {logs}")
        try:
            done = wait_for(elements, returns, len(jobs), len(unsubmitted))
        except KeyboardInterrupt:
            arrays_ids = sorted({element.slurm_id.split("_")[0] for element in elements})
            log.error(
                "Interrupted: the SLURM jobs keep running; to stop them: "
                f"scancel {' '.join(arrays_ids)}"
            )
            raise
        results = []
        for idx, overrides in jobs:
            if idx in unsubmitted:
                results.append(self._lost(overrides, SlurmJobLost(unsubmitted[idx])))
            else:
                ret = done[idx]
                results.append(ret if isinstance(ret, JobReturn) else self._lost(overrides, ret))
        for path in returns.glob("job-*.pickle"):
            path.unlink()
        returns.rmdir()
        return results

    def _lost(self, overrides: list[str], error: BaseException) -> JobReturn:
        assert self.hydra_context is not None and self.config is not None
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        return failed_return(config, overrides, error)


def _load(path: Path) -> JobReturn | BaseException:
    try:
        with open(path, "rb") as f:
            ret = pickle.load(f)
    except Exception as error:  # noqa: BLE001 - an unreadable file is that job's failure
        return SlurmJobLost(f"its JobReturn {path} is unreadable: {error!r}")
    return ret


def lost(element: Element, ending: cluster.Ending | None) -> tuple[str, SlurmJobLost]:
    """A log line naming the jobs of `element` that it did not finish, and the error each of
    them fails with."""
    if ending is None:
        kind, phrase = "lost", "left the queue (neither sacct, its stderr nor scontrol say why)"
        evidence = ""
    else:
        kind, phrase, evidence = ending.kind, ending.phrase, f" ({ending.evidence})"
    if ending is not None and ending.completed:
        kind = "no result"
    where = f"log: {element.stderr}"
    error = SlurmJobLost(
        f"{kind}: SLURM job {element.slurm_id} {phrase} before this job finished{evidence}; {where}"
    )
    return f"SLURM job {element.slurm_id} {phrase}{evidence}; {where}", error


def wait_for(
    elements: list[Element], returns: Path, total: int, failed_before: int
) -> dict[int, JobReturn | BaseException]:
    """Wait until every Hydra job of `elements` has left its JobReturn in `returns` or is
    known lost; log progress meanwhile. Returns each job's JobReturn or, if lost, its error."""
    done: dict[int, JobReturn | BaseException] = {}
    expected = {idx for element in elements for idx, _ in element.jobs}
    active = list(elements)
    last_squeue = -SQUEUE_EVERY_S
    squeue_failing = False
    last_line, last_counts, shown = 0.0, None, None
    user = getpass.getuser()
    while True:
        now = time.monotonic()
        states = None
        if now - last_squeue >= SQUEUE_EVERY_S and active:
            last_squeue = now
            states = cluster.queued()
            if states is None and not squeue_failing:
                log.warning(f"squeue (for the jobs of {user}) failed; trying again")
            squeue_failing = states is None
        # Files after squeue: a SLURM job squeue no longer lists has written all of its files.
        for entry in os.scandir(returns):
            if entry.name.startswith("job-") and entry.name.endswith(".pickle"):
                idx = int(entry.name[4:-7])
                if idx in expected and idx not in done:
                    done[idx] = _load(Path(entry.path))
        still = []
        for element in active:
            missing = [idx for idx, _ in element.jobs if idx not in done]
            if not missing:
                continue
            if states is not None:
                if element.slurm_id in states:
                    element.state = states[element.slurm_id]
                elif element.gone_at is None:
                    element.gone_at = now
            settled = now - (element.gone_at or now) > SETTLE_S
            if element.gone_at is not None and (states is not None or settled):
                patient = now - element.gone_at < cluster.ACCOUNTING_LAG_S
                ending = cluster.ending(element.slurm_id, element.stderr, patient)
                if ending is cluster.BEHIND or (ending and ending.completed and not settled):
                    still.append(element)  # accounting, or the files, not caught up yet
                    continue
                line, error = lost(element, ending)
                numbers = ", ".join(f"#{idx}" for idx in missing)
                log.error(f"{line}: lost {plural(len(missing), 'job')} ({numbers})")
                for idx in missing:
                    done[idx] = error
                continue
            still.append(element)
        active = still
        counts = count(elements, done, failed_before)
        if counts != last_counts and (now - last_line >= PROGRESS_EVERY_S or not active):
            shown = counts
        elif now - last_line >= QUIET_PROGRESS_S:
            shown = counts
        if shown is not None:
            log.info(shown.line(total, len(elements)))
            last_line, last_counts, shown = now, counts, None
        if not active:
            return done
        time.sleep(FILES_EVERY_S)


def count(elements: list[Element], done: dict[int, Any], failed_before: int) -> Counts:
    """Hydra jobs by state. A running SLURM job runs one of its jobs at a time: that one is
    running, the others in its pack are pending."""
    counts = Counts(failed=failed_before)
    for element in elements:
        missing = 0
        for idx, _ in element.jobs:
            ret = done.get(idx)
            if ret is None:
                missing += 1
            elif isinstance(ret, JobReturn) and ret.status is JobStatus.COMPLETED:
                counts.finished += 1
            else:
                counts.failed += 1
        running = int(missing > 0 and element.state in ("RUNNING", "COMPLETING"))
        counts.running += running
        counts.pending += missing - running
    return counts
