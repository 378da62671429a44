"""The integer rules of the chip's time-multiplexing, one definition each.

Everything that is shared round-robin on the chip takes ``ceil(work / servers)`` turns: the
columns of a tile on its ADCs, the units of a dropout mask on the edge's modules, the neurons of
a position on the LIF units. :mod:`hdl.mapping` (and with it the schedule and the cost model),
the RTL components and the behavioural models all call these functions; the golden model keeps
its own geometry on purpose, as an independent cross-check (:mod:`hdl.golden`).
"""

from __future__ import annotations

__all__ = [
    "ceil_div",
    "conversion_cycles",
    "conversions",
    "lanes",
    "magnitude_bits",
    "mask_cycles",
    "slices",
    "update_cycles",
]


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` in integers, for ``a >= 0`` and ``b >= 1``."""
    return -(-a // b)


def magnitude_bits(weight_bits: int) -> int:
    """Bits of a weight's magnitude ``|W|``: 1 for binary weights (``±1``), else
    ``weight_bits - 1`` (sign-magnitude on a ``+`` and a ``-`` column)."""
    return 1 if weight_bits == 1 else weight_bits - 1


def slices(weight_bits: int, cell_bits: int) -> int:
    """Cells per polarity holding one weight: ``ceil(magnitude_bits / cell_bits)``."""
    return ceil_div(magnitude_bits(weight_bits), cell_bits)


def conversions(columns: int, adcs: int) -> int:
    """Conversions per read of a tile with ``columns`` used columns on ``adcs`` ADCs:
    ``ceil(columns / adcs)`` (ADC ``a`` converts the columns ``a, a + adcs, a + 2·adcs, ...``
    one after another)."""
    return ceil_div(columns, adcs)


def conversion_cycles(steps: int, first: int, interval: int) -> int:
    """Cycles from a read strobe to the last of its ``steps >= 1`` conversions, conversion ``s``
    being valid ``first + s * interval`` cycles after the strobe: ``first + (steps - 1) *
    interval``. A serial ADC (``first = interval = 1 + adc_latency_cycles``) takes ``steps *
    (1 + adc_latency_cycles)``, a pipelined one (``interval = 1``) ``steps +
    adc_latency_cycles`` (:attr:`hdl.hwconfig.HardwareConfig.conversion_timing`)."""
    return first + (steps - 1) * interval


def lanes(columns: int, adcs: int) -> int:
    """Codes per conversion of a tile with ``columns`` used columns: ``min(columns, adcs)``."""
    return min(columns, adcs)


def mask_cycles(units: int, modules: int) -> int:
    """Dropout cycles to fill a mask of ``units`` bits from ``modules`` modules in lockstep:
    ``ceil(units / modules)`` (unit ``r`` comes from module ``r % modules`` in cycle
    ``r // modules``)."""
    return ceil_div(units, modules)


def update_cycles(neurons: int, units: int) -> int:
    """Cycles to update ``neurons`` neurons on ``units`` LIF units: ``ceil(neurons / units)``."""
    return ceil_div(neurons, units)
