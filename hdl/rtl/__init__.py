"""Amaranth components of the accelerator's digital logic and their Verilog emission."""

from __future__ import annotations

from hdl.rtl.lif import LIFUnit, RTLError, emit_verilog, lif_verilog

__all__ = [
    # errors and Verilog emission (shared by every component)
    "RTLError",
    "emit_verilog",
]
__all__ += [
    # LIF update unit (hdl.rtl.lif)
    "LIFUnit",
    "lif_verilog",
]

from hdl.rtl.dropout import (  # noqa: E402
    DACSetting,
    DropoutModuleController,
    DropoutRTLError,
    LFSRDropoutSource,
    dac_setting,
)
from hdl.rtl.lfsr import LeapLFSR, leap_network  # noqa: E402

__all__ += [
    # MTJ dropout enable path and its digital LFSR alternative (hdl.rtl.dropout, hdl.rtl.lfsr)
    "DACSetting",
    "DropoutModuleController",
    "DropoutRTLError",
    "LFSRDropoutSource",
    "LeapLFSR",
    "dac_setting",
    "leap_network",
]

from hdl.rtl.crossbar import crossbar_signature  # noqa: E402

__all__ += [
    # crossbar tile interface (hdl.rtl.crossbar); the analog macro stays a black box
    "crossbar_signature",
]

from hdl.rtl.accumulate import (  # noqa: E402
    EdgeAccumulator,
    accumulator_bits,
    accumulator_verilog,
)

__all__ += [
    # shift-add of a weighted edge's ADC codes over tiles, slices, polarities and bit-planes
    "EdgeAccumulator",
    "accumulator_bits",
    "accumulator_verilog",
]

from hdl.rtl.lif_array import LIFArray, lif_array_verilog  # noqa: E402

__all__ += [
    # LIF units time-multiplexed over a layer's neurons, state in memory (hdl.rtl.lif_array)
    "LIFArray",
    "lif_array_verilog",
]

from hdl.rtl.window import ConvWindow, conv_window_verilog  # noqa: E402

__all__ += [
    # convolution-window addressing of a spike map (hdl.rtl.window)
    "ConvWindow",
    "conv_window_verilog",
]

from hdl.rtl.synth import (  # noqa: E402
    LintResult,
    SynthStats,
    ToolError,
    ToolNotFound,
    lint,
    synth_stats,
)

__all__ += [
    # Verilator lint and yosys synthesis statistics of generated Verilog (hdl.rtl.synth)
    "LintResult",
    "SynthStats",
    "ToolError",
    "ToolNotFound",
    "lint",
    "synth_stats",
]

from hdl.rtl.accelerator import (  # noqa: E402
    Accelerator,
    accelerator_verilog,
    mtj_signature,
)
from hdl.rtl.plan import (  # noqa: E402
    AcceleratorPlan,
    MTJModulePort,
    TilePort,
    plan_accelerator,
    tile_cells,
)

__all__ += [
    # the whole accelerator for any network of the IR (hdl.rtl.accelerator)
    "Accelerator",
    "AcceleratorPlan",
    "MTJModulePort",
    "TilePort",
    "accelerator_verilog",
    "mtj_signature",
    "plan_accelerator",
    "tile_cells",
]
