"""Draw result files as curves: one column against another, one curve per value of a third.

python plot.py                                   # results/paper -> figures/results.png
python plot.py --x nfev                          # -> figures/results-nfev.png
python plot.py results/seeds -o figures/seeds.png
python plot.py --rosenbrock                      # paths of results/paper -> figures/rosenbrock.png

A column is a config value, flattened with dots (maxfun, method.name, method.options.eta), or
an outcome value (fun, nfev, nit, ...). A curve's points are the values of one config column
(--points; by default --x, or maxfun when --x is an outcome). Runs that differ only in their
seed are one point: the line is their median, the band their interquartile range. Runs that
differ in any other config value (output.* aside) are different curves, labelled with the
values that set them apart. Two runs of one curve, point and seed (one config twice, or
written two ways: 5 against 5.0) are refused: plot.py aggregates nothing but seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import UnreadableResult, iter_results  # noqa: E402

MAKE_RESULTS = "python task.py -cp experiment -m"
DEFAULTS = {"x": "maxfun", "y": "fun", "by": "method.name", "seed": "seed"}
SCALES = ("auto", "linear", "log")
# Axis and legend titles for the example's columns; any other column is shown by its name.
LABELS = {
    "maxfun": "budget maxfun (maxfev for Nelder-Mead)",
    "fun": "error f(x)",
    "nfev": "evaluations of f used (nfev)",
    "nit": "iterations (nit)",
    "method.name": "optimizer",
}


class PlotError(ValueError):
    """A request plot.py cannot draw; its message is one line for the user."""


class _Unset:
    """The value of a key that a run's config does not have (older files lack newer keys)."""

    def __repr__(self) -> str:
        return "unset"


UNSET = _Unset()
NAN = ("nan",)  # the token of a float NaN: equal to itself, unlike NaN
PLAIN = {str, int, float, type(None)}  # their own tokens, NaN aside


# ---------------------------------------------------------------------------------- reading
@dataclass
class Runs:
    """The readable result files of a folder: each run's config and outcome, flattened."""

    folder: Path
    paths: list[Path]
    configs: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]

    def columns(self) -> dict[str, str]:
        """Every column, config or outcome (an outcome key that is also a config key wins)."""
        config, outcome = set(), set()
        for keys in self.configs:
            config.update(keys)
        for keys in self.outcomes:
            outcome.update(keys)
        return {**dict.fromkeys(config, "config"), **dict.fromkeys(outcome, "outcome")}

    def value(self, i: int, column: str) -> Any:
        outcome = self.outcomes[i]
        return outcome[column] if column in outcome else self.configs[i].get(column, UNSET)


def flatten(tree: dict[str, Any]) -> dict[str, Any]:
    """{"method": {"name": "TNC"}} -> {"method.name": "TNC"}; lists and arrays stay values."""
    if not any(type(value) is dict for value in tree.values()):
        return tree
    flat: dict[str, Any] = {}
    stack = [("", tree)]
    while stack:
        prefix, branch = stack.pop()
        for key, value in branch.items():
            if type(value) is dict:
                stack.append((f"{prefix}{key}.", value))
            else:
                flat[prefix + key] = value
    return flat


def read_runs(folder: Path) -> Runs:
    """Every *.pickle below `folder`, read with utils.read_result. An unreadable or refused
    file is skipped with one line on stderr that names it. Configs are kept as written, so
    that a key a file does not have stays apart from a key set to None."""
    runs = Runs(folder, [], [], [])

    def warn(error: UnreadableResult) -> None:  # its message is one line that names the file
        print(f"Warning: skipped unreadable result {error}", file=sys.stderr)

    for path, record in iter_results(folder, skipped=warn):
        runs.paths.append(path)
        runs.configs.append(flatten(record["config"]))
        runs.outcomes.append(flatten(record["result"]))
    return runs


# -------------------------------------------------------------------------------- analysis
def token(value: Any) -> Any:
    """A hashable stand-in for a config value: equal values (5 and 5.0) give equal tokens,
    True is not 1, None is not unset, and NaN equals NaN."""
    kind = type(value)
    if kind in PLAIN or value is UNSET:
        return NAN if kind is float and value != value else value
    if kind is bool or kind is np.bool_:
        return ("bool", bool(value))
    if kind is list or kind is tuple:
        return ("list", tuple(map(token, value)))
    if kind is dict:
        return ("dict", tuple(sorted((k, token(v)) for k, v in value.items())))
    if isinstance(value, np.ndarray):
        return ("list", tuple(map(token, value.tolist())))
    if isinstance(value, Real):
        return NAN if math.isnan(value) else value
    return ("other", repr(value))


