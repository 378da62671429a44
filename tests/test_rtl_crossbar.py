from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.lib import wiring
from amaranth.lib.wiring import Flow
from amaranth.sim import Simulator

from hdl.rtl import RTLError, emit_verilog
from hdl.rtl.crossbar import (
    CrossbarTileDriver,
    crossbar_driver_verilog,
    crossbar_signature,
    read_cycles,
)
from sim.models.crossbar import (
    CrossbarModelError,
    CrossbarTileModel,
    MacroProtocol,
    amaranth_macro,
    pack_codes,
    unpack_codes,
)

CONFIGS = [  # rows, cols, adc_bits, cell_max, latency
    (8, 4, 3, 1, 1),
    (16, 6, 4, 3, 2),
    (12, 3, 5, 7, 4),
    (1, 1, 1, 1, 3),
    (32, 5, 8, 15, 7),
]
IDS = ["r{}-c{}-adc{}-cell{}-lat{}".format(*c) for c in CONFIGS]


def numpy_codes(cells: np.ndarray, wl: np.ndarray, adc_bits: int) -> np.ndarray:
    """The column sum and ADC clamp, computed here independently of the model."""
    sums = (cells.astype(np.int64) * wl.astype(np.int64)[:, None]).sum(axis=0)
    return np.minimum(sums, 2**adc_bits - 1)


@dataclass
class Run:
    """What one simulation saw: per read the cycle of start and of done and the codes."""

    starts: list[int] = field(default_factory=list)
    dones: list[int] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    wl_en: list[int] = field(default_factory=list)
    read: list[int] = field(default_factory=list)


def simulate(
    drv: CrossbarTileDriver,
    model: CrossbarTileModel,
    latency: int,
    inputs: list[int],
    rng: random.Random,
) -> tuple[Run, MacroProtocol]:
    """Issue the reads of ``inputs`` one after another (random gaps, back to back sometimes),
    with junk ``start`` pulses while busy; record every cycle."""
    macro = amaranth_macro(model, drv.xbar, latency)
    run = Run()

    async def bench(ctx) -> None:
        cycle = 0
        pending = list(inputs)
        while pending or ctx.get(drv.busy):
            busy = ctx.get(drv.busy)
            if busy:  # ignored: start while busy, with other rows
                ctx.set(drv.start, rng.random() < 0.5)
                ctx.set(drv.rows_in, rng.getrandbits(drv.rows))
            elif pending and (ctx.get(drv.done) or rng.random() < 0.5):
                ctx.set(drv.start, 1)
                ctx.set(drv.rows_in, pending.pop(0))
                run.starts.append(cycle)
            else:
                ctx.set(drv.start, 0)
                ctx.set(drv.rows_in, rng.getrandbits(drv.rows))
            await ctx.tick()
            cycle += 1
            run.busy.append(ctx.get(drv.busy))
            run.wl_en.append(ctx.get(drv.xbar.wl_en))
            run.read.append(ctx.get(drv.xbar.read))
            if ctx.get(drv.done):
                run.dones.append(cycle)
                run.codes.append(ctx.get(drv.codes))
        ctx.set(drv.start, 0)
        for _ in range(latency + 3):  # nothing more happens
            await ctx.tick()
            assert ctx.get(drv.done) == 0 and ctx.get(drv.busy) == 0

    sim = Simulator(drv)
    sim.add_clock(1e-8)
    sim.add_process(macro)
    sim.add_testbench(bench)
    sim.run()
    return run, macro.protocol


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_driver_with_macro_model(config: tuple[int, int, int, int, int]) -> None:
    rows, cols, adc_bits, cell_max, latency = config
    rng = random.Random(rows * 100 + latency)
    nrng = np.random.default_rng(rows)
    cells = nrng.integers(0, cell_max + 1, size=(rows, cols))
    cells[:, 0] = cell_max  # column 0 saturates with many rows on
    model = CrossbarTileModel(cells, adc_bits)
    full = 2**rows - 1
    inputs = [0, full, 0, *(rng.getrandbits(rows) for _ in range(40)), full]
    drv = CrossbarTileDriver(rows=rows, cols=cols, adc_bits=adc_bits)
    run, protocol = simulate(drv, model, latency, inputs, rng)

    assert protocol.errors == []
    assert [wl for wl, _ in protocol.reads] == inputs
    assert len(run.dones) == len(inputs)
    # cycle timing: done exactly read_cycles(latency) = latency + 2 cycles after start
    assert [d - s for s, d in zip(run.starts, run.dones, strict=True)] == [
        read_cycles(latency)
    ] * len(inputs)
    assert read_cycles(latency) == latency + 2
    saturated = False
    for k, (rows_in, got) in enumerate(zip(inputs, run.codes, strict=True)):
        wl = np.array([(rows_in >> r) & 1 for r in range(rows)])
        want = numpy_codes(cells, wl, adc_bits)
        assert unpack_codes(got, cols, adc_bits).tolist() == want.tolist(), f"read {k}"
        assert model.codes(rows_in).tolist() == want.tolist()
        assert got == pack_codes(want, adc_bits)
        saturated |= bool((cells.T @ wl > 2**adc_bits - 1).any())
        if rows_in == 0:
            assert got == 0
    assert saturated or cell_max * rows <= 2**adc_bits - 1
    # the waveform around each read
    for s, d in zip(run.starts, run.dones, strict=True):
        # run.X[i] is the value in cycle i + 1
        assert run.read[s] == 1 and run.read[s + 1 : d - 1] == [0] * (d - s - 2)
        assert run.busy[s : d - 1] == [1] * (d - s - 1) and run.busy[d - 1] == 0
        wl = run.wl_en[s]
        assert run.wl_en[s : d - 1] == [wl] * (d - s - 1) and run.wl_en[d - 1] == 0
    assert sum(run.read) == len(inputs)


