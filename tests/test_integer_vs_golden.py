"""The two implementations of docs/hardware-model.md agree bit for bit: the quantized torch model
(spindrop.integer_model) and the numpy golden model (hdl.golden), on random networks and on a
trained, exported one."""

from __future__ import annotations

import numpy as np
import pytest

from hdl.golden import run as golden_run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from spindrop.integer_model import run_integer

HW = HardwareConfig(adc_bits=12)  # wide enough that no column sum saturates


def _weights(rng, bits, shape):
    if bits == 1:
        return rng.choice([-1, 1], shape)
    limit = 2 ** (bits - 1) - 1
    return rng.integers(-limit, limit + 1, shape)


def _neuron(rng, channels, timesteps):
    return Neuron(
        threshold=rng.integers(1, 6, channels),
        leak_shift=None if timesteps == 1 or rng.random() < 0.3 else int(rng.integers(1, 4)),
        reset=str(rng.choice(["subtract", "zero"])),
        membrane_bits=int(rng.choice([8, 12, 16])),
    )


def random_network(seed: int) -> Network:
    """A random feed-forward network: conv or linear layers, sometimes a cell with a skip edge."""
    rng = np.random.default_rng(seed)
    timesteps = int(rng.choice([1, 2, 3]))
    c, h = int(rng.integers(1, 3)), int(rng.choice([5, 6]))
    layers: list[Layer] = []
    source, shape = "input", (c, h, h)

    def dropout(linear: bool = False):
        if rng.random() < 0.5:
            return None
        granularity = str(rng.choice(["row", "channel"]))  # drawn either way: same stream
        return DropoutSpec(
            p=float(rng.uniform(0.1, 0.6)), granularity="row" if linear else granularity
        )

    for i in range(int(rng.integers(1, 3))):
        c_out, k = int(rng.integers(2, 5)), int(rng.choice([1, 3]))
        stride = int(rng.choice([1, 2])) if k == 3 else 1
        pad = k // 2
        out = (
            c_out,
            (shape[1] + 2 * pad - k) // stride + 1,
            (shape[2] + 2 * pad - k) // stride + 1,
        )
        bits = int(rng.choice([1, 2, 4]))
        edge = Edge(
            "conv2d",
            source,
            bits,
            k,
            stride,
            pad,
            _weights(rng, bits, (c_out, shape[0], k, k)),
            dropout=dropout(),
        )
        layers.append(
            Layer(
                f"conv{i}", (edge,), out, _neuron(rng, c_out, timesteps), rng.integers(-2, 3, c_out)
            )
        )
        source, shape = f"conv{i}", out
        if rng.random() < 0.5:  # a cell node: conv3x3 of the previous node + skip + zero edge
            e1 = Edge(
                "conv2d",
                source,
                1,
                3,
                1,
                1,
                _weights(rng, 1, (shape[0], shape[0], 3, 3)),
                dropout=dropout(),
            )
            layers.append(
                Layer(
                    f"cell{i}",
                    (e1, Edge("skip", source), Edge("zero", "input")),
                    shape,
                    _neuron(rng, shape[0], timesteps),
                )
            )
            source = f"cell{i}"
    n_in = int(np.prod(shape))
    hidden = int(rng.integers(3, 9))
    bits = int(rng.choice([1, 3]))
    layers.append(
        Layer(
            "fc",
            (
                Edge(
                    "linear",
                    source,
                    bits,
                    weight=_weights(rng, bits, (hidden, n_in)),
                    dropout=dropout(linear=True),
                ),
            ),
            (hidden,),
            _neuron(rng, hidden, timesteps),
            rng.integers(-3, 4, hidden),
        )
    )
    layers.append(
        Layer(
            "out",
            (Edge("linear", "fc", 1, weight=_weights(rng, 1, (4, hidden)), dropout=dropout(True)),),
            (4,),
        )
    )
    return Network(
        f"random{seed}",
        InputSpec((c, h, h), bits=int(rng.choice([1, 4, 8]))),
        tuple(layers),
        timesteps,
    ).validate()


def _masks(net: Network, samples: int, images: int, rng) -> dict[str, np.ndarray]:
    masks = {}
    for layer in net.layers:
        for i, edge in enumerate(layer.edges):
            if edge.dropout is None:
                continue
            if edge.kind == "conv2d" and edge.dropout.granularity == "channel":
                units = edge.weight_shape[1]
            else:
                units = int(np.prod(edge.weight_shape[1:]))
            masks[f"{layer.name}.{i}"] = rng.random((samples, images, units)) >= edge.dropout.p
    return masks


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_agree_bit_for_bit(seed):
    net = random_network(seed)
    rng = np.random.default_rng(100 + seed)
    x = rng.integers(0, 2**net.input.bits, (6, *net.input.shape))
    masks = _masks(net, 2, 6, rng)
    golden = golden_run(net, x, HW, samples=2, masks=masks, trace=True)
    torch_int = run_integer(net, x, samples=2, masks=masks)
    for name, spikes in torch_int.spikes.items():
        mismatch = np.argwhere(golden.spikes[name] != spikes)
        assert len(mismatch) == 0, (
            f"layer {name}: first difference at (sample, image, t, ...) {mismatch[0]}"
        )
    np.testing.assert_array_equal(golden.outputs, torch_int.outputs)
    np.testing.assert_array_equal(golden.prediction, torch_int.prediction)


@pytest.mark.parametrize("timesteps", [1, 4])
def test_trained_exported_network_agrees_bit_for_bit(timesteps):
    from spindrop.data import load_dataset
    from spindrop.dropout import DropoutConfig
    from spindrop.export import export_network, quantize_pixels
    from spindrop.models import BayesianBinaryNet, ModelConfig
    from spindrop.training import TrainConfig, train

    data = load_dataset("digits", split="train")
    test = load_dataset("digits", split="test")
    model = BayesianBinaryNet(
        ModelConfig(
            hidden=(64,), timesteps=timesteps, dropout=DropoutConfig(p=0.3, placement="all")
        ),
        data.shape,
        10,
        seed=1,
    )
    train(model, data.subset(np.arange(800)), TrainConfig(epochs=4), progress=False)
    net = export_network(model, input_bits=8)
    x = quantize_pixels(test.x[:120], 8)
    masks = _masks(net, 3, len(x), np.random.default_rng(7))
    golden = golden_run(net, x, HardwareConfig(), samples=3, masks=masks, trace=True)
    torch_int = run_integer(net, x, samples=3, masks=masks)
    for name, spikes in torch_int.spikes.items():
        assert np.array_equal(golden.spikes[name], spikes), name
    np.testing.assert_array_equal(golden.outputs, torch_int.outputs)
