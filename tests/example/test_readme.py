"""README.md is the tutorial: short, its commands in the tutorial's order, its table of results
what the experiment computes. tests/example/test_docs.py runs its commands and checks their
output."""

from __future__ import annotations

from pathlib import Path

import pytest

import utils
from tests.example.test_docs import page_commands
from tests.helpers import ROOT

README = ROOT / "README.md"


def test_readme_is_short() -> None:
    words = len(README.read_text().split())  # as `wc -w` counts, code blocks included
    assert 1000 < words <= 2500, words


def test_readme_tells_the_tutorial_in_order() -> None:
    lines = [command.line for command in page_commands(README)]
    tutorial = [
        "python task.py method=tnc",
        "python task.py hydra/sweeper=nevergrad method=tnc "
        "'method.options.eta=tag(log, interval(0.001, 1))' hydra.sweeper.optim.seed=0 -m",
        "python task.py 'x0=[-0.5,-0.5]' method=lbfgsb,nelder-mead,tnc "
        "'method.options.maxfun=range(10, 151, 10)' -m",
        "python task.py -cn task-experiment -m",
        "python task.py -cp experiment -m",
        "python task.py -cp experiment settings=lbfgsb -m",
        "python task.py -cp experiment settings=tnc method.options.maxCGit=1,5,10"
        " output.dir=results/maxcgit -m",
        "python plot.py",
    ]
    positions = [lines.index(line) for line in tutorial]
    assert positions == sorted(positions)


def test_readme_headings_in_order() -> None:
    text = README.read_text()
    headings = [
        "## Why: three goals",
        "## Setup and test",
        "## The task and its config tree",
        "## One-off runs and a nevergrad search",
        "## A sweep on the command line, and its two problems",
        "## The sweep in a config file",
        "## The experiment tree",
        "## Running the experiment",
        "## The figures",
        "## Going further",
    ]
    positions = [text.index(f"\n{heading}\n") for heading in headings]
    assert positions == sorted(positions)


@pytest.mark.slow
def test_results_table(paper_results: Path) -> None:
    results = utils.load_results(paper_results)
    funs = {(r["method.name"], r["maxfun"]): r["fun"] for _, r in results.iterrows()}
    text = README.read_text()
    table = text.split("| maxfun | L-BFGS-B | Nelder-Mead | TNC |")[1].split("\n\n")[0]
    rows = [line.strip("| ").split(" | ") for line in table.strip().splitlines()[1:]]
    assert len(rows) >= 4
    for maxfun, *values in rows:
        for name, value in zip(("L-BFGS-B", "Nelder-Mead", "TNC"), values, strict=True):
            assert f"{funs[name, int(maxfun)]:.1e}" == value, (name, maxfun)
