"""The partial-sum accumulator: the digital periphery after the ADCs of one output column group.

The crossbar periphery of docs/hardware-model.md (section 2, "Crossbar, ADC and shift-add")
computes, exactly in integers, for every output ``o`` of a weighted edge::

    z[o] = Σ_b 2**b · Σ_k Σ_j 2**(j·cell_bits) · (code[k, b, o, +, j] - code[k, b, o, -, j])

with ``k`` the row tiles, ``j`` the slices (``cell_bits`` bits each), ``±`` the two polarity
columns and ``b`` the input bit-planes of a direct-encoded first layer (one plane, ``b = 0``,
otherwise). One :class:`PartialSumAccumulator` serves ``outputs`` outputs in parallel. In one
*step* it takes the ADC codes of one (row tile, bit-plane) for all ``outputs · 2 · slices``
physical columns of its group and adds::

    z[o] += 2**plane · Σ_j 2**(j·cell_bits) · (code[o, +, j] - code[o, -, j])

Row tiles and bit-planes are summed by presenting their codes in successive steps, in any order.

**Physical column order** (section 5): output-major, ``o``, then polarity ``+`` before ``-``,
then slice ``j``. Column ``c = (o · 2 + p) · slices + j`` (``p = 0`` for ``+``, 1 for ``-``)
occupies bits ``c · adc_bits .. c · adc_bits + adc_bits - 1`` of ``codes``: the columns of the
group in the order the golden model (``hdl.golden``) numbers them, column 0 in the least
significant bits. ``z`` packs the outputs the same way: ``z[o]`` is the signed two's-complement
field at bits ``o · acc_bits .. o · acc_bits + acc_bits - 1``.

**Timing (latency 1, one step per cycle).** All state is in the ``sync`` domain::

    cycle      0      1      2      3      4      5
    clear      1      0      0      0      1      0
    valid      1      1      0      1      0      0
    last       0      0      0      1      0      0
    z          ?      t0     t0+t1  t0+t1  S      0        (S = t0+t1+t3, t_i = step of cycle i)
    z_valid    0      0      0      0      1      0

* A rising edge with ``valid = 1`` adds the step of ``codes`` / ``plane`` to ``z``; the new sum
  is on ``z`` in the next cycle. With ``valid = 0`` the sums hold.
* ``clear`` starts a new sum: with ``valid`` the sum *becomes* this step (no cycle is lost
  between two sums), without it the sums become 0.
* ``last`` marks the final step of a sum: ``z_valid`` is ``valid & last`` delayed by one cycle,
  a one-cycle strobe in the cycle the finished sum is on ``z`` (the cycle a LIF unit or output
  register takes it). ``z`` still holds it afterwards until the next ``valid`` or ``clear``.
* The domain's synchronous reset sets every ``z[o]`` and ``z_valid`` to 0.

**Width.** ``z`` wraps modulo ``2**acc_bits`` (two's complement) and is never clamped:
:func:`accumulator_bits` gives the width at which ``row_tiles`` row tiles of every bit-plane
cannot overflow for any codes, ADC saturation included. The constructor refuses an ``acc_bits``
that cannot hold one full-scale step at the highest plane, ``1 + bit_length(M · 2**(bit_planes
- 1))`` (``min_acc_bits``; ``M`` as in :func:`accumulator_bits`), since that would wrap within a
single step. A ``plane`` of ``bit_planes`` or more is outside the contract (not checked).

Example::

    >>> from hdl.rtl.accumulate import PartialSumAccumulator, accumulator_bits
    >>> bits = accumulator_bits(slices=2, cell_bits=2, adc_bits=6, row_tiles=4, bit_planes=8)
    >>> bits
    20
    >>> acc = PartialSumAccumulator(
    ...     outputs=4, slices=2, cell_bits=2, adc_bits=6, acc_bits=bits, bit_planes=8
    ... )
    >>> acc.latency, len(acc.codes), len(acc.z)
    (1, 96, 80)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = ["PartialSumAccumulator", "accumulator_bits", "accumulator_verilog"]

#: Bounds of the parameters. ``cell_bits``, ``adc_bits`` and the bit-planes (``input.bits``)
#: follow hdl.hwconfig.HardwareConfig and hdl.ir; ``slices`` is at most ``ceil(15 / cell_bits)``
#: because magnitudes have at most 15 bits (``weight_bits <= 16``); ``outputs`` at most the
#: largest tile width; ``acc_bits`` at most 64 (the golden model's int64).
OUTPUTS = (1, 4096)
CELL_BITS = (1, 8)
ADC_BITS = (1, 16)
BIT_PLANES = (1, 16)
MAX_MAGNITUDE_BITS = 15
MAX_ACC_BITS = 64
ROW_TILES = (1, 2**20)


def _int_param(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RTLError(
            f"PartialSumAccumulator {name} must be an integer in {lo}..{hi}, not {value!r}"
        )
    value = int(value)  # numpy integers too
    if not lo <= value <= hi:
        raise RTLError(
            f"PartialSumAccumulator {name} must be an integer in {lo}..{hi}, not {value}"
        )
    return value


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _slice_params(slices: Any, cell_bits: Any, adc_bits: Any) -> tuple[int, int, int]:
    cell_bits = _int_param(cell_bits, "cell_bits", *CELL_BITS)
    adc_bits = _int_param(adc_bits, "adc_bits", *ADC_BITS)
    slices = _int_param(slices, "slices", 1, _ceil_div(MAX_MAGNITUDE_BITS, cell_bits))
    return slices, cell_bits, adc_bits


def _step_max(slices: int, cell_bits: int, adc_bits: int) -> int:
    """Largest ``|Σ_j 2**(j·cell_bits) · (code+ - code-)|`` of one step at plane 0."""
    return (2**adc_bits - 1) * sum(2 ** (j * cell_bits) for j in range(slices))


def accumulator_bits(
    *, slices: int, cell_bits: int, adc_bits: int, row_tiles: int = 1, bit_planes: int = 1
) -> int:
    """Signed ``acc_bits`` at which a sum over ``row_tiles`` row tiles and ``bit_planes``
    planes never overflows: ``1 + bit_length(row_tiles · M · (2**bit_planes - 1))`` with
    ``M = (2**adc_bits - 1) · Σ_j 2**(j·cell_bits)`` the largest ``|step|`` at plane 0.

    It assumes only that codes are at most ``2**adc_bits - 1``, so it holds with any weights and
    with ADC saturation; the bound of docs/hardware-model.md ("Output accumulator width"), which
    knows the weights, can be smaller.
    """
    slices, cell_bits, adc_bits = _slice_params(slices, cell_bits, adc_bits)
    row_tiles = _int_param(row_tiles, "row_tiles", *ROW_TILES)
    bit_planes = _int_param(bit_planes, "bit_planes", *BIT_PLANES)
    bound = row_tiles * _step_max(slices, cell_bits, adc_bits) * (2**bit_planes - 1)
    return 1 + bound.bit_length()


class PartialSumAccumulator(wiring.Component):
    """Shift-add and accumulate the ADC codes of ``outputs`` outputs, one step per cycle.

    Parameters
    ----------
    outputs:
        Outputs (neurons) handled in parallel, 1..4096; the group has ``outputs · 2 · slices``
        physical columns.
    slices:
        Slices per polarity, ``ceil(magnitude_bits / cell_bits)``: 1..ceil(15 / cell_bits).
    cell_bits:
        Bits per crossbar cell, 1..8: slice ``j`` is weighted ``2**(j·cell_bits)``.
    adc_bits:
        Bits of an ADC code, 1..16 (codes are unsigned).
    acc_bits:
        Width of each signed sum ``z[o]``, at least one full-scale step at the highest plane
        (see the module doc) and at most 64; :func:`accumulator_bits` gives the width that
        cannot overflow.
    bit_planes:
        Input bit-planes of a direct-encoded first layer (``input.bits``), 1..16. With more
        than one the ``plane`` port exists; with 1 (default, spiking inputs) it does not and
        every step has weight 1.

    Ports
    -----
    clear : In(1)
        Start a new sum (with ``valid``: from this step; alone: from 0).
    valid : In(1)
        ``codes`` (and ``plane``) hold one step: add it.
    last : In(1)
        This step completes the sum: ``z_valid`` follows in the next cycle.
    codes : In(outputs · 2 · slices · adc_bits)
        The ADC codes of the group's physical columns, packed in the order of the module doc.
    plane : In(range(bit_planes))
        Input bit-plane ``b`` of the codes (weight ``2**b``); only when ``bit_planes > 1``.
    z : Out(outputs · acc_bits)
        The sums, ``z[o]`` signed at bits ``o · acc_bits`` (registered).
    z_valid : Out(1)
        ``valid & last`` of the previous cycle: ``z`` holds finished sums.
    """

    #: Cycles from a ``valid`` step to the sum on ``z`` (and from ``last`` to ``z_valid``).
    latency: int = 1

    def __init__(
        self,
        *,
        outputs: int,
        slices: int,
        cell_bits: int,
        adc_bits: int,
        acc_bits: int,
        bit_planes: int = 1,
    ) -> None:
        # A refused unit was never meant to be used: no "created but never used" warning for it.
        self._MustUse__silence = True
        self.outputs = _int_param(outputs, "outputs", *OUTPUTS)
        self.slices, self.cell_bits, self.adc_bits = _slice_params(slices, cell_bits, adc_bits)
        self.bit_planes = _int_param(bit_planes, "bit_planes", *BIT_PLANES)
        least = self.min_acc_bits
        if least > MAX_ACC_BITS:  # cannot happen within the bounds above; kept as a guard
            raise RTLError(
                f"PartialSumAccumulator acc_bits would need {least} bits (> {MAX_ACC_BITS}) for "
                "one step: fewer slices, cell_bits, adc_bits or bit_planes"
            )
        self.acc_bits = _int_param(acc_bits, "acc_bits", least, MAX_ACC_BITS)
        self._MustUse__silence = False
        ports: dict[str, Any] = {
            "clear": In(1),
            "valid": In(1),
            "last": In(1),
            "codes": In(unsigned(self.columns * self.adc_bits)),
        }
        if self.bit_planes > 1:
            ports["plane"] = In(range(self.bit_planes))
        ports["z"] = Out(unsigned(self.outputs * self.acc_bits))
        ports["z_valid"] = Out(1)
        super().__init__(ports)

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments, e.g. to rebuild or name the unit."""
        return {
            "outputs": self.outputs,
            "slices": self.slices,
            "cell_bits": self.cell_bits,
            "adc_bits": self.adc_bits,
            "acc_bits": self.acc_bits,
            "bit_planes": self.bit_planes,
        }

    @property
    def columns(self) -> int:
        """Physical columns of the group, ``outputs · 2 · slices``."""
        return self.outputs * 2 * self.slices

    @property
    def step_bits(self) -> int:
        """Signed width of one step at plane 0 (the shift-added codes of one row tile)."""
        return 1 + _step_max(self.slices, self.cell_bits, self.adc_bits).bit_length()

    @property
    def min_acc_bits(self) -> int:
        """Smallest accepted ``acc_bits``: one full-scale step at plane ``bit_planes - 1``."""
        return self.step_bits + self.bit_planes - 1

    def column(self, o: int, polarity: int, j: int) -> int:
        """Physical column of output ``o``, polarity (0 = ``+``, 1 = ``-``) and slice ``j``."""
        return (o * 2 + polarity) * self.slices + j

    def pack_codes(self, codes: Sequence[Any]) -> int:
        """The ``codes`` port value of codes indexed ``[o][polarity][j]`` (0 = ``+``)."""
        top = 2**self.adc_bits - 1
        value = 0
        for o in range(self.outputs):
            for p in range(2):
                for j in range(self.slices):
                    code = int(codes[o][p][j])
                    if not 0 <= code <= top:
                        raise RTLError(f"ADC code must be in 0..{top}, not {code}")
                    value |= code << (self.column(o, p, j) * self.adc_bits)
        return value

    def unpack_z(self, value: int) -> list[int]:
        """The signed sums ``z[o]`` of a ``z`` port value."""
        mask, half = 2**self.acc_bits - 1, 2 ** (self.acc_bits - 1)
        fields = [(int(value) >> (o * self.acc_bits)) & mask for o in range(self.outputs)]
        return [f - 2 * half if f >= half else f for f in fields]

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        a = self.adc_bits

        def code(o: int, p: int, j: int) -> Any:
            c = self.column(o, p, j)
            return self.codes[c * a : (c + 1) * a]

        accs: list[Signal] = []
        for o in range(self.outputs):
            # Named per-output signals keep the emitted Verilog readable.
            step = Signal(signed(self.step_bits), name=f"step_{o}")
            terms = [
                (code(o, 0, j) - code(o, 1, j)) << (j * self.cell_bits) for j in range(self.slices)
            ]
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            m.d.comb += step.eq(total)  # exact: |total| <= _step_max < 2**(step_bits - 1)
            weighted = step
            if self.bit_planes > 1:  # exact for plane < bit_planes: fits in min_acc_bits
                weighted = Signal(signed(self.acc_bits), name=f"weighted_{o}")
                m.d.comb += weighted.eq(step << self.plane)
            acc = Signal(signed(self.acc_bits), name=f"acc_{o}")
            accs.append(acc)
            with m.If(self.valid & self.clear):
                m.d.sync += acc.eq(weighted)
            with m.Elif(self.valid):
                m.d.sync += acc.eq(acc + weighted)
            with m.Elif(self.clear):
                m.d.sync += acc.eq(0)
        m.d.comb += self.z.eq(Cat(*accs))
        m.d.sync += self.z_valid.eq(self.valid & self.last)
        return m


def accumulator_verilog(name: str = "partial_sum_accumulator", **params: Any) -> str:
    """Verilog of a :class:`PartialSumAccumulator` built with ``params`` (its keyword
    arguments)."""
    _check_name(name)
    return emit_verilog(PartialSumAccumulator(**params), name=name)
