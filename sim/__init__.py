"""Verification: cocotb testbenches and behavioural models of the analog parts; not built yet."""
