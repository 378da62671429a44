"""The digital interface of one crossbar tile (the analog macro with its ADCs).

The crossbar with its ADCs is an analog macro outside the digital logic (docs/hardware-model.md,
"Crossbar, ADC and shift-add"). Its weights are programmed out of band; in operation the digital
side only reads it: it raises the word lines of the row tile's (dropout-gated) input spikes,
strobes ``read``, and the macro's ``A`` ADCs convert the column sums
``clamp(Σ_r cell[r, c] · wl[r], 0, 2^adc_bits - 1)``, ADC ``a`` the columns ``a, a + A, a + 2A,
...`` one after another, handing over one code per ADC per conversion. ``wl[r]`` is 0/1, or, on
the tiles of an edge reading the direct input with ``hw.input_dac_bits = d > 1``, the row's
``d``-bit digit ``0 .. 2^d - 1`` driven by its word-line DAC.

**The macro's port list** (:func:`crossbar_signature`, seen from the digital side; packed buses;
``lanes = min(columns, A)``, the ``cols`` argument):

================ ========================== ==============================================
port             direction (digital side)   meaning
================ ========================== ==============================================
``wl_en``        ``Out(rows * dac_bits)``   word-line enables, bit ``r`` = row ``r``; with
                                            ``dac_bits = d > 1`` (the DACs of an edge
                                            reading the direct input,
                                            ``hw.input_dac_bits``) row ``r``'s digit at
                                            bits ``r·d .. r·d + d - 1``
``read``         ``Out(1)``                 read strobe, high for one cycle
``codes``        ``In(lanes * adc_bits)``   one conversion: ADC ``a``'s code at bits
                                            ``a·adc_bits .. (a+1)·adc_bits - 1``
``codes_valid``  ``In(1)``                  ``codes`` hold a conversion of the last read
================ ========================== ==============================================

**Macro timing** is a property of the macro, set by the hardware's ADC option
(:attr:`hdl.hwconfig.HardwareConfig.conversion_timing`): the first code comes ``f = 1 +
adc_latency_cycles`` cycles after ``read``, the next ones every ``c`` cycles, ``c = f`` for
serial ADCs (a conversion starts when the previous one is done) and ``c = 1`` for
pipelined ones (``adc_pipelined``: a new conversion every cycle, the latency hidden behind the
next). With ``read`` high in cycle ``k`` the macro samples ``wl_en`` at the end of cycle ``k``
and drives ``codes_valid = 1`` with conversion ``s`` (lane ``a`` = column ``a + s·A``) in cycle
``k + f + s·c``, for that one cycle each, ``s = 0 .. ceil(columns / A) - 1``: ``k + (s + 1)·(1 +
adc_latency_cycles)`` (serial) or ``k + s + 1 + adc_latency_cycles`` (pipelined, a conversion in
every cycle). ``wl_en`` must stay unchanged, and no new read come, while the ADCs sample the bit
lines: the ``ceil(columns / A)·c`` cycles from ``read`` (conversion ``s`` samples in cycle ``k +
s·c``); the next read may follow at once, its codes coming after the last of this one.
Outside the valid cycles ``codes`` carry no meaning. The behavioural models of
``sim.models.crossbar`` play this (:class:`~sim.models.crossbar.MacroProtocol` with ``adcs``
and ``interval``), and so does its Verilog twin, ``sim.models.crossbar_verilog``, in the
simulation top of ``sim.sim_top``; the accelerator's :class:`~hdl.rtl.plan.TilePort` lists ``f``
(``first_cycles``) and ``c`` (``conversion_cycles``) per tile.

In the accelerator (:mod:`hdl.rtl.accelerator`) a read step raises ``read`` in its first cycle
and keeps the word lines for the whole step (``f + (mux_steps - 1)·c + 2`` cycles; with
``hw.overlap_reads`` only the ``mux_steps·c`` sampling cycles, the next read, of the next
plane or output position, following at once); the conversions go into the edge's
:class:`~hdl.rtl.accumulate.EdgeAccumulator` as they arrive, which takes one conversion in
every cycle.

Example::

    >>> from hdl.rtl.crossbar import crossbar_signature
    >>> sorted(crossbar_signature(rows=16, cols=4, adc_bits=5).members)
    ['codes', 'codes_valid', 'read', 'wl_en']
"""

from __future__ import annotations

from typing import Any

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.rtl.lif import RTLError

__all__ = ["crossbar_signature"]

#: Bounds of the tile parameters, those of :class:`hdl.hwconfig.HardwareConfig`
#: (``tile_rows``, ``tile_cols`` and ``adc_bits``).
ROWS = (1, 4096)
COLS = (1, 4096)
ADC_BITS = (1, 16)
#: Bounds of the word-line DAC resolution (``hw.input_dac_bits``).
DAC_BITS = (1, 8)


def _int_param(value: Any, name: str, lo: int, hi: int | None) -> int:
    return check_int(value, f"crossbar {name}", lo, hi, error=RTLError)


def crossbar_signature(rows: int, cols: int, adc_bits: int, dac_bits: int = 1) -> wiring.Signature:
    """The analog macro's ports as the digital side sees them (module doc, "port list").

    ``wl_en: Out(rows * dac_bits)`` (row ``r``'s 1-bit enable, or its ``dac_bits``-bit digit
    at bits ``r * dac_bits ..``), ``read: Out(1)``, ``codes: In(cols * adc_bits)`` (column ``c`` at
    bits ``c * adc_bits ..``), ``codes_valid: In(1)``. When the macro answers after ``read``
    (module doc, "Macro timing": serial or pipelined ADCs) belongs to the macro and its
    models, not to this signature: the digital side takes a conversion whenever
    ``codes_valid`` is high.
    """
    rows = _int_param(rows, "rows", *ROWS)
    cols = _int_param(cols, "cols", *COLS)
    adc_bits = _int_param(adc_bits, "adc_bits", *ADC_BITS)
    dac_bits = _int_param(dac_bits, "dac_bits", *DAC_BITS)
    return wiring.Signature(
        {
            "wl_en": Out(rows * dac_bits),
            "read": Out(1),
            "codes": In(cols * adc_bits),
            "codes_valid": In(1),
        }
    )
