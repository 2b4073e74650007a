"""The task's and the result writer's functions, called directly."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig, OmegaConf

import task
import utils
from conftest import composed, direct_minimize, resolved


def experiment_config(*overrides: str) -> DictConfig:
    return composed("experiment", overrides=overrides)


def experiment_resolved(*overrides: str) -> dict:
    return resolved("experiment", overrides=overrides)


def test_start_point_comes_from_the_seed() -> None:
    a = task.start_point(None, dim=5, seed=3)
    assert a.shape == (5,)
    assert np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(a, task.start_point(None, dim=5, seed=3))
    np.testing.assert_array_equal(a, np.random.default_rng(3).uniform(-1, 1, size=5))
    assert not np.array_equal(a, task.start_point(None, dim=5, seed=4))


def test_start_point_takes_a_list() -> None:
    np.testing.assert_array_equal(task.start_point([-0.5, 1], dim=2, seed=0), [-0.5, 1.0])


@pytest.mark.parametrize("x0", ["abc", [1, "a"], [], 5, [True, 1.0], {"a": 1}])
def test_start_point_rejects_non_numbers(x0: object) -> None:
    with pytest.raises(task.ConfigError, match="x0 must be null or a list of numbers") as e:
        task.start_point(x0, dim=2, seed=0)
    assert repr(x0) in str(e.value)


def test_start_point_checks_dim() -> None:
    with pytest.raises(task.ConfigError, match=r"x0 \[1.0, 2.0, 3.0\] has 3 entries but dim is 2"):
        task.start_point([1.0, 2.0, 3.0], dim=2, seed=0)


@pytest.mark.parametrize("settings", ["lbfgsb", "nelder-mead", "tnc"])
@pytest.mark.parametrize("maxfun", [10, 70])
def test_optimize_equals_scipy(settings: str, maxfun: int) -> None:
    config = experiment_config(f"settings={settings}", f"maxfun={maxfun}")
    outcome = task.optimize(config)
    expected = direct_minimize(OmegaConf.to_container(config, resolve=True))
    assert outcome["fun"] == expected.fun
    np.testing.assert_array_equal(outcome["x"], expected.x)
    assert (outcome["nfev"], outcome["nit"]) == (expected.nfev, expected.nit)
    assert (outcome["success"], outcome["message"]) == (expected.success, expected.message)
    assert type(outcome["fun"]) is float and outcome["x"].dtype == np.float64


def test_option_unknown_to_scipy_is_refused() -> None:
    config = experiment_config("settings=tnc", "maxfun=10", "+method.options.maxfev=3")
    with pytest.raises(task.ConfigError, match="TNC has no option 'maxfev': valid options are "):
        task.optimize(config)


def test_result_path_names_the_config() -> None:
    a = utils.result_path(experiment_resolved("settings=tnc", "maxfun=10"))
    assert a == utils.result_path(experiment_resolved("settings=tnc", "maxfun=10"))
    assert a.parent == Path("results/paper") and a.name.startswith("TNC-maxfun10-")
    # Options that the file name does not show still give distinct files ...
    maxcgit = experiment_resolved("settings=tnc", "maxfun=10", "method.options.maxCGit=5")
    b = utils.result_path(maxcgit)
    assert b != a and b.name.startswith("TNC-maxfun10-")
    # ... while where and how results are written is not part of a run's identity.
    c = utils.result_path(experiment_resolved("settings=tnc", "maxfun=10", "output.resume=false"))
    assert c == a


def record(maxfun: int = 10) -> dict:
    config = experiment_config("settings=tnc", f"maxfun={maxfun}")
    return {"config": OmegaConf.to_container(config, resolve=True), "result": task.optimize(config)}


class Interrupts:
    def __reduce__(self):
        raise RuntimeError("interrupted while pickling")


def test_save_result_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "r.pickle"
    utils.save_result(path, record())
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="interrupted"):
        utils.save_result(path, {**record(), "last": Interrupts()})  # fails part-way through
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.pickle"]


def test_result_loads_without_the_project(tmp_path: Path) -> None:
    path = tmp_path / "r.pickle"
    utils.save_result(path, record())
    code = f"import pickle; print(pickle.load(open({str(path)!r}, 'rb'))['result']['fun'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert float(out.stdout) == pickle.loads(path.read_bytes())["result"]["fun"]
    assert "task" not in out.stderr and "utils" not in out.stderr


def test_finished_result_needs_the_identical_config(tmp_path: Path) -> None:
    path = tmp_path / "r.pickle"
    r = record()
    utils.save_result(path, r)
    assert utils.finished_result(path, r["config"])["result"]["fun"] == r["result"]["fun"]
    other_output = {**r["config"], "output": {"dir": "elsewhere", "name": "x", "resume": True}}
    assert utils.finished_result(path, other_output)["result"]["fun"] == r["result"]["fun"]
    assert utils.finished_result(path, record(20)["config"]) is None
    path.write_bytes(path.read_bytes()[:50])
    assert utils.finished_result(path, r["config"]) is None


def test_load_results_skips_broken_files(tmp_path: Path) -> None:
    for maxfun in (10, 20):
        utils.save_result(tmp_path / f"good{maxfun}.pickle", record(maxfun))
    (tmp_path / "truncated.pickle").write_bytes((tmp_path / "good10.pickle").read_bytes()[:100])
    (tmp_path / "garbage.pickle").write_text("not a pickle")
    with pytest.warns(UserWarning) as warned:
        results = utils.load_results(tmp_path)
    messages = sorted(str(w.message) for w in warned)
    assert len(messages) == 2
    assert "garbage.pickle" in messages[0] and "truncated.pickle" in messages[1]
    assert sorted(results["maxfun"]) == [10, 20]
    assert results.loc[results["maxfun"] == 20, "fun"].item() == record(20)["result"]["fun"]
    assert {"method.name", "method.options.maxfun", "x0", "x", "nfev", "path"} <= set(results)
