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

# The network as the chip runs it, its hardware, mapping, cost and golden model. Import after the
# device physics above (the cost model prices the dropout modules with it).
from hdl.cost import CostError, CostReport, estimate  # noqa: E402
from hdl.hwconfig import HardwareConfig, HardwareError  # noqa: E402
from hdl.ir import (  # noqa: E402
    DropoutSpec,
    Edge,
    InputSpec,
    IRError,
    Layer,
    Network,
    Neuron,
    load_network,
    save_network,
)
from hdl.mapping import MappingError, map_network, schedule  # noqa: E402

__all__ += [
    # network format (hdl.ir) and hardware configuration (hdl.hwconfig)
    "DropoutSpec",
    "Edge",
    "HardwareConfig",
    "HardwareError",
    "IRError",
    "InputSpec",
    "Layer",
    "Network",
    "Neuron",
    "load_network",
    "save_network",
]
__all__ += [
    # mapping, schedule and cost (hdl.mapping, hdl.cost); the golden model is hdl.golden.run
    "CostError",
    "CostReport",
    "MappingError",
    "estimate",
    "map_network",
    "schedule",
]
