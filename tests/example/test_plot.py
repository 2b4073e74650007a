"""plot.py: which runs make a curve and a point, what the figures show, and its messages.

The result files here are written with utils.save_result from scipy's own numbers, shaped as the
task writes them, so that these tests do not depend on task.py.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, rosen

import plot
import utils
from tests.example.rosenbrock import LBFGSB, NELDER_MEAD, TNC
from tests.helpers import last_line, run

PNG = b"\x89PNG\r\n\x1a\n"
X0 = [-0.5, -0.5]
COLUMNS = (
    "dim, fun, iterates, jac, maxfun, message, method.name, method.options.adaptive, "
    "method.options.fatol, method.options.initial_simplex, method.options.maxfev, "
    "method.options.maxiter, method.options.xatol, nfev, nit, output.dir, output.name, "
    "output.resume, seed, start, success, x, x0"
)


def config_of(
    method: str, maxfun: int, seed: int = 0, x0: list[float] | None = X0, **options: Any
) -> dict[str, Any]:
    """The resolved config of one job of the experiment (experiment/settings/*.yaml)."""
    if method == "L-BFGS-B":
        jac, opts = "2-point", {**LBFGSB, "maxfun": maxfun, "eps": 1e-3}
    elif method == "Nelder-Mead":
        jac, opts = None, {**NELDER_MEAD, "maxfev": maxfun}
    else:
        jac, opts = None, {**TNC, "maxfun": maxfun, "eta": 0.5}
    return {
        "x0": x0,
        "dim": 2,
        "seed": seed,
        "jac": jac,
        "maxfun": maxfun,
        "output": {"dir": "results/paper", "name": f"{method}-maxfun{maxfun}", "resume": True},
        "method": {"name": method, "options": {**opts, **options}},
    }


def outcome_of(config: dict[str, Any]) -> dict[str, Any]:
    """scipy's answer for `config`, as the task's outcome: with the path in `iterates`."""
    x0 = config["x0"]
    if x0 is None:
        x0 = np.random.default_rng(config["seed"]).uniform(-1, 1, size=config["dim"])
    start = np.array(x0, dtype=float)
    iterates = [start]
    result = minimize(
        rosen,
        start,
        method=config["method"]["name"],
        jac=config["jac"],
        options=config["method"]["options"],
        callback=lambda xk: iterates.append(np.copy(xk)),
    )
    if not np.array_equal(iterates[-1], result.x):
        iterates.append(result.x)
    return {
        "start": start,
        "fun": float(result.fun),
        "x": result.x,
        "nfev": int(result.nfev),
        "nit": int(result.nit),
        "success": bool(result.success),
        "message": str(result.message),
        "iterates": np.array(iterates),
    }


def save(folder: Path, config: dict[str, Any], outcome: dict[str, Any] | None = None) -> Path:
    """A result file as the task writes it; the name carries what sets the run apart."""
    outcome = outcome_of(config) if outcome is None else outcome
    digest = hashlib.sha256(repr(config).encode()).hexdigest()[:12]
    name = f"{config['output']['name']}-seed{config['seed']}-{digest}"
    path = folder / f"{name}.pickle"
    record = {"config": config, "result": outcome, "provenance": {"commit": "abc1234"}}
    utils.save_result(path, record)
    return path


def summary_of(folder: Path, **spec: str) -> tuple[list, pd.DataFrame, plot.Spec]:
    """The runs as drawn and the points of their curves (as a table), for `spec`."""
    runs = plot.read_runs(folder)
    spec = plot.check_columns(runs, plot.Spec(**spec), seed_given=False)
    rows = plot.curve_rows(runs, spec)
    return rows, pd.DataFrame(plot.summarize(rows)), spec


def lines_of(summary: pd.DataFrame, spec: plot.Spec) -> tuple[Any, dict[str, Any]]:
    points = [plot.Point(*p) for p in summary[list(plot.Point._fields)].itertuples(index=False)]
    fig = plot.draw_curves(points, spec)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    return fig, lines


@pytest.fixture
def paper(tmp_path: Path) -> tuple[Path, dict[tuple[str, int], dict[str, Any]]]:
    """3 optimizers x 3 budgets from x0 = (-0.5, -0.5), as the paper's experiment."""
    folder, outcomes = tmp_path / "paper", {}
    for method in ("L-BFGS-B", "Nelder-Mead", "TNC"):
        for maxfun in (20, 50, 150):
            config = config_of(method, maxfun)
            outcomes[method, maxfun] = outcome_of(config)
            save(folder, config, outcomes[method, maxfun])
    return folder, outcomes


def test_paper_figure(paper: tuple[Path, dict], capsys: pytest.CaptureFixture) -> None:
    folder, outcomes = paper
    rows, summary, spec = summary_of(folder)
    assert len(summary) == 9 and (summary["runs"] == 1).all()
    for _, point in summary.iterrows():
        assert point["median"] == outcomes[point["label"], point["point"]]["fun"]
        assert point["x"] == point["point"]
    fig, lines = lines_of(summary, spec)
    ax = fig.axes[0]
    assert sorted(lines) == ["L-BFGS-B", "Nelder-Mead", "TNC"]
    for method, line in lines.items():
        assert list(line.get_xdata()) == [20, 50, 150]
        assert list(line.get_ydata()) == [outcomes[method, m]["fun"] for m in (20, 50, 150)]
    assert ax.get_xlabel() == "budget maxfun (maxfev for Nelder-Mead)"
    assert ax.get_ylabel() == "error f(x)"  # one run per point: nothing aggregated
    assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "log")
    assert ax.get_legend().get_title().get_text() == "optimizer"
    assert not ax.collections  # no band without seeds
    plt.close(fig)

    out = folder.parent / "fig.png"
    assert plot.main([str(folder), "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote {out} from 9 results in {folder}/\n"
    assert out.read_bytes().startswith(PNG)


def test_x_nfev_draws_the_evaluations_used(paper: tuple[Path, dict]) -> None:
    folder, outcomes = paper
    _, summary, spec = summary_of(folder, x="nfev")
    assert spec.points == "maxfun"  # nfev is an outcome: the points are still the budgets
    fig, lines = lines_of(summary, spec)
    for method, line in lines.items():
        used = sorted(
            (outcomes[method, m]["nfev"], outcomes[method, m]["fun"]) for m in (20, 50, 150)
        )
        assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == used
    # At maxfun=50 the three optimizers spent different numbers of evaluations.
    assert len({outcomes[m, 50]["nfev"] for m in ("L-BFGS-B", "Nelder-Mead", "TNC")}) == 3
    assert outcomes["Nelder-Mead", 50]["nfev"] == 50
    assert fig.axes[0].get_xlabel() == "evaluations of f used (nfev)"
    assert plot.default_out(spec, rosenbrock=False) == Path("figures/results-nfev.png")
    plt.close(fig)


def test_seeds_are_the_only_aggregate(tmp_path: Path) -> None:
    folder, funs, nfevs = tmp_path / "seeds", {}, {}
    for method in ("Nelder-Mead", "TNC"):
        for maxfun in (20, 60):
            for seed in range(4):
                outcome = outcome_of(config_of(method, maxfun, seed, x0=None))
                save(folder, config_of(method, maxfun, seed, x0=None), outcome)
                funs.setdefault((method, maxfun), []).append(outcome["fun"])
                nfevs.setdefault((method, maxfun), []).append(outcome["nfev"])
    _, summary, spec = summary_of(folder)
    assert len(summary) == 4 and (summary["runs"] == 4).all()
    for _, point in summary.iterrows():
        values = np.array(funs[point["label"], point["point"]])
        assert len(set(values)) == 4  # four start points, four answers
        assert point["median"] == pytest.approx(np.median(values), rel=1e-12, abs=0)
        assert point["q25"] == pytest.approx(np.quantile(values, 0.25), rel=1e-12, abs=0)
        assert point["q75"] == pytest.approx(np.quantile(values, 0.75), rel=1e-12, abs=0)
    fig, _ = lines_of(summary, spec)
    assert fig.axes[0].get_ylabel() == "error f(x), median and IQR of 4 seeds"
    assert fig.axes[0].get_xlabel() == "budget maxfun (maxfev for Nelder-Mead)"
    assert len(fig.axes[0].collections) == 2  # one band per curve
    plt.close(fig)

    _, summary, spec = summary_of(folder, x="nfev")
    tnc = summary[summary["label"] == "TNC"].set_index("point")
    assert tnc.loc[60, "x"] == np.median(nfevs["TNC", 60])
    fig, _ = lines_of(summary, spec)
    assert fig.axes[0].get_xlabel() == "evaluations of f used (nfev), median of 4 seeds"
    plt.close(fig)


@pytest.mark.parametrize("seeds", [(0, 0), (0, 1)], ids=["same seed", "other seeds"])
def test_a_changed_default_makes_its_own_curve(tmp_path: Path, seeds: tuple[int, int]) -> None:
    """TNC's eta was 0.25 when the older files were made and 0.5 in the newer ones."""
    folder, funs = tmp_path / "results", {}
    for eta, seed in zip((0.25, 0.5), seeds, strict=True):
        for maxfun in (20, 40):
            config = config_of("TNC", maxfun, seed, x0=None, eta=eta)
            outcome = outcome_of(config)
            save(folder, config, outcome)
            funs[f"TNC eta={eta:g}", maxfun] = outcome["fun"]
    assert funs["TNC eta=0.25", 40] != funs["TNC eta=0.5", 40]
    _, summary, spec = summary_of(folder)
    assert sorted(set(summary["label"])) == ["TNC eta=0.25", "TNC eta=0.5"]
    assert (summary["runs"] == 1).all()
    for _, point in summary.iterrows():
        assert point["median"] == funs[point["label"], point["point"]]
    fig, _ = lines_of(summary, spec)
    assert fig.axes[0].get_ylabel() == "error f(x)"
    plt.close(fig)


@pytest.mark.parametrize("seeds", [(0, 0), (0, 1)], ids=["same seed", "other seeds"])
def test_a_key_only_newer_files_have_makes_its_own_curve(
    tmp_path: Path, seeds: tuple[int, int]
) -> None:
    """Newer L-BFGS-B files declare `workers: null`; older ones have no such key."""
    folder = tmp_path / "results"
    for maxfun in (20, 40):
        old = config_of("L-BFGS-B", maxfun, seeds[0], x0=None)
        new = config_of("L-BFGS-B", maxfun, seeds[1], x0=None, workers=None)
        assert "workers" not in old["method"]["options"]
        for config in (old, new, config_of("TNC", maxfun, seeds[0], x0=None)):
            save(folder, config)
    _, summary, spec = summary_of(folder)
    assert sorted(set(summary["label"])) == [
        "L-BFGS-B workers unset",
        "L-BFGS-B workers=None",
        "TNC",
    ]
    assert (summary["runs"] == 1).all()


def test_the_same_run_twice_is_refused(
    paper: tuple[Path, dict], capsys: pytest.CaptureFixture
) -> None:
    folder, _ = paper
    [original] = folder.glob("TNC-maxfun50-*.pickle")
    copy = folder / "copy" / original.name
    copy.parent.mkdir()
    shutil.copy(original, copy)
    out = folder.parent / "fig.png"
    assert plot.main([str(folder), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"Error: {original} and {copy} are one run twice (method.name=TNC, maxfun=50, seed=0; "
        "identical configs); plot.py aggregates nothing but seeds: keep one of them\n"
    )
    assert not out.exists()


def test_a_value_written_two_ways_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """stepmx=5 and the default 5.0 are one config written twice, not two seeds."""
    folder = tmp_path / "results"
    five = config_of("TNC", 30, stepmx=5)
    five_point_o = config_of("TNC", 30, stepmx=5.0)
    first = save(folder / "a", five)
    second = save(folder / "b", five_point_o)
    assert utils.read_result(first)["result"]["fun"] == utils.read_result(second)["result"]["fun"]
    assert plot.main([str(folder), "-o", str(tmp_path / "fig.png")]) == 1
    assert capsys.readouterr().err == (
        f"Error: {first} and {second} are one run twice (method.name=TNC, maxfun=30, seed=0; "
        "differ only in how a value is written: method.options.stepmx = 5 vs 5.0); "
        "plot.py aggregates nothing but seeds: keep one of them\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--x", "budget"],
            f"--x: no column 'budget' in the 3 results in {{}}/; columns: {COLUMNS}",
        ),
        (["--by", "nope"], f"--by: no column 'nope' in the 3 results in {{}}/; columns: {COLUMNS}"),
        (["--seed-column", "rng"], "--seed-column: no column 'rng' in the 3 results in {}/; "),
        (["--by", "nfev"], "--by: 'nfev' is an outcome, not a config value; config columns: dim, "),
        (["--y", "message"], "--y message: {}/Nelder-Mead-maxfun20-seed0-"),
    ],
)
def test_bad_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    folder = tmp_path / "results"
    for maxfun in (20, 40, 60):
        save(folder, config_of("Nelder-Mead", maxfun))
    assert plot.main([str(folder), *args, "-o", str(tmp_path / "fig.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Error: {message.format(folder)}")
    if args[0] == "--y":
        assert err.endswith("holds str 'Maximum number of function evaluations h', not a number\n")


def test_scales() -> None:
    assert plot.choose_scale([10, 150], "auto") == "linear"
    assert plot.choose_scale([1, 100], "auto") == "linear"  # two decades exactly
    assert plot.choose_scale([1e-3, 1.0, 2.0], "auto") == "log"
    assert plot.choose_scale([0.0, 1e-3, 1e5], "auto") == "linear"  # zero has no log
    assert plot.choose_scale([10, 150], "log") == "log"
    assert plot.choose_scale([1e-3, 1e5], "linear") == "linear"


def test_unreadable_files_are_named_and_skipped(paper: tuple[Path, dict]) -> None:
    folder, _ = paper
    broken = sorted(folder.glob("TNC-*.pickle"))[0]
    broken.write_bytes(broken.read_bytes()[:200])
    foreign = folder / "foreign.pickle"
    foreign.write_bytes(pickle.dumps([1, 2, 3]))
    out = folder.parent / "fig.png"
    proc = run("plot.py", str(folder), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(f"Warning: skipped unreadable result {broken}")
    assert lines[1].startswith(f"Warning: skipped unreadable result {foreign}")
    assert proc.stdout == f"Wrote {out} from 8 results in {folder}/\n"
    assert out.read_bytes().startswith(PNG)


def test_a_pickle_that_runs_code_is_skipped(paper: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = paper
    victim = tmp_path / "created"

    class Payload:
        def __reduce__(self) -> tuple:
            return (Path.touch, (victim,))

    crafted = folder / "crafted.pickle"
    crafted.write_bytes(pickle.dumps(Payload()))
    proc = run("plot.py", str(folder), "-o", str(tmp_path / "fig.png"))
    assert proc.returncode == 0, proc.stderr
    assert last_line(proc.stderr).startswith(f"Warning: skipped unreadable result {crafted}")
    assert proc.stderr.count("\n") == 1
    assert not victim.exists()


def test_no_results(tmp_path: Path) -> None:
    proc = run("plot.py", str(tmp_path / "nothing"), "-o", str(tmp_path / "fig.png"))
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error: no results in {tmp_path}/nothing/ (files *.pickle); "
        "make them with: python task.py -cp experiment -m\n"
    )
    assert not (tmp_path / "fig.png").exists()


def test_rosenbrock_paths(paper: tuple[Path, dict], capsys: pytest.CaptureFixture) -> None:
    folder, outcomes = paper
    runs = plot.read_runs(folder)
    spec = plot.check_columns(runs, plot.Spec(), seed_given=False)
    tracks = plot.paths(runs, plot.curve_rows(runs, spec), "maxfun")
    assert sorted(tracks) == ["L-BFGS-B, maxfun=150", "Nelder-Mead, maxfun=150", "TNC, maxfun=150"]
    for name, (path, nit, fun) in tracks.items():  # each at the largest budget, from x0 to x
        outcome = outcomes[name.split(",")[0], 150]
        np.testing.assert_array_equal(path, outcome["iterates"])
        assert list(path[0]) == X0 and list(path[-1]) == list(outcome["x"])
        assert (nit, fun) == (outcome["nit"], outcome["fun"])
    fig = plot.draw_rosenbrock(tracks)
    ax = fig.axes[0]
    drawn = {line.get_label().split(":")[0]: line for line in ax.get_lines()}
    for name, track in tracks.items():
        np.testing.assert_array_equal(drawn[name].get_xydata(), track.iterates)
    # The legend hides nothing: it lies outside the axes, and x0 is inside them.
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert not legend.overlaps(ax.get_window_extent())
    assert ax.get_window_extent().contains(*ax.transData.transform(X0))
    assert "start x0 = (-0.5, -0.5)" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)

    out = folder.parent / "rosenbrock.png"
    assert plot.main([str(folder), "--rosenbrock", "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote {out} with 3 paths from {folder}/\n"
    assert out.read_bytes().startswith(PNG)


def test_rosenbrock_without_iterates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "results"
    outcome = outcome_of(config_of("TNC", 50))
    del outcome["iterates"]  # as written before results recorded their path
    save(folder, config_of("TNC", 50), outcome)
    out = tmp_path / "rosenbrock.png"
    assert plot.main([str(folder), "--rosenbrock", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"Note: no results with 2-d iterates in {folder}/; drew the landscape alone "
        "(make them with: python task.py -cp experiment -m)\n"
    )
    assert captured.out == f"Wrote {out} with 0 paths from {folder}/\n"
    assert out.read_bytes().startswith(PNG)


@pytest.mark.slow
def test_plot_the_paper_sweep(paper_results: Path, tmp_path: Path) -> None:
    """The real 45 results: every point is one run, and --x nfev draws their nfev."""
    results = utils.load_results(paper_results)
    for x in ("maxfun", "nfev"):
        out = tmp_path / f"{x}.png"
        proc = run("plot.py", str(paper_results), "--x", x, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"Wrote {out} from 45 results in {paper_results}/\n"
        assert proc.stderr == "" and out.read_bytes().startswith(PNG)
        _, summary, _ = summary_of(paper_results, x=x)
        assert len(summary) == 45 and (summary["runs"] == 1).all()
        merged = summary.rename(columns={"x": "drawn"}).merge(
            results, left_on=["label", "point"], right_on=["method.name", "maxfun"]
        )
        assert len(merged) == 45
        assert (merged["median"] == merged["fun"]).all() and (merged["drawn"] == merged[x]).all()


@pytest.mark.slow
def test_plot_a_seeds_sweep(tmp_path: Path) -> None:
    """The real seeds experiment, narrowed: each point is the median of its 3 seeds."""
    proc = run(
        "task.py", "-cp", "experiment", "-cn", "seeds", "-m", "seed=0,1,2", "maxfun=20,60",
        f"output.dir={tmp_path}/results", f"hydra.sweep.dir={tmp_path}/multirun",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "seeds.png"
    proc = run("plot.py", str(tmp_path / "results"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Wrote {out} from 18 results in {tmp_path / 'results'}/\n"
    results = utils.load_results(tmp_path / "results")
    _, summary, spec = summary_of(tmp_path / "results")
    assert len(summary) == 6 and (summary["runs"] == 3).all()
    summary = summary.set_index(["label", "point"])
    for (method, maxfun), group in results.groupby(["method.name", "maxfun"]):
        funs = np.array(group["fun"], dtype=float)
        assert len(set(funs)) == 3
        point = summary.loc[(method, maxfun)]
        assert point["median"] == pytest.approx(np.median(funs), rel=1e-12, abs=0)
        assert point["q25"] == pytest.approx(np.quantile(funs, 0.25), rel=1e-12, abs=0)
        assert point["q75"] == pytest.approx(np.quantile(funs, 0.75), rel=1e-12, abs=0)
    fig, _ = lines_of(summary.reset_index(), spec)
    assert fig.axes[0].get_ylabel() == "error f(x), median and IQR of 3 seeds"
    plt.close(fig)
