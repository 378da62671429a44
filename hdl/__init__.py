"""Hardware description of neurocim accelerators (numpy only, never torch)."""

from __future__ import annotations

from hdl.dropout_bank import DriverSettings, MTJDropoutBank
from hdl.mtj import (
    DeviceError,
    DropoutCycleEnergy,
    MTJDevice,
    Variation,
    celsius_to_kelvin,
    dropout_cycle_energy,
    thermal_switching_probability,
)

__all__ = [
    # STT-MTJ device physics (hdl.mtj)
    "DeviceError",
    "DropoutCycleEnergy",
    "MTJDevice",
    "Variation",
    "celsius_to_kelvin",
    "dropout_cycle_energy",
    "thermal_switching_probability",
]
__all__ += [
    # MTJ dropout modules (hdl.dropout_bank)
    "DriverSettings",
    "MTJDropoutBank",
]
