"""The integer golden model against independent references written here.

The references are deliberately different code: float64 numpy and scipy correlations for the
currents (dropout as a mask on the weights rather than on the rows), Python-integer loops for the
LIF neurons, bit-list LFSRs for the random sources.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.signal import correlate

from hdl import MTJDropoutBank
from hdl import golden as golden_module
from hdl.golden import GoldenError, quantize_input, run
from hdl.hwconfig import HardwareConfig
from hdl.ir import LFSR_TAPS, DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron

# --- references ----------------------------------------------------------------------------------


def reference_lfsr(seed: int, width: int, n: int, offset: int = 0) -> list[int]:
    """Bit-list Fibonacci LFSR: draws 1 .. n of a stream starting ``offset`` single steps after
    ``seed``; a draw is ``width`` single steps (leap-forward) and yields the new state."""
    cells = [(seed >> p) & 1 for p in range(width)]
    out = []
    for step in range(1, offset + n * width + 1):
        feedback = 0
        for tap in LFSR_TAPS[width]:
            feedback ^= cells[tap - 1]
        cells = [feedback, *cells[:-1]]
        if step > offset and (step - offset) % width == 0:
            out.append(sum(bit << p for p, bit in enumerate(cells)))
    return out


def module_offset(width: int, modules: int, edge: int, edges: int, m: int) -> int:
    """docs section 3: (e + 1) * d + m * G, G = floor(P / modules), d = floor(G / (E + 1))."""
    gap = (2**width - 1) // modules
    return (edge + 1) * (gap // (edges + 1)) + m * gap


def reference_conv(s: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """z[o, y, x] = Σ_c,ky,kx w[o, c, ky, kx] s[c, y*st + ky - pad, x*st + kx - pad]."""
    s = np.pad(s.astype(np.float64), ((0, 0), (padding, padding), (padding, padding)))
    planes = []
    for o in range(w.shape[0]):
        full = sum(correlate(s[c], w[o, c].astype(np.float64), mode="valid") for c in range(len(s)))
        planes.append(full[::stride, ::stride])
    return np.stack(planes)


def reference_edge(edge: Edge, src: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Exact current of one edge; a dropped row is a zeroed weight column."""
    if edge.kind == "zero":
        return np.zeros(())
    if edge.kind == "skip":
        return src.astype(np.float64)
    w = edge.weight.astype(np.float64)
    if keep is not None:
        if edge.kind == "conv2d" and keep.size == w.shape[1]:  # channel granularity
            w = w * keep[None, :, None, None]
        else:
            w = w * keep.reshape(1, *w.shape[1:])
    if edge.kind == "linear":
        return w @ src.reshape(-1).astype(np.float64)
    return reference_conv(src, w, edge.stride, edge.padding)


def reference_lif_step(v: int, s_prev: int, current: int, theta: int, neuron: Neuron):
    """One timestep of one neuron in Python integers (docs section 2)."""

    def leak(value: int) -> int:
        if neuron.leak_shift is None:
            return value
        return value - math.floor(value / 2**neuron.leak_shift)

    if neuron.reset == "zero":
        v = leak(v * (1 - s_prev)) + current
    else:
        v = leak(v) + current - s_prev * theta
    top = 2 ** (neuron.membrane_bits - 1)
    v = max(-top, min(top - 1, v))
    return v, int(v >= theta)


def reference_run(net: Network, x: np.ndarray, samples: int, masks: dict) -> dict:
    """Loops over samples, images, timesteps, layers and neurons; direct input as integers
    (linearity: Σ_b 2^b z(s_b) = z(x) when nothing saturates)."""
    images, steps = x.shape[0], net.timesteps
    spikes = {
        ly.name: np.zeros((samples, images, steps, *ly.out_shape), np.uint8)
        for ly in net.layers
        if ly.neuron is not None
    }
    membranes = {
        ly.name: np.zeros((samples, images, steps, *ly.out_shape), np.int64) for ly in net.layers
    }
    outputs = np.zeros((samples, images, int(np.prod(net.output.out_shape))), np.int64)
    for m in range(samples):
        for n in range(images):
            state = {
                ly.name: (np.zeros(ly.out_shape, np.int64), np.zeros(ly.out_shape, np.int64))
                for ly in net.layers
            }
            for t in range(steps):
                values = {"input": x[n]}
                for layer in net.layers:
                    total = np.zeros(layer.out_shape)
                    for i, edge in enumerate(layer.edges):
                        keep = masks.get(f"{layer.name}.{i}")
                        keep = None if keep is None else keep[m, n].astype(np.float64)
                        total = total + reference_edge(edge, values[edge.source], keep)
                    current = np.rint(total).astype(np.int64)
                    if layer.bias is not None:
                        current += layer.bias.reshape(-1, *[1] * (len(layer.out_shape) - 1))
                    v, s = state[layer.name]
                    if layer.neuron is None:
                        v = v + current
                    else:
                        theta = np.broadcast_to(
                            layer.neuron.threshold.reshape(-1, *[1] * (len(layer.out_shape) - 1)),
                            layer.out_shape,
                        )
                        v, s = v.copy(), s.copy()
                        for idx in np.ndindex(*layer.out_shape):
                            v[idx], s[idx] = reference_lif_step(
                                int(v[idx]),
                                int(s[idx]),
                                int(current[idx]),
                                int(theta[idx]),
                                layer.neuron,
                            )
                        spikes[layer.name][m, n, t] = s
                        values[layer.name] = s
                    state[layer.name] = (v, s)
                    membranes[layer.name][m, n, t] = v
            last = net.output
            if last.neuron is None:
                outputs[m, n] = state[last.name][0].reshape(-1)
            else:
                outputs[m, n] = spikes[last.name][m, n].sum(axis=0).reshape(-1)
    return {"outputs": outputs, "spikes": spikes, "membranes": membranes}


