"""nas.score: SNASNet's kernel against hand computations, its forms, and the baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hdl.errors import NeurocimError
from nas.score import (
    ScoreConfig,
    ScoreError,
    hamming_kernel,
    kernel_score,
    layer_kernel,
    naswot_kernel,
    param_count,
    snasnet_score,
    traces_for,
    weight_memory_bits,
    zico,
)
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.quant import quantize_weight

# three samples of four neurons; rates 0.75, 0.25, 0.5
X = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=float)


def _hand_kernel(count: bool) -> np.ndarray:
    """Worked by hand: H01 = 2, H02 = H12 = 3; e01 = .75*.75 + .25*.25 = .625, e02 = e12 = .5;
    diagonal H = 0 so K_ii = N = 4."""
    n = 4.0 if count else 1.0
    k01 = 4 - 0.5 * 2 / (n * 0.625 + 1e-3)
    k02 = 4 - 0.5 * 3 / (n * 0.5 + 1e-3)
    return np.array([[4, k01, k02], [k01, 4, k02], [k02, k02, 4]])


def _det3(m: np.ndarray) -> float:
    a, b, c = m[0]
    d, e, f = m[1]
    g, h, i = m[2]
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _net(seed: int = 0, **kw) -> BayesianBinaryNet:
    return BayesianBinaryNet(ModelConfig(**kw), (1, 8, 8), 10, seed=seed)


def _images(n: int = 96, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


SMALL = {"batch_size": 32, "repeats": 2}


@pytest.mark.parametrize("count", [False, True])
def test_layer_kernel_matches_hand_computation(count):
    k = layer_kernel(X, expected="count" if count else "rate")
    np.testing.assert_allclose(k, _hand_kernel(count), rtol=1e-12)


def test_score_is_log_abs_det_of_the_mean_over_layers_and_timesteps():
    # two layers: the hand example at T = 1, and a layer whose two timesteps are all-silent
    # (H = 0, E = 0: every entry is N = 2)
    traces = {"a": X[None], "b": np.zeros((2, 3, 2))}
    k, count = hamming_kernel(traces)
    assert count == 3
    expected = (_hand_kernel(False) + 2 * np.full((3, 3), 2.0)) / 3
    np.testing.assert_allclose(k / count, expected, rtol=1e-12)
    assert kernel_score(traces) == pytest.approx(np.log(abs(_det3(expected))), rel=1e-12)


def test_naswot_kernel_is_n_minus_hamming():
    np.testing.assert_array_equal(naswot_kernel({"a": X[None]}), [[4, 2, 1], [2, 4, 1], [1, 1, 4]])


def test_permuting_samples_permutes_the_kernel():
    rng = np.random.default_rng(1)
    traces = {"a": rng.random((3, 10, 20)) < 0.3, "b": rng.random((3, 10, 2, 4, 4)) < 0.6}
    perm = rng.permutation(10)
    k, _ = hamming_kernel(traces)
    kp, _ = hamming_kernel({n: t[:, perm] for n, t in traces.items()})
    np.testing.assert_allclose(kp, k[np.ix_(perm, perm)], rtol=1e-12)
    assert kernel_score(traces) == pytest.approx(
        kernel_score({n: t[:, perm] for n, t in traces.items()}), rel=1e-9
    )


def test_identical_patterns_give_a_singular_kernel():
    rng = np.random.default_rng(2)
    pattern = rng.random((2, 1, 30)) < 0.4
    same = {"a": np.repeat(pattern, 8, axis=1)}
    varied = {"a": rng.random((2, 8, 30)) < 0.4}
    assert kernel_score(same) < -30 or kernel_score(same) == -np.inf
    assert np.isfinite(kernel_score(varied))
    assert kernel_score(varied) > kernel_score(same) + 30


def test_kernel_rejects_bad_shapes():
    with pytest.raises(ScoreError):
        layer_kernel(np.zeros(5))
    with pytest.raises(ScoreError):
        kernel_score({})
    with pytest.raises(ScoreError):
        kernel_score({"a": np.zeros((1, 4, 3)), "b": np.zeros((1, 5, 3))})
    with pytest.raises(NeurocimError):
        layer_kernel(X, expected="bits")


def test_spike_trace_shapes_and_binary_values():
    x = _images(5)
    t1 = _net(hidden=(16, 8)).eval().spike_trace(x)
    assert {k: tuple(v.shape) for k, v in t1.items()} == {"block0": (1, 5, 16), "block1": (1, 5, 8)}
    t3 = _net(arch="cnn", conv_channels=(4,), conv_strides=(2,), hidden=(8,), timesteps=3)
    tr = t3.eval().spike_trace(x)
    assert {k: tuple(v.shape) for k, v in tr.items()} == {
        "block0": (3, 5, 4, 4, 4),
        "block1": (3, 5, 8),
    }
    for v in (*t1.values(), *tr.values()):
        assert set(v.unique().tolist()) <= {0.0, 1.0}


def test_spike_trace_of_binary_mlp_is_heaviside_of_batchnorm():
    net = _net(hidden=(12,)).eval()
    with torch.no_grad():
        net.blocks[0].norm.running_mean.uniform_(-2, 2)
    x = _images(7)
    bn = net.blocks[0].norm
    z = x.flatten(1) @ quantize_weight(net.blocks[0].layer.weight, 1).T
    s = ((z - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias) > 0
    torch.testing.assert_close(net.spike_trace(x)["block0"][0], s.float())


def test_spike_trace_carry_starts_from_the_previous_membranes():
    net = _net(hidden=(32,), timesteps=3).eval()
    a, b = _images(16, 1), _images(16, 2)
    fresh = net.spike_trace(b)["block0"]
    net.spike_trace(a)
    carried = net.spike_trace(b, carry=True)["block0"]
    assert not torch.equal(fresh, carried)
    assert torch.equal(net.spike_trace(b)["block0"], fresh)


def test_carry_state_changes_only_the_second_batch():
    net = _net(hidden=(32,), timesteps=3)
    images = _images()
    reset = traces_for(net, images, ScoreConfig(**SMALL, bn="eval"))
    carry = traces_for(net, images, ScoreConfig(**SMALL, bn="eval", carry_state=True))
    assert torch.equal(reset[0]["block0"], carry[0]["block0"])
    assert not torch.equal(reset[1]["block0"], carry[1]["block0"])


def test_project_form_is_deterministic_for_a_seed():
    images = _images()
    config = ScoreConfig.of("project", **SMALL, seed=5)
    net = _net(hidden=(48, 24), timesteps=3, weight_bits=2)
    first = snasnet_score(net, images, config)
    again = snasnet_score(_net(hidden=(48, 24), timesteps=3, weight_bits=2), images, config)
    assert first == again  # bit for bit
    other = snasnet_score(net, images, ScoreConfig.of("project", **SMALL, seed=6))
    assert other.batch_scores != first.batch_scores


def test_eval_mode_scores_each_sample_alone_train_mode_does_not():
    """Eval-mode BN (the project form): a sample's spikes do not depend on its batch;
    train-mode BN (SNASNet) normalises with the batch's statistics, so they do."""
    net = _net(hidden=(32,))
    images = _images()
    net.eval()
    assert torch.equal(
        net.spike_trace(images[:32])["block0"][0, :16], net.spike_trace(images[:16])["block0"][0]
    )
    net.train()
    assert not torch.equal(
        net.spike_trace(images[:32])["block0"][0, :16], net.spike_trace(images[:16])["block0"][0]
    )


