"""The quantized torch model: an :class:`hdl.ir.Network` run in torch with integer semantics.

This is the second, independent implementation of docs/hardware-model.md (the first is the
numpy golden model, :mod:`hdl.golden`): torch convolutions and matrix products on integer values
(carried exactly in float64, |values| < 2**53, then int64), LIF neurons in int64. Crossbar
tiling, bit-slicing and ADCs are invisible here: it computes the exact integer currents, which is
what the chip computes whenever no ADC saturates (the default hardware cannot saturate with
binary cells: a 128-row column sum is at most 128 < 2**8). This holds for any
``HardwareConfig.input_dac_bits = d``: the digit-planes ``D_p = (x >> (p*d)) & (2**d - 1)`` of a
pixel recombine to ``Σ_p 2**(p*d) D_p = x`` exactly, so only saturation separates the chip from
``Σ w·x``; but with ``d > 1`` a column sum can reach ``rows * (2**cell_bits - 1) * (2**d - 1)``
(e.g. 128 rows of binary cells and 2-bit digits: 384 > 255), so check
:func:`hdl.mapping.map_network`'s notes ("saturation possible") before relying on this model.
Input encoding ``direct`` only.

Semantics per timestep (docs/hardware-model.md section 2): ``I = Σ_edges z + bias``;
``v ← leak(v) + I - S_prev · θ`` (reset subtract) or ``v ← leak(v · (1 - S_prev)) + I`` (zero),
``leak(v) = v - (v >> s)``; ``v`` saturates at ``membrane_bits``; ``S = [v >= θ]``. The output
layer accumulates ``Σ_t I`` (decoding ``membrane``) or counts spikes (``count``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hdl.ir import Edge, Layer, Network

__all__ = ["IntegerResult", "run_integer"]


@dataclass
class IntegerResult:
    """Outputs ``(M, N, n_out)`` and, per layer, spikes ``(M, N, T, *shape)``."""

    outputs: np.ndarray
    spikes: dict[str, np.ndarray]

    @property
    def prediction(self) -> np.ndarray:
        """Class per image: arg-max of the sum over samples, ties to the lowest index."""
        return self.outputs.sum(axis=0).argmax(axis=1)


def _edge_current(edge: Edge, s: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Integer current of one edge for inputs ``s`` (float64 carrying integers), batch first."""
    if edge.kind == "zero":
        return None  # type: ignore[return-value]
    if edge.kind == "skip":
        return s
    w = torch.from_numpy(edge.weight.astype(np.float64))
    if edge.kind == "linear":
        flat = s.flatten(1)
        if keep is not None:
            flat = flat * keep
        return flat @ w.T
    k, st, pad = edge.kernel, edge.stride, edge.padding
    if keep is None:
        return F.conv2d(s, w, None, st, pad)
    if keep.shape[1] == w.shape[1] and w.shape[1] * k * k != w.shape[1]:
        return F.conv2d(s * keep[:, :, None, None], w, None, st, pad)  # channel granularity
    n, _, h, wd = s.shape
    cols = F.unfold(s, k, padding=pad, stride=st) * keep.unsqueeze(-1)
    h_out = (h + 2 * pad - k) // st + 1
    w_out = (wd + 2 * pad - k) // st + 1
    return (w.flatten(1) @ cols).view(n, w.shape[0], h_out, w_out)


def _keep_for(edge: Edge, key: str, masks: dict, sample: int) -> torch.Tensor | None:
    if edge.dropout is None:
        return None
    if key not in masks:
        raise ValueError(
            f"edge {key} has dropout but no keep mask was given: pass masks[{key!r}] of shape "
            "(samples, images, units)"
        )
    return torch.from_numpy(np.asarray(masks[key][sample], dtype=np.float64))


def _per_channel(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy(values.astype(np.int64))
    return t.view(1, -1, *([1] * (like.dim() - 2)))


def _lif_step(layer: Layer, v: torch.Tensor, s_prev: torch.Tensor, current: torch.Tensor):
    neuron = layer.neuron
    theta = _per_channel(neuron.threshold, v)
    if neuron.reset == "zero":
        v = v * (1 - s_prev)
    if neuron.leak_shift is not None:
        v = v - torch.bitwise_right_shift(v, neuron.leak_shift)
    v = v + current
    if neuron.reset == "subtract":
        v = v - s_prev * theta
    lo, hi = -(2 ** (neuron.membrane_bits - 1)), 2 ** (neuron.membrane_bits - 1) - 1
    v = v.clamp(lo, hi)
    return v, (v >= theta).to(torch.int64)


def run_integer(
    net: Network, x: np.ndarray, samples: int = 1, masks: dict[str, np.ndarray] | None = None
) -> IntegerResult:
    """Run ``net`` on integer inputs ``x`` (N, C, H, W) for ``samples`` Monte-Carlo samples.

    ``masks["layer.i"]`` is the keep mask (samples, N, units) of edge ``i`` of ``layer``.
    """
    if not net.has_weights:
        raise ValueError("an architecture has no weights: export a trained network first")
    if net.input.encoding != "direct":
        raise ValueError(
            "the quantized torch model runs direct-encoded inputs; use hdl.golden for rate coding"
        )
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != net.input.shape:
        raise ValueError(f"inputs must have shape (N, {net.input.shape}), got {x.shape}")
    if x.min() < 0 or x.max() >= 2**net.input.bits:
        raise ValueError(f"inputs must be integers in 0..{2**net.input.bits - 1} (input.bits)")
    masks = masks or {}
    n, t_steps = x.shape[0], net.timesteps
    inputs = torch.from_numpy(x.astype(np.float64))
    outputs = []
    spikes: dict[str, list] = {layer.name: [] for layer in net.layers if layer.neuron is not None}
    with torch.no_grad():
        for m in range(samples):
            keeps = {
                f"{layer.name}.{i}": _keep_for(e, f"{layer.name}.{i}", masks, m)
                for layer in net.layers
                for i, e in enumerate(layer.edges)
            }
            state: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
            out_acc = torch.zeros(n, net.output.channels, dtype=torch.int64)
            per_t: dict[str, list] = {name: [] for name in spikes}
            for _ in range(t_steps):
                values = {"input": inputs}
                for layer in net.layers:
                    current = torch.zeros(n, *layer.out_shape, dtype=torch.int64)
                    for i, edge in enumerate(layer.edges):
                        z = _edge_current(edge, values[edge.source], keeps[f"{layer.name}.{i}"])
                        if z is not None:
                            current = current + z.reshape(n, *layer.out_shape).round().to(
                                torch.int64
                            )
                    if layer.bias is not None:
                        current = current + _per_channel(layer.bias, current)
                    if layer.neuron is None:
                        out_acc += current
                        continue
                    v, s_prev = state.get(
                        layer.name, (torch.zeros_like(current), torch.zeros_like(current))
                    )
                    v, s = _lif_step(layer, v, s_prev, current)
                    state[layer.name] = (v, s)
                    per_t[layer.name].append(s.to(torch.uint8).numpy())
                    values[layer.name] = s.to(torch.float64)
                    if layer is net.output:
                        out_acc += s
            outputs.append(out_acc.numpy())
            for name, seq in per_t.items():
                spikes[name].append(np.stack(seq, axis=1))
    return IntegerResult(
        outputs=np.stack(outputs).astype(np.int64),
        spikes={name: np.stack(seq) for name, seq in spikes.items()},
    )
