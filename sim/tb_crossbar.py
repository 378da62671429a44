"""cocotb testbench of the crossbar tile driver (:class:`hdl.rtl.crossbar.CrossbarTileDriver`)
in Verilog, next to the behavioural macro :class:`sim.models.crossbar.CocotbCrossbarMacro`.

Run it through :func:`sim.runner.run_cocotb` with ``params``:

* ``rows``, ``cols``, ``adc_bits``: the driver's parameters;
* ``cells``: the tile's ``(rows, cols)`` cell values (programmed out of band into the macro);
* ``latency``: the macro's latency (>= 1);
* ``reads``: number of random reads (besides all rows dropped and all rows on), ``seed``;
* ``model_adc_bits`` (optional, default ``adc_bits``): the ADC width the *macro* is built with;
  any other value is a deliberately wrong macro, for the bench's own negative test.

Inputs are driven on falling edges. Each read is started when the driver is idle (after a random
gap, or back to back in the ``done`` cycle); while ``busy`` the bench pulses ``start`` with other
rows, which must be ignored. It checks, per read: ``done`` comes exactly
:func:`hdl.rtl.crossbar.read_cycles` ``(latency)`` cycles after the start, for one cycle, with
``codes`` equal to :meth:`sim.models.crossbar.CrossbarTileModel.codes` of the started
``rows_in``; ``busy`` is high in between; and at the end the macro saw one read per start and no
protocol violation.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from hdl.rtl.crossbar import read_cycles
from sim.models.crossbar import CocotbCrossbarMacro, CrossbarTileModel, unpack_codes
from sim.runner import tb_params


@cocotb.test()
async def crossbar_driver_matches_model(dut: Any) -> None:
    """Every read's timing and codes (module doc)."""
    cfg = tb_params()
    rows, cols, adc_bits = int(cfg["rows"]), int(cfg["cols"]), int(cfg["adc_bits"])
    latency = int(cfg["latency"])
    cells = np.array(cfg["cells"], dtype=np.int64)
    reference = CrossbarTileModel(cells, adc_bits)
    macro_model = CrossbarTileModel(cells, int(cfg.get("model_adc_bits", adc_bits)))
    macro = CocotbCrossbarMacro(dut, macro_model, latency)
    rng = random.Random(int(cfg.get("seed", 1)))
    full = 2**rows - 1
    inputs = [0, full, *(rng.getrandbits(rows) for _ in range(int(cfg.get("reads", 50)))), 0]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.rows_in.value = 0
    await FallingEdge(dut.clk)
    cocotb.start_soon(macro.run())
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    assert (int(dut.busy.value), int(dut.done.value)) == (0, 0), "busy/done after reset"

    want_cycles = read_cycles(latency)
    k = 0
    back_to_back = False
    while k < len(inputs):
        if not back_to_back:
            for _ in range(rng.randint(0, 3)):  # idle gap, rows_in changing
                dut.start.value = 0
                dut.rows_in.value = rng.getrandbits(rows)
                await FallingEdge(dut.clk)
                assert int(dut.done.value) == 0, f"done without a read before read {k}"
        assert int(dut.busy.value) == 0, f"busy when read {k} starts"
        rows_in = inputs[k]
        dut.start.value = 1
        dut.rows_in.value = rows_in
        await FallingEdge(dut.clk)
        for cycle in range(1, want_cycles):
            assert int(dut.busy.value) == 1, f"read {k}: busy low in cycle {cycle} after start"
            assert int(dut.done.value) == 0, f"read {k}: done in cycle {cycle}, want {want_cycles}"
            dut.start.value = rng.getrandbits(1)  # ignored while busy
            dut.rows_in.value = rng.getrandbits(rows)
            await FallingEdge(dut.clk)
        assert int(dut.done.value) == 1, f"read {k}: no done {want_cycles} cycles after start"
        assert int(dut.busy.value) == 0, f"read {k}: still busy in the done cycle"
        got = unpack_codes(int(dut.codes.value), cols, adc_bits).tolist()
        want = reference.codes(rows_in).tolist()
        assert got == want, f"read {k} (rows_in={rows_in:#x}): expected codes {want}, got {got}"
        k += 1
        back_to_back = k < len(inputs) and rng.random() < 0.3
        if not back_to_back:
            dut.start.value = 0
            await FallingEdge(dut.clk)
            assert int(dut.done.value) == 0, f"read {k - 1}: done longer than one cycle"

    dut.start.value = 0
    for _ in range(want_cycles + 2):
        await FallingEdge(dut.clk)
        assert int(dut.done.value) == 0 and int(dut.busy.value) == 0, "activity after the reads"
    assert macro.errors == [], f"protocol violations: {macro.errors}"
    assert [wl for wl, _ in macro.reads] == inputs, "the macro saw other reads than started"
    dut._log.info("%d reads checked (latency %d)", len(inputs), latency)
