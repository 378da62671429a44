"""Quantized weight layers with straight-through estimators (STE).

Latent real-valued weights ``w`` are kept for training; the forward pass uses their quantized
values ``w_q`` and the backward pass passes the gradient straight through (BinaryConnect /
BinaryNet, Courbariaux et al. 2016), cancelled where ``|w| > 1`` so latent weights cannot drift:

* ``weight_bits = 1``: ``w_q = sign(w)`` in {-1, +1} (``sign(0) = +1``), no scale; the batch-norm
  that follows every binary layer absorbs the magnitude (as in SpinDrop's BinaryNet training).
* ``weight_bits = k > 1``: symmetric k-bit integers ``q = clamp(round(w / s), -Q, Q)`` with
  ``Q = 2^(k-1) - 1`` and per-layer scale ``s = max|w| / Q``; ``w_q = s * q``.

The integer weights (what the crossbar cells hold) are available from :meth:`integer_weight`.
Convolutions can take a per-sample *row mask* over the unrolled ``C_in * k * k`` input rows:
exactly what gating the word lines of a crossbar does (SpinDrop row dropout).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["QuantConv2d", "QuantLinear", "quantize_weight"]


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class _IntSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w: Tensor, bits: int) -> Tensor:  # type: ignore[override]
        q_max = 2 ** (bits - 1) - 1
        scale = w.detach().abs().max().clamp_min(1e-8) / q_max
        ctx.save_for_backward(w)
        return torch.clamp(torch.round(w / scale), -q_max, q_max) * scale

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype), None


def quantize_weight(w: Tensor, bits: int) -> Tensor:
    """Quantize latent weights ``w`` to ``bits`` (1 = binary +-1), straight-through gradient."""
    if bits == 1:
        return _SignSTE.apply(w)
    return _IntSTE.apply(w, bits)


def _integer_weight(w: Tensor, bits: int) -> tuple[Tensor, float]:
    """Integer weights and the scale with ``w_q = scale * q`` (scale 1.0 for binary)."""
    w = w.detach()
    if bits == 1:
        return torch.where(w >= 0, 1, -1).to(torch.int64), 1.0
    q_max = 2 ** (bits - 1) - 1
    scale = float(w.abs().max().clamp_min(1e-8)) / q_max
    return torch.clamp(torch.round(w / scale), -q_max, q_max).to(torch.int64), scale


def _check_bits(bits: int) -> int:
    if not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"weight_bits must be an integer in 1..16 (1 = binary +-1), not {bits!r}")
    return bits


class _LatentWeights:
    """What every quantized layer adds to its torch parent: integer weights and clipping."""

    weight: nn.Parameter
    weight_bits: int

    def integer_weight(self) -> tuple[Tensor, float]:
        """``(q, scale)``: int64 weights of the layer's shape, with ``w_q = scale * q``."""
        return _integer_weight(self.weight, self.weight_bits)

    def clip_latent(self) -> None:
        """Keep latent weights in [-1, 1] (BinaryConnect)."""
        with torch.no_grad():
            self.weight.clamp_(-1.0, 1.0)


class QuantLinear(_LatentWeights, nn.Linear):
    """Linear layer ``y = x W_q^T`` with quantized weights (no bias: batch-norm follows)."""

    def __init__(self, in_features: int, out_features: int, weight_bits: int = 1) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.weight_bits = _check_bits(weight_bits)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, quantize_weight(self.weight, self.weight_bits))

    @property
    def rows(self) -> int:
        """Crossbar rows this layer drives: one per input feature."""
        return self.in_features


class QuantConv2d(_LatentWeights, nn.Conv2d):
    """2-D convolution with quantized weights (no bias), optionally gating unrolled input rows.

    With ``row_mask`` of shape ``(B, C_in * k * k)`` (1 keeps, 0 drops), the convolution is
    computed as the crossbar computes it: ``y[b, :, l] = W_q @ (m[b] * unfold(x)[b, :, l])``,
    the same rows dropped at every output position of sample ``b``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        weight_bits: int = 1,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.weight_bits = _check_bits(weight_bits)

    def forward(self, x: Tensor, row_mask: Tensor | None = None) -> Tensor:
        w = quantize_weight(self.weight, self.weight_bits)
        if row_mask is None:
            return F.conv2d(x, w, None, self.stride, self.padding)
        b, _, h, wd = x.shape
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        cols = F.unfold(x, k, padding=p, stride=s) * row_mask.unsqueeze(-1)
        h_out = (h + 2 * p - k) // s + 1
        w_out = (wd + 2 * p - k) // s + 1
        y = w.flatten(1) @ cols
        return y.view(b, self.out_channels, h_out, w_out)

    @property
    def rows(self) -> int:
        """Crossbar rows of the unrolled convolution: ``C_in * k * k``."""
        return self.in_channels * self.kernel_size[0] * self.kernel_size[1]
