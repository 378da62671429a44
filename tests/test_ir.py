"""The deployable network format: round trips through files, reproducible bytes, validation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import (
    FORMAT,
    VERSION,
    DropoutSpec,
    Edge,
    InputSpec,
    IRError,
    Layer,
    LFSRSpec,
    Network,
    Neuron,
    load_network,
    network_to_bytes,
    save_network,
)

# --- networks ------------------------------------------------------------------------------------


def full_network(weights: bool = True, encoding: str = "rate") -> Network:
    """Every node and edge kind: conv2d (stride, padding, both dropout sources and
    granularities), a cell (conv3x3 + conv1x1 + skip + zero), linear layers summing two edges,
    both resets, leak and no leak, biases, count decoding, rate input with its LFSR."""
    rng = np.random.default_rng(0)

    def w(bits: int, shape: tuple[int, ...]) -> np.ndarray | None:
        if not weights:
            return None
        if bits == 1:
            return rng.choice([-1, 1], shape)
        limit = 2 ** (bits - 1) - 1
        return rng.integers(-limit, limit + 1, shape)

    def arr(values) -> np.ndarray | None:
        return np.asarray(values) if weights else None

    lfsr_drop = DropoutSpec(0.25, "channel", "lfsr", 3, LFSRSpec(12, 77))
    mtj_drop = DropoutSpec(0.5, "row", "mtj", 8)
    layers = (
        Layer(
            "conv1",
            (Edge("conv2d", "input", 4, 3, 2, 1, w(4, (4, 2, 3, 3)), dropout=lfsr_drop),),
            (4, 4, 4),
            Neuron(arr([3, 4, 5, 6]), leak_shift=2, reset="subtract", membrane_bits=12),
            arr([0, -1, 2, 1]),
        ),
        Layer(
            "cell",
            (
                Edge("conv2d", "conv1", 1, 3, 1, 1, w(1, (4, 4, 3, 3)), dropout=mtj_drop),
                Edge("conv2d", "conv1", 8, 1, 1, 0, w(8, (4, 4, 1, 1))),
                Edge("skip", "conv1"),
                Edge("zero", "input"),
            ),
            (4, 4, 4),
            Neuron(arr([2, 2, 2, 2]), leak_shift=None, reset="zero", membrane_bits=8),
        ),
        Layer(
            "fc",
            (
                Edge("linear", "cell", 2, weight=w(2, (16, 64)), dropout=mtj_drop),
                Edge("linear", "conv1", 1, weight=w(1, (16, 64))),
            ),
            (16,),
            Neuron(arr(np.arange(1, 17)), leak_shift=1, reset="subtract", membrane_bits=16),
            arr(np.arange(-8, 8)),
        ),
        Layer(
            "out",
            (Edge("linear", "fc", 3, weight=w(3, (10, 16))),),
            (10,),
            Neuron(arr(np.full(10, 3)), leak_shift=4, reset="zero", membrane_bits=6),
        ),
    )
    lfsr = LFSRSpec(16, 0xACE1) if encoding == "rate" else None
    return Network(
        "full",
        InputSpec((2, 8, 8), bits=6, encoding=encoding, lfsr=lfsr),
        layers,
        timesteps=5,
        output_decoding="count",
        metadata={"searched": True, "score": 0.25, "cells": ["a", "b"]},
    ).validate()


def small_network(**changes) -> Network:
    """A 2-layer MLP; ``changes`` replace fields of the hidden layer's edge or neuron."""
    edge = {"kind": "linear", "source": "input", "weight_bits": 1, "weight": np.ones((3, 4))}
    edge.update(changes.pop("edge", {}))
    neuron = {"threshold": np.array([1, 2, 3]), "leak_shift": None, "membrane_bits": 8}
    neuron.update(changes.pop("neuron", {}))
    out_edge = Edge("linear", "h", 1, weight=np.ones((2, 3), dtype=int))
    net = Network(
        "small",
        InputSpec((1, 2, 2), bits=4),
        (
            Layer("h", (Edge(**edge),), changes.pop("out_shape", (3,)), Neuron(**neuron)),
            Layer("out", (out_edge,), (2,)),
        ),
        **changes,
    )
    return net


