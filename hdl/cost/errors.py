"""Errors of the cost model."""

from __future__ import annotations

from hdl.errors import NeurocimError

__all__ = ["CostError", "SpikeSimRefusal"]


class CostError(NeurocimError, ValueError):
    """A network or option the cost model cannot price; the message says why."""


class SpikeSimRefusal(CostError):
    """The released SpikeSim script refuses the network (``reproduce_defects=True`` only)."""
