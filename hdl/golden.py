"""The bit-exact integer golden model of a neurocim accelerator (numpy only).

It runs an :class:`hdl.ir.Network` exactly as docs/hardware-model.md defines, vectorised over
Monte-Carlo samples ``m``, images ``n`` and timesteps ``t``. Order of operations:

1. **Masks** (section 3). Every weighted edge with dropout gets a keep mask per (sample, image),
   ``(M, N, units)``, held for all ``T`` timesteps: given in ``masks``, else drawn (source
   ``lfsr``: :func:`hdl.lfsr.dropout_drop_bits` with the edge's index ``e`` among the ``E``
   edges with dropout, which places its modules' starts; source ``mtj`` with ``mtj_seed``:
   :class:`hdl.MTJDropoutBank`). Masks are drawn image by image, within an image sample by
   sample (drawing order ``q = n * M + m``), so a chip that classifies the images one after
   another, running each image's ``M`` samples back to back, reproduces them with free-running
   module LFSRs started at reset (one leap-forward draw of ``lfsr.width`` steps per cycle).
2. **Input** (section 2). ``direct``: bit-planes ``s_b = (x >> b) & 1``, ``b = 0 .. bits-1``,
   the same every timestep; with ``d = hw.input_dac_bits > 1`` (word-line DACs) digit-planes
   ``D_p = (x >> (p * d)) & (2**d - 1)``, ``p = 0 .. ceil(bits / d) - 1``; ``rate``:
   :func:`hdl.lfsr.rate_spikes` (same drawing order, then ``t``, then pixel; one draw per pixel
   from the input LFSR's seed).
3. **Layers in file order**, each over all ``(m, n, t)`` at once (the graph is feed-forward, so
   a layer's whole spike train is known before the next layer runs). Per weighted edge:
   rows ``r`` (``in_features``, or ``(c, ky, kx)`` of the im2col patch), gated
   ``s[r] <- s[r] * keep[r]``, cut into row tiles of ``R = hw.tile_rows``; weights split into
   ``W+ = max(W, 0)``, ``W- = max(-W, 0)`` and slices ``j`` of ``cell_bits`` bits::

       a±_kj[o] = Σ_{r in tile k} slice_j(W±[o, r]) * s[r]
       z[o]     = Σ_k Σ_j 2**(j * cell_bits) * (ADC(a+_kj[o]) - ADC(a-_kj[o])),
       ADC(a)   = clamp(a, 0, 2**adc_bits - 1)

   per input bit-plane, then ``z = Σ_b 2**b * z_b`` (direct-encoded input); with ``d``-bit
   drivers ``s`` is a digit-plane ``D_p`` (each row's digit ``0 .. 2**d - 1`` on its word line,
   the same ADC clamp of every column sum) and ``z = Σ_p 2**(p * d) * z_p``. A ``skip`` edge adds
   the source's values (spikes; ``x`` itself for a direct-encoded input), ``zero`` adds nothing.
   ``I = Σ_edges z + bias``.
4. **LIF** per timestep (hidden layers, and the output layer with decoding ``count``)::

       v <- leak(v) + I - S_prev * θ           (reset "subtract")
       v <- leak(v * (1 - S_prev)) + I         (reset "zero")
       v <- clamp(v, -2**(membrane_bits-1), 2**(membrane_bits-1) - 1)
       S <- [v >= θ]
       leak(v) = v - (v >> leak_shift)  (arithmetic shift), or v without leak

   with ``v = 0``, ``S_prev = 0`` at ``t = 0``.
5. **Output**: ``y = Σ_t I`` (decoding ``membrane``) or the spike count (``count``);
   prediction ``argmax_o Σ_m y_m[o]``, ties to the lowest index.

The golden model derives the crossbar geometry (rows, slices, tiles, mask units, positions:
:func:`edge_geometry`) itself, from the network and ``hw`` alone, and imports nothing of
:mod:`hdl.mapping`: it is a deliberate second derivation, so a mistake in the one the RTL, the
schedule and the cost model share shows up as a mismatch with it. Only the cell values (what
the macros are programmed with) come from :func:`hdl.cells.crossbar_cells`, the one definition
the RTL's macros also read; their shape is checked against this geometry.

The crossbar sums run as float32 matrix products: every product is an integer below
``2**cell_bits`` and a column sum is at most ``tile_rows * (2**cell_bits - 1) < 2**24``, so each
partial sum is an exactly representable integer and the result is exact. With digit inputs
(``input_dac_bits = d > 1``) a column sum is at most ``tile_rows * (2**cell_bits - 1) *
(2**d - 1)``; where that bound reaches ``2**24`` the sums run in float64 (exact below
``2**53``). Everything after the ADC is int64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdl.cells import crossbar_cells
from hdl.checks import check_int
from hdl.dropout_bank import MTJDropoutBank
from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig
from hdl.ir import Edge, Layer, Network
from hdl.lfsr import LFSRError, dropout_drop_bits, rate_spikes

__all__ = [
    "EdgeGeometry",
    "GoldenError",
    "GoldenResult",
    "edge_geometry",
    "lif",
    "quantize_input",
    "run",
]

_CHUNK_ELEMENTS = 1 << 22  # float32 elements per crossbar work chunk (16 MiB)


class GoldenError(NeurocimError, ValueError):
    """Inputs the golden model cannot run; the message names the problem and the fix."""


@dataclass
class GoldenResult:
    """What one :func:`run` computed.

    Attributes:
        outputs: ``(M, N, n_out)`` int64, ``y`` per Monte-Carlo sample and image: the
            accumulated ``Σ_t I`` of the output layer (decoding ``membrane``) or its spike
            counts (decoding ``count``); ``n_out`` is the flattened output shape.
        prediction: ``(N,)`` int64, ``argmax_o Σ_m y_m[o]``, ties to the lowest index.
        events: totals over all samples, images and timesteps (docs section 5):
            ``crossbar_reads``, ``adc_conversions``, ``lif_updates``, ``spikes``,
            ``dropout_samples``.
        spikes: with ``trace=True``: layer -> ``(M, N, T, *out_shape)`` uint8 output spikes of
            every layer with neurons.
        membranes: with ``trace=True``: layer -> ``(M, N, T, *out_shape)`` int64. For a layer
            with neurons, the membrane register after timestep ``t``'s update and saturation,
            i.e. the value compared with the threshold (a spike's reset is applied at ``t + 1``,
            so a neuron that fired still shows ``v >= θ`` here). For the output accumulator
            (decoding ``membrane``), the running sum ``Σ_{t' <= t} I[t']``.
        currents: with ``trace=True``: layer -> ``(M, N, T, *out_shape)`` int64, the summed
            input ``I = Σ_edges z + bias`` of each timestep.
        masks: the keep masks used, ``"layer.edge_index"`` -> ``(M, N, units)`` bool (True =
            row or channel kept); passing them back as ``masks`` replays the run exactly.
    """

    outputs: np.ndarray
    prediction: np.ndarray
    events: dict[str, int]
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    membranes: dict[str, np.ndarray] = field(default_factory=dict)
    currents: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class EdgeGeometry:
    """How a weighted edge sits on the crossbars (docs/hardware-model.md section 5).

    Attributes:
        rows: crossbar rows, ``in_features`` or ``C_in * k * k`` in ``(c, ky, kx)`` order.
        units: dropout mask units: ``rows`` (granularity row) or ``C_in`` (channel).
        positions: output positions per timestep, ``H_out * W_out`` (conv2d) or 1 (linear).
        slices: ``ceil(magnitude_bits / cell_bits)`` slices per polarity.
        phys_cols: ``2 * slices * C_out`` physical columns.
        row_tiles: ``ceil(rows / tile_rows)``.
        col_tiles: ``ceil(phys_cols / tile_cols)``.
    """

    rows: int
    units: int
    positions: int
    slices: int
    phys_cols: int
    row_tiles: int
    col_tiles: int


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def edge_geometry(edge: Edge, in_shape: tuple[int, ...], hw: HardwareConfig) -> EdgeGeometry:
    """The :class:`EdgeGeometry` of a validated weighted ``edge`` reading ``in_shape``.

    Written independently of :func:`hdl.mapping.map_network` on purpose (a cross-check).
    """
    c_out = edge.weight_shape[0]
    rows = int(np.prod(edge.weight_shape[1:]))
    if edge.kind == "conv2d":
        c_in, h, w = in_shape
        k, st, pad = edge.kernel, edge.stride, edge.padding
        positions = ((h + 2 * pad - k) // st + 1) * ((w + 2 * pad - k) // st + 1)
    else:
        c_in, positions = rows, 1
    units = rows
    if edge.dropout is not None and edge.dropout.granularity == "channel":
        units = c_in
    magnitude_bits = 1 if edge.weight_bits == 1 else edge.weight_bits - 1
    slices = _ceil_div(magnitude_bits, hw.cell_bits)
    phys_cols = 2 * slices * c_out
    return EdgeGeometry(
        rows=rows,
        units=units,
        positions=positions,
        slices=slices,
        phys_cols=phys_cols,
        row_tiles=_ceil_div(rows, hw.tile_rows),
        col_tiles=_ceil_div(phys_cols, hw.tile_cols),
    )


# --- inputs ------------------------------------------------------------------------------------


def quantize_input(values: np.ndarray, bits: int) -> np.ndarray:
    """``round(v * (2**bits - 1))`` as int64 for values ``v`` in [0, 1] (done off-chip).

    Rounds half to even (``numpy.round``, as ``torch.round``).
    """
    bits = check_int(bits, "input bits", 1, 16, error=GoldenError)
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) | (v < 0.0) | (v > 1.0)
    if np.any(bad):
        first = v[bad].flat[0]
        raise GoldenError(
            f"quantize_input needs values in [0, 1]; {int(bad.sum())} are outside or not finite "
            f"(first: {first!r}): scale the data to [0, 1] first"
        )
    return np.round(v * (2**bits - 1)).astype(np.int64)


def _check_x(net: Network, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    expected = (net.input.shape[0], net.input.shape[1], net.input.shape[2])
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise GoldenError(
            f"x must have shape (N, {', '.join(map(str, expected))}) (images, input.shape), "
            f"got {x.shape}"
        )
    top = 2**net.input.bits - 1
    if x.dtype.kind not in "iu":
        raise GoldenError(
            f"x must hold unsigned integers 0..{top} (input.bits {net.input.bits}), got dtype "
            f"{x.dtype}: convert values in [0, 1] with quantize_input(v, {net.input.bits})"
        )
    if x.size and (x.min() < 0 or x.max() > top):
        raise GoldenError(
            f"x must hold integers in 0..{top} (input.bits {net.input.bits}), got values in "
            f"{x.min()}..{x.max()}"
        )
    return x.astype(np.int64)


def _check_count(name: str, value: object, minimum: int) -> int:
    return check_int(value, name, minimum, error=GoldenError)


def _check_network(net: Network) -> Network:
    net = net.validate()
    if not net.has_weights:
        raise GoldenError(
            f"network {net.name!r} is an architecture and has no weights: export a trained "
            "network (spindrop.export) or load one with its weights.npz"
        )
    for layer in net.layers:
        if layer.neuron is not None and layer.neuron.threshold is None:
            raise GoldenError(
                f"layer {layer.name!r} has LIF neurons without thresholds: export a trained "
                "network with its thresholds"
            )
    return net


# --- dropout masks -----------------------------------------------------------------------------


def _dropout_edges(net: Network) -> list[tuple[str, Edge, tuple[int, ...]]]:
    """``(key, edge, source shape)`` of every edge with dropout, in file order."""
    return [
        (f"{layer.name}.{i}", edge, net.shape_of(edge.source))
        for layer in net.layers
        for i, edge in enumerate(layer.edges)
        if edge.weighted and edge.dropout is not None
    ]


def _as_keep(value: np.ndarray, key: str, shape: tuple[int, int, int]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape:
        raise GoldenError(
            f"masks[{key!r}] must have shape {shape} (samples, images, units), got {arr.shape}"
        )
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "iuf" or np.any((arr != 0) & (arr != 1)):
            raise GoldenError(f"masks[{key!r}] must be a keep mask of booleans or 0/1")
        arr = arr != 0
    return arr


def _draw_masks(
    net: Network,
    hw: HardwareConfig,
    samples: int,
    images: int,
    masks: dict[str, np.ndarray] | None,
    mtj_seed: int | None,
) -> dict[str, np.ndarray]:
    """Keep masks ``(M, N, units)`` of every edge with dropout (see step 1 of the module doc).

    ``e`` is the index of the edge among the ``E`` edges with dropout (file order). LFSR masks:
    :func:`hdl.lfsr.dropout_drop_bits` with ``edge = e``, ``edges = E`` (module starts spread
    along the sequence, clear of the input LFSR and of the other edges). MTJ masks drawn from
    ``mtj_seed`` use one :class:`MTJDropoutBank` per edge, seeded ``mtj_seed + e``.
    """
    given = dict(masks or {})
    edges = _dropout_edges(net)
    known = {key for key, _, _ in edges}
    unknown = sorted(set(given) - known)
    if unknown:
        raise GoldenError(
            f"masks given for {unknown}, which are not weighted edges with dropout; "
            f"the edges with dropout are {sorted(known)}"
        )
    out: dict[str, np.ndarray] = {}
    for ordinal, (key, edge, in_shape) in enumerate(edges):
        units = edge_geometry(edge, in_shape, hw).units
        spec = edge.dropout
        assert spec is not None
        if key in given:
            out[key] = _as_keep(given[key], key, (samples, images, units))
            continue
        if spec.source == "lfsr":
            try:
                drop = dropout_drop_bits(spec, units, images * samples, ordinal, len(edges))
            except LFSRError as err:
                raise GoldenError(f"edge {key}: {err}") from err
        elif mtj_seed is not None:
            bank = MTJDropoutBank(spec.p, spec.modules, seed=mtj_seed + ordinal)
            drop = bank.draw(images * samples, units)
        else:
            raise GoldenError(
                f"edge {key} has MTJ dropout: pass its keep masks as masks[{key!r}] of shape "
                f"({samples}, {images}, {units}) (e.g. recorded from the device model), or "
                "mtj_seed to draw them with hdl.MTJDropoutBank"
            )
        # drawing order q = n * samples + m  ->  (samples, images, units)
        out[key] = ~drop.reshape(images, samples, units).transpose(1, 0, 2)
    return out


# --- crossbar ----------------------------------------------------------------------------------


def _crossbar_weights(
    edge: Edge, hw: HardwareConfig, geo: EdgeGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Cell values per row tile and the shift-add coefficients.

    Returns ``cells`` int64 ``(row_tiles, tile_rows, phys_cols)``
    (:func:`hdl.cells.crossbar_cells`: columns ordered ``o``, then polarity ``+`` before ``-``,
    then slice ``j``) and ``coef`` int64 ``(C_out, 2, slices)`` = ``±2**(j * cell_bits)``.
    """
    c_out = edge.weight_shape[0]
    cells = crossbar_cells(edge, hw)
    if cells.shape != (geo.row_tiles, hw.tile_rows, geo.phys_cols):  # the cross-check
        raise GoldenError(
            f"crossbar cells {cells.shape} disagree with the golden geometry "
            f"{(geo.row_tiles, hw.tile_rows, geo.phys_cols)}"
        )
    shifts = np.arange(geo.slices, dtype=np.int64) * hw.cell_bits
    coef = np.left_shift(1, shifts)[None, None, :] * np.array([1, -1])[None, :, None]
    coef = np.broadcast_to(coef, (c_out, 2, geo.slices)).astype(np.int64)
    return cells, coef


