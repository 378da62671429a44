"""Speed of the cost model: one ``estimate`` call for a digits MLP, a small CNN and VGG-9.

Usage:  scripts/run python benchmarks/cost_model.py
Writes the "Speed" section of docs/cost-model.md (a table, with the machine it ran on).
Each figure is the best, over several rounds, of the mean time of one call in a round of many.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from hdl._io import atomic_write_text
from hdl.cost import estimate
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from hdl.mapping import schedule

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cost-model.md"
HEADING = "## Speed"


def digits_mlp() -> Network:
    return Network(
        "digits MLP 64-128-10, T=4",
        InputSpec((1, 8, 8), bits=4),
        (
            Layer(
                "fc1",
                (Edge("linear", "input", dropout=DropoutSpec(0.5, modules=8)),),
                (128,),
                Neuron(),
            ),
            Layer("out", (Edge("linear", "fc1"),), (10,)),
        ),
        timesteps=4,
    ).validate()


def small_cnn() -> Network:
    return Network(
        "small CNN 8x8: conv16-conv32/2-fc10, T=4",
        InputSpec((1, 8, 8), bits=4),
        (
            Layer(
                "c1",
                (Edge("conv2d", "input", kernel=3, padding=1),),
                (16, 8, 8),
                Neuron(),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        kernel=3,
                        stride=2,
                        padding=1,
                        dropout=DropoutSpec(0.3, granularity="channel", modules=4),
                    ),
                ),
                (32, 4, 4),
                Neuron(),
            ),
            Layer("out", (Edge("linear", "c2"),), (10,)),
        ),
        timesteps=4,
    ).validate()


def vgg9() -> Network:
    plan = [(64, 32, 1), (64, 16, 2), (128, 16, 1), (128, 8, 2), (256, 8, 1), (256, 8, 1)]
    plan.append((256, 4, 2))
    layers, src = [], "input"
    for i, (c, h, s) in enumerate(plan, start=1):
        edge = Edge("conv2d", src, weight_bits=8, kernel=3, stride=s, padding=1)
        layers.append(Layer(f"conv{i}", (edge,), (c, h, h), Neuron()))
        src = f"conv{i}"
    fc1 = Edge("linear", src, weight_bits=8, dropout=DropoutSpec(0.2, modules=64))
    layers.append(Layer("fc1", (fc1,), (1024,), Neuron()))
    layers.append(Layer("fc2", (Edge("linear", "fc1", weight_bits=8),), (10,)))
    return Network(
        "VGG-9 CIFAR-10 32x32, 8-bit weights, T=5",
        InputSpec((3, 32, 32), bits=8),
        tuple(layers),
        timesteps=5,
    ).validate()


def best_us(fn: Callable[[], object], number: int = 500, repeat: int = 9) -> float:
    """Best over ``repeat`` rounds of the mean time of one call in ``number`` calls [us]."""
    fn()  # warm caches (MTJ cycle energy, driver cycles)
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    hw = HardwareConfig()
    rows = []
    for net in (digits_mlp(), small_cnn(), vgg9()):
        report = estimate(net, hw)
        rows.append(
            (
                net.name,
                str(len(net.layers)),
                str(report.events["tiles"]),
                f"{best_us(lambda n=net: schedule(n, hw)):.1f}",
                f"{best_us(lambda n=net: estimate(n, hw)):.1f}",
                f"{best_us(lambda n=net: estimate(n, preset='spikesim')):.1f}",
            )
        )
    lines = [
        HEADING,
        "",
        f"Written by `scripts/run python benchmarks/cost_model.py` on: {machine()}.",
        "Time of one call, best of 9 rounds of 500 calls, default `HardwareConfig`.",
        "",
        "| network | layers | tiles | `schedule` [us] | `estimate` default [us] "
        "| `estimate` spikesim [us] |",
        "|---|---|---|---|---|---|",
        *[f"| {' | '.join(r)} |" for r in rows],
        "",
    ]
    section = "\n".join(lines)
    text = DOC.read_text()
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + ("" if nxt < 0 else text[nxt:])
    atomic_write_text(DOC, text)
    print(section)


if __name__ == "__main__":
    main()
