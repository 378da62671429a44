"""Fibonacci LFSRs as the chip implements them: input rate coding and digital dropout bits.

The register (docs/hardware-model.md section 4) holds ``w = width`` bits; ``taps`` are bit
positions (1 = least significant) from the maximal-length tables (:data:`hdl.ir.LFSR_TAPS`). One
*single step*::

    fb    = XOR of the state bits at the taps
    state = ((state << 1) | fb) & (2**w - 1)

A maximal-length register visits every non-zero state once per period ``P = 2**w - 1`` and never
reaches 0.

**Draws (leap-forward).** One *draw* advances the register by ``w`` single steps at once (in
hardware a fixed XOR network computes the state ``w`` steps ahead in one clock) and yields the new
state: draw ``k`` (1-based) of a stream started at ``s`` is the state ``k * w`` single steps after
``s``. Successive draws are non-overlapping ``w``-bit windows of the m-sequence, so they do not
share bits (consecutive *single-step* states are shifted copies of each other).

**Where the streams start.** The input LFSR (rate coding) starts at its seed. Module ``m`` of the
dropout edge ``e`` (index among the network's ``E`` weighted edges with dropout, file order)
starts ``offset = (e + 1) * d + m * G`` single steps after its spec's seed, with
``G = floor(P / modules)`` and ``d = floor(G / (E + 1))``: the modules are spread along the
sequence, the edges interleave between them and the input LFSR keeps offset 0, so no two streams
of a network share a sequence position even when every spec has the same seed. ``d < w`` (starts
closer than one draw) is refused: the fix is a wider LFSR.

Vectorisation: the step is linear over GF(2), so the state ``k`` steps after ``s`` is the XOR of
the columns ``A**k e_i`` for the set bits ``i`` of ``s``. :func:`lfsr_streams` precomputes those
columns for a block of draws once per width and stride and then produces whole blocks of draws
(of many streams at once) with ``w`` vectorised XORs per block; offsets use ``A**(2**b)`` by
repeated squaring.

Two consumers (docs/hardware-model.md sections 2 and 3):

* :func:`rate_spikes`: input ``i`` spikes when ``u >> (w - bits) < x[i]``;
* :func:`dropout_drop_bits`: a module drops when ``u < round(p * 2**w)``; row ``r`` takes module
  ``r % modules`` in cycle ``r // modules``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from hdl.checks import check_int
from hdl.errors import NeurocimError
from hdl.geometry import mask_cycles
from hdl.ir import LFSR_TAPS, DropoutSpec, LFSRSpec

__all__ = [
    "LFSRError",
    "drop_threshold",
    "dropout_drop_bits",
    "jump_columns",
    "lfsr_advance",
    "lfsr_next",
    "lfsr_states",
    "lfsr_streams",
    "module_offsets",
    "module_seeds",
    "rate_spikes",
]

_MAX_BLOCK = 1 << 14  # draws per precomputed block (tables hold 1 .. 16384 leaps)


class LFSRError(NeurocimError, ValueError):
    """A bad LFSR request; the message names the argument and the allowed values."""


def _width(width: int) -> int:
    width = check_int(width, "LFSR width", error=LFSRError)
    if width not in LFSR_TAPS:
        raise LFSRError(f"LFSR width must be one of {sorted(LFSR_TAPS)}, got {width}")
    return width


def _count(name: str, value: int, minimum: int = 0) -> int:
    return check_int(value, name, minimum, error=LFSRError)


def _states(states: np.ndarray | list[int] | int, width: int, what: str) -> np.ndarray:
    arr = np.asarray(states)
    if arr.dtype.kind not in "iu":
        raise LFSRError(f"LFSR {what} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if np.any((arr < 1) | (arr >= 2**width)):
        raise LFSRError(
            f"LFSR {what} must be in 1..{2**width - 1} (width {width}; 0 would lock the "
            f"register), got {arr.reshape(-1).tolist()}"
        )
    return arr


def _step(state: np.ndarray, width: int) -> np.ndarray:
    """One Fibonacci single step of every state in ``state`` (int64 array)."""
    fb = np.zeros_like(state)
    for tap in LFSR_TAPS[width]:
        fb ^= (state >> (tap - 1)) & 1
    return ((state << 1) | fb) & ((1 << width) - 1)


def lfsr_next(state: int, width: int) -> int:
    """The state one single step after ``state`` (scalar form of the equation above)."""
    width = _width(width)
    if not 0 < state < 2**width:
        raise LFSRError(f"LFSR state must be in 1..{2**width - 1}, got {state}")
    return int(_step(np.array([state], dtype=np.int64), width)[0])


def _apply(columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Apply the linear map whose image of basis state ``1 << j`` is ``columns[j]``.

    ``columns`` is ``(w, *batch)``; the result broadcasts ``values`` against ``batch``.
    """
    out = np.zeros(np.broadcast_shapes(values.shape, columns.shape[1:]), dtype=np.int64)
    for j in range(columns.shape[0]):
        out ^= ((values >> j) & 1) * columns[j]
    return out


