"""Draw the paper's figure from result files, or the Rosenbrock landscape.

python plot.py                                    # results/paper -> figures/results.png
python plot.py results/seeds -o figures/seeds.png
python plot.py --rosenbrock                       # -> figures/rosenbrock.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from utils import load_results  # noqa: E402

MAKE_RESULTS = "python task.py -cp experiment -m"


# Columns of utils.load_results that are not config values.
OUTCOME = {"start", "fun", "x", "nfev", "nit", "success", "message", "path"}
POINT = ["method.name", "maxfun", "seed"]  # an optimizer, a budget and a start point


def line_columns(results: pd.DataFrame) -> list[str]:
    """Config columns that tell curves apart: values that differ between runs of the same
    optimizer, budget and seed (such as `method.options.maxCGit` after a one-off sweep).
    Values that follow from the budget (`method.options.maxfev`) never do."""
    candidates = [
        c
        for c in results.columns
        if c not in OUTCOME and c not in POINT and not c.startswith(("output.", "provenance."))
    ]
    values = results[candidates].map(lambda v: tuple(v) if isinstance(v, list) else v)
    distinct = values.groupby([results[c] for c in POINT if c in results]).nunique(dropna=False)
    return [c for c in candidates if distinct[c].max() > 1]


def error_by_budget(results: pd.DataFrame) -> pd.DataFrame:
    """Median, quartiles and number of runs (seeds) of f(x) per curve and maxfun. A curve is
    an optimizer, with its distinguishing options in `label` when there are several."""
    extra = line_columns(results)
    keys = results[["method.name", *extra, "maxfun"]].map(
        lambda v: tuple(v) if isinstance(v, list) else v
    )
    grouped = results["fun"].groupby([keys[c] for c in keys], dropna=False)
    summary = pd.DataFrame(
        {
            "median": grouped.median(),
            "q25": grouped.quantile(0.25),
            "q75": grouped.quantile(0.75),
            "runs": grouped.size(),
        }
    ).reset_index()
    summary["label"] = [curve_label(row, extra) for _, row in summary.iterrows()]
    return summary


def curve_label(row: pd.Series, columns: list[str]) -> str:
    """`TNC maxCGit=5`: the optimizer and the options that single out its curve."""
    words = [row["method.name"]]
    for column in columns:
        value = row[column]
        if isinstance(value, tuple) or not pd.isna(value):
            words.append(
                f"{column.rsplit('.', 1)[-1]}={value:g}"
                if isinstance(value, float)
                else f"{column.rsplit('.', 1)[-1]}={value}"
            )
    return " ".join(words)


def plot_results(results: pd.DataFrame, out: Path) -> None:
    """Error against maxfun, one line per curve; with several runs per point (seeds), the
    line is the median and the band spans the interquartile range."""
    summary = error_by_budget(results)
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for label, curve in summary.groupby("label", sort=True):
        (line,) = ax.plot(curve["maxfun"], curve["median"], marker="o", ms=3, label=label)
        if curve["runs"].max() > 1:
            ax.fill_between(
                curve["maxfun"], curve["q25"], curve["q75"], color=line.get_color(), alpha=0.2
            )
    runs = int(summary["runs"].max())
    ax.set(
        xlabel="budget maxfun (maxfev for Nelder-Mead)",
        ylabel="error f(x)" + (f", median and IQR of {runs} seeds" if runs > 1 else ""),
        yscale="log",
        title="Rosenbrock function, minimized with scipy",
    )
    ax.legend(title="optimizer")
    ax.grid(alpha=0.3, which="both")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)


def plot_rosenbrock(out: Path) -> None:
    """The 2-d Rosenbrock landscape on a log color scale, its minimum at (1, 1) marked."""
    from scipy.optimize import rosen  # here: importing scipy.optimize is a third of plot.py's time

    x, y = np.meshgrid(np.linspace(-2, 2, 400), np.linspace(-1, 3, 400))
    z = rosen(np.stack([x, y]))
    fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    mesh = ax.pcolormesh(x, y, np.log10(z + 1e-3), cmap="viridis", shading="auto")
    ax.contour(x, y, np.log10(z + 1e-3), levels=12, colors="white", linewidths=0.4)
    ax.plot(1, 1, marker="*", color="red", ms=12, label="minimum f(1, 1) = 0")
    ax.plot(-0.5, -0.5, marker="o", color="orange", ms=6, label="start x0 = (-0.5, -0.5)")
    fig.colorbar(mesh, label="log10 f(x, y)")
    ax.set(xlabel="x", ylabel="y", title="Rosenbrock function")
    ax.legend(loc="lower left")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results/paper", type=Path)
    parser.add_argument("-o", "--out", type=Path, help="default: figures/results.png")
    parser.add_argument("--rosenbrock", action="store_true", help="draw the landscape")
    args = parser.parse_args(argv)

    if args.rosenbrock:
        out = args.out or Path("figures/rosenbrock.png")
        plot_rosenbrock(out)
        print(f"Wrote {out}")
        return 0

    results = load_results(args.results)
    if results.empty or "maxfun" not in results:
        print(
            f"Error: no experiment results in {args.results}/ (files *.pickle with a maxfun); "
            f"make them with: {MAKE_RESULTS}",
            file=sys.stderr,
        )
        return 1
    out = args.out or Path("figures/results.png")
    plot_results(results, out)
    print(f"Wrote {out} from {len(results)} results in {args.results}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
