"""EdgeAccumulator (hdl.rtl.accumulate) against the shift-add of docs/hardware-model.md.

The reference is written from the formula: column ``(o·2 + p)·slices + j`` adds
``(-1)**p · 2**(j·cell_bits) · 2**plane · code``, summed over row tiles. The bench plays the
tiles' ADCs: ADC ``a`` of a tile converts its columns ``a, a + A, ...`` one conversion after
another, all row tiles of a column tile together, with a cycle between conversions (serial ADCs
with latency) or back to back, one conversion in every cycle (pipelined ADCs).
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.rtl import RTLError
from hdl.rtl.accumulate import EdgeAccumulator, accumulator_bits, accumulator_verilog
from hdl.rtl.synth import lint

CASES = [
    # out_channels, slices, cell_bits, adc_bits, tile width, row tiles, planes, ADCs per tile
    (4, 1, 1, 4, 8, 1, 1, 8),
    (4, 1, 1, 4, 8, 1, 1, 2),
    (5, 3, 2, 5, 8, 2, 1, 4),  # an output's 6 columns straddle column tiles and conversions
    (3, 2, 1, 3, 4, 3, 4, 1),
    (2, 4, 2, 6, 16, 1, 8, 16),
    (6, 1, 1, 3, 8, 2, 2, 3),  # 3 ADCs on 8 columns: the last conversion is partial
]


def col_tiles(out_channels: int, slices: int, width: int) -> list[tuple[int, int]]:
    cols = 2 * slices * out_channels
    return [(c, min(cols, c + width)) for c in range(0, cols, width)]


def reference(tiles, codes, plane, slices, cell_bits, out_channels, digit_bits=1) -> np.ndarray:
    """``codes[r][t]``: all column codes of row tile ``r``, column tile ``t``; plane ``plane``
    of ``digit_bits``-bit digits weighs ``2**(plane * digit_bits)``."""
    z = np.zeros(out_channels, dtype=np.int64)
    for per_row in codes:
        for (c0, c1), tile_codes in zip(tiles, per_row, strict=True):
            for col in range(c0, c1):
                o, rest = divmod(col, 2 * slices)
                p, j = divmod(rest, slices)
                shift = 2 ** (j * cell_bits) * 2 ** (plane * digit_bits)
                z[o] += (-1) ** p * shift * int(tile_codes[col - c0])
    return z


def _accumulator(case, digit_bits: int = 1, **options) -> tuple[EdgeAccumulator, list, int]:
    """The accumulator of ``case`` (its column tiles, the width that cannot overflow), the
    tiles and that width; ``digit_bits``: the word lines' digits (``hw.input_dac_bits``)."""
    out_channels, slices, cell_bits, adc_bits, width, row_tiles, planes, adcs = case
    tiles = col_tiles(out_channels, slices, width)
    bits = accumulator_bits(
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        row_tiles=row_tiles,
        bit_planes=planes,
        digit_bits=digit_bits,
    )
    acc = EdgeAccumulator(
        out_channels=out_channels,
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        col_tiles=tiles,
        row_tiles=row_tiles,
        adcs=adcs,
        z_bits=bits,
        planes=planes,
        digit_bits=digit_bits,
        **options,
    )
    return acc, tiles, bits


MULTI_DIGIT = [(case, d) for case in CASES for d in (1, 3) if d == 1 or case[6] > 1]
"""Every case with 1-bit planes, and those of several planes with 3-bit digits too."""