def assert_same(a: Network, b: Network) -> None:
    """Same structure and arrays (Network holds arrays, so it does not compare with ==)."""
    assert network_to_bytes(a) == network_to_bytes(b)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.name, la.out_shape) == (lb.name, lb.out_shape)
        for ea, eb in zip(la.edges, lb.edges, strict=True):
            assert (ea.kind, ea.source, ea.weight_bits, ea.kernel, ea.stride, ea.padding) == (
                eb.kind,
                eb.source,
                eb.weight_bits,
                eb.kernel,
                eb.stride,
                eb.padding,
            )
            assert ea.dropout == eb.dropout and ea.weight_shape == eb.weight_shape
            if ea.weight is None:
                assert eb.weight is None
            else:
                np.testing.assert_array_equal(ea.weight, eb.weight)
                assert eb.weight.dtype == np.int64
        assert (la.neuron is None) == (lb.neuron is None)
        if la.neuron is not None:
            na, nb = la.neuron, lb.neuron
            assert (na.leak_shift, na.reset, na.membrane_bits) == (
                nb.leak_shift,
                nb.reset,
                nb.membrane_bits,
            )
            assert (na.threshold is None) == (nb.threshold is None)
            if na.threshold is not None:
                np.testing.assert_array_equal(na.threshold, nb.threshold)
        assert (la.bias is None) == (lb.bias is None)
        if la.bias is not None:
            np.testing.assert_array_equal(la.bias, lb.bias)


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["rate", "direct"])
def test_round_trip_every_node_and_edge_kind(tmp_path: Path, encoding: str) -> None:
    net = full_network(encoding=encoding)
    save_network(net, tmp_path)
    assert (tmp_path / "weights.npz").is_file()
    loaded = load_network(tmp_path)
    assert_same(net, loaded)
    assert loaded.input == net.input and loaded.metadata == net.metadata
    assert (loaded.timesteps, loaded.output_decoding) == (5, "count")
    assert loaded.has_weights
    # the JSON file alone (next to its weights) loads too
    assert_same(net, load_network(tmp_path / "network.json"))


def test_round_trip_stores_documented_keys(tmp_path: Path) -> None:
    save_network(full_network(), tmp_path)
    with np.load(tmp_path / "weights.npz") as data:
        keys = set(data.files)
        assert all(data[k].dtype == np.int64 for k in keys)
    assert keys == {
        "conv1.0.weight",
        "conv1.threshold",
        "conv1.bias",
        "cell.0.weight",
        "cell.1.weight",
        "cell.threshold",
        "fc.0.weight",
        "fc.1.weight",
        "fc.threshold",
        "fc.bias",
        "out.0.weight",
        "out.threshold",
    }
    doc = json.loads((tmp_path / "network.json").read_text())
    assert (doc["format"], doc["version"]) == (FORMAT, VERSION)
    assert doc["layers"][1]["edges"][2] == {"kind": "skip", "source": "conv1"}
    assert doc["layers"][0]["edges"][0]["dropout"] == {
        "p": 0.25,
        "granularity": "channel",
        "source": "lfsr",
        "modules": 3,
        "lfsr": {"width": 12, "seed": 77},
    }


def test_architecture_round_trip_without_weights(tmp_path: Path) -> None:
    arch = full_network(weights=False)
    assert not arch.has_weights
    _, npz = network_to_bytes(arch)
    assert npz is None
    save_network(full_network(), tmp_path)  # a stale weights.npz must go
    save_network(arch, tmp_path)
    assert not (tmp_path / "weights.npz").exists()
    loaded = load_network(tmp_path)
    assert_same(arch, loaded)
    assert not loaded.has_weights
    assert loaded.layers[1].edges[0].weight_shape == (4, 4, 3, 3)
    assert loaded.layers[2].edges[0].weight_shape == (16, 64)


