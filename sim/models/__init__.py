"""Reference models the cocotb testbenches check the RTL against (plain Python integers).

``lif_step`` is one update of one LIF neuron, docs/hardware-model.md section 2, from any stored
state; iterated from ``v = 0, S_prev = 0`` it reproduces :func:`hdl.golden.lif` (a test checks
that), so the RTL that matches it matches the golden model. Its parameters are the one LIF
parameter type, :class:`hdl.lifparams.LIFParams` (re-exported here), that the RTL units take.
"""

from __future__ import annotations

from hdl.lifparams import LIFParams

__all__ = ["LIFParams", "lif_step"]


def lif_step(
    v: int, s_prev: int, current: int, threshold: int, params: LIFParams
) -> tuple[int, int]:
    """``(v_next, spike)`` of one neuron update::

    v ← v · (1 - S_prev)              (reset "zero")
    v ← v - (v >> leak_shift)         (if leak_shift; >> rounds toward -inf)
    v ← v + I - S_prev · θ            (the subtraction for reset "subtract" only)
    v ← clamp(v, -2^(membrane_bits-1), 2^(membrane_bits-1) - 1)
    S ← [v >= θ]
    """
    if params.reset == "zero" and s_prev:
        v = 0
    if params.leak_shift is not None:
        v = v - (v >> params.leak_shift)  # Python's >> on int is arithmetic (floor)
    v = v + current
    if params.reset == "subtract" and s_prev:
        v = v - threshold
    v = min(max(v, params.v_min), params.v_max)
    return v, int(v >= threshold)
