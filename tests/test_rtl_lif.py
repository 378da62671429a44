from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module
from amaranth.sim import Simulator

from hdl.golden import lif as golden_lif
from hdl.rtl import LIFUnit, RTLError, lif_verilog

Vector = tuple[int, int, int, int]  # (v, s_prev, current, threshold)

PARAM_SETS = [
    dict(membrane_bits=8, current_bits=6, threshold_bits=7, leak_shift=2, reset="subtract"),
    dict(membrane_bits=16, current_bits=12, threshold_bits=15, leak_shift=4, reset="zero"),
    # current wider than the membrane: both saturation ends are reached often
    dict(membrane_bits=6, current_bits=8, threshold_bits=3, leak_shift=None, reset="subtract"),
    # a shift as wide as the membrane and more: leak(v) = v + 1 for negative v
    dict(membrane_bits=8, current_bits=4, threshold_bits=7, leak_shift=16, reset="zero"),
    dict(membrane_bits=32, current_bits=32, threshold_bits=31, leak_shift=1, reset="subtract"),
]
IDS = [
    "m{membrane_bits}-i{current_bits}-t{threshold_bits}-l{leak_shift}-{reset}".format(**p)
    for p in PARAM_SETS
]


def reference(v: int, s_prev: int, current: int, threshold: int, p: dict) -> tuple[int, int]:
    """docs/hardware-model.md section 2, restated here with Python integers."""
    lo, hi = -(2 ** (p["membrane_bits"] - 1)), 2 ** (p["membrane_bits"] - 1) - 1
    if p["reset"] == "zero":
        v = v * (1 - s_prev)
    if p["leak_shift"] is not None:
        v = v - (v >> p["leak_shift"])
    v = v + current - (s_prev * threshold if p["reset"] == "subtract" else 0)
    v = min(max(v, lo), hi)
    return v, int(v >= threshold)


def ranges(p: dict) -> tuple[int, int, int, int, int]:
    mb, cb, tb = p["membrane_bits"], p["current_bits"], p["threshold_bits"]
    return -(2 ** (mb - 1)), 2 ** (mb - 1) - 1, -(2 ** (cb - 1)), 2 ** (cb - 1) - 1, 2**tb - 1