@cache
def _pow2_columns(width: int, b: int) -> np.ndarray:
    """``(w,)`` columns of ``A**(2**b)``, ``A`` the single step (read-only, cached)."""
    if b == 0:
        cols = _step(np.left_shift(1, np.arange(width, dtype=np.int64)), width)
    else:
        half = _pow2_columns(width, b - 1)
        cols = _apply(half, half)
    cols.setflags(write=False)
    return cols


@cache
def _jump_columns(width: int, steps: int) -> np.ndarray:
    cols = np.left_shift(1, np.arange(width, dtype=np.int64))  # identity
    steps %= 2**width - 1  # A**P = identity
    for b in range(steps.bit_length()):
        if (steps >> b) & 1:
            cols = _apply(_pow2_columns(width, b), cols)
    cols.setflags(write=False)
    return cols


def jump_columns(width: int, steps: int) -> np.ndarray:
    """``(w,)`` int64: entry ``j`` is the state ``steps`` single steps after ``1 << j``.

    This is the XOR network that advances the register by ``steps`` in one clock: bit ``i`` of
    the new state is the XOR of the old bits ``j`` with ``(columns[j] >> i) & 1``. With
    ``steps = w`` it is the leap-forward network of one draw.
    """
    width = _width(width)
    steps = _count("steps", steps)
    return _jump_columns(width, steps).copy()


def lfsr_advance(
    states: np.ndarray | list[int] | int, width: int, steps: np.ndarray | list[int] | int
) -> np.ndarray:
    """int64 array: each state advanced by ``steps`` single steps (both broadcast).

    ``states`` are non-zero ``width``-bit states; ``steps >= 0`` (taken modulo the period).
    """
    width = _width(width)
    states = _states(states, width, "states")
    steps = np.asarray(steps)
    if steps.dtype.kind not in "iu" or np.any(steps < 0):
        raise LFSRError(f"steps must be integers >= 0, got {steps.reshape(-1).tolist()}")
    steps = steps.astype(np.int64) % (2**width - 1)
    shape = np.broadcast_shapes(states.shape, steps.shape)
    out = np.broadcast_to(states, shape).copy()
    steps = np.broadcast_to(steps, shape)
    top = int(steps.max()) if steps.size else 0
    for b in range(top.bit_length()):
        sel = ((steps >> b) & 1).astype(bool)
        if sel.any():
            out[sel] = _apply(_pow2_columns(width, b), out[sel])
    return out