def spelled(value: Any) -> str:
    """A value as a curve label shows it."""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)


@dataclass
class Spec:
    """What to draw: the columns chosen on the command line."""

    x: str = DEFAULTS["x"]
    y: str = DEFAULTS["y"]
    by: str = DEFAULTS["by"]
    points: str | None = None  # None: x if x is a config column, else DEFAULTS["x"]
    seed: str = DEFAULTS["seed"]


def check_columns(runs: Runs, spec: Spec, seed_given: bool) -> Spec:
    """The spec with `points` filled in; PlotError for a column that does not exist or is of
    the wrong kind, listing the columns that do."""
    kinds = runs.columns()
    listing = ", ".join(sorted(kinds))
    where = f"the {len(runs.paths)} results in {runs.folder}/"
    points = spec.points or (spec.x if kinds.get(spec.x) == "config" else DEFAULTS["x"])
    wanted = [("--x", spec.x), ("--y", spec.y), ("--by", spec.by), ("--points", points)]
    if seed_given:
        wanted.append(("--seed-column", spec.seed))
    for option, column in wanted:
        if column not in kinds:
            raise PlotError(f"{option}: no column {column!r} in {where}; columns: {listing}")
    for option, column in wanted[2:]:  # --by, --points and --seed-column
        if kinds.get(column) == "outcome":
            configs = ", ".join(sorted(c for c, k in kinds.items() if k == "config"))
            raise PlotError(
                f"{option}: {column!r} is an outcome, not a config value; config columns: {configs}"
            )
    return Spec(spec.x, spec.y, spec.by, points, spec.seed)


def describe_run(runs: Runs, i: int, spec: Spec) -> str:
    words = [f"{c}={spelled(runs.value(i, c))}" for c in (spec.by, spec.points, spec.seed)]
    return ", ".join(words)


def difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first config key (output.* aside) whose values are written differently."""
    for key in sorted(a.keys() | b.keys()):
        if key.startswith("output."):
            continue
        va, vb = a.get(key, UNSET), b.get(key, UNSET)
        if type(va) is not type(vb) or repr(va) != repr(vb):
            return f"{key} = {va!r} vs {vb!r}"
    return None


def refuse_twins(runs: Runs, i: int, j: int, spec: Spec) -> PlotError:
    """Two runs of one curve, point and seed: not seeds, and nothing plot.py can tell apart."""
    written = difference(runs.configs[i], runs.configs[j])
    how = f"differ only in how a value is written: {written}" if written else "identical configs"
    return PlotError(
        f"{runs.paths[i]} and {runs.paths[j]} are one run twice "
        f"({describe_run(runs, i, spec)}; {how}); plot.py aggregates nothing but seeds: "
        "keep one of them"
    )


def number(runs: Runs, i: int, column: str, option: str) -> float | None:
    """The run's value in `column` as a float; None when the run has no such value."""
    value = runs.value(i, column)
    if value is UNSET or value is None:
        return None
    if type(value) in (int, float) or isinstance(value, Real | np.bool_):
        return float(value)
    raise PlotError(
        f"{option} {column}: {runs.paths[i]} holds {type(value).__name__} "
        f"{str(value)[:40]!r}, not a number"
    )


class Row(NamedTuple):
    """A run as drawn: its curve, its point, its seed, x and y, and its index in `Runs`."""

    label: str
    point: Any
    seed: Any
    x: float
    y: float
    run: int


class Point(NamedTuple):
    """A point of a curve: y's median and quartiles over its runs (seeds), x's median."""

    label: str
    point: Any
    x: float
    x_min: float
    x_max: float
    median: float
    q25: float
    q75: float
    runs: int