def _sum_dtype(bound: int) -> type:
    """float32 when every partial sum is an integer below ``bound < 2**24`` (exact), else
    float64 (exact below ``2**53``)."""
    return np.float32 if bound < 2**24 else np.float64


def _tile_sums(
    rows: np.ndarray, cells: np.ndarray, coef: np.ndarray, hw: HardwareConfig
) -> np.ndarray:
    """``z`` int64 ``(B, C_out)`` for gated row values ``rows`` (``(B, rows)``, 0/1 or digits,
    in the float dtype of ``cells``, exact: :func:`_sum_dtype`).

    Per row tile: column sums, ADC clamp; then the tiles' codes are added and shift-added.
    """
    n_tiles, tile_rows, _ = cells.shape
    batch = rows.shape[0]
    padded = np.zeros((batch, n_tiles * tile_rows), dtype=cells.dtype)
    padded[:, : rows.shape[1]] = rows
    per_tile = padded.reshape(batch, n_tiles, tile_rows).transpose(1, 0, 2)
    a = np.matmul(per_tile, cells)  # (tiles, B, phys_cols), exact integers
    codes = np.clip(a, 0, hw.adc_max).astype(np.int64).sum(axis=0)  # (B, phys_cols)
    codes = codes.reshape(batch, *coef.shape)
    return np.einsum("bops,ops->bo", codes, coef)