def test_files_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_network(full_network(), tmp_path / "a")
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)  # a later clock
    save_network(full_network(), tmp_path / "b")
    save_network(load_network(tmp_path / "a"), tmp_path / "c")  # re-saving a loaded network
    for name in ("network.json", "weights.npz"):
        data = (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).read_bytes() == data
        assert (tmp_path / "c" / name).read_bytes() == data


def test_numpy_scalars_and_integral_floats_are_normalised(tmp_path: Path) -> None:
    net = Network(
        "np",
        InputSpec((np.int64(1), 2, 2), bits=np.int32(4), encoding="rate", lfsr=LFSRSpec(8, 3)),
        (
            Layer(
                "h",
                (Edge("conv2d", "input", np.int64(2), np.int64(1), weight=np.ones((2, 1, 1, 1))),),
                (2, 2, 2),
                Neuron(np.array([1.0, 2.0]), np.int64(1), "subtract", np.int16(8)),
            ),
            Layer(
                "out",
                (
                    Edge(
                        "linear",
                        "h",
                        1,
                        weight=-np.ones((3, 8), dtype=np.int8),
                        dropout=DropoutSpec(np.float64(0.5), modules=np.int64(2)),
                    ),
                ),
                (3,),
                bias=np.array([1, 2, 3], dtype=np.uint8),
            ),
        ),
        timesteps=np.int64(2),
    ).validate()
    assert type(net.timesteps) is int and type(net.layers[0].edges[0].weight_bits) is int
    assert net.layers[0].edges[0].weight.dtype == np.int64
    save_network(net, tmp_path)  # json.dumps refuses numpy scalars
    assert_same(net, load_network(tmp_path))


def test_linear_channel_dropout_is_refused() -> None:
    _error(
        r"layer 'h'.edges\[0\].dropout.granularity 'channel' needs a conv2d edge.*use "
        r"granularity 'row'",
        lambda: small_network(edge={"dropout": DropoutSpec(0.2, granularity="channel")}),
    )
    net = small_network(edge={"dropout": DropoutSpec(0.2, granularity="row")}).validate()
    assert net.layers[0].edges[0].dropout.granularity == "row"


@pytest.mark.parametrize(
    ("kind", "window", "listed"),
    [
        ("linear", {"kernel": 3}, "kernel 3"),
        ("linear", {"stride": 2, "padding": 1}, "stride 2, padding 1"),
        ("skip", {"kernel": 3}, "kernel 3"),
    ],
)
def test_a_window_on_an_edge_without_one_is_refused(kind: str, window: dict, listed: str) -> None:
    def build() -> Network:
        if kind == "linear":
            return small_network(edge={"kind": kind, **window})
        hidden = Layer("h", (Edge("linear", "input", weight=np.ones((3, 4))),), (3,), Neuron())
        out = Layer("out", (Edge(kind, "h", **window),), (3,))
        return Network("skip", InputSpec((1, 2, 2), bits=4), (hidden, out))

    _error(rf"a {kind} edge has no convolution window, but it has {listed}; remove them", build)


def test_validate_is_idempotent() -> None:
    net = full_network()
    assert_same(net, net.validate().validate())


# --- validation of networks built in code --------------------------------------------------------


def _error(match: str, build) -> None:
    with pytest.raises(IRError, match=match):
        build().validate()


def test_weight_shape_errors() -> None:
    _error(
        r"layer 'h'.edges\[0\].weight must have shape \(3, 4\), got \(3, 5\)",
        lambda: small_network(edge={"weight": np.ones((3, 5))}),
    )
    _error(
        r"layer 'h'.edges\[0\]: a linear edge needs a flat layer shape \(N,\), got \(3, 1, 1\)",
        lambda: small_network(out_shape=(3, 1, 1)),
    )


