"""The operation study (NeuroNAS step 1): the space with every operation, then without each
one in turn, on the seeded random stream; hardware cost, score, and trained accuracy.

For each operation set: the distinct valid cells (:func:`nas.cell.enumerate_cells`), and over
the first ``candidates`` candidates of its stream (:meth:`nas.space.SearchSpace.stream`, the
search's seed) the median of each budget metric, the fraction within the budget, and the
score's mean, best, and best within the budget. Every candidate is scored (a study, not a
search).

With a :class:`nas.accuracy.ShortTraining` budget every candidate is also trained (once per
architecture: candidates that differ only in dropout or chip train alike), and each set gets
the score-accuracy relation (Kendall tau, ``scipy.stats.kendalltau``), the mean accuracy, the
best accuracy within the budget, and the accuracy of the set's *search winner* (the feasible
candidate of best score: what a search of that set would return).

The operation set is chosen from those numbers (:func:`choose_ops`): an operation is dropped
when the set without it loses no more than ``tolerance`` of accuracy, both for its search
winner and for its best candidate within the budget, and does not raise the median energy;
the chosen set (all such drops together) is then measured as one more row, ``chosen``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from hdl._io import atomic_write_json, atomic_write_text
from hdl.hwconfig import HardwareConfig
from nas.accuracy import ShortTraining, train_candidates
from nas.budget import METRICS, UNITS
from nas.cell import enumerate_cells
from nas.errors import NASError
from nas.evaluate import Evaluator, ScoreFn
from nas.search import SearchConfig
from nas.space import Candidate, SearchSpace

__all__ = ["choose_ops", "operation_study", "training_key", "write_operation_study"]

ACCURACY_FILE = "accuracy.json"


def _sets(ops: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    out = [("none", ops)]
    for op in ops:
        rest = tuple(o for o in ops if o != op)
        if any(o != "zero" for o in rest):
            out.append((op, rest))
    return out


def training_key(candidate: Candidate) -> str:
    """The key of what training sees: the candidate without dropout, on the default chip."""
    return replace(candidate, dropout_p=0.0, chip=HardwareConfig()).canonical().key


class _AccuracyCache:
    """Trained accuracies by training key in ``<dir>/accuracy.json``, rewritten atomically
    after every training, so a killed study resumes without training anything twice; a file
    written for another training budget is not used (and is replaced)."""

    def __init__(self, directory: Path | None, training: ShortTraining) -> None:
        self.path = None if directory is None else Path(directory) / ACCURACY_FILE
        self.budget = training.key()
        self.values: dict[str, list[float]] = {}
        if self.path is not None and self.path.is_file():
            import json

            try:
                doc = json.loads(self.path.read_text())
            except ValueError:
                doc = {}
            if isinstance(doc, dict) and doc.get("training") == self.budget:
                self.values = {k: list(v) for k, v in doc.get("accuracy", {}).items()}

    def add(self, key: str, accuracies: list[float]) -> None:
        self.values[key] = accuracies
        if self.path is not None:
            atomic_write_json(
                self.path,
                {"training": self.budget, "accuracy": dict(sorted(self.values.items()))},
            )


def _kendall(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import kendalltau

    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a)]
    if len(pairs) < 3:
        return None
    tau = kendalltau([a for a, _ in pairs], [b for _, b in pairs]).statistic
    return None if math.isnan(tau) else float(tau)


def _measure(
    label: str,
    ops: tuple[str, ...],
    config: SearchConfig,
    candidates: int,
    evaluator: Evaluator,
) -> tuple[dict[str, Any], list[Candidate], list[float], list[bool]]:
    space = SearchSpace(replace(config.space, ops=ops))
    metrics, scores, feasible, drawn = [], [], [], []
    for i in range(candidates):
        cand = space.stream(config.seed, i)
        m = evaluator.price(cand).metrics
        drawn.append(cand)
        metrics.append(m)
        scores.append(evaluator.score(cand)[0])
        feasible.append(config.budget.feasible(m))
    ok = [s for s, f in zip(scores, feasible, strict=True) if f]
    row = {
        "removed": label,
        "ops": list(ops),
        "distinct_cells": len(enumerate_cells(ops)),
        "candidates": candidates,
        "median": {k: statistics.median(m[k] for m in metrics) for k in METRICS},
        "feasible_fraction": sum(feasible) / candidates,
        "score_mean": statistics.fmean(scores),
        "score_best": max(scores),
        "score_best_feasible": max(ok) if ok else None,
    }
    return row, drawn, scores, feasible


def _accuracy_fields(
    drawn: list[Candidate], scores: list[float], feasible: list[bool], acc: dict[str, float]
) -> dict[str, Any]:
    values = [acc[training_key(c)] for c in drawn]
    ok = [i for i, f in enumerate(feasible) if f]
    winner = max(ok, key=lambda i: (scores[i], -i)) if ok else None
    return {
        "accuracy_mean": statistics.fmean(values),
        "accuracy_best": max(values),
        "accuracy_best_feasible": max(values[i] for i in ok) if ok else None,
        "winner_accuracy": values[winner] if winner is not None else None,
        "score_accuracy_tau": _kendall(scores, values),
    }


def operation_study(
    config: SearchConfig,
    candidates: int,
    score: ScoreFn,
    training: ShortTraining | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    tolerance: float = 0.01,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per operation set (``removed``: the operation left out, ``none`` for the
    configured space); with ``training``, the accuracy columns, the choice
    (:func:`choose_ops`, ``tolerance`` in accuracy) and a last row ``chosen``. Trained
    accuracies are kept in ``cache_dir/accuracy.json`` (resumable); see the module docstring.
    """
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise NASError(f"candidates must be an integer >= 1, got {candidates!r}")
    if not 0.0 <= tolerance < 1.0:
        raise NASError(f"tolerance must be an accuracy in [0, 1), got {tolerance!r}")
    evaluator = Evaluator(
        score,
        config.input_shape,
        config.classes,
        config.input_bits,  # type: ignore[arg-type]
        config.preset,
        config.samples,
    )
    measured = [
        _measure(label, ops, config, candidates, evaluator)
        for label, ops in _sets(config.space.ops)
    ]
    rows = [m[0] for m in measured]
    if training is None:
        return rows
    cache = _AccuracyCache(None if cache_dir is None else Path(cache_dir), training)

    def train_missing(drawn: list[Candidate]) -> dict[str, float]:
        jobs = {}
        for cand in drawn:
            key = training_key(cand)
            if key not in cache.values and key not in jobs:
                jobs[key] = evaluator.network(cand)
        done = [0]

        def on_done(key: str, accuracies: list[float]) -> None:
            cache.add(key, accuracies)
            done[0] += 1
            if progress is not None:
                progress(f"trained {done[0]}/{len(jobs)} architectures")

        train_candidates(jobs, training, workers, on_done)
        return {k: statistics.fmean(v) for k, v in cache.values.items()}

    acc = train_missing([c for m in measured for c in m[1]])
    for row, drawn, scores, feasible in measured:
        row.update(_accuracy_fields(drawn, scores, feasible, acc))
    spreads = [max(v) - min(v) for v in cache.values.values() if len(v) > 1]
    rows[0]["seed_spread"] = statistics.median(spreads) if spreads else None
    chosen, reasons = choose_ops(rows, tolerance)
    for row in rows:
        row["dropped"] = row["removed"] in chosen["dropped"]
        row["reason"] = reasons.get(row["removed"], "")
    removed = tuple(o for o in config.space.ops if o in chosen["dropped"])
    label = "chosen: without " + ", ".join(removed) if removed else "chosen: all"
    row, drawn, scores, feasible = _measure(
        label, tuple(chosen["ops"]), config, candidates, evaluator
    )
    acc = train_missing(drawn)
    row.update(_accuracy_fields(drawn, scores, feasible, acc))
    row.update({"dropped": False, "reason": "the set chosen from the rows above", "chosen": True})
    rows.append(row)
    return rows


