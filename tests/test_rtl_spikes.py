from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.sim import Simulator

from hdl import golden
from hdl.golden import edge_geometry
from hdl.hwconfig import HardwareConfig
from hdl.ir import Edge
from hdl.rtl import RTLError, emit_verilog
from hdl.rtl.spikes import MAX_BITS, SpikeWindow, spike_window_verilog

# (C, H, W, kernel, stride, padding)
CONFIGS = [
    (1, 8, 8, 3, 1, 1),  # digits conv1
    (3, 5, 7, 3, 2, 1),  # non-square, stride 2
    (2, 6, 5, 2, 1, 0),  # even kernel, no padding
    (2, 4, 4, 5, 1, 4),  # padding k - 1: corner windows hold a single image bit
    (2, 3, 3, 3, 1, 2),  # more padding than image
    (4, 7, 7, 1, 3, 0),  # 1x1 kernel, stride 3
    (3, 9, 6, 4, 3, 2),  # stride 3 with padding, last window ends in the padding
    (5, 1, 1, 1, 1, 0),  # linear: k = H = W = 1
    (3, 4, 4, 4, 1, 0),  # linear from a square map: k = H
]
IDS = ["c{}-h{}-w{}-k{}-s{}-p{}".format(*cfg) for cfg in CONFIGS]


def make(cfg: tuple[int, ...]) -> SpikeWindow:
    c, h, w, k, st, pad = cfg
    return SpikeWindow(channels=c, height=h, width=w, kernel=k, stride=st, padding=pad)


def unused(dut: SpikeWindow) -> SpikeWindow:
    dut._MustUse__silence = True  # built only to read its attributes
    return dut


def im2col(s: np.ndarray, k: int, st: int, pad: int) -> np.ndarray:
    """``(H_out, W_out, C·k·k)`` windows of ``s`` ``(C, H, W)``, rows in ``(c, ky, kx)`` order."""
    c = s.shape[0]
    p = np.pad(s, ((0, 0), (pad, pad), (pad, pad)))
    h_out = (p.shape[1] - k) // st + 1
    w_out = (p.shape[2] - k) // st + 1
    out = np.zeros((h_out, w_out, c * k * k), dtype=np.int64)
    for oy in range(h_out):
        for ox in range(w_out):
            patch = p[:, oy * st : oy * st + k, ox * st : ox * st + k]  # (C, k, k)
            out[oy, ox] = patch.reshape(-1)
    return out


def pack_bits(bits: np.ndarray) -> int:
    return sum(int(b) << i for i, b in enumerate(bits))


def unpack_bits(word: int, n: int) -> np.ndarray:
    return np.array([(word >> i) & 1 for i in range(n)], dtype=np.int64)


