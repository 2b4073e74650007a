"""Result records a reviewer can trust: reused only when the same config, code and packages
made them, equal configs in one file, and read without running any code a file names."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import utils

ROOT = Path(__file__).resolve().parents[2]
TINY = "tests/machinery/tiny/tiny.py"
SWEEP = [TINY, "-cp", "experiment", "-cn", "sweep", "-m"]


def tiny(*args: str, cwd: Path = ROOT, out: Path) -> subprocess.CompletedProcess:
    """The tiny task, as typed in a shell in `cwd`, results in `out`/results."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    command = [sys.executable, *args, f"output.dir={out}/results"]
    command += [f"hydra.run.dir={out}/outputs", f"hydra.sweep.dir={out}/multirun"]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    proc.output = proc.stdout + proc.stderr  # Hydra logs to stdout, errors go to stderr
    return proc


def git(cwd: Path, *args: str) -> str:
    config = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    return subprocess.run(
        ["git", *config, *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A committed copy of the project's files, to change its code freely."""
    copy = tmp_path / "project"
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "commit", "-qm", "copy")
    return copy


def statuses(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("multirun/*/job.json"))]


def record(config: dict, value: float = 1.0) -> dict:
    return {"config": config, "result": {"value": value, "draws": np.arange(3.0)}}


# --- Equal values, one file ------------------------------------------------------------------


def test_equal_numbers_are_one_config() -> None:
    config = {"scale": 5.0, "n": 5, "x0": [-0.5, -0.5], "output": {"dir": "r", "name": "t"}}
    same = {**config, "scale": 5, "x0": [-0.5, -0.5]}
    assert utils.result_path(config) == utils.result_path(same)
    assert utils.run_identity(config) == utils.run_identity(same)
    assert utils.result_path(config) != utils.result_path({**config, "scale": 5.5})
    assert utils.result_path(config) != utils.result_path({**config, "scale": "5"})
    assert utils.result_path({**config, "flag": True}) != utils.result_path({**config, "flag": 1})


def test_int_spelling_of_a_float_default_finds_its_result(tmp_path: Path) -> None:
    first = tiny(TINY, "scale=2.0", out=tmp_path)
    assert first.returncode == 0, first.stderr
    again = tiny(TINY, "scale=2", out=tmp_path)
    assert again.returncode == 0, again.output
    files = list((tmp_path / "results").glob("*.pickle"))
    assert len(files) == 1
    assert f"Skipped: {files[0]} already holds this run" in again.output


# --- Reading only what the project writes ----------------------------------------------------


