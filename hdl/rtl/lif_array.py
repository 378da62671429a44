"""Time-multiplexed LIF array: ``units`` :class:`LIFUnit` s serving the neurons of one layer.

The array updates the ``neurons`` neurons of one layer at one output position (the ``C_l``
neurons of hdl/mapping.py: the channels of a convolution position, or all neurons of a flat
layer) on ``units`` parallel :class:`~hdl.rtl.lif.LIFUnit` s, ``units`` neurons per step. Neuron
``n`` is lane ``n % units`` of group ``n // units``; there are ``groups = ceil(neurons /
units)`` groups. The update is exactly the one of docs/hardware-model.md, section 2 (each lane
is a :class:`LIFUnit`).

**State.** Membranes ``v`` and previous spikes ``S_prev`` live in a
:class:`amaranth.lib.memory.Memory` of ``groups`` words, one word per group holding, for lane
``i``, ``v`` in bits ``[i·(mb+1), i·(mb+1)+mb)`` and ``S_prev`` in bit ``i·(mb+1)+mb`` (``mb =
membrane_bits``). It has one asynchronous (combinational) read port and one synchronous write
port: a register file, which is what the state of one position of a layer is (a few words), and
it keeps the update at latency 1. The memory is not reset; it persists across timesteps and
across samples.

**Clearing at the start of a sample.** A step with ``first = 1`` (every group of timestep
``t = 0``) feeds the units ``v = 0, S_prev = 0`` instead of the memory, as hdl/mapping.py and
docs/cost-model.md assume ("no clearing phase is needed"): clearing costs no cycle, and the
results of that step overwrite whatever the memory held.

**Thresholds** are parameters of the network, given at construction as an integer array of
``neurons`` entries in ``0 .. 2^threshold_bits - 1``; they sit in a read-only memory of
``groups`` words (lane ``i`` in bits ``[i·tb, (i+1)·tb)``) with an asynchronous read port. The
padding lanes of the last group (when ``units`` does not divide ``neurons``) read threshold 0.

**Ports.** A step is ``valid = 1`` with ``group`` (``0 .. groups - 1``; other values are not
allowed), ``first`` and ``currents``: ``units`` signed currents ``I = z + bias`` of
``current_bits`` each, lane ``i`` in bits ``[i·cb, (i+1)·cb)``. The result leaves as ``spikes``
(``units`` bits, lane ``i`` in bit ``i``), ``membranes`` (lane ``i`` in bits ``[i·mb,
(i+1)·mb)``), ``out_group`` and the strobe ``out_valid``. Padding lanes of the last group
output spike 0 and membrane 0.

**Timing.** Latency 1, throughput one group per cycle: the step presented before rising edge
``k`` (``valid = 1``) is registered by the units at edge ``k``; during the following cycle
``out_valid = 1`` and the outputs hold its result, and the write-back to the memory happens at
edge ``k + 1``. A step of the same group in that following cycle (one group, consecutive
timesteps back to back) reads the units' outputs through a bypass, so steps may be issued every
cycle in any order. With ``valid = 0`` the outputs hold and ``out_valid`` is 0.

The update of all neurons of a layer position is ``groups = ceil(neurons / units)`` steps in
consecutive cycles (:attr:`LIFArray.update_cycles`, exactly ``LayerMap.update_cycles`` of
hdl/mapping.py), and the last result is valid one cycle after the last step: from the first
step to the last ``out_valid``, ``groups + latency`` cycles (:attr:`LIFArray.layer_cycles`). The
schedule of hdl/mapping.py charges ``ceil(C_l / U)`` cycles per update step and no latency:
the extra cycle overlaps with whatever step follows.

The synchronous reset clears the units' outputs, ``out_valid`` and ``out_group``, not the
memory.

Example::

    >>> from hdl.rtl.lif_array import LIFArray, lif_array_verilog
    >>> arr = LIFArray(neurons=10, units=4, thresholds=[5] * 10, membrane_bits=8,
    ...                current_bits=6, threshold_bits=7, leak_shift=2)
    >>> arr.groups, arr.update_cycles, arr.layer_cycles
    (3, 3, 4)
    >>> "module lif_array" in lif_array_verilog(neurons=3, units=2, thresholds=[1, 2, 3],
    ...                                          membrane_bits=8, current_bits=6, threshold_bits=7)
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.geometry import update_cycles
from hdl.rtl.component import CheckedComponent
from hdl.rtl.lif import LIFUnit, RTLError, _check_name, emit_verilog, lif_params

__all__ = ["LIFArray", "lif_array_verilog"]

#: Bounds of the array's own parameters.
NEURONS = (1, 1 << 20)
UNITS = (1, 4096)  # hdl.hwconfig allows lif_units 1..4096


def _count_param(value: Any, name: str, lo: int, hi: int) -> int:
    return check_int(value, f"LIF array {name}", lo, hi, error=RTLError)


def _thresholds(values: Any, neurons: int, threshold_bits: int) -> tuple[int, ...]:
    hi = 2**threshold_bits - 1
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise RTLError(f"LIF array thresholds must be a sequence of integers, not {values!r}")
    out = [  # numpy arrays and integers too
        check_int(x, f"LIF array thresholds[{k}]", 0, hi, error=RTLError)
        for k, x in enumerate(list(values))
    ]
    if len(out) != neurons:
        raise RTLError(
            f"LIF array thresholds must have {neurons} entries (one per neuron), not {len(out)}"
        )
    return tuple(out)


class LIFArray(CheckedComponent):
    """``units`` LIF units time-multiplexed over ``neurons`` neurons (latency 1).

    Parameters
    ----------
    neurons:
        Neurons of the layer position, 1..2^20.
    units:
        Parallel LIF units (``hw.lif_units``), 1..4096; may exceed ``neurons``.
    thresholds:
        ``neurons`` integers in ``0 .. 2^threshold_bits - 1`` (per neuron; repeat a channel's
        threshold for its neurons).
    membrane_bits, current_bits, threshold_bits, leak_shift, reset:
        As :class:`~hdl.rtl.lif.LIFUnit`.

    Ports
    -----
    valid : In(1)
        A step (one group) is presented.
    group : In(unsigned(max(1, bits of groups - 1)))
        Group of the step, ``0 .. groups - 1``.
    first : In(1)
        Timestep 0 of a sample: the units read ``v = 0, S_prev = 0`` instead of the memory.
    currents : In(units * current_bits)
        Packed signed currents, lane ``i`` in bits ``[i·cb, (i+1)·cb)``.
    spikes : Out(units)
        Spikes of the step, lane ``i`` in bit ``i`` (registered, padding lanes 0).
    membranes : Out(units * membrane_bits)
        Updated membranes, lane ``i`` in bits ``[i·mb, (i+1)·mb)`` (padding lanes 0).
    out_group : Out(same as group)
        Group of the result.
    out_valid : Out(1)
        ``valid`` of the previous cycle.
    fires : Out(units)
        Spikes of the step presented now (combinational, latency 0; padding lanes of the last
        group 0): what ``spikes`` will hold in the next cycle. The accelerator writes them into
        the layer's spike buffer at the step's own clock edge, so an update of ``groups`` steps
        leaves the buffer complete when it ends (no latency cycle, as hdl/mapping.py counts).
    """

    #: Cycles from a step's ``valid`` to its ``out_valid``.
    latency: int = 1

    @classmethod
    def _check(cls, *, neurons: int, units: int, thresholds: Any, **lif: Any) -> dict[str, Any]:
        neurons = _count_param(neurons, "neurons", *NEURONS)
        params = lif_params(**lif)
        return {
            "neurons": neurons,
            "units": _count_param(units, "units", *UNITS),
            "lif": params,
            "thresholds": _thresholds(thresholds, neurons, params.threshold_bits),
        }

    def __init__(
        self,
        *,
        neurons: int,
        units: int,
        thresholds: Any,
        membrane_bits: int,
        current_bits: int,
        threshold_bits: int,
        leak_shift: int | None = None,
        reset: str = "subtract",
    ) -> None:
        self.unit_params: dict[str, Any] = asdict(self.lif)
        self.membrane_bits = self.lif.membrane_bits
        self.current_bits = self.lif.current_bits
        self.threshold_bits = self.lif.threshold_bits
        self.leak_shift = self.lif.leak_shift
        self.reset = self.lif.reset
        group_shape = unsigned(max(1, (self.groups - 1).bit_length()))
        super().__init__(
            {
                "valid": In(1),
                "group": In(group_shape),
                "first": In(1),
                "currents": In(self.units * self.current_bits),
                "spikes": Out(self.units),
                "membranes": Out(self.units * self.membrane_bits),
                "out_group": Out(group_shape),
                "out_valid": Out(1),
                "fires": Out(self.units),
            }
        )

    @property
    def groups(self) -> int:
        """Steps per layer update, ``ceil(neurons / units)``."""
        return update_cycles(self.neurons, self.units)

    @property
    def update_cycles(self) -> int:
        """Issue cycles of one layer update: ``groups`` (hdl.mapping's ``update_cycles``)."""
        return self.groups

    @property
    def layer_cycles(self) -> int:
        """Cycles from the first step to the last ``out_valid`` inclusive: ``groups + 1``."""
        return self.groups + self.latency

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {
            "neurons": self.neurons,
            "units": self.units,
            "thresholds": list(self.thresholds),
            **self.unit_params,
        }

    def _lanes_of_last_group(self) -> int:
        """Real (non-padding) lanes of the last group."""
        return self.neurons - (self.groups - 1) * self.units

    def _threshold_words(self) -> list[int]:
        tb, words = self.threshold_bits, []
        for g in range(self.groups):
            word = 0
            for i, th in enumerate(self.thresholds[g * self.units : (g + 1) * self.units]):
                word |= th << (i * tb)
            words.append(word)
        return words

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        mb, cb, tb, n_units = self.membrane_bits, self.current_bits, self.threshold_bits, self.units
        sw = mb + 1  # state bits per lane: v, then S_prev

        m.submodules.state = state = Memory(
            shape=unsigned(n_units * sw), depth=self.groups, init=[]
        )
        rd = state.read_port(domain="comb")
        wr = state.write_port()
        m.submodules.thresholds = rom = Memory(
            shape=unsigned(n_units * tb), depth=self.groups, init=self._threshold_words()
        )
        th = rom.read_port(domain="comb")
        m.d.comb += [rd.addr.eq(self.group), th.addr.eq(self.group)]

        units = [LIFUnit(**self.unit_params) for _ in range(n_units)]
        for i, unit in enumerate(units):
            m.submodules[f"unit{i}"] = unit
        # The units' registered outputs are the state of group out_group, written back now.
        result = Cat(*(Cat(u.v_next, u.spike) for u in units))
        m.d.comb += [wr.addr.eq(self.out_group), wr.en.eq(self.out_valid), wr.data.eq(result)]
        bypass = Signal()
        m.d.comb += bypass.eq(self.out_valid & (self.out_group == self.group))
        stored = Signal(n_units * sw)
        m.d.comb += stored.eq(Mux(bypass, result, rd.data))

        with m.If(self.valid):
            m.d.sync += self.out_group.eq(self.group)
        m.d.sync += self.out_valid.eq(self.valid)

        real_last = self._lanes_of_last_group()
        is_last = Signal()
        m.d.comb += is_last.eq(self.out_group == self.groups - 1)
        in_last = Signal()  # the step presented now is of the last group
        m.d.comb += in_last.eq(self.group == self.groups - 1)
        for i, unit in enumerate(units):
            word = stored[i * sw : (i + 1) * sw]
            m.d.comb += [
                unit.v.eq(Mux(self.first, 0, word[:mb].as_signed())),
                unit.s_prev.eq(Mux(self.first, 0, word[mb])),
                unit.current.eq(self.currents[i * cb : (i + 1) * cb].as_signed()),
                unit.threshold.eq(th.data[i * tb : (i + 1) * tb]),
                unit.valid.eq(self.valid),
            ]
            keep = Const(1) if i < real_last else ~is_last  # padding lane of the last group
            keep_now = Const(1) if i < real_last else ~in_last
            m.d.comb += [
                self.fires[i].eq(unit.fire & keep_now),
                self.spikes[i].eq(unit.spike & keep),
                self.membranes[i * mb : (i + 1) * mb].eq(Mux(keep, unit.v_next, 0)),
            ]
        return m


def lif_array_verilog(name: str = "lif_array", **params: Any) -> str:
    """Verilog of a :class:`LIFArray` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(LIFArray(**params), name=name)