def test_conv_geometry_errors() -> None:
    conv = {"kind": "conv2d", "kernel": 3, "padding": 1, "weight": np.ones((3, 1, 3, 3))}
    _error(
        r"layer 'h'.edges\[0\]: a 3x3 stride 2 padding 1 convolution of \(1, 2, 2\) gives "
        r"\(3, 1, 1\), but the layer's out_shape is \(3, 2, 2\)",
        lambda: small_network(edge={**conv, "stride": 2}, out_shape=(3, 2, 2)),
    )
    _error(
        r"layer 'h'.edges\[0\].padding must be an integer in 0..2, got 3",
        lambda: small_network(edge={**conv, "padding": 3}, out_shape=(3, 2, 2)),
    )
    _error(
        r"layer 'h'.edges\[0\].kernel must be an integer in 1..15, got 16",
        lambda: small_network(edge={**conv, "kernel": 16}, out_shape=(3, 2, 2)),
    )
    _error(
        r"layer 'h'.edges\[0\].stride must be an integer in 1..8, got 0",
        lambda: small_network(edge={**conv, "stride": 0}, out_shape=(3, 2, 2)),
    )


@pytest.mark.parametrize(
    ("bits", "weight", "match"),
    [
        (1, [[1, 1, 0, 1]] * 3, r"must be -1 or \+1 for weight_bits 1; 3 values are not "),
        (1, [[1, 1, 2, 1]] * 3, r"first: 2 at \(0, 2\)"),
        (4, [[7, -7, 0, 8]] * 3, r"must be in -7..7 for weight_bits 4"),
        (4, [[7, -8, 0, 1]] * 3, r"must be in -7..7 for weight_bits 4.*first: -8"),
        (8, [[128, 0, 0, 0]] * 3, r"must be in -127..127 for weight_bits 8"),
        (2, [[0.5, 0, 0, 0]] * 3, r"weight must hold \(finite\) integers, got dtype float64"),
        (2, [[np.inf, 0, 0, 0]] * 3, r"must hold \(finite\) integers"),
        (0, [[1, 1, 1, 1]] * 3, r"weight_bits must be an integer in 1..16, got 0"),
        (17, [[1, 1, 1, 1]] * 3, r"weight_bits must be an integer in 1..16, got 17"),
    ],
)
def test_bad_weights_for_weight_bits(bits: int, weight, match: str) -> None:
    _error(
        r"layer 'h'.edges\[0\].*" + match,
        lambda: small_network(edge={"weight_bits": bits, "weight": np.array(weight)}),
    )


def test_weights_at_the_limits_are_valid() -> None:
    for bits in range(2, 9):
        limit = 2 ** (bits - 1) - 1
        w = np.array([[limit, -limit, 0, 1]] * 3)
        small_network(edge={"weight_bits": bits, "weight": w}).validate()


def _two_layers(first: Layer, second: Layer, **kw) -> Network:
    return Network("n", InputSpec((1, 2, 2)), (first, second), **kw)


def _hidden(name: str = "h", source: str = "input", shape=(3,)) -> Layer:
    rows = 4 if source == "input" else 3
    edge = Edge("linear", source, 1, weight=np.ones((3, rows)))
    return Layer(name, (edge,), shape, Neuron(np.ones(3, dtype=int)))


def test_graph_errors() -> None:
    out = Layer("out", (Edge("linear", "h", 1),), (2,))
    _error(
        r"layer 'out'.edges\[0\]: a skip edge needs equal shapes, source \(3,\) vs layer \(2,\)",
        lambda: _two_layers(_hidden(), Layer("out", (Edge("skip", "h"),), (2,))),
    )
    _error(
        r"layer 'out'.edges\[0\].source 'hidden' is not 'input' or an earlier layer "
        r"\(\['h', 'input'\]\)",
        lambda: _two_layers(_hidden(), Layer("out", (Edge("linear", "hidden", 1),), (2,))),
    )
    _error(
        r"layer 'h'.edges\[0\].source 'out' is not 'input' or an earlier layer",
        lambda: _two_layers(_hidden(source="out"), out),
    )
    _error(r"layer 'h': the name is used twice", lambda: _two_layers(_hidden(), _hidden()))
    _error(
        r"layer 'input': a layer needs a unique non-empty name other than 'input'",
        lambda: _two_layers(_hidden("input"), out),
    )
    _error(
        r"layer 'out' has only zero edges",
        lambda: _two_layers(_hidden(), Layer("out", (Edge("zero", "h"),), (2,))),
    )
    _error(
        r"layer 'out' needs at least one edge",
        lambda: _two_layers(_hidden(), Layer("out", (), (2,))),
    )


