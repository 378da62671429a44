"""Does SNASNet's training-free score rank architectures by trained accuracy? (not a test)

Draws architectures (seeded), scores each at initialisation with every proxy of
:mod:`nas.score`, trains each with one fixed short budget on scikit-learn's digits (two
initialisation seeds, accuracy averaged), and reports Kendall tau and Spearman rho (scipy.stats)
of every proxy against trained test accuracy.

Usage:  .venv/bin/python benchmarks/nas_score.py [--count 40] [--epochs 4] [--workers 2]
                                                [--space auto|nas|bbn] [--seed 0]
Writes docs/nas-score.md (and the raw rows to build/nas-score/results.json).

Spaces: ``nas`` samples :class:`nas.space.SearchSpace` (dropout fixed off) and trains
:class:`spindrop.graph_model.GraphNet`; ``bbn`` samples :class:`spindrop.models.ModelConfig`
MLPs and CNNs of varied depth, width, weight bits and timesteps; ``auto`` takes ``nas`` when
both modules import.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _machine import machine  # noqa: E402

# proxies: (column, description); "higher is better" for all of them
PROXIES = (
    ("snasnet", "SNASNet's kernel, faithful form (train-mode BN, B = 256, 2 repeats)"),
    ("project", "SNASNet's kernel, project form (calibrated eval-mode BN, seeded, reset)"),
    ("project_eval", "project form with BN at its initial running statistics (0, 1)"),
    ("project_count", "project form with E = N e (the 'count' normalisation)"),
    ("project_b32", "project form with batches of 32 instead of 256"),
    ("naswot", "NASWOT's unnormalised kernel N - H on the same spikes"),
    ("zico", "ZiCo through the STE and the spike surrogate (2 batches of 64)"),
    ("params", "parameter count (crossbar weights)"),
    ("memory_bits", "weight bits x weights"),
    ("log_mean_width", "ln of the mean width N over the kernel's (layer, timestep) terms"),
)


# ----------------------------------------------------------------------------- architectures


def _nas_available() -> bool:
    try:
        import nas.space  # noqa: F401
        from spindrop.graph_model import GraphNet  # noqa: F401
    except Exception:
        return False
    return True


def nas_architectures(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct candidates of the search space (dropout off), drawn from ``seed``."""
    from nas.space import SearchSpace, SpaceConfig

    space = SearchSpace(SpaceConfig(dropout_p=(0.0,)))
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    while len(out) < count:
        cand = space.draw(rng).canonical()
        if cand.key not in out:
            out[cand.key] = {"space": "nas", "candidate": cand.to_dict()}
    return list(out.values())