def run(dut: SpikeWindow, cycles: list[dict]) -> list[tuple[int, int]]:
    """Drive one dict of input values per cycle (missing ports 0); ``(rows_valid, rows)`` after
    each clock edge."""
    ports = ["we", "wy", "wx", "wdata", "req", "oy", "ox"]
    got: list[tuple[int, int]] = []

    async def bench(ctx) -> None:
        for cyc in cycles:
            for name in ports:
                ctx.set(getattr(dut, name), cyc.get(name, 0))
            await ctx.tick()
            got.append((ctx.get(dut.rows_valid), ctx.get(dut.rows)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def writes(s: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """Write every position of ``s`` once, in random order."""
    _, h, w = s.shape
    order = rng.permutation(h * w)
    return [
        dict(we=1, wy=int(p // w), wx=int(p % w), wdata=pack_bits(s[:, p // w, p % w]))
        for p in order
    ]


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_windows_match_numpy_im2col(cfg: tuple[int, ...]) -> None:
    c, h, w, k, st, pad = cfg
    rng = np.random.default_rng(sum(cfg))
    dut = make(cfg)
    maps = [rng.integers(0, 2, size=(c, h, w)) for _ in range(2)]
    maps.append(np.ones((c, h, w), dtype=np.int64))  # padding must stay 0 next to all-ones
    positions = [(oy, ox) for oy in range(dut.out_height) for ox in range(dut.out_width)]
    cycles: list[dict] = []
    expected: dict[int, np.ndarray] = {}
    for s in maps:
        cycles += writes(s, rng)
        cycles.append({})  # idle
        ref = im2col(s, k, st, pad)
        for oy, ox in rng.permutation(positions):  # back to back, any order
            expected[len(cycles)] = ref[oy, ox]
            cycles.append(dict(req=1, oy=int(oy), ox=int(ox)))
        cycles.append({})
    got = run(dut, cycles)
    for i, (valid, rows) in enumerate(got):
        if i in expected:
            assert valid == 1, f"cycle {i}: rows_valid"
            assert np.array_equal(unpack_bits(rows, dut.rows_width), expected[i]), f"cycle {i}"
        else:
            assert valid == 0, f"cycle {i}: rows_valid without req"
            if i - 1 in expected:  # rows hold without req
                assert np.array_equal(unpack_bits(rows, dut.rows_width), expected[i - 1])


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_numpy_im2col_follows_the_golden_conventions(cfg: tuple[int, ...]) -> None:
    """The reference above is the golden model's patch order and the doc's conv2d formula."""
    c, h, w, k, st, pad = cfg
    rng = np.random.default_rng(7 + sum(cfg))
    s = rng.integers(0, 2, size=(c, h, w))
    ref = im2col(s, k, st, pad)
    h_out, w_out = ref.shape[:2]
    gold = golden._im2col(s[None], k, st, pad)[0]  # (positions, rows)
    assert np.array_equal(ref.reshape(h_out * w_out, -1), gold)
    weight = rng.integers(-3, 4, size=(2, c, k, k))
    z = ref @ weight.reshape(2, -1).T  # (H_out, W_out, C_out)
    for o in range(2):
        for y in range(h_out):
            for x in range(w_out):
                acc = 0
                for ci in range(c):
                    for ky in range(k):
                        for kx in range(k):
                            iy, ix = y * st + ky - pad, x * st + kx - pad
                            if 0 <= iy < h and 0 <= ix < w:
                                acc += weight[o, ci, ky, kx] * s[ci, iy, ix]
                assert z[y, x, o] == acc
    dut = unused(make(cfg))
    assert (dut.out_height, dut.out_width, dut.rows_width) == (h_out, w_out, c * k * k)


def test_padding_corners() -> None:
    """k = 3, padding 2 on a 3 x 3 map: corner windows see one pixel, in the opposite corner."""
    dut = make((1, 3, 3, 3, 1, 2))
    assert (dut.out_height, dut.out_width) == (5, 5)
    s = np.ones((1, 3, 3), dtype=np.int64)
    rng = np.random.default_rng(0)
    corners = {(0, 0): 8, (0, 4): 6, (4, 0): 2, (4, 4): 0}  # r = ky·3 + kx of the one pixel
    cycles = writes(s, rng) + [dict(req=1, oy=oy, ox=ox) for oy, ox in corners]
    got = run(dut, cycles)[-len(corners) :]
    for (valid, rows), r in zip(got, corners.values(), strict=True):
        assert valid == 1 and rows == 1 << r


def test_write_then_read_timing() -> None:
    """A write is visible from the next cycle; a request in the write's cycle reads the old map;
    rewriting a position overwrites all its channels."""
    dut = make((2, 2, 2, 1, 1, 0))  # rows = the two channels of one position
    cycles = [
        dict(we=1, wy=1, wx=0, wdata=0b11, req=1, oy=1, ox=0),  # same cycle: old value 0
        dict(req=1, oy=1, ox=0),  # 0b11
        dict(we=1, wy=1, wx=0, wdata=0b10),
        dict(req=1, oy=1, ox=0),  # 0b10
        dict(req=1, oy=0, ox=0),  # untouched: 0
    ]
    got = run(dut, cycles)
    assert got == [(1, 0), (1, 0b11), (0, 0b11), (1, 0b10), (1, 0)]


def test_reset_clears_the_map() -> None:
    dut = make((1, 1, 2, 1, 1, 0))
    rst = Signal()
    top = Module()
    top.submodules.dut = ResetInserter(rst)(dut)
    got: list[tuple[int, int]] = []

    async def bench(ctx) -> None:
        for values in [
            dict(we=1, wx=1, wdata=1),
            dict(req=1, ox=1),  # reads 1
            dict(rst=1),
            dict(req=1, ox=1),  # map cleared: 0
        ]:
            ctx.set(rst, values.pop("rst", 0))
            for name in ("we", "wx", "wdata", "req", "ox"):
                ctx.set(getattr(dut, name), values.get(name, 0))
            await ctx.tick()
            got.append((ctx.get(dut.rows_valid), ctx.get(dut.rows)))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == [(0, 0), (1, 1), (0, 0), (1, 0)]


@pytest.mark.parametrize(
    ("in_shape", "edge"),
    [
        (
            (1, 8, 8),
            Edge("conv2d", "input", kernel=3, stride=1, padding=1, weight_shape=(16, 1, 3, 3)),
        ),
        (
            (16, 8, 8),
            Edge("conv2d", "c1", kernel=3, stride=2, padding=1, weight_shape=(32, 16, 3, 3)),
        ),
        ((3, 7, 5), Edge("conv2d", "c1", kernel=2, stride=1, padding=0, weight_shape=(4, 3, 2, 2))),
        ((64,), Edge("linear", "input", weight_shape=(10, 64))),
        ((32, 4, 4), Edge("linear", "c2", weight_shape=(10, 512))),
    ],
)
def test_geometry_matches_edge_geometry(in_shape: tuple[int, ...], edge: Edge) -> None:
    geo = edge_geometry(edge, in_shape, HardwareConfig())
    dut = unused(SpikeWindow.for_edge(edge, in_shape))
    assert dut.rows_width == geo.rows
    assert dut.positions == geo.positions


def test_linear_is_flatten_order() -> None:
    """A linear edge from a square map: the one window is the map in C order."""
    rng = np.random.default_rng(3)
    s = rng.integers(0, 2, size=(3, 3, 3))
    dut = SpikeWindow.for_linear(s.shape)
    assert (dut.kernel, dut.positions) == (3, 1)
    got = run(dut, [*writes(s, rng), dict(req=1)])
    assert got[-1] == (1, pack_bits(s.reshape(-1)))
    flat = SpikeWindow.for_linear((7,))
    assert flat.params == dict(channels=7, height=1, width=1, kernel=1, stride=1, padding=0)
    bits = rng.integers(0, 2, size=7)
    got = run(flat, [dict(we=1, wdata=pack_bits(bits)), dict(req=1)])
    assert got[-1] == (1, pack_bits(bits))


def test_verilog_is_deterministic() -> None:
    params = dict(channels=2, height=5, width=4, kernel=3, stride=2, padding=1)
    a = spike_window_verilog(**params)
    assert a == spike_window_verilog(**params)
    assert a == emit_verilog(SpikeWindow(**params), name="spike_window")
    assert "module spike_window" in a
    for port in ("we", "wy", "wx", "wdata", "req", "oy", "ox", "rows", "rows_valid"):
        assert f" {port}" in a
    assert "module win" in spike_window_verilog("win", **params)
    with pytest.raises(RTLError, match="identifier"):
        spike_window_verilog("not a name", **params)


GOOD = dict(channels=2, height=4, width=4, kernel=3, stride=1, padding=1)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (dict(channels=0), "channels"),
        (dict(channels=2.0), "channels"),
        (dict(height=0), "height"),
        (dict(width=True), "width"),
        (dict(width=2000), "width"),
        (dict(kernel=0), "kernel"),
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(padding=3), "padding"),  # padding must be < kernel
        (dict(kernel=7, padding=1), "kernel"),  # output size 0
        (dict(height=1, width=9, kernel=4, padding=1), "height"),
        (dict(channels=MAX_BITS, height=2, width=1, kernel=1, padding=0), "channels"),
    ],
)
def test_bad_parameters(change: dict, name: str) -> None:
    with pytest.raises(RTLError, match=name):
        SpikeWindow(**{**GOOD, **change})


def test_bad_linear_shapes() -> None:
    with pytest.raises(RTLError, match="square"):
        SpikeWindow.for_linear((2, 3, 4))
    with pytest.raises(RTLError, match="in_shape"):
        SpikeWindow.for_linear((2, 3))
    with pytest.raises(RTLError, match="skip"):
        SpikeWindow.for_edge(Edge("skip", "c1"), (2, 3, 3))