@pytest.mark.parametrize("back_to_back", [False, True], ids=["gaps", "back-to-back"])
@pytest.mark.parametrize(("case", "digit_bits"), MULTI_DIGIT)
def test_sums_equal_the_formula(case, digit_bits: int, back_to_back: bool) -> None:
    out_channels, slices, cell_bits, adc_bits, _, row_tiles, planes, adcs = case
    acc, tiles, bits = _accumulator(case, digit_bits)
    assert acc.conversions == tuple(-(-(c1 - c0) // adcs) for c0, c1 in tiles)
    rng = np.random.default_rng(sum(case))
    top = 2**adc_bits - 1
    failures: list[str] = []
    n_ct = len(tiles)

    def packed(codes, step: int, shown: set[tuple[int, int]]) -> int:
        """The codes bus in conversion ``step``: lane ``a`` = column ``a + step·A``; tiles not
        in ``shown`` show full-scale junk (not valid, must not count)."""
        value, shift = 0, 0
        for r in range(row_tiles):
            for t, lanes in enumerate(acc.lanes):
                for a in range(lanes):
                    col = a + step * adcs
                    n_cols = tiles[t][1] - tiles[t][0]
                    code = codes[r][t][col] if (r, t) in shown and col < n_cols else top
                    value |= int(code) << shift
                    shift += adc_bits
        return value

    async def bench(ctx) -> None:
        for trial in range(30):
            want = np.zeros(out_channels, dtype=np.int64)
            for plane in range(planes):
                full = trial % 7 == 0
                codes = [
                    [
                        np.full(c1 - c0, rng.choice([0, top]))
                        if full
                        else rng.integers(0, top + 1, c1 - c0)
                        for c0, c1 in tiles
                    ]
                    for _ in range(row_tiles)
                ]
                want += reference(tiles, codes, plane, slices, cell_bits, out_channels, digit_bits)
                if planes > 1:
                    ctx.set(acc.plane, plane)
                ctx.set(acc.clear, 1 if plane == 0 else 0)  # the read cycle
                ctx.set(acc.valid, 0)
                await ctx.tick()
                ctx.set(acc.clear, 0)
                for step in range(max(acc.conversions)):
                    shown = {
                        (r, t)
                        for r in range(row_tiles)
                        for t in range(n_ct)
                        if step < acc.conversions[t]
                    }
                    ctx.set(acc.codes, packed(codes, step, shown))
                    ctx.set(acc.valid, sum(1 << (r * n_ct + t) for r, t in shown))
                    await ctx.tick()
                    if not back_to_back:  # a gap between conversions (serial ADC latency)
                        ctx.set(acc.valid, 0)
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


def _streamed_sums(case, streamed: bool, lead: int, trials: int = 12) -> tuple[list, list]:
    """Overlapped reads: the conversions of all planes of a sum arrive back to back (plane
    ``b``'s conversion ``s`` in cycle ``b·n + s``, ``n`` the most conversions of a column tile),
    the read of plane ``b + 1`` coming ``lead`` cycles before its first code, i.e. while plane
    ``b``'s last codes still arrive. ``streamed``: the accumulator counts the planes of the
    codes itself and starts each sum with its first codes, the sums back to back (the next
    output position's first codes in the cycle after the last of this one). Without, ``clear``
    comes in a cycle of its own and the ``plane`` port follows the reads (a wrong plane for the
    last ``lead`` codes of every plane but the last). Returns the sums got and wanted."""
    out_channels, slices, cell_bits, adc_bits, _, row_tiles, planes, adcs = case
    acc, tiles, bits = _accumulator(case, streamed=streamed)
    assert hasattr(acc, "plane") == hasattr(acc, "clear") != streamed
    rng = np.random.default_rng(sum(case) + lead)
    top, n_ct, n = 2**adc_bits - 1, len(tiles), max(acc.conversions)
    got, want = [], []

    def packed(codes, step: int) -> tuple[int, int]:
        value, shift, valid = 0, 0, 0
        for r in range(row_tiles):
            for t, lanes in enumerate(acc.lanes):
                if step < acc.conversions[t]:
                    valid |= 1 << (r * n_ct + t)
                for a in range(lanes):
                    col, n_cols = a + step * adcs, tiles[t][1] - tiles[t][0]
                    code = codes[r][t][col] if step < acc.conversions[t] and col < n_cols else top
                    value |= int(code) << shift
                    shift += adc_bits
        return value, valid

    async def bench(ctx) -> None:
        for _trial in range(trials):
            per_plane = [
                [[rng.integers(0, top + 1, c1 - c0) for c0, c1 in tiles] for _ in range(row_tiles)]
                for _ in range(planes)
            ]
            want.append(
                sum(
                    reference(tiles, codes, b, slices, cell_bits, out_channels)
                    for b, codes in enumerate(per_plane)
                ).tolist()
            )
            if not streamed:
                ctx.set(acc.clear, 1)  # the first read of the sum
                ctx.set(acc.valid, 0)
                await ctx.tick()
                ctx.set(acc.clear, 0)
            for x in range(planes * n):
                b, step = divmod(x, n)
                if not streamed:  # the plane of the read issued last
                    ctx.set(acc.plane, min(planes - 1, (x + lead) // n))
                value, valid = packed(per_plane[b], step)
                ctx.set(acc.codes, value)
                ctx.set(acc.valid, valid)
                await ctx.tick()
            ctx.set(acc.valid, 0)
            raw = ctx.get(acc.z)  # the sum, before the next one's first codes
            sums = []
            for o in range(out_channels):
                f = (raw >> (o * bits)) & ((1 << bits) - 1)
                sums.append(f - (1 << bits) if f >> (bits - 1) else f)
            got.append(sums)

    sim = Simulator(acc)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got, want


MULTI_PLANE = [case for case in CASES if case[6] > 1]


@pytest.mark.parametrize("lead", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_streamed_sums_take_each_codes_own_shift_and_sum(case, lead: int) -> None:
    """streamed (hw.overlap_reads): the planes of one sum and the sums of consecutive output
    positions stream in back to back, the next read issued before the last codes of the
    previous arrive; every code is shifted by its own plane and added to its own sum (the
    plane counter wraps to 0, the first codes of plane 0 start the next sum)."""
    got, want = _streamed_sums(case, streamed=True, lead=lead)
    assert got == want


@pytest.mark.parametrize("case", MULTI_PLANE)
def test_the_reads_plane_is_the_wrong_shift_when_reads_overlap(case) -> None:
    """The deliberately broken variant: the accumulator shifts by the plane of the read issued
    last (the controller's plane, as without overlapped reads); the last codes of every plane
    but the last then take the next plane's shift, and the sums are wrong."""
    got, want = _streamed_sums(case, streamed=False, lead=1)
    assert got != want


def test_width_bound_is_reached_by_full_scale_codes() -> None:
    """The width holds the largest |z| (every + column at full scale on every row tile and
    plane, from the formula of the module doc) and no bit less would."""
    bits = accumulator_bits(slices=2, cell_bits=2, adc_bits=4, row_tiles=2, bit_planes=3)
    largest = sum(
        2**plane * 15 * 2 ** (j * 2)
        for _row_tile in range(2)
        for plane in range(3)
        for j in range(2)
    )
    assert -(2 ** (bits - 1)) <= -largest and largest <= 2 ** (bits - 1) - 1
    assert largest > 2 ** (bits - 2) - 1  # one bit less would overflow
    assert accumulator_bits(slices=1, cell_bits=1, adc_bits=8, code_max=4) == 4


def test_verilog_is_identical_and_lints_clean() -> None:
    params = dict(
        out_channels=3,
        slices=2,
        cell_bits=1,
        adc_bits=4,
        col_tiles=[(0, 8), (8, 12)],
        row_tiles=2,
        adcs=4,
        z_bits=10,
        planes=2,
    )
    text = accumulator_verilog(**params)
    assert text == accumulator_verilog(**params)
    result = lint(text, "edge_accumulator")
    assert result.clean, "\n".join(map(str, result.warnings))


def test_bad_parameters_are_refused() -> None:
    common = dict(out_channels=2, slices=1, cell_bits=1, adc_bits=4, adcs=2)
    with pytest.raises(RTLError, match="col_tiles\\[1\\]"):
        EdgeAccumulator(col_tiles=[(0, 4), (2, 9)], z_bits=8, **common)
    with pytest.raises(RTLError, match="at least one column tile"):
        EdgeAccumulator(col_tiles=[], z_bits=8, **common)
    with pytest.raises(RTLError, match="z_bits"):
        EdgeAccumulator(col_tiles=[(0, 4)], z_bits=1, **common)
    with pytest.raises(RTLError, match="streamed"):
        EdgeAccumulator(col_tiles=[(0, 4)], z_bits=8, planes=2, streamed=1, **common)
