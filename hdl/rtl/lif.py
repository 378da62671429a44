"""The integer LIF update unit: one neuron's membrane update per clock cycle.

The unit implements exactly the update of docs/hardware-model.md, section 2 ("LIF neurons"), in
this order, with ``v`` the stored membrane (signed, ``membrane_bits``), ``S_prev`` the neuron's
spike of the previous timestep, ``I`` the summed input current (signed, ``current_bits``) and
``θ`` the threshold (unsigned, ``threshold_bits``)::

    v ← v · (1 - S_prev)                       (reset = "zero" only)
    v ← leak(v)                                (leak(v) = v - (v >> leak_shift), arithmetic
                                                shift rounding toward -inf; v if no leak)
    v ← v + I
    v ← v - S_prev · θ                         (reset = "subtract" only)
    v ← clamp(v, -2^(membrane_bits-1), 2^(membrane_bits-1) - 1)
    S ← 1 if v >= θ else 0

The intermediate values are held wide enough that nothing wraps before the clamp.

**Timing (latency 1, throughput one neuron per cycle).** The datapath is combinational from the
inputs to a register stage clocked by the ``sync`` domain. On a rising edge with ``valid = 1``
the unit registers the new ``v_next`` and ``spike`` of the inputs present before that edge;
``out_valid`` is ``valid`` delayed by one cycle. With ``valid = 0`` the outputs hold their
previous values and ``out_valid`` drops to 0. The synchronous reset clears all three outputs.

The unit keeps no neuron state itself: the controller reads ``v`` and ``S_prev`` from the
membrane memory and writes ``v_next`` and ``spike`` back, so one unit serves many neurons.

Example::

    >>> from hdl.rtl import LIFUnit, lif_verilog
    >>> unit = LIFUnit(membrane_bits=16, current_bits=12, threshold_bits=15, leak_shift=4)
    >>> unit.latency
    1
    >>> text = lif_verilog(membrane_bits=16, current_bits=12, threshold_bits=15, leak_shift=4)
    >>> "module lif_unit" in text
    True
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from amaranth.back import verilog
from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.errors import NeurocimError
from hdl.lifparams import CURRENT_BITS, LEAK_SHIFT, MEMBRANE_BITS, RESETS, LIFParamError, LIFParams
from hdl.rtl.component import CheckedComponent

__all__ = [
    "CURRENT_BITS",
    "LEAK_SHIFT",
    "MEMBRANE_BITS",
    "RESETS",
    "LIFUnit",
    "RTLError",
    "emit_verilog",
    "lif_params",
    "lif_verilog",
]


class RTLError(NeurocimError, ValueError):
    """A hardware generator was given parameters it cannot build."""


def lif_params(**kwargs: Any) -> LIFParams:
    """:class:`hdl.lifparams.LIFParams` ``(**kwargs)``, refused with an :class:`RTLError`."""
    try:
        return LIFParams(**kwargs)
    except LIFParamError as err:
        raise RTLError(str(err)) from err


class LIFUnit(CheckedComponent):
    """One LIF neuron update per cycle, registered outputs (latency 1).

    Parameters
    ----------
    membrane_bits:
        Width of the signed membrane ``v`` and ``v_next``, 2..32.
    current_bits:
        Width of the signed input current ``I``, 1..64.
    threshold_bits:
        Width of the unsigned threshold ``θ``, 1..membrane_bits-1.
    leak_shift:
        ``None`` (no leak, integrate-and-fire) or 1..16: ``leak(v) = v - (v >> leak_shift)``.
    reset:
        ``"subtract"`` (``v -= S_prev · θ`` after the input) or ``"zero"`` (``v`` is zeroed
        before the leak when ``S_prev``).

    Ports
    -----
    v : In(signed(membrane_bits))
        Stored membrane of the neuron.
    s_prev : In(1)
        Spike of the neuron at the previous timestep.
    current : In(signed(current_bits))
        Summed input current ``I = z + bias``.
    threshold : In(unsigned(threshold_bits))
        The neuron's threshold ``θ``.
    valid : In(1)
        The inputs hold a neuron to update in this cycle.
    v_next : Out(signed(membrane_bits))
        Updated, saturated membrane (registered).
    spike : Out(1)
        ``v_next >= θ`` (registered).
    out_valid : Out(1)
        ``valid`` of the previous cycle.
    fire : Out(1)
        ``S`` of the inputs presented now (combinational, latency 0): the spike ``spike`` takes
        at the next edge when ``valid``. A controller writes it into the next layer's spike
        buffer at that edge, so the buffer is current one cycle before ``spike`` is.
    """

    #: Cycles from ``valid`` to ``out_valid``.
    latency: int = 1

    @classmethod
    def _check(cls, **kwargs: Any) -> dict[str, Any]:
        return {"lif": lif_params(**kwargs)}

    def __init__(
        self,
        *,
        membrane_bits: int,
        current_bits: int,
        threshold_bits: int,
        leak_shift: int | None = None,
        reset: str = "subtract",
    ) -> None:
        lif: LIFParams = self.lif
        self.membrane_bits = lif.membrane_bits
        self.current_bits = lif.current_bits
        self.threshold_bits = lif.threshold_bits
        self.leak_shift: int | None = lif.leak_shift
        self.reset: str = lif.reset
        super().__init__(
            {
                "v": In(signed(self.membrane_bits)),
                "s_prev": In(1),
                "current": In(signed(self.current_bits)),
                "threshold": In(unsigned(self.threshold_bits)),
                "valid": In(1),
                "v_next": Out(signed(self.membrane_bits)),
                "spike": Out(1),
                "out_valid": Out(1),
                "fire": Out(1),
            }
        )

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments, e.g. to rebuild or name the unit."""
        return asdict(self.lif)

    @property
    def v_min(self) -> int:
        """Lowest membrane value, ``-2^(membrane_bits-1)`` (:attr:`LIFParams.v_min`)."""
        return self.lif.v_min

    @property
    def v_max(self) -> int:
        """Highest membrane value, ``2^(membrane_bits-1) - 1`` (:attr:`LIFParams.v_max`)."""
        return self.lif.v_max

    def _leak(self, v: Value) -> Value:
        """``v - (v >> leak_shift)``: ``>>`` of a signed value is arithmetic (toward -inf)."""
        if self.leak_shift is None:
            return v
        return v - (v >> self.leak_shift)

    def _fires(self, v: Value, threshold: Value) -> Value:
        """The spike condition ``v >= θ`` (signed membrane against unsigned threshold)."""
        return v >= threshold

    def elaborate(self, platform: Any) -> Module:
        m = Module()

        # Named intermediate signals keep the emitted Verilog readable (one wire per step).
        v_kept = Signal(signed(self.membrane_bits))
        m.d.comb += v_kept.eq(Mux(self.s_prev, 0, self.v) if self.reset == "zero" else self.v)
        leaked = Signal(signed(self.membrane_bits))  # |leak(v)| <= |v|: no wider than v
        m.d.comb += leaked.eq(self._leak(v_kept))
        total = leaked + self.current
        if self.reset == "subtract":
            total = total - Mux(self.s_prev, self.threshold, 0)
        acc = Signal(total.shape())
        m.d.comb += acc.eq(total)
        v_sat = Signal(signed(self.membrane_bits))
        with m.If(acc > self.v_max):
            m.d.comb += v_sat.eq(self.v_max)
        with m.Elif(acc < self.v_min):
            m.d.comb += v_sat.eq(self.v_min)
        with m.Else():
            m.d.comb += v_sat.eq(acc)

        m.d.comb += self.fire.eq(self._fires(v_sat, self.threshold))
        with m.If(self.valid):
            m.d.sync += [
                self.v_next.eq(v_sat),
                self.spike.eq(self.fire),
            ]
        m.d.sync += self.out_valid.eq(self.valid)
        return m


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise RTLError(f"Verilog module name must be an identifier, not {name!r}")


def emit_verilog(unit: wiring.Component, name: str = "lif_unit") -> str:
    """Verilog text of a component, its ports taken from its signature.

    Source-location attributes are left out, so the text depends only on the design and is
    identical for identical parameters. The clock and reset ports are ``clk`` and ``rst``.
    """
    _check_name(name)
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    return verilog.convert(unit, name=name, emit_src=False, strip_internal_attrs=True)


def lif_verilog(name: str = "lif_unit", **params: Any) -> str:
    """Verilog of a :class:`LIFUnit` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(LIFUnit(**params), name=name)
