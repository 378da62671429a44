from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spindrop.quant import QuantConv2d, QuantLinear, quantize_weight


def test_binary_weights_are_sign_with_sign0_positive():
    w = torch.tensor([-0.7, -0.0, 0.0, 0.2, 1.3])
    assert quantize_weight(w, 1).tolist() == [-1.0, 1.0, 1.0, 1.0, 1.0]


def test_binary_ste_passes_gradient_inside_unit_interval_only():
    w = torch.tensor([-1.5, -0.5, 0.5, 1.5], requires_grad=True)
    quantize_weight(w, 1).sum().backward()
    assert w.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_kbit_weights_are_scaled_symmetric_integers(bits):
    torch.manual_seed(0)
    layer = QuantLinear(20, 7, weight_bits=bits)
    q, scale = layer.integer_weight()
    q_max = 2 ** (bits - 1) - 1
    assert q.dtype == torch.int64
    assert int(q.abs().max()) == q_max  # the largest latent weight maps to the largest code
    assert scale == pytest.approx(float(layer.weight.detach().abs().max()) / q_max)
    x = torch.randn(3, 20)
    torch.testing.assert_close(layer(x), x @ (q.double() * scale).float().T, rtol=1e-5, atol=1e-5)


def test_binary_linear_uses_integer_weights():
    torch.manual_seed(1)
    layer = QuantLinear(10, 4)
    q, scale = layer.integer_weight()
    assert scale == 1.0 and set(q.unique().tolist()) <= {-1, 1}
    x = torch.rand(5, 10)
    torch.testing.assert_close(layer(x), x @ q.float().T)


def test_bad_bits_named():
    with pytest.raises(ValueError, match=r"weight_bits must be an integer in 1\.\.16"):
        QuantLinear(3, 3, weight_bits=0)


@pytest.mark.parametrize("stride", [1, 2])
def test_row_mask_conv_equals_conv_with_per_sample_masked_weights(stride):
    """Gating unrolled rows == a convolution whose weights lose those (c, ky, kx) entries."""
    torch.manual_seed(2)
    conv = QuantConv2d(3, 5, 3, stride=stride, padding=1)
    x = torch.rand(4, 3, 7, 7)
    mask = (torch.rand(4, 3 * 9) > 0.3).float()
    y = conv(x, row_mask=mask)
    w = quantize_weight(conv.weight, 1)
    for b in range(4):
        wb = w * mask[b].view(1, 3, 3, 3)
        ref = F.conv2d(x[b : b + 1], wb, None, stride, 1)
        torch.testing.assert_close(y[b : b + 1], ref)
    torch.testing.assert_close(conv(x, row_mask=torch.ones(4, 27)), conv(x))


def test_rows_count_crossbar_rows():
    assert QuantLinear(64, 10).rows == 64
    assert QuantConv2d(16, 32, 3).rows == 144