def edge_vectors(p: dict) -> list[Vector]:
    v_lo, v_hi, i_lo, i_hi, t_hi = ranges(p)
    vs = sorted(
        x for x in {v_lo, v_lo + 1, -5, -2, -1, 0, 1, 2, v_hi - 1, v_hi} if v_lo <= x <= v_hi
    )
    cs = sorted(x for x in {i_lo, -1, 0, 1, i_hi} if i_lo <= x <= i_hi)
    ts = sorted({0, 1, t_hi // 2, t_hi})
    vectors = [(v, s, c, t) for v in vs for s in (0, 1) for c in cs for t in ts]
    # v equal to θ after the update (and one below): from v = 0 the leak is 0, so v_next = I
    vectors += [(0, 0, t, t) for t in ts if t <= i_hi]
    vectors += [(0, 0, t - 1, t) for t in ts if 1 <= t <= i_hi + 1]
    return vectors


def random_vectors(p: dict, n: int, seed: int) -> list[Vector]:
    v_lo, v_hi, i_lo, i_hi, t_hi = ranges(p)
    rng = random.Random(seed)
    return [
        (
            rng.randint(v_lo, v_hi),
            rng.randint(0, 1),
            rng.randint(i_lo, i_hi),
            rng.randint(0, t_hi),
        )
        for _ in range(n)
    ]


def simulate(
    p: dict, vectors: Sequence[Vector], valid: Sequence[int] | None = None
) -> list[tuple[int, int, int]]:
    """Drive one vector per cycle; ``(v_next, spike, out_valid)`` sampled after each edge."""
    dut = LIFUnit(**p)
    valid = [1] * len(vectors) if valid is None else list(valid)
    got: list[tuple[int, int, int]] = []

    async def bench(ctx) -> None:
        for (v, s, c, t), en in zip(vectors, valid, strict=True):
            ctx.set(dut.v, v)
            ctx.set(dut.s_prev, s)
            ctx.set(dut.current, c)
            ctx.set(dut.threshold, t)
            ctx.set(dut.valid, en)
            await ctx.tick()
            got.append((ctx.get(dut.v_next), ctx.get(dut.spike), ctx.get(dut.out_valid)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("p", PARAM_SETS, ids=IDS)
def test_matches_reference_on_random_and_edge_vectors(p: dict) -> None:
    vectors = edge_vectors(p) + random_vectors(p, 5000, seed=p["membrane_bits"])
    got = simulate(p, vectors)
    for k, (vec, (v_next, spike, out_valid)) in enumerate(zip(vectors, got, strict=True)):
        want = reference(*vec, p)
        assert (v_next, spike, out_valid) == (*want, 1), f"vector {k} {vec}: want {want}"


@pytest.mark.parametrize("p", PARAM_SETS, ids=IDS)
def test_timestep_sequences_match_golden_lif(p: dict) -> None:
    """Feed v_next / spike back as the next timestep's state and compare with hdl.golden.lif."""
    _, _, i_lo, i_hi, t_hi = ranges(p)
    rng = np.random.default_rng(7)
    neurons, steps = 12, 16
    current = rng.integers(i_lo, i_hi + 1, size=(1, 1, steps, neurons), dtype=np.int64)
    theta = rng.integers(1, t_hi + 1, size=neurons, dtype=np.int64)
    spikes, membranes = golden_lif(current, theta, p["leak_shift"], p["reset"], p["membrane_bits"])
    dut = LIFUnit(**p)
    got_v = np.zeros((steps, neurons), dtype=np.int64)
    got_s = np.zeros((steps, neurons), dtype=np.int64)

    async def bench(ctx) -> None:
        ctx.set(dut.valid, 1)
        for n in range(neurons):
            v, s = 0, 0
            for t in range(steps):
                ctx.set(dut.v, v)
                ctx.set(dut.s_prev, s)
                ctx.set(dut.current, int(current[0, 0, t, n]))
                ctx.set(dut.threshold, int(theta[n]))
                await ctx.tick()
                v, s = ctx.get(dut.v_next), ctx.get(dut.spike)
                got_v[t, n], got_s[t, n] = v, s

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    np.testing.assert_array_equal(got_v, membranes[0, 0])
    np.testing.assert_array_equal(got_s, spikes[0, 0])


def test_explicit_values() -> None:
    p = dict(membrane_bits=8, current_bits=8, threshold_bits=7, leak_shift=2, reset="subtract")
    vectors = [
        (-5, 0, 0, 100),  # leak of -5: -5 >> 2 = -2 (toward -inf), so -5 + 2 = -3
        (-1, 0, 0, 100),  # -1 >> 2 = -1: leak(-1) = 0
        (5, 0, 0, 100),  # 5 >> 2 = 1: 4
        (0, 0, 10, 10),  # v == θ fires
        (0, 0, 9, 10),  # one below does not
        (127, 0, 127, 1),  # 127 - 31 + 127 saturates to 127
        (-128, 0, -128, 1),  # -128 + 32 - 128 saturates to -128
        (-128, 1, -128, 127),  # and with the subtraction of θ too
        (20, 1, 0, 10),  # 20 - 5 - 10 = 5
        (-3, 0, 3, 0),  # -3 - (-1) + 3 = 1 >= 0 fires with θ = 0
        (-3, 0, 1, 0),  # -3 + 1 + 1 = -1: a negative membrane does not fire
    ]
    want = [(-3, 0), (0, 0), (4, 0), (10, 1), (9, 0), (127, 1), (-128, 0), (-128, 0), (5, 0)]
    want += [(1, 1), (-1, 0)]
    assert [g[:2] for g in simulate(p, vectors)] == want
    z = dict(p, reset="zero")
    # reset to zero: a spiking neuron restarts from 0 before the leak, no subtraction of θ
    assert [g[:2] for g in simulate(z, [(100, 1, 7, 50), (100, 0, 7, 50)])] == [(7, 0), (82, 1)]


def test_valid_timing_hold_and_reset() -> None:
    p = PARAM_SETS[0]
    vectors = [(10, 0, 3, 5), (20, 0, 3, 50), (30, 0, 3, 50), (1, 0, 1, 1)]
    got = simulate(p, vectors, valid=[1, 0, 0, 1])
    v0, s0 = reference(*vectors[0], p)
    v3, s3 = reference(*vectors[3], p)
    # outputs change one edge after valid and hold while valid is low
    assert got == [(v0, s0, 1), (v0, s0, 0), (v0, s0, 0), (v3, s3, 1)]

    dut = LIFUnit(**p)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    seen: list[tuple[int, int, int]] = []

    async def bench(ctx) -> None:
        seen.append((ctx.get(dut.v_next), ctx.get(dut.spike), ctx.get(dut.out_valid)))
        ctx.set(dut.v, 40)
        ctx.set(dut.threshold, 1)
        ctx.set(dut.valid, 1)
        await ctx.tick()
        seen.append((ctx.get(dut.v_next), ctx.get(dut.spike), ctx.get(dut.out_valid)))
        ctx.set(sync.rst, 1)  # the synchronous reset of the sync domain
        await ctx.tick()
        seen.append((ctx.get(dut.v_next), ctx.get(dut.spike), ctx.get(dut.out_valid)))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(0, 0, 0), (reference(40, 0, 0, 1, p)[0], 1, 1), (0, 0, 0)]


def test_verilog_is_deterministic_and_declares_the_ports() -> None:
    p = PARAM_SETS[1]
    a, b = lif_verilog(**p), lif_verilog(**p)
    assert a == b
    assert "module lif_unit(" in a
    for port, width in [("v", 16), ("current", 12), ("threshold", 15), ("v_next", 16)]:
        assert f"[{width - 1}:0] {port};" in a
    assert "src =" not in a  # no source locations: the text depends on the design only
    assert lif_verilog(name="neuron_update", **p).count("module neuron_update(") == 1
    assert lif_verilog(**dict(p, leak_shift=3)) != a


GOOD = dict(membrane_bits=8, current_bits=6, threshold_bits=7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(membrane_bits=1), "LIF membrane_bits must be an integer in 2..32, got 1"),
        (dict(membrane_bits=33), "LIF membrane_bits must be an integer in 2..32, got 33"),
        (dict(membrane_bits=8.0), "LIF membrane_bits must be an integer in 2..32, got 8.0"),
        (dict(membrane_bits=True), "LIF membrane_bits must be an integer in 2..32, got True"),
        (dict(current_bits=0), "LIF current_bits must be an integer in 1..64, got 0"),
        (dict(threshold_bits=8), "LIF threshold_bits must be an integer in 1..7, got 8"),
        (dict(threshold_bits=0), "LIF threshold_bits must be an integer in 1..7, got 0"),
        (dict(leak_shift=0), "LIF leak_shift must be an integer in 1..16, got 0"),
        (dict(leak_shift="2"), "LIF leak_shift must be an integer in 1..16, got '2'"),
        (dict(reset="hard"), "LIF reset must be one of ['subtract', 'zero'], got 'hard'"),
    ],
)
def test_bad_parameters_are_refused(change: dict, message: str) -> None:
    with pytest.raises(RTLError) as info:
        LIFUnit(**{**GOOD, **change})
    assert str(info.value) == message
    with pytest.raises(RTLError, match=next(iter(change))):
        lif_verilog(**{**GOOD, **change})


def test_one_lif_parameter_type_for_the_ir_the_rtl_and_the_models() -> None:
    """The unit, the LIF array and the behavioural model take hdl.lifparams.LIFParams, and
    the IR bounds a neuron's membrane and leak exactly as the type does."""
    import hdl.lifparams as lp
    import sim.models
    from hdl.ir import IRError, Neuron
    from hdl.ir import _validate_neuron as validate
    from hdl.rtl import LIFArray

    assert sim.models.LIFParams is lp.LIFParams
    params = lp.LIFParams(**GOOD, leak_shift=2)
    unit = LIFUnit(**GOOD, leak_shift=2)
    array = LIFArray(neurons=3, units=2, thresholds=[1, 2, 3], **GOOD, leak_shift=2)
    assert unit.lif == params and array.lif == params
    for used in (unit, array):  # elaborated, so no unused-component warning at collection
        Fragment.get(used, None)
    for name, (lo, hi) in (("membrane_bits", lp.MEMBRANE_BITS), ("leak_shift", lp.LEAK_SHIFT)):
        for bad in (lo - 1, hi + 1):
            with pytest.raises(IRError, match=name):
                validate(Neuron(**{name: bad}), "n", 1)
            with pytest.raises(lp.LIFParamError, match=name):
                lp.LIFParams(**{**GOOD, "threshold_bits": 1, name: bad})
        for good in (lo, hi):
            validate(Neuron(**{name: good}), "n", 1)
            lp.LIFParams(**{**GOOD, "threshold_bits": 1, name: good})


def test_refused_units_leave_no_unused_component() -> None:
    import gc
    import warnings

    from amaranth.hdl import UnusedElaboratable

    from hdl.rtl import LIFArray

    lif_verilog(**GOOD)  # Amaranth reports unused components once something was elaborated
    gc.collect()  # only what this test leaves behind counts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RTLError):
            LIFUnit(**{**GOOD, "current_bits": 0})
        with pytest.raises(RTLError):
            LIFArray(neurons=0, units=2, thresholds=[], **GOOD)
        gc.collect()
    ours = [w for w in caught if w.filename == __file__]  # the warning names the creation site
    assert not [w for w in ours if issubclass(w.category, UnusedElaboratable)]


def test_bad_module_name_is_refused() -> None:
    with pytest.raises(RTLError, match="module name must be an identifier"):
        lif_verilog(name="lif unit", **GOOD)
