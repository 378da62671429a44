"""The hardware-aware search, measured (not a test): docs/nas.md "Measured: benchmarks/nas.py".

Five studies, each from real runs of :func:`nas.search.run_search` on an in-memory Optuna
storage (so the storage's writes do not blur the compute times):

1. constraint-first against score-everything (SNASNet's order) on the same candidate stream
   in one run (``baseline = True``), at three budget tightnesses on digits;
2. samplers: scored candidates seeded ``random`` and ``tpe`` need to reach a fixed target (the
   random stream's final best feasible score), same budget and trial count, several seeds;
3. on digits, the accuracy-only winner (best score, budget ignored) against the found network:
   both trained with one short budget (:func:`spindrop.training.train` of the GraphNet the
   score uses), accuracy and the four hardware metrics side by side;
4. CIFAR-10 shapes (3x32x32, 10 classes) under HASNAS's budgets with the ``spikesim`` preset:
   estimate-only, scored on seeded uniform random images (no CIFAR data here), and SNASNet's
   CIFAR-10 macro priced beside the found network;
5. cost per candidate, score per candidate, candidates per second.

Usage:  .venv/bin/python benchmarks/nas.py [--quick] [--no-write] [--out build/nas-bench]
                                           [--render build/nas-bench/results.json]
Writes the section into docs/nas.md (unless ``--no-write`` or ``--quick``) and the raw numbers to
``<out>/results.json``; ``--render`` renders the section again from such a file.
``--quick`` is a smoke run of about a minute (tiny trial counts).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _machine import machine  # noqa: E402

HEADING = "## Measured: benchmarks/nas.py"
DIGITS_SPACE = {"channels": (4, 8, 16), "hidden": (32, 64, 128), "timesteps": (1, 2)}
DIGITS_BUDGETS: tuple[dict[str, float], ...] = (
    {"memory_bits": 165_000, "energy_uj": 3.7},
    {"memory_bits": 80_000, "energy_uj": 1.7, "area_mm2": 3.3},
    {"memory_bits": 40_000, "energy_uj": 0.7, "area_mm2": 2.4},
)
HASNAS_BUDGET = {"params": 4e6, "area_mm2": 100.0, "latency_ms": 400.0, "energy_uj": 120.0}
CIFAR_SPACE = {"channels": (16, 32, 64), "hidden": (256, 512, 1024), "timesteps": (1, 2, 4)}
SNASNET_CNT_MAT = "0302 0030 3003 0000"
"""SNASNet's released architecture (its README: ``--cnt_mat 0302 0030 3003 0000``, the
pretrained CIFAR-100 network, backward cell): row i, column j is the operation of edge
i -> j (0 zero, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool3x3). Its forward edges are
0->1 conv3x3, 1->2 conv3x3, 0->3 conv1x1, 2->3 conv3x3; row 2, column 0 is a backward
conv3x3 edge 2 -> 0 (to the next timestep), which the IR cannot carry."""
SNASNET_CELL = "conv3x3-zero-conv3x3-conv1x1-zero-conv3x3"
"""The forward edges of :data:`SNASNET_CNT_MAT` in ``nas.cell.EDGES`` order."""
FOUR = ("memory_bits", "energy_uj", "area_mm2", "latency_ms")


@dataclass(frozen=True)
class Settings:
    """Sizes of every study (``--quick`` shrinks them)."""

    trials: int = 40
    sampler_trials: int = 60
    sampler_seeds: tuple[int, ...] = tuple(range(10))
    epochs: int = 8
    train_seeds: tuple[int, ...] = (0, 1)
    top: int = 3
    cifar_trials: int = 30
    cifar_batch: int = 32

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            trials=10,
            sampler_trials=10,
            sampler_seeds=(0,),
            epochs=1,
            train_seeds=(0,),
            top=2,
            cifar_trials=3,
            cifar_batch=8,
        )


# ----------------------------------------------------------------------------- searches


def _config(
    budget: dict[str, float],
    trials: int,
    *,
    sampler: str = "random",
    seed: int = 0,
    baseline: bool = False,
    space: dict[str, Any] | None = None,
    **task: Any,
) -> Any:
    from nas.budget import Budget
    from nas.search import SearchConfig
    from nas.space import SpaceConfig

    return SearchConfig(
        name="bench",
        seed=seed,
        trials=trials,
        sampler=sampler,
        baseline=baseline,
        space=SpaceConfig(**(space or DIGITS_SPACE)),
        budget=Budget(**budget),
        **task,
    )


def search(config: Any, score: Any) -> Any:
    """One run of the search on an in-memory storage (nothing written)."""
    import optuna

    from nas.search import run_search

    return run_search(
        config,
        ROOT / "build" / "nas-bench" / "unused",
        score,
        progress=False,
        write=False,
        storage=optuna.storages.InMemoryStorage(),
    )


def timing(result: Any) -> dict[str, float]:
    """Measured seconds of a run (pricing and scoring not from the memo, as nas.report)."""
    recs = result.records
    cost = [r["seconds"]["cost"] for r in recs if r["seconds"].get("cost_cached") is False]
    score = [r["seconds"]["score"] for r in recs if r["seconds"].get("score_cached") is False]
    total = sum(r["seconds"].get("total", 0.0) for r in recs)
    return {
        "trials": len(recs),
        "priced": len(cost),
        "scored": len(score),
        "cost_us_median": statistics.median(cost) * 1e6 if cost else math.nan,
        "score_ms_median": statistics.median(score) * 1e3 if score else math.nan,
        "compute_s": sum(cost) + sum(score),
        "trial_s": total,
        "wall_s": result.seconds,
        "per_second": len(recs) / result.seconds if result.seconds > 0 else math.nan,
    }


def distinct(result: Any) -> tuple[int, int]:
    """(feasible, valid) distinct candidate keys of a run."""
    valid = {r["key"] for r in result.records if r["valid"]}
    feasible = {r["key"] for r in result.records if r["feasible"]}
    return len(feasible), len(valid)


def speedup_study(score: Any, s: Settings) -> list[dict[str, Any]]:
    """Study 1: one run with the baseline per budget, after an untimed pass that scores the
    same stream once (torch's first call on each shape is slow; without the pass the first
    timed order pays it and the second does not)."""
    search(_config({}, s.trials), score)  # warm-up: no budget, every candidate scored
    rows = []
    for budget in DIGITS_BUDGETS:
        result = search(_config(budget, s.trials, baseline=True), score)
        t = timing(result)
        b = result.baseline
        feasible, valid = distinct(result)
        acc_only = b.unconstrained(result.records)
        rows.append(
            {
                "budget": budget,
                "feasible": feasible,
                "valid": valid,
                "cf_scored": t["scored"],
                "cf_compute_s": t["compute_s"],
                "cf_wall_s": t["wall_s"],
                "base_scored": b.scored,
                "base_s": b.seconds,
                "speedup": b.seconds / t["compute_s"] if t["compute_s"] > 0 else math.nan,
                "speedup_wall": b.seconds / t["wall_s"] if t["wall_s"] > 0 else math.nan,
                "same_winner": b.same_winner,
                "winner": _pick(result, result.winner),
                "acc_only": _pick(result, acc_only, b.scores),
                "top": [_pick(result, i) for i in _top(result, s.top)],
                "timing": t,
            }
        )
    return rows


def _top(result: Any, k: int) -> list[int]:
    """Indices of the ``k`` feasible distinct candidates of highest score."""
    seen: dict[str, int] = {}
    for i, r in enumerate(result.records):
        if r["feasible"] and r["score"] is not None and r["key"] not in seen:
            seen[r["key"]] = i
    order = sorted(seen.values(), key=lambda i: (-result.records[i]["score"], i))
    return order[:k]


def _pick(result: Any, index: int | None, scores: dict[str, float] | None = None) -> Any:
    if index is None:
        return None
    r = result.records[index]
    score = r["score"] if scores is None else scores[r["key"]]
    limits = result.config.budget.constraints(r["cost"])
    return {
        "trial": r["number"],
        "key": r["key"],
        "candidate": r["candidate"],
        "score": score,
        "cost": {k: r["cost"][k] for k in ("memory_bits", "params", *FOUR[1:])},
        "breaks": sorted(k for k, v in limits.items() if v > 0),
    }


def _needed(result: Any, target: float) -> tuple[int | None, int | None, float | None]:
    """(scored candidates, trials) until the best feasible score reaches ``target``; the
    final best feasible score."""
    scored, best = 0, None
    hit: tuple[int | None, int | None] = (None, None)
    for i, r in enumerate(result.records):
        if r["feasible"] and r["score"] is not None:
            if r["seconds"].get("score_cached") is False:
                scored += 1
            best = r["score"] if best is None else max(best, r["score"])
            if hit[0] is None and best >= target:
                hit = (scored, i + 1)
    return hit[0], hit[1], best


SAMPLERS = ("random", "tpe")
TARGET_QUANTILES = (0.75, 0.9, 0.97)


def sampler_study(score: Any, s: Settings) -> dict[str, Any]:
    """Study 2: random against TPE, each seed of ``s.sampler_seeds``: scored candidates until
    the best feasible score reaches each target, the targets being quantiles of every
    distinct feasible score any run found (so no sampler sets its own target)."""
    budget = DIGITS_BUDGETS[1]
    runs = {
        (name, seed): search(_config(budget, s.sampler_trials, sampler=name, seed=seed), score)
        for seed in s.sampler_seeds
        for name in SAMPLERS
    }
    pooled = {
        r["key"]: r["score"]
        for result in runs.values()
        for r in result.records
        if r["feasible"] and r["score"] is not None
    }
    values = np.array(sorted(pooled.values()))
    targets = {str(q): float(np.quantile(values, q)) for q in TARGET_QUANTILES}
    rows = []
    for seed in s.sampler_seeds:
        row: dict[str, Any] = {"seed": seed}
        for name in SAMPLERS:
            result = runs[(name, seed)]
            feasible, _valid = distinct(result)
            row[name] = {
                "to_target": {q: _needed(result, t)[0] for q, t in targets.items()},
                "best": _needed(result, math.inf)[2],
                "feasible": feasible,
                "scored": timing(result)["scored"],
                "wall_s": result.seconds,
            }
        rows.append(row)
    return {"targets": targets, "distinct_feasible": len(values), "rows": rows}


# ----------------------------------------------------------------------------- training


def train_accuracy(candidate: dict[str, Any], s: Settings) -> dict[str, Any]:
    """Test accuracy on digits of the candidate's GraphNet (no dropout) after ``s.epochs``
    epochs, mean over ``s.train_seeds`` (:func:`nas.accuracy.trained_accuracy`)."""
    import torch

    from nas.accuracy import ShortTraining, trained_accuracy
    from nas.space import Candidate

    torch.set_num_threads(1)
    network = Candidate.from_dict(candidate).network((1, 8, 8), 10)
    budget = ShortTraining(epochs=s.epochs, seeds=tuple(s.train_seeds), device="cpu")
    start = time.perf_counter()
    accs = trained_accuracy(network, budget)
    return {
        "accuracies": accs,
        "accuracy": float(np.mean(accs)),
        "train_s": time.perf_counter() - start,
    }


def trained_study(rows: list[dict[str, Any]], s: Settings) -> list[dict[str, Any]]:
    """Study 3: under each budget of study 1 where the accuracy-only winner breaks a limit,
    train it, the found winner and the next feasible candidates by score (``s.top`` in all)
    with the same budget (each key trained once); ``best`` is the most accurate of those
    feasible ones."""
    cache: dict[str, dict[str, Any]] = {}

    def acc(pick: dict[str, Any]) -> dict[str, Any]:
        if pick["key"] not in cache:
            cache[pick["key"]] = train_accuracy(pick["candidate"], s)
        return cache[pick["key"]]

    out = []
    for row in rows:
        a, w = row["acc_only"], row["winner"]
        if a is None or w is None or not a["breaks"]:
            continue
        top = [{**t, **acc(t)} for t in row["top"]]
        best = max(top, key=lambda t: (t["accuracy"], -t["trial"]))
        out.append(
            {
                "budget": row["budget"],
                "acc_only": {**a, **acc(a)},
                "found": {**w, **acc(w)},
                "best": best,
                "top_accuracies": [t["accuracy"] for t in top],
            }
        )
    return out


# ----------------------------------------------------------------------------- CIFAR-10 shapes


def random_image_score(batch: int, seed: int = 0) -> Any:
    """SNASNet's score (project form, batches of ``batch``) on seeded uniform random
    3x32x32 images: no CIFAR data here, so this ranks spike diversity on noise only."""
    import torch

    from nas.score import ScoreConfig, graph_model, snasnet_score

    torch.set_num_threads(1)
    images = torch.rand(4 * batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    config = ScoreConfig.of("project", seed=seed, batch_size=batch)

    def score(candidate: object, network: Any) -> float:
        value = snasnet_score(graph_model(network, seed), images, config).score
        return value if math.isfinite(value) else -sys.float_info.max

    return score


def cnt_mat_cell(cnt_mat: str) -> tuple[str, list[tuple[int, int, str]]]:
    """SNASNet's connection matrix (four rows of four digits) as a forward genotype in
    ``nas.cell.EDGES`` order, and its backward edges ``(source, target, op)``."""
    from nas.cell import EDGES

    names = ("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3")
    rows = cnt_mat.split()
    m = [[names[int(ch)] for ch in row] for row in rows]
    forward = "-".join(m[i][j] for i, j in EDGES)
    backward = [(i, j, m[i][j]) for i in range(4) for j in range(i) if m[i][j] != "zero"]
    return forward, backward


def snasnet_network() -> Any:
    """SNASNet's released network at CIFAR shapes as an IR architecture, the macro of its
    code (``model_snn.py``): stem conv3x3 3 -> 128, cell (128, 32x32), conv3x3 128 -> 256
    **with stride 2 where SNASNet has conv3x3 then avgpool 2** (the search space's down
    layer), cell (256, 16x16), SNASNet's second avgpool 2 as a **fixed 2x2 sum-pool edge**
    (stride 2, 2-bit fixed weights, listed in ``pool_edges`` as the space's avgpool3x3 is),
    FC 16,384 -> 1024, FC 1024 -> 100 (its population output, averaged in groups of 10
    digitally); T = 5, 8-bit weights; both cells the forward edges of its released genotype
    (:data:`SNASNET_CNT_MAT`)."""
    from hdl.ir import Edge, Layer
    from nas.cell import Cell
    from nas.space import Candidate

    cell = Cell.from_key(SNASNET_CELL)
    cand = Candidate(
        cells=(cell, cell), channels=128, down_channels=256, hidden=1024, timesteps=5, weight_bits=8
    )
    net = cand.network((3, 32, 32), 100)
    layers = list(net.layers)
    fc = next(i for i, layer in enumerate(layers) if layer.name == "fc")
    last = layers[fc].edges[0].source
    neuron = layers[fc].neuron
    pool = Layer(
        "pool",
        (Edge("conv2d", last, weight_bits=2, kernel=2, stride=2, padding=0),),
        (256, 8, 8),
        neuron,
    )
    layers[fc] = replace(layers[fc], edges=(replace(layers[fc].edges[0], source="pool"),))
    layers.insert(fc, pool)
    metadata = dict(net.metadata)
    metadata["pool_edges"] = [*metadata.get("pool_edges", []), "pool.0"]
    out = replace(net, name="snasnet-cifar", layers=tuple(layers), metadata=metadata)
    return out.validate(), cand


def cifar_study(s: Settings) -> dict[str, Any]:
    """Study 4: HASNAS's budgets at CIFAR-10 shapes, spikesim preset, with the baseline."""
    from hdl.cost import estimate
    from nas.budget import Budget, cost_metrics

    score = random_image_score(s.cifar_batch)
    config = _config(
        HASNAS_BUDGET,
        s.cifar_trials,
        baseline=True,
        space=CIFAR_SPACE,
        input_shape=(3, 32, 32),
        classes=10,
        preset="spikesim",
        dataset="cifar10",
    )
    result = search(config, score)
    t = timing(result)
    feasible, valid = distinct(result)
    net, cand = snasnet_network()
    start = time.perf_counter()
    metrics = cost_metrics(estimate(net, cand.hardware(), preset="spikesim"), net)
    price_s = time.perf_counter() - start
    snas = {k: metrics[k] for k in ("memory_bits", "params", *FOUR[1:])}
    snas["breaks"] = sorted(
        k for k, v in Budget(**HASNAS_BUDGET).constraints(metrics).items() if v > 0
    )
    b = result.baseline
    return {
        "feasible": feasible,
        "valid": valid,
        "timing": t,
        "base_scored": b.scored,
        "base_s": b.seconds,
        "speedup": b.seconds / t["compute_s"] if t["compute_s"] > 0 else math.nan,
        "same_winner": b.same_winner,
        "winner": _pick(result, result.winner),
        "acc_only": _pick(result, b.unconstrained(result.records), b.scores),
        "snasnet": snas,
        "snasnet_price_s": price_s,
    }


# ----------------------------------------------------------------------------- report


def _n(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 1e4 and float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _budget(b: dict[str, float]) -> str:
    return ", ".join(f"{k} <= {_n(v)}" for k, v in b.items())


def _arch(c: dict[str, Any]) -> str:
    return (
        f"C {c['channels']}, H {c['hidden']}, T {c['timesteps']}, {c['weight_bits']}-bit, "
        f"cells {c['cells'][0]} / {c['cells'][1]}"
    )


def _saving(a: float, b: float) -> str:
    return f"{(1 - b / a) * 100:.1f} %" if a > 0 else "-"


def render(res: dict[str, Any], s: Settings, quick: bool) -> str:
    L: list[str] = [HEADING, ""]
    L.append(
        f"Machine: {res['machine']}. Run: `.venv/bin/python benchmarks/nas.py"
        f"{' --quick' if quick else ''}` ({res['seconds']:.0f} s in all). In-memory Optuna "
        "storage; SNASNet's score, project form, on digits' training images; cost "
        "model preset `default` on digits. Every number below is from this one run."
    )
    L.append("")
    L.append(
        f"Digits space: channels {list(DIGITS_SPACE['channels'])}, hidden "
        f"{list(DIGITS_SPACE['hidden'])}, timesteps {list(DIGITS_SPACE['timesteps'])}, "
        "the rest as the defaults (section 1); `random` sampler, seed 0."
    )
    L += [
        "",
        f"### 1. Constraint-first against score-everything ({s.trials} candidates, one run each)",
        "",
    ]
    L.append(
        "| budget | feasible / distinct | constraint-first: scored, compute s (wall s) | "
        "score-everything: scored, s | speed-up (compute; wall) | same winner |"
    )
    L.append("|---|---|---|---|---|---|")
    for r in res["speedup"]:
        L.append(
            f"| {_budget(r['budget'])} | {r['feasible']} / {r['valid']} | "
            f"{r['cf_scored']}, {r['cf_compute_s']:.2f} s ({r['cf_wall_s']:.2f} s) | "
            f"{r['base_scored']}, {r['base_s']:.2f} s | {r['speedup']:.1f}x; "
            f"{r['speedup_wall']:.1f}x | {r['same_winner']} |"
        )
    L += [
        "",
        "Compute = pricing and scoring seconds of the constraint-first run (as "
        "`timing.json`); wall = its whole `study.optimize` (sampling and Optuna's bookkeeping "
        "too). The baseline is timed from the first network built to its winner.",
        "",
    ]
    best = max(r["speedup"] for r in res["speedup"])
    L.append(
        f"Target 10x: {'met' if best >= 10 else 'not met'} (best {best:.1f}x, at the "
        "tightest budget). The ratio is bounded by the fraction of candidates that are "
        "feasible: it grows as the budget tightens."
    )
    L += [
        "",
        f"### 2. Samplers: scored candidates to a target score ({s.sampler_trials} trials "
        f"per run, {len(s.sampler_seeds)} seeds, budget {_budget(DIGITS_BUDGETS[1])})",
        "",
    ]
    sm = res["samplers"]
    L.append(
        "Targets: quantiles of the "
        f"{sm['distinct_feasible']} distinct feasible scores that any run found (both "
        "samplers, every seed), so neither sampler sets its own target. Per target: in how "
        "many seeds the sampler's best feasible score reached it within the run, and the "
        "median number of scored candidates it took in those seeds."
    )
    L.append("")
    head = ["sampler"] + [
        f"target q{float(q) * 100:.0f} ({_n(t, 6)}): reached, median scored"
        for q, t in sm["targets"].items()
    ]
    head += ["feasible of trials (mean)", "scored (mean)", "final best (mean)"]
    L += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    n = len(sm["rows"])
    summary: dict[str, dict[str, Any]] = {}
    for name in SAMPLERS:
        cells = [name]
        for q in sm["targets"]:
            hits = [r[name]["to_target"][q] for r in sm["rows"]]
            got = [h for h in hits if h is not None]
            med = f"{float(np.median(got)):.0f}" if got else "-"
            cells.append(f"{len(got)}/{n}, {med}")
            summary.setdefault(name, {})[q] = (len(got), med)
        cells += [
            f"{float(np.mean([r[name]['feasible'] for r in sm['rows']])):.1f} "
            f"of {s.sampler_trials}",
            f"{float(np.mean([r[name]['scored'] for r in sm['rows']])):.1f}",
            _n(float(np.mean([r[name]["best"] for r in sm["rows"]])), 6),
        ]
        L.append("| " + " | ".join(cells) + " |")
    top = list(sm["targets"])[-1]
    (rh, rm), (th, tm) = summary["random"][top], summary["tpe"][top]
    L += [
        "",
        f"At the highest target (q{float(top) * 100:.0f}) random reached it in {rh} of {n} "
        f"seeds (median {rm} scored candidates), TPE in {th} of {n} (median {tm}). TPE "
        "learns the budget: it draws more feasible candidates per trial (each scored once; "
        "a candidate proposed again is memoized), so it spends more scoring per trial.",
    ]
    L += ["", "### 3. Trained: the accuracy-only winner against the found network (digits)", ""]
    L.append(
        f"Both trained with the same budget: {s.epochs} epochs, Adam 5e-3, batch 64, "
        f"seeds {list(s.train_seeds)} (initialisation and shuffling; accuracy is their "
        "mean on the digits test split), GraphNet without dropout."
    )
    L.append("")
    if not res["trained"]:
        L.append("Under none of the budgets did the accuracy-only winner break a limit.")
    for r in res["trained"]:
        a, f = r["acc_only"], r["found"]
        L.append(
            f"Budget {_budget(r['budget'])}: the accuracy-only winner (trial "
            f"{a['trial']}: {_arch(a['candidate'])}) breaks {', '.join(a['breaks'])}; the "
            f"found one (trial {f['trial']}: {_arch(f['candidate'])}) meets all."
        )
        L.append("")
        L.append(
            "| network | score | accuracy | memory_bits | energy_uj | area_mm2 | "
            "latency_ms | training s |"
        )
        L.append("|---|---|---|---|---|---|---|---|")
        bt = r["best"]
        shown = [("accuracy-only", a), ("found (best score)", f)]
        if bt["key"] != f["key"]:
            shown.append(
                (
                    f"most accurate of the top {len(r['top_accuracies'])} feasible "
                    f"(trial {bt['trial']})",
                    bt,
                )
            )
        for label, x in shown:
            c = x["cost"]
            L.append(
                f"| {label} | {_n(x['score'], 6)} | {x['accuracy'] * 100:.1f} % | "
                f"{c['memory_bits']:,} | {c['energy_uj']:.3g} | {c['area_mm2']:.3g} | "
                f"{c['latency_ms']:.3g} | {x['train_s']:.1f} |"
            )
        L.append(
            f"| saving | | {(f['accuracy'] - a['accuracy']) * 100:+.1f} points | "
            + " | ".join(_saving(a["cost"][k], f["cost"][k]) for k in FOUR)
            + " | |"
        )
        if bt["key"] != f["key"]:
            L.append(
                f"| saving, most accurate feasible | | "
                f"{(bt['accuracy'] - a['accuracy']) * 100:+.1f} points | "
                + " | ".join(_saving(a["cost"][k], bt["cost"][k]) for k in FOUR)
                + " | |"
            )
        L.append("")
        L.append(
            f"Trained accuracies of the top {len(r['top_accuracies'])} feasible by score: "
            + ", ".join(f"{x * 100:.1f} %" for x in r["top_accuracies"])
            + f"; most accurate: {_arch(bt['candidate'])}."
        )
        L.append("")
    L.append(
        "NeuroNAS reports 84 % energy and 92 % area savings at equal accuracy; the rows "
        "above say how far this space and chip get (savings are of the found network "
        "against the accuracy-only one; the accuracy column says whether they are at "
        "equal accuracy)."
    )
    L.append("")
    for r in res["trained"]:
        a = r["acc_only"]
        for label, x in (("found", r["found"]), ("most accurate feasible", r["best"])):
            if label != "found" and x["key"] == r["found"]["key"]:
                continue
            e = 1 - x["cost"]["energy_uj"] / a["cost"]["energy_uj"]
            ar = 1 - x["cost"]["area_mm2"] / a["cost"]["area_mm2"]
            gap = (x["accuracy"] - a["accuracy"]) * 100
            ok = e >= 0.84 and ar >= 0.92 and gap >= -1.0
            L.append(
                f"* {_budget(r['budget'])}, {label}: energy {e * 100:.0f} %, area "
                f"{ar * 100:.0f} % saved at {gap:+.1f} accuracy points: NeuroNAS's 84 % / 92 % "
                f"at equal accuracy (within 1 point) {'met' if ok else 'not met'}."
            )
    c = res["cifar"]
    L += ["", "### 4. CIFAR-10 shapes under HASNAS's budgets (estimate only)", ""]
    L.append(
        f"**No CIFAR data here**: 3x32x32 inputs, 10 classes, cost model preset "
        f"`spikesim`, budget {_budget(HASNAS_BUDGET)}; scored on seeded uniform random "
        f"images (batches of {s.cifar_batch}), which ranks spike diversity on noise, not "
        "accuracy; nothing is trained. Space: channels "
        f"{list(CIFAR_SPACE['channels'])}, hidden {list(CIFAR_SPACE['hidden'])}, "
        f"timesteps {list(CIFAR_SPACE['timesteps'])}; {s.cifar_trials} candidates, "
        "`random`, seed 0, with the baseline."
    )
    L.append("")
    L.append(
        f"Feasible / distinct: {c['feasible']} / {c['valid']}; constraint-first scored "
        f"{c['timing']['scored']} in {c['timing']['compute_s']:.2f} s, score-everything "
        f"{c['base_scored']} in {c['base_s']:.2f} s: speed-up {c['speedup']:.1f}x; same "
        f"winner: {c['same_winner']}."
    )
    L.append("")
    L.append("| network | params | memory_bits | energy_uj | area_mm2 | latency_ms | breaks |")
    L.append("|---|---|---|---|---|---|---|")
    rows = [("SNASNet, released genotype (see below)", c["snasnet"])]
    if c["winner"] is not None:
        rows.append(
            (
                f"found (trial {c['winner']['trial']})",
                {**c["winner"]["cost"], "breaks": c["winner"]["breaks"]},
            )
        )
    if c["acc_only"] is not None:
        rows.append(
            (
                f"accuracy-only (trial {c['acc_only']['trial']})",
                {**c["acc_only"]["cost"], "breaks": c["acc_only"]["breaks"]},
            )
        )
    for label, m in rows:
        L.append(
            f"| {label} | {m['params']:,} | {m['memory_bits']:,} | {m['energy_uj']:.4g} | "
            f"{m['area_mm2']:.4g} | {m['latency_ms']:.4g} | "
            f"{', '.join(m['breaks']) or 'none'} |"
        )
    if c["winner"] is not None:
        wp = _saving(c["snasnet"]["params"], c["winner"]["cost"]["params"])
        L.append(
            f"| saving, found vs SNASNet | {wp} | "
            + " | ".join(
                _saving(c["snasnet"][k], c["winner"]["cost"][k])
                for k in ("memory_bits", "energy_uj", "area_mm2", "latency_ms")
            )
            + " | |"
        )
        L.append("")
        L.append(f"Found: {_arch(c['winner']['candidate'])}.")
        e = 1 - c["winner"]["cost"]["energy_uj"] / c["snasnet"]["energy_uj"]
        ar = 1 - c["winner"]["cost"]["area_mm2"] / c["snasnet"]["area_mm2"]
        L.append("")
        L.append(
            f"Against SNASNet's macro: energy {e * 100:.1f} % saved (NeuroNAS: 84 %, "
            f"{'reached' if e >= 0.84 else 'not reached'}), area {ar * 100:.1f} % (NeuroNAS: "
            f"92 %, {'reached' if ar >= 0.92 else 'not reached'}); without CIFAR data there is "
            "no accuracy here, so this is a cost comparison only, not one at equal accuracy. "
            "No warm-up pass at these shapes (it would cost as much as the baseline): both "
            "orders pay torch's first call on each new shape."
        )
    L.append("")
    L.append(
        "SNASNet's released network as an IR architecture, the macro of its code "
        "(`model_snn.py`): stem conv3x3 3 -> 128, cell (128, 32x32), conv3x3 128 -> 256 "
        "**with stride 2 where SNASNet has conv3x3 then avgpool 2** (the space's down layer; "
        "the IR has no pooling edge), cell (256, 16x16), SNASNet's second avgpool 2 as a "
        "**fixed 2x2 sum-pool edge** (2-bit fixed weights, as the space prices avgpool3x3), "
        "FC 16,384 -> 1024, FC 1024 -> 100 (its population output); T = 5, 8-bit weights, "
        "the default chip. Both cells are the forward edges of its released genotype "
        f"(README: `--cnt_mat {SNASNET_CNT_MAT}`, the pretrained CIFAR-100 network), "
        f"`{SNASNET_CELL}`; its backward edge 2 -> 0 (conv3x3, to the next timestep) is "
        "left out: the IR has no recurrent edge. SNASNet reports about 19.5 M parameters "
        f"for its CIFAR-10 network; this one holds {c['snasnet']['params'] / 1e6:.2f} M "
        "(fixed pool weights included; the left-out backward edges would add 0.74 M). "
        f"Priced in {c['snasnet_price_s'] * 1e3:.2f} ms."
    )
    L += ["", "### 5. Cost per candidate, score per candidate, candidates per second", ""]
    L.append(
        "| run | priced | cost per candidate (median) | scored | score per candidate "
        "(median) | candidates per second (wall) |"
    )
    L.append("|---|---|---|---|---|---|")
    runs = [(f"digits, {_budget(r['budget'])}", r["timing"]) for r in res["speedup"]]
    runs.append(("CIFAR-10 shapes, HASNAS budget, spikesim", c["timing"]))
    for label, t in runs:
        L.append(
            f"| {label} | {t['priced']} | {_n(t['cost_us_median'], 3)} us | {t['scored']} | "
            f"{_n(t['score_ms_median'], 3)} ms | {_n(t['per_second'], 3)} |"
        )
    L.append("")
    worst = max(t["cost_us_median"] for _l, t in runs)
    L.append(
        f"Target < 1 ms per priced candidate: {'met' if worst < 1000 else 'not met'} "
        f"(largest median {worst:.0f} us)."
    )
    L.append("")
    return "\n".join(L)


def write_doc(text: str, doc: Path) -> None:
    """Replace (or insert before section 9, else append) the benchmark's section."""
    old = doc.read_text()
    if HEADING in old:
        head, rest = old.split(HEADING, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        new = head + text + ("\n" + tail if tail else "")
    elif "\n## 9. " in old:
        head, tail = old.split("\n## 9. ", 1)
        new = head + "\n" + text + "\n## 9. " + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    doc.write_text(new)


def run(s: Settings, quick: bool = False) -> tuple[dict[str, Any], str]:
    """Every study; the results and the rendered section."""
    import torch

    from nas.scoring import resolve_score

    torch.set_num_threads(1)
    start = time.perf_counter()
    _name, score = resolve_score("snasnet", dataset="digits")
    res: dict[str, Any] = {"machine": machine()}
    res["speedup"] = speedup_study(score, s)
    res["samplers"] = sampler_study(score, s)
    res["trained"] = trained_study(res["speedup"], s)
    res["cifar"] = cifar_study(s)
    res["seconds"] = time.perf_counter() - start
    return res, render(res, s, quick)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="a smoke run of about a minute (docs untouched)"
    )
    p.add_argument("--no-write", action="store_true", help="do not touch docs/nas.md")
    p.add_argument("--out", default=str(ROOT / "build" / "nas-bench"))
    p.add_argument(
        "--render",
        metavar="JSON",
        help="render the section from an earlier run's results.json instead of running",
    )
    args = p.parse_args(argv)
    if args.render:
        res = json.loads(Path(args.render).read_text())
        saved = res.get("settings")
        s = (
            Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
            if saved
            else Settings()
        )
        text = render(res, s, bool(res.get("quick", False)))
    else:
        s = Settings.quick() if args.quick else Settings()
        res, text = run(s, args.quick)
        res["settings"], res["quick"] = asdict(s), args.quick
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    print(text)
    if not args.no_write and not args.quick:  # a smoke run never replaces the measured section
        write_doc(text, ROOT / "docs" / "nas.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
