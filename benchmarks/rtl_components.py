"""Cells per RTL component: Verilator lint and yosys synthesis statistics of each generated block.

Usage:  scripts/run python benchmarks/rtl_components.py
Writes the "Synthesis" section of docs/rtl.md (a table, with the machine it ran on): generic
yosys cells after ``synth -flatten``, flip-flop bits, latch bits (must be 0), lint warnings
left after the documented waivers, and the generation + synthesis time of each block.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from hdl._io import atomic_write_text
from hdl.rtl import (
    accumulator_bits,
    accumulator_verilog,
    conv_window_verilog,
    lif_array_verilog,
    lif_verilog,
    lint,
    synth_stats,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rtl.md"
HEADING = "## Synthesis"

LIF = {"membrane_bits": 16, "current_bits": 14, "threshold_bits": 15, "leak_shift": 1}
COMPONENTS = [
    ("LIF unit, 16-bit membrane", "lif_unit", lambda: lif_verilog(**LIF)),
    (
        "LIF array, 256 neurons on 16 units",
        "lif_array",
        lambda: lif_array_verilog(neurons=256, units=16, thresholds=np.full(256, 40), **LIF),
    ),
    (
        "edge accumulator, 64 outputs on 2 x 1 tiles of 16 ADCs, binary cells, 8-bit ADC",
        "edge_accumulator",
        lambda: accumulator_verilog(
            out_channels=64,
            slices=1,
            cell_bits=1,
            adc_bits=8,
            col_tiles=[(0, 128)],
            row_tiles=2,
            adcs=16,
            z_bits=accumulator_bits(slices=1, cell_bits=1, adc_bits=8, row_tiles=2),
        ),
    ),
    (
        "convolution window, 16 x 8 x 8 map, 3x3 kernel, padding 1",
        "conv_window",
        lambda: conv_window_verilog(in_shape=(16, 8, 8), kernel=3, padding=1),
    ),
]


def main() -> None:
    synth_stats(lif_verilog(**LIF), "lif_unit")  # the first call compiles yosys: not timed
    rows = []
    for label, top, make in COMPONENTS:
        start = time.perf_counter()
        verilog = make()
        generated = time.perf_counter() - start
        warnings = lint(verilog, top).warnings
        start = time.perf_counter()
        stats = synth_stats(verilog, top)
        synthesized = time.perf_counter() - start
        rows.append(
            f"| {label} | {stats.cells} | {stats.flip_flops} | {stats.latches} | {len(warnings)} "
            f"| {generated:.2f} | {synthesized:.2f} |"
        )
    section = [
        HEADING,
        "",
        f"Written by `scripts/run python benchmarks/rtl_components.py` on: {machine()}.",
        "",
        "| component | cells | flip-flop bits | latch bits | lint warnings | generate [s] "
        "| synthesize [s] |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    text = DOC.read_text()
    if HEADING in text:
        text = text[: text.index(HEADING)].rstrip() + "\n"
    atomic_write_text(DOC, text + "\n" + "\n".join(section))
    print("\n".join(section))


if __name__ == "__main__":
    main()
