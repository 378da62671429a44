"""ConvWindow (hdl.rtl.window) against the golden model's im2col, every position of random maps."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.golden import _im2col
from hdl.rtl import RTLError
from hdl.rtl.synth import lint
from hdl.rtl.window import ConvWindow, conv_window_verilog

CASES = [
    ((1, 4, 4), 3, 1, 0),
    ((2, 5, 5), 3, 1, 1),
    ((3, 5, 6), 3, 2, 1),
    ((2, 6, 5), 2, 2, 0),
    ((1, 3, 3), 1, 1, 0),
    ((2, 4, 4), 4, 1, 2),
]


def pack(bits: np.ndarray) -> int:
    return int(sum(int(b) << i for i, b in enumerate(bits.reshape(-1))))


@pytest.mark.parametrize(("shape", "k", "s", "pad"), CASES)
def test_window_equals_im2col(shape, k, s, pad) -> None:
    rng = np.random.default_rng(sum(shape) * 7 + k)
    win = ConvWindow(in_shape=shape, kernel=k, stride=s, padding=pad)
    maps = [rng.integers(0, 2, shape), np.ones(shape, int), np.zeros(shape, int)]
    maps += [rng.integers(0, 2, shape) for _ in range(3)]
    h_out, w_out = win.out_hw
    failures: list[str] = []

    async def bench(ctx) -> None:
        for n, spikes in enumerate(maps):
            want = _im2col(spikes[None].astype(np.float32), k, s, pad)[0]  # (positions, rows)
            assert want.shape == (h_out * w_out, len(win.rows))
            ctx.set(win.spikes, pack(spikes))
            for oy in range(h_out):
                for ox in range(w_out):
                    ctx.set(win.oy, oy)
                    ctx.set(win.ox, ox)
                    got = ctx.get(win.rows)
                    row = want[oy * w_out + ox]
                    if got != pack(row.astype(int)):
                        failures.append(f"map {n} position ({oy}, {ox}): {got:#x}")

    sim = Simulator(win)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, failures[:5]


def test_verilog_lints_clean() -> None:
    text = conv_window_verilog(in_shape=(2, 5, 5), kernel=3, stride=2, padding=1)
    assert text == conv_window_verilog(in_shape=(2, 5, 5), kernel=3, stride=2, padding=1)
    result = lint(text, "conv_window")
    assert result.clean, "\n".join(map(str, result.warnings))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(RTLError, match="larger than the padded map"):
        ConvWindow(in_shape=(1, 3, 3), kernel=5)
    with pytest.raises(RTLError, match="in_shape"):
        ConvWindow(in_shape=(3, 3), kernel=1)  # type: ignore[arg-type]
    with pytest.raises(RTLError, match="stride"):
        ConvWindow(in_shape=(1, 3, 3), kernel=1, stride=0)