# --- random networks -----------------------------------------------------------------------------


def random_weights(rng, bits: int, shape) -> np.ndarray:
    if bits == 1:
        return rng.choice([-1, 1], shape)
    limit = 2 ** (bits - 1) - 1
    return rng.integers(-limit, limit + 1, shape)


def random_neuron(rng, channels: int, scale: float) -> Neuron:
    bits = int(rng.choice([6, 10, 16]))
    top = 2 ** (bits - 1) - 1
    return Neuron(
        threshold=np.minimum(rng.integers(1, max(2, int(scale)) + 1, channels), top),
        leak_shift=None if rng.random() < 0.3 else int(rng.integers(1, 4)),
        reset=str(rng.choice(["subtract", "zero"])),
        membrane_bits=bits,
    )


def random_dropout(rng, conv: bool = True) -> DropoutSpec | None:
    """Random dropout; ``channel`` granularity only on a conv2d edge (the same draws either
    way, so the networks do not depend on the edge kind)."""
    if rng.random() < 0.4:
        return None
    p, granularity = float(rng.uniform(0.1, 0.5)), str(rng.choice(["row", "channel"]))
    return DropoutSpec(p, granularity=granularity if conv else "row")


def _scale(bits: int, rows: int) -> float:
    return (1 if bits == 1 else 2 ** (bits - 2)) * math.sqrt(rows)


