"""Dropout-bit sources in RTL (hdl.rtl.dropout): the MTJ controller and the LFSR source."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hdl.ir import DropoutSpec, LFSRSpec
from hdl.lfsr import LFSRError, drop_threshold, dropout_drop_bits, module_seeds
from hdl.mapping import LFSR_STEP_CYCLES, MTJDriver
from hdl.mtj import DeviceError, MTJDevice
from hdl.rtl.dropout import (
    DropoutModuleController,
    DropoutRTLError,
    LFSRDropoutSource,
    dac_setting,
)
from hdl.rtl.lif import RTLError

# --------------------------------------------------------------------------------------------
# MTJ module controller


@dataclass
class MTJModel:
    """What the behavioural MTJ saw: the current code of every write pulse and every sensed
    state, in order."""

    write_codes: list[int] = field(default_factory=list)
    sensed: list[int] = field(default_factory=list)


@dataclass
class Trace:
    """The controller's outputs, one entry per clock cycle (cycle 0 = first after reset)."""

    reset: list[int] = field(default_factory=list)
    write: list[int] = field(default_factory=list)
    current: list[int] = field(default_factory=list)
    sense: list[int] = field(default_factory=list)
    idle: list[int] = field(default_factory=list)
    bit_valid: list[int] = field(default_factory=list)
    drop_bit: list[int] = field(default_factory=list)


def simulate_controller(
    ctrl: DropoutModuleController,
    start: list[int],
    probability: Callable[[int], float],
    rng: np.random.Generator,
) -> tuple[Trace, MTJModel]:
    """Run ``ctrl`` with ``start[t]`` in cycle ``t`` against a behavioural MTJ.

    The MTJ is an analog-style process reacting to the pulses: reset -> P (0); at the rising
    edge of a write pulse it reads the current code and switches to AP (1) with probability
    ``probability(code)`` drawn from ``rng``; while sensed it drives its state, otherwise the
    opposite value (so a latch at the wrong time shows). Every sensed state is recorded.
    """
    model = MTJModel()
    trace = Trace()

    async def mtj(ctx) -> None:
        state, was_write, was_sense = 0, 0, 0
        ctx.set(ctrl.mtj_state, 1)
        async for reset, write, code, sense in ctx.changed(
            ctrl.mtj_reset, ctrl.mtj_write, ctrl.mtj_current, ctrl.mtj_sense
        ):
            if reset:
                state = 0
            if write and not was_write:
                model.write_codes.append(code)
                if rng.random() < probability(code):
                    state = 1
            if sense and not was_sense:
                model.sensed.append(state)
            ctx.set(ctrl.mtj_state, state if sense else 1 - state)
            was_write, was_sense = write, sense

    async def bench(ctx) -> None:
        for s in start:
            ctx.set(ctrl.start, s)
            trace.reset.append(ctx.get(ctrl.mtj_reset))
            trace.write.append(ctx.get(ctrl.mtj_write))
            trace.current.append(ctx.get(ctrl.mtj_current))
            trace.sense.append(ctx.get(ctrl.mtj_sense))
            trace.idle.append(ctx.get(ctrl.idle))
            trace.bit_valid.append(ctx.get(ctrl.bit_valid))
            trace.drop_bit.append(ctx.get(ctrl.drop_bit))
            await ctx.tick()

    sim = Simulator(ctrl)
    sim.add_clock(1e-9)
    sim.add_process(mtj)
    sim.add_testbench(bench)
    sim.run()
    return trace, model


