"""The SpinDrop results study: deterministic BNN against BayBNN with MTJ dropout, on one dataset.

For every variant (architecture x dropout setting) and every seed the study trains the network,
evaluates it (clean accuracy, calibration, OOD detection with entropy and mutual information,
accuracy under corruption) and, for the BayBNN variants marked for it, sweeps device variation.
It writes ``results.json`` (everything), ``results.md`` (the tables a person reads) and the
plots into its output directory. Runs go to processes in parallel (one torch thread each).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hdl._io import atomic_write_json, atomic_write_text
from spindrop import plots
from spindrop.data import CORRUPTIONS
from spindrop.dropout import DropoutConfig
from spindrop.evaluation import EvalConfig
from spindrop.experiment import DataConfig, RunConfig, RunDirError, run_evaluate, run_train
from spindrop.models import ModelConfig
from spindrop.training import TrainConfig
from spindrop.variation import SweepConfig

__all__ = ["StudyVariant", "default_variants", "run_study"]


@dataclass(frozen=True)
class StudyVariant:
    """One row of the study.

    Attributes:
        name: row name.
        model: the network.
        sweep: run the device-variation sweep on it (first seed).
        baseline: the deterministic variant this BayBNN is compared with.
        lr: learning rate for this variant (``None``: the study's).
    """

    name: str
    model: ModelConfig
    sweep: bool = False
    baseline: str | None = None
    lr: float | None = None


def default_variants() -> list[StudyVariant]:
    """The variants of the results table (docs/results.md says why these).

    ``mlp``: a trained binary MLP. ``rp``: the same with its first layer a fixed random binary
    projection (``frozen_layers=(0,)``), 2048 wide. ``cnn``: a fixed random binary 3x3
    convolution (32 channels) under a trained classifier; ``cnn2``: two trained binary 3x3
    convolutions, the second on 16 channels, so row (SpinDrop) and channel (Spatial-SpinDrop)
    granularity differ there.
    """
    mlp = ModelConfig(arch="mlp", hidden=(512,), latent_init=1.0)
    rp = ModelConfig(arch="mlp", hidden=(2048,), latent_init=1.0, frozen_layers=(0,))
    rp2 = replace(rp, hidden=(1024, 256))
    cnn = ModelConfig(
        arch="cnn",
        conv_channels=(32,),
        conv_strides=(1,),
        hidden=(256,),
        latent_init=1.0,
        frozen_layers=(0,),
    )
    cnn2 = ModelConfig(
        arch="cnn", conv_channels=(16, 32), conv_strides=(1, 2), hidden=(256,), latent_init=1.0
    )
    hidden = DropoutConfig(p=0.5, placement="hidden")
    return [
        StudyVariant("mlp-bnn", mlp),
        StudyVariant("mlp-baybnn", replace(mlp, dropout=hidden), sweep=True, baseline="mlp-bnn"),
        StudyVariant(
            "mlp-baybnn-all",
            replace(mlp, dropout=DropoutConfig(p=0.2, placement="all")),
            baseline="mlp-bnn",
        ),
        StudyVariant(
            "mlp-baybnn-small-init",
            replace(mlp, latent_init=None, dropout=hidden),
            baseline="mlp-bnn",
        ),
        StudyVariant("rp-bnn", rp),
        StudyVariant("rp-baybnn", replace(rp, dropout=hidden), baseline="rp-bnn"),
        StudyVariant("rp2-bnn", rp2),
        StudyVariant("rp2-baybnn", replace(rp2, dropout=hidden), sweep=True, baseline="rp2-bnn"),
        StudyVariant(
            "rp-snn-t4-baybnn", replace(rp, timesteps=4, dropout=hidden), baseline="rp-bnn"
        ),
        StudyVariant("cnn-bnn", cnn),
        StudyVariant("cnn-baybnn", replace(cnn, dropout=hidden), sweep=True, baseline="cnn-bnn"),
        StudyVariant("cnn2-bnn", cnn2),
        StudyVariant("cnn2-baybnn", replace(cnn2, dropout=hidden), baseline="cnn2-bnn"),
        StudyVariant(
            "cnn2-baybnn-channel",
            replace(cnn2, dropout=replace(hidden, granularity="channel")),
            baseline="cnn2-bnn",
        ),
    ]


def _run_one(args: tuple[RunConfig, str, bool]) -> dict:
    import torch

    torch.set_num_threads(1)
    config, run_dir, sweep = args
    try:
        model, data = run_train(config, run_dir, progress=False)
    except RunDirError as exc:
        raise RunDirError(
            exc.problem,
            "the study's settings changed since that run: delete the study directory "
            f"{Path(run_dir).parent.parent} (or that run) or pass another --out",
        ) from None
    return run_evaluate(config, run_dir, model, data, sweep=sweep, progress=False)


def run_study(
    out: str | Path,
    quick: bool = False,
    workers: int = 1,
    progress: bool = True,
    seeds: tuple[int, ...] = (0, 1, 2),
    variants: list[StudyVariant] | None = None,
    data: DataConfig | None = None,
    train: TrainConfig | None = None,
    evaluate: EvalConfig | None = None,
) -> Path:
    """Run every variant for every seed; write results.json, results.md and plots.

    Returns the path of results.md.
    """
    out = Path(out)
    variants = variants or default_variants()
    data = data or DataConfig()
    train = train or TrainConfig(epochs=60)
    evaluate = evaluate or EvalConfig(mc_samples=30)
    sweep_config = SweepConfig()
    if quick:
        seeds = seeds[:1]
        train = replace(train, epochs=2)
        evaluate = replace(evaluate, mc_samples=3, severities=(1, 5))
        sweep_config = SweepConfig(
            sigma_ic0_rel=(0.0, 0.05), sigma_delta_rel=(0.0,), temperatures_c=(25.0,), chips=1
        )
    jobs = []
    for variant in variants:
        for seed in seeds:
            config = RunConfig(
                name=f"{variant.name}-s{seed}",
                seed=seed,
                data=data,
                model=variant.model,
                train=replace(train, seed=seed, lr=variant.lr or train.lr),
                evaluate=evaluate,
                variation=sweep_config,
            )
            jobs.append(
                (config, str(out / "runs" / config.name), variant.sweep and seed == seeds[0])
            )
    bar = tqdm(total=len(jobs), desc="study", unit="run", disable=not progress)
    reports: list[dict] = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for report in pool.map(_run_one, jobs):
                reports.append(report)
                bar.update()
    else:
        for job in jobs:
            reports.append(_run_one(job))
            bar.update()
    bar.close()
    by_variant: dict[str, list[dict]] = {v.name: [] for v in variants}
    for (config, _, _), report in zip(jobs, reports, strict=True):
        by_variant[config.name.rsplit("-s", 1)[0]].append(report)
    summary = summarize(variants, by_variant, seeds, data, train, evaluate)
    atomic_write_json(out / "results.json", {"summary": summary, "reports": by_variant})
    _plots(out, variants, by_variant, evaluate)
    path = atomic_write_text(out / "results.md", render_markdown(summary))
    return path


def _mean_std(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=0)),
        "values": [float(v) for v in arr],
    }


def summarize(variants, by_variant, seeds, data, train, evaluate) -> dict:
    """Mean and spread over seeds of every headline number, per variant."""
    rows = []
    for variant in variants:
        reports = by_variant[variant.name]
        row: dict = {
            "variant": variant.name,
            "bayesian": variant.model.bayesian,
            "baseline": variant.baseline,
            "model": _describe(variant.model),
            "accuracy": _mean_std([r["accuracy"] for r in reports]),
            "ece": _mean_std([r["ece"] for r in reports]),
            "ood": {},
            "corruption": {},
        }
        measures = ["entropy", "mutual_information"] if variant.model.bayesian else ["entropy"]
        for measure in measures:
            row["ood"][measure] = {
                name: {
                    key: _mean_std([r["ood"][measure][name][key] for r in reports])
                    for key in ("auroc", "detection_rate", "fpr_at_95_tpr")
                }
                for name in reports[0]["ood"][measure]
            }
        for kind in reports[0].get("corruption", {}):
            per_severity = np.array([r["corruption"][kind] for r in reports])
            row["corruption"][kind] = {
                "mean": per_severity.mean(0).tolist(),
                "std": per_severity.std(0).tolist(),
            }
        sweeps = [r["variation"] for r in reports if "variation" in r]
        if sweeps:
            row["variation"] = sweeps[0]
        rows.append(row)
    return {
        "dataset": data.dataset,
        "seeds": list(seeds),
        "epochs": train.epochs,
        "mc_samples": evaluate.mc_samples,
        "percentile": evaluate.percentile,
        "severities": [0, *evaluate.severities],
        "rows": rows,
    }


def _describe(model: ModelConfig) -> str:
    if model.arch == "mlp":
        body = "MLP " + "-".join(str(h) for h in model.hidden)
    else:
        convs = ",".join(
            f"{c}/s{s}" for c, s in zip(model.conv_channels, model.conv_strides, strict=True)
        )
        body = f"CNN conv3x3[{convs}] fc{'-'.join(str(h) for h in model.hidden)}"
    if model.frozen_layers:
        body += f" (frozen layers {list(model.frozen_layers)})"
    if model.timesteps > 1:
        body += f", LIF T={model.timesteps}"
    d = model.dropout
    if d.enabled:
        body += f", MTJ dropout p={d.p} {d.placement} {d.granularity}"
    return body


def _fmt(stat: dict, scale: float = 100.0, digits: int = 1) -> str:
    if len(stat["values"]) == 1:
        return f"{stat['mean'] * scale:.{digits}f}"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"


def render_markdown(summary: dict) -> str:
    """The study's tables as Markdown."""
    rows = summary["rows"]
    n = len(summary["seeds"])
    lines = [
        f"# SpinDrop study on `{summary['dataset']}`",
        "",
        f"Mean ± standard deviation over {n} seed(s) {summary['seeds']}; "
        f"{summary['epochs']} epochs; "
        f"{summary['mc_samples']} Monte-Carlo samples per input for BayBNNs; OOD threshold at the "
        f"{summary['percentile']:g}th percentile of in-distribution validation uncertainty.",
        "",
        "## Clean accuracy and calibration",
        "",
        "| variant | model | accuracy % | Δ vs BNN (points) | ECE % |",
        "|---|---|---|---|---|",
    ]
    by_name = {r["variant"]: r for r in rows}
    for r in rows:
        delta = ""
        if r["baseline"] in by_name:
            delta = (
                f"{(r['accuracy']['mean'] - by_name[r['baseline']]['accuracy']['mean']) * 100:+.1f}"
            )
        lines.append(
            f"| {r['variant']} | {r['model']} | {_fmt(r['accuracy'])} | {delta} "
            f"| {_fmt(r['ece'])} |"
        )
    for measure in ("entropy", "mutual_information"):
        sets = next((list(r["ood"][measure]) for r in rows if measure in r["ood"]), [])
        if not sets:
            continue
        lines += [
            "",
            f"## OOD detection with {measure.replace('_', ' ')}: "
            "detected % at the threshold (AUROC)",
            "",
            "| variant | " + " | ".join(sets) + " |",
            "|---|" + "---|" * len(sets),
        ]
        for r in rows:
            if measure not in r["ood"]:
                continue
            stats = [r["ood"][measure][s] for s in sets]
            cells = [f"{_fmt(t['detection_rate'])} ({_fmt(t['auroc'], 1, 3)})" for t in stats]
            lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    kinds = [k for k in CORRUPTIONS if any(k in r["corruption"] for r in rows)]
    if kinds:
        sev = summary["severities"]
        lines += [
            "",
            "## Accuracy % under corruption (severity " + ", ".join(map(str, sev)) + ")",
            "",
        ]
        lines += ["| variant | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for r in rows:
            cells = [
                " / ".join(f"{a * 100:.1f}" for a in r["corruption"][k]["mean"]) for k in kinds
            ]
            lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
        gains = []
        for r in rows:
            base = by_name.get(r["baseline"]) if r["baseline"] else None
            if base is None:
                continue
            for k in kinds:
                diff = np.array(r["corruption"][k]["mean"]) - np.array(
                    base["corruption"][k]["mean"]
                )
                gains.append(
                    f"| {r['variant']} vs {r['baseline']} | {k} | "
                    + " / ".join(f"{d * 100:+.1f}" for d in diff)
                    + " |"
                )
        if gains:
            lines += [
                "",
                "Gain of BayBNN over its BNN (points, per severity):",
                "",
                "| comparison | corruption | gain |",
                "|---|---|---|",
                *gains,
            ]
    for r in rows:
        if "variation" not in r:
            continue
        v = r["variation"]
        det_keys = [k for k in v["rows"][0] if k.startswith("detect:")]
        lines += [
            "",
            f"## Device variation: {r['variant']} (threshold fixed at nominal, {v['measure']})",
            "",
            "| driver | σ(Ic0)/Ic0 | σ(Δ)/Δ | T (°C) | mean p | accuracy % | "
            + " | ".join(f"{k[7:]} detected %" for k in det_keys)
            + " | in-dist flagged % |",
            "|---|---|---|---|---|---|" + "---|" * len(det_keys) + "---|",
        ]
        for p in v["rows"]:
            cells = [f"{p[k] * 100:.1f}" for k in det_keys]
            lines.append(
                f"| {p['driver']} | {p['sigma_ic0_rel'] * 100:g}% "
                f"| {p['sigma_delta_rel'] * 100:g}% "
                f"| {p['temperature_c']:g} | "
                f"{p['mean_p']:.3f} | {p['accuracy'] * 100:.1f} | "
                + " | ".join(cells)
                + f" | {p['in_flagged'] * 100:.1f} |"
            )
        lines.append("")
        for driver in dict.fromkeys(p["driver"] for p in v["rows"]):
            rows_d = [p for p in v["rows"] if p["driver"] == driver]
            accs = [p["accuracy"] for p in rows_d]
            dets = [p[k] for p in rows_d for k in det_keys]
            nominal = min(
                rows_d,
                key=lambda p: (
                    p["sigma_ic0_rel"],
                    p["sigma_delta_rel"],
                    abs(p["temperature_c"] - 25.0),
                ),
            )
            lines.append(
                f"- {driver} driver: accuracy {min(accs) * 100:.1f} .. {max(accs) * 100:.1f} % "
                f"(nominal {nominal['accuracy'] * 100:.1f} %), noise detection "
                f"{min(dets) * 100:.1f} .. {max(dets) * 100:.1f} %."
            )
    return "\n".join(lines) + "\n"


def _plots(out: Path, variants, by_variant, evaluate: EvalConfig) -> None:
    corruption = {
        v.name: by_variant[v.name][0]["corruption"]
        for v in variants
        if "corruption" in by_variant[v.name][0]
    }
    if corruption:
        plots.plot_corruption_accuracy(
            corruption,
            [0, *evaluate.severities],
            out / "corruption.png",
            title="accuracy under corruption (seed 0)",
        )
