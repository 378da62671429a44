"""cocotb testbench that plays recorded stimuli into a behavioural Verilog model and records
its outputs, cycle by cycle (the tests compare them with the Python models).

Run it through :func:`sim.runner.run_cocotb` with ``params = {"dir": <directory>}``; the
directory holds ``stimuli.json``: ``{"clock": <clock port>, "inputs": [names], "outputs":
[names], "cycles": [[value per input] per cycle]}``. At the falling edge of cycle ``n`` the
bench reads every output (the module's registers, set at the rising edge that started cycle
``n``), then drives the inputs of cycle ``n``; it writes ``observed.json``: ``[[value per
output] per cycle]``, one entry more than cycles (the last read after the last cycle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from sim.runner import tb_params


@cocotb.test()
async def model_run(dut: Any) -> None:
    """Play ``stimuli.json`` and record ``observed.json`` (module doc)."""
    root = Path(tb_params()["dir"])
    spec = json.loads((root / "stimuli.json").read_text())
    inputs = [getattr(dut, name) for name in spec["inputs"]]
    outputs = [getattr(dut, name) for name in spec["outputs"]]
    for port in inputs:
        port.value = 0
    cocotb.start_soon(Clock(getattr(dut, spec["clock"]), 10, unit="ns").start())
    observed = []
    for values in spec["cycles"]:
        await FallingEdge(getattr(dut, spec["clock"]))
        observed.append([int(port.value) for port in outputs])
        for port, value in zip(inputs, values, strict=True):
            port.value = int(value)
    await FallingEdge(getattr(dut, spec["clock"]))
    observed.append([int(port.value) for port in outputs])
    (root / "observed.json").write_text(json.dumps(observed) + "\n")