def expected_waveform(ctrl: DropoutModuleController, start: list[int]) -> tuple[Trace, list[int]]:
    """The documented waveform: a start taken in cycle ``c`` (when ``idle``: ``c`` at or after
    the last sense cycle of the previous dropout cycle) gives reset in ``c+1 .. c+R``, write in
    ``c+R+1 .. c+R+W``, sense in ``c+R+W+1 .. c+N`` and ``bit_valid`` in ``c+N+1``."""
    r, w, n = ctrl.reset_cycles, ctrl.write_cycles, ctrl.cycles_per_dropout_cycle
    taken, free = [], 0
    for t, s in enumerate(start):
        if s and t >= free:
            taken.append(t)
            free = t + n
    exp = Trace()
    for t in range(len(start)):
        phase = [t - c for c in taken if c < t <= c + n]
        k = phase[0] if phase else 0  # 1-based position inside a dropout cycle, 0 = none
        exp.reset.append(int(1 <= k <= r))
        exp.write.append(int(r < k <= r + w))
        exp.current.append(ctrl.current_code if r < k <= r + w else 0)
        exp.sense.append(int(r + w < k <= n))
        exp.idle.append(int(k in (0, n)))  # no dropout cycle running, or its last sense cycle
        exp.bit_valid.append(int(any(t == c + n + 1 for c in taken)))
    return exp, taken


START_PATTERN = (
    [0, 0, 1, 0]  # one dropout cycle taken in cycle 2
    + [0] * 20  # let it finish, stay idle
    + [1] * 60  # start held high: back-to-back cycles, starts while busy are ignored
    + [0] * 5
    + [1, 0, 1, 1, 0, 0, 1] * 6  # starts pulsed at odd times
    + [0] * 30
)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DropoutModuleController.for_probability(0.4, clock_mhz=500.0),  # R, W, S = 3, 5, 1
        lambda: DropoutModuleController(
            reset_cycles=2, write_cycles=3, sense_cycles=2, current_code=11, code_bits=4
        ),
        lambda: DropoutModuleController(
            reset_cycles=1, write_cycles=1, sense_cycles=1, current_code=1, code_bits=1
        ),
    ],
    ids=["driver-500MHz", "r2w3s2", "r1w1s1"],
)
def test_controller_waveform_and_latched_bits(make) -> None:
    ctrl = make()
    device = MTJDevice()
    pulse_ns = ctrl.write_cycles * 2.0  # 500 MHz clock
    full = 2**ctrl.code_bits - 1

    def probability(code: int) -> float:
        if ctrl.setting is not None:  # the calibrated device: realised p of the code
            return float(device.switching_probability(code * device.ic0_ua / full, pulse_ns))
        return 0.5

    trace, model = simulate_controller(
        ctrl, list(START_PATTERN), probability, np.random.default_rng(2026)
    )
    exp, taken = expected_waveform(ctrl, list(START_PATTERN))
    assert len(taken) >= 10
    for name in ("reset", "write", "current", "sense", "idle", "bit_valid"):
        assert getattr(trace, name) == getattr(exp, name), name
    # the analog side saw one write pulse per dropout cycle, each with the constant code
    assert model.write_codes == [ctrl.current_code] * len(model.write_codes)
    completed = [c for c in taken if c + ctrl.cycles_per_dropout_cycle + 1 < len(START_PATTERN)]
    assert len(model.sensed) >= len(completed)
    latched = [b for b, v in zip(trace.drop_bit, trace.bit_valid, strict=True) if v]
    assert latched == model.sensed[: len(latched)]
    assert len(latched) == len(completed)
    assert 0 < sum(latched) < len(latched)  # both outcomes occur (p = 0.4 / 0.5)


@pytest.mark.parametrize("clock_mhz", [100.0, 200.0, 333.0, 500.0])
def test_back_to_back_cycles_take_the_schedule_cycles(clock_mhz: float) -> None:
    driver = MTJDriver(pulse_ns=10.0)
    ctrl = DropoutModuleController.from_driver(driver, clock_mhz, current_code=200)
    phases = (ctrl.reset_cycles, ctrl.write_cycles, ctrl.sense_cycles)
    assert phases == driver.phase_cycles(clock_mhz)
    n, k = ctrl.cycles_per_dropout_cycle, 6
    assert n == driver.cycles_per_dropout_cycle(clock_mhz)
    trace, _ = simulate_controller(
        ctrl, [1] * (k * n + 3), lambda code: 0.5, np.random.default_rng(1)
    )
    valid = [t for t, v in enumerate(trace.bit_valid) if v]
    assert valid[:k] == [(j + 1) * n + 1 for j in range(k)]  # one bit every N cycles
    one = [1] * phases[0] + [2] * phases[1] + [3] * phases[2]  # reset, write, sense
    phase = [
        r + 2 * w + 3 * s for r, w, s in zip(trace.reset, trace.write, trace.sense, strict=True)
    ]
    assert phase[: k * n + 1] == [0] + one * k


