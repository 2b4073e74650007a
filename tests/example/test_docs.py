"""The README and the pages in docs/ are true: every `python ...` command they show runs, in order,
in a fresh copy of the project as a reader would run it, and prints what they quote; every local
link and anchor resolves.

- A ```sh block lists commands; each must exit with 0.
- A ```console block shows `$ python ...` commands, each followed by its output. Each output
  line must appear in what the command prints, in that order; `...` stands for any lines. Time
  stamps, sweep folders and durations may differ. A command whose output shows an `Error:` line
  must exit with 1, any other with 0.
- A quote in the text such as `Sweep done in 5.2s: ...` or `Wrote ...` must be printed by one
  of the commands.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import NO_SLURM, ROOT, run
from tests.project_copy import copy_project

# The README first: the pages build on the results its commands make.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Commands with a test of their own, left out here because they take minutes.
OWN_TEST = {("-m", "benchmarks"): "tests/example/test_benchmark.py"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# What may differ between runs: log time stamps, sweep folders and durations.
VARIABLE = [
    (re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]"), "[time]"),
    (re.compile(r"multirun/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d"), "multirun/<date>/<time>"),
    (re.compile(r" in \d+(\.\d+)?s\b"), " in <n>s"),
]
QUOTED = re.compile(r"`((?:f\(x\) = |Best parameters: |Sweep done |Wrote )[^`]*)`")


@dataclass
class Command:
    page: str  # e.g. "docs/reproducibility.md"
    line: str  # as shown, without "$ "
    expected: list[str] | None  # the output shown (console blocks); None for sh blocks

    @property
    def args(self) -> list[str]:
        return shlex.split(self.line, comments=True)[1:]  # without "python"

    @property
    def skip_reason(self) -> str | None:
        for prefix, test in OWN_TEST.items():
            if tuple(self.args[: len(prefix)]) == prefix:
                return f"has its own test, {test}"
        if self.args[:1] == ["-m"] and self.args[1].startswith("benchmarks."):
            return "a benchmark run by hand: it takes tens of minutes and reconfigures the cluster"
        if "hydra/launcher=slurm" in self.args and NO_SLURM is not None:
            return NO_SLURM
        return None


def normalized(line: str) -> str:
    for pattern, placeholder in VARIABLE:
        line = pattern.sub(placeholder, line)
    return line.strip()


def page_commands(page: Path) -> list[Command]:
    name = str(page.relative_to(ROOT))
    commands = []
    for language, body in FENCE.findall(page.read_text()):
        if language == "sh":
            for line in body.replace("\\\n", " ").splitlines():
                if line.startswith("python "):
                    commands.append(Command(name, line, None))
        elif language == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    commands.append(Command(name, line[2:], []))
                elif commands and commands[-1].expected is not None:
                    commands[-1].expected.append(line)
    return commands


def missing_lines(expected: list[str], printed: str) -> list[str]:
    """The lines of `expected` (other than `...`) not found in `printed`, in order."""
    lines = [normalized(line) for line in printed.splitlines()]
    missing, at = [], 0
    for line in expected:
        if line.strip() == "...":
            continue
        want = normalized(line)
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            missing.append(line)
    return missing


Ran = list[tuple[Command, subprocess.CompletedProcess]]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """Every command of every page, in order, in one copy of the project (results excluded)."""
    copy = copy_project(tmp_path_factory.mktemp("clone"))
    done = []
    for page in PAGES:
        for command in page_commands(page):
            if command.skip_reason is None:
                done.append((command, run(*command.args, cwd=copy)))
    return done


def test_pages_show_commands() -> None:
    counts = {str(p.relative_to(ROOT)): len(page_commands(p)) for p in PAGES}
    assert counts["README.md"] >= 10
    for page in ("docs/reproducibility.md", "docs/scaling-out.md", "docs/checked-sweeper.md"):
        assert counts[page] >= 2, page


@pytest.mark.slow
@pytest.mark.parametrize("page", [str(p.relative_to(ROOT)) for p in PAGES])
def test_commands_print_what_the_page_shows(page: str, ran: Ran) -> None:
    for command, proc in ran:
        if command.page != page:
            continue
        printed = proc.stdout + proc.stderr
        fails = command.expected is not None and any(
            line.startswith("Error:") for line in command.expected
        )
        assert proc.returncode == (1 if fails else 0), f"{command.line}\n{printed[-3000:]}"
        if command.expected:
            missing = missing_lines(command.expected, printed)
            assert not missing, f"{command.line} did not print:\n" + "\n".join(missing)


@pytest.mark.slow
def test_quoted_output_is_printed(ran: Ran) -> None:
    printed = "\n".join(normalized(p.stdout + p.stderr) for _, p in ran)
    quotes = [q for page in PAGES for q in QUOTED.findall(page.read_text())]
    assert len(quotes) >= 2
    for quote in quotes:
        assert normalized(quote) in printed, quote


# Links -----------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading.strip().lower())  # markup is not in the slug
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base, n = slug(heading), 0
        while (candidate := base if n == 0 else f"{base}-{n}") in found:
            n += 1
        found.add(candidate)
    return found


def local_links(page: Path) -> list[str]:
    text = re.sub(r"<!--.*?-->", "", FENCE.sub("", page.read_text()), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_slug_is_githubs() -> None:
    assert slug("Checking a sweep before it runs") == "checking-a-sweep-before-it-runs"
    assert slug("Why: three goals") == "why-three-goals"
    assert slug("The `@package _global_` settings") == "the-package-_global_-settings"
    assert slug("Re-running one result") == "re-running-one-result"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_local_links_resolve(page: Path) -> None:
    links = local_links(page)
    for link in links:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link}: no {target}"
        if anchor:
            assert target.suffix == ".md", f"{page.name}: {link}: an anchor into a non-page"
            assert anchor in anchors(target), f"{page.name}: {link}: no such heading"


def test_readme_links_every_page() -> None:
    linked = {Path(link.partition("#")[0]).name for link in local_links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert page.name in linked, page.name


def test_every_page_says_what_it_is_for() -> None:
    for page in PAGES[1:]:
        paragraphs = page.read_text().split("\n\n")
        assert paragraphs[0].startswith("# "), page.name
        assert paragraphs[1].startswith("This page is for "), page.name