def test_score_restores_the_model():
    net = _net(hidden=(16,), timesteps=2).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for form in ("snasnet", "project"):
        snasnet_score(net, _images(), ScoreConfig.of(form, **SMALL, seed=0))
    assert not net.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize(
    "kw",
    [
        {"hidden": (64,)},
        {"hidden": (64, 32), "timesteps": 3},
        {"arch": "cnn", "conv_channels": (4, 8), "conv_strides": (1, 2), "hidden": (32,)},
        {"arch": "cnn", "conv_channels": (4,), "conv_strides": (2,), "timesteps": 3},
    ],
)
@pytest.mark.parametrize("form", ["snasnet", "project"])
def test_score_runs_on_mlps_and_cnns(kw, form):
    result = snasnet_score(_net(**kw), _images(), ScoreConfig.of(form, **SMALL, seed=0))
    assert np.isfinite(result.score)
    assert len(result.batch_scores) == 2
    assert 0.0 < result.firing_rate < 1.0


def test_score_errors():
    with pytest.raises(ScoreError, match="spike_trace"):
        snasnet_score(nn.Linear(4, 2), _images(), ScoreConfig(**SMALL))
    with pytest.raises(ScoreError, match="exceeds"):
        snasnet_score(_net(), _images(10), ScoreConfig(batch_size=32))

    class NoCarry(nn.Module):
        def spike_trace(self, x):
            return {"a": (x.flatten(1)[None] > 0.5).float()}

    with pytest.raises(ScoreError, match="carry"):
        traces_for(NoCarry(), _images(), ScoreConfig(**SMALL, carry_state=True, bn="eval"))
    with pytest.raises(ScoreError):
        ScoreConfig(bn="frozen")
    with pytest.raises(ScoreError):
        ScoreConfig.of("naswot")


def test_parameter_count_by_hand():
    mlp = _net(hidden=(32,), weight_bits=4)
    assert param_count(mlp) == 64 * 32 + 32 * 10
    assert weight_memory_bits(mlp) == 4 * (64 * 32 + 32 * 10)
    cnn = _net(arch="cnn", conv_channels=(4,), conv_strides=(1,), hidden=(16,))
    assert param_count(cnn) == 1 * 4 * 9 + 4 * 8 * 8 * 16 + 16 * 10
    assert weight_memory_bits(cnn) == param_count(cnn)