class Exploit:
    """Unpickling this runs `touch <path>`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_crafted_result_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    crafted = tmp_path / "results" / "crafted.pickle"
    crafted.parent.mkdir()
    crafted.write_bytes(pickle.dumps({"config": {}, "result": {"fun": Exploit(marker)}}))
    utils.save_result(tmp_path / "results" / "good.pickle", record({"scale": 1.0}))

    with pytest.raises(utils.UnreadableResult) as refused:
        utils.read_result(crafted)
    assert str(refused.value) == f"{crafted}: UnpicklingError: refused to load posix.system"
    with pytest.warns(UserWarning, match=f"skipped {crafted}: UnpicklingError"):
        table = utils.load_results(tmp_path / "results")
    assert list(table["path"]) == [str(tmp_path / "results" / "good.pickle")]

    proc = subprocess.run(
        [sys.executable, "rerun.py", str(crafted)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"Error: cannot read {crafted}: UnpicklingError: refused to load posix.system"
    )
    assert not marker.exists()


def test_what_a_record_holds_reads_back_exactly(tmp_path: Path) -> None:
    written = {
        "config": {"a": [1, 2.5, None, "s", True], "b": {"c": 1e-300}},
        "result": {
            "f64": np.float64(0.1),
            "i64": np.int64(3),
            "flag": np.bool_(True),
            "arr": np.arange(6.0).reshape(2, 3),
            "f32": np.ones(2, dtype=np.float32),
            "ints": np.arange(3),
            "set": {1, 2},
            "pair": (1, 2),
            "bytes": b"\x00\x01",
        },
    }
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"p{protocol}.pickle"
        path.write_bytes(pickle.dumps(written, protocol=protocol))
        read = utils.read_result(path)
        assert read["config"] == written["config"]
        for key, value in written["result"].items():
            assert type(read["result"][key]) is type(value)
            np.testing.assert_array_equal(read["result"][key], value)


# --- Reuse: same config, same code, same packages --------------------------------------------


@pytest.mark.slow
def test_a_code_change_reruns_and_says_why(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = tiny(*SWEEP, cwd=project, out=out)
    assert first.returncode == 0, first.stderr
    before = git(project, "rev-parse", "HEAD").strip()[:7]
    assert [s["status"] for s in statuses(out)] == ["ran"] * 6

    shutil.rmtree(out / "multirun")
    again = tiny(*SWEEP, cwd=project, out=out)
    assert [(s["status"], s["redone"]) for s in statuses(out)] == [("reused", None)] * 6
    assert again.output.count("already holds this run (same config, code and packages)") == 6

    tiny_py = project / TINY
    tiny_py.write_text(
        tiny_py.read_text() + "# a comment counts: nothing can know it is harmless\n"
    )
    git(project, "commit", "-qam", "comment")
    after = git(project, "rev-parse", "HEAD").strip()[:7]
    shutil.rmtree(out / "multirun")
    changed = tiny(*SWEEP, cwd=project, out=out)
    assert changed.returncode == 0, changed.stderr
    why = f"made by other code: commit {before} -> commit {after}"
    assert [(s["status"], s["redone"]) for s in statuses(out)] == [("ran", why)] * 6
    assert changed.output.count(f"was {why}") == 6


@pytest.mark.slow
def test_two_uncommitted_states_are_not_confused(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    tiny_py = project / TINY
    source = tiny_py.read_text()
    head = git(project, "rev-parse", "HEAD").strip()[:7]
    reasons = []
    for edit in ["# first edit\n", "# second edit\n", "# second edit\n"]:
        tiny_py.write_text(source + edit)
        shutil.rmtree(out / "outputs", ignore_errors=True)
        proc = tiny(TINY, cwd=project, out=out)
        assert proc.returncode == 0, proc.stderr
        (status,) = [json.loads(p.read_text()) for p in out.glob("outputs/job.json")]
        reasons.append((status["status"], status["redone"]))
    dirty = f"commit {head} + uncommitted changes"
    assert reasons == [
        ("ran", None),
        ("ran", f"made by other code: {dirty} -> {dirty}"),
        ("reused", None),
    ]
    (path,) = (out / "results").glob("*.pickle")
    provenance = utils.read_result(path)["provenance"]
    assert provenance["dirty"] is True and provenance["modified"] == [TINY]
    assert dict(provenance["code_files"])[TINY] == utils.file_digest(tiny_py)


def test_other_package_versions_rerun(tmp_path: Path) -> None:
    first = tiny(TINY, out=tmp_path)
    assert first.returncode == 0, first.stderr
    (path,) = (tmp_path / "results").glob("*.pickle")
    stored = utils.read_result(path)
    stored["provenance"]["versions"]["scipy"] = "1.15.3"
    utils.save_result(path, stored)
    again = tiny(TINY, out=tmp_path)
    now = utils.versions()["scipy"]
    assert f"was made with other packages: scipy 1.15.3 -> {now}" in again.output
    assert utils.read_result(path)["provenance"]["versions"]["scipy"] == now


@pytest.mark.slow
def test_docs_figures_and_plots_are_not_code(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert tiny(*SWEEP, cwd=project, out=out).returncode == 0
    (project / "README.md").write_text("edited\n")
    (project / "plot.py").write_text((project / "plot.py").read_text() + "# edited\n")
    (project / "figures" / "results.png").write_bytes(b"redrawn")
    shutil.rmtree(out / "multirun")
    again = tiny(*SWEEP, cwd=project, out=out)
    assert [s["status"] for s in statuses(out)] == ["reused"] * 6, again.output
    shutil.rmtree(out / "results")
    fresh = tiny(*SWEEP, cwd=project, out=out)
    assert fresh.returncode == 0
    for path in (out / "results").glob("*.pickle"):
        provenance = utils.read_result(path)["provenance"]
        assert (provenance["dirty"], provenance["modified"]) == (False, [])
        assert [name for name, _ in provenance["code_files"]] == ["cli.py", TINY, "utils.py"]


@pytest.mark.slow
def test_a_wider_sweep_keeps_the_finished_results(tmp_path: Path) -> None:
    assert tiny(*SWEEP, out=tmp_path).returncode == 0
    shutil.rmtree(tmp_path / "multirun")
    wider = tiny(*SWEEP, "seed=range(0, 4)", out=tmp_path)
    assert wider.returncode == 0, wider.stderr
    assert sorted(s["status"] for s in statuses(tmp_path)) == ["ran"] * 2 + ["reused"] * 6
    assert len(list((tmp_path / "results").glob("*.pickle"))) == 8


def test_an_interrupted_run_is_not_saved_and_runs_again(tmp_path: Path) -> None:
    proc = tiny(TINY, "behave=swallow-interrupt", out=tmp_path)
    assert proc.returncode != 0
    assert "Interrupted: SIGINT during the run: its result was not saved" in proc.output
    assert not list(tmp_path.glob("results/*.pickle"))
