"""Verification: cocotb testbenches on Icarus, behavioural models, and the runner (sim.runner)."""