def test_saturation_and_all_rows_dropped() -> None:
    rows, cols, adc_bits = 8, 3, 3
    cells = np.array([[7, 0, 1]] * rows)
    model = CrossbarTileModel(cells, adc_bits)
    assert model.codes(0).tolist() == [0, 0, 0]
    assert model.codes(2**rows - 1).tolist() == [7, 0, 7]
    assert model.codes([1, 0, 0, 0, 0, 0, 0, 1]).tolist() == [7, 0, 2]
    assert model.column_sums(2**rows - 1).tolist() == [56, 0, 8]
    drv = CrossbarTileDriver(rows=rows, cols=cols, adc_bits=adc_bits)
    run, protocol = simulate(drv, model, 3, [0, 2**rows - 1, 0b1000_0001], random.Random(1))
    assert [unpack_codes(c, cols, adc_bits).tolist() for c in run.codes] == [
        [0, 0, 0],
        [7, 0, 7],
        [7, 0, 2],
    ]
    assert protocol.errors == []


class HoldsNoWordLines(CrossbarTileDriver):
    """Broken: drops the word lines one cycle after the read instead of holding them."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.busy & ~self.xbar.read):
            m.d.sync += self.xbar.wl_en.eq(0)
        return m


class CapturesEarly(CrossbarTileDriver):
    """Broken: captures the codes in the first waiting cycle, before ``codes_valid``."""

    def _answer(self) -> Value:
        return Value.cast(1)


def test_macro_model_catches_broken_drivers() -> None:
    rows, cols, adc_bits = 6, 2, 4
    model = CrossbarTileModel(np.ones((rows, cols), dtype=np.int64), adc_bits)
    _, protocol = simulate(
        HoldsNoWordLines(rows=rows, cols=cols, adc_bits=adc_bits),
        model,
        3,
        [0b111111],
        random.Random(0),
    )
    assert any("wl_en changed" in e for e in protocol.errors)
    run, _ = simulate(
        CapturesEarly(rows=rows, cols=cols, adc_bits=adc_bits),
        model,
        3,
        [0b000111],
        random.Random(0),
    )
    assert run.codes != [model.packed_codes(0b000111)]


def test_protocol_flags_read_during_conversion() -> None:
    p = MacroProtocol(CrossbarTileModel(np.array([[1], [2]]), 4), latency=3)
    assert p.step(1, 0b11) == (0, 0b1111)
    assert p.step(1, 0b11) == (0, 0b1111)
    assert p.step(0, 0b11)[0] == 1
    assert "read while a conversion is in flight" in p.errors[0]
    assert p.reads == [(0b11, 3)]


def test_signature_and_verilog_ports() -> None:
    sig = crossbar_signature(rows=10, cols=3, adc_bits=6)
    widths = {name: (m.flow, m.shape) for name, m in sig.members.items()}
    assert widths == {
        "wl_en": (Flow.Out, 10),
        "read": (Flow.Out, 1),
        "codes": (Flow.In, 18),
        "codes_valid": (Flow.In, 1),
    }
    drv = CrossbarTileDriver(rows=10, cols=3, adc_bits=6)
    assert drv.signature.members["xbar"].signature == sig
    assert isinstance(drv, wiring.Component) and drv.params == dict(rows=10, cols=3, adc_bits=6)
    text = emit_verilog(drv, name="crossbar_tile_driver")
    assert text == crossbar_driver_verilog(rows=10, cols=3, adc_bits=6)
    for port in (
        "input [9:0] rows_in",
        "output [17:0] codes",
        "input [17:0] xbar__codes",
        "output [9:0] xbar__wl_en",
        "output xbar__read",
        "input xbar__codes_valid",
        "input start",
        "output done",
        "output busy",
    ):
        assert port in text, port


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(rows=0, cols=1, adc_bits=1), "crossbar rows must be an integer in 1..4096, not 0"),
        (dict(rows=4, cols=True, adc_bits=1), "crossbar cols must be an integer in 1..4096"),
        (dict(rows=4, cols=2, adc_bits=17), "crossbar adc_bits must be an integer in 1..16"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(RTLError, match=re.escape(message)):
        CrossbarTileDriver(**kwargs)
    with pytest.raises(RTLError, match=re.escape(message)):
        crossbar_signature(**kwargs)
    with pytest.raises(RTLError, match="latency must be an integer >= 1, not 0"):
        read_cycles(0)
    with pytest.raises(RTLError, match="module name"):
        crossbar_driver_verilog("bad name", rows=1, cols=1, adc_bits=1)


def test_model_checks_its_inputs() -> None:
    with pytest.raises(CrossbarModelError, match="unsigned cell values"):
        CrossbarTileModel(np.array([[1, -1]]), 4)
    with pytest.raises(CrossbarModelError, match=r"\(rows, cols\) array"):
        CrossbarTileModel(np.array([1, 2]), 4)
    with pytest.raises(CrossbarModelError, match="integers"):
        CrossbarTileModel(np.array([[0.5]]), 4)
    with pytest.raises(CrossbarModelError, match=r"adc_bits must be an integer in 1\.\.16"):
        CrossbarTileModel(np.array([[1]]), 0)
    m = CrossbarTileModel(np.array([[1], [1]]), 4)
    with pytest.raises(CrossbarModelError, match="do not fit 2 rows"):
        m.codes(4)
    with pytest.raises(CrossbarModelError, match="2 bits of 0/1"):
        m.codes([1, 2])
    with pytest.raises(CrossbarModelError, match="latency must be an integer >= 1"):
        MacroProtocol(m, 0)


def test_model_matches_numpy_on_random_tiles() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        rows, cols, adc_bits = rng.integers(1, 40), rng.integers(1, 10), rng.integers(1, 9)
        cells = rng.integers(0, 16, size=(rows, cols))
        model = CrossbarTileModel(cells, int(adc_bits))
        wl = rng.integers(0, 2, size=rows)
        want = numpy_codes(cells, wl, int(adc_bits))
        assert model.codes(wl).tolist() == want.tolist()
        packed = int(sum(int(b) << r for r, b in enumerate(wl)))
        assert model.codes(packed).tolist() == want.tolist()
        assert unpack_codes(model.packed_codes(wl), cols, adc_bits).tolist() == want.tolist()
