"""The seeds experiment (experiment/seeds.yaml): its config, its jobs and its figure's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

import task
import utils
from tests.example.rosenbrock import SETTINGS, TNC, direct_minimize
from tests.helpers import composed, experiment_sweeper, into, resolved, run, sweep_counts

MAXFUNS = range(10, 151, 10)
SEEDS = range(5)


def test_seeds_config_of_one_job() -> None:
    assert resolved("experiment", "seeds", ["settings=tnc", "maxfun=30", "seed=3"]) == {
        "x0": None,
        "dim": 2,
        "seed": 3,
        "jac": None,
        "maxfun": 30,
        "output": {"dir": "results/seeds", "name": "TNC-maxfun30-seed3", "resume": True},
        "method": {"name": "TNC", "options": {**TNC, "maxfun": 30, "eta": 0.5}},
    }


@pytest.mark.parametrize("settings", SETTINGS)
def test_seeds_differs_from_the_paper_only_in_start_point_and_output(settings: str) -> None:
    """Both experiments build on experiment/comparison.yaml; seeds.yaml changes only these."""
    job = [f"settings={settings}", "maxfun=70", "seed=2"]
    seeds, paper = resolved("experiment", "seeds", job), resolved("experiment", "task", job)
    assert paper["x0"] == [-0.5, -0.5] and seeds["x0"] is None
    ignore = {"x0", "output"}
    assert {k: v for k, v in seeds.items() if k not in ignore} == {
        k: v for k, v in paper.items() if k not in ignore
    }
    assert seeds["output"]["name"] == paper["output"]["name"] + "-seed2"


def test_seeds_sweeps_the_papers_settings_and_budgets() -> None:
    paper = composed("experiment", "task", hydra=True).hydra.sweeper
    seeds = composed("experiment", "seeds", hydra=True).hydra.sweeper
    assert OmegaConf.to_container(seeds.overrides) == {
        **OmegaConf.to_container(paper.overrides),
        "seed": "range(0, 5)",
    }
    assert seeds.max_batch_size == paper.max_batch_size


def test_seeds_expands_to_settings_x_maxfun_x_seed() -> None:
    jobs = experiment_sweeper("seeds").generate_jobs([])
    assert jobs == [
        (f"settings={settings}", f"maxfun={maxfun}", f"seed={seed}")
        for settings in SETTINGS
        for maxfun in MAXFUNS
        for seed in SEEDS
    ]


def test_command_line_narrows_the_seeds() -> None:
    jobs = experiment_sweeper("seeds").generate_jobs(["seed=0,1", "maxfun=10"])
    assert sorted(map(sorted, jobs)) == sorted(
        sorted([f"settings={s}", "maxfun=10", f"seed={seed}"]) for s in SETTINGS for seed in (0, 1)
    )


@pytest.mark.slow
def test_seeds_experiment_end_to_end(tmp_path: Path) -> None:
    seeds, maxfuns = (0, 1, 2, 3), (20, 60)
    proc = run(
        "task.py",
        "-cp",
        "experiment",
        "-cn",
        "seeds",
        "-m",
        f"seed={','.join(map(str, seeds))}",
        f"maxfun={','.join(map(str, maxfuns))}",
        *into(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    n = len(SETTINGS) * len(maxfuns) * len(seeds)
    assert sweep_counts(proc.stdout) == {"reused": 0, "ran": n, "re-ran": 0, "failed": 0}
    files = sorted((tmp_path / "results").glob("*.pickle"))
    assert len(files) == n
    for path in files:
        record = utils.read_result(path)
        config = record["config"]
        assert config["x0"] is None
        assert path.name.startswith(f"{config['method']['name']}-maxfun{config['maxfun']}-")
        assert f"-seed{config['seed']}-" in path.name
        # The start point was the one drawn from the seed: scipy alone gives the same answer.
        assert record["result"]["fun"] == direct_minimize(config).fun

    results = utils.load_results(tmp_path / "results")
    for _, group in results.groupby(["method.name", "maxfun"]):
        # Each seed started elsewhere and so ended elsewhere.
        assert sorted(group["seed"]) == list(seeds)
        assert len({tuple(x) for x in group["x"]}) == len(seeds)

    starts = {tuple(task.start_point(None, dim=2, seed=seed)) for seed in seeds}
    assert len(starts) == len(seeds)