def test_controller_bit_rate_matches_realised_probability() -> None:
    """Latched bits follow the realised probability of the DAC code (behavioural MTJ)."""
    ctrl = DropoutModuleController.for_probability(0.3)  # 200 MHz: R, W, S = 1, 2, 1
    device, setting = MTJDevice(), ctrl.setting
    assert setting is not None and ctrl.current_code == setting.code
    n = ctrl.cycles_per_dropout_cycle
    cycles = 1200
    trace, model = simulate_controller(
        ctrl,
        [1] * (cycles * n + 2),
        lambda code: float(device.switching_probability(code * setting.lsb_ua, setting.pulse_ns)),
        np.random.default_rng(5),
    )
    latched = [b for b, v in zip(trace.drop_bit, trace.bit_valid, strict=True) if v]
    assert latched == model.sensed[: len(latched)] and len(latched) == cycles
    rate, p = np.mean(latched), setting.realised_p
    assert abs(rate - p) < 4.5 * math.sqrt(p * (1 - p) / cycles)


def test_controller_verilog_is_deterministic() -> None:
    def emit() -> str:
        ctrl = DropoutModuleController.for_probability(0.25, code_bits=10)
        return verilog.convert(ctrl, name="mtj_dropout_ctrl", emit_src=False)

    first, second = emit(), emit()
    assert first == second
    ports = ("start", "idle", "drop_bit", "bit_valid", "mtj_reset", "mtj_write", "mtj_sense")
    for port in ports:
        assert f" {port};" in first
    header = next(line for line in first.splitlines() if line.startswith("module "))
    assert "\\" not in header  # no escaped port names (e.g. a port named after a keyword)
    assert "output [9:0] mtj_current;" in first and "input mtj_state;" in first


# --------------------------------------------------------------------------------------------
# DAC helper


@pytest.mark.parametrize("code_bits", [6, 8, 10, 12])
@pytest.mark.parametrize("p", [0.02, 0.1, 0.25, 0.5, 0.8])
def test_dac_setting_round_trips_within_quantisation(p: float, code_bits: int) -> None:
    device = MTJDevice()
    s = dac_setting(p, code_bits=code_bits)
    full = 2**code_bits - 1
    assert s.write_cycles == MTJDriver().phase_cycles(200.0)[1] == 2 and s.pulse_ns == 10.0
    assert s.current_ua == pytest.approx(device.current_for_probability(p, 10.0))
    assert s.code == round(s.current_ua / device.ic0_ua * full)
    assert abs(s.code - s.current_ua / s.lsb_ua) <= 0.5
    assert s.realised_current_ua == pytest.approx(s.code * device.ic0_ua / full)
    assert s.realised_p == pytest.approx(device.switching_probability(s.realised_current_ua, 10.0))
    # quantisation: p within the probabilities half an LSB either side of the realised current
    assert s.p_low <= p <= s.p_high
    # closed form: -ln(1 - p) scales by exp(Delta * (I_q - I) / Ic0)
    scale = math.exp(device.delta * (s.realised_current_ua - s.current_ua) / device.ic0_ua)
    assert s.realised_p == pytest.approx(1 - (1 - p) ** scale, rel=1e-9)
    bound = math.exp(device.delta / (2 * full))
    assert 1 - (1 - p) ** (1 / bound) <= s.realised_p <= 1 - (1 - p) ** bound


