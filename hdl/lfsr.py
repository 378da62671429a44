"""Fibonacci LFSRs as the chip implements them: input rate coding and digital dropout bits.

The register (docs/hardware-model.md section 4) holds ``width`` bits; ``taps`` are bit positions
(1 = least significant) from the maximal-length tables (:data:`hdl.ir.LFSR_TAPS`). One step::

    fb    = XOR of the state bits at the taps
    state = ((state << 1) | fb) & (2**width - 1)

The value used is the state *after* the step, so a stream started from ``seed`` yields
``step(seed), step(step(seed)), ...``. A maximal-length register visits every non-zero state once
per period ``2**width - 1`` and never reaches 0.

Vectorisation: the step is linear over GF(2), so the state ``k`` steps after ``s`` is the XOR of
the columns ``A**k e_i`` for the set bits ``i`` of ``s``. :func:`lfsr_streams` precomputes those
columns for a block of steps once per width and then produces whole blocks of states (of many
streams at once) with ``width`` vectorised XORs per block.

Two consumers (docs/hardware-model.md sections 2 and 3):

* :func:`rate_spikes`: input ``i`` spikes when ``u >> (width - bits) < x[i]``;
* :func:`dropout_drop_bits`: module ``m`` (LFSR seeded ``seed + m``) drops when
  ``u < round(p * 2**width)``; row ``r`` takes module ``r % modules`` in cycle ``r // modules``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from hdl.ir import LFSR_TAPS, DropoutSpec, LFSRSpec

__all__ = [
    "LFSRError",
    "drop_threshold",
    "dropout_drop_bits",
    "lfsr_next",
    "lfsr_states",
    "lfsr_streams",
    "module_seeds",
    "rate_spikes",
]

_MIN_BLOCK = 64  # jump tables hold 64 .. 16384 steps (powers of two)
_MAX_BLOCK = 1 << 14


class LFSRError(ValueError):
    """A bad LFSR request; the message names the argument and the allowed values."""


def _width(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise LFSRError(f"LFSR width must be an integer, got {width!r}")
    if int(width) not in LFSR_TAPS:
        raise LFSRError(f"LFSR width must be one of {sorted(LFSR_TAPS)}, got {width}")
    return int(width)


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise LFSRError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _step(state: np.ndarray, width: int) -> np.ndarray:
    """One Fibonacci step of every state in ``state`` (int64 array)."""
    fb = np.zeros_like(state)
    for tap in LFSR_TAPS[width]:
        fb ^= (state >> (tap - 1)) & 1
    return ((state << 1) | fb) & ((1 << width) - 1)


def lfsr_next(state: int, width: int) -> int:
    """The state after one step from ``state`` (scalar form of the equation above)."""
    width = _width(width)
    if not 0 < state < 2**width:
        raise LFSRError(f"LFSR state must be in 1..{2**width - 1}, got {state}")
    return int(_step(np.array([state], dtype=np.int64), width)[0])


def _jump(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Apply the linear map whose image of basis state ``1 << j`` is ``columns[j]``."""
    out = np.zeros(np.broadcast_shapes(values.shape, columns.shape[1:]), dtype=np.int64)
    for j in range(columns.shape[0]):
        out ^= ((values >> j) & 1) * columns[j]
    return out


