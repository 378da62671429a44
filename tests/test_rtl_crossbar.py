"""The crossbar macro's port list (hdl.rtl.crossbar) and its behavioural models
(sim.models.crossbar): column sums and ADC clamp against numpy, the answer's timing and the
protocol checks that catch a digital side breaking the macro's contract. The models playing
real RTL are exercised by the whole-accelerator tests (tests/test_rtl_accelerator.py in
Amaranth's simulator, tests/test_sim_accelerator.py under cocotb)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.lib.wiring import Flow

from hdl.rtl import RTLError
from hdl.rtl.crossbar import crossbar_signature
from sim.models.crossbar import (
    CrossbarModelError,
    CrossbarTileModel,
    MacroProtocol,
    pack_codes,
    unpack_codes,
)


def numpy_codes(cells: np.ndarray, wl: np.ndarray, adc_bits: int) -> np.ndarray:
    """The column sum and ADC clamp, computed here independently of the model."""
    sums = (cells.astype(np.int64) * wl.astype(np.int64)[:, None]).sum(axis=0)
    return np.minimum(sums, 2**adc_bits - 1)


@pytest.mark.parametrize("latency", [1, 2, 5])
def test_protocol_answers_after_latency_and_hides_codes_otherwise(latency: int) -> None:
    rng = np.random.default_rng(latency)
    cells = rng.integers(0, 4, (6, 3))
    model = CrossbarTileModel(cells, 3)
    p = MacroProtocol(model, latency)
    mask = 2 ** (3 * 3) - 1
    last = 0
    for wl in (0b101101, 0b111111, 0):
        want = pack_codes(numpy_codes(cells, np.array([(wl >> r) & 1 for r in range(6)]), 3), 3)
        answers = [p.step(1, wl)] + [p.step(0, wl) for _ in range(latency + 1)]
        # the answer of a read in cycle k is valid in cycle k + latency only
        valid = [v for v, _ in answers]
        assert valid == [0] * (latency - 1) + [1] + [0] * 2
        assert answers[latency - 1][1] == want
        # outside the valid cycle the codes are the complement of the last answer
        assert answers[-1][1] == ~want & mask
        assert all(c == ~last & mask for _, c in answers[: latency - 1])
        last = want
    assert p.errors == []


@pytest.mark.parametrize(("cols", "adcs", "latency"), [(8, 2, 1), (7, 3, 2), (5, 8, 3)])
def test_multiplexed_adcs_hand_over_one_conversion_per_latency(cols, adcs, latency) -> None:
    rng = np.random.default_rng(cols * adcs)
    cells = rng.integers(0, 4, (5, cols))
    model = CrossbarTileModel(cells, 4)
    p = MacroProtocol(model, latency, adcs=adcs)
    lanes, steps = min(cols, adcs), -(-cols // adcs)
    assert (p.adcs, p.steps, p.cycles) == (lanes, steps, steps * latency)
    wl = 0b10111
    want = numpy_codes(cells, np.array([(wl >> r) & 1 for r in range(5)]), 4)
    answers = [p.step(1, wl)] + [p.step(0, wl) for _ in range(steps * latency + 1)]
    valid_cycles = [k + 1 for k, (v, _) in enumerate(answers) if v]
    assert valid_cycles == [(s + 1) * latency for s in range(steps)]
    for s, cycle in enumerate(valid_cycles):
        got = unpack_codes(answers[cycle - 1][1], lanes, 4)
        expect = [want[a + s * adcs] if a + s * adcs < cols else 0 for a in range(lanes)]
        assert got.tolist() == expect, f"conversion {s}"
    assert p.reads == [(wl, pack_codes(want, 4))] and p.errors == []


@pytest.mark.parametrize(("cols", "adcs", "latency"), [(8, 2, 1), (7, 3, 2), (5, 8, 3), (9, 2, 4)])
def test_pipelined_adcs_hand_over_one_conversion_per_cycle(cols, adcs, latency) -> None:
    """interval = 1: conversion s is valid latency + s cycles after the read, every code the
    same as the serial ADC's, and the next read may follow the last code at once."""
    rng = np.random.default_rng(cols + adcs)
    cells = rng.integers(0, 4, (5, cols))
    model = CrossbarTileModel(cells, 4)
    p = MacroProtocol(model, latency, adcs=adcs, interval=1)
    lanes, steps = min(cols, adcs), -(-cols // adcs)
    assert (p.adcs, p.steps, p.cycles) == (lanes, steps, latency + steps - 1)
    for wl in (0b10111, 0b01101):
        want = numpy_codes(cells, np.array([(wl >> r) & 1 for r in range(5)]), 4)
        answers = [p.step(1, wl)] + [p.step(0, wl) for _ in range(latency + steps - 1)]
        valid_cycles = [k + 1 for k, (v, _) in enumerate(answers) if v]
        assert valid_cycles == [latency + s for s in range(steps)]
        for s, cycle in enumerate(valid_cycles):
            got = unpack_codes(answers[cycle - 1][1], lanes, 4)
            expect = [want[a + s * adcs] if a + s * adcs < cols else 0 for a in range(lanes)]
            assert got.tolist() == expect, f"conversion {s}"
    assert [w for w, _ in p.reads] == [0b10111, 0b01101] and p.errors == []


def test_pipelined_protocol_flags_a_read_before_the_last_code() -> None:
    p = MacroProtocol(CrossbarTileModel(np.ones((2, 6), int), 4), latency=2, adcs=2, interval=1)
    assert p.cycles == 4  # 3 conversions, the first 2 cycles after the read
    p.step(1, 0b11)
    p.step(0, 0b11)
    p.step(1, 0b11)  # cycle 2 of 4: the conversions are still in flight
    assert "read while a conversion is in flight" in p.errors[0]
    with pytest.raises(CrossbarModelError, match="interval"):
        MacroProtocol(CrossbarTileModel(np.ones((2, 6), int), 4), latency=2, interval=0)


def test_protocol_flags_word_lines_changed_during_conversion() -> None:
    p = MacroProtocol(CrossbarTileModel(np.ones((3, 2), int), 4), latency=3)
    p.step(1, 0b011)
    p.step(0, 0b111)
    assert p.errors and "wl_en changed" in p.errors[0]


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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(rows=0, cols=1, adc_bits=1), "crossbar rows must be an integer in 1..4096, got 0"),
        (dict(rows=4, cols=True, adc_bits=1), "crossbar cols must be an integer in 1..4096"),
        (dict(rows=4, cols=2, adc_bits=17), "crossbar adc_bits must be an integer in 1..16"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(RTLError, match=re.escape(message)):
        crossbar_signature(**kwargs)


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


@pytest.mark.parametrize(("cols", "adcs", "latency", "interval"), [(8, 2, 3, 1), (6, 2, 2, 2)])
def test_next_read_may_follow_the_sampling_window(cols, adcs, latency, interval) -> None:
    """Reads back to back, every ``steps · interval`` cycles: the ADCs convert without a gap
    (a code in every cycle for pipelined ADCs), each read's codes are its own, the word lines
    may change as soon as the last column is sampled, and no violation is recorded."""
    rng = np.random.default_rng(cols + latency)
    cells = rng.integers(0, 4, (5, cols))
    p = MacroProtocol(CrossbarTileModel(cells, 4), latency, adcs=adcs, interval=interval)
    steps = -(-cols // adcs)
    assert p.sampling_cycles == steps * interval
    words = [0b10111, 0b01101, 0b11111, 0b00001]
    answers = []
    for wl in words:
        answers.append(p.step(1, wl))
        answers += [p.step(0, wl) for _ in range(p.sampling_cycles - 1)]
    answers += [p.step(0, 0) for _ in range(latency)]
    valid = [k + 1 for k, (v, _) in enumerate(answers) if v]
    span = steps * interval
    expect_cycles = [r * span + latency + s * interval for r in range(4) for s in range(steps)]
    assert valid == expect_cycles
    for r, wl in enumerate(words):
        want = numpy_codes(cells, np.array([(wl >> i) & 1 for i in range(5)]), 4)
        for s in range(steps):
            got = unpack_codes(answers[valid[r * steps + s] - 1][1], adcs, 4)
            assert got.tolist() == [want[a + s * adcs] for a in range(adcs)]
    assert p.errors == []
    p.step(1, 1)
    p.step(0, 3)  # changed while sampling
    assert "wl_en changed" in p.errors[0]
