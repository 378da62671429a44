"""The proof over many random networks: 100 seeds of :func:`sim.netgen.random_network`, each
generated, simulated on Icarus and compared with the golden model bit for bit (outputs, spikes
of every layer and timestep, event counters, MTJ masks) with busy cycles equal to the
schedule's, every combination of the schedule options among them."""

from __future__ import annotations

import itertools
from dataclasses import fields
from pathlib import Path

import pytest
from test_sim_accelerator import check

from hdl.hwconfig import HardwareConfig
from hdl.mapping import map_network, schedule
from sim.netgen import random_images, random_network

SEEDS = range(100)
SAMPLES = 2

#: The boolean schedule options of the hardware (pipelined ADCs, double-buffered masks, ...);
#: ``stream_while_busy`` changes the input stream, not the schedule, and ``pipeline_samples``
#: (drawn last) is not in every combination of 100 seeds: both covered on their own.
OPTIONS = tuple(
    f.name
    for f in fields(HardwareConfig)
    if isinstance(f.default, bool) and f.name not in ("stream_while_busy", "pipeline_samples")
)


def _features(seed: int) -> dict[str, object]:
    net, hw = random_network(seed)
    edges = [e for layer in net.layers for e in layer.edges]
    return {
        "options": tuple(getattr(hw, o) for o in OPTIONS),
        "encoding": net.input.encoding,
        "stream": hw.stream_while_busy,
        "samples": hw.pipeline_samples,
        "pipelined_samples": map_network(net, hw).samples_pipelined,
        "samples_dropout": map_network(net, hw).samples_pipelined
        and any(e.dropout is not None for e in edges),
        "k": hw.pixels_per_transfer,
        "conv": any(e.kind == "conv2d" for e in edges),
        "skip": any(not e.weighted for e in edges),
        "sources": {e.dropout.source for e in edges if e.dropout is not None},
        "dac": hw.input_dac_bits > 1 and net.input.encoding == "direct",
    }


def test_the_seeds_cover_every_option_combination() -> None:
    """Every on/off combination of the schedule options is drawn, and so are both input
    codings, convolutions, skip edges, both dropout sources and digit word lines
    (``input_dac_bits > 1`` on a direct input)."""
    drawn = [_features(s) for s in SEEDS]
    combos = {d["options"] for d in drawn}
    assert combos == set(itertools.product((False, True), repeat=len(OPTIONS))), (
        f"combinations of {OPTIONS} missing: "
        f"{set(itertools.product((False, True), repeat=len(OPTIONS))) - combos}"
    )
    assert {d["encoding"] for d in drawn} == {"direct", "rate"}
    assert {d["stream"] for d in drawn} == {False, True}
    assert {d["samples"] for d in drawn} == {False, True}
    assert any(d["pipelined_samples"] for d in drawn)  # and in effect, with dropout too
    assert any(d["samples_dropout"] for d in drawn)
    assert {d["k"] for d in drawn} == {1, 3, 8}
    assert any(d["conv"] for d in drawn) and any(d["skip"] for d in drawn)
    assert set().union(*(d["sources"] for d in drawn)) == {"mtj", "lfsr"}
    assert any(d["dac"] for d in drawn)  # multi-bit word-line DACs on a direct input


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_on_icarus_equals_the_golden_model(seed: int, tmp_path: Path) -> None:
    net, hw = random_network(seed)
    run, _ = check(
        net, hw, random_images(net, 1, seed), SAMPLES, tmp_path, mtj_seed=seed, amaranth=False
    )
    assert run.cycles == [schedule(net, hw, SAMPLES).cycles]
    assert run.errors == []
