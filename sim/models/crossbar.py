"""Behavioural models of one crossbar tile with its ADCs (the analog macro).

The weights are programmed out of band: a model is given the tile's unsigned cell values. Three
views of the same macro:

* :class:`CrossbarTileModel`: pure Python / numpy, ``codes(wl) = clamp(Σ_r cell[r, c] · wl[r],
  0, 2^adc_bits - 1)`` per column, exactly the column sum and ADC of :mod:`hdl.golden`
  (docs/hardware-model.md, "Crossbar, ADC and shift-add"); ``wl[r]`` is 0/1, or with
  ``dac_bits = d > 1`` (word-line DACs, ``hw.input_dac_bits``) a digit ``0 .. 2^d - 1``, packed
  at bits ``r·d .. r·d + d - 1`` of ``wl_en``;
* :func:`amaranth_macro`: an Amaranth simulator process that plays the macro next to the RTL;
* :class:`CocotbCrossbarMacro`: a cocotb coroutine that plays it against Verilog signals.

Its Verilog twin, :func:`sim.models.crossbar_verilog.crossbar_macro_verilog`, plays
:class:`MacroProtocol` in the Verilog simulators' simulation top (:mod:`sim.sim_top`); the
tests compare the two cycle by cycle.

Both simulated macros follow the port list and timing of :mod:`hdl.rtl.crossbar`: a ``read`` in
cycle ``k`` samples ``wl_en``, and ``codes_valid`` is high with the codes of one conversion of
its ADCs ``latency`` cycles after it and then every ``interval`` cycles (:class:`MacroProtocol`:
``interval = latency`` for serial ADCs, 1 for pipelined ones). They share
:class:`MacroProtocol`, which also records protocol violations of the digital side (a ``read``
or changed word lines while the ADCs still sample the bit lines of the previous read, the first
``ceil(cols / adcs) · interval`` cycles after it) in ``errors``; outside the valid
cycle the codes are the bitwise complement of the last answer, so a driver that captures them at
the wrong time sees wrong values.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from hdl.checks import check_int
from hdl.errors import NeurocimError
from hdl.geometry import conversion_cycles, conversions

__all__ = [
    "CocotbCrossbarMacro",
    "CrossbarModelError",
    "CrossbarTileModel",
    "MacroProtocol",
    "amaranth_macro",
    "bits_of",
    "pack_codes",
    "unpack_codes",
]


class CrossbarModelError(NeurocimError, ValueError):
    """A crossbar model was given values it cannot use; the message says which and why."""


def _int_param(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    return check_int(value, name, lo, hi, error=CrossbarModelError)


def bits_of(value: int, width: int) -> np.ndarray:
    """The ``width`` bits of the packed ``value`` as an int64 array, bit ``r`` at index ``r``."""
    return np.array([(int(value) >> r) & 1 for r in range(width)], dtype=np.int64)


def pack_codes(codes: Sequence[int] | np.ndarray, adc_bits: int) -> int:
    """Codes packed into one integer, column ``c`` at bits ``c * adc_bits ..``."""
    top = 2**adc_bits - 1
    out = 0
    for c, code in enumerate(np.asarray(codes).ravel()):
        if not 0 <= int(code) <= top:
            raise CrossbarModelError(f"code {int(code)} of column {c} is outside 0..{top}")
        out |= int(code) << (c * adc_bits)
    return out


def unpack_codes(value: int, cols: int, adc_bits: int) -> np.ndarray:
    """The ``cols`` codes of a packed bus ``value`` (inverse of :func:`pack_codes`)."""
    top = 2**adc_bits - 1
    return np.array([(int(value) >> (c * adc_bits)) & top for c in range(cols)], dtype=np.int64)


class CrossbarTileModel:
    """The column sums and ADC of one crossbar tile.

    Parameters
    ----------
    weights_cells:
        ``(rows, cols)`` non-negative integer cell values (one polarity and slice of the
        weights per column, docs/hardware-model.md section 5).
    adc_bits:
        ADC resolution, 1..16: a code saturates at ``2^adc_bits - 1``.
    dac_bits:
        word-line DAC resolution ``d``, 1..8: row ``r`` is driven with the digit at bits
        ``r·d .. r·d + d - 1`` of the packed ``wl_en`` (1: a 0/1 enable per row).

    Example::

        >>> import numpy as np
        >>> m = CrossbarTileModel(np.array([[1, 3], [2, 3]]), adc_bits=2)
        >>> m.codes([1, 1]).tolist(), m.codes(0b01).tolist()
        ([3, 3], [1, 3])
    """

    def __init__(self, weights_cells: np.ndarray, adc_bits: int, dac_bits: int = 1) -> None:
        cells = np.asarray(weights_cells)
        if cells.ndim != 2 or 0 in cells.shape:
            raise CrossbarModelError(
                f"weights_cells must be a non-empty (rows, cols) array, got shape {cells.shape}"
            )
        if cells.dtype.kind not in "iu":
            raise CrossbarModelError(
                f"weights_cells must hold integers (cell values), got dtype {cells.dtype}"
            )
        if cells.min() < 0:
            raise CrossbarModelError(
                f"weights_cells must be unsigned cell values, got {int(cells.min())}: store "
                "W+ = max(W, 0) and W- = max(-W, 0) in separate columns"
            )
        self.dac_bits = _int_param(dac_bits, "dac_bits", 1, 8)
        if int(cells.max()) * cells.shape[0] * (2**self.dac_bits - 1) >= 2**62:
            raise CrossbarModelError("weights_cells are too large: a column sum would overflow")
        self.cells = cells.astype(np.int64)
        self.cells.setflags(write=False)
        self.adc_bits = _int_param(adc_bits, "adc_bits", 1, 16)

    @property
    def rows(self) -> int:
        return int(self.cells.shape[0])

    @property
    def cols(self) -> int:
        return int(self.cells.shape[1])

    @property
    def adc_max(self) -> int:
        """Largest code, ``2^adc_bits - 1``."""
        return 2**self.adc_bits - 1

    def _wl(self, wl_en_bits: int | Sequence[int] | np.ndarray) -> np.ndarray:
        d, top = self.dac_bits, 2**self.dac_bits - 1
        if isinstance(wl_en_bits, numbers.Integral) and not isinstance(wl_en_bits, bool):
            if not 0 <= int(wl_en_bits) < 2 ** (self.rows * d):
                raise CrossbarModelError(
                    f"packed word lines {int(wl_en_bits)} do not fit {self.rows} rows of {d} bits"
                )
            value = int(wl_en_bits)
            return np.array([(value >> (r * d)) & top for r in range(self.rows)], dtype=np.int64)
        wl = np.asarray(wl_en_bits)
        what = "bits of 0/1" if d == 1 else f"digits in 0..{top}"
        if wl.shape != (self.rows,) or wl.dtype.kind not in "biu" or np.any((wl < 0) | (wl > top)):
            raise CrossbarModelError(
                f"word lines must be {self.rows} {what} (or one packed integer), got "
                f"shape {wl.shape} dtype {wl.dtype}"
            )
        return wl.astype(np.int64)

    def column_sums(self, wl_en_bits: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """``Σ_r cell[r, c] · wl[r]`` per column, before the ADC (int64)."""
        return self._wl(wl_en_bits) @ self.cells

    def codes(self, wl_en_bits: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """The ADC codes ``clamp(Σ_r cell[r, c] · wl[r], 0, 2^adc_bits - 1)`` (int64, cols).

        ``wl_en_bits``: ``rows`` bits 0/1, or the packed ``wl_en`` bus (bit ``r`` = row ``r``).
        """
        return np.clip(self.column_sums(wl_en_bits), 0, self.adc_max)

    def packed_codes(self, wl_en_bits: int | Sequence[int] | np.ndarray) -> int:
        """:meth:`codes` packed like the ``codes`` bus."""
        return pack_codes(self.codes(wl_en_bits), self.adc_bits)


class MacroProtocol:
    """The macro's cycle behaviour, one :meth:`step` per clock cycle (shared by both simulators).

    ``step(read, wl_en)`` takes the digital side's outputs during cycle ``n`` and returns what
    the macro drives in cycle ``n + 1``: ``(codes_valid, packed codes)``. Every answered read
    is appended to ``reads`` as ``(wl_en, packed codes of all columns)``; violations go to
    ``errors``.

    With ``adcs = None`` the macro answers a ``read`` in cycle ``k`` with all its columns in
    cycle ``k + latency``. With ``adcs = A`` it has ``A`` ADCs, ADC ``a`` converting the columns
    ``a, a + A, a + 2A, ...`` one after another: conversion ``j`` (``0 .. ceil(cols / A) - 1``)
    is valid in cycle ``k + latency + j · interval`` with column ``a + j·A`` on lane ``a`` of
    ``codes`` (0 past the last column). ``latency`` is the cycles from the read to the first
    code (``1 + adc_latency_cycles``), ``interval`` those from one code to the next: by default
    ``latency`` (serial ADCs, conversion ``j`` in cycle ``k + (j + 1) · latency``), 1 for
    pipelined ADCs (a conversion in every cycle, conversion ``j`` in cycle ``k + latency + j``);
    :attr:`hdl.rtl.plan.TilePort.first_cycles` and ``conversion_cycles`` give them per tile.

    Conversion ``j`` samples its columns ``j · interval`` cycles after the read, so ``wl_en``
    must hold, and no new read may come, for :attr:`sampling_cycles` ``= steps · interval``
    cycles; a new read may come right after, while the last codes of the previous one are still
    on their way (a pipelined ADC then converts in every cycle, read after read). The codes of
    two reads never share a cycle: the first code of the next read comes ``latency`` cycles
    after it, after the previous read's last code.
    """

    def __init__(
        self,
        model: CrossbarTileModel,
        latency: int,
        adcs: int | None = None,
        interval: int | None = None,
    ) -> None:
        if not isinstance(model, CrossbarTileModel):
            raise CrossbarModelError(f"model must be a CrossbarTileModel, not {model!r}")
        self.model = model
        self.latency = _int_param(latency, "latency", 1)
        self.interval = self.latency if interval is None else _int_param(interval, "interval", 1)
        self.adcs = model.cols if adcs is None else min(_int_param(adcs, "adcs", 1), model.cols)
        self.steps = conversions(model.cols, self.adcs)
        self.errors: list[str] = []
        self.reads: list[tuple[int, int]] = []
        self._cycle = 0
        self._flight: list[list[Any]] = []  # [cycles since the read, wl_en, codes], oldest first
        self._last = 0
        self._mask = 2 ** (self.adcs * model.adc_bits) - 1

    @property
    def cycles(self) -> int:
        """Cycles from a read to its last codes: ``latency + (ceil(cols / adcs) - 1) ·
        interval`` (:func:`hdl.geometry.conversion_cycles`)."""
        return conversion_cycles(self.steps, self.latency, self.interval)

    @property
    def sampling_cycles(self) -> int:
        """Cycles the ADCs sample the bit lines of one read: ``ceil(cols / adcs) · interval``
        (conversion ``s`` starts ``s · interval`` cycles after the read). ``wl_en`` must hold
        and no new read may come during them; the next read may come right after, while the
        last codes are still in the ADC pipeline."""
        return self.steps * self.interval

    def _conversion_at(self, since: int) -> int | None:
        """The conversion valid ``since`` cycles after the read, or ``None``."""
        j, off = divmod(since - self.latency, self.interval)
        return j if since >= self.latency and off == 0 and j < self.steps else None

    def _lanes(self, codes: np.ndarray, step: int) -> int:
        cols = codes[step * self.adcs : (step + 1) * self.adcs]
        return pack_codes(np.pad(cols, (0, self.adcs - len(cols))), self.model.adc_bits)

    def step(self, read: int, wl_en: int) -> tuple[int, int]:
        n, self._cycle = self._cycle, self._cycle + 1
        for conv in self._flight:
            conv[0] += 1
        sampling = [c for c in self._flight if c[0] < self.sampling_cycles]
        for conv in sampling:
            if wl_en != conv[1]:
                self.errors.append(
                    f"cycle {n}: wl_en changed from {conv[1]:#x} to {wl_en:#x} while the ADCs "
                    "sample the bit lines"
                )
        self._flight = [c for c in self._flight if c[0] < self.cycles]
        if read:
            if sampling:
                self.errors.append(f"cycle {n}: read while a conversion is in flight (ignored)")
            else:
                codes = self.model.codes(wl_en)
                self._flight.append([0, wl_en, codes])
                self.reads.append((wl_en, pack_codes(codes, self.model.adc_bits)))
        for conv in self._flight:
            j = self._conversion_at(conv[0] + 1)
            if j is not None:
                self._last = self._lanes(conv[2], j)
                return 1, self._last
        return 0, ~self._last & self._mask


def amaranth_macro(
    model: CrossbarTileModel,
    xbar: Any,
    latency: int,
    adcs: int | None = None,
    interval: int | None = None,
) -> Any:
    """An Amaranth simulator process playing the macro on the interface ``xbar``.

    ``xbar`` carries the signals of :func:`hdl.rtl.crossbar.crossbar_signature` (e.g. a tile
    port of :class:`hdl.rtl.accelerator.Accelerator`). Add the returned coroutine
    function with ``sim.add_process``; it samples ``read`` and ``wl_en`` at every rising edge and
    drives ``codes_valid`` and ``codes`` right after it, as a registered macro output. The
    :class:`MacroProtocol` (``latency``, ``adcs``, ``interval``) it runs is its attribute
    ``protocol``::

        proc = amaranth_macro(model, acc.xbar_l0_e0_r0_c0, latency=2)
        sim.add_process(proc)
        ...
        assert proc.protocol.errors == []
    """
    protocol = MacroProtocol(model, latency, adcs, interval)

    async def process(ctx: Any) -> None:
        ctx.set(xbar.codes_valid, 0)
        ctx.set(xbar.codes, 0)
        async for _clk, _rst, read, wl_en in ctx.tick().sample(xbar.read, xbar.wl_en):
            valid, codes = protocol.step(int(read), int(wl_en))
            ctx.set(xbar.codes_valid, valid)
            ctx.set(xbar.codes, codes)

    process.protocol = protocol  # type: ignore[attr-defined]
    return process


class CocotbCrossbarMacro:
    """The macro as a cocotb coroutine on the Verilog ports of a crossbar tile.

    ``dut`` is the top level; ``latency``, ``adcs`` and ``interval`` are
    :class:`MacroProtocol`'s; the packed ports are ``<prefix>wl_en``, ``<prefix>read``,
    ``<prefix>codes``, ``<prefix>codes_valid`` (``prefix = "xbar_l0_e0_r0_c0__"`` for a tile
    port of the accelerator's Verilog), clocked by ``dut.<clock>``. Start it with
    ``cocotb.start_soon(macro.run())``.

    The coroutine samples ``read`` and ``wl_en`` at each falling edge (mid-cycle, where the
    registered outputs are stable) and changes its outputs at falling edges too: the answer of
    cycle ``n`` is driven from the middle of cycle ``n`` to the middle of cycle ``n + 1``. The
    digital side samples only at rising edges, so it sees exactly the timing of
    :mod:`hdl.rtl.crossbar`.
    """

    def __init__(
        self,
        dut: Any,
        model: CrossbarTileModel,
        latency: int,
        adcs: int | None = None,
        interval: int | None = None,
        *,
        prefix: str = "xbar__",
        clock: str = "clk",
    ) -> None:
        self.protocol = MacroProtocol(model, latency, adcs, interval)
        self.clk = getattr(dut, clock)
        self.wl_en = getattr(dut, f"{prefix}wl_en")
        self.read = getattr(dut, f"{prefix}read")
        self.codes = getattr(dut, f"{prefix}codes")
        self.codes_valid = getattr(dut, f"{prefix}codes_valid")

    @property
    def errors(self) -> list[str]:
        return self.protocol.errors

    @property
    def reads(self) -> list[tuple[int, int]]:
        return self.protocol.reads

    async def run(self) -> None:
        from cocotb.triggers import FallingEdge

        self.codes_valid.value = 0
        self.codes.value = 0
        pending = (0, 0)
        while True:
            await FallingEdge(self.clk)
            read, wl_en = int(self.read.value), int(self.wl_en.value)
            self.codes_valid.value, self.codes.value = pending
            pending = self.protocol.step(read, wl_en)
