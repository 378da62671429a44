"""The edge accumulator: shift-add of the ADC codes of all tiles of one weighted edge.

The crossbar periphery of docs/hardware-model.md (section 2, "Crossbar, ADC and shift-add")
computes, exactly in integers, for every output ``o`` of a weighted edge::

    z[o] = Σ_b 2**(b·d) · Σ_k Σ_j 2**(j·cell_bits) · (code[k, b, o, +, j] - code[k, b, o, -, j])

with ``k`` the row tiles, ``j`` the slices (``cell_bits`` bits each), ``±`` the two polarity
columns and ``b`` the input planes of an edge reading the direct-encoded input (one plane,
``b = 0``, otherwise): bit-planes (``d = 1``) or, with ``d = digit_bits`` bits per word line
(``hw.input_dac_bits``), digit-planes.

**Physical columns** (section 5): output-major, ``o``, then polarity ``+`` before ``-``, then
slice ``j``: column ``col = (o · 2 + p) · slices + j`` (``p = 0`` for ``+``). The edge's
columns are cut into column tiles ``col_tiles[t] = (c0, c1)``; every column tile is repeated
on ``row_tiles`` row tiles.

**ADC multiplexing.** A tile has ``adcs = A`` ADCs; ADC ``a`` converts the tile's columns
``a, a + A, a + 2A, ...`` one after another, so a read of a tile with ``n`` columns delivers
``ceil(n / A)`` conversions of ``lanes = min(n, A)`` codes each, lane ``a`` of conversion ``s``
holding local column ``a + s·A``. All row tiles of a column tile convert together. Per ADC
lane the accumulator first adds the codes of the row tiles (``row_tiles - 1`` adders per lane),
then adds each lane sum, shifted and signed, to the output its column of the current conversion
belongs to. The adders thus scale with the ADCs and the outputs, not with every column of every
tile (which a macro answering all columns at once would need).

**Ports and timing (one clock edge).** ``codes`` packs the tiles row tile by row tile, column
tile by column tile, each as its ``lanes`` codes of ``adc_bits``; ``valid[r · T + t]`` says
that row tile ``r``, column tile ``t`` hands over a conversion in this cycle. A counter per
column tile (advanced by row tile 0's ``valid``, wrapping after the last conversion) says which.
At each rising edge::

    z[o] <- (0 if clear else z[o]) + 2**(plane·d) · Σ_{columns of o converted now}
                                     ±2**(j·cell_bits) · Σ_{row tiles r, valid} code[r]

and ``clear`` (high in the cycle of a read, before any answer) starts a new sum, ``plane``
being the ``plane`` port (the read's plane, held while its codes arrive).

**Streamed** (``streamed=True``, overlapped reads ``hw.overlap_reads``: the next read is issued
while this one's codes still arrive, the next plane's or the next output position's) the
accumulator times itself from its codes: ``plane`` is its own plane counter, the plane of the
codes now arriving, advanced after the last conversion of column tile 0 (the widest, so the
last code of a read) and wrapping after plane ``planes - 1``; and the first conversion of plane
0 (conversion counter 0 of column tile 0, plane 0) starts the new sum in place of ``clear``
(``z[o] <- 2**0 · Σ ...``), so the previous sum stays in ``z`` until the next one's first
codes arrive. The codes of one read never share a cycle with the next read's
(:class:`sim.models.crossbar.MacroProtocol`), so every code takes its own plane's shift and
sum. ``z`` packs
the outputs as signed ``z_bits`` fields, ``z[o]`` at bits ``o · z_bits``; it wraps modulo
``2**z_bits`` and is never clamped: :func:`accumulator_bits` gives a width that cannot
overflow.

Example::

    >>> acc = EdgeAccumulator(out_channels=4, slices=1, cell_bits=1, adc_bits=4,
    ...                       col_tiles=[(0, 8)], row_tiles=2, adcs=2, z_bits=8)
    >>> acc.lanes, acc.conversions, len(acc.codes), len(acc.z)
    ((2,), (4,), 16, 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.geometry import conversions, lanes
from hdl.rtl.component import CheckedComponent
from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = ["Z_BITS", "EdgeAccumulator", "accumulator_bits", "accumulator_verilog"]

Z_BITS = (2, 64)
"""Bounds of ``z_bits``, the width of each signed sum ``z[o]``."""


def _int_param(value: Any, name: str, lo: int, hi: int) -> int:
    return check_int(value, name, lo, hi, error=RTLError)


def accumulator_bits(
    *,
    slices: int,
    cell_bits: int,
    adc_bits: int,
    row_tiles: int = 1,
    bit_planes: int = 1,
    code_max: int | None = None,
    digit_bits: int = 1,
) -> int:
    """Signed width at which a sum over ``row_tiles`` row tiles and ``bit_planes`` planes of
    ``digit_bits = d`` bits never overflows: ``1 + bit_length(row_tiles · M · (2**(bit_planes ·
    d) - 1))`` with ``M = code_max · Σ_j 2**(j·cell_bits)`` the largest ``|step|`` at plane 0
    (``code_max`` defaults to the ADC's full scale ``2**adc_bits - 1``; a smaller column-sum
    bound of the tile may be given): plane ``b``'s steps are shifted by ``b·d`` and
    ``Σ_b 2**(b·d) <= (2**(bit_planes·d) - 1) / (2**d - 1) <= 2**(bit_planes·d) - 1``.
    """
    slices = _int_param(slices, "slices", 1, 64)
    cell_bits = _int_param(cell_bits, "cell_bits", 1, 8)
    adc_bits = _int_param(adc_bits, "adc_bits", 1, 16)
    row_tiles = _int_param(row_tiles, "row_tiles", 1, 1 << 20)
    bit_planes = _int_param(bit_planes, "bit_planes", 1, 16)
    digit_bits = _int_param(digit_bits, "digit_bits", 1, 8)
    top = 2**adc_bits - 1 if code_max is None else _int_param(code_max, "code_max", 0, 1 << 16)
    step = top * sum(2 ** (j * cell_bits) for j in range(slices))
    return max(2, 1 + (row_tiles * step * (2 ** (bit_planes * digit_bits) - 1)).bit_length())


class EdgeAccumulator(CheckedComponent):
    """``z[o]`` of one weighted edge from the ADC codes of its tiles (see the module doc).

    Args:
        out_channels: outputs ``C_out`` of the edge.
        slices: slices per polarity, ``ceil(magnitude_bits / cell_bits)``.
        cell_bits: bits per cell; slice ``j`` weighs ``2**(j·cell_bits)``.
        adc_bits: bits of an ADC code (unsigned).
        col_tiles: per column tile the ``(c0, c1)`` range of the edge's physical columns.
        row_tiles: row tiles per column tile.
        adcs: ADCs per tile ``A`` (``tile_cols / columns_per_adc``).
        z_bits: width of each signed ``z[o]``, 2..64.
        planes: input bit-planes (``plane`` port when > 1, unless ``streamed``).
        digit_bits: bits ``d`` of the word lines' digits (``hw.input_dac_bits`` for an edge
            reading the direct input, else 1): plane ``b``'s codes are shifted by ``b·d``.
        streamed: time the sums from the codes (module doc): the plane of each code from an
            own counter (``bit_length(planes - 1)`` flip-flops), a new sum with the first
            code of plane 0; no ``clear`` and ``plane`` ports.

    Ports:
        codes: In(row_tiles · Σ_t lanes_t · adc_bits); valid: In(row_tiles · len(col_tiles));
        clear: In(1) and plane: In(range(planes)) (``planes > 1``), unless ``streamed``;
        z: Out(out_channels · z_bits).

    Attributes:
        lanes, conversions: per column tile, codes per conversion and conversions per read.
    """

    @classmethod
    def _check(
        cls,
        *,
        out_channels: int,
        slices: int,
        cell_bits: int,
        adc_bits: int,
        col_tiles: Sequence[tuple[int, int]],
        row_tiles: int = 1,
        adcs: int,
        z_bits: int,
        planes: int = 1,
        streamed: bool = False,
        digit_bits: int = 1,
    ) -> dict[str, Any]:
        p: dict[str, Any] = {
            "out_channels": _int_param(out_channels, "out_channels", 1, 1 << 16),
            "slices": _int_param(slices, "slices", 1, 64),
            "cell_bits": _int_param(cell_bits, "cell_bits", 1, 8),
            "adc_bits": _int_param(adc_bits, "adc_bits", 1, 16),
            "row_tiles": _int_param(row_tiles, "row_tiles", 1, 1 << 16),
            "adcs": _int_param(adcs, "adcs", 1, 1 << 16),
            "z_bits": _int_param(z_bits, "z_bits", *Z_BITS),
            "planes": _int_param(planes, "planes", 1, 16),
            "digit_bits": _int_param(digit_bits, "digit_bits", 1, 8),
        }
        if not isinstance(streamed, bool):
            raise RTLError(f"streamed must be True or False, not {streamed!r}")
        p["streamed"] = streamed
        cols = 2 * p["slices"] * p["out_channels"]
        tiles = []
        for t, pair in enumerate(col_tiles):
            c0, c1 = (int(v) for v in pair)
            if not 0 <= c0 < c1 <= cols:
                raise RTLError(
                    f"col_tiles[{t}] = {pair!r} is not a column range inside 0..{cols} "
                    f"(2 · slices · out_channels)"
                )
            tiles.append((c0, c1))
        if not tiles:
            raise RTLError("col_tiles must list at least one column tile")
        p["col_tiles"] = tuple(tiles)
        p["lanes"] = tuple(lanes(c1 - c0, p["adcs"]) for c0, c1 in tiles)
        p["conversions"] = tuple(conversions(c1 - c0, p["adcs"]) for c0, c1 in tiles)
        return p

    def __init__(self, **params: Any) -> None:  # params checked by _check
        tiles = self.col_tiles
        ports: dict[str, Any] = {
            "codes": In(self.row_tiles * sum(self.lanes) * self.adc_bits),
            "valid": In(self.row_tiles * len(tiles)),
            "z": Out(self.out_channels * self.z_bits),
        }
        if not self.streamed:
            ports["clear"] = In(1)
            if self.planes > 1:
                ports["plane"] = In(range(self.planes))
        super().__init__(ports)

    def _plane_shift(self, step: Any, plane: Any) -> Any:
        """``step · 2**(plane·d)``: a code of plane ``plane`` of ``d = digit_bits`` bits."""
        if self.digit_bits == 1:
            return step << plane
        return step << (plane * self.digit_bits)

    def _lane_sum(self, col_tile: int, lane: int, codes: list[tuple[Any, Any]]) -> Any:
        """``Σ_r valid_r · code_r`` of one ADC lane over the row tiles (``codes[r]``)."""
        return sum((Mux(valid, code, 0) for valid, code in codes), Const(0, 1))

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        ab, n_ct = self.adc_bits, len(self.col_tiles)
        per_tile = [lanes * ab for lanes in self.lanes]
        row_width = sum(per_tile)
        sums: list[list[Signal]] = []  # [column tile][lane]
        steps: list[Signal] = []  # conversion counter per column tile
        for t in range(n_ct):
            offset = sum(per_tile[:t])
            lanes = []
            for a in range(self.lanes[t]):
                codes = []
                for r in range(self.row_tiles):
                    at = r * row_width + offset + a * ab
                    codes.append((self.valid[r * n_ct + t], self.codes[at : at + ab]))
                lane = Signal(range(self.row_tiles * (2**ab - 1) + 1), name=f"lane{t}_{a}")
                m.d.comb += lane.eq(self._lane_sum(t, a, codes))
                lanes.append(lane)
            sums.append(lanes)
            step = Signal(range(max(2, self.conversions[t])), name=f"conversion{t}")
            with m.If(self.valid[t]):  # row tile 0 of column tile t
                last = step == self.conversions[t] - 1
                m.d.sync += step.eq(Mux(last, 0, step + 1))
            steps.append(step)
        plane: Any = None
        if self.planes > 1 and not self.streamed:
            plane = self.plane
        elif self.planes > 1:  # the plane of the codes now arriving (module doc)
            plane = Signal(range(self.planes), name="code_plane")
            with m.If(self.valid[0] & (steps[0] == self.conversions[0] - 1)):
                m.d.sync += plane.eq(Mux(plane == self.planes - 1, 0, plane + 1))
        if self.streamed:  # the first codes of a sum: conversion 0 of plane 0
            clear: Any = Signal(name="first_codes")
            first = self.valid[0] & (steps[0] == 0)
            m.d.comb += clear.eq(first & (plane == 0) if plane is not None else first)
        else:
            clear = self.clear
        per_output: list[list[Any]] = [[] for _ in range(self.out_channels)]
        for t, (c0, c1) in enumerate(self.col_tiles):
            for col in range(c0, c1):
                o, rest = divmod(col, 2 * self.slices)
                pol, j = divmod(rest, self.slices)
                s, a = divmod(col - c0, self.adcs)
                value = (
                    sums[t][a] if self.conversions[t] == 1 else Mux(steps[t] == s, sums[t][a], 0)
                )
                per_output[o].append((pol, value << (j * self.cell_bits)))
        zb = self.z_bits
        for o, terms in enumerate(per_output):
            z = self.z[o * zb : (o + 1) * zb].as_signed()
            total: Any = Const(0, signed(2))
            for pol, term in terms:
                total = total - term if pol else total + term
            step = Signal(signed(zb), name=f"step{o}")
            m.d.comb += step.eq(total)
            shifted = self._plane_shift(step, plane) if plane is not None else step
            m.d.sync += self.z[o * zb : (o + 1) * zb].eq(Mux(clear, 0, z) + shifted)
        return m


def accumulator_verilog(name: str = "edge_accumulator", **params: Any) -> str:
    """Verilog of an :class:`EdgeAccumulator` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(EdgeAccumulator(**params), name=name)