def curve_rows(runs: Runs, spec: Spec) -> list[Row]:
    """One row per drawable run: its curve's label, point, seed, x and y, and its index `run`
    in `runs`. Curves are told apart by `by` and by every config value that differs between
    runs of the same `by` and point (seed and output.* aside)."""
    drawable, missing = [], defaultdict(list)
    for i, config in enumerate(runs.configs):
        x, y = number(runs, i, spec.x, "--x"), number(runs, i, spec.y, "--y")
        absent = [c for c, v in ((spec.x, x), (spec.y, y)) if v is None or math.isnan(v)]
        absent += [c for c in (spec.by, spec.points) if config.get(c) is None]
        if absent:
            missing[", ".join(absent)].append(i)
        else:
            drawable.append((i, x, y))
    for columns, skipped in missing.items():
        print(
            f"Note: {len(skipped)} of {len(runs.paths)} results have no value in {columns} and "
            f"are not drawn, e.g. {runs.paths[skipped[0]]}",
            file=sys.stderr,
        )

    # The config values beside by, point and seed; which of them differ within one (by, point).
    aside = {spec.by, spec.points, spec.seed}
    aside |= {k for k in runs.columns() if k.startswith("output.")}
    rest, groups = [], defaultdict(set)
    for i, _, _ in drawable:
        config = runs.configs[i]
        items = tuple(  # runs with the same keys in another order compare equal as dicts below
            (k, v if type(v) in PLAIN and v == v else token(v))  # as token(v), only quicker
            for k, v in config.items()
            if k not in aside
        )
        rest.append(items)
        groups[token(config[spec.by]), token(config[spec.points])].add(items)
    differing: set[str] = set()
    for variants in groups.values():
        if len(variants) > 1:
            dicts = [dict(v) for v in variants]
            keys = set().union(*dicts)
            differing |= {k for k in keys if len({d.get(k, UNSET) for d in dicts}) > 1}
    split = sorted(differing)

    curves, first, seen = [], {}, {}
    for (i, _, _), items in zip(drawable, rest, strict=True):
        config = runs.configs[i]
        values = dict(items) if split else {}
        curve = (token(config[spec.by]), *(values.get(k, UNSET) for k in split))
        first.setdefault(curve, i)
        twin = (curve, token(config[spec.points]), token(config.get(spec.seed, UNSET)))
        if twin in seen:
            raise refuse_twins(runs, seen[twin], i, spec)
        seen[twin] = i
        curves.append(curve)
    labels = curve_labels(runs, {curve: runs.configs[i] for curve, i in first.items()}, spec, split)
    return [
        Row(labels[curve], runs.configs[i][spec.points], runs.configs[i].get(spec.seed), x, y, i)
        for curve, (i, x, y) in zip(curves, drawable, strict=True)
    ]


def curve_labels(
    runs: Runs, configs: dict[tuple, dict[str, Any]], spec: Spec, split: list[str]
) -> dict[tuple, str]:
    """`TNC eta=0.5` per curve: the `by` value and the values that single out the curve. A key
    that a curve's runs do not have is left out, or shown as `key unset` when another curve of
    the same `by` value has it. Values are written short (%g), or in full where short ones
    would give two curves one label."""
    short = {k: k.rsplit(".", 1)[-1] for k in split}
    if len(set(short.values())) < len(short):
        short = {k: k for k in split}
    has = {(token(c[spec.by]), k) for c in configs.values() for k in split if k in c}
    for write in (spelled, repr):
        labels = {}
        for curve, config in configs.items():
            words = [spelled(config[spec.by])]
            for k in split:
                if k in config:
                    words.append(f"{short[k]}={write(config[k])}")
                elif (curve[0], k) in has:
                    words.append(f"{short[k]} unset")
            labels[curve] = " ".join(words)
        if len(set(labels.values())) == len(labels):
            break
    return labels


