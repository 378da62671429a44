from __future__ import annotations

import math
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.golden import lif as golden_lif
from hdl.hwconfig import HardwareConfig
from hdl.ir import Edge, InputSpec, Layer, Network, Neuron
from hdl.mapping import map_network
from hdl.rtl import RTLError, emit_verilog
from hdl.rtl.lif_array import LIFArray, lif_array_verilog

# (neurons, units, unit parameters)
CONFIGS = [
    # units do not divide neurons: the last group has 2 padding lanes
    (10, 4, dict(membrane_bits=8, current_bits=6, threshold_bits=7, leak_shift=2)),
    (12, 3, dict(membrane_bits=16, current_bits=12, threshold_bits=15, leak_shift=4, reset="zero")),
    # more units than neurons: one group, consecutive timesteps go through the bypass
    (5, 8, dict(membrane_bits=6, current_bits=8, threshold_bits=3, leak_shift=None)),
    (7, 1, dict(membrane_bits=8, current_bits=4, threshold_bits=7, leak_shift=16, reset="zero")),
    (9, 2, dict(membrane_bits=10, current_bits=10, threshold_bits=9, leak_shift=1)),
]
IDS = [f"n{n}-u{u}-m{p['membrane_bits']}-{p.get('reset', 'subtract')}" for n, u, p in CONFIGS]


def pack(values: list[int], bits: int) -> int:
    word = 0
    for i, x in enumerate(values):
        word |= (x & ((1 << bits) - 1)) << (i * bits)
    return word


def unpack(word: int, bits: int, lanes: int, signed: bool) -> list[int]:
    out = []
    for i in range(lanes):
        x = (word >> (i * bits)) & ((1 << bits) - 1)
        out.append(x - (1 << bits) if signed and x >> (bits - 1) else x)
    return out


def run_array(dut: LIFArray, steps: list[tuple[int, int, list[int]] | None]) -> list[tuple]:
    """Present one step (group, first, lane currents) or an idle cycle (None) per cycle.

    Returns ``(out_valid, out_group, spikes, membranes)`` sampled after each clock edge.
    """
    u, cb, mb = dut.units, dut.current_bits, dut.membrane_bits
    got: list[tuple] = []

    async def bench(ctx) -> None:
        for step in steps:
            if step is None:
                ctx.set(dut.valid, 0)
                ctx.set(dut.group, 0)
                ctx.set(dut.first, 0)
                ctx.set(dut.currents, 0)
            else:
                group, first, currents = step
                ctx.set(dut.valid, 1)
                ctx.set(dut.group, group)
                ctx.set(dut.first, first)
                ctx.set(dut.currents, pack(currents, cb))
            await ctx.tick()
            got.append(
                (
                    ctx.get(dut.out_valid),
                    ctx.get(dut.out_group),
                    unpack(ctx.get(dut.spikes), 1, u, signed=False),
                    unpack(ctx.get(dut.membranes), mb, u, signed=True),
                )
            )

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize(("neurons", "units", "p"), CONFIGS, ids=IDS)
def test_samples_and_timesteps_match_golden_lif(neurons: int, units: int, p: dict) -> None:
    """Several samples of several timesteps, idle cycles in between, groups in random order."""
    samples, timesteps = 3, 6
    rng = np.random.default_rng(neurons * 100 + units)
    order = random.Random(neurons)
    cb, tb = p["current_bits"], p["threshold_bits"]
    current = rng.integers(-(2 ** (cb - 1)), 2 ** (cb - 1), size=(samples, 1, timesteps, neurons))
    # thresholds low enough that neurons fire, and some at 0
    theta = rng.integers(0, min(2**tb, 2 ** (cb - 1) + 2), size=neurons)
    spikes, membranes = golden_lif(
        current, theta, p.get("leak_shift"), p.get("reset", "subtract"), p["membrane_bits"]
    )
    dut = LIFArray(neurons=neurons, units=units, thresholds=theta, **p)
    groups = dut.groups
    steps: list[tuple[int, int, list[int]] | None] = []
    where: list[tuple[int, int, int] | None] = []  # (sample, t, group) of each presented step
    for s in range(samples):
        for t in range(timesteps):
            for g in order.sample(range(groups), groups):
                lanes = [
                    int(current[s, 0, t, n]) if n < neurons else order.randint(-3, 3)
                    for n in range(g * units, (g + 1) * units)
                ]
                steps.append((g, int(t == 0), lanes))
                where.append((s, t, g))
                if order.random() < 0.3:
                    steps.append(None)
                    where.append(None)
    steps.append(None)
    where.append(None)
    got = run_array(dut, steps)

    got_s = np.full(spikes.shape, -1, dtype=np.int64)
    got_v = np.full(membranes.shape, -1, dtype=np.int64)
    for k, w in enumerate(where):
        out_valid, out_group, sp, mv = got[k]  # after the edge that registered step k
        assert out_valid == int(w is not None), f"cycle {k}"
        if w is None:
            continue
        s, t, g = w
        assert out_group == g
        for i in range(units):
            n = g * units + i
            if n < neurons:
                got_s[s, 0, t, n], got_v[s, 0, t, n] = sp[i], mv[i]
            else:  # padding lanes of the last group
                assert (sp[i], mv[i]) == (0, 0)
    np.testing.assert_array_equal(got_v, membranes)
    np.testing.assert_array_equal(got_s, spikes)
    assert spikes.any() and not spikes.all()


