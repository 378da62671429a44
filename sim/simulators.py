"""The simulators ``neurocim sim`` can run the accelerator on: the one list of their names.

``icarus`` and ``verilator`` run the Verilog under cocotb (:mod:`sim.runner`, :mod:`sim.cosim`);
``amaranth`` runs the design in Amaranth's own simulator (:mod:`sim.amaranth_accel`). Kept in a
module of its own, with no imports, so that the command line's parser can offer the names
without loading any simulator.
"""

from __future__ import annotations

__all__ = ["AUTO", "SIMULATORS", "SIMULATOR_CHOICES", "VERILOG_SIMULATORS"]

VERILOG_SIMULATORS: tuple[str, ...] = ("icarus", "verilator")
"""Simulators of the Verilog, under cocotb."""

SIMULATORS: tuple[str, ...] = (*VERILOG_SIMULATORS, "amaranth")
"""Every simulator."""

AUTO = "auto"
"""The default choice: Verilator where it is installed, else Icarus
(:func:`sim.runner.default_simulator`)."""

SIMULATOR_CHOICES: tuple[str, ...] = (AUTO, *SIMULATORS)
"""What ``--simulator`` and ``sim.simulator`` accept, the default (``auto``) first."""
