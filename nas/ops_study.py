"""The operation study (NeuroNAS step 1), hardware and score side: the space with every
operation, then without each one in turn, on the seeded random stream.

For each operation set: the distinct valid cells (:func:`nas.cell.enumerate_cells`), and over
the first ``candidates`` candidates of its stream (:meth:`nas.space.SearchSpace.stream`, the
search's seed) the median of each budget metric, the fraction within the budget, and the
score's mean, best, and best within the budget. Every candidate is scored (a study, not a
search). How the score ranks trained accuracy is measured by ``benchmarks/nas_score.py``;
this study does not train.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from hdl._io import atomic_write_json, atomic_write_text
from nas.budget import METRICS, UNITS
from nas.cell import enumerate_cells
from nas.errors import NASError
from nas.evaluate import Evaluator, ScoreFn
from nas.search import SearchConfig
from nas.space import SearchSpace

__all__ = ["operation_study", "write_operation_study"]


def _sets(ops: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    out = [("none", ops)]
    for op in ops:
        rest = tuple(o for o in ops if o != op)
        if any(o != "zero" for o in rest):
            out.append((op, rest))
    return out


def operation_study(config: SearchConfig, candidates: int, score: ScoreFn) -> list[dict[str, Any]]:
    """One row per operation set (``removed``: the operation left out, ``none`` for the
    configured space); see the module docstring."""
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise NASError(f"candidates must be an integer >= 1, got {candidates!r}")
    rows = []
    for removed, ops in _sets(config.space.ops):
        space = SearchSpace(replace(config.space, ops=ops))
        ev = Evaluator(
            score,
            config.input_shape,
            config.classes,
            config.input_bits,  # type: ignore[arg-type]
            config.preset,
            config.samples,
        )
        metrics, scores, feasible = [], [], []
        for i in range(candidates):
            cand = space.stream(config.seed, i)
            m = ev.price(cand).metrics
            metrics.append(m)
            scores.append(ev.score(cand)[0])
            feasible.append(config.budget.feasible(m))
        ok = [s for s, f in zip(scores, feasible, strict=True) if f]
        rows.append(
            {
                "removed": removed,
                "ops": list(ops),
                "distinct_cells": len(enumerate_cells(ops)),
                "candidates": candidates,
                "median": {k: statistics.median(m[k] for m in metrics) for k in METRICS},
                "feasible_fraction": sum(feasible) / candidates,
                "score_mean": statistics.fmean(scores),
                "score_best": max(scores),
                "score_best_feasible": max(ok) if ok else None,
            }
        )
    return rows


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def write_operation_study(
    rows: list[dict[str, Any]], config: SearchConfig, score_name: str, out_dir: str | Path
) -> Path:
    """``ops.json`` and ``ops.md`` in ``out_dir``; returns the Markdown file."""
    out = Path(out_dir)
    atomic_write_json(
        out / "ops.json", {"settings": config.settings(), "score": score_name, "rows": rows}
    )
    head = ["removed", "distinct cells"] + [f"median {k} [{UNITS[k]}]" for k in METRICS]
    head += ["within budget", "score mean", "score best", "best within budget"]
    lines = [
        f"# Operation study: {config.name}",
        "",
        f"Each operation set on the first {rows[0]['candidates']} candidates of its seeded "
        f"stream (seed {config.seed}); score `{score_name}`; budget: "
        f"{config.budget.describe()}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r["removed"], str(r["distinct_cells"])]
        cells += [_fmt(float(r["median"][k])) for k in METRICS]
        cells += [
            f"{r['feasible_fraction'] * 100:.0f} %",
            _fmt(r["score_mean"]),
            _fmt(r["score_best"]),
            _fmt(r["score_best_feasible"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return atomic_write_text(out / "ops.md", "\n".join(lines) + "\n")