def test_first_clears_the_state_back_to_back() -> None:
    """One group, timestep 0 of a new sample right after a step that left v and S_prev set."""
    p = dict(membrane_bits=8, current_bits=8, threshold_bits=7, leak_shift=None)
    dut = LIFArray(neurons=2, units=2, thresholds=[10, 100], **p)
    steps = [(0, 1, [50, 60]), (0, 0, [1, 1]), (0, 1, [3, 4]), (0, 0, [5, 5])]
    got = run_array(dut, steps)
    # no leak, reset by subtraction: 50 fires (θ 10); 50 + 1 - 10 = 41; then cleared: 3, 4
    assert [(g[2], g[3]) for g in got] == [
        ([1, 0], [50, 60]),
        ([1, 0], [41, 61]),
        ([0, 0], [3, 4]),
        ([0, 0], [8, 9]),
    ]


@pytest.mark.parametrize(("neurons", "units"), [(10, 4), (128, 16), (10, 16), (16, 16), (7, 1)])
def test_layer_update_cycles_equal_the_mapping(neurons: int, units: int) -> None:
    p = dict(membrane_bits=8, current_bits=6, threshold_bits=7)
    dut = LIFArray(neurons=neurons, units=units, thresholds=[1] * neurons, **p)
    net = Network(
        name="array",
        input=InputSpec((1, 4, 4), bits=1),
        layers=(
            Layer("hidden", (Edge("linear", "input"),), (neurons,), Neuron()),
            Layer("out", (Edge("linear", "hidden"),), (2,)),
        ),
        timesteps=2,
    ).validate()
    mapped = map_network(net, HardwareConfig(lif_units=units))
    hidden = next(layer for layer in mapped.layers if layer.name == "hidden")
    assert dut.update_cycles == hidden.update_cycles == math.ceil(neurons / units)
    assert dut.layer_cycles == dut.update_cycles + 1 == dut.groups + dut.latency

    # one layer update issued in consecutive cycles: results in the `groups` following cycles
    groups = dut.groups
    steps = [(g, 1, [0] * units) for g in range(groups)] + [None] * 3
    got = run_array(dut, steps)
    valid_cycles = [k + 1 for k, g in enumerate(got) if g[0]]  # cycle k + 1 follows edge k
    assert valid_cycles == list(range(1, groups + 1))
    assert [got[c - 1][1] for c in valid_cycles] == list(range(groups))
    # from the first step (cycle 0) to the last out_valid (cycle groups) inclusive
    assert valid_cycles[-1] + 1 == dut.layer_cycles


def test_verilog_is_deterministic_and_declares_the_ports() -> None:
    p = dict(
        neurons=10, units=4, thresholds=list(range(10)), membrane_bits=8, current_bits=6,
        threshold_bits=7, leak_shift=2,
    )  # fmt: skip
    a, b = lif_array_verilog(**p), lif_array_verilog(**p)
    assert a == b
    assert "module lif_array(" in a
    for port, width in [("currents", 24), ("spikes", 4), ("membranes", 32), ("out_group", 2)]:
        assert f"[{width - 1}:0] {port};" in a
    assert "src =" not in a
    assert lif_array_verilog(name="neurons_l1", **p).count("module neurons_l1(") == 1
    assert lif_array_verilog(**dict(p, thresholds=[1] * 10)) != a


GOOD = dict(
    neurons=6, units=4, thresholds=[1] * 6, membrane_bits=8, current_bits=6, threshold_bits=7
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(neurons=0), "LIF array neurons must be an integer in 1..1048576, got 0"),
        (dict(neurons=6.0), "LIF array neurons must be an integer in 1..1048576, got 6.0"),
        (dict(units=0), "LIF array units must be an integer in 1..4096, got 0"),
        (dict(units=True), "LIF array units must be an integer in 1..4096, got True"),
        (dict(thresholds=[1] * 5), "LIF array thresholds must have 6 entries (one per neuron)"),
        (dict(thresholds=[1] * 5 + [128]), "LIF array thresholds[5] must be an integer in 0..127"),
        (dict(thresholds=[1] * 5 + [-1]), "LIF array thresholds[5] must be an integer in 0..127"),
        (dict(thresholds=[1.5] * 6), "LIF array thresholds[0] must be an integer"),
        (dict(thresholds=7), "LIF array thresholds must be a sequence of integers"),
        (dict(membrane_bits=1), "LIF membrane_bits must be an integer in 2..32, got 1"),
        (dict(threshold_bits=8), "LIF threshold_bits must be an integer in 1..7, got 8"),
        (dict(leak_shift=0), "LIF leak_shift must be an integer in 1..16, got 0"),
        (dict(reset="hard"), "LIF reset must be one of ['subtract', 'zero'], got 'hard'"),
    ],
)
def test_bad_parameters_are_refused(change: dict, message: str) -> None:
    with pytest.raises(RTLError) as info:
        LIFArray(**{**GOOD, **change})
    assert str(info.value).startswith(message)
    with pytest.raises(RTLError, match=next(iter(change))):
        lif_array_verilog(**{**GOOD, **change})


def test_numpy_thresholds_are_accepted() -> None:
    dut = LIFArray(**{**GOOD, "thresholds": np.arange(6, dtype=np.int16)})
    assert dut.params["thresholds"] == list(range(6))
    assert all(type(x) is int for x in dut.thresholds)
    assert "module lif_array(" in emit_verilog(dut, name="lif_array")