def _saturation_free(cells: np.ndarray, hw: HardwareConfig, top: int = 1) -> bool:
    """True when no column sum can exceed the ADC range for any input of ``0 .. top`` per row
    (0/1 spikes and bit-planes: ``top = 1``; digit-planes: ``2**input_dac_bits - 1``).

    A column sum is at most ``top`` times the sum of its tile's cell values; if that is
    ``<= 2**adc_bits - 1`` for every tile and column, every ``ADC(a) = a`` and the shift-add of
    the slices equals the plain signed dot product ``W · s``, which is then computed directly
    (same integers, fewer operations).
    """
    return bool(int(cells.sum(axis=1).max(initial=0)) * top <= hw.adc_max)


def _signed_matrix(weight: np.ndarray, top: int = 1) -> np.ndarray:
    """``W`` as ``(rows, C_out)`` for inputs of ``0 .. top``, float32 when every ``top *
    Σ_r |W[o, r]| < 2**24`` (exact), else float64 (exact below ``2**53``)."""
    w = weight.reshape(weight.shape[0], -1).astype(np.int64)
    bound = int(np.abs(w).sum(axis=1).max(initial=0)) * top
    return np.ascontiguousarray(w.T, dtype=_sum_dtype(bound))


def _im2col(s: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """``(L, H_out * W_out, C * k * k)`` patches of ``s`` ``(L, C, H, W)``, zero outside."""
    if padding:
        s = np.pad(s, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(s, (kernel, kernel), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (L, C, H_out, W_out, k, k)
    lead, c, h_out, w_out = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(lead, h_out * w_out, c * kernel * kernel)


def _weighted_current(
    edge: Edge,
    values: np.ndarray,
    keep: np.ndarray | None,
    out_shape: tuple[int, ...],
    hw: HardwareConfig,
    top: int = 1,
) -> np.ndarray:
    """Current ``z`` int64 ``(L, *out_shape)`` of a weighted edge for inputs ``0 .. top``.

    ``values``: ``(L, *source_shape)`` spikes or one bit-plane (``top = 1``), or one
    digit-plane of ``input_dac_bits = d`` bits (``top = 2**d - 1``); ``keep``: ``(L, units)``
    bool or None.
    """
    in_shape = values.shape[1:]
    geo = edge_geometry(edge, in_shape, hw)
    assert edge.weight is not None
    cells, coef = _crossbar_weights(edge, hw, geo)
    if _saturation_free(cells, hw, top):
        signed = _signed_matrix(edge.weight, top)
        dtype = signed.dtype

        def kernel(flat: np.ndarray) -> np.ndarray:
            return np.matmul(flat, signed).astype(np.int64)

    else:
        cell_max = int(cells.max(initial=0))
        cells = cells.astype(_sum_dtype(hw.tile_rows * cell_max * top))
        dtype = cells.dtype

        def kernel(flat: np.ndarray) -> np.ndarray:
            return _tile_sums(flat, cells, coef, hw)

    lead = values.shape[0]
    row_keep = None
    if keep is not None:
        row_keep = keep
        if geo.units != geo.rows:  # channel granularity: a channel's k*k rows share its bit
            row_keep = np.repeat(keep, edge.kernel * edge.kernel, axis=1)
    width = max(geo.row_tiles * hw.tile_rows, geo.row_tiles * geo.phys_cols)
    chunk = max(1, _CHUNK_ELEMENTS // (geo.positions * width))
    out = np.empty((lead, geo.positions, edge.weight_shape[0]), dtype=np.int64)
    for start in range(0, lead, chunk):
        stop = min(lead, start + chunk)
        part = values[start:stop].astype(dtype)
        if edge.kind == "conv2d":
            rows = _im2col(part, edge.kernel, edge.stride, edge.padding)
        else:
            rows = part.reshape(stop - start, 1, geo.rows)
        if row_keep is not None:
            rows = rows * row_keep[start:stop, None, :]
        flat = rows.reshape(-1, geo.rows)
        out[start:stop] = kernel(flat).reshape(stop - start, geo.positions, -1)
    if edge.kind == "conv2d":  # (L, H*W, C) -> (L, C, H, W)
        return out.transpose(0, 2, 1).reshape(lead, *out_shape)
    return out.reshape(lead, *out_shape)


def _digit_planes(x: np.ndarray, bits: int, d: int) -> np.ndarray:
    """``(N, P, C, H, W)`` uint8 planes ``D_p = (x >> (p * d)) & (2**d - 1)``,
    ``P = ceil(bits / d)`` (the bit-planes ``(x >> b) & 1`` for ``d = 1``)."""
    planes = -(-bits // d)
    shifts = (np.arange(planes, dtype=np.int64) * d).reshape(1, planes, 1, 1, 1)
    return ((x[:, None] >> shifts) & (2**d - 1)).astype(np.uint8)


def _direct_input_current(
    edge: Edge,
    x: np.ndarray,
    keep: np.ndarray | None,
    out_shape: tuple[int, ...],
    bits: int,
    hw: HardwareConfig,
) -> np.ndarray:
    """``Σ_p 2**(p * d) z(D_p)`` of a weighted edge reading the direct-encoded input over its
    digit-planes (``d = hw.input_dac_bits``; the bit-planes ``Σ_b 2**b z(s_b)`` for ``d = 1``).

    Returns ``(1, N, 1, *out_shape)`` without dropout, ``(M, N, 1, *out_shape)`` with it
    (the current is the same every timestep).
    """
    d = hw.input_dac_bits
    planes = _digit_planes(x, bits, d)  # (N, P, C, H, W)
    n, p = x.shape[0], planes.shape[1]
    lead = 1 if keep is None else keep.shape[0]
    values = np.broadcast_to(planes[None], (lead, *planes.shape))
    values = values.reshape(lead * n * p, *x.shape[1:])
    flat_keep = None
    if keep is not None:
        flat_keep = np.broadcast_to(keep[:, :, None, :], (lead, n, p, keep.shape[-1]))
        flat_keep = flat_keep.reshape(lead * n * p, -1)
    top = 2 ** min(d, bits) - 1  # the largest digit
    z = _weighted_current(edge, values, flat_keep, out_shape, hw, top=top)
    z = z.reshape(lead, n, p, *out_shape)
    weights = np.left_shift(1, np.arange(p, dtype=np.int64) * d).reshape(
        1, 1, p, *([1] * len(out_shape))
    )
    return (z * weights).sum(axis=2)[:, :, None]


def _spike_current(
    edge: Edge,
    spikes: np.ndarray,
    keep: np.ndarray | None,
    out_shape: tuple[int, ...],
    hw: HardwareConfig,
) -> np.ndarray:
    """Current ``(M, N, T, *out_shape)`` of a weighted edge reading spikes ``(M, N, T, ...)``."""
    m, n, t = spikes.shape[:3]
    flat_keep = None
    if keep is not None:
        flat_keep = np.broadcast_to(keep[:, :, None, :], (m, n, t, keep.shape[-1]))
        flat_keep = flat_keep.reshape(m * n * t, -1)
    z = _weighted_current(
        edge, spikes.reshape(m * n * t, *spikes.shape[3:]), flat_keep, out_shape, hw
    )
    return z.reshape(m, n, t, *out_shape)


# --- neurons -----------------------------------------------------------------------------------


def _per_channel(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per-channel ``values`` ``(C,)`` shaped to broadcast over ``(C, ...)``."""
    return np.asarray(values, dtype=np.int64).reshape(shape[0], *([1] * (len(shape) - 1)))


def lif(
    current: np.ndarray,
    threshold: np.ndarray,
    leak_shift: int | None,
    reset: str,
    membrane_bits: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Integer LIF neurons over the timestep axis 2 of ``current`` ``(M, N, T, *shape)``.

    ``threshold`` broadcasts over ``shape``. Returns spikes uint8 and membranes int64 (after the
    update and saturation of each timestep), both shaped like ``current``; see the module doc
    (step 4) for the update.
    """
    lo, hi = -(2 ** (membrane_bits - 1)), 2 ** (membrane_bits - 1) - 1
    steps = current.shape[2]
    v = np.zeros(current.shape[:2] + current.shape[3:], dtype=np.int64)
    s = np.zeros_like(v)
    spikes = np.empty(current.shape, dtype=np.uint8)
    membranes = np.empty(current.shape, dtype=np.int64)
    for t in range(steps):
        if reset == "zero":
            v = v * (1 - s)
        if leak_shift is not None:
            v = v - (v >> leak_shift)
        v = v + current[:, :, t]
        if reset == "subtract":
            v = v - s * threshold
        v = np.clip(v, lo, hi)
        s = (v >= threshold).astype(np.int64)
        spikes[:, :, t] = s
        membranes[:, :, t] = v
    return spikes, membranes


# --- events ------------------------------------------------------------------------------------


def _static_events(net: Network, hw: HardwareConfig, samples: int, images: int) -> dict[str, int]:
    """Crossbar reads, ADC conversions, LIF updates and dropout samples (section 5)."""
    per_step_reads = per_step_adc = lif_updates = mask_units = 0
    for layer in net.layers:
        if layer.neuron is not None:
            lif_updates += int(np.prod(layer.out_shape))
        for edge in layer.edges:
            if not edge.weighted:
                continue
            geo = edge_geometry(edge, net.shape_of(edge.source), hw)
            direct = edge.source == "input" and net.input.encoding == "direct"
            planes = hw.input_planes(net.input.bits) if direct else 1
            per_step_reads += planes * geo.positions * geo.row_tiles * geo.col_tiles
            per_step_adc += planes * geo.positions * geo.row_tiles * geo.phys_cols
            if edge.dropout is not None:
                mask_units += geo.units
    runs = samples * images
    return {
        "crossbar_reads": runs * net.timesteps * per_step_reads,
        "adc_conversions": runs * net.timesteps * per_step_adc,
        "lif_updates": runs * net.timesteps * lif_updates,
        "spikes": 0,
        "dropout_samples": runs * mask_units,
    }


# --- the run -----------------------------------------------------------------------------------


def _layer_current(
    net: Network,
    layer: Layer,
    values: dict[str, np.ndarray],
    x: np.ndarray,
    keeps: dict[str, np.ndarray],
    hw: HardwareConfig,
    samples: int,
) -> np.ndarray:
    """``I = Σ_edges z + bias``, int64 ``(M, N, T, *out_shape)``."""
    n, steps = x.shape[0], net.timesteps
    current = np.zeros((samples, n, steps, *layer.out_shape), dtype=np.int64)
    for i, edge in enumerate(layer.edges):
        keep = keeps.get(f"{layer.name}.{i}")
        direct = edge.source == "input" and net.input.encoding == "direct"
        if edge.kind == "zero":
            continue
        if edge.kind == "skip":
            src = x[None, :, None] if direct else values[edge.source]
            current += src.reshape(src.shape[:3] + layer.out_shape)
        elif direct:
            current += _direct_input_current(edge, x, keep, layer.out_shape, net.input.bits, hw)
        else:
            current += _spike_current(edge, values[edge.source], keep, layer.out_shape, hw)
    if layer.bias is not None:
        current += _per_channel(layer.bias, layer.out_shape)
    return current


def run(
    net: Network,
    x: np.ndarray,
    hw: HardwareConfig = HardwareConfig(),  # noqa: B008 (frozen, immutable default)
    samples: int = 1,
    masks: dict[str, np.ndarray] | None = None,
    mtj_seed: int | None = None,
    trace: bool = False,
) -> GoldenResult:
    """Run ``net`` on images ``x`` bit-exactly as the chip does (see the module doc).

    Args:
        net: a network with weights and thresholds (validated here).
        x: ``(N, C, H, W)`` unsigned integers ``< 2**input.bits`` (see :func:`quantize_input`).
        hw: the crossbar tiles, cells and ADCs.
        samples: Monte-Carlo samples ``M``.
        masks: keep masks ``"layer.i"`` -> ``(M, N, units)`` for weighted edges with dropout;
            required for source ``mtj`` unless ``mtj_seed`` is given; optional for ``lfsr``.
        mtj_seed: draw missing MTJ masks with ``MTJDropoutBank(p, modules, seed=mtj_seed + e)``.
        trace: also return per-layer spikes, membranes and currents per timestep.
    """
    if not isinstance(hw, HardwareConfig):
        raise GoldenError(f"hw must be an hdl.hwconfig.HardwareConfig, got {type(hw).__name__}")
    net = _check_network(net)
    x = _check_x(net, x)
    samples = _check_count("samples", samples, 1)
    if mtj_seed is not None:
        mtj_seed = _check_count("mtj_seed", mtj_seed, 0)
    n = x.shape[0]
    keeps = _draw_masks(net, hw, samples, n, masks, mtj_seed)
    values: dict[str, np.ndarray] = {}
    if net.input.encoding == "rate":
        assert net.input.lfsr is not None
        flat = rate_spikes(x.reshape(n, -1), net.input.bits, net.input.lfsr, samples, net.timesteps)
        values["input"] = flat.reshape(samples, n, net.timesteps, *net.input.shape)
    events = _static_events(net, hw, samples, n)
    result = GoldenResult(
        outputs=np.empty(0, dtype=np.int64),
        prediction=np.empty(0, dtype=np.int64),
        events=events,
        masks=keeps,
    )
    for layer in net.layers:
        current = _layer_current(net, layer, values, x, keeps, hw, samples)
        if trace:
            result.currents[layer.name] = current
        if layer.neuron is None:  # the output accumulator (decoding "membrane")
            if trace:
                result.membranes[layer.name] = np.cumsum(current, axis=2)
            y = current.sum(axis=2)
            continue
        nr = layer.neuron
        assert nr.threshold is not None
        theta = _per_channel(nr.threshold, layer.out_shape)
        spikes, membranes = lif(current, theta, nr.leak_shift, nr.reset, nr.membrane_bits)
        events["spikes"] += int(spikes.sum(dtype=np.int64))
        values[layer.name] = spikes
        if trace:
            result.spikes[layer.name] = spikes
            result.membranes[layer.name] = membranes
        y = spikes.sum(axis=2, dtype=np.int64)
    result.outputs = y.reshape(samples, n, -1)
    result.prediction = result.outputs.sum(axis=0).argmax(axis=1).astype(np.int64)
    return result