def test_zico_matches_an_independent_computation_and_restores_the_model():
    net = _net(hidden=(16,), timesteps=2)
    images, labels = _images(), torch.randint(0, 10, (96,), generator=torch.Generator())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    value = zico(net, images, labels, batches=3, batch_size=16, seed=4)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in net.parameters())
    # independent: per-batch gradients with torch.autograd.grad, ZiCo's formula per layer
    rng = np.random.default_rng(4)
    batches = [rng.permutation(96)[:16] for _ in range(3)]
    weights = [net.blocks[0].layer.weight, net.blocks[1].layer.weight]
    per_layer = [[], []]
    net.train()
    for index in batches:
        idx = torch.from_numpy(index)
        loss = nn.functional.cross_entropy(net(images[idx]), labels[idx])
        for store, g in zip(per_layer, torch.autograd.grad(loss, weights), strict=True):
            store.append(g.flatten().double())
    net.load_state_dict(before)
    expected = 0.0
    for store in per_layer:
        g = torch.stack(store)
        std = g.std(0, unbiased=False)
        keep = std > 0
        expected += float(torch.log((g.abs().mean(0)[keep] / std[keep]).sum()))
    assert value == pytest.approx(expected, rel=1e-9)
    assert value == zico(net, images, labels, batches=3, batch_size=16, seed=4)
    with pytest.raises(ScoreError):
        zico(net, images, labels, batches=1)


def test_calibrated_form_uses_the_batch_statistics_of_a_separate_draw():
    """bn='calibrated': running statistics = mean and unbiased variance of the first layer's
    pre-activations on the calibration batch (the last of the seeded draws), then eval."""
    net = _net(hidden=(24,))
    images = _images()
    config = ScoreConfig(batch_size=32, repeats=1, seed=3, bn="calibrated")
    got = traces_for(net, images, config)[0]["block0"][0]
    rng = np.random.default_rng(3)
    draws = [rng.permutation(96)[:32] for _ in range(2)]
    calib, scored = images[torch.from_numpy(draws[1])], images[torch.from_numpy(draws[0])]
    w = quantize_weight(net.blocks[0].layer.weight, 1)
    zc = calib.flatten(1) @ w.T
    mean, var = zc.mean(0), zc.var(0, unbiased=True)
    z = scored.flatten(1) @ w.T
    bn = net.blocks[0].norm
    expected = ((z - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias) > 0
    assert torch.equal(got, expected.float())


def test_score_and_proxies_run_on_a_graphnet_candidate():
    space = pytest.importorskip("nas.space")
    graph = pytest.importorskip("spindrop.graph_model")
    from nas.cell import Cell

    cell = Cell(("conv3x3", "skip", "conv1x1", "conv3x3", "zero", "skip"))
    cand = space.Candidate(
        cells=(cell, cell), channels=4, down_channels=8, hidden=16, timesteps=2, weight_bits=2
    )
    net = graph.GraphNet(cand.network((1, 8, 8), 10), ModelConfig(timesteps=2), dropout="none")
    images = _images()
    config = ScoreConfig.of("project", **SMALL)
    first = snasnet_score(net, images, config)
    assert np.isfinite(first.score)
    assert snasnet_score(net, images, config) == first
    assert np.isfinite(snasnet_score(net, images, ScoreConfig.of("snasnet", **SMALL)).score)
    assert param_count(net) == sum(
        p.numel() for n, p in net.named_parameters() if n.endswith("op.weight")
    )
    assert weight_memory_bits(net) == 2 * param_count(net)
    assert np.isfinite(zico(net, images, torch.randint(0, 10, (96,)), batch_size=16))


def test_search_score_is_the_project_score_of_the_graph_model():
    space = pytest.importorskip("nas.space")
    from nas.cell import Cell
    from nas.score import graph_model, search_score
    from spindrop.data import load_digits

    cell = Cell(("conv3x3", "zero", "zero", "skip", "zero", "zero"))
    cand = space.Candidate(
        cells=(cell, cell), channels=4, down_channels=8, hidden=16, timesteps=2, weight_bits=1
    )
    network = cand.network((1, 8, 8), 10)
    fn = search_score("digits", batch_size=32)
    value = fn(cand, network)
    expected = snasnet_score(
        graph_model(network), load_digits("train").x, ScoreConfig.of("project", batch_size=32)
    ).score
    assert value == expected and np.isfinite(value)
    assert fn(cand, network) == value


def test_search_score_refuses_an_unknown_device():
    from nas.score import search_score

    with pytest.raises(ScoreError, match="device"):
        search_score("digits", device="tpu")
