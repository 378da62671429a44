"""The digital interface of one crossbar tile and the block that drives one read of it.

The crossbar with its ADCs is an analog macro outside the digital logic (docs/hardware-model.md,
"Crossbar, ADC and shift-add"). Its weights are programmed out of band; in operation the digital
side only reads it: it raises the word lines of the row tile's (dropout-gated) input spikes,
strobes ``read``, and some cycles later the macro returns one ADC code per column,
``clamp(Σ_r cell[r, c] · wl[r], 0, 2^adc_bits - 1)``.

**The macro's port list** (:func:`crossbar_signature`, seen from the digital side; packed buses):

================ ======================== ================================================
port             direction (digital side) meaning
================ ======================== ================================================
``wl_en``        ``Out(rows)``            word-line enables, bit ``r`` = row ``r``
``read``         ``Out(1)``               read strobe, high for one cycle
``codes``        ``In(cols * adc_bits)``  ADC codes; column ``c`` at bits
                                          ``c·adc_bits .. (c+1)·adc_bits - 1``
``codes_valid``  ``In(1)``                ``codes`` hold the answer to the last read
================ ======================== ================================================

**Macro timing** (``latency`` >= 1 is a parameter of the macro, i.e. of its behavioural models in
``sim.models.crossbar``, not of the digital side): with ``read`` high in cycle ``k`` the macro
samples ``wl_en`` at the end of cycle ``k`` and drives ``codes_valid = 1`` with the codes in
cycle ``k + latency``, for that one cycle. ``wl_en`` must stay unchanged from cycle ``k``
through cycle ``k + latency`` (the conversion needs the word lines); one read is in flight at a
time. Outside the valid cycle ``codes`` carry no meaning.

In the accelerator (:mod:`hdl.rtl.accelerator`) a read step raises ``read`` in its first cycle
and keeps the word lines for the whole step; a tile whose ADCs convert ``mux_steps`` column
groups answers ``latency = mux_steps · (1 + adc_latency_cycles)`` cycles after ``read``
(:attr:`hdl.rtl.accelerator.TilePort.latency`), and its codes go into the edge's
:class:`~hdl.rtl.accumulate.EdgeAccumulator` in that cycle.

Example::

    >>> from hdl.rtl.crossbar import crossbar_signature
    >>> sorted(crossbar_signature(rows=16, cols=4, adc_bits=5).members)
    ['codes', 'codes_valid', 'read', 'wl_en']
"""

from __future__ import annotations

import numbers
from typing import Any

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.rtl.lif import RTLError

__all__ = ["crossbar_signature"]

#: Bounds of the tile parameters, those of :class:`hdl.hwconfig.HardwareConfig`
#: (``tile_rows``, ``tile_cols`` and ``adc_bits``).
ROWS = (1, 4096)
COLS = (1, 4096)
ADC_BITS = (1, 16)


def _int_param(value: Any, name: str, lo: int, hi: int | None) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise RTLError(f"crossbar {name} must be an integer {bounds}, not {value!r}")
    return int(value)


def crossbar_signature(rows: int, cols: int, adc_bits: int) -> wiring.Signature:
    """The analog macro's ports as the digital side sees them (module doc, "port list").

    ``wl_en: Out(rows)``, ``read: Out(1)``, ``codes: In(cols * adc_bits)`` (column ``c`` at
    bits ``c * adc_bits ..``), ``codes_valid: In(1)``. The macro answers ``latency`` cycles
    after ``read``; ``latency`` belongs to the macro (its models), not to this signature.
    """
    rows = _int_param(rows, "rows", *ROWS)
    cols = _int_param(cols, "cols", *COLS)
    adc_bits = _int_param(adc_bits, "adc_bits", *ADC_BITS)
    return wiring.Signature(
        {
            "wl_en": Out(rows),
            "read": Out(1),
            "codes": In(cols * adc_bits),
            "codes_valid": In(1),
        }
    )
