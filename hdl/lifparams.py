"""The integer LIF parameters: one type for the network format, the RTL units and the models.

A LIF unit (docs/hardware-model.md section 2) is built with the membrane width, the width of
the current it adds, the width of its threshold register, the leak and the reset::

    v <- clamp(leak(v) + I - S_prev * θ, -2**(membrane_bits-1), 2**(membrane_bits-1) - 1)

:class:`LIFParams` checks them once, against the same bounds the IR applies to a neuron
(:data:`MEMBRANE_BITS`, :data:`LEAK_SHIFT`, :data:`RESETS`); :class:`hdl.rtl.LIFUnit`,
:class:`hdl.rtl.LIFArray`, the accelerator plan and :func:`sim.models.lif_step` all take it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.checks import check_int
from hdl.errors import NeurocimError

__all__ = [
    "CURRENT_BITS",
    "LEAK_SHIFT",
    "MEMBRANE_BITS",
    "RESETS",
    "LIFParamError",
    "LIFParams",
]

MEMBRANE_BITS = (2, 32)
"""Bounds of ``membrane_bits`` (the network format's and the RTL's)."""

CURRENT_BITS = (1, 64)
"""Bounds of ``current_bits``, the signed width of the current ``I`` a unit adds."""

LEAK_SHIFT = (1, 16)
"""Bounds of ``leak_shift`` (``None``: no leak)."""

RESETS = ("subtract", "zero")
"""The reset rules: subtract the threshold, or set the membrane to zero, after a spike."""


class LIFParamError(NeurocimError, ValueError):
    """A LIF parameter out of its range; the message names it (``LIF membrane_bits`` ...)."""


@dataclass(frozen=True)
class LIFParams:
    """The parameters a LIF unit is built with, checked (see the module doc).

    Attributes:
        membrane_bits: signed width of the membrane ``v``, 2..32.
        current_bits: signed width of the current ``I``, 1..64.
        threshold_bits: unsigned width of the threshold ``θ``, 1..membrane_bits-1 (a
            threshold is below ``2**(membrane_bits-1)``).
        leak_shift: ``v - (v >> leak_shift)`` per update, 1..16, or ``None`` (no leak).
        reset: ``subtract`` or ``zero``.

    Raises:
        LIFParamError: a parameter is not an integer in its range, or ``reset`` is unknown.
    """

    membrane_bits: int
    current_bits: int
    threshold_bits: int
    leak_shift: int | None = None
    reset: str = "subtract"

    def __post_init__(self) -> None:
        def check(name: str, lo: int, hi: int) -> None:
            value = check_int(getattr(self, name), f"LIF {name}", lo, hi, error=LIFParamError)
            object.__setattr__(self, name, value)

        check("membrane_bits", *MEMBRANE_BITS)
        check("current_bits", *CURRENT_BITS)
        check("threshold_bits", 1, self.membrane_bits - 1)
        if self.leak_shift is not None:
            check("leak_shift", *LEAK_SHIFT)
        if self.reset not in RESETS:
            raise LIFParamError(f"LIF reset must be one of {list(RESETS)}, got {self.reset!r}")

    @property
    def v_min(self) -> int:
        """Smallest membrane value, ``-2**(membrane_bits-1)``."""
        return -(2 ** (self.membrane_bits - 1))

    @property
    def v_max(self) -> int:
        """Largest membrane value, ``2**(membrane_bits-1) - 1``."""
        return 2 ** (self.membrane_bits - 1) - 1

    @property
    def i_min(self) -> int:
        """Smallest current, ``-2**(current_bits-1)``."""
        return -(2 ** (self.current_bits - 1))

    @property
    def i_max(self) -> int:
        """Largest current, ``2**(current_bits-1) - 1``."""
        return 2 ** (self.current_bits - 1) - 1

    @property
    def theta_max(self) -> int:
        """Largest threshold the register holds, ``2**threshold_bits - 1``."""
        return 2**self.threshold_bits - 1
