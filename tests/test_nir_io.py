"""NIR interchange: neurocim's exact round trip, and snntorch (through nirtorch) as the peer.

The references are snntorch itself: ``snntorch.import_from_nir`` runs the graphs neurocim
writes, and ``snntorch.export_to_nir`` writes graphs of snntorch networks that neurocim reads;
their spikes are compared with the integer golden model's where the float and the integer
semantics must agree (docs/hardware-model.md section 6).
"""

from __future__ import annotations

from dataclasses import replace

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir

from hdl.golden import run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, IRError, Layer, Network, Neuron, network_to_bytes
from hdl.lfsr import rate_spikes
from hdl.nir_io import DT, NO_LEAK_SHIFT, from_nir, read_nir, to_nir, write_nir
from sim.netgen import example_networks, random_images, random_network

# snntorch.export_to_nir calls nirtorch's older extract_nir_graph, which warns about itself
pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")


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
    net = _network()
    graph = to_nir(net)
    lif = graph.nodes["c1"]
    assert isinstance(lif, nir.LIF)
    # beta = 1 - dt/tau = 0.5 for leak_shift 1, and the input gain r * dt / tau is 1
    np.testing.assert_allclose(1 - DT / lif.tau, 0.5, rtol=1e-12)
    np.testing.assert_allclose(lif.r * DT / lif.tau, 1.0, rtol=1e-12)
    assert lif.v_threshold.shape == (4, 6, 6)  # NIR neurons have the layer's full shape
    # thresholds 1..4 differ: each channel's currents are scaled by 1/(θ - 1/2), v_threshold 1
    np.testing.assert_array_equal(lif.v_threshold, 1.0)
    w = net.layer("c1").edges[0].weight
    k = 1 / (np.array([1, 2, 3, 4]) - 0.5)
    np.testing.assert_allclose(graph.nodes["c1.edge0"].weight, w * k[:, None, None, None])
    np.testing.assert_allclose(graph.nodes["c1.edge0"].bias, [0, -1 / 1.5, 2 / 2.5, 0])
    c2 = graph.nodes["c2"]
    assert isinstance(c2, nir.LIF)  # no leak: tau = dt * 2**40, beta 1 in float32
    np.testing.assert_allclose(c2.tau, DT * 2.0**NO_LEAK_SHIFT)
    assert np.float32(1 - DT / c2.tau.flat[0]) == 1.0
    np.testing.assert_array_equal(c2.v_threshold, 4.5)  # one threshold: θ - 1/2, integer weights
    np.testing.assert_array_equal(graph.nodes["c2.edge0"].weight, net.layer("c2").edges[0].weight)
    assert ("c1", "c2") in graph.edges  # the skip edge into an unscaled layer
    out = graph.nodes["out"]  # an accumulator of one edge is that edge's Affine
    assert isinstance(out, nir.Affine)
    np.testing.assert_array_equal(out.weight, net.layer("out").edges[0].weight)
    assert isinstance(graph.nodes["out.edge0.flatten"], nir.Flatten)
    assert ("out", "output") in graph.edges


def test_architecture_without_weights_is_refused():
    net = _network()
    bare = net.architecture()
    with pytest.raises(IRError, match="no weights"):
        to_nir(bare)


# --- neurocim -> snntorch ------------------------------------------------------------------------


