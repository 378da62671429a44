"""The artifacts of a search, written atomically into its directory (``<run>/search/``):

* ``candidates.csv`` and ``candidates.json``: every finished trial with its architecture,
  cost breakdown, constraints, score and feasibility (no timings: the same seed and score
  give the same bytes);
* ``timing.json``: measured seconds (pricing and scoring per candidate, candidates per
  second, the baseline's speed-up);
* ``report.md``: what a person reads first; ``score_cost.png`` (score against energy and area,
  budget lines, Pareto front, winner) and ``winner/cell.png`` (the winner's cells);
* ``winner/network.json`` (the IR architecture, :func:`hdl.ir.save_network`),
  ``winner/candidate.json`` and ``winner/train.toml`` (a training configuration for
  ``neurocim train``; the architecture's path in it is the only byte that depends on where
  the search directory is).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

from hdl._io import atomic_write_json, atomic_write_text
from hdl.ir import save_network
from nas.budget import METRICS, UNITS
from nas.plots import plot_cells, plot_score_cost
from nas.space import HW_SEARCHABLE, Candidate

__all__ = ["timing", "train_toml", "write_artifacts"]

_ARCH = (
    "channels",
    "down_channels",
    "hidden",
    "timesteps",
    "weight_bits",
    "dropout_p",
    "granularity",
    "modules",
)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "number": r["number"],
        "stream_index": r["stream_index"],
        "valid": r["valid"],
        "feasible": r["feasible"],
        "score": "" if r["score"] is None else repr(float(r["score"])),
        "key": r["key"] or "",
    }
    cost = r["cost"] or {}
    for m in (*METRICS, "cycles"):
        row[m] = cost.get(m, "")
    for k in ("cell_path", *METRICS):
        v = r["constraints"].get(k)
        row[f"c_{k}"] = "" if v is None else repr(float(v))
    cand = r["candidate"] or {}
    cells = cand.get("cells", ["", ""])
    row["cell1"], row["cell2"] = cells
    for k in _ARCH:
        row[k] = cand.get(k, "")
    for k in HW_SEARCHABLE:
        row[f"hw_{k}"] = cand.get("hardware", {}).get(k, "")
    return row


def _csv(records: tuple[dict[str, Any], ...]) -> str:
    rows = [_row(r) for r in records]
    buf = io.StringIO()
    names = list(
        _row(
            {
                "number": 0,
                "stream_index": 0,
                "valid": False,
                "feasible": False,
                "score": None,
                "key": None,
                "cost": None,
                "constraints": {},
                "candidate": None,
            }
        )
    )
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def timing(result: Any) -> dict[str, Any]:
    """Measured seconds: per candidate priced (not from the memo) and scored, per trial
    (sampling, pricing, scoring and the storage's writes), and the baseline's speed-up: its
    seconds over the constraint-first run's pricing and scoring seconds (the storage's
    writes, one trial per candidate in both orders, are left out of both)."""
    recs = result.records
    cost = [r["seconds"]["cost"] for r in recs if r["seconds"].get("cost_cached") is False]
    score = [r["seconds"]["score"] for r in recs if r["seconds"].get("score_cached") is False]
    total = sum(r["seconds"].get("total", 0.0) for r in recs)
    compute = sum(cost) + sum(score)
    out: dict[str, Any] = {
        "trials": len(recs),
        "priced": len(cost),
        "scored": len(score),
        "cost_us_mean": statistics.fmean(cost) * 1e6 if cost else None,
        "cost_us_median": statistics.median(cost) * 1e6 if cost else None,
        "score_ms_mean": statistics.fmean(score) * 1e3 if score else None,
        "trial_seconds_total": total,
        "compute_seconds_total": compute,
        "candidates_per_second": len(recs) / total if total > 0 else None,
        "wall_seconds_this_run": result.seconds,
    }
    b = result.baseline
    if b is not None:
        out["baseline"] = {
            "seconds": b.seconds,
            "scored": b.scored,
            "same_winner": b.same_winner,
            "speedup": b.seconds / compute if compute > 0 else None,
        }
    return out


def train_toml(result: Any, candidate: Candidate, network_file: Path) -> str:
    """A ``neurocim train`` configuration of the winner: ``[arch]`` names its IR architecture
    (``network_file``) with the dropout its edges carry (``dropout = "network"``); ``[model]``
    gives the neurons (T, beta = 1 - 2^-leak_shift), which the architecture does not."""
    cfg = result.config
    rec = result.winner_record
    beta = 1.0 if candidate.leak_shift is None else 1.0 - 2.0**-candidate.leak_shift
    return "\n".join(
        [
            f"# The winner of search {cfg.name!r} (trial {rec['number']}, key {rec['key']}).",
            "# Train it: neurocim train --config <this file>   (or --arch <search dir>)",
            f'name = "{cfg.name}-winner"',
            f"seed = {cfg.seed}",
            "",
            "[data]",
            f'dataset = "{cfg.dataset}"',
            "",
            "[arch]",
            f"file = {json.dumps(str(network_file))}",
            'dropout = "network"          # each edge\'s own MTJ dropout (p, granularity, modules)',
            "",
            "[model]",
            f"timesteps = {candidate.timesteps}",
            f"beta = {beta!r}",
            "",
        ]
    )


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _cost_cells(r: dict[str, Any]) -> str:
    c = r["cost"]
    return " | ".join(_fmt(c[m]) for m in METRICS)


def _report_md(result: Any, times: dict[str, Any]) -> str:
    cfg = result.config
    recs = result.records
    valid = [r for r in recs if r["valid"]]
    feasible = [r for r in valid if r["feasible"]]
    keys = {r["key"] for r in valid}
    lines = [
        f"# Search {cfg.name}",
        "",
        f"Study `{cfg.study_name}`, sampler `{cfg.sampler}` (seed {cfg.seed}), score "
        f"`{result.score_name}`, cost preset `{cfg.preset}` ({cfg.samples} sample(s) per "
        f"inference), input {list(cfg.input_shape)} x {cfg.input_bits} bit, {cfg.classes} "
        "classes.",
        "",
        f"Budget: {cfg.budget.describe()}.",
        "",
        f"Trials: {len(recs)}; valid candidates {len(valid)} ({len(keys)} distinct canonical "
        f"forms); feasible {len(feasible)}; scored (distinct) "
        f"{len({r['key'] for r in feasible})}.",
        "",
    ]
    head = "| trial | score | " + " | ".join(f"{m} [{UNITS[m]}]" for m in METRICS) + " |"
    rule = "|" + "---|" * (2 + len(METRICS))
    win = result.winner_record
    if win is None:
        lines += ["**No feasible candidate.**", ""]
    else:
        c = win["candidate"]
        lines += [
            "## Winner",
            "",
            f"Trial {win['number']} (key `{win['key']}`): cells `{c['cells'][0]}` / "
            f"`{c['cells'][1]}`, C = {c['channels']}, C_down = {c['down_channels']}, H = "
            f"{c['hidden']}, T = {c['timesteps']}, {c['weight_bits']}-bit weights, dropout "
            f"p = {c['dropout_p']} ({c['granularity']}, {c['modules']} modules).",
            "",
            head,
            rule,
            f"| {win['number']} | {_fmt(win['score'])} | {_cost_cells(win)} |",
            "",
            "Files: `winner/network.json` (IR architecture), `winner/train.toml`.",
            "",
        ]
    if result.pareto:
        lines += [f"## Pareto front (score vs {', '.join(cfg.pareto)})", "", head, rule]
        lines += [
            f"| {recs[i]['number']} | {_fmt(recs[i]['score'])} | {_cost_cells(recs[i])} |"
            for i in result.pareto
        ]
        lines.append("")
    top = sorted(
        {r["key"]: r for r in reversed(feasible)}.values(), key=lambda r: (-r["score"], r["number"])
    )[:10]
    if top:
        lines += ["## Best feasible candidates", "", head, rule]
        lines += [f"| {r['number']} | {_fmt(r['score'])} | {_cost_cells(r)} |" for r in top]
        lines.append("")
    lines += [
        "## Measured (this machine)",
        "",
        f"Pricing per candidate (network + cost model): mean {_fmt(times['cost_us_mean'])} us, "
        f"median {_fmt(times['cost_us_median'])} us over {times['priced']} candidates; scoring "
        f"mean {_fmt(times['score_ms_mean'])} ms over {times['scored']}; "
        f"{_fmt(times['candidates_per_second'])} candidates/s including the storage's writes "
        f"({_fmt(times['trial_seconds_total'])} s over {times['trials']} trials).",
        "",
    ]
    if "baseline" in times:
        b = times["baseline"]
        free = result.baseline.unconstrained(recs)
        if free is not None:
            r = recs[free]
            over = [k for k, v in r["constraints"].items() if k != "cell_path" and v > 0]
            lines += [
                f"Accuracy-only winner (best score, budget ignored): trial {r['number']} "
                f"(score {_fmt(result.baseline.scores[r['key']])}), "
                + (f"over budget in {', '.join(over)}." if over else "within the budget."),
                "",
                head,
                rule,
                f"| {r['number']} | {_fmt(result.baseline.scores[r['key']])} | {_cost_cells(r)} |",
                "",
            ]
        lines += [
            f"Baseline (score every candidate, filter afterwards) on the same stream: "
            f"{_fmt(b['seconds'])} s for {b['scored']} scored against "
            f"{_fmt(times['compute_seconds_total'])} s of pricing and scoring constraint-first "
            f"(storage writes excluded from both): speed-up "
            f"{_fmt(b['speedup'])}x; same winner: {b['same_winner']}.",
            "",
        ]
    return "\n".join(lines)


def write_artifacts(result: Any, out_dir: str | Path) -> None:
    """Write every artifact of ``result`` (a :class:`nas.search.SearchResult`)."""
    out = Path(out_dir)
    times = timing(result)
    doc = {
        "settings": result.config.settings(),
        "score": result.score_name,
        "budget": result.config.budget.as_dict(),
        "winner": None if result.winner is None else result.records[result.winner]["number"],
        "pareto": [result.records[i]["number"] for i in result.pareto],
        "candidates": [{k: v for k, v in r.items() if k != "seconds"} for r in result.records],
    }
    atomic_write_json(out / "candidates.json", doc)
    atomic_write_text(out / "candidates.csv", _csv(result.records))
    atomic_write_json(out / "timing.json", times)
    atomic_write_text(out / "report.md", _report_md(result, times))
    plot_score_cost(result, out / "score_cost.png")
    cand = result.winner_candidate()
    if cand is not None:
        plot_cells(cand.cells, out / "winner" / "cell.png")
        cfg = result.config
        net = cand.network(cfg.input_shape, cfg.classes, cfg.input_bits)
        save_network(net, out / "winner")
        atomic_write_json(out / "winner" / "candidate.json", json.loads(json.dumps(cand.to_dict())))
        toml = train_toml(result, cand, out / "winner" / "network.json")
        atomic_write_text(out / "winner" / "train.toml", toml)
