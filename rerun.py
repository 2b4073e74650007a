"""Re-run the configuration stored in a result file and check that the outcome is identical.

python rerun.py results/paper/TNC-maxfun30-<hash>.pickle

The run is redone from the resolved config the file holds, by the task function that made it
(`provenance.task`, such as `task.py:run`), with no Hydra composition: the result file is all
it needs, not today's defaults and not the job's output folder. The exit status is 0 when the
whole outcome is identical bit for bit (every value, every array), 1 when not or when the file
cannot be read safely. Either way the report shows what differs between then and now: the
outcome, the config that today's config files compose for the same command, the code, the
package versions and the commit.

Hydra's `python task.py --experimental-rerun JOB_DIR` is no substitute: it needs the job's
output folder (.hydra/), composes today's config files anew rather than the stored config,
and task.py would then skip the run, as its finished result already exists.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

import utils

UNKNOWN = utils.UNKNOWN


DEFAULT_TASK = "task.py:run"  # for records that do not name their task


def load_task(spec: str) -> tuple[Callable[[Any], dict[str, Any]], Path]:
    """The function `file.py:name` names (relative to the project root) and its file."""
    file, _, name = spec.rpartition(":")
    path = utils.REPO_ROOT / file
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"the task {spec} no longer exists")
    sys.path.insert(0, str(path.parent))  # the task's own imports, as when it ran
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name), path


def rerun(config: dict[str, Any], spec: str = DEFAULT_TASK) -> dict[str, Any]:
    """The outcome of the stored config, computed today by the task that made it."""
    run, _ = load_task(spec)
    return run(OmegaConf.create(config))


SHOWN = 3  # differing entries shown per long array


def same(a: Any, b: Any) -> bool:
    """Equal bit for bit: arrays in dtype, shape and bytes, floats in every bit."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype == object or b.dtype == object:
            return a.shape == b.shape and all(map(same, a.ravel(), b.ravel()))
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex() or (a != a and b != b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def plain(value: Any) -> Any:
    """`value` for printing: short arrays as lists of Python numbers, whose repr is exact."""
    return np.asarray(value).tolist() if isinstance(value, np.ndarray) else value


def show(value: Any) -> str:
    """A value in a line of the report; arrays of more than 4 entries by shape and dtype."""
    if isinstance(value, np.ndarray) and value.size > 4:
        return f"array of shape {value.shape} ({value.dtype})"
    return repr(plain(value))


def array_difference(then: np.ndarray, now: np.ndarray) -> str:
    """How two long arrays of one shape differ: how many entries, and the first few."""
    if then.shape != now.shape or then.dtype != now.dtype:
        return f"{show(then)} -> {show(now)}"
    flat_then, flat_now = then.reshape(-1), now.reshape(-1)
    differ = [i for i in range(flat_then.size) if not same(flat_then[i], flat_now[i])]
    first = ", ".join(
        f"{[int(j) for j in np.unravel_index(i, then.shape)]}: "
        f"{flat_then[i].item()!r} -> {flat_now[i].item()!r}"
        for i in differ[:SHOWN]
    )
    more = ", ..." if len(differ) > SHOWN else ""
    return f"{len(differ)} of {then.size} entries differ (shape {then.shape}); {first}{more}"


def outcome_differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line per outcome value that differs, is added or is gone."""
    lines = []
    for key in [*then, *(k for k in now if k not in then)]:
        if key not in then or key not in now:
            old, new = (show(d[key]) if key in d else "(absent)" for d in (then, now))
            lines.append(f"{key}: {old} -> {new}")
        elif not same(then[key], now[key]):
            old, new = then[key], now[key]
            long_arrays = all(isinstance(v, np.ndarray) and v.size > 4 for v in (old, new))
            detail = array_difference(old, new) if long_arrays else f"{show(old)} -> {show(new)}"
            lines.append(f"{key}: {detail}")
    return lines


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as {"dotted.key": leaf}."""
    if isinstance(tree, dict) and tree:
        return {
            key: leaf
            for name, child in tree.items()
            for key, leaf in flatten(child, f"{prefix}{name}.").items()
        }
    return {prefix.rstrip("."): tree}


ABSENT = object()


def differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line `key: then -> now` per leaf that differs, is added or is gone."""
    a, b = flatten(then), flatten(now)
    lines = []
    for key in [*a, *(k for k in b if k not in a)]:
        old, new = a.get(key, ABSENT), b.get(key, ABSENT)
        same = (
            old is not ABSENT
            and new is not ABSENT
            and type(plain(old)) is type(plain(new))
            and repr(plain(old)) == repr(plain(new))
        )
        if not same:
            show = ["(absent)" if v is ABSENT else repr(plain(v)) for v in (old, new)]
            lines.append(f"{key}: {show[0]} -> {show[1]}")
    return lines


@contextlib.contextmanager
def working_dir(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def config_dir_now(stored: str) -> tuple[Path | None, str]:
    """Today's folder for a stored config path, with a note when it is not that path."""
    path = Path(stored)
    if stored != UNKNOWN and path.is_dir():
        return path, ""
    here = utils.REPO_ROOT / path.name
    if stored != UNKNOWN and here.is_dir():
        return here, f"{stored} no longer exists; composed from {here} instead"
    return None, f"config path {stored} no longer exists: nothing to compose"


def compose_now(config_dir: Path, config_name: str, overrides: list[str]) -> dict[str, Any]:
    """What today's config files compose for the stored command. Relative search paths
    (experiment/task.yaml's file://config) are taken from the project root, the config
    folder's parent, where the task is run from."""
    from hydra import compose, initialize_config_dir

    with working_dir(config_dir.parent), initialize_config_dir(config_dir=str(config_dir)):
        return OmegaConf.to_container(compose(config_name, overrides=overrides), resolve=True)


def config_report(stored: dict[str, Any], provenance: dict[str, Any]) -> list[str]:
    name = provenance.get("config_name", UNKNOWN)
    overrides = provenance.get("overrides", [])
    config_dir, note = config_dir_now(str(provenance.get("config_path", UNKNOWN)))
    lines = [f"  {note}"] if note else []
    if config_dir is None or name == UNKNOWN:
        return ["Config: cannot compare", *lines]
    command = f"{name} {' '.join(overrides)}".strip()
    try:
        now = compose_now(config_dir, name, overrides)
    except Exception as error:  # noqa: BLE001 - any failure to compose is part of the report
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [
            f"Config: {config_dir} cannot compose [{command}]: {type(error).__name__}: {first}",
            *lines,
        ]
    changed = differences(stored, now)
    if not changed:
        return [f"Config: {config_dir} composes the same config for [{command}]", *lines]
    return [
        f"Config: {config_dir} composes [{command}] differently (stored -> today):",
        *lines,
        *(f"  {line}" for line in changed),
    ]


def versions_report(provenance: dict[str, Any]) -> list[str]:
    then = provenance.get("versions")
    if not then:
        return ["Versions: not recorded"]
    changed = differences(then, utils.versions())
    if not changed:
        return ["Versions: unchanged"]
    return ["Versions (then -> now):", *(f"  {line}" for line in changed)]


def changed_files(old: str, new: str) -> list[str] | None:
    """Files that differ between two commits of this repository, or None if unknown."""
    try:
        out = subprocess.run(
            ["git", "-C", str(utils.REPO_ROOT), "diff", "--name-only", old, new],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split()


def describe_commit(version: dict[str, Any]) -> str:
    commit, dirty = version.get("commit", UNKNOWN), version.get("dirty", UNKNOWN)
    if commit == UNKNOWN:
        return "unknown commit"
    state = {True: "with uncommitted changes", False: "clean"}.get(dirty, "state unknown")
    modified = version.get("modified")
    files = f": {', '.join(modified)}" if dirty is True and isinstance(modified, list) else ""
    return f"{commit[:12]} ({state}{files})"


def code_report(provenance: dict[str, Any]) -> list[str]:
    """Which of the files that made the result differ today (the code resume compares)."""
    then = dict(provenance.get("code_files", []))
    if not then:
        return ["Code: not recorded"]
    changed = [
        name for name, digest in then.items() if utils.file_digest(utils.REPO_ROOT / name) != digest
    ]
    if not changed:
        return [f"Code: unchanged ({', '.join(then)})"]
    return [f"Code: changed since: {', '.join(changed)}"]


def commit_report(provenance: dict[str, Any]) -> list[str]:
    files = [name for name, _ in provenance.get("code_files", [])]
    now = utils.code_state(tuple(files or utils.code_files()))
    then_text, now_text = describe_commit(provenance), describe_commit(now)
    if then_text == now_text and provenance.get("commit", UNKNOWN) != UNKNOWN:
        return [f"Commit: unchanged, {now_text}"]
    lines = [f"Commit: {then_text} -> {now_text}"]
    old, new = provenance.get("commit", UNKNOWN), now["commit"]
    if UNKNOWN not in (old, new) and old != new:
        files = changed_files(old, new)
        lines.append(
            f"  files changed since: {', '.join(files) or 'none'}"
            if files is not None
            else f"  commit {old[:12]} is not in this repository"
        )
    return lines


def outcome_report(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    changed = outcome_differences(then, now)
    if not changed:
        values = ", ".join(f"{key} = {show(value)}" for key, value in then.items())
        return [f"Outcome: identical, bit for bit: {values}"]
    return ["Outcome: DIFFERENT (stored -> today):", *(f"  {line}" for line in changed)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", type=Path, help="a result file, e.g. results/paper/*.pickle")
    args = parser.parse_args(argv)

    try:
        record = utils.read_result(args.result)
    except utils.UnreadableResult as error:
        print(f"Error: cannot read {error}", file=sys.stderr)
        return 1
    provenance = record.get("provenance", {})
    print(f"Re-ran {args.result}, made {provenance.get('started', 'at an unknown time')}")
    try:
        now = rerun(record["config"], provenance.get("task", DEFAULT_TASK))
    except Exception as error:  # noqa: BLE001 - a run that fails today differs from then
        lines = [f"Outcome: DIFFERENT: the run fails today: {type(error).__name__}: {error}"]
        same = False
    else:
        lines = outcome_report(record["result"], now)
        same = not outcome_differences(record["result"], now)
    lines += config_report(record["config"], provenance)
    lines += code_report(provenance)
    lines += versions_report(provenance)
    lines += commit_report(provenance)
    print("\n".join(lines))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
