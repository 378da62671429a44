from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import torch

from spindrop.dropout import DropoutConfig
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.quant import quantize_weight


def _net(**kw) -> BayesianBinaryNet:
    dropout = kw.pop("dropout", DropoutConfig())
    return BayesianBinaryNet(ModelConfig(dropout=dropout, **kw), (1, 8, 8), 10, seed=3).eval()


def test_binary_mlp_is_heaviside_of_batchnorm_then_integer_readout():
    """Independent forward: integer matmuls, BN in eval, step at 0, alpha * integer sums."""
    net = _net(hidden=(32,))
    with torch.no_grad():
        for block in net.blocks[:-1]:
            block.norm.running_mean.uniform_(-3, 3)
            block.norm.running_var.uniform_(0.5, 4)
    x = torch.rand(6, 1, 8, 8)
    w1 = quantize_weight(net.blocks[0].layer.weight, 1)
    bn = net.blocks[0].norm
    z = x.flatten(1) @ w1.T
    s = (
        (z - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias > 0
    ).float()
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    w2 = quantize_weight(net.blocks[1].layer.weight, 1)
    expected = net.log_alpha.exp() * (s @ w2.T)
    torch.testing.assert_close(net(x), expected)
    # the readout's arg-max is that of integer column sums
    assert torch.equal(net(x).argmax(1), (s @ w2.T).argmax(1))


def test_spiking_mlp_matches_textbook_lif_with_subtractive_reset():
    """T > 1 against an independent loop of U = beta U + I - S_prev * theta, S = H(U - theta)."""
    net = _net(hidden=(16,), timesteps=4, beta=0.75)
    x = torch.rand(5, 1, 8, 8)
    bn = net.blocks[0].norm
    cur = bn(x.flatten(1) @ quantize_weight(net.blocks[0].layer.weight, 1).T)
    u = torch.zeros_like(cur)
    s = torch.zeros_like(cur)
    w2 = quantize_weight(net.blocks[1].layer.weight, 1)
    total = torch.zeros(5, 10)
    for _ in range(4):
        u = 0.75 * u + cur - s * 1.0
        s = (u > 1.0).float()
        total += s @ w2.T
    torch.testing.assert_close(net(x), net.log_alpha.exp() * total / 4)


def test_snntorch_leaky_is_the_neuron():
    net = _net(hidden=(8,), timesteps=2)
    assert all(isinstance(n, snn.Leaky) for n in net.neurons)


def test_cnn_shapes_and_rows():
    net = _net(arch="cnn", conv_channels=(4, 8), conv_strides=(1, 2), hidden=(16,))
    assert net(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    assert [b.layer.rows for b in net.blocks] == [9, 36, 8 * 4 * 4, 16]


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ("all", [True, True, True]),
        ("hidden", [False, True, True]),
        ("input", [True, False, False]),
        ("last", [False, False, True]),
    ],
)
def test_dropout_placement(placement, expected):
    net = _net(hidden=(16, 16), dropout=DropoutConfig(p=0.2, placement=placement))
    assert [b.dropout is not None for b in net.blocks] == expected


def test_channel_granularity_counts_channels_for_convolutions():
    net = _net(
        arch="cnn",
        conv_channels=(4, 8),
        conv_strides=(1, 2),
        hidden=(16,),
        dropout=DropoutConfig(p=0.3, placement="all", granularity="channel"),
    )
    assert [b.dropout.units for b in net.blocks] == [1, 4, 128, 16]
    x = torch.rand(3, 1, 8, 8)
    net.set_mc(True)
    records = net.record_masks()
    net(x)
    # a dropped channel of the second convolution zeroes all of its k*k rows,
    # which equals zeroing that input channel
    keep = torch.from_numpy(~records[1][0]).float()
    h = net._spike(net.blocks[0](x, torch.from_numpy(~records[0][0]).float()))
    z_channel = net.blocks[1].layer(h * keep[:, :, None, None])
    z_rows = net.blocks[1].layer(h, row_mask=keep.repeat_interleave(9, dim=1))
    torch.testing.assert_close(z_channel, z_rows)