def test_edge_kind_errors() -> None:
    _error(
        r"layer 'h'.edges\[0\].kind must be one of \['linear', 'conv2d', 'skip', 'zero'\], "
        r"got 'dense'",
        lambda: small_network(edge={"kind": "dense"}),
    )
    skip_with_weight = Layer("out", (Edge("skip", "h", weight=np.ones((3, 3))),), (3,))
    _error(
        r"layer 'out'.edges\[0\]: a skip edge has no crossbar, so no weight and no dropout",
        lambda: _two_layers(_hidden(), skip_with_weight),
    )


def test_output_neuron_errors() -> None:
    out = Layer("out", (Edge("linear", "h", 1, weight=np.ones((2, 3))),), (2,))
    _error(
        r"layer 'out' needs LIF neurons \(only the output layer with decoding 'membrane' ",
        lambda: _two_layers(_hidden(), out, output_decoding="count"),
    )
    with_neuron = Layer(out.name, out.edges, out.out_shape, Neuron(np.ones(2)))
    _error(
        r"layer 'out'.neuron: the output layer with decoding 'membrane' is an accumulator",
        lambda: _two_layers(_hidden(), with_neuron),
    )
    _two_layers(_hidden(), with_neuron, output_decoding="count").validate()
    hidden_without = Layer("h", _hidden().edges, (3,))
    _error(r"layer 'h' needs LIF neurons", lambda: _two_layers(hidden_without, out))


@pytest.mark.parametrize(
    ("neuron", "match"),
    [
        ({"threshold": np.array([1, 0, 3])}, r"threshold must be in 1..127 \(membrane_bits 8\); "),
        (
            {"threshold": np.array([1, 128, 3])},
            r"threshold must be in 1..127 \(membrane_bits 8\); channel 1 has 128",
        ),
        ({"threshold": np.array([1, 2])}, r"threshold must have shape \(3,\), got \(2,\)"),
        (
            {"threshold": np.array([1, 2, 2**15]), "membrane_bits": 16},
            r"threshold must be in 1..32767",
        ),
        ({"leak_shift": 0}, r"leak_shift must be an integer in 1..16, got 0"),
        ({"leak_shift": 17}, r"leak_shift must be an integer in 1..16, got 17"),
        ({"reset": "hard"}, r"reset must be one of \['subtract', 'zero'\], got 'hard'"),
        ({"membrane_bits": 1}, r"membrane_bits must be an integer in 2..32, got 1"),
        ({"membrane_bits": 33}, r"membrane_bits must be an integer in 2..32, got 33"),
    ],
)
def test_neuron_errors(neuron: dict, match: str) -> None:
    _error(r"layer 'h'.neuron." + match, lambda: small_network(neuron=neuron))


def test_bias_and_network_errors() -> None:
    net = small_network()
    bad_bias = Layer("h", net.layers[0].edges, (3,), net.layers[0].neuron, np.ones(4))
    _error(
        r"layer 'h'.bias must have shape \(3,\), got \(4,\)",
        lambda: Network("n", net.input, (bad_bias, net.layers[1])),
    )
    _error(r"timesteps must be an integer in 1..4096, got 0", lambda: small_network(timesteps=0))
    _error(
        r"timesteps must be an integer in 1..4096, got 2.0", lambda: small_network(timesteps=2.0)
    )
    _error(
        r"output_decoding must be one of \['membrane', 'count'\], got 'spikes'",
        lambda: small_network(output_decoding="spikes"),
    )
    _error(r"a network needs at least one layer", lambda: Network("n", net.input, ()))
    _error(r"name must be a non-empty string", lambda: Network("", net.input, net.layers))
    _error(r"metadata must be a dict", lambda: small_network(metadata=[1]))