@cache
def _leap_table(width: int, stride: int, size: int) -> np.ndarray:
    """``(size, w)`` int64: row ``k`` holds the columns of ``A**((k + 1) * stride)``.

    ``size`` is a power of two; built by doubling: rows ``h + k`` are rows ``k`` mapped through
    ``A**(h * stride)`` (row ``h - 1``). Read-only, cached.
    """
    if size == 1:
        table = _jump_columns(width, stride)[None].copy()
    else:
        half = _leap_table(width, stride, size // 2)
        table = np.concatenate([half, _apply(half[-1], half)])
    table.setflags(write=False)
    return table


def lfsr_streams(
    width: int, starts: np.ndarray | list[int], n: int, stride: int | None = None
) -> np.ndarray:
    """``(S, n)`` int64: ``n`` draws of ``S`` LFSRs started at the states ``starts``.

    Entry ``[s, k]`` is the state ``(k + 1) * stride`` single steps after ``starts[s]``.

    Args:
        width: register width ``w``, a key of :data:`hdl.ir.LFSR_TAPS`.
        starts: ``S`` start states, each in ``1 .. 2**w - 1`` (0 would lock the register).
        n: draws per stream.
        stride: single steps per draw; ``None`` (the chip's draws) means ``w`` (leap-forward),
            1 gives the raw register sequence.
    """
    width = _width(width)
    n = _count("n", n)
    stride = width if stride is None else _count("stride", stride, 1)
    starts = _states(starts, width, "start states").reshape(-1)
    size = 1
    while size < min(n, _MAX_BLOCK):
        size *= 2
    table = _leap_table(width, stride, size)
    out = np.empty((starts.size, n), dtype=np.int64)
    current = starts.copy()
    for first in range(0, n, size):
        k = min(size, n - first)
        block = _apply(table[:k].T[:, None, :], current[:, None])  # (S, k)
        out[:, first : first + k] = block
        current = block[:, -1]
    return out


def lfsr_states(spec: LFSRSpec, n: int, stride: int = 1) -> np.ndarray:
    """``(n,)`` int64: the states ``stride, 2 * stride, ..., n * stride`` single steps after the
    seed of ``spec`` (``stride = 1``: the raw register sequence; ``stride = w``: its draws)."""
    return lfsr_streams(spec.width, [spec.seed], n, stride)[0]


def module_offsets(width: int, modules: int, edge: int = 0, edges: int = 1) -> np.ndarray:
    """``(modules,)`` int64: single steps from the seed to each dropout module's start.

    Module ``m`` of dropout edge ``edge`` (of ``edges`` weighted edges with dropout in the
    network, file order) starts ``(edge + 1) * d + m * G`` steps after the seed, with
    ``G = floor((2**w - 1) / modules)`` and ``d = floor(G / (edges + 1))``; offset 0 is the
    input LFSR's. Refused when ``d < w``: starts closer than one draw would overlap.
    """
    width = _width(width)
    modules = _count("modules", modules, 1)
    edges = _count("edges", edges, 1)
    edge = _count("edge", edge)
    if edge >= edges:
        raise LFSRError(f"edge must be in 0..{edges - 1} (edges = {edges}), got {edge}")
    period = 2**width - 1
    gap = period // modules
    spacing = gap // (edges + 1)
    if spacing < width:
        wide = [w for w in sorted(LFSR_TAPS) if ((2**w - 1) // modules) // (edges + 1) >= w]
        fix = f"a wider LFSR (width >= {wide[0]})" if wide else "fewer modules"
        raise LFSRError(
            f"an LFSR of width {width} (period {period}) is too short for {modules} dropout "
            f"modules on each of {edges} edge(s) plus the input: their starts would be "
            f"{spacing} < {width} single steps (one draw) apart, so their draws would overlap; "
            f"use {fix}"
        )
    return (edge + 1) * spacing + gap * np.arange(modules, dtype=np.int64)


def module_seeds(spec: LFSRSpec, modules: int, edge: int = 0, edges: int = 1) -> np.ndarray:
    """``(modules,)`` int64 start states of the dropout modules (see :func:`module_offsets`)."""
    offsets = module_offsets(spec.width, modules, edge, edges)
    return lfsr_advance(spec.seed, spec.width, offsets)


def drop_threshold(p: float, width: int) -> int:
    """``round(p * 2**width)``: a module drops when its draw ``u`` is below this.

    ``p * 2**width`` is exact in float64; ties round half to even (Python's ``round``). As the
    state is never 0, the drop rate over all non-zero states is
    ``(threshold - 1) / (2**width - 1)``.
    """
    width = _width(width)
    if not 0.0 <= float(p) <= 1.0:
        raise LFSRError(f"drop probability must be in [0, 1], got {p!r}")
    return round(float(p) * 2**width)


def dropout_drop_bits(
    spec: DropoutSpec, units: int, masks: int, edge: int = 0, edges: int = 1
) -> np.ndarray:
    """Drop bits of ``masks`` successive masks of ``units`` bits, bool ``(masks, units)``.

    True = dropped. ``edge`` and ``edges`` place the edge among the network's weighted edges
    with dropout (file order); module ``m`` starts at ``module_seeds(spec.lfsr, modules, edge,
    edges)[m]``. All modules draw together once per dropout cycle, and a mask takes
    ``cycles = ceil(units / modules)`` cycles. Mask ``q`` (0-based, in drawing order), row ``r``
    takes module ``r % modules`` in cycle ``q * cycles + r // modules``::

        u    = draw q * cycles + r // modules + 1 of module r % modules
             = state (q * cycles + r // modules + 1) * w single steps after its start
        drop = u < round(p * 2**w)

    The module slots of a mask's last cycle that no row uses are drawn and discarded, so the
    registers run continuously: drawing ``a`` masks then ``b`` more (continuing the states)
    equals drawing ``a + b`` at once.
    """
    if spec.source != "lfsr" or spec.lfsr is None:
        raise LFSRError(f"dropout source must be 'lfsr' with an LFSR spec, got {spec.source!r}")
    units, masks = _count("units", units), _count("masks", masks)
    modules = spec.modules
    cycles = mask_cycles(units, modules)
    starts = module_seeds(spec.lfsr, modules, edge, edges)
    draws = lfsr_streams(spec.lfsr.width, starts, masks * cycles)
    # (modules, masks * cycles) -> (masks, cycles, modules) -> row r = cycle * modules + module
    per_mask = draws.reshape(modules, masks, cycles).transpose(1, 2, 0)
    u = per_mask.reshape(masks, cycles * modules)[:, :units]
    return u < drop_threshold(spec.p, spec.lfsr.width)


def rate_spikes(
    x: np.ndarray, bits: int, spec: LFSRSpec, samples: int, timesteps: int
) -> np.ndarray:
    """Rate-coded input spikes, uint8 ``(samples, N, timesteps, P)`` for pixels ``x`` ``(N, P)``.

    One input LFSR (``spec``) draws continuously from its seed (offset 0). Its draws are consumed
    image by image, within an image sample by sample, within a sample timestep by timestep,
    within a timestep pixel by pixel (``i = 0 .. P-1``, the C-order flattening of
    ``(C, H, W)``)::

        k = ((n * samples + m) * timesteps + t) * P + i
        u = draw k + 1 = state (k + 1) * w single steps after the seed
        s[m, n, t, i] = 1 if (u >> (w - bits)) < x[n, i] else 0

    ``x`` holds unsigned integers of ``bits`` bits and ``w >= bits``.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise LFSRError(f"rate_spikes needs pixels of shape (N, P), got {x.shape}")
    if spec.width < bits:
        raise LFSRError(f"LFSR width ({spec.width}) must be >= input bits ({bits})")
    samples, timesteps = _count("samples", samples), _count("timesteps", timesteps)
    n_img, n_pix = x.shape
    u = lfsr_streams(spec.width, [spec.seed], n_img * samples * timesteps * n_pix)[0]
    u = (u >> (spec.width - bits)).reshape(n_img, samples, timesteps, n_pix)
    spikes = u < x.astype(np.int64)[:, None, None, :]
    return spikes.transpose(1, 0, 2, 3).astype(np.uint8)