def bbn_architectures(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct BayesianBinaryNet configurations drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    while len(out) < count:
        arch = str(rng.choice(["mlp", "cnn"]))
        cfg: dict[str, Any] = {
            "arch": arch,
            "weight_bits": int(rng.choice([1, 2, 4, 8])),
            "timesteps": int(rng.choice([1, 2, 4])),
        }
        if arch == "mlp":
            depth = int(rng.integers(1, 4))
            cfg["hidden"] = [int(rng.choice([16, 32, 64, 128, 256])) for _ in range(depth)]
        else:
            depth = int(rng.integers(1, 3))
            cfg["conv_channels"] = [int(rng.choice([4, 8, 16, 32])) for _ in range(depth)]
            cfg["conv_strides"] = [int(rng.choice([1, 2])) for _ in range(depth)]
            cfg["hidden"] = [int(rng.choice([32, 64, 128]))] if rng.random() < 0.7 else []
        key = json.dumps(cfg, sort_keys=True)
        if key not in out:
            out[key] = {"space": "bbn", "config": cfg}
    return list(out.values())


def describe(spec: dict[str, Any]) -> str:
    if spec["space"] == "bbn":
        c = spec["config"]
        body = (
            f"conv{c['conv_channels']}/s{c['conv_strides']}+fc{c['hidden']}"
            if c["arch"] == "cnn"
            else f"fc{c['hidden']}"
        )
        return f"{c['arch']} {body} {c['weight_bits']}b T{c['timesteps']}".replace(" ", "")
    c = spec["candidate"]
    return (
        f"{'|'.join(c['cells'])} C{c['channels']}/{c['down_channels']} H{c['hidden']} "
        f"{c['weight_bits']}b T{c['timesteps']}"
    )


def build(spec: dict[str, Any], seed: int) -> Any:
    """A fresh model of ``spec`` with initial weights from ``seed``."""
    from spindrop.models import BayesianBinaryNet, ModelConfig

    if spec["space"] == "bbn":
        return BayesianBinaryNet(ModelConfig(**spec["config"]), (1, 8, 8), 10, seed=seed)
    from nas.score import graph_model
    from nas.space import Candidate

    cand = Candidate.from_dict(spec["candidate"])
    return graph_model(cand.network((1, 8, 8), 10), seed=seed)


# ----------------------------------------------------------------------------- one architecture


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def evaluate(job: tuple[int, dict[str, Any], int, tuple[int, ...], int]) -> dict[str, Any]:
    """Every proxy at initialisation (model seed ``seeds[0]``), then the trained accuracies."""
    import torch

    torch.set_num_threads(1)
    from nas.score import (
        ScoreConfig,
        naswot,
        param_count,
        snasnet_score,
        traces_for,
        weight_memory_bits,
        zico,
    )
    from spindrop.data import load_digits
    from spindrop.training import TrainConfig, train

    index, spec, epochs, seeds, score_seed = job
    tr, te = load_digits("train"), load_digits("test")
    model = build(spec, seeds[0])
    row: dict[str, Any] = {"index": index, "arch": describe(spec), "spec": spec}
    faithful = ScoreConfig.of("snasnet", seed=score_seed)
    project = ScoreConfig.of("project", seed=score_seed)
    result, row["t_snasnet_s"] = _timed(lambda: snasnet_score(model, tr.x, faithful))
    row["snasnet"] = result.score
    result, row["t_project_s"] = _timed(lambda: snasnet_score(model, tr.x, project))
    row["project"], row["firing_rate"] = result.score, result.firing_rate
    row["project_eval"] = snasnet_score(model, tr.x, ScoreConfig.of("project", bn="eval")).score
    row["project_count"] = snasnet_score(
        model, tr.x, ScoreConfig.of("project", expected="count")
    ).score
    row["project_b32"] = snasnet_score(
        model, tr.x, ScoreConfig.of("project", seed=score_seed, batch_size=32)
    ).score
    row["naswot"] = naswot(model, tr.x, project)
    row["zico"], row["t_zico_s"] = _timed(lambda: zico(model, tr.x, tr.y, seed=score_seed))
    row["params"] = param_count(model)
    row["memory_bits"] = weight_memory_bits(model)
    traces = traces_for(model, tr.x, ScoreConfig.of("project", repeats=1))[0]
    widths = [int(np.prod(t.shape[2:])) for t in traces.values() for _ in range(t.shape[0])]
    row["log_mean_width"] = math.log(float(np.mean(widths)))
    row["layers"] = len(traces)
    accs = []
    start = time.perf_counter()
    for s in seeds:
        net = build(spec, s)
        train(net, tr, TrainConfig(epochs=epochs, batch_size=64, lr=5e-3, seed=s), progress=False)
        net.eval()
        with torch.no_grad():
            pred = net(torch.from_numpy(te.x)).argmax(1).numpy()
        accs.append(float((pred == te.y).mean()))
    row["t_train_s"] = time.perf_counter() - start
    row["accuracies"] = accs
    row["accuracy"] = float(np.mean(accs))
    return row


# ----------------------------------------------------------------------------- statistics


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from scipy import stats

    x = np.where(np.isfinite(x), x, np.nanmin(x[np.isfinite(x)]) - 1.0)
    tau = stats.kendalltau(x, y)
    rho = stats.spearmanr(x, y)
    return {
        "tau": float(tau.statistic),
        "tau_p": float(tau.pvalue),
        "rho": float(rho.statistic),
        "rho_p": float(rho.pvalue),
    }


def rank(x: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.rankdata(np.where(np.isfinite(x), x, -np.inf))


def partial_rho(x: np.ndarray, y: np.ndarray, control: np.ndarray) -> float:
    """Spearman correlation of ``x`` and ``y`` after regressing both ranks on ``control``'s."""
    from scipy import stats

    rc = rank(control)

    def residual(a: np.ndarray) -> np.ndarray:
        ra = rank(a)
        return ra - np.polyval(np.polyfit(rc, ra, 1), rc)

    return float(stats.spearmanr(residual(x), residual(y)).statistic)


def bootstrap(
    cols: dict[str, np.ndarray], acc: np.ndarray, reference: str, n: int = 2000, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """Per proxy: 95 % bootstrap interval of Kendall tau (architectures resampled) and the
    fraction of resamples in which it beats ``reference``'s tau on the same resample."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    draws = {name: [] for name in cols}
    for _ in range(n):
        idx = rng.integers(0, len(acc), len(acc))
        for name, v in cols.items():
            draws[name].append(stats.kendalltau(v[idx], acc[idx]).statistic)
    ref = np.array(draws[reference])
    out = {}
    for name, d in draws.items():
        d = np.array(d)
        out[name] = (
            float(np.nanpercentile(d, 2.5)),
            float(np.nanpercentile(d, 97.5)),
            float(np.nanmean(d > ref)),
        )
    return out


def analyse(rows: list[dict[str, Any]]) -> dict[str, Any]:
    acc = np.array([r["accuracy"] for r in rows])
    cols = {name: np.array([float(r[name]) for r in rows]) for name, _ in PROXIES}
    finite = {
        k: np.where(np.isfinite(v), v, np.nanmin(v[np.isfinite(v)]) - 1.0) for k, v in cols.items()
    }
    table = {name: correlations(v, acc) for name, v in cols.items()}
    boot = bootstrap(finite, acc, "params")
    for name in table:
        lo, hi, beats = boot[name]
        table[name].update(tau_lo=lo, tau_hi=hi, beats_params=beats)
        table[name]["partial_rho"] = (
            float("nan") if name == "params" else partial_rho(finite[name], acc, cols["params"])
        )
    ensembles = {
        "rank(params) + rank(zico)": rank(cols["params"]) + rank(cols["zico"]),
        "rank(params) + rank(project)": rank(cols["params"]) + rank(cols["project"]),
        "rank(params) + rank(project_count)": rank(cols["params"]) + rank(cols["project_count"]),
        "rank(zico) + rank(project)": rank(cols["zico"]) + rank(cols["project"]),
    }
    ens = {name: correlations(v, acc) for name, v in ensembles.items()}
    a = np.array([r["accuracies"] for r in rows])
    ceiling = correlations(a[:, 0], a[:, 1]) if a.shape[1] > 1 else None
    # how much of each kernel score is the width term: rank correlation with ln mean width
    kernels = ("snasnet", "project", "project_eval", "project_count", "project_b32", "naswot")
    width = {name: correlations(cols[name], cols["log_mean_width"]) for name in kernels}
    width["params"] = correlations(cols["params"], cols["log_mean_width"])
    return {"proxies": table, "ensembles": ens, "seed_ceiling": ceiling, "width": width}


# ----------------------------------------------------------------------------- report


def _fmt(c: dict[str, float]) -> str:
    return f"{c['tau']:+.3f} | {c['tau_p']:.1e} | {c['rho']:+.3f} | {c['rho_p']:.1e}"


def report(rows: list[dict[str, Any]], stats: dict[str, Any], args: Any, wall: float) -> str:
    space = rows[0]["spec"]["space"]
    space_text = (
        "`nas.space.SearchSpace` (SNASNet cells, stem / cell / stride-2 down / cell / fc / out, "
        "default choices of channels, hidden width, T and weight bits; dropout fixed off), "
        "each candidate built as `spindrop.graph_model.GraphNet`"
        if space == "nas"
        else "`spindrop.models.BayesianBinaryNet` MLPs (1-3 hidden layers of 16-256) and CNNs "
        "(1-2 convolutions of 4-32 channels, stride 1 or 2, optional fc of 32-128), weight "
        "bits {1, 2, 4, 8}, T {1, 2, 4}"
    )
    acc = np.array([r["accuracy"] for r in rows])
    lines = [
        "# Training-free score: does it rank architectures?",
        "",
        f"Produced by `.venv/bin/python benchmarks/nas_score.py --count {args.count} "
        f"--epochs {args.epochs} --workers {args.workers} --space {args.space} --seed "
        f"{args.seed}` on: {machine()}; {args.workers} processes, {wall:.0f} s wall.",
        "",
        f"- Space: {space_text}; {len(rows)} distinct architectures drawn with seed {args.seed}.",
        f"- Budget (the same for all): {args.epochs} epochs of Adam (lr 5e-3, cosine, batch 64) "
        "on the 1,437 digits training images (8x8), no dropout; accuracy on the 360 test "
        "images, averaged over initialisation seeds "
        f"{list(args.train_seeds)} (range {acc.min():.3f}..{acc.max():.3f}, "
        f"median {np.median(acc):.3f}).",
        "- Proxies at initialisation (model seed of the first training run), all 'higher is "
        "better'; batches from the training images. Kernel scores use B = 256 and 2 repeats.",
        "",
        "## Rank correlation with trained test accuracy",
        "",
        "| proxy | Kendall tau | p | Spearman rho | p | tau 95 % CI | P(tau > params') | "
        "partial rho given params | what it is |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, text in PROXIES:
        c = stats["proxies"][name]
        partial = "-" if name == "params" else f"{c['partial_rho']:+.3f}"
        beats = "-" if name == "params" else f"{c['beats_params']:.2f}"
        lines.append(
            f"| `{name}` | {_fmt(c)} | {c['tau_lo']:+.2f}..{c['tau_hi']:+.2f} | {beats} | "
            f"{partial} | {text} |"
        )
    lines += [
        "",
        "The interval and P(tau > params') come from 2,000 bootstrap resamples of the "
        "architectures (seed 0); the partial rho is the Spearman correlation with accuracy after "
        "both ranks are regressed on the parameter count's rank (what a proxy adds to it).",
    ]
    lines += [
        "",
        "Rank ensembles (sum of ranks):",
        "",
        "| ensemble | Kendall tau | p | Spearman rho | p |",
        "|---|---|---|---|---|",
    ]
    for name, c in stats["ensembles"].items():
        lines.append(f"| {name} | {_fmt(c)} |")
    if stats["seed_ceiling"] is not None:
        c = stats["seed_ceiling"]
        lines += [
            "",
            f"Noise ceiling: the accuracies of the two training seeds rank the architectures "
            f"with Kendall tau {c['tau']:+.3f} (Spearman {c['rho']:+.3f}) against each other; "
            "no proxy can be expected to track one run better than another run does.",
        ]
    lines += [
        "",
        "Rank correlation of each kernel score (and of the parameter count) with the width "
        "term ln(mean N):",
        "",
        "| proxy | Kendall tau | p | Spearman rho | p |",
        "|---|---|---|---|---|",
    ]
    for name, c in stats["width"].items():
        lines.append(f"| `{name}` | {_fmt(c)} |")
    t = {
        k: np.median([r[k] for r in rows]) * 1e3 for k in ("t_snasnet_s", "t_project_s", "t_zico_s")
    }
    lines += [
        "",
        f"Median cost per candidate: faithful score {t['t_snasnet_s']:.0f} ms, project score "
        f"{t['t_project_s']:.0f} ms (includes its calibration pass), ZiCo {t['t_zico_s']:.0f} ms;"
        f" training {np.median([r['t_train_s'] for r in rows]):.1f} s per architecture "
        f"({len(args.train_seeds)} runs).",
        "",
        "{analysis}",
        "",
        "## Every architecture",
        "",
        "| # | architecture | params | acc | accs | snasnet | project | project_count | zico | "
        "firing rate |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        accs = "/".join(f"{a:.3f}" for a in r["accuracies"])
        lines.append(
            f"| {r['index']} | `{r['arch']}` | {r['params']} | {r['accuracy']:.3f} | {accs} | "
            f"{r['snasnet']:.1f} | {r['project']:.1f} | {r['project_count']:.1f} | "
            f"{r['zico']:.1f} | {r['firing_rate']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def analysis_text(stats: dict[str, Any]) -> str:
    """The reading of the numbers (written for the run in docs/nas-score.md)."""
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--space", choices=("auto", "nas", "bbn"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "nas-score.md")
    parser.add_argument("--raw", type=Path, default=ROOT / "build" / "nas-score" / "results.json")
    args = parser.parse_args()
    space = args.space
    if space == "auto":
        space = "nas" if _nas_available() else "bbn"
    specs = (nas_architectures if space == "nas" else bbn_architectures)(args.count, args.seed)
    jobs = [
        (i, spec, args.epochs, tuple(args.train_seeds), args.seed * 1000 + i)
        for i, spec in enumerate(specs)
    ]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(evaluate, jobs):
            rows.append(row)
            print(
                f"[{len(rows)}/{len(jobs)}] {row['arch']}: acc {row['accuracy']:.3f} "
                f"project {row['project']:.1f} zico {row['zico']:.1f} params {row['params']}",
                flush=True,
            )
    wall = time.perf_counter() - start
    stats = analyse(rows)
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    args.raw.write_text(
        json.dumps(
            {
                "rows": rows,
                "stats": stats,
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            },
            indent=1,
        )
    )
    text = report(rows, stats, args, wall).replace("{analysis}", analysis_text(stats))
    args.out.write_text(text)
    print(json.dumps(stats["proxies"], indent=1))
    print(f"wrote {args.out} in {wall:.0f} s")


if __name__ == "__main__":
    main()