def test_partial_weights_are_an_error() -> None:
    _error(
        r"layer 'out'.edges\[0\].weight is missing while layer 'h'.edges\[0\].weight is given",
        lambda: _two_layers(_hidden(), Layer("out", (Edge("linear", "h", 1),), (2,))),
    )
    _error(
        r"layer 'h'.neuron.threshold is missing while layer 'h'.edges\[0\].weight is given",
        lambda: small_network(neuron={"threshold": None}),
    )


def test_architecture_may_keep_thresholds_and_biases() -> None:
    """Without any weight the network is an architecture, whatever else it holds."""
    net = full_network()
    bare = net.architecture()
    assert not bare.has_weights


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: DropoutSpec(0.0), r"dropout.p must be a number in \(0, 1\), got 0.0"),
        (lambda: DropoutSpec(1.0), r"dropout.p must be a number in \(0, 1\), got 1.0"),
        (lambda: DropoutSpec(True), r"dropout.p must be a number in \(0, 1\), got True"),
        (lambda: DropoutSpec("0.5"), r"dropout.p must be a number"),
        (lambda: DropoutSpec(0.5, "pixel"), r"dropout.granularity must be one of \['row', "),
        (lambda: DropoutSpec(0.5, source="sram"), r"dropout.source must be one of \['mtj', 'lfsr'"),
        (lambda: DropoutSpec(0.5, modules=0), r"dropout.modules must be an integer >= 1, got 0"),
        (lambda: DropoutSpec(0.5, lfsr={"width": 8}), r"dropout.lfsr must be an LFSRSpec or None"),
        (lambda: LFSRSpec(3), r"lfsr.width must be one of \[4, 5, .*32\], got 3"),
        (lambda: LFSRSpec(8, 0), r"lfsr.seed must be an integer in 1..255, got 0"),
        (lambda: LFSRSpec(8, 256), r"lfsr.seed must be an integer in 1..255, got 256"),
        (lambda: InputSpec((1, 8)), r"input.shape must be \(C, H, W\) of positive integers"),
        (lambda: InputSpec((1, 0, 8)), r"input.shape must be an integer >= 1, got 0"),
        (lambda: InputSpec((1, 8, 8), bits=0), r"input.bits must be an integer in 1..16, got 0"),
        (lambda: InputSpec((1, 8, 8), bits=17), r"input.bits must be an integer in 1..16, got 17"),
        (lambda: InputSpec((1, 8, 8), encoding="analog"), r"input.encoding must be one of"),
        (
            lambda: InputSpec((1, 8, 8), bits=8, encoding="rate", lfsr=LFSRSpec(4)),
            r"input.lfsr.width \(4\) must be >= input.bits \(8\)",
        ),
    ],
)
def test_spec_errors(build, match: str) -> None:
    with pytest.raises(IRError, match=match):
        build()


def test_rate_input_gets_a_default_lfsr() -> None:
    assert InputSpec((1, 2, 2), encoding="rate").lfsr == LFSRSpec()
    assert DropoutSpec(0.5, source="lfsr").lfsr == LFSRSpec()
    assert DropoutSpec(0.5).lfsr is None


# --- errors in files -----------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, dict]:
    save_network(full_network(), tmp_path)
    return tmp_path, json.loads((tmp_path / "network.json").read_text())


