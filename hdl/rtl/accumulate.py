"""The edge accumulator: shift-add of the ADC codes of all tiles of one weighted edge.

The crossbar periphery of docs/hardware-model.md (section 2, "Crossbar, ADC and shift-add")
computes, exactly in integers, for every output ``o`` of a weighted edge::

    z[o] = Σ_b 2**b · Σ_k Σ_j 2**(j·cell_bits) · (code[k, b, o, +, j] - code[k, b, o, -, j])

with ``k`` the row tiles, ``j`` the slices (``cell_bits`` bits each), ``±`` the two polarity
columns and ``b`` the input bit-planes of an edge reading the direct-encoded input (one plane,
``b = 0``, otherwise).

**Physical columns** (section 5): output-major, ``o``, then polarity ``+`` before ``-``, then
slice ``j``: column ``col = (o · 2 + p) · slices + j`` (``p = 0`` for ``+``). The edge's
columns are cut into column tiles of the crossbar; every tile ``t`` of the edge (any row tile,
any column tile) hands over the codes of its columns ``cols[t] = (c0, c1)``.

**Ports and timing (one clock edge).** ``codes`` packs the tiles one after the other, tile
``t``'s column ``col`` at bits ``(offset_t + col - c0) · adc_bits`` (``offset_t`` = columns of
the tiles before it), and ``valid[t]`` says that tile ``t``'s codes are there in this cycle.
At each rising edge::

    z[o] <- (0 if clear else z[o])
            + 2**plane · Σ_{t: valid[t]} Σ_{columns of t for o} ±2**(j·cell_bits) · code

so the tiles of an edge may answer in the same cycle or in different ones, and ``clear`` (high
in the cycle of a read, before any answer) starts a new sum. ``z`` packs the outputs as signed
``z_bits`` fields, ``z[o]`` at bits ``o · z_bits``; it wraps modulo ``2**z_bits`` and is never
clamped: :func:`accumulator_bits` gives a width that cannot overflow.

Example::

    >>> acc = EdgeAccumulator(out_channels=4, slices=1, cell_bits=1, adc_bits=4,
    ...                       tile_cols=[(0, 8)], z_bits=accumulator_bits(
    ...                           slices=1, cell_bits=1, adc_bits=4))
    >>> len(acc.codes), len(acc.z)
    (32, 24)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = ["EdgeAccumulator", "accumulator_bits", "accumulator_verilog"]


def _int_param(value: Any, name: str, lo: int, hi: int) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or not lo <= value <= hi:
        raise RTLError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
    return int(value)


def accumulator_bits(
    *,
    slices: int,
    cell_bits: int,
    adc_bits: int,
    row_tiles: int = 1,
    bit_planes: int = 1,
    code_max: int | None = None,
) -> int:
    """Signed width at which a sum over ``row_tiles`` row tiles and ``bit_planes`` planes never
    overflows: ``1 + bit_length(row_tiles · M · (2**bit_planes - 1))`` with ``M = code_max ·
    Σ_j 2**(j·cell_bits)`` the largest ``|step|`` at plane 0 (``code_max`` defaults to the ADC's
    full scale ``2**adc_bits - 1``; a smaller column-sum bound of the tile may be given).
    """
    slices = _int_param(slices, "slices", 1, 64)
    cell_bits = _int_param(cell_bits, "cell_bits", 1, 8)
    adc_bits = _int_param(adc_bits, "adc_bits", 1, 16)
    row_tiles = _int_param(row_tiles, "row_tiles", 1, 1 << 20)
    bit_planes = _int_param(bit_planes, "bit_planes", 1, 16)
    top = 2**adc_bits - 1 if code_max is None else _int_param(code_max, "code_max", 0, 1 << 16)
    step = top * sum(2 ** (j * cell_bits) for j in range(slices))
    return max(2, 1 + (row_tiles * step * (2**bit_planes - 1)).bit_length())


class EdgeAccumulator(wiring.Component):
    """``z[o]`` of one weighted edge from the ADC codes of its tiles (see the module doc).

    Args:
        out_channels: outputs ``C_out`` of the edge.
        slices: slices per polarity, ``ceil(magnitude_bits / cell_bits)``.
        cell_bits: bits per cell; slice ``j`` weighs ``2**(j·cell_bits)``.
        adc_bits: bits of an ADC code (unsigned).
        tile_cols: per tile the ``(c0, c1)`` range of the edge's physical columns it holds.
        z_bits: width of each signed ``z[o]``, 2..64.
        planes: input bit-planes (``plane`` port when > 1).

    Ports:
        codes: In(Σ_t (c1 - c0) · adc_bits); valid: In(tiles); clear: In(1);
        plane: In(range(planes)); z: Out(out_channels · z_bits).
    """

    def __init__(
        self,
        *,
        out_channels: int,
        slices: int,
        cell_bits: int,
        adc_bits: int,
        tile_cols: Sequence[tuple[int, int]],
        z_bits: int,
        planes: int = 1,
    ) -> None:
        self._MustUse__silence = True  # a refused component is no unused one
        self.out_channels = _int_param(out_channels, "out_channels", 1, 1 << 16)
        self.slices = _int_param(slices, "slices", 1, 64)
        self.cell_bits = _int_param(cell_bits, "cell_bits", 1, 8)
        self.adc_bits = _int_param(adc_bits, "adc_bits", 1, 16)
        self.z_bits = _int_param(z_bits, "z_bits", 2, 64)
        self.planes = _int_param(planes, "planes", 1, 16)
        cols = 2 * self.slices * self.out_channels
        tiles = []
        for t, pair in enumerate(tile_cols):
            c0, c1 = (int(v) for v in pair)
            if not 0 <= c0 < c1 <= cols:
                raise RTLError(
                    f"tile_cols[{t}] = {pair!r} is not a column range inside 0..{cols} "
                    f"(2 · slices · out_channels)"
                )
            tiles.append((c0, c1))
        if not tiles:
            raise RTLError("tile_cols must list at least one tile")
        self.tile_cols = tuple(tiles)
        self._MustUse__silence = False
        ports: dict[str, Any] = {
            "codes": In(sum(c1 - c0 for c0, c1 in tiles) * self.adc_bits),
            "valid": In(len(tiles)),
            "clear": In(1),
            "z": Out(self.out_channels * self.z_bits),
        }
        if self.planes > 1:
            ports["plane"] = In(range(self.planes))
        super().__init__(ports)

    def _tile_terms(self, tile: int, codes: Any) -> list[tuple[int, int, Any]]:
        """``(o, polarity, code << j·cell_bits)`` for each column of tile ``tile`` (whose codes
        are ``codes``), column ``(o·2 + polarity)·slices + j``."""
        c0, c1 = self.tile_cols[tile]
        ab = self.adc_bits
        terms = []
        for col in range(c0, c1):
            o, rest = divmod(col, 2 * self.slices)
            pol, j = divmod(rest, self.slices)
            code = codes[(col - c0) * ab : (col - c0 + 1) * ab]
            terms.append((o, pol, code << (j * self.cell_bits)))
        return terms

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        per_output: list[list[tuple[Any, int, Any]]] = [[] for _ in range(self.out_channels)]
        offset = 0
        for t, (c0, c1) in enumerate(self.tile_cols):
            width = (c1 - c0) * self.adc_bits
            codes = self.codes[offset : offset + width]
            offset += width
            for o, pol, term in self._tile_terms(t, codes):
                per_output[o].append((self.valid[t], pol, term))
        zb = self.z_bits
        for o, terms in enumerate(per_output):
            z = self.z[o * zb : (o + 1) * zb].as_signed()
            total: Any = Const(0, signed(2))
            for valid, pol, term in terms:
                gated = Mux(valid, term, 0)
                total = total - gated if pol else total + gated
            step = Signal(signed(zb), name=f"step{o}")
            m.d.comb += step.eq(total)
            shifted = step << self.plane if self.planes > 1 else step
            m.d.sync += self.z[o * zb : (o + 1) * zb].eq(Mux(self.clear, 0, z) + shifted)
        return m


def accumulator_verilog(name: str = "edge_accumulator", **params: Any) -> str:
    """Verilog of an :class:`EdgeAccumulator` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(EdgeAccumulator(**params), name=name)
