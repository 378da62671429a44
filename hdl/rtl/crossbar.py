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

**Driver timing** (:class:`CrossbarTileDriver`, everything in the ``sync`` domain), with
``start`` high in cycle ``c`` while the driver is idle (``busy = 0``):

* cycle ``c + 1``: ``wl_en = rows_in`` (as sampled in cycle ``c``), ``read = 1``, ``busy = 1``;
* cycles ``c + 1 .. c + 1 + latency``: ``wl_en`` held, ``busy = 1``; the macro answers with
  ``codes_valid`` in cycle ``c + 1 + latency``;
* cycle ``c + 2 + latency``: ``done = 1`` for this cycle only, ``codes`` hold the macro's codes
  (and keep them until the next answer), ``wl_en = 0``, ``busy = 0``.

So a read takes :func:`read_cycles` ``(latency) = latency + 2`` cycles from ``start`` to
``done``. ``start`` is ignored while ``busy``; a ``start`` in the ``done`` cycle is taken, so
back-to-back reads run one per ``latency + 2`` cycles. The driver waits for ``codes_valid``
however long it takes (it has no timeout). Every output is a register (no combinational path
from an input to an output); the synchronous reset clears them all.

Example::

    >>> from hdl.rtl.crossbar import CrossbarTileDriver, crossbar_driver_verilog, read_cycles
    >>> drv = CrossbarTileDriver(rows=16, cols=4, adc_bits=5)
    >>> drv.codes.shape().width, read_cycles(3)
    (20, 5)
    >>> "xbar__wl_en" in crossbar_driver_verilog(rows=16, cols=4, adc_bits=5)
    True
"""

from __future__ import annotations

import numbers
from typing import Any

from amaranth.hdl import Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = [
    "CrossbarTileDriver",
    "crossbar_driver_verilog",
    "crossbar_signature",
    "read_cycles",
]

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


def read_cycles(latency: int) -> int:
    """Cycles from a taken ``start`` to ``done`` with a macro of ``latency``: ``latency + 2``."""
    return _int_param(latency, "latency", 1, None) + 2


class CrossbarTileDriver(wiring.Component):
    """Runs one read of a crossbar row tile per ``start`` (timing: module doc).

    Parameters
    ----------
    rows:
        Word lines of the tile, 1..4096.
    cols:
        Columns (ADC codes) of the tile, 1..4096.
    adc_bits:
        Bits per ADC code, 1..16.

    Ports
    -----
    start : In(1)
        Begin a read with ``rows_in`` (taken when ``busy = 0``).
    rows_in : In(rows)
        The row tile's gated input spikes, bit ``r`` = row ``r``.
    busy : Out(1)
        A read is in flight (``start`` is ignored).
    done : Out(1)
        One cycle: ``codes`` hold the answer of the read (for the accumulator).
    codes : Out(cols * adc_bits)
        The captured ADC codes, packed like the macro's.
    xbar : Out(crossbar_signature(rows, cols, adc_bits))
        The macro's ports (Verilog ``xbar__wl_en``, ``xbar__read``, ``xbar__codes``,
        ``xbar__codes_valid``).
    """

    def __init__(self, *, rows: int, cols: int, adc_bits: int) -> None:
        self._MustUse__silence = True
        self.rows = _int_param(rows, "rows", *ROWS)
        self.cols = _int_param(cols, "cols", *COLS)
        self.adc_bits = _int_param(adc_bits, "adc_bits", *ADC_BITS)
        self._MustUse__silence = False
        super().__init__(
            {
                "start": In(1),
                "rows_in": In(self.rows),
                "busy": Out(1),
                "done": Out(1),
                "codes": Out(self.cols * self.adc_bits),
                "xbar": Out(crossbar_signature(self.rows, self.cols, self.adc_bits)),
            }
        )

    @property
    def params(self) -> dict[str, int]:
        """The constructor arguments."""
        return {"rows": self.rows, "cols": self.cols, "adc_bits": self.adc_bits}

    def _answer(self) -> Value:
        """The condition, while waiting, under which the macro's codes are captured."""
        return self.xbar.codes_valid

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.d.sync += [self.xbar.read.eq(0), self.done.eq(0)]
        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        self.xbar.wl_en.eq(self.rows_in),
                        self.xbar.read.eq(1),
                        self.busy.eq(1),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(self._answer()):
                    m.d.sync += [
                        self.codes.eq(self.xbar.codes),
                        self.xbar.wl_en.eq(0),
                        self.busy.eq(0),
                        self.done.eq(1),
                    ]
                    m.next = "IDLE"
        return m


def crossbar_driver_verilog(
    name: str = "crossbar_tile_driver", *, rows: int, cols: int, adc_bits: int
) -> str:
    """Verilog of a :class:`CrossbarTileDriver` (ports: clk, rst and the declared ones)."""
    _check_name(name)
    return emit_verilog(CrossbarTileDriver(rows=rows, cols=cols, adc_bits=adc_bits), name=name)