def choose_ops(
    rows: list[dict[str, Any]], tolerance: float = 0.01
) -> tuple[dict[str, Any], dict[str, str]]:
    """The operation set chosen from a study's rows (with accuracy columns): drop an
    operation when, without it, the search winner's accuracy and the best accuracy within the
    budget are each at most ``tolerance`` below the full set's, and the median energy is not
    higher. Returns ``({"ops": [...], "dropped": [...]}, reason per removed operation)``."""
    full = rows[0]
    if full["removed"] != "none" or "winner_accuracy" not in full:
        raise NASError("choose_ops needs the study's rows with accuracy (the full set first)")
    ops = list(full["ops"])
    dropped: list[str] = []
    reasons: dict[str, str] = {}

    def lost(row: dict[str, Any], key: str) -> float | None:
        if row[key] is None or full[key] is None:
            return None
        return full[key] - row[key]

    for row in rows[1:]:
        op = row["removed"]
        losses = {k: lost(row, k) for k in ("winner_accuracy", "accuracy_best_feasible")}
        energy = row["median"]["energy_uj"] - full["median"]["energy_uj"]
        names = ("search winner", "best within budget")
        text = ", ".join(
            f"{name} {'-' if v is None else f'{-v * 100:+.1f} points'}"
            for name, v in zip(names, losses.values(), strict=True)
        )
        text += f", median energy {energy / full['median']['energy_uj'] * 100:+.1f} %"
        keep = any(v is None or v > tolerance for v in losses.values()) or energy > 0
        if op == "zero":  # zero is not an operation a chip runs: it only prunes edges
            keep = True
        reasons[op] = ("keep: " if keep else "drop: ") + text
        if not keep:
            dropped.append(op)
    rest = [o for o in ops if o not in dropped]
    if not any(o != "zero" for o in rest):  # never drop every operation that computes
        dropped, rest = dropped[:-1], [o for o in ops if o not in dropped[:-1]]
    return {"ops": rest, "dropped": dropped}, reasons


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v * 100:.1f} %"