def _run_snntorch(
    module: torch.nn.Module, inputs: list[torch.Tensor], steps: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run ``module`` (an snntorch network) ``steps`` timesteps on each input in turn, from rest.

    Returns the graph outputs ``(N, T, ...)`` and the spikes of every ``snn.Leaky`` by module
    name, ``(N, T, ...)``.
    """
    leaky = {name: m for name, m in module.named_modules() if isinstance(m, snn.Leaky)}
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(
                name, out[0] if isinstance(out, tuple) else out
            )
        )
        for name, m in leaky.items()
    ]
    outputs, spikes = [], {name: [] for name in leaky}
    with torch.no_grad():
        for x in inputs:
            for m in leaky.values():
                m.mem = torch.zeros(0)  # rest: the next call starts from v = 0
            per_step = []
            for name in leaky:
                spikes[name].append([])
            for _ in range(steps):
                out = module(x)
                per_step.append((out[0] if isinstance(out, tuple) else out).numpy().copy())
                for name in leaky:
                    spikes[name][-1].append(seen[name].numpy().copy())
            outputs.append(per_step)
    for h in hooks:
        h.remove()
    return np.array(outputs), {name: np.array(s) for name, s in spikes.items()}


def _binary_network() -> Network:
    """Binary weights, T = 1, thresholds that differ per channel and ones that do not, biases,
    a skip edge, a flatten, both resets and leaks (which T = 1 never uses)."""
    rng = np.random.default_rng(7)
    return Network(
        name="binary",
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
                neuron=Neuron(threshold=np.array([1, 3, 6, 10]), leak_shift=2),
                bias=np.array([0, -2, 3, 1]),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        kernel=3,
                        padding=1,
                        weight=rng.choice([-1, 1], (4, 4, 3, 3)),
                    ),
                    Edge("skip", "c1"),
                ),
                (4, 6, 6),
                neuron=Neuron(threshold=np.array([2, 2, 4, 1]), reset="zero"),
            ),
            Layer(
                "fc",
                (Edge("linear", "c2", weight=rng.choice([-1, 1], (16, 144))),),
                (16,),
                neuron=Neuron(threshold=np.full(16, 2)),
                bias=rng.integers(-3, 4, 16),
            ),
            Layer(
                "out",
                (Edge("linear", "fc", weight=rng.choice([-1, 1], (5, 16))),),
                (5,),
                bias=np.array([1, 0, -1, 2, 0]),
            ),
        ),
        timesteps=1,
    ).validate()


def test_snntorch_runs_the_exported_binary_network_spike_for_spike(tmp_path):
    net = _binary_network()
    path = write_nir(net, tmp_path / "network.nir")
    module = import_from_nir(nir.read(path))  # what a peer does with the file
    x = np.random.default_rng(1).integers(0, 16, (24, 1, 6, 6))
    golden = run(net, x, trace=True)
    # snntorch's importer keeps Flatten's start_dim 0, so it runs unbatched images
    outputs, spikes = _run_snntorch(module, [torch.tensor(xi, dtype=torch.float32) for xi in x], 1)
    for layer in ("c1", "c2", "fc"):
        ours = golden.spikes[layer][0]  # (N, T, ...)
        assert 0.05 < ours.mean() < 0.95, f"{layer} spikes too rarely or too often to tell"
        np.testing.assert_array_equal(spikes[layer], ours, err_msg=layer)
    # the graph's output at a step is the accumulator's current I; y = Σ_t I
    np.testing.assert_array_equal(outputs.sum(axis=1), golden.outputs[0])


def test_snntorch_runs_a_leaky_exported_network_over_timesteps(tmp_path):
    """T = 3 with leak shift 1 and currents that are multiples of 2**T: the chip's rounded
    leak v - (v >> 1) is then exactly 0.5 * v, so float and integer runs must agree at every
    step; reset to zero is what NIR expresses; the leak-free layer runs with beta 1."""
    rng = np.random.default_rng(3)
    net = Network(
        name="leaky",
        input=InputSpec((1, 4, 4), bits=3),
        layers=(
            Layer(
                "fc1",
                (
                    Edge(
                        "linear",
                        "input",
                        weight_bits=6,
                        weight=8 * rng.choice([-2, -1, 1, 2], (12, 16)),
                    ),
                ),
                (12,),
                neuron=Neuron(threshold=rng.integers(20, 120, 12), leak_shift=1, reset="zero"),
                bias=8 * rng.integers(-3, 4, 12),
            ),
            Layer(
                "fc2",
                (Edge("linear", "fc1", weight_bits=3, weight=rng.integers(-3, 4, (8, 12))),),
                (8,),
                neuron=Neuron(threshold=np.full(8, 3), reset="zero"),
            ),
            Layer("out", (Edge("linear", "fc2", weight=rng.choice([-1, 1], (4, 8))),), (4,)),
        ),
        timesteps=3,
    ).validate()
    module = import_from_nir(nir.read(write_nir(net, tmp_path / "leaky.nir")))
    x = rng.integers(0, 8, (32, 1, 4, 4))
    golden = run(net, x, trace=True)
    outputs, spikes = _run_snntorch(module, [torch.tensor(xi, dtype=torch.float32) for xi in x], 3)
    for layer in ("fc1", "fc2"):
        ours = golden.spikes[layer][0]
        theirs = spikes[layer]
        assert 0.05 < ours.mean() < 0.95, f"{layer} spikes too rarely or too often to tell"
        assert ours[:, 1:].any() and (ours[:, 1:] != ours[:, :1]).any()  # time matters
        np.testing.assert_array_equal(theirs, ours, err_msg=layer)
    np.testing.assert_array_equal(outputs.sum(axis=1), golden.outputs[0])


def test_snntorch_sums_skip_edges_biases_and_a_convolutional_accumulator():
    """The diagonal nodes: a layer of skip edges only (its bias and per-channel thresholds on a
    1x1 Conv2d), and an output accumulator of two edges, (C, H, W), summed by an identity node."""
    rng = np.random.default_rng(5)
    net = Network(
        name="sums",
        input=InputSpec((2, 5, 5), bits=3),
        layers=(
            Layer(
                "a",
                (
                    Edge(
                        "conv2d",
                        "input",
                        kernel=3,
                        padding=1,
                        weight=rng.choice([-1, 1], (2, 2, 3, 3)),
                    ),
                ),
                (2, 5, 5),
                neuron=Neuron(threshold=np.array([2, 5])),
                bias=np.array([1, -1]),
            ),
            Layer(
                "b",
                (Edge("skip", "a"), Edge("skip", "input")),
                (2, 5, 5),
                neuron=Neuron(threshold=np.array([3, 4])),
                bias=np.array([-2, 1]),
            ),
            Layer(
                "out",
                (
                    Edge(
                        "conv2d", "b", kernel=3, padding=1, weight=rng.choice([-1, 1], (2, 2, 3, 3))
                    ),
                    Edge("skip", "a"),
                ),
                (2, 5, 5),
                bias=np.array([0, 3]),
            ),
        ),
    ).validate()
    graph = to_nir(net)
    assert isinstance(graph.nodes["b.edge0"], nir.Conv2d)  # skip into a scaled layer
    assert isinstance(graph.nodes["out"], nir.Conv2d)  # the identity that sums two edges
    module = import_from_nir(graph)
    x = rng.integers(0, 8, (16, 2, 5, 5))
    golden = run(net, x, trace=True)
    outputs, spikes = _run_snntorch(module, [torch.tensor(xi, dtype=torch.float32) for xi in x], 1)
    for layer in ("a", "b"):
        ours = golden.spikes[layer][0]
        assert 0.05 < ours.mean() < 0.95, f"{layer} spikes too rarely or too often to tell"
        np.testing.assert_array_equal(spikes[layer], ours, err_msg=layer)
    np.testing.assert_array_equal(outputs, golden.currents["out"][0])


def _without_dropout(net: Network) -> Network:
    """NIR has no dropout masks: the graph is the network with every crossbar row kept."""
    layers = tuple(
        replace(layer, edges=tuple(replace(e, dropout=None) for e in layer.edges))
        for layer in net.layers
    )
    return replace(net, layers=layers).validate()


@pytest.mark.parametrize("key", ["mlp", "conv", "cell", "random3", "random12"])
def test_snntorch_runs_first_timesteps_of_generated_networks_as_the_chip(key):
    """Any network at t = 0 (where leak and reset have not acted yet): convolutions with stride
    and padding, zero and skip edges, per-channel thresholds, rate-coded input (the graph reads
    the input spikes), both decodings. ADCs wide enough not to saturate."""
    if key.startswith("random"):
        net = random_network(int(key.removeprefix("random")))[0]
    else:
        net = example_networks()[key][0]
    net = _without_dropout(net)
    x = random_images(net, 8, seed=5)
    golden = run(net, x, hw=HardwareConfig(adc_bits=16), trace=True)
    if net.input.encoding == "rate":
        flat = x.reshape(len(x), -1)
        spikes_in = rate_spikes(flat, net.input.bits, net.input.lfsr, 1, net.timesteps)
        x = spikes_in[0, :, 0].reshape(x.shape)  # what the chip's first timestep reads
    module = import_from_nir(to_nir(net))
    outputs, spikes = _run_snntorch(module, [torch.tensor(xi, dtype=torch.float32) for xi in x], 1)
    checked = 0
    for layer in net.layers:
        if layer.neuron is not None:
            ours = golden.spikes[layer.name][0][:, :1]
            np.testing.assert_array_equal(spikes[layer.name.replace(".", "_")], ours, layer.name)
            checked += int(ours.any())
    assert checked >= 1, "no layer spiked: the comparison says nothing"
    if net.output.neuron is None:  # the graph's output is the accumulator's current
        current = golden.currents[net.output.name][0][:, :1]
        np.testing.assert_array_equal(outputs.reshape(current.shape), current)


# --- snntorch -> neurocim ------------------------------------------------------------------------


def _leaky(n: int, beta: float, threshold: list[float], **kw) -> snn.Leaky:
    # one value per neuron: snntorch's exporter needs parameters of the layer's shape
    return snn.Leaky(
        beta=torch.full((n,), beta),
        threshold=torch.tensor(threshold),
        init_hidden=True,
        reset_mechanism="zero",
        **kw,
    )


def _snntorch_net(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, beta2: float = 0.75):
    fc1 = torch.nn.Linear(w1.shape[1], w1.shape[0])
    fc2 = torch.nn.Linear(w2.shape[1], w2.shape[0], bias=False)
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor(w1, dtype=torch.float32))
        fc1.bias.copy_(torch.tensor(b1, dtype=torch.float32))
        fc2.weight.copy_(torch.tensor(w2, dtype=torch.float32))
    n1, n2 = w1.shape[0], w2.shape[0]
    thresholds1 = [20.0 + 12.5 * (i % 5) for i in range(n1)]
    return torch.nn.Sequential(
        fc1,
        _leaky(n1, 0.5, thresholds1),
        fc2,
        _leaky(n2, beta2, [100.0] * n2, output=True),
    )


def test_a_graph_exported_by_snntorch_runs_on_the_golden_model():
    """Linear + Leaky (beta 0.5, then 0.75), integer weights; over T = 3 steps with currents
    that keep the chip's rounded leak exact, the golden model must spike as snntorch does."""
    rng = np.random.default_rng(11)
    w1 = 16 * rng.integers(-2, 3, (10, 6))  # multiples of 2**(leak shift * T) = 16
    b1 = 16 * rng.integers(-1, 2, 10)
    w2 = 64 * rng.integers(-2, 3, (4, 10))
    model = _snntorch_net(w1, b1, w2)
    graph = export_to_nir(model, torch.zeros(1, 6), ignore_dims=[0])
    net = from_nir(graph, timesteps=3, input_bits=4)
    assert [layer.name for layer in net.layers] == ["1", "3"]
    assert [layer.neuron.leak_shift for layer in net.layers] == [1, 2]
    assert net.output_decoding == "count"
    x = rng.integers(0, 16, (40, 1, 1, 6))
    golden = run(net, x, trace=True)
    _, spikes = _run_snntorch(model, [torch.tensor(x.reshape(40, 6), dtype=torch.float32)], 3)
    for layer in ("1", "3"):
        theirs = np.moveaxis(spikes[layer][0], 0, 1)  # (T, N, n) -> (N, T, n)
        ours = golden.spikes[layer][0]
        assert 0.05 < ours.mean() < 0.95, f"{layer} spikes too rarely or too often to tell"
        assert (ours[:, 1:] != ours[:, :1]).any()  # the leak and the reset matter
        np.testing.assert_array_equal(ours, theirs, err_msg=layer)
    np.testing.assert_array_equal(golden.outputs[0], golden.spikes["3"][0].sum(axis=1))


def test_what_the_hardware_cannot_hold_is_refused_naming_node_and_fix():
    rng = np.random.default_rng(0)
    w1, b1, w2 = rng.integers(-2, 3, (5, 6)), np.zeros(5), rng.integers(-2, 3, (3, 5))
    sample = torch.zeros(1, 6)

    fractional = w1.astype(np.float64)
    fractional[1, 2] = 0.5
    graph = export_to_nir(_snntorch_net(fractional, b1, w2), sample, ignore_dims=[0])
    with pytest.raises(IRError, match=r"NIR node '0' weight holds non-integer.*quantize"):
        from_nir(graph)

    graph = export_to_nir(_snntorch_net(w1, b1, w2, beta2=0.6), sample, ignore_dims=[0])
    with pytest.raises(IRError, match=r"NIR node '3': beta = 1 - dt/tau = 0\.6 .*1 - 2\^-s"):
        from_nir(graph)

    synaptic = torch.nn.Sequential(
        torch.nn.Linear(6, 4),
        snn.Synaptic(
            alpha=torch.full((4,), 0.5),
            beta=torch.full((4,), 0.5),
            threshold=torch.ones(4),
            init_hidden=True,
            output=True,
        ),
    )
    graph = export_to_nir(synaptic, sample, ignore_dims=[0])
    with pytest.raises(IRError, match=r"NIR node '1' is CubaLIF.*use snn\.Leaky"):
        from_nir(graph)


def _hand_graph(**lif) -> nir.NIRGraph:
    params = {
        "tau": np.full(2, 2 * DT),
        "r": np.full(2, 2.0),
        "v_leak": np.zeros(2),
        "v_threshold": np.ones(2),
        "v_reset": np.zeros(2),
    }
    params.update(lif)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input({"input": np.array([3])}),
            "fc": nir.Linear(weight=np.array([[1.0, -1.0, 2.0], [0.0, 1.0, 1.0]])),
            "lif": nir.LIF(**params),
            "output": nir.Output({"output": np.array([2])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def test_hand_written_graphs_map_or_are_refused():
    net = from_nir(_hand_graph(), input_bits=2)
    layer = net.layers[0]
    assert layer.neuron.leak_shift == 1 and layer.neuron.reset == "zero"
    np.testing.assert_array_equal(layer.neuron.threshold, [2, 2])  # v > 1  <=>  v >= 2
    assert layer.edges[0].weight_bits == 3  # weights up to 2 and a zero
    # an input gain g = r dt / tau of 2 fires at 2 v > 1, that is v >= 1
    gained = from_nir(_hand_graph(r=np.full(2, 4.0)))
    np.testing.assert_array_equal(gained.layers[0].neuron.threshold, [1, 1])
    # beta = 1 as snntorch writes it: tau = r = inf
    no_leak = from_nir(_hand_graph(tau=np.full(2, np.inf), r=np.full(2, np.inf)))
    assert no_leak.layers[0].neuron.leak_shift is None
    np.testing.assert_array_equal(no_leak.layers[0].neuron.threshold, [2, 2])
    with pytest.raises(IRError, match=r"NIR node 'lif' has v_reset != 0.*set v_reset = 0"):
        from_nir(_hand_graph(v_reset=np.full(2, 0.5)))
    with pytest.raises(IRError, match=r"NIR node 'lif' has v_leak != 0.*bias"):
        from_nir(_hand_graph(v_leak=np.full(2, 1.0)))
    with pytest.raises(IRError, match=r"NIR node 'lif': tau differs between neurons"):
        from_nir(_hand_graph(tau=np.array([2 * DT, 4 * DT]), r=np.array([2.0, 4.0])))


def test_a_neurocim_graph_without_its_metadata_reads_as_a_foreign_one():
    """The NIR nodes alone say the same network (up to what NIR cannot say): thresholds,
    weights, biases, leaks come back from the node parameters."""
    net = _binary_network()
    graph = to_nir(net)
    graph.metadata = {}
    for node in graph.nodes.values():
        node.metadata = {}
    with pytest.raises(IRError, match=r"'c1\.edge0' weight holds non-integer"):
        from_nir(graph)  # scaled channels: the float weights are not the chip's integers
    uniform = Network(
        name="uniform",
        input=InputSpec((1, 1, 4), bits=2),
        layers=(
            Layer(
                "h",
                (Edge("linear", "input", weight_bits=3, weight=np.array([[1, 2, -3, 0]] * 3)),),
                (3,),
                neuron=Neuron(threshold=np.full(3, 4), leak_shift=3, reset="zero"),
                bias=np.array([1, 0, -1]),
            ),
            Layer("o", (Edge("linear", "h", weight=np.ones((2, 3), dtype=int)),), (2,)),
        ),
    ).validate()
    graph = to_nir(uniform)
    graph.metadata = {}
    for node in graph.nodes.values():
        node.metadata = {}
    again = from_nir(graph, input_bits=2)
    h = again.layer("h")
    np.testing.assert_array_equal(h.neuron.threshold, [4, 4, 4])
    assert h.neuron.leak_shift == 3
    np.testing.assert_array_equal(h.bias, [1, 0, -1])
    np.testing.assert_array_equal(h.edges[0].weight, uniform.layer("h").edges[0].weight)
    assert again.output_decoding == "membrane" and again.output.neuron is None
