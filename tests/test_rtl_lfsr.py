"""The leap-forward LFSR in RTL (hdl.rtl.lfsr) against the Python reference hdl.lfsr."""

from __future__ import annotations

import os

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hdl.ir import LFSR_TAPS, LFSRSpec
from hdl.lfsr import LFSRError, jump_columns, lfsr_next, lfsr_streams, module_seeds
from hdl.rtl.lfsr import LeapLFSR, leap_network


def run_draws(dut: LeapLFSR, en: list[int], load: list[int] | None = None) -> list[int]:
    """Drive ``en`` (and ``load``) cycle by cycle; return ``state`` after each clock edge."""
    load = load or [0] * len(en)
    seen: list[int] = []

    async def bench(ctx) -> None:
        assert ctx.get(dut.state) == dut.start_state  # reset value = start state
        for e, ld in zip(en, load, strict=True):
            ctx.set(dut.en, e)
            ctx.set(dut.load, ld)
            await ctx.tick()
            seen.append(ctx.get(dut.state))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize(
    ("width", "start", "draws"),
    [(4, 0b1001, 1000), (8, 0xA5, 2000), (16, 0xACE1, 3000), (32, 0xDEADBEEF, 3000)],
)
def test_draws_equal_reference(width: int, start: int, draws: int) -> None:
    got = run_draws(LeapLFSR(width, start), [1] * draws)
    ref = lfsr_streams(width, [start], draws)[0]  # draw k at index k - 1
    assert got == ref.tolist()


@pytest.mark.parametrize("steps", [1, 3, 17])
def test_other_strides(steps: int) -> None:
    dut = LeapLFSR(16, 0x1234, steps=steps)
    got = run_draws(dut, [1] * 500)
    assert got == lfsr_streams(16, [0x1234], 500, stride=steps)[0].tolist()


def test_single_step_is_the_register_step() -> None:
    got = run_draws(LeapLFSR(8, 1, steps=1), [1] * 300)
    state, ref = 1, []
    for _ in range(300):
        state = lfsr_next(state, 8)
        ref.append(state)
    assert got == ref


def test_enable_holds_and_load_restarts() -> None:
    rng = np.random.default_rng(7)
    en = rng.integers(0, 2, 1500).tolist()
    load = (rng.random(1500) < 0.01).astype(int).tolist()
    start = int(module_seeds(LFSRSpec(width=16, seed=3), 4)[2])
    got = run_draws(LeapLFSR(16, start), en, load)
    ref = lfsr_streams(16, [start], 1500)[0]
    k, expected = 0, []
    for e, ld in zip(en, load, strict=True):
        if ld:  # load wins over en
            k = 0
        elif e:
            k += 1
        expected.append(start if k == 0 else int(ref[k - 1]))
    assert got == expected


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
def test_network_is_jump_columns(width: int) -> None:
    net = leap_network(width, width)
    cols = [int(c) for c in jump_columns(width, width)]
    rebuilt = [sum(1 << i for i in range(width) if j in net[i]) for j in range(width)]
    assert rebuilt == cols
    assert all(net)  # every new bit depends on some old bit (J is invertible)


def test_verilog_is_deterministic() -> None:
    first = verilog.convert(LeapLFSR(16, 0xACE1), name="leap_lfsr16", emit_src=False)
    second = verilog.convert(LeapLFSR(16, 0xACE1), name="leap_lfsr16", emit_src=False)
    assert first == second
    assert "module leap_lfsr16(" in first
    for port in ("clk", "rst", "en", "load", "state"):
        assert f"input {port};" in first or f"output [15:0] {port};" in first
    assert "16'hace1" in first  # reset value = start state


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 3, "start_state": 1}, "LeapLFSR width must be one of"),
        ({"width": 8.0, "start_state": 1}, "LeapLFSR width must be an integer"),
        ({"width": 8, "start_state": 0}, "LeapLFSR start_state must be an integer in 1..255"),
        ({"width": 8, "start_state": 256}, "0 would lock the register"),
        ({"width": 8, "start_state": True}, "LeapLFSR start_state"),
        ({"width": 8, "start_state": 1, "steps": 0}, "LeapLFSR steps must be an integer >= 1"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(LFSRError, match=message):
        LeapLFSR(**kwargs)
