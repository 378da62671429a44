"""EdgeAccumulator (hdl.rtl.accumulate) against the shift-add of docs/hardware-model.md.

The reference is written from the formula: column ``(o·2 + p)·slices + j`` adds
``(-1)**p · 2**(j·cell_bits) · 2**plane · code``; tiles may answer in any cycle between clears.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.rtl import RTLError
from hdl.rtl.accumulate import EdgeAccumulator, accumulator_bits, accumulator_verilog
from hdl.rtl.synth import lint

CASES = [
    # out_channels, slices, cell_bits, adc_bits, tile width, row tiles, planes
    (4, 1, 1, 4, 8, 1, 1),
    (5, 3, 2, 5, 8, 2, 1),  # an output's 6 columns straddle column tiles
    (3, 2, 1, 3, 4, 3, 4),
    (2, 4, 2, 6, 16, 1, 8),
]


def tiles_of(out_channels: int, slices: int, width: int, row_tiles: int) -> list[tuple[int, int]]:
    cols = 2 * slices * out_channels
    col_tiles = [(c, min(cols, c + width)) for c in range(0, cols, width)]
    return col_tiles * row_tiles


def reference(tile_cols, codes_per_tile, plane, slices, cell_bits, out_channels) -> np.ndarray:
    z = np.zeros(out_channels, dtype=np.int64)
    for (c0, c1), codes in zip(tile_cols, codes_per_tile, strict=True):
        for col in range(c0, c1):
            o, rest = divmod(col, 2 * slices)
            p, j = divmod(rest, slices)
            z[o] += (-1) ** p * 2 ** (j * cell_bits) * 2**plane * int(codes[col - c0])
    return z


@pytest.mark.parametrize("case", CASES)
def test_sums_equal_the_formula(case) -> None:
    out_channels, slices, cell_bits, adc_bits, width, row_tiles, planes = case
    tile_cols = tiles_of(out_channels, slices, width, row_tiles)
    bits = accumulator_bits(
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        row_tiles=row_tiles,
        bit_planes=planes,
    )
    acc = EdgeAccumulator(
        out_channels=out_channels,
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        tile_cols=tile_cols,
        z_bits=bits,
        planes=planes,
    )
    rng = np.random.default_rng(sum(case))
    top = 2**adc_bits - 1
    failures: list[str] = []

    def pack(codes_per_tile) -> int:
        value, shift = 0, 0
        for codes in codes_per_tile:
            for c in codes:
                value |= int(c) << shift
                shift += adc_bits
        return value

    async def bench(ctx) -> None:
        for trial in range(40):
            want = np.zeros(out_channels, dtype=np.int64)
            # one sum: every plane, each tile answering in a random cycle of the plane's step
            for plane in range(planes):
                draws = [
                    rng.choice([0, top]) * np.ones(c1 - c0, int)
                    if trial % 7 == 0
                    else rng.integers(0, top + 1, c1 - c0)
                    for c0, c1 in tile_cols
                ]
                want += reference(tile_cols, draws, plane, slices, cell_bits, out_channels)
                when = rng.integers(1, 4, len(tile_cols))
                if planes > 1:
                    ctx.set(acc.plane, plane)
                ctx.set(acc.clear, 1 if plane == 0 else 0)  # the read cycle
                ctx.set(acc.valid, 0)
                await ctx.tick()
                ctx.set(acc.clear, 0)
                for cycle in range(1, 4):
                    now = [t for t in range(len(tile_cols)) if when[t] == cycle]
                    shown = [d if t in now else np.full_like(d, top) for t, d in enumerate(draws)]
                    ctx.set(acc.codes, pack(shown))  # codes of tiles not valid must not count
                    ctx.set(acc.valid, sum(1 << t for t in now))
                    await ctx.tick()
                ctx.set(acc.valid, 0)
            raw = ctx.get(acc.z)
            got = []
            for o in range(out_channels):
                f = (raw >> (o * bits)) & ((1 << bits) - 1)
                got.append(f - (1 << bits) if f >> (bits - 1) else f)
            if not np.array_equal(got, want):
                failures.append(f"trial {trial}: got {got}, want {want.tolist()}")

    sim = Simulator(acc)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, failures[:3]


def test_width_bound_is_reached_by_full_scale_codes() -> None:
    # all + columns at full scale, every plane, two row tiles: the bound is tight
    bits = accumulator_bits(slices=2, cell_bits=2, adc_bits=4, row_tiles=2, bit_planes=3)
    step = 15 * (1 + 4)
    assert bits == 1 + (2 * step * 7).bit_length()
    assert accumulator_bits(slices=1, cell_bits=1, adc_bits=8, code_max=4) == 4


def test_verilog_is_identical_and_lints_clean() -> None:
    params = dict(
        out_channels=3,
        slices=2,
        cell_bits=1,
        adc_bits=4,
        tile_cols=[(0, 8), (8, 12)],
        z_bits=10,
        planes=2,
    )
    text = accumulator_verilog(**params)
    assert text == accumulator_verilog(**params)
    result = lint(text, "edge_accumulator")
    assert result.clean, "\n".join(map(str, result.warnings))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(RTLError, match="tile_cols\\[1\\]"):
        EdgeAccumulator(
            out_channels=2, slices=1, cell_bits=1, adc_bits=4, tile_cols=[(0, 4), (2, 9)], z_bits=8
        )
    with pytest.raises(RTLError, match="at least one tile"):
        EdgeAccumulator(out_channels=2, slices=1, cell_bits=1, adc_bits=4, tile_cols=[], z_bits=8)
    with pytest.raises(RTLError, match="z_bits"):
        EdgeAccumulator(
            out_channels=2, slices=1, cell_bits=1, adc_bits=4, tile_cols=[(0, 4)], z_bits=1
        )