def random_network(seed: int) -> Network:
    """Conv (stride, padding) -> optional cell (conv3x3 + conv1x1 + skip + zero) -> linear
    (two edges summed when there is a cell) -> linear output (membrane or count decoding)."""
    rng = np.random.default_rng(seed)
    c, h = int(rng.integers(1, 3)), int(rng.integers(5, 8))
    in_bits = int(rng.integers(1, 9))
    layers: list[Layer] = []
    k = int(rng.integers(1, 4))
    st, pad = int(rng.integers(1, 3)), int(rng.integers(0, k))
    c1 = int(rng.integers(2, 4))
    shape1 = (c1, (h + 2 * pad - k) // st + 1, (h + 2 * pad - k) // st + 1)
    bits = int(rng.integers(1, 9))
    layers.append(
        Layer(
            "conv",
            (
                Edge(
                    "conv2d",
                    "input",
                    bits,
                    k,
                    st,
                    pad,
                    random_weights(rng, bits, (c1, c, k, k)),
                    dropout=random_dropout(rng),
                ),
            ),
            shape1,
            random_neuron(rng, c1, _scale(bits, c * k * k) * 2**in_bits / 2),
            rng.integers(-3, 4, c1),
        )
    )
    source = "conv"
    if rng.random() < 0.6:
        b3, b1 = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        edges = (
            Edge(
                "conv2d",
                "conv",
                b3,
                3,
                1,
                1,
                random_weights(rng, b3, (c1, c1, 3, 3)),
                dropout=random_dropout(rng),
            ),
            Edge("conv2d", "conv", b1, 1, 1, 0, random_weights(rng, b1, (c1, c1, 1, 1))),
            Edge("skip", "conv"),
            Edge("zero", "input"),
        )
        layers.append(Layer("cell", edges, shape1, random_neuron(rng, c1, _scale(b3, 9 * c1))))
        source = "cell"
    hidden = int(rng.integers(3, 7))
    bits = int(rng.integers(1, 9))
    rows = int(np.prod(shape1))
    edges = [
        Edge(
            "linear",
            source,
            bits,
            weight=random_weights(rng, bits, (hidden, rows)),
            dropout=random_dropout(rng, conv=False),
        )
    ]
    if source == "cell":
        edges.append(Edge("linear", "conv", 2, weight=random_weights(rng, 2, (hidden, rows))))
    layers.append(
        Layer("fc", tuple(edges), (hidden,), random_neuron(rng, hidden, _scale(bits, rows)))
    )
    decoding = str(rng.choice(["membrane", "count"]))
    bits = int(rng.integers(1, 9))
    out_neuron = random_neuron(rng, 4, _scale(bits, hidden)) if decoding == "count" else None
    layers.append(
        Layer(
            "out",
            (
                Edge(
                    "linear",
                    "fc",
                    bits,
                    weight=random_weights(rng, bits, (4, hidden)),
                    dropout=random_dropout(rng, conv=False),
                ),
            ),
            (4,),
            out_neuron,
            rng.integers(-2, 3, 4),
        )
    )
    return Network(
        f"random{seed}",
        InputSpec((c, h, h), bits=in_bits),
        tuple(layers),
        timesteps=int(rng.integers(1, 4)),
        output_decoding=decoding,
    ).validate()


def random_masks(net: Network, samples: int, images: int, rng) -> dict[str, np.ndarray]:
    masks = {}
    for layer in net.layers:
        for i, edge in enumerate(layer.edges):
            if edge.dropout is None:
                continue
            conv_channel = edge.kind == "conv2d" and edge.dropout.granularity == "channel"
            units = edge.weight_shape[1] if conv_channel else int(np.prod(edge.weight_shape[1:]))
            masks[f"{layer.name}.{i}"] = rng.random((samples, images, units)) >= edge.dropout.p
    return masks


@pytest.fixture(params=["direct", "tiled"])
def crossbar_path(request, monkeypatch):
    """``tiled`` forces the row-tile / slice / ADC path even where nothing can saturate."""
    if request.param == "tiled":
        monkeypatch.setattr(golden_module, "_saturation_free", lambda cells, hw, top=1: False)
    return request.param


# --- exactness without saturation ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(14))
def test_random_networks_equal_reference(seed: int, crossbar_path: str) -> None:
    net = random_network(seed)
    rng = np.random.default_rng(1000 + seed)
    hw = HardwareConfig(
        tile_rows=int(rng.choice([3, 8, 16])),
        tile_cols=8,
        cell_bits=int(rng.integers(1, 5)),
        adc_bits=16,  # >= tile_rows * (2**cell_bits - 1): nothing saturates
        columns_per_adc=1,
    )
    samples, images = 2, 3
    x = rng.integers(0, 2**net.input.bits, (images, *net.input.shape))
    masks = random_masks(net, samples, images, rng)
    got = run(net, x, hw, samples=samples, masks=masks, trace=True)
    want = reference_run(net, x, samples, masks)
    for name, spikes in want["spikes"].items():
        np.testing.assert_array_equal(got.spikes[name], spikes, err_msg=f"spikes of {name}")
    for name, membranes in want["membranes"].items():
        np.testing.assert_array_equal(got.membranes[name], membranes, err_msg=f"v of {name}")
    np.testing.assert_array_equal(got.outputs, want["outputs"])
    np.testing.assert_array_equal(got.prediction, want["outputs"].sum(axis=0).argmax(axis=1))
    for key, keep in masks.items():
        np.testing.assert_array_equal(got.masks[key], keep)


def test_random_networks_are_not_degenerate() -> None:
    """The random networks above spike sometimes, not always."""
    rates = []
    for seed in range(14):
        net = random_network(seed)
        x = np.random.default_rng(seed).integers(0, 2**net.input.bits, (3, *net.input.shape))
        result = run(
            net,
            x,
            HardwareConfig(adc_bits=16),
            samples=2,
            trace=True,
            masks=random_masks(net, 2, 3, np.random.default_rng(seed)),
        )
        rates += [float(s.mean()) for s in result.spikes.values()]
    rates = np.array(rates)
    assert np.mean((rates > 0) & (rates < 1)) > 0.6, rates


def _single_edge_net(weight: np.ndarray, bits: int, in_bits: int, **edge) -> Network:
    rows = weight.shape[1]
    return Network(
        "one",
        InputSpec((1, 1, rows), bits=in_bits),
        (
            Layer(
                "out", (Edge("linear", "input", bits, weight=weight, **edge),), (weight.shape[0],)
            ),
        ),
    ).validate()


@pytest.mark.parametrize("weight_bits", range(1, 9))
@pytest.mark.parametrize("cell_bits", range(1, 5))
def test_bit_slicing_invisible_without_saturation(
    weight_bits: int, cell_bits: int, crossbar_path: str
) -> None:
    rng = np.random.default_rng(weight_bits * 10 + cell_bits)
    w = random_weights(rng, weight_bits, (5, 37))
    net = _single_edge_net(w, weight_bits, in_bits=3)
    hw = HardwareConfig(
        tile_rows=8, tile_cols=4, cell_bits=cell_bits, adc_bits=8, columns_per_adc=1
    )  # 8 rows * 15 < 256
    x = rng.integers(0, 8, (4, 1, 1, 37))
    got = run(net, x, hw, trace=True)
    np.testing.assert_array_equal(got.outputs[0], x.reshape(4, 37) @ w.T)  # direct = x · W


def test_direct_encoding_conv_equals_integer_correlation(crossbar_path: str) -> None:
    rng = np.random.default_rng(3)
    w = random_weights(rng, 5, (3, 2, 3, 3))
    net = Network(
        "conv",
        InputSpec((2, 9, 8), bits=8),
        (Layer("out", (Edge("conv2d", "input", 5, 3, 2, 1, w),), (3, 5, 4)),),
        timesteps=2,
    ).validate()
    x = rng.integers(0, 256, (3, 2, 9, 8))
    got = run(net, x, HardwareConfig(tile_rows=5, cell_bits=2, adc_bits=8), trace=True)
    for n in range(3):
        want = reference_conv(x[n], w, 2, 1)
        for t in range(2):
            np.testing.assert_array_equal(got.currents["out"][0, n, t], want)
        np.testing.assert_array_equal(got.outputs[0, n], 2 * want.reshape(-1))


# --- saturation, by hand -----------------------------------------------------------------------


def test_adc_saturation_by_hand() -> None:
    """W = [3, 3, -1, 2] (weight_bits 3: magnitudes 2 bits), cell_bits 1 (2 slices), tiles of 2
    rows, all four inputs spiking.

    W+ = [3, 3, 0, 2]: slice 0 = [1, 1, 0, 0], slice 1 = [1, 1, 0, 1]; W- = [0, 0, 1, 0].
    tile 0: a+_0 = 2, a+_1 = 2, a-_0 = a-_1 = 0;  tile 1: a+_0 = 0, a+_1 = 1, a-_0 = 1, a-_1 = 0.
    adc_bits 1 (codes 0..1): tile 0 gives 1 + 2*1 = 3, tile 1 gives (0 - 1) + 2*1 = 1 -> z = 4.
    adc_bits 2 (codes 0..3): tile 0 gives 2 + 2*2 = 6, tile 1 gives 1 -> z = 7 = W · s.
    """
    net = _single_edge_net(np.array([[3, 3, -1, 2]]), 3, in_bits=1)
    x = np.ones((1, 1, 1, 4), dtype=np.int64)
    for adc_bits, z in ((1, 4), (2, 7)):
        hw = HardwareConfig(
            tile_rows=2, tile_cols=4, cell_bits=1, adc_bits=adc_bits, columns_per_adc=1
        )
        assert run(net, x, hw).outputs[0, 0, 0] == z


def test_adc_saturates_per_bit_plane_by_hand() -> None:
    """Binary W = [1, 1], x = [3, 1] (2 bits), one tile, adc_bits 1: plane 0 s = [1, 1] gives
    a = 2 -> 1, plane 1 s = [1, 0] gives a = 1 -> 1; z = 1 + 2 * 1 = 3 (exact: 4)."""
    net = _single_edge_net(np.array([[1, 1]]), 1, in_bits=2)
    x = np.array([[[[3, 1]]]])
    hw = HardwareConfig(tile_rows=2, tile_cols=2, adc_bits=1, columns_per_adc=1)
    assert run(net, x, hw).outputs[0, 0, 0] == 3
    assert run(net, x, HardwareConfig(adc_bits=2)).outputs[0, 0, 0] == 4


def test_negative_column_sums_do_not_clip() -> None:
    """Polarities are separate columns: a negative weight gives a positive W- column sum."""
    net = _single_edge_net(np.array([[-1, -1, -1]]), 1, in_bits=1)
    x = np.ones((1, 1, 1, 3), dtype=np.int64)
    assert run(net, x, HardwareConfig(adc_bits=2)).outputs[0, 0, 0] == -3
    assert run(net, x, HardwareConfig(adc_bits=1)).outputs[0, 0, 0] == -1


# --- LIF ---------------------------------------------------------------------------------------


def _lif_net(neuron: Neuron, steps: int, weight: int = 1) -> Network:
    """Input (1 bit) -> one neuron with weight ``weight`` on each of 8 inputs -> output.

    A layer's current per timestep is ``weight * popcount(x)`` + bias, constant over time, so
    currents are set by the bias (negative too) and the input."""
    return Network(
        "lif",
        InputSpec((1, 1, 8), bits=1),
        (
            Layer(
                "h",
                (Edge("linear", "input", 8, weight=np.full((1, 8), weight)),),
                (1,),
                neuron=neuron,
                bias=np.array([0]),
            ),
            Layer("out", (Edge("linear", "h", 1, weight=np.ones((1, 1), dtype=int)),), (1,)),
        ),
        timesteps=steps,
    ).validate()


def _lif_by_hand(currents, theta, leak, reset, bits):
    v = s = 0
    vs, ss = [], []
    for current in currents:
        v, s = reference_lif_step(
            v, s, current, theta, Neuron(leak_shift=leak, reset=reset, membrane_bits=bits)
        )
        vs.append(v)
        ss.append(s)
    return vs, ss


@pytest.mark.parametrize(
    ("currents", "theta", "leak", "reset", "bits", "v_want", "s_want"),
    [
        # equal to the threshold fires; reset by subtraction at the next step
        ([2, 2, 2], 2, None, "subtract", 8, [2, 2, 2], [1, 1, 1]),
        ([3, 0, 0, 0], 2, None, "subtract", 8, [3, 1, 1, 1], [1, 0, 0, 0]),
        ([3, 0, 0], 2, None, "zero", 8, [3, 0, 0], [1, 0, 0]),
        # leak: v - (v >> 1) rounds the shifted part toward -inf
        ([5, 0, 0, 0], 100, 1, "subtract", 8, [5, 3, 2, 1], [0, 0, 0, 0]),
        ([-5, 0, 0, 0], 100, 1, "subtract", 8, [-5, -2, -1, 0], [0, 0, 0, 0]),
        ([-5, -5, 3], 100, 2, "zero", 8, [-5, -8, -3], [0, 0, 0]),
        # saturation at membrane_bits 4: [-8, 7]
        ([20, 20, -40, -40], 4, None, "subtract", 4, [7, 7, -8, -8], [1, 1, 0, 0]),
        ([-30, 10], 7, None, "subtract", 4, [-8, 2], [0, 0]),
    ],
)
def test_lif_sequences_by_hand(currents, theta, leak, reset, bits, v_want, s_want) -> None:
    assert _lif_by_hand(currents, theta, leak, reset, bits) == (v_want, s_want)
    current = np.array(currents, dtype=np.int64).reshape(1, 1, -1, 1)
    spikes, membranes = golden_module.lif(current, np.array([theta]), leak, reset, bits)
    assert membranes.reshape(-1).tolist() == v_want
    assert spikes.reshape(-1).tolist() == s_want


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("leak", [None, 1, 3])
@pytest.mark.parametrize("bits", [4, 7, 12])
def test_lif_random_sequences_equal_hand_loop(reset, leak, bits) -> None:
    rng = np.random.default_rng(bits * 7 + (leak or 0))
    top = 2 ** (bits - 1) - 1
    currents = rng.integers(-top, top + 1, (3, 2, 9, 5))
    theta = rng.integers(1, top + 1, 5)
    spikes, membranes = golden_module.lif(currents, theta, leak, reset, bits)
    for m, n, j in np.ndindex(3, 2, 5):
        v_want, s_want = _lif_by_hand(
            currents[m, n, :, j].tolist(), int(theta[j]), leak, reset, bits
        )
        assert membranes[m, n, :, j].tolist() == v_want
        assert spikes[m, n, :, j].tolist() == s_want


def test_lif_inside_a_network_uses_bias_and_negative_currents() -> None:
    """Current = 8 * popcount(x) + bias through the crossbar; bias -20, x all ones: I = 44."""
    neuron = Neuron(threshold=np.array([50]), leak_shift=1, reset="subtract", membrane_bits=8)
    net = _lif_net(neuron, steps=5, weight=8)
    net = Network(
        net.name,
        net.input,
        (Layer("h", net.layers[0].edges, (1,), neuron, np.array([-20])), net.layers[1]),
        timesteps=5,
    ).validate()
    x = np.ones((1, 1, 1, 8), dtype=np.int64)
    result = run(net, x, trace=True)
    v_want, s_want = _lif_by_hand([44] * 5, 50, 1, "subtract", 8)
    assert result.membranes["h"].reshape(-1).tolist() == v_want
    assert result.spikes["h"].reshape(-1).tolist() == s_want
    assert result.currents["h"].reshape(-1).tolist() == [44] * 5
    # output accumulator: membranes trace is the running sum, y the total
    assert result.membranes["out"].reshape(-1).tolist() == np.cumsum(s_want).tolist()
    assert result.outputs.reshape(-1).tolist() == [sum(s_want)]


# --- dropout -------------------------------------------------------------------------------------


def test_all_rows_dropped_gives_zero_current() -> None:
    rng = np.random.default_rng(0)
    w = random_weights(rng, 4, (3, 2, 3, 3))
    for granularity, units in (("row", 18), ("channel", 2)):
        edge = Edge("conv2d", "input", 4, 3, 1, 1, w, dropout=DropoutSpec(0.5, granularity))
        net = Network(
            "d",
            InputSpec((2, 5, 5), bits=4),
            (Layer("out", (edge,), (3, 5, 5), bias=np.array([1, 2, 3])),),
        ).validate()
        x = rng.integers(0, 16, (2, 2, 5, 5))
        keep = np.zeros((3, 2, units), dtype=bool)
        result = run(net, x, samples=3, masks={"out.0": keep}, trace=True)
        current = result.currents["out"]
        np.testing.assert_array_equal(
            current, np.broadcast_to(np.array([1, 2, 3]).reshape(3, 1, 1), current.shape)
        )


def _dropout_net(source: str, granularity: str = "row", modules: int = 3) -> Network:
    rng = np.random.default_rng(5)
    lfsr = LFSRSpec(12, 321) if source == "lfsr" else None
    spec = DropoutSpec(0.3, granularity, source, modules, lfsr)
    return Network(
        "drop",
        InputSpec((2, 4, 4), bits=3),
        (
            Layer(
                "c",
                (
                    Edge(
                        "conv2d",
                        "input",
                        1,
                        3,
                        1,
                        1,
                        random_weights(rng, 1, (3, 2, 3, 3)),
                        dropout=spec,
                    ),
                ),
                (3, 4, 4),
                neuron=Neuron(threshold=np.array([3, 4, 5])),
            ),
            Layer(
                "out",
                (
                    Edge(
                        "linear",
                        "c",
                        2,
                        weight=random_weights(rng, 2, (4, 48)),
                        dropout=replace(spec, granularity="row"),
                    ),
                ),
                (4,),
            ),
        ),
        timesteps=3,
    ).validate()


def test_lfsr_masks_follow_documented_stream() -> None:
    """Masks are drawn image by image, sample by sample; all modules draw once per cycle;
    module m of dropout edge e starts offset(e, m) single steps after the seed."""
    net = _dropout_net("lfsr", "channel", modules=3)
    samples, images = 2, 3
    x = np.random.default_rng(1).integers(0, 8, (images, 2, 4, 4))
    result = run(net, x, samples=samples)
    for edge, (key, units) in enumerate((("c.0", 2), ("out.0", 48))):
        cycles = -(-units // 3)
        streams = [
            reference_lfsr(321, 12, samples * images * cycles, module_offset(12, 3, edge, 2, m))
            for m in range(3)
        ]
        threshold = round(0.3 * 2**12)
        for n in range(images):
            for m in range(samples):
                q = n * samples + m
                want = [streams[r % 3][q * cycles + r // 3] >= threshold for r in range(units)]
                assert result.masks[key][m, n].tolist() == want, (key, m, n)


@pytest.mark.parametrize("source", ["lfsr", "mtj"])
def test_recorded_masks_replay_identically(source: str) -> None:
    net = _dropout_net(source)
    x = np.random.default_rng(2).integers(0, 8, (4, 2, 4, 4))
    first = run(net, x, samples=3, mtj_seed=11, trace=True)
    assert set(first.masks) == {"c.0", "out.0"}
    assert first.masks["c.0"].shape == (3, 4, 18) and first.masks["out.0"].shape == (3, 4, 48)
    assert 0.1 < 1 - first.masks["out.0"].mean() < 0.5  # p = 0.3
    replay = run(net, x, samples=3, masks=first.masks, trace=True)
    np.testing.assert_array_equal(replay.outputs, first.outputs)
    for name in first.spikes:
        np.testing.assert_array_equal(replay.spikes[name], first.spikes[name])
    assert replay.events == first.events


def test_mtj_seed_draws_with_the_device_bank() -> None:
    net = _dropout_net("mtj", modules=4)
    x = np.random.default_rng(2).integers(0, 8, (3, 2, 4, 4))
    result = run(net, x, samples=2, mtj_seed=40)
    for ordinal, (key, units) in enumerate((("c.0", 18), ("out.0", 48))):
        drop = MTJDropoutBank(0.3, 4, seed=40 + ordinal).draw(6, units)
        want = ~drop.reshape(3, 2, units).transpose(1, 0, 2)
        np.testing.assert_array_equal(result.masks[key], want)


def test_mtj_without_masks_or_seed_is_an_error() -> None:
    net = _dropout_net("mtj")
    x = np.zeros((1, 2, 4, 4), dtype=np.int64)
    with pytest.raises(GoldenError, match=r"edge c.0 has MTJ dropout: pass its keep masks"):
        run(net, x)


def test_bad_masks_are_errors() -> None:
    net = _dropout_net("mtj")
    x = np.zeros((2, 2, 4, 4), dtype=np.int64)
    good = {"c.0": np.ones((1, 2, 18), bool), "out.0": np.ones((1, 2, 48), bool)}
    with pytest.raises(GoldenError, match=r"masks\['c.0'\] must have shape \(1, 2, 18\)"):
        run(net, x, masks={**good, "c.0": np.ones((1, 2, 2), bool)})
    with pytest.raises(GoldenError, match=r"not weighted edges with dropout.*\['c.0', 'out.0'\]"):
        run(net, x, masks={**good, "c.1": np.ones((1, 2, 18), bool)})
    with pytest.raises(GoldenError, match="booleans or 0/1"):
        run(net, x, masks={**good, "c.0": np.full((1, 2, 18), 2)})
    as_int = run(net, x, masks={k: v.astype(int) for k, v in good.items()})
    np.testing.assert_array_equal(as_int.outputs, run(net, x, masks=good).outputs)


# --- rate encoding -------------------------------------------------------------------------------


def test_rate_encoding_spikes_follow_the_lfsr() -> None:
    """A skip edge from the input shows the input spikes as the layer's current."""
    shape, bits, steps, samples = (2, 2, 3), 4, 3, 2
    lfsr = LFSRSpec(10, 99)
    rng = np.random.default_rng(9)
    w = random_weights(rng, 3, (2, 12))
    net = Network(
        "rate",
        InputSpec(shape, bits=bits, encoding="rate", lfsr=lfsr),
        (
            Layer("skip", (Edge("skip", "input"),), shape, neuron=Neuron(threshold=np.ones(2))),
            Layer("out", (Edge("linear", "input", 3, weight=w),), (2,)),
        ),
        timesteps=steps,
    ).validate()
    x = rng.integers(0, 2**bits, (3, *shape))
    result = run(net, x, samples=samples, trace=True)
    pixels = 12
    u = reference_lfsr(99, 10, 3 * samples * steps * pixels)  # the input LFSR: offset 0
    want = np.zeros((samples, 3, steps, pixels), dtype=np.int64)
    for n in range(3):
        for m in range(samples):
            for t in range(steps):
                for i in range(pixels):
                    state = u[((n * samples + m) * steps + t) * pixels + i]
                    want[m, n, t, i] = int((state >> (10 - bits)) < x[n].reshape(-1)[i])
    np.testing.assert_array_equal(result.currents["skip"].reshape(want.shape), want)
    np.testing.assert_array_equal(result.currents["out"], want @ w.T)
    # reset-by-subtraction, threshold 1, spikes in {0, 1}: v = s_t, so the layer repeats its input
    np.testing.assert_array_equal(result.spikes["skip"].reshape(want.shape), want)
    # rate encoding reads the crossbar once per timestep (one plane)
    assert result.events["crossbar_reads"] == samples * 3 * steps * 1 * 1


def test_default_lfsr_streams_of_a_network_differ() -> None:
    """Rate input and two LFSR-dropout edges, all with the default seed 1 (width 16 here, so the
    bit-by-bit reference stays short): the input
    draws from the seed, each edge's module from its own offset; masks and spikes are not
    copies of each other (they were with seed-based streams: identical bits)."""
    p, steps, samples, images = 0.1, 1, 1, 8
    rng = np.random.default_rng(12)
    spec = DropoutSpec(p, source="lfsr", lfsr=LFSRSpec(width=16))
    net = Network(
        "defaults",
        InputSpec((1, 8, 8), bits=8, encoding="rate", lfsr=LFSRSpec(width=16)),
        (
            Layer(
                "h",
                (Edge("linear", "input", weight=random_weights(rng, 1, (64, 64)), dropout=spec),),
                (64,),
                neuron=Neuron(threshold=np.ones(64)),
            ),
            Layer(
                "out",
                (Edge("linear", "h", weight=random_weights(rng, 1, (4, 64)), dropout=spec),),
                (4,),
            ),
        ),
        timesteps=steps,
    ).validate()
    threshold = round(p * 2**16)
    x = np.full((images, 1, 8, 8), threshold >> 8)  # spike iff u >> 8 < 25: about p
    result = run(net, x, samples=samples)
    input_draws = reference_lfsr(1, 16, images * 64)
    for edge, key in enumerate(("h.0", "out.0")):
        draws = reference_lfsr(1, 16, images * 64, module_offset(16, 1, edge, 2, 0))
        want = np.array([u >= threshold for u in draws]).reshape(images, 64)
        np.testing.assert_array_equal(result.masks[key][0], want)
        assert not set(draws) & set(input_draws)
    assert not np.array_equal(result.masks["h.0"], result.masks["out.0"])
    input_drop = np.array([(u >> 8) < (threshold >> 8) for u in input_draws]).reshape(images, 64)
    agree = float(np.mean(input_drop == ~result.masks["h.0"][0]))
    assert agree < 0.95  # independent bits with p = 0.1 agree about 82 % of the time


def test_lfsr_too_narrow_for_its_modules_is_an_error() -> None:
    spec = DropoutSpec(0.2, source="lfsr", modules=16, lfsr=LFSRSpec(8, 3))
    net = Network(
        "narrow",
        InputSpec((1, 4, 4), bits=2),
        (Layer("out", (Edge("linear", "input", weight=np.ones((2, 16)), dropout=spec),), (2,)),),
    ).validate()
    with pytest.raises(GoldenError, match=r"edge out.0: .*use a wider LFSR \(width >= 9\)"):
        run(net, np.zeros((1, 1, 4, 4), dtype=np.int64))


# --- events, prediction, errors -----------------------------------------------------------------


def test_event_counts_by_formula() -> None:
    rng = np.random.default_rng(4)
    spec = DropoutSpec(0.2, "channel", "lfsr", 2)
    net = Network(
        "events",
        InputSpec((3, 6, 6), bits=4),
        (
            Layer(
                "c1",
                (
                    Edge(
                        "conv2d",
                        "input",
                        3,
                        3,
                        2,
                        1,
                        random_weights(rng, 3, (5, 3, 3, 3)),
                        dropout=spec,
                    ),
                ),
                (5, 3, 3),
                neuron=Neuron(threshold=np.ones(5)),
            ),
            Layer(
                "c2",
                (
                    Edge("conv2d", "c1", 1, 3, 1, 1, random_weights(rng, 1, (5, 5, 3, 3))),
                    Edge("skip", "c1"),
                    Edge("zero", "input"),
                ),
                (5, 3, 3),
                neuron=Neuron(threshold=np.full(5, 2)),
            ),
            Layer(
                "out",
                (
                    Edge(
                        "linear",
                        "c2",
                        8,
                        weight=random_weights(rng, 8, (10, 45)),
                        dropout=DropoutSpec(0.3, source="lfsr"),
                    ),
                ),
                (10,),
                neuron=Neuron(threshold=np.full(10, 4)),
            ),
        ),
        timesteps=3,
        output_decoding="count",
    ).validate()
    hw = HardwareConfig(tile_rows=16, tile_cols=8, cell_bits=2, adc_bits=10, columns_per_adc=2)
    samples, images, steps = 2, 5, 3
    x = rng.integers(0, 16, (images, 3, 6, 6))
    result = run(net, x, hw, samples=samples, trace=True)
    runs = samples * images * steps
    # c1: rows 27 -> 2 row tiles; 3-bit weights: 2 magnitude bits / 2 = 1 slice -> 10 columns
    #     -> 2 column tiles; 9 positions; 4 input bit-planes
    # c2: rows 45 -> 3 tiles; binary: 1 slice -> 10 columns -> 2 column tiles; 9 positions
    # out: rows 45 -> 3 tiles; 8-bit: 7 magnitude bits -> 4 slices -> 80 columns -> 10 tiles
    reads = 4 * 9 * 2 * 2 + 9 * 3 * 2 + 3 * 10
    conversions = 4 * 9 * 2 * 10 + 9 * 3 * 10 + 3 * 80
    assert result.events == {
        "crossbar_reads": runs * reads,
        "adc_conversions": runs * conversions,
        "lif_updates": runs * (45 + 45 + 10),
        "spikes": int(sum(s.sum() for s in result.spikes.values())),
        "dropout_samples": samples * images * (3 + 45),
    }
    assert result.events["spikes"] > 0
    np.testing.assert_array_equal(
        result.outputs, result.spikes["out"].sum(axis=2).reshape(samples, images, 10)
    )


def test_prediction_ties_go_to_the_lowest_index() -> None:
    """W = [[0, 0], [5, 3], [3, 5], [1, 1]] on x = [1, 1]: y = [0, 8, 8, 2] -> class 1.
    With dropout keeping x0 in sample 0 and x1 in sample 1: y_0 = [0, 5, 3, 1] and
    y_1 = [0, 3, 5, 1] (classes 1 and 2), summed [0, 8, 8, 2] -> class 1."""
    w = np.array([[0, 0], [5, 3], [3, 5], [1, 1]])
    net = _single_edge_net(w, 4, in_bits=1)
    x = np.ones((1, 1, 1, 2), dtype=np.int64)
    plain = run(net, x)
    assert plain.outputs.tolist() == [[[0, 8, 8, 2]]]
    assert plain.prediction.tolist() == [1]
    dropped = _single_edge_net(w, 4, in_bits=1, dropout=DropoutSpec(0.5))
    keep = np.array([[[True, False]], [[False, True]]])
    result = run(dropped, x, samples=2, masks={"out.0": keep})
    assert result.outputs[:, 0].tolist() == [[0, 5, 3, 1], [0, 3, 5, 1]]
    assert result.outputs[:, 0].argmax(axis=1).tolist() == [1, 2]
    assert result.prediction.tolist() == [1]
    assert result.prediction.dtype == np.int64
    reverse = run(_single_edge_net(w[::-1].copy(), 4, in_bits=1), x)
    assert reverse.prediction.tolist() == [1]  # y = [2, 8, 8, 0]


def test_quantize_input() -> None:
    v = np.array([0.0, 1.0, 0.5, 2.5 / 255, 3.5 / 255])
    np.testing.assert_array_equal(quantize_input(v, 8), [0, 255, 128, 2, 4])  # half to even
    assert quantize_input(v, 8).dtype == np.int64
    with pytest.raises(GoldenError, match=r"values in \[0, 1\]; 2 are outside"):
        quantize_input(np.array([-0.1, 0.5, np.nan]), 8)
    with pytest.raises(GoldenError, match=r"bits must be an integer in 1\.\.16"):
        quantize_input(v, 0)


def test_input_errors() -> None:
    net = _single_edge_net(np.ones((2, 4), dtype=int), 1, in_bits=3)
    with pytest.raises(GoldenError, match=r"shape \(N, 1, 1, 4\).*got \(1, 4\)"):
        run(net, np.zeros((1, 4), dtype=int))
    with pytest.raises(GoldenError, match=r"integers in 0..7 \(input.bits 3\), got values in 0..8"):
        run(net, np.array([[[[0, 8, 3, 1]]]]))
    with pytest.raises(GoldenError, match="quantize_input"):
        run(net, np.zeros((1, 1, 1, 4)))
    with pytest.raises(GoldenError, match="samples must be an integer >= 1"):
        run(net, np.zeros((1, 1, 1, 4), dtype=int), samples=0)


def test_architecture_is_an_error() -> None:
    net = Network(
        "arch", InputSpec((1, 1, 4)), (Layer("out", (Edge("linear", "input", 1),), (2,)),)
    ).validate()
    with pytest.raises(GoldenError, match="architecture and has no weights: export a trained"):
        run(net, np.zeros((1, 1, 1, 4), dtype=int))
