"""rerun.py on the tiny task: a match exits 0, a code change exits 1 and says what differs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import utils
from tests.helpers import into
from tests.machinery.tiny_task import TINY, expected_draws, rerun_tiny, tiny
from tests.project_copy import commit_all, copy_project, edit


def one_result(folder: Path) -> Path:
    (path,) = folder.glob("*.pickle")
    return path


def test_rerun_of_a_fresh_result_is_identical(tmp_path: Path) -> None:
    proc = tiny("seed=4", "n=3", *into(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = one_result(tmp_path / "results")
    stored = utils.read_result(result)
    np.testing.assert_array_equal(stored["result"]["draws"], expected_draws(4, n=3))

    proc = rerun_tiny(result)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Re-ran {result}, made {stored['provenance']['started']}"
    assert lines[1] == (
        f"Outcome: identical, bit for bit: value = {stored['result']['value']!r}, "
        f"draws = {stored['result']['draws'].tolist()!r}"
    )
    assert "Versions: unchanged" in lines


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "broken.pickle").write_bytes(b"\x80\x05")
    proc = rerun_tiny(tmp_path / "broken.pickle")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: cannot read {tmp_path}/broken.pickle: ")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_code_change_is_found_and_summarized(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    commit_all(project, "the project")
    proc = tiny("n=400", "output.dir=results", project=project)
    assert proc.returncode == 0, proc.stderr
    result = one_result(project / "results")
    assert rerun_tiny(result, project).returncode == 0

    # Draws from index 397 on change: 3 of 400 entries.
    edit(
        project / TINY / "tiny.py",
        "normal(size=config.n) * config.scale",
        "normal(size=config.n) * config.scale + (np.arange(config.n) >= 397)",
    )
    proc = rerun_tiny(result, project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    draws = utils.read_result(result)["result"]["draws"]
    lines = proc.stdout.splitlines()
    assert "Outcome: DIFFERENT (stored -> today):" in lines
    [summary] = [line for line in lines if line.startswith("  draws: ")]
    assert summary.startswith("  draws: 3 of 400 entries differ (shape (400,)); ")
    # The first entries that differ, as index: then -> now, in Python's exact float repr.
    first = [f"[{i}]: {float(draws[i])!r} -> {float(draws[i] + 1)!r}" for i in (397, 398, 399)]
    assert summary.endswith("; " + ", ".join(first))
    assert len(summary) < 300  # a summary, not 400 numbers
    assert f"Code: changed since: {TINY / 'tiny.py'}" in lines
