"""Every `python ...` command of README.md's shell blocks, run in order in a fresh copy of the
repository as a reader would, and the numbers the README quotes checked against their output."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import utils
from conftest import NO_SLURM, ROOT, run
from project_copy import copy_project

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text()
# Commands with a test of their own, left out here because they take minutes.
OWN_TEST = {"benchmark.py": "tests/test_benchmark.py"}


def readme_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("python "):
                words = shlex.split(line, comments=True)
                if not any(word in OWN_TEST for word in words):
                    commands.append(words[1:])
    return commands


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each command's output, from a copy of the repository's files (results excluded)."""
    copy = copy_project(tmp_path_factory.mktemp("clone"))
    seen = {}
    for args in readme_commands():
        if "hydra/launcher=slurm" in args and NO_SLURM is not None:
            continue
        proc = run(*args, cwd=copy)
        assert proc.returncode == 0, f"python {shlex.join(args)}\n{proc.stderr}"
        seen[shlex.join(args)] = proc.stdout + proc.stderr
    return seen


def test_readme_has_the_tutorial_commands() -> None:
    commands = [shlex.join(args) for args in readme_commands()]
    for expected in [
        "task.py method=tnc",
        "task.py method=tnc method.options.eta=0.1",
        "task.py hydra/sweeper=nevergrad method=tnc "
        "'method.options.eta=tag(log, interval(0.001, 1))' -m",
        "task.py -cp experiment -m",
        "task.py -cp experiment settings=lbfgsb -m",
        "task.py -cp experiment settings=tnc method.options.maxCGit=1,5,10 -m",
        "plot.py",
        "plot.py --rosenbrock",
    ]:
        assert expected in commands


def test_every_command_runs(outputs: dict[str, str]) -> None:
    assert len(outputs) > 8


def test_quoted_output_is_what_the_commands_print(outputs: dict[str, str]) -> None:
    printed = "\n".join(outputs.values())
    quoted = re.findall(r"`((?:f\(x\) = |Best parameters: |Sweep done |Wrote )[^`]*)`", README)
    assert len(quoted) >= 4
    for snippet in quoted:
        if "such as" in README.split(snippet)[0][-40:]:
            continue  # an example of a line that differs between runs
        pattern = re.escape(snippet).replace(r"<date>", ".*").replace("5\\.2s", r"[\d.]+s")
        assert re.search(pattern, printed), snippet


def test_results_table(paper_results: Path) -> None:
    results = utils.load_results(paper_results)
    funs = {(r["method.name"], r["maxfun"]): r["fun"] for _, r in results.iterrows()}
    table = README.split("| maxfun | L-BFGS-B | Nelder-Mead | TNC |")[1].split("\n\n")[0]
    rows = [line.strip("| ").split(" | ") for line in table.strip().splitlines()[1:]]
    assert len(rows) >= 4
    for maxfun, *values in rows:
        for name, value in zip(("L-BFGS-B", "Nelder-Mead", "TNC"), values, strict=True):
            assert f"{funs[name, int(maxfun)]:.1e}" == value, (name, maxfun)