def _load_doc(directory: Path, doc) -> None:
    (directory / "network.json").write_text(json.dumps(doc))
    load_network(directory)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(format="onnx"), r"is not a neurocim network \(format 'onnx', expected"),
        (lambda d: d.update(version=2), r"has format version 2; this neurocim reads version 1"),
        (lambda d: d.update(version=True), r"has format version True"),
        (lambda d: d.pop("name"), r"lacks the required field 'name'"),
        (lambda d: d.pop("layers"), r"lacks the required field 'layers'"),
        (lambda d: d.pop("input"), r"lacks the required field 'input'"),
        (lambda d: d["input"].pop("shape"), r"input lacks the required field 'shape'"),
        (lambda d: d.update(extra=1), r"unknown fields \['extra'\]; known fields"),
        (lambda d: d.update(layers={}), r"layers must be a JSON list"),
        (lambda d: d["layers"][2].pop("out_shape"), r"layer 'fc' lacks the required field 'out_"),
        (lambda d: d["layers"][2].pop("edges"), r"layer 'fc' lacks the required field 'edges'"),
        (lambda d: d["layers"][1].pop("name"), r"layers\[1\] lacks the required field 'name'"),
        (
            lambda d: d["layers"][2]["edges"][1].pop("kind"),
            r"layer 'fc'.edges\[1\] lacks the required field 'kind'",
        ),
        (
            lambda d: d["layers"][2]["edges"][1].pop("source"),
            r"layer 'fc'.edges\[1\] lacks the required field 'source'",
        ),
        (
            lambda d: d["layers"][0]["edges"][0].update(stirde=2),
            r"layer 'conv1'.edges\[0\]: unknown fields \['stirde'\]",
        ),
        (
            lambda d: d["layers"][0]["edges"][0]["dropout"].update(p=1.5),
            r"layer 'conv1'.edges\[0\]: dropout.p must be a number in \(0, 1\), got 1.5",
        ),
        (
            lambda d: d["layers"][0]["edges"][0]["dropout"].pop("p"),
            r"layer 'conv1'.edges\[0\]: dropout lacks the required field 'p'",
        ),
        (
            lambda d: d["layers"][0]["edges"][0]["dropout"]["lfsr"].update(seed=0),
            r"layer 'conv1'.edges\[0\]: lfsr.seed must be an integer in 1..4095, got 0",
        ),
        (
            lambda d: d["layers"][0]["neuron"].update(leak=1),
            r"layer 'conv1': neuron: unknown fields \['leak'\]",
        ),
        (
            lambda d: d["layers"][0]["neuron"].update(membrane_bits=2),
            r"layer 'conv1'.neuron.threshold must be in 1..1 \(membrane_bits 2\); channel 0 has 3",
        ),
        (
            lambda d: d["layers"][2]["edges"][1].update(kernel=3),
            r"layer 'fc'.edges\[1\]: a linear edge has no convolution window, but it has kernel 3",
        ),
        (
            lambda d: d["layers"][2]["edges"][0]["dropout"].update(granularity="channel"),
            r"layer 'fc'.edges\[0\].dropout.granularity 'channel' needs a conv2d edge",
        ),
        (
            lambda d: d["input"].update(bits=32),
            r"input: input.bits must be an integer in 1..16, got 32",
        ),
        (lambda d: d["input"].update(shape=5), r"input has a malformed field"),
        (lambda d: d.update(timesteps="5"), r"timesteps must be an integer in 1..4096, got '5'"),
    ],
)
def test_file_errors_name_the_field(saved, change, match: str) -> None:
    directory, doc = saved
    change(doc)
    with pytest.raises(IRError, match=match):
        _load_doc(directory, doc)


def test_file_errors_name_the_file(saved) -> None:
    directory, doc = saved
    doc["layers"][3]["out_shape"] = [11]
    with pytest.raises(IRError, match=r"network.json: layer 'out'.edges\[0\].weight must have"):
        _load_doc(directory, doc)


def test_json_that_is_not_a_network(tmp_path: Path) -> None:
    (tmp_path / "network.json").write_text("[1, 2]")
    with pytest.raises(IRError, match=r"is not a neurocim network \(format 'list'"):
        load_network(tmp_path)
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(IRError, match="is not valid JSON"):
        load_network(tmp_path)
    with pytest.raises(IRError, match=r"no network at .*expected a directory with network\.json"):
        load_network(tmp_path / "missing")