def test_mc_masks_record_and_replay_exactly():
    net = _net(
        arch="cnn",
        conv_channels=(4, 8),
        conv_strides=(1, 2),
        hidden=(16,),
        timesteps=3,
        dropout=DropoutConfig(p=0.4, placement="all"),
    )
    x = torch.rand(7, 1, 8, 8)
    net.set_mc(True)
    records = net.record_masks()
    outs = [net(x) for _ in range(3)]
    assert not torch.equal(outs[0], outs[1])  # fresh masks per pass
    assert all(len(r) == 3 for r in records)
    twin = _net(
        arch="cnn",
        conv_channels=(4, 8),
        conv_strides=(1, 2),
        hidden=(16,),
        timesteps=3,
        dropout=DropoutConfig(p=0.4, placement="all"),
    )
    twin.load_state_dict(net.state_dict())
    twin.set_mc(True).replay_masks(records)
    for out in outs:
        torch.testing.assert_close(twin(x), out, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="replay exhausted"):
        twin(x)


def test_one_mask_held_over_all_timesteps():
    """Each pass draws exactly one mask per dropout layer, whatever T is."""
    net = _net(hidden=(16,), timesteps=5, dropout=DropoutConfig(p=0.5, placement="all"))
    net.set_mc(True)
    records = net.record_masks()
    net(torch.rand(4, 1, 8, 8))
    assert [len(r) for r in records] == [1, 1]
    assert records[0][0].shape == (4, 64)


def test_dropout_rate_of_masks_matches_p():
    net = _net(hidden=(64,), dropout=DropoutConfig(p=0.25, placement="all"))
    net.set_mc(True)
    records = net.record_masks()
    for _ in range(20):
        net(torch.rand(50, 1, 8, 8))
    rate = np.mean(np.concatenate(records[0]))
    n = 20 * 50 * 64
    assert abs(rate - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)


def test_no_dropout_in_plain_eval_mode():
    net = _net(hidden=(16,), dropout=DropoutConfig(p=0.5, placement="all"))
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"model\.arch must be one of"):
        ModelConfig(arch="rnn")
    with pytest.raises(ValueError, match="conv_strides has 1 entries"):
        ModelConfig(arch="cnn", conv_channels=(4, 8), conv_strides=(1,))
    with pytest.raises(ValueError, match=r"dropout.p must be in \[0, 1\)"):
        DropoutConfig(p=1.0)
    with pytest.raises(ValueError, match="granularity must be one of"):
        DropoutConfig(p=0.1, granularity="pixel")
    with pytest.raises(ValueError, match="does not match the model"):
        _net()(torch.rand(2, 1, 28, 28))


def test_frozen_layers_keep_their_random_weights():
    from spindrop.data import load_dataset
    from spindrop.training import TrainConfig, train

    data = load_dataset("digits", split="train").subset(np.arange(200))
    net = BayesianBinaryNet(ModelConfig(hidden=(32, 16), frozen_layers=(0,)), (1, 8, 8), 10, seed=1)
    before = [b.layer.weight.detach().clone() for b in net.blocks]
    train(net, data, TrainConfig(epochs=2), progress=False)
    assert torch.equal(net.blocks[0].layer.weight, before[0])
    assert not torch.equal(net.blocks[1].layer.weight, before[1])
    with pytest.raises(ValueError, match="the classifier always trains"):
        ModelConfig(hidden=(32,), frozen_layers=(1,))


def test_physical_modules_are_shared_across_rows():
    from hdl import Variation

    net = _net(hidden=(16,), dropout=DropoutConfig(p=0.3, placement="all", n_modules=4))
    banks = [d.source for d in net.dropout_layers()]
    assert [b.n_modules for b in banks] == [4, 4]
    assert banks[0].cycles_per_mask(64) == 16  # 64 rows served by 4 modules
    # with strong variation each module has its own probability, shared by rows r = m (mod 4)
    net.set_variation(Variation(sigma_ic0_rel=0.05), seed=3)
    bank = next(net.dropout_layers()).source
    assert np.ptp(bank.module_probabilities) > 0.05
    np.testing.assert_array_equal(bank.row_probabilities(8), np.tile(bank.module_probabilities, 2))