def summarize(rows: list[Row]) -> list[Point]:
    """Per curve and point: the median and quartiles of y over the point's seeds, the median
    of x and its range, and how many runs (seeds); by curve, then x."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.label, token(row.point)].append(row)
    points = []
    for (label, _), group in groups.items():
        xs, ys = np.array([r.x for r in group]), np.array([r.y for r in group])
        q25, median, q75 = np.quantile(ys, [0.25, 0.5, 0.75])
        x = float(np.median(xs))
        points.append(
            Point(label, group[0].point, x, xs.min(), xs.max(), median, q25, q75, len(group))
        )
    return sorted(points, key=lambda p: (p.label, p.x, p.point))


# --------------------------------------------------------------------------------- drawing
def label_of(column: str) -> str:
    return LABELS.get(column, column)


def choose_scale(values: Sequence[float] | np.ndarray, scale: str) -> str:
    """`auto`: log when every value is positive and they span more than two decades."""
    if scale != "auto":
        return scale
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > 100:
        return "log"
    return "linear"


def seeds_note(counts: list[int], what: str) -> str:
    low, high = min(counts), max(counts)
    return f", {what} of {low if low == high else f'{low}-{high}'} seeds"


def draw_curves(
    summary: list[Point], spec: Spec, xscale: str = "auto", yscale: str = "auto"
) -> Figure:
    """y against x, one line per curve sorted by x; with several seeds per point, the line is
    the median and the band spans the interquartile range."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    curves: dict[str, list[Point]] = defaultdict(list)
    for point in summary:
        curves[point.label].append(point)
    for label, curve in sorted(curves.items()):
        x = [p.x for p in curve]
        (line,) = ax.plot(x, [p.median for p in curve], marker="o", ms=3, label=label)
        if max(p.runs for p in curve) > 1:
            q25, q75 = [p.q25 for p in curve], [p.q75 for p in curve]
            ax.fill_between(x, q25, q75, color=line.get_color(), alpha=0.2)
    several = [p.runs for p in summary if p.runs > 1]
    xlabel = label_of(spec.x)
    if any(p.x_min != p.x_max for p in summary):
        xlabel += seeds_note(several, "median")
    ylabel = label_of(spec.y)
    if several:
        ylabel += seeds_note(several, "median and IQR")
    y_values = [v for p in summary for v in (p.median, p.q25, p.q75)]
    ax.set(
        xlabel=xlabel,
        ylabel=ylabel,
        xscale=choose_scale([p.x for p in summary], xscale),
        yscale=choose_scale(y_values, yscale),
    )
    ax.legend(title=label_of(spec.by))
    ax.grid(alpha=0.3, which="both")
    return fig


class Track(NamedTuple):
    """One optimizer's path: its `iterates` and where it ended."""

    iterates: np.ndarray
    nit: Any
    fun: Any


def paths(runs: Runs, rows: list[Row], points: str) -> dict[str, Track]:
    """Per curve, the path of its run at the largest point (lowest seed among equals) that
    recorded a 2-d path (`iterates`), under the name `TNC, maxfun=150`."""
    found = {}
    order = sorted(rows, key=lambda r: (r.label, -r.point, r.seed is None, r.seed or 0))
    for row in order:
        outcome = runs.outcomes[row.run]
        iterates = outcome.get("iterates")
        if (
            row.label not in found
            and isinstance(iterates, np.ndarray)
            and iterates.shape[1:] == (2,)
        ):
            track = Track(iterates, outcome.get("nit"), outcome.get("fun"))
            found[row.label] = (f"{row.label}, {points}={spelled(row.point)}", track)
    return dict(found.values())


def draw_rosenbrock(tracks: dict[str, Track]) -> Figure:
    """The 2-d Rosenbrock landscape on a log color scale, its minimum at (1, 1) marked, and
    each path from its start; the view spans the paths, and the legend sits below the axes,
    hiding nothing."""
    from scipy.optimize import rosen  # here: importing scipy.optimize is a third of plot.py's time

    if tracks:
        seen = np.vstack([[1.0, 1.0], *(t.iterates for t in tracks.values())])
        low, high = seen.min(axis=0) - 0.35, seen.max(axis=0) + 0.35
    else:
        low, high = np.array([-2.0, -1.0]), np.array([2.0, 3.0])
    x, y = np.meshgrid(np.linspace(low[0], high[0], 400), np.linspace(low[1], high[1], 400))
    z = np.log10(rosen(np.stack([x, y])) + 1e-3)
    fig, ax = plt.subplots(figsize=(6, 6.4), layout="constrained")
    mesh = ax.pcolormesh(x, y, z, cmap="viridis", shading="auto")
    ax.contour(x, y, z, levels=12, colors="white", linewidths=0.4)
    colors = ["#ff7f0e", "#d62728", "#17becf", "#e377c2", "#ffffff", "#bcbd22"]
    for (label, track), color in zip(tracks.items(), colors * len(tracks), strict=False):
        ended = f"{track.nit} iterations, f = {track.fun:.1e}"
        ax.plot(*track.iterates.T, "-o", color=color, ms=2.5, lw=1.2, label=f"{label}: {ended}")
    starts = sorted({tuple(t.iterates[0]) for t in tracks.values()} or {(-0.5, -0.5)})
    label = f"start x0 = ({starts[0][0]:g}, {starts[0][1]:g})" if len(starts) == 1 else "starts"
    ax.plot(*np.array(starts).T, "o", color="black", mec="white", ms=8, label=label, zorder=5)
    ax.plot(1, 1, "*", color="red", mec="white", ms=14, label="minimum f(1, 1) = 0", zorder=5)
    ax.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), xlabel="x", ylabel="y")
    ax.set(title="Rosenbrock function" + (", each optimizer's path" if tracks else ""))
    fig.colorbar(mesh, ax=ax, label="log10 f(x, y)")
    fig.legend(loc="outside lower center", ncols=1, fontsize="small")
    return fig