def write_operation_study(
    rows: list[dict[str, Any]],
    config: SearchConfig,
    score_name: str,
    out_dir: str | Path,
    training: ShortTraining | None = None,
    tolerance: float = 0.01,
) -> Path:
    """``ops.json`` and ``ops.md`` in ``out_dir``; returns the Markdown file."""
    out = Path(out_dir)
    trained = "winner_accuracy" in rows[0]
    atomic_write_json(
        out / "ops.json",
        {
            "settings": config.settings(),
            "score": score_name,
            "training": None if training is None else training.key(),
            "tolerance": tolerance,
            "rows": rows,
        },
    )
    head = ["removed", "distinct cells"] + [f"median {k} [{UNITS[k]}]" for k in METRICS]
    head += ["within budget", "score mean", "score best", "best score within budget"]
    if trained:
        head += ["tau (score, accuracy)", "accuracy mean", "best accuracy within budget"]
        head += ["search winner's accuracy", "choice"]
    lines = [
        f"# Operation study: {config.name}",
        "",
        f"Each operation set on the first {rows[0]['candidates']} candidates of its seeded "
        f"stream (seed {config.seed}); score `{score_name}`; budget: "
        f"{config.budget.describe()}.",
    ]
    if training is not None:
        lines += [
            "",
            f"Every architecture trained with one fixed short budget: {training.epochs} "
            f"epochs of Adam (lr {training.lr}, cosine, batch {training.batch_size}) on "
            f"{training.dataset}, seeds {list(training.seeds)}, no dropout; accuracy on the "
            "test split. An operation is dropped when, without it, the search winner's "
            f"accuracy and the best accuracy within the budget each lose at most "
            f"{tolerance * 100:.1f} points and the median energy does not rise; `zero` is "
            "never dropped (it prunes edges, no circuit runs it).",
        ]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["removed"], str(r["distinct_cells"])]
        cells += [_fmt(float(r["median"][k])) for k in METRICS]
        cells += [
            f"{r['feasible_fraction'] * 100:.0f} %",
            _fmt(r["score_mean"]),
            _fmt(r["score_best"]),
            _fmt(r["score_best_feasible"]),
        ]
        if trained:
            tau = r["score_accuracy_tau"]
            cells += [
                "-" if tau is None else f"{tau:+.2f}",
                _pct(r["accuracy_mean"]),
                _pct(r["accuracy_best_feasible"]),
                _pct(r["winner_accuracy"]),
                r.get("reason", ""),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    if trained:
        chosen = rows[-1]
        lines += ["", f"Chosen operation set: `{', '.join(chosen['ops'])}`."]
        spread = rows[0].get("seed_spread")
        if spread is not None:
            lines += [
                "",
                f"Training noise: two seeds of one architecture differ by a median "
                f"{spread * 100:.1f} accuracy points (over every architecture trained here); "
                "a difference between rows smaller than that is not a measured effect.",
            ]
    return atomic_write_text(out / "ops.md", "\n".join(lines) + "\n")