@cache
def _jump_columns(width: int, size: int) -> np.ndarray:
    """``(size, width)`` int64: entry ``[k, i]`` is the state ``k + 1`` steps after the basis
    state ``1 << i`` (read-only, cached).

    Built by stepping ``_MIN_BLOCK`` times, then doubling: the states ``h + k + 1`` steps after
    ``1 << i`` are the first ``h`` rows mapped through the jump by ``h`` steps (row ``h - 1``).
    """
    if size <= _MIN_BLOCK:
        cols = np.empty((size, width), dtype=np.int64)
        state = np.left_shift(1, np.arange(width, dtype=np.int64))
        for k in range(size):
            state = _step(state, width)
            cols[k] = state
    else:
        half = _jump_columns(width, size // 2)
        cols = np.concatenate([half, _jump(half, half[-1])])
    cols.setflags(write=False)
    return cols


def lfsr_streams(width: int, seeds: np.ndarray | list[int], n: int) -> np.ndarray:
    """``(S, n)`` int64: the states after steps ``1 .. n`` of ``S`` LFSRs started at ``seeds``.

    Args:
        width: register width, a key of :data:`hdl.ir.LFSR_TAPS`.
        seeds: ``S`` start states, each in ``1 .. 2**width - 1`` (0 would lock the register).
        n: states per stream.
    """
    width = _width(width)
    n = _count("n", n)
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    if np.any((seeds < 1) | (seeds >= 2**width)):
        raise LFSRError(
            f"LFSR seeds must be in 1..{2**width - 1} (width {width}), got {seeds.tolist()}"
        )
    size = _MIN_BLOCK
    while size < min(n, _MAX_BLOCK):
        size *= 2
    cols = _jump_columns(width, size)
    out = np.empty((seeds.size, n), dtype=np.int64)
    current = seeds.copy()
    for start in range(0, n, size):
        block = _jump(current[:, None], cols[None, : min(size, n - start)].transpose(2, 0, 1))
        out[:, start : start + block.shape[1]] = block
        current = block[:, -1]
    return out


def lfsr_states(spec: LFSRSpec, n: int) -> np.ndarray:
    """``(n,)`` int64: the states after steps ``1 .. n`` of the LFSR ``spec`` from its seed."""
    return lfsr_streams(spec.width, [spec.seed], n)[0]


def module_seeds(spec: LFSRSpec, modules: int) -> np.ndarray:
    """``(modules,)`` start states: module ``m`` starts from ``seed + m``.

    When ``seed + m`` exceeds ``2**width - 1`` it wraps around the non-zero states:
    ``((seed - 1 + m) mod (2**width - 1)) + 1``, so a seed is never 0.
    """
    modules = _count("modules", modules)
    period = 2**spec.width - 1
    return (spec.seed - 1 + np.arange(modules, dtype=np.int64)) % period + 1


def drop_threshold(p: float, width: int) -> int:
    """``round(p * 2**width)``: a module drops when its state ``u`` is below this.

    ``p * 2**width`` is exact in float64; ties round half to even (Python's ``round``). As the
    state is never 0, the drop rate over a full period is ``(threshold - 1) / (2**width - 1)``.
    """
    width = _width(width)
    if not 0.0 <= float(p) <= 1.0:
        raise LFSRError(f"drop probability must be in [0, 1], got {p!r}")
    return round(float(p) * 2**width)


def dropout_drop_bits(spec: DropoutSpec, units: int, masks: int) -> np.ndarray:
    """Drop bits of ``masks`` successive masks of ``units`` bits, bool ``(masks, units)``.

    True = dropped. Module ``m`` (``m = 0 .. modules-1``) runs its own LFSR from
    ``module_seeds(spec.lfsr, modules)[m]``; all modules step together once per dropout cycle,
    and a mask takes ``cycles = ceil(units / modules)`` cycles. Mask ``q`` (0-based, in drawing
    order), row ``r`` takes module ``r % modules`` in cycle ``q * cycles + r // modules``:

        u = state of module (r % modules) after step q * cycles + r // modules + 1
        drop = u < round(p * 2**width)

    The module slots of a mask's last cycle that no row uses are stepped and discarded, so the
    registers run continuously: drawing ``a`` masks then ``b`` more (continuing the states)
    equals drawing ``a + b`` at once.
    """
    if spec.source != "lfsr" or spec.lfsr is None:
        raise LFSRError(f"dropout source must be 'lfsr' with an LFSR spec, got {spec.source!r}")
    units, masks = _count("units", units), _count("masks", masks)
    modules = spec.modules
    cycles = -(-units // modules)
    states = lfsr_streams(spec.lfsr.width, module_seeds(spec.lfsr, modules), masks * cycles)
    # (modules, masks * cycles) -> (masks, cycles, modules) -> row r = cycle * modules + module
    per_mask = states.reshape(modules, masks, cycles).transpose(1, 2, 0)
    u = per_mask.reshape(masks, cycles * modules)[:, :units]
    return u < drop_threshold(spec.p, spec.lfsr.width)


def rate_spikes(
    x: np.ndarray, bits: int, spec: LFSRSpec, samples: int, timesteps: int
) -> np.ndarray:
    """Rate-coded input spikes, uint8 ``(samples, N, timesteps, P)`` for pixels ``x`` ``(N, P)``.

    One input LFSR (``spec``) runs continuously from its seed. Its states are consumed image by
    image, within an image sample by sample, within a sample timestep by timestep, within a
    timestep pixel by pixel (``i = 0 .. P-1``, the C-order flattening of ``(C, H, W)``)::

        u = state after step ((n * samples + m) * timesteps + t) * P + i + 1
        s[m, n, t, i] = 1 if (u >> (width - bits)) < x[n, i] else 0

    ``x`` holds unsigned integers of ``bits`` bits and ``width >= bits``.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise LFSRError(f"rate_spikes needs pixels of shape (N, P), got {x.shape}")
    if spec.width < bits:
        raise LFSRError(f"LFSR width ({spec.width}) must be >= input bits ({bits})")
    samples, timesteps = _count("samples", samples), _count("timesteps", timesteps)
    n_img, n_pix = x.shape
    u = lfsr_states(spec, n_img * samples * timesteps * n_pix)
    u = (u >> (spec.width - bits)).reshape(n_img, samples, timesteps, n_pix)
    spikes = u < x.astype(np.int64)[:, None, None, :]
    return spikes.transpose(1, 0, 2, 3).astype(np.uint8)