# ------------------------------------------------------------------------------------- CLI
def default_out(spec: Spec, rosenbrock: bool) -> Path:
    """figures/results.png for the paper's figure, figures/results-nfev.png for --x nfev, ..."""
    if rosenbrock:
        return Path("figures/rosenbrock.png")
    changed = [getattr(spec, k) for k in ("x", "y", "by") if getattr(spec, k) != DEFAULTS[k]]
    return Path("figures", "-".join(["results", *changed]) + ".png")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "results",
        nargs="?",
        default="results/paper",
        type=Path,
        help="folder of result files (default: results/paper)",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        help="figure file (default: figures/results.png, figures/results-X.png "
        "for --x X, figures/rosenbrock.png)",
    )
    p.add_argument(
        "--x",
        default=DEFAULTS["x"],
        metavar="COLUMN",
        help="x axis (default: maxfun; nfev: the evaluations actually used)",
    )
    p.add_argument("--y", default=DEFAULTS["y"], metavar="COLUMN", help="y axis (default: fun)")
    p.add_argument(
        "--by",
        default=DEFAULTS["by"],
        metavar="COLUMN",
        help="config column whose values are the curves (default: method.name)",
    )
    p.add_argument(
        "--points",
        metavar="COLUMN",
        help="config column whose values are a curve's points (default: --x if it "
        "is a config column, else maxfun)",
    )
    p.add_argument(
        "--seed-column",
        default=None,
        metavar="COLUMN",
        help="config column of the seed, the only one aggregated (default: seed)",
    )
    for axis in ("x", "y"):
        p.add_argument(
            f"--{axis}scale",
            choices=SCALES,
            default="auto",
            help=f"{axis} axis scale; auto (default): log when the values are all "
            "positive and span more than two decades, else linear",
        )
    p.add_argument(
        "--rosenbrock",
        action="store_true",
        help="draw the Rosenbrock landscape with each curve's path (its `iterates`) "
        "at the largest point; without such results, a note on stderr and the landscape "
        "alone (exit code 0)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    spec = Spec(args.x, args.y, args.by, args.points, args.seed_column or DEFAULTS["seed"])
    out = args.out or default_out(spec, args.rosenbrock)
    runs = read_runs(args.results)
    if not runs.paths and not args.rosenbrock:
        print(
            f"Error: no results in {args.results}/ (files *.pickle); make them with: "
            f"{MAKE_RESULTS}",
            file=sys.stderr,
        )
        return 1
    try:
        if args.rosenbrock:
            tracks = {}
            if runs.paths:
                spec = check_columns(runs, spec, args.seed_column is not None)
                tracks = paths(runs, curve_rows(runs, spec), spec.points)
            if not tracks:
                print(
                    f"Note: no results with 2-d iterates in {args.results}/; drew the landscape "
                    f"alone (make them with: {MAKE_RESULTS})",
                    file=sys.stderr,
                )
            fig = draw_rosenbrock(tracks)
        else:
            spec = check_columns(runs, spec, args.seed_column is not None)
            rows = curve_rows(runs, spec)
            if not rows:
                raise PlotError(f"none of the {len(runs.paths)} results has a value to draw")
            fig = draw_curves(summarize(rows), spec, args.xscale, args.yscale)
    except PlotError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    if args.rosenbrock:
        print(f"Wrote {out} with {len(tracks)} paths from {args.results}/")
    else:
        print(f"Wrote {out} from {len(runs.paths)} results in {args.results}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
