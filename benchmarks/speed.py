"""Speed of the learning side: mask generation, device model, training, Monte-Carlo inference.

Usage:  scripts/run python benchmarks/speed.py
Writes docs/benchmarks.md (a table, with the machine it ran on). Best of 3 repetitions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from hdl import DropoutSpec, Edge, InputSpec, Layer, MTJDevice, MTJDropoutBank, Network, Neuron
from hdl._io import atomic_write_text
from hdl.golden import run as golden_run
from spindrop.data import load_dataset
from spindrop.dropout import DropoutConfig
from spindrop.inference import mc_probabilities
from spindrop.integer_model import run_integer
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    rows: list[tuple[str, str, str]] = []

    bank = MTJDropoutBank(p=0.5, n_modules=64, seed=0)
    t = best_of(lambda: bank.draw(1000, 4096))
    rows.append(
        (
            "MTJ mask bits, 64 modules, 1000 x 4096",
            f"{t * 1e3:.1f} ms",
            f"{4.096e6 / t / 1e6:.0f} Mbit/s",
        )
    )

    device = MTJDevice()
    currents = np.linspace(50.0, 99.0, 1_000_000)
    t = best_of(lambda: device.switching_probability(currents, 10.0))
    rows.append(("P_sw(I) for 1e6 currents", f"{t * 1e3:.1f} ms", f"{1e6 / t / 1e6:.0f} M/s"))

    train_set = load_dataset("digits", split="train")
    test_set = load_dataset("digits", split="test")
    models = {
        "MLP 64-512-10, p=0.5": ModelConfig(hidden=(512,), dropout=DropoutConfig(p=0.5)),
        "CNN 16-32 + fc256, p=0.5": ModelConfig(
            arch="cnn", hidden=(256,), dropout=DropoutConfig(p=0.5)
        ),
        "MLP 64-512-10, LIF T=4, p=0.5": ModelConfig(
            hidden=(512,), timesteps=4, dropout=DropoutConfig(p=0.5)
        ),
    }
    for name, config in models.items():
        model = BayesianBinaryNet(config, train_set.shape, 10, seed=0)
        t = best_of(lambda m=model: train(m, train_set, TrainConfig(epochs=1), progress=False))
        rows.append(
            (
                f"train one epoch on digits ({len(train_set)} images): {name}",
                f"{t:.2f} s",
                f"{len(train_set) / t:.0f} img/s",
            )
        )
        t = best_of(lambda m=model: mc_probabilities(m, test_set.x, 30))
        n = len(test_set) * 30
        rows.append(
            (
                f"MC inference, 30 samples x {len(test_set)} images: {name}",
                f"{t:.2f} s",
                f"{n / t:.0f} img-samples/s",
            )
        )

    rng = np.random.default_rng(0)
    mnist_mlp = Network(
        "784-256-10",
        InputSpec((1, 28, 28), bits=8),
        (
            Layer(
                "fc1",
                (
                    Edge(
                        "linear",
                        "input",
                        weight=rng.choice([-1, 1], (256, 784)),
                        dropout=DropoutSpec(0.3, modules=64),
                    ),
                ),
                (256,),
                neuron=Neuron(threshold=np.full(256, 40)),
            ),
            Layer("out", (Edge("linear", "fc1", weight=rng.choice([-1, 1], (10, 256))),), (10,)),
        ),
        timesteps=4,
    ).validate()
    x = rng.integers(0, 256, (100, 1, 28, 28))
    t = best_of(lambda: golden_run(mnist_mlp, x, samples=4, mtj_seed=0))
    rows.append(
        (
            "golden model, binary MLP 784-256-10, 100 images x T=4 x 4 samples, MTJ masks",
            f"{t * 1e3:.0f} ms",
            f"{400 / t:.0f} image-samples/s",
        )
    )
    masks = {"fc1.0": rng.random((4, 100, 784)) > 0.3}
    t = best_of(lambda: run_integer(mnist_mlp, x, samples=4, masks=masks))
    rows.append(
        (
            "quantized torch model, the same network and masks",
            f"{t * 1e3:.0f} ms",
            f"{400 / t:.0f} image-samples/s",
        )
    )

    lines = [
        "# Benchmarks",
        "",
        f"Produced by `scripts/run python benchmarks/speed.py` on: {machine()}.",
        "Best of 3 repetitions, one torch thread.",
        "",
        "| what | time | rate |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "The cost model's timings are in [cost-model.md](cost-model.md#speed); the 28x28",
        "results, with their run times, are in [results-28x28.md](results-28x28.md);",
        "the digits study (`scripts/run neurocim study`) takes the time given in",
        "[results.md](results.md).",
        "",
    ]
    atomic_write_text(ROOT / "docs" / "benchmarks.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