def test_weight_file_errors(saved) -> None:
    directory, _ = saved
    with np.load(directory / "weights.npz") as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(directory / "weights.npz", **arrays, **{"fc1.0.weight": np.ones(3, dtype=np.int64)})
    with pytest.raises(IRError, match=r"weights.npz holds arrays no field .* \['fc1.0.weight'\]"):
        load_network(directory)
    bad = dict(arrays)
    bad["fc.0.weight"] = bad["fc.0.weight"] * 3  # 2-bit weights must be in -1..1
    np.savez(directory / "weights.npz", **bad)
    with pytest.raises(IRError, match=r"layer 'fc'.edges\[0\].weight must be in -1..1"):
        load_network(directory)
    missing = {k: v for k, v in arrays.items() if k != "out.threshold"}
    np.savez(directory / "weights.npz", **missing)
    with pytest.raises(IRError, match=r"layer 'out'.neuron.threshold is missing"):
        load_network(directory)
    (directory / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(IRError, match="is not a readable npz archive"):
        load_network(directory)


# --- what the network was trained with: the MTJ drive and the data set ------------------------


def test_trained_driver_and_dataset_round_trip(tmp_path: Path) -> None:
    from hdl.driver import MTJDriver
    from hdl.ir import DataSource
    from hdl.mtj import MTJDevice

    driver = MTJDriver(
        device=MTJDevice(delta=45.0, ic0_ua=80.0, reset_current_ua=120.0), pulse_ns=20
    )
    net = small_network(mtj_driver=driver, dataset=DataSource("mnist", "/data/mnist")).validate()
    save_network(net, tmp_path)
    doc = json.loads((tmp_path / "network.json").read_text())
    assert doc["mtj_driver"]["pulse_ns"] == 20.0
    assert doc["mtj_driver"]["device"]["delta"] == 45.0
    assert doc["dataset"] == {"name": "mnist", "root": "/data/mnist"}
    again = load_network(tmp_path)
    assert again.mtj_driver == driver and again.dataset == DataSource("mnist", "/data/mnist")
    # a network without them writes neither (files of earlier networks keep their bytes)
    save_network(small_network().validate(), tmp_path)
    doc = json.loads((tmp_path / "network.json").read_text())
    assert "mtj_driver" not in doc and "dataset" not in doc
    assert load_network(tmp_path).mtj_driver is None


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("mtj_driver", {"pulse_ns": -1}, r"mtj_driver: mtj_driver.pulse_ns must be a finite"),
        ("mtj_driver", {"pulse": 20}, r"mtj_driver: unknown fields \['pulse'\]"),
        ("mtj_driver", {"device": {"delta": 0}}, r"mtj_driver: MTJDevice.delta"),
        ("mtj_driver", {"device": {"dleta": 40}}, r"mtj_driver.device: unknown fields"),
        ("dataset", {"root": "x"}, r"dataset lacks the required field 'name'"),
        ("dataset", {"name": ""}, r"dataset.name must be a non-empty string"),
    ],
)
def test_trained_driver_and_dataset_errors_name_the_field(
    tmp_path: Path, field: str, value, match: str
) -> None:
    save_network(small_network().validate(), tmp_path)
    doc = json.loads((tmp_path / "network.json").read_text())
    doc[field] = value
    (tmp_path / "network.json").write_text(json.dumps(doc))
    with pytest.raises(IRError, match=match):
        load_network(tmp_path)


def test_the_network_driver_is_the_default_of_every_consumer() -> None:
    from hdl.cost import estimate
    from hdl.driver import MTJDriver, driver_for
    from hdl.mapping import map_network

    net = small_network(mtj_driver=MTJDriver(pulse_ns=20)).validate()
    assert driver_for(net).pulse_ns == 20.0
    assert driver_for(net, MTJDriver(pulse_ns=30)).pulse_ns == 30.0  # an explicit one wins
    assert driver_for(small_network().validate()) == MTJDriver()
    hw = HardwareConfig()
    assert map_network(net, hw).driver.pulse_ns == 20.0
    with pytest.raises(HardwareError, match=r"driver must be an hdl\.driver\.MTJDriver"):
        map_network(net, hw, driver=20)
    assert estimate(net, hw).as_dict() == estimate(net, hw, driver=MTJDriver(pulse_ns=20)).as_dict()
