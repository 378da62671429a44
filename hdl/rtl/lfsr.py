"""A leap-forward Fibonacci LFSR: one draw (``steps`` single steps) per clock.

The register is the one of :mod:`hdl.lfsr` (docs/hardware-model.md section 4): ``w = width``
bits, maximal-length taps from :data:`hdl.ir.LFSR_TAPS`, one *single step*::

    fb    = XOR of the state bits at the taps
    state = ((state << 1) | fb) & (2**w - 1)

The single step is linear over GF(2), ``state' = A state``. A *draw* advances the register by
``steps`` single steps (``steps = w`` by default: the chip's leap-forward draw) in ONE clock
through the fixed XOR network ``J = A**steps`` that :func:`hdl.lfsr.jump_columns` lists
(column ``j`` = the state ``steps`` single steps after ``1 << j``)::

    state'[i] = XOR over j of ( state[j] AND bit i of jump_columns(w, steps)[j] )

Cycle timing (one clock domain, ``sync``)::

    cycle     0       1       2       3       4
    load      0       0       0       1       0
    en        1       0       1       1       1
    state     s0      s1      s1      s2      s0      (s0 = start_state, s_k = draw k:
                                                       registered, visible in the cycle after
                                                       the one whose ``en`` produced it)

* reset (the domain's reset) and ``load`` set ``state`` to ``start_state``; ``load`` has
  priority over ``en``;
* after ``k`` cycles with ``en`` high (since reset or the last ``load``), ``state`` equals draw
  ``k`` of the stream: ``hdl.lfsr.lfsr_streams(w, [start_state], k, stride=steps)[0, k - 1]``,
  the state ``k * steps`` single steps after ``start_state`` (``start_state`` itself is draw 0
  and is never drawn).

``start_state`` is computed in Python, e.g. a dropout module's start
(``hdl.lfsr.module_seeds(spec, modules, edge, edges)[m]``, the seed advanced by the module
offset), so the hardware needs no jump logic for offsets.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.ir import LFSR_TAPS
from hdl.lfsr import LFSRError, jump_columns
from hdl.rtl.component import CheckedComponent

__all__ = ["LeapLFSR", "leap_network"]


def _check_width(width: object) -> int:
    width = check_int(width, "LeapLFSR width", error=LFSRError, fix=f"one of {sorted(LFSR_TAPS)}")
    if width not in LFSR_TAPS:
        raise LFSRError(
            f"LeapLFSR width must be one of {sorted(LFSR_TAPS)} (the widths with maximal-length "
            f"taps in hdl.ir.LFSR_TAPS), got {width}; pick a width from that table"
        )
    return width


def leap_network(width: int, steps: int) -> tuple[tuple[int, ...], ...]:
    """The XOR network of a leap by ``steps``: entry ``i`` lists the old bits ``j`` whose XOR is
    the new bit ``i`` (``(jump_columns(width, steps)[j] >> i) & 1 == 1``), ascending."""
    width = _check_width(width)
    cols = [int(c) for c in jump_columns(width, steps)]
    return tuple(tuple(j for j in range(width) if (cols[j] >> i) & 1) for i in range(width))


def _check(width: object, start_state: object, steps: object) -> tuple[int, int, int]:
    """Validated ``(width, start_state, steps)`` of a :class:`LeapLFSR`."""
    width = _check_width(width)
    top = 2**width - 1
    start_state = check_int(
        start_state,
        "LeapLFSR start_state",
        1,
        top,
        error=LFSRError,
        fix=f"width {width}, and 0 would lock the register: pass a non-zero state, e.g. "
        "hdl.lfsr.module_seeds(...)[m]",
    )
    if steps is None:
        steps = width
    steps = check_int(
        steps,
        "LeapLFSR steps",
        1,
        error=LFSRError,
        fix=f"single steps per draw; leave it None for the leap-forward draw of {width} steps",
    )
    return width, start_state, steps


class LeapLFSR(CheckedComponent):
    """Fibonacci LFSR that advances ``steps`` single steps per enabled clock (one draw).

    Args:
        width: register width ``w``, a key of :data:`hdl.ir.LFSR_TAPS`.
        start_state: the reset / ``load`` value, in ``1 .. 2**w - 1`` (0 would lock the
            register): the state after the module offset, computed with :mod:`hdl.lfsr`.
        steps: single steps per draw, >= 1; ``None`` (default) means ``w`` (leap-forward).

    Ports:
        en: In(1) -- draw: ``state <= J state`` at the clock edge (``J = A**steps``).
        load: In(1) -- synchronous restart: ``state <= start_state`` (priority over ``en``).
        state: Out(w) -- the current draw (registered).

    Attributes:
        width, start_state, steps: as resolved.
        network: :func:`leap_network` ``(width, steps)``, the XOR fan-in of every new bit.

    Raises:
        hdl.lfsr.LFSRError: a width without taps, a ``start_state`` outside ``1 .. 2**w - 1``
            or ``steps < 1``; the message names the parameter and the allowed values.
    """

    @classmethod
    def _check(cls, width: int, start_state: int, steps: int | None = None) -> dict[str, Any]:
        width, start_state, steps = _check(width, start_state, steps)
        return {
            "width": width,
            "start_state": start_state,
            "steps": steps,
            "network": leap_network(width, steps),
        }

    def __init__(self, width: int, start_state: int, steps: int | None = None) -> None:
        super().__init__(
            {
                "en": In(1),
                "load": In(1),
                "state": Out(self.width, init=self.start_state),
            }
        )

    def next_state(self) -> Value:
        """The combinational draw ``J state`` (the value ``state`` takes after ``en``)."""
        bits = []
        for taps in self.network:
            if taps:
                bits.append(Cat(*(self.state[j] for j in taps)).xor())
            else:  # not reached for an invertible J; kept for safety
                bits.append(Const(0, 1))
        return Cat(*bits)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        leap = Signal(self.width)
        m.d.comb += leap.eq(self.next_state())
        with m.If(self.load):
            m.d.sync += self.state.eq(self.start_state)
        with m.Elif(self.en):
            m.d.sync += self.state.eq(leap)
        return m
