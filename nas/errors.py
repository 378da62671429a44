"""The search's own errors (both derive from :class:`hdl.errors.NeurocimError`)."""

from __future__ import annotations

from hdl.errors import NeurocimError

__all__ = ["InfeasibleError", "NASError"]


class NASError(NeurocimError, ValueError):
    """An invalid search space, budget or search setting; the message names the parameter."""


class InfeasibleError(NeurocimError, ValueError):
    """No candidate of a search met the budgets; the message names the binding constraint and
    the closest candidates with how far each one misses."""