def test_dac_setting_uses_the_realised_pulse() -> None:
    # 10 ns at 150 MHz is 1.5 periods: the RTL pulse is 2 periods = 13.33 ns
    s = dac_setting(0.2, MTJDriver(pulse_ns=10.0), clock_mhz=150.0)
    assert s.write_cycles == 2 and s.pulse_ns == pytest.approx(2000.0 / 150.0)
    assert s.current_ua == pytest.approx(MTJDevice().current_for_probability(0.2, s.pulse_ns))
    assert s.p_low <= 0.2 <= s.p_high


def test_more_dac_bits_tighten_the_realised_probability() -> None:
    errors = [abs(dac_setting(0.3, code_bits=b).realised_p - 0.3) for b in (6, 10, 14)]
    widths = [dac_setting(0.3, code_bits=b) for b in (6, 10, 14)]
    assert errors[2] <= errors[0]
    assert [w.p_high - w.p_low for w in widths] == sorted(
        (w.p_high - w.p_low for w in widths), reverse=True
    )


# --------------------------------------------------------------------------------------------
# LFSR source


def run_source(src: LFSRDropoutSource, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Strobe ``draw`` (with random gaps) ``draws`` times; ``(draws, modules)`` bits read in the
    cycle after each draw (when ``valid``)."""
    got: list[list[int]] = []

    async def bench(ctx) -> None:
        assert ctx.get(src.valid) == 0
        done = 0
        while len(got) < draws:
            strobe = int(done < draws and rng.random() < 0.8)
            ctx.set(src.draw, strobe)
            await ctx.tick()
            done += strobe
            assert ctx.get(src.valid) == strobe
            if strobe:
                bits = ctx.get(src.bits)
                got.append([(bits >> m) & 1 for m in range(src.modules)])

    sim = Simulator(src)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got, dtype=bool)


def to_masks(draws: np.ndarray, units: int, modules: int) -> np.ndarray:
    """Draw order -> masks: unit ``r`` of mask ``q`` is module ``r % modules`` of draw
    ``q * cycles + r // modules`` (0-based)."""
    cycles = -(-units // modules)
    masks = draws.shape[0] // cycles
    per = draws[: masks * cycles].reshape(masks, cycles * modules)
    return per[:, :units]


@pytest.mark.parametrize(
    ("width", "seed", "p", "modules", "units", "masks", "edge", "edges"),
    [
        (8, 1, 0.5, 2, 5, 100, 0, 1),
        (16, 0x1D, 0.3, 3, 10, 300, 1, 3),
        (16, 1, 0.1, 5, 5, 400, 0, 2),
        (32, 0xC0FFEE, 0.25, 4, 13, 250, 2, 4),
    ],
)
def test_lfsr_source_equals_reference(
    width: int, seed: int, p: float, modules: int, units: int, masks: int, edge: int, edges: int
) -> None:
    spec = DropoutSpec(p=p, source="lfsr", modules=modules, lfsr=LFSRSpec(width=width, seed=seed))
    src = LFSRDropoutSource(spec, edge=edge, edges=edges)
    assert src.starts == tuple(module_seeds(spec.lfsr, modules, edge, edges).tolist())
    assert src.threshold == drop_threshold(p, width)
    cycles = -(-units // modules)
    draws = run_source(src, masks * cycles, np.random.default_rng(width))
    got = to_masks(draws, units, modules)
    ref = dropout_drop_bits(spec, units, masks, edge, edges)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    assert 0 < ref.mean() < 1


def test_lfsr_source_draws_every_cycle_and_load_restarts() -> None:
    assert LFSR_STEP_CYCLES == 1
    spec = DropoutSpec(p=0.4, source="lfsr", modules=2, lfsr=LFSRSpec(width=16, seed=9))
    src = LFSRDropoutSource(spec)
    seen: list[int] = []

    async def bench(ctx) -> None:
        ctx.set(src.draw, 1)
        for _ in range(40):
            await ctx.tick()
            seen.append(ctx.get(src.bits))
        ctx.set(src.load, 1)  # load wins over draw
        await ctx.tick()
        assert ctx.get(src.valid) == 0
        ctx.set(src.load, 0)
        for _ in range(40):
            await ctx.tick()
            seen.append(ctx.get(src.bits))

    sim = Simulator(src)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen[:40] == seen[40:]
    ref = dropout_drop_bits(spec, 2, 40)  # 1 draw per mask of 2 units
    assert seen[:40] == [int(r[0]) | (int(r[1]) << 1) for r in ref]


def test_lfsr_source_verilog_is_deterministic() -> None:
    spec = DropoutSpec(p=0.2, source="lfsr", modules=3, lfsr=LFSRSpec(width=16, seed=5))

    def emit() -> str:
        return verilog.convert(LFSRDropoutSource(spec), name="lfsr_dropout", emit_src=False)

    first = emit()
    assert first == emit()
    assert "output [2:0] bits;" in first and "input draw;" in first


# --------------------------------------------------------------------------------------------
# bad parameters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reset_cycles": 0}, r"reset_cycles must be an integer >= 1, got 0; pass whole clock"),
        ({"write_cycles": 2.5}, r"write_cycles must be an integer >= 1, got 2\.5"),
        ({"sense_cycles": True}, r"sense_cycles must be an integer >= 1"),
        ({"code_bits": 0}, r"code_bits must be an integer in 1\.\.16, got 0; pass the DAC"),
        ({"current_code": 256}, r"current_code must be an integer in 0\.\.255.*dac_setting\(\)"),
        ({"current_code": -1}, r"current_code must be an integer in 0\.\.255"),
    ],
)
def test_controller_bad_parameters(kwargs: dict, message: str) -> None:
    params = {"reset_cycles": 1, "write_cycles": 2, "sense_cycles": 1, "current_code": 100}
    params.update(kwargs)
    with pytest.raises(DropoutRTLError, match=message):
        DropoutModuleController(**params)


def test_dac_setting_bad_parameters() -> None:
    with pytest.raises(DropoutRTLError, match=r"code_bits must be an integer in 2\.\.16, got 1"):
        dac_setting(0.1, code_bits=1)
    with pytest.raises(DropoutRTLError, match=r"clock_mhz must be a finite number > 0 MHz"):
        dac_setting(0.1, clock_mhz=0)
    with pytest.raises(DropoutRTLError, match=r"driver must be an hdl\.mapping\.MTJDriver"):
        dac_setting(0.1, driver=MTJDevice())
    with pytest.raises(DeviceError, match=r"dropout probability must be in \(0, 1\)"):
        dac_setting(1.0)
    with pytest.raises(DeviceError, match="use a longer pulse"):  # 2 ns pulse at 500 MHz
        dac_setting(0.9999, MTJDriver(pulse_ns=2.0), clock_mhz=500.0)
    # a 2-bit DAC cannot express a current just below Ic0: it rounds to full scale
    with pytest.raises(DropoutRTLError, match=r"full scale = Ic0.*raise code_bits or use a longer"):
        dac_setting(0.5, code_bits=2)
    with pytest.raises(DropoutRTLError, match=r"DropoutModuleController|code_bits"):
        DropoutModuleController.for_probability(0.5, code_bits=2)
    assert issubclass(DropoutRTLError, RTLError)


def test_lfsr_source_bad_parameters() -> None:
    with pytest.raises(DropoutRTLError, match=r"source 'lfsr', got 'mtj'.*DropoutModuleController"):
        LFSRDropoutSource(DropoutSpec(p=0.1))
    with pytest.raises(DropoutRTLError, match=r"spec must be an hdl.ir.DropoutSpec"):
        LFSRDropoutSource(0.1)
    spec = DropoutSpec(p=0.1, source="lfsr", modules=2, lfsr=LFSRSpec(width=16))
    with pytest.raises(LFSRError, match=r"edge must be in 0\.\.1"):
        LFSRDropoutSource(spec, edge=2, edges=2)
    narrow = DropoutSpec(p=0.1, source="lfsr", modules=40, lfsr=LFSRSpec(width=8))
    with pytest.raises(LFSRError, match=r"use a wider LFSR \(width >= "):
        LFSRDropoutSource(narrow)
