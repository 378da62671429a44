from __future__ import annotations

import nir
import numpy as np
import pytest

from hdl.ir import DropoutSpec, Edge, InputSpec, IRError, Layer, Network, Neuron, network_to_bytes
from hdl.nir_io import from_nir, read_nir, to_nir, write_nir


def _network() -> Network:
    rng = np.random.default_rng(0)
    return Network(
        name="cell",
        input=InputSpec((1, 6, 6), bits=4),
        layers=(
            Layer(
                "c1",
                (
                    Edge(
                        "conv2d",
                        "input",
                        kernel=3,
                        padding=1,
                        weight=rng.choice([-1, 1], (4, 1, 3, 3)),
                    ),
                ),
                (4, 6, 6),
                neuron=Neuron(threshold=np.array([1, 2, 3, 4]), leak_shift=1),
                bias=np.array([0, -1, 2, 0]),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        weight_bits=3,
                        kernel=3,
                        padding=1,
                        weight=rng.integers(-3, 4, (4, 4, 3, 3)),
                        dropout=DropoutSpec(p=0.25, granularity="channel", modules=2),
                    ),
                    Edge("skip", "c1"),
                    Edge("zero", "input"),
                ),
                (4, 6, 6),
                neuron=Neuron(threshold=np.full(4, 5), reset="zero", membrane_bits=12),
            ),
            Layer(
                "out",
                (
                    Edge(
                        "linear",
                        "c2",
                        weight=rng.choice([-1, 1], (3, 144)),
                        dropout=DropoutSpec(p=0.5),
                    ),
                ),
                (3,),
            ),
        ),
        timesteps=3,
    ).validate()


def test_round_trip_through_a_nir_file_is_exact(tmp_path):
    net = _network()
    path = write_nir(net, tmp_path / "net.nir")
    again = read_nir(path)
    assert network_to_bytes(again) == network_to_bytes(net)


def test_nir_nodes_carry_the_neuron_model():
    graph = to_nir(_network())
    lif = graph.nodes["c1"]
    assert isinstance(lif, nir.LIF)
    np.testing.assert_array_equal(lif.tau, 2.0)  # beta = 1 - 1/tau = 0.5 for leak_shift 1
    np.testing.assert_array_equal(lif.v_threshold[:, 0, 0], [1, 2, 3, 4])
    assert lif.v_threshold.shape == (4, 6, 6)  # NIR neurons have the layer's full shape
    assert isinstance(graph.nodes["c2"], nir.IF)  # no leak
    assert isinstance(graph.nodes["out"], nir.I)  # the output accumulator
    assert isinstance(graph.nodes["out.edge0.flatten"], nir.Flatten)
    assert ("c1", "c2") in graph.edges  # the skip edge
    assert graph.nodes["c2.edge0"].weight.shape == (4, 4, 3, 3)


def test_foreign_graphs_are_refused_with_a_reason():
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input({"input": np.array([2])}),
            "output": nir.Output({"output": np.array([2])}),
        },
        edges=[("input", "output")],
        type_check=False,
    )
    with pytest.raises(IRError, match="no neurocim metadata"):
        from_nir(graph)


def test_architecture_without_weights_is_refused():
    net = _network()
    bare = net.architecture()
    with pytest.raises(IRError, match="no weights"):
        to_nir(bare)
