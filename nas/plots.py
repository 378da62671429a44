"""The figures of a search, as reproducible PNGs (no pyplot, matplotlib's default style, no
``Software`` tag, written atomically):

* ``score_cost.png``: score against energy [uJ] and against area [mm^2] of every scored
  candidate, infeasible ones (scored only by the baseline, else absent) hollow, the the budget's
  limits as lines, the Pareto front and the winner marked;
* ``winner_cell.png``: the winner's two cells drawn as graphs (nodes 0..3, one arc per
  non-zero edge, labelled by its operation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.ticker import NullFormatter

from hdl._io import atomic_write
from nas.cell import EDGES, Cell

__all__ = ["plot_cells", "plot_score_cost"]

DPI = 100
_STYLE = {"conv3x3": "C3", "conv1x1": "C1", "skip": "C0", "avgpool3x3": "C2"}


def _save(fig: Figure, path: Path) -> Path:
    try:
        return atomic_write(
            path, lambda f: fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None})
        )
    finally:
        fig.clear()


def plot_score_cost(result: Any, path: str | Path) -> Path:
    """Score against energy and area (module docstring) of a :class:`nas.search.SearchResult`."""
    base = {} if result.baseline is None else result.baseline.scores
    recs = [
        {**r, "score": r["score"] if r["score"] is not None else base.get(r["key"])}
        for r in result.records
        if r["valid"]
    ]
    recs = [r for r in recs if r["score"] is not None]
    limits = result.config.budget.limits()
    front = {result.records[i]["key"] for i in result.pareto}
    win = result.winner_record
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(10, 4.2))
        for ax, metric, label in (
            (fig.add_subplot(1, 2, 1), "energy_uj", "energy per inference [uJ]"),
            (fig.add_subplot(1, 2, 2), "area_mm2", "area [mm$^2$]"),
        ):
            ok = [r for r in recs if r["feasible"]]
            ax.scatter(
                [r["cost"][metric] for r in ok],
                [r["score"] for r in ok],
                s=14,
                color="C0",
                label="feasible",
            )
            bad = [r for r in recs if not r["feasible"]]
            if bad:
                ax.scatter(
                    [r["cost"][metric] for r in bad],
                    [r["score"] for r in bad],
                    s=14,
                    facecolors="none",
                    edgecolors="C7",
                    label="over budget",
                )
            pf = sorted((r for r in ok if r["key"] in front), key=lambda r: r["cost"][metric])
            if pf:
                ax.plot(
                    [r["cost"][metric] for r in pf],
                    [r["score"] for r in pf],
                    "o",
                    mfc="none",
                    mec="C1",
                    ms=9,
                    label="Pareto front",
                )
            if win is not None:
                ax.plot(
                    [win["cost"][metric]], [win["score"]], "*", color="C3", ms=14, label="winner"
                )
            if metric in limits:
                ax.axvline(limits[metric], color="C3", ls="--", lw=1, label="budget")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(label)
            ax.set_ylabel(f"score ({result.score_name})")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"search {result.config.name}: {len(result.records)} trials")
        fig.tight_layout()
        return _save(fig, Path(path))


def plot_cells(cells: tuple[Cell, Cell], path: str | Path) -> Path:
    """The two cells as graphs: nodes 0..3 on a line, an arc per non-zero edge."""
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(9, 3.2))
        for k, cell in enumerate(cells):
            ax = fig.add_subplot(1, 2, k + 1)
            pruned = cell.pruned()
            for (s, t), op in zip(EDGES, pruned.ops, strict=True):
                if op == "zero":
                    continue
                rad = 0.0 if t - s == 1 else -0.35 * (t - s - 1) - 0.15
                ax.add_patch(
                    FancyArrowPatch(
                        (s, 0),
                        (t, 0),
                        connectionstyle=f"arc3,rad={rad}",
                        arrowstyle="-|>",
                        mutation_scale=12,
                        lw=1.5,
                        color=_STYLE[op],
                        shrinkA=12,
                        shrinkB=12,
                    )
                )
                ax.text(
                    (s + t) / 2,
                    -rad * (t - s) / 2 + (0.06 if rad == 0 else 0),
                    op,
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color=_STYLE[op],
                )
            live = set(pruned.live_nodes())
            for n in range(4):
                ax.plot([n], [0], "o", ms=20, color="white" if n in live else "0.9", mec="black")
                ax.text(n, 0, str(n), ha="center", va="center", fontsize=10)
            ax.set_xlim(-0.5, 3.5)
            ax.set_ylim(-0.3, 0.9)
            ax.axis("off")
            ax.set_title(f"cell {k + 1}: {cell.key}", fontsize=8)
        fig.tight_layout()
        return _save(fig, Path(path))
