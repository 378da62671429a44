"""GraphNet: any IR architecture (cells, skip and pooling edges) trained, exported and proven.

References are independent of GraphNet: the integer torch model and the golden model (through
``compare``), BayesianBinaryNet (an MLP-shaped architecture computes the same logits from the
same weights), the Amaranth RTL (the exported network, bit for bit) and the IR's own semantics.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron, load_network, save_network
from spindrop.data import load_dataset
from spindrop.dropout import DropoutConfig
from spindrop.export import (
    SPIKE_ROUNDING,
    ExportError,
    compare,
    export_network,
    quantize_pixels,
)
from spindrop.graph_model import (
    GAMMA_MIN,
    ArchitectureError,
    GraphNet,
    architecture_digest,
    pool_weight,
)
from spindrop.integer_model import run_integer
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import TrainConfig, train

ROW = DropoutSpec(p=0.2, modules=4)
CHANNEL = DropoutSpec(p=0.2, granularity="channel", modules=2)


def cell_arch(c: int = 4, timesteps: int = 1, dropout: bool = True) -> Network:
    """A stem, a 3-node cell (conv1x1, conv3x3 with channel dropout, skip edges, a sum-pool
    edge, a zero edge), a stride-2 downsample, a linear hidden layer and a linear classifier,
    with 1-, 2- and 3-bit weights, on the digits' (1, 8, 8) images."""
    row = ROW if dropout else None
    channel = CHANNEL if dropout else None
    n = Neuron()

    def conv(src: str, k: int, **kw) -> Edge:
        return Edge("conv2d", src, kernel=k, padding=k // 2, **kw)

    layers = (
        Layer("stem", (conv("input", 3),), (c, 8, 8), neuron=n),
        Layer("c1n1", (conv("stem", 1, weight_bits=2),), (c, 8, 8), neuron=n),
        Layer(
            "c1n2", (conv("stem", 3, dropout=channel), Edge("skip", "c1n1")), (c, 8, 8), neuron=n
        ),
        Layer(
            "c1n3",
            (
                conv("c1n1", 3, weight_bits=2),  # the pool edge
                conv("c1n2", 1, dropout=row),
                Edge("skip", "stem"),
                Edge("zero", "c1n1"),
            ),
            (c, 8, 8),
            neuron=n,
        ),
        Layer(
            "down",
            (Edge("conv2d", "c1n3", kernel=3, stride=2, padding=1, weight_bits=3),),
            (2 * c, 4, 4),
            neuron=n,
        ),
        Layer("fc", (Edge("linear", "down", dropout=row),), (16,), neuron=n),
        Layer("out", (Edge("linear", "fc", weight_bits=2),), (10,)),
    )
    return Network(
        "tiny-cell",
        InputSpec((1, 8, 8)),
        layers,
        timesteps=timesteps,
        metadata={"pool_edges": ["c1n3.0"]},
    ).validate()


def mlp_arch(hidden: int = 32, timesteps: int = 1, p: float | None = None) -> Network:
    drop = None if p is None else DropoutSpec(p=p, modules=hidden)
    return Network(
        "mlp",
        InputSpec((1, 8, 8)),
        (
            Layer("fc0", (Edge("linear", "input"),), (hidden,), neuron=Neuron()),
            Layer("out", (Edge("linear", "fc0", dropout=drop),), (10,)),
        ),
        timesteps=timesteps,
    ).validate()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


def _train(model, train_set, epochs: int = 6):
    start = time.perf_counter()
    result = train(
        model,
        train_set.subset(np.arange(1000)),
        TrainConfig(epochs=epochs),
        val_data=train_set.subset(np.arange(1000, 1437)),
        progress=False,
    )
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def trained_cell(digits):
    torch.manual_seed(0)
    model = GraphNet(cell_arch(), ModelConfig(), seed=0)
    result, _ = _train(model, digits[0])
    return model, result


# --- training and the exact export --------------------------------------------------------------


def test_cell_architecture_trains_and_exports_bit_exactly(trained_cell, digits, tmp_path):
    model, result = trained_cell
    _, test = digits
    assert result.history[-1]["val_accuracy"] > 0.3  # a working classifier (chance: 0.1)
    assert len(list(model.dropout_layers())) == 3  # channel, row, row
    net = export_network(model, input_bits=8, name="cell")
    report = compare(model, net, test.x, test.y, samples=3)
    spikes = report["hidden_spikes"]
    assert spikes["differences_beyond_rounding"] == 0, spikes["first_difference"]
    assert report["prediction_agreement"] == 1.0, report["first_mismatch"]
    assert report["output_max_error"] < report["output_rounding"]
    assert report["golden"]["equal"], report["golden"]["first_difference"]
    assert abs(report["integer_accuracy"] - report["float_accuracy"]) < 0.02

    # the exported graph is the architecture's: layers, edges, pool weights, metadata
    arch = cell_arch()
    assert [layer.name for layer in net.layers] == [layer.name for layer in arch.layers]
    for a, b in zip(arch.layers, net.layers, strict=True):
        assert [e.kind for e in a.edges] == [e.kind for e in b.edges]
        assert [e.source for e in a.edges] == [e.source for e in b.edges]
        assert [e.weight_bits for e in a.edges] == [e.weight_bits for e in b.edges]
    assert np.array_equal(net.layers[3].edges[0].weight, pool_weight(4, 3))
    assert net.metadata["pool_edges"] == ["c1n3.0"]
    assert net.layers[2].edges[0].dropout.granularity == "channel"
    assert net.layers[2].edges[0].dropout.modules == 2
    assert net.mtj_driver is not None
    # layers with skip or pool edges kept gamma > 0, so no weight of theirs flipped sign
    for layer in model.layers:
        if layer.fixed_sign:
            assert float(layer.norm.weight.detach().min()) >= np.float32(GAMMA_MIN)
    save_network(net, tmp_path)
    again = load_network(tmp_path)
    assert compare(model, again, test.x[:50], test.y[:50])["golden"]["equal"]


def test_spiking_cell_export_is_measured(digits):
    """T = 2: threshold and leak are rounded, so the agreement is a measured figure
    (docs/spindrop.md), but the bias makes the first timestep exact: there every hidden spike
    equals the integer model's up to float rounding. Integer and golden models stay equal."""
    train_set, test = digits
    model = GraphNet(cell_arch(timesteps=2), ModelConfig(timesteps=2), seed=0)
    _train(model, train_set, epochs=4)
    net = export_network(model)
    assert net.timesteps == 2 and net.layers[0].neuron.leak_shift == 1
    report = compare(model, net, test.x, test.y, samples=2)
    assert report["golden"]["equal"], report["golden"]["first_difference"]
    assert report["hidden_spikes"]["agreement"] > 0.95  # measured 0.962
    assert report["prediction_agreement"] > 0.75  # measured 0.820

    x_q = quantize_pixels(test.x, 8)
    model.eval()
    with torch.no_grad():
        _, spikes, distance = model.traces(torch.from_numpy((x_q / 255).astype(np.float32)))
    keep_all = {  # no dropout in the float pass either
        key: np.ones((1, len(x_q), d.units), dtype=bool)
        for key, d in zip(model.dropout_keys, model.dropout_layers(), strict=True)
    }
    result = run_integer(net, x_q, masks=keep_all)
    later = 0
    for name, s, d in zip(model.hidden_names, spikes, distance, strict=True):
        ints = np.swapaxes(result.spikes[name][0], 0, 1).astype(bool)  # (T, N, ...)
        differ = s.numpy().astype(bool) != ints
        assert not np.any(differ[0] & (np.abs(d[0].numpy()) >= SPIKE_ROUNDING)), name
        later += int(differ[1].sum())
    assert later > 0  # the second timestep is where the rounding shows


def test_a_negative_scale_behind_a_skip_edge_is_refused(trained_cell):
    model, _ = trained_cell
    broken = GraphNet(cell_arch(), ModelConfig(), seed=0)
    broken.load_state_dict(model.state_dict())
    with torch.no_grad():
        broken.layers[2].norm.weight[0] = -0.5  # c1n2 has a skip edge
    with pytest.raises(ExportError, match=r"c1n2.*skip or pooling"):
        export_network(broken)
    broken.clip_latent()
    assert float(broken.layers[2].norm.weight[0].detach()) == pytest.approx(GAMMA_MIN)
    export_network(broken)


# --- against BayesianBinaryNet -----------------------------------------------------------------


def _copy_into_graph(bbn: BayesianBinaryNet, graph: GraphNet) -> None:
    with torch.no_grad():
        for block, layer in zip(bbn.blocks, graph.layers, strict=True):
            layer.edges[0].op.weight.copy_(block.layer.weight)
            if layer.norm is not None:
                layer.norm.load_state_dict(block.norm.state_dict())
        graph.log_alpha.copy_(bbn.log_alpha)


@pytest.mark.parametrize("timesteps", [1, 2])
def test_an_mlp_architecture_computes_what_bayesian_binary_net_computes(digits, timesteps):
    """Same weights, batch-norms and masks: the same logits, in training and evaluation mode,
    with MC dropout replayed from BayesianBinaryNet's own draws."""
    x = torch.from_numpy(digits[1].x[:64])
    bbn = BayesianBinaryNet(
        ModelConfig(
            hidden=(32,),
            timesteps=timesteps,
            latent_init=1.0,
            dropout=DropoutConfig(p=0.3, placement="last"),
        ),
        (1, 8, 8),
        10,
        seed=5,
    )
    graph = GraphNet(mlp_arch(32, timesteps, p=0.3), ModelConfig(timesteps=timesteps), seed=1)
    _copy_into_graph(bbn, graph)
    with torch.no_grad():  # distinct batch-norm statistics, so they matter
        bbn.blocks[0].norm.running_mean.uniform_(-3, 3)
        bbn.blocks[0].norm.running_var.uniform_(2, 9)
        bbn.blocks[0].norm.weight.uniform_(-1, 1)
    _copy_into_graph(bbn, graph)
    bbn.eval().set_mc(True)
    graph.eval().set_mc(True)
    records = bbn.record_masks()
    with torch.no_grad():
        expected = [bbn(x) for _ in range(3)]
    graph.replay_masks(records)
    with torch.no_grad():
        got = [graph(x) for _ in range(3)]
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=0, atol=0)
    assert not torch.equal(expected[0], expected[1])  # the masks mattered
    bbn.set_mc(False).train()
    graph.set_mc(False).train()
    bbn.blocks[-1].dropout = None
    graph.layers[-1].edges[0].dropout = None
    torch.testing.assert_close(graph(x), bbn(x), rtol=0, atol=0)  # batch statistics


def test_same_seed_same_training_as_bayesian_binary_net(digits):
    """An MLP architecture trains to BayesianBinaryNet's weights bit for bit (same seed, same
    initial weights): the training loop sees the same model."""
    train_set, _ = digits
    bbn = BayesianBinaryNet(ModelConfig(hidden=(32,)), (1, 8, 8), 10, seed=0)
    graph = GraphNet(mlp_arch(32), ModelConfig(), seed=0)
    a, _ = _train(bbn, train_set, epochs=2)
    b, _ = _train(graph, train_set, epochs=2)
    assert a.history == b.history
    assert torch.equal(bbn.blocks[0].layer.weight, graph.layers[0].edges[0].op.weight)


def test_a_crashed_cell_training_resumes_to_the_same_weights(digits, tmp_path, monkeypatch):
    """Checkpoints hold every edge's weights, the pooling buffers and batch-norms; the
    dropout edges' bit streams are re-seeded per epoch, so a resumed run equals a straight one."""
    from resume_check import straight_and_resumed

    data = digits[0].subset(np.arange(300))

    def model() -> GraphNet:
        return GraphNet(cell_arch(), ModelConfig(), seed=2)

    straight, resumed, result = straight_and_resumed(
        model, data, TrainConfig(epochs=3), tmp_path / "checkpoint.pt", monkeypatch
    )
    assert result.resumed_from_epoch == 2
    for (key, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), key


# --- the RTL takes the export unchanged --------------------------------------------------------


def test_the_rtl_runs_the_exported_cell_network_bit_exactly(trained_cell, digits):
    from amaranth.hdl import Fragment

    from hdl.cost import estimate
    from hdl.hwconfig import HardwareConfig
    from hdl.rtl.accelerator import Accelerator
    from sim.amaranth_accel import simulate_amaranth
    from sim.compare import compare_run

    model, _ = trained_cell
    net = export_network(model, input_bits=4)
    hw = HardwareConfig()
    acc = Accelerator(net, hw)
    Fragment.get(acc, None)
    x = quantize_pixels(digits[1].x[:2], 4)
    observed = simulate_amaranth(acc, x, samples=1, mtj_seed=3)
    verdict = compare_run(net, hw, x, 1, observed)
    assert verdict.ok, "\n".join(verdict.findings)
    assert verdict.checked["outputs"] == 2 * 10
    # the cost model prices the same network: its latency is the measured transfers (64
    # pixels, K per transfer) and busy cycles
    assert observed.transfers == [math.ceil(64 / hw.pixels_per_transfer)] * 2
    measured = [t + c for t, c in zip(observed.transfers, observed.cycles, strict=True)]
    assert measured == [estimate(net, hw).cycles] * 2


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_the_verilog_on_icarus_runs_the_exported_cell_network_bit_exactly(trained_cell, digits):
    """The same network as generated Verilog under cocotb on Icarus, 2 images."""
    from hdl.hwconfig import HardwareConfig
    from sim.compare import compare_run
    from sim.cosim import run_cosim

    model, _ = trained_cell
    net = export_network(model, input_bits=4)
    hw = HardwareConfig()
    x = quantize_pixels(digits[1].x[2:4], 4)
    observed = run_cosim(net, hw, x, samples=1, mtj_seed=5, simulator="icarus")
    verdict = compare_run(net, hw, x, 1, observed)
    assert verdict.ok, "\n".join(verdict.findings)
    assert verdict.checked["outputs"] == 2 * 10


# --- spike_trace --------------------------------------------------------------------------------


def test_spike_trace_is_the_forward_pass_and_changes_nothing(digits):
    x = torch.from_numpy(digits[1].x[:16])
    a = GraphNet(cell_arch(timesteps=2), ModelConfig(timesteps=2), seed=3)
    b = GraphNet(cell_arch(timesteps=2), ModelConfig(timesteps=2), seed=3)
    a.train()
    b.train()
    trace = a.spike_trace(x)
    assert list(trace) == ["stem", "c1n1", "c1n2", "c1n3", "down", "fc"]
    assert trace["stem"].shape == (2, 16, 4, 8, 8) and trace["fc"].shape == (2, 16, 16)
    assert all(set(t.unique().tolist()) <= {0.0, 1.0} for t in trace.values())
    assert any(float(t.mean()) > 0 for t in trace.values())
    # no mask drawn, no running statistic moved: a's next pass is b's
    ra, rb = a.record_masks(), b.record_masks()
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert all(np.array_equal(p, q) for p, q in zip(ra[0], rb[0], strict=True))
    for la, lb in zip(a.layers[:-1], b.layers[:-1], strict=True):
        assert torch.equal(la.norm.running_mean, lb.norm.running_mean)
    # in evaluation mode without MC it is exactly the spikes the pass feeds forward
    a.eval()
    _, spikes, _ = a.traces(x)
    for name, s in zip(a.hidden_names, spikes, strict=True):
        assert torch.equal(a.spike_trace(x)[name], s)


# --- dropout modes and refused architectures ----------------------------------------------------


def test_dropout_modes():
    arch = cell_arch()
    assert GraphNet(arch, ModelConfig(), dropout="network").dropout_keys == [
        "c1n2.0",
        "c1n3.1",
        "fc.0",
    ]
    assert GraphNet(arch, ModelConfig(), dropout="none").dropout_keys == []
    hidden = GraphNet(
        arch, ModelConfig(dropout=DropoutConfig(p=0.3, granularity="channel")), dropout="model"
    )
    # every learned edge not reading the input; the pool edge stays fixed and mask-free
    assert hidden.dropout_keys == ["c1n1.0", "c1n2.0", "c1n3.1", "down.0", "fc.0", "out.0"]
    units = {k: d.units for k, d in zip(hidden.dropout_keys, hidden.dropout_layers(), strict=True)}
    assert units["c1n2.0"] == 4 and units["fc.0"] == 8 * 4 * 4  # channels; a linear edge's rows


def _with(arch: Network, **changes) -> Network:
    return replace(arch, **changes)


def test_architectures_that_cannot_be_trained_are_refused():
    arch = mlp_arch()
    mixed = _with(
        cell_arch(),
        layers=(
            *cell_arch().layers[:1],
            Layer(
                "m",
                (Edge("conv2d", "stem", kernel=1), Edge("conv2d", "input", kernel=1)),
                (4, 8, 8),
                neuron=Neuron(),
            ),
            Layer("out", (Edge("linear", "m"),), (10,)),
        ),
        metadata={},
    )
    with pytest.raises(ArchitectureError, match="'m' sums edges from the input and from other"):
        GraphNet(mixed, ModelConfig())
    count = _with(
        arch,
        output_decoding="count",
        layers=(arch.layers[0], replace(arch.layers[1], neuron=Neuron())),
    )
    with pytest.raises(ArchitectureError, match="spike count"):
        GraphNet(count, ModelConfig())
    with pytest.raises(ArchitectureError, match=r"pool_edges names 'fc0\.3'"):
        GraphNet(_with(arch, metadata={"pool_edges": ["fc0.3"]}), ModelConfig())
    with pytest.raises(ArchitectureError, match=r"pool edge 'fc0\.0' must be a conv2d"):
        GraphNet(_with(arch, metadata={"pool_edges": ["fc0.0"]}), ModelConfig())
    with pytest.raises(ArchitectureError, match="dropout must be one of"):
        GraphNet(arch, ModelConfig(), dropout="some")


# --- configuration and the command line ---------------------------------------------------------


def test_the_run_config_holds_the_architecture_and_its_digest(tmp_path):
    from neurocim.config import ConfigError, build_config

    save_network(mlp_arch(), tmp_path / "search" / "winner")
    config = build_config({}, arch=tmp_path / "search")
    path = tmp_path / "search" / "winner" / "network.json"
    assert config.arch.file == str(path.resolve())
    assert config.arch.digest == architecture_digest(path)
    stored = json.loads(json.dumps(config.to_dict()))
    assert build_config(stored) == config  # a stored run keeps its digest
    save_network(mlp_arch(hidden=16), tmp_path / "search" / "winner")
    assert build_config(stored).arch.digest != architecture_digest(path)
    assert build_config({}, arch=path).arch.digest == architecture_digest(path)
    with pytest.raises(ConfigError, match=r"arch\.dropout must be one of"):
        build_config({"arch": {"dropout": "all"}})
    with pytest.raises(ConfigError, match=r"model\.dropout\.p = 0\.2 is not used"):
        build_config({"model": {"dropout": {"p": 0.2}}}, arch=path)
    # model.dropout on the architecture's learned edges: a BayBNN of a dropout-free file
    from spindrop.experiment import build_model, prepare_data

    bay = build_config(
        {"model": {"dropout": {"p": 0.2, "placement": "all"}}, "arch": {"dropout": "model"}},
        arch=path,
    )
    model = build_model(bay, prepare_data(bay))
    assert isinstance(model, GraphNet) and model.dropout_keys == ["fc0.0", "out.0"]
    with pytest.raises(ConfigError, match="64 lower-case hex"):
        build_config({"arch": {"file": str(path), "digest": "abc"}})


def _cli(*args: str) -> int:
    from neurocim.cli import main

    return main(list(args))


def test_neurocim_train_arch_end_to_end(tmp_path, capsys):
    save_network(cell_arch(), tmp_path / "search" / "winner")
    common = ["--set", "train.epochs=1", "--set", "data.max_train=300", "--no-progress"]
    build = ["--build-dir", str(tmp_path / "build"), "--set", "name=cell"]
    assert _cli("train", "--arch", str(tmp_path / "search"), *common, *build) == 0
    run = tmp_path / "build" / "cell"
    stored = json.loads((run / "config.json").read_text())
    assert stored["arch"]["digest"] == architecture_digest(
        tmp_path / "search" / "winner" / "network.json"
    )
    evaluate = [
        "--set",
        "evaluate.mc_samples=3",
        "--set",
        "evaluate.corruptions=[]",
        "--set",
        "variation.sigma_ic0_rel=[0.0, 0.05]",
        "--set",
        "variation.sigma_delta_rel=[0.0]",
        "--set",
        "variation.temperatures_c=[25.0]",
        "--set",
        "variation.chips=1",
        "--set",
        "variation.drivers=['fixed']",
    ]
    assert _cli("evaluate", "--run-dir", str(run), *evaluate, "--no-progress") == 0
    ev = json.loads((run / "evaluate" / "report.json").read_text())
    assert ev["bayesian"] is True and ev["mc_samples"] == 3
    assert len(ev["variation"]["rows"]) == 2  # the MTJ variation sweep ran on its dropout edges
    assert set(ev["ood"]) == {"entropy", "mutual_information"}
    assert _cli("export", "--run-dir", str(run), "--samples", "2", "--no-progress") == 0
    report = json.loads((run / "network" / "export_report.json").read_text())
    assert report["hidden_spikes"]["differences_beyond_rounding"] == 0
    assert report["prediction_agreement"] == 1.0 and report["golden"]["equal"]
    net = load_network(run / "network")
    assert net.metadata["pool_edges"] == ["c1n3.0"] and net.metadata["arch"] == "graph"
    # the same command resumes; an edited architecture is another run
    assert _cli("train", "--arch", str(tmp_path / "search"), *common, *build) == 0
    save_network(cell_arch(c=2), tmp_path / "search" / "winner")
    capsys.readouterr()
    assert _cli("train", "--arch", str(tmp_path / "search"), *common, *build) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "arch.digest" in err


def test_a_run_beside_its_architecture_stores_a_relative_path_and_moves(tmp_path, capsys):
    # the flow's layout: <flow>/search/winner/network.json and the run in <flow>/model
    flow = tmp_path / "flow"
    save_network(cell_arch(), flow / "search" / "winner")
    common = ["--set", "train.epochs=1", "--set", "data.max_train=200", "--no-progress"]
    train = ["train", "--arch", str(flow / "search"), *common, "--set", "name=model"]
    assert _cli(*train, "--build-dir", str(flow)) == 0
    stored = json.loads((flow / "model" / "config.json").read_text())
    assert stored["arch"]["file"] == "../search/winner/network.json"
    written = (flow / "model" / "config.json").read_bytes()
    # moved as a whole, the run resumes with the same settings and exports its own network
    moved = tmp_path / "elsewhere" / "flow"
    moved.parent.mkdir()
    shutil.move(flow, moved)
    train = ["train", "--arch", str(moved / "search"), *common, "--set", "name=model"]
    assert _cli(*train, "--build-dir", str(moved)) == 0, capsys.readouterr().err
    assert (moved / "model" / "config.json").read_bytes() == written
    assert _cli("export", "--run-dir", str(moved / "model"), "--samples", "1", "--no-progress") == 0
    # an architecture outside the run's directory keeps its absolute path
    other = tmp_path / "other"
    save_network(cell_arch(), other)
    train = ["train", "--arch", str(other), *common, "--set", "name=apart"]
    assert _cli(*train, "--build-dir", str(tmp_path / "runs")) == 0
    stored = json.loads((tmp_path / "runs" / "apart" / "config.json").read_text())
    assert stored["arch"]["file"] == str((other / "network.json").resolve())


def _not_a_network(d):
    (d / "x.json").write_text("{}")
    return d / "x.json"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "without network.json or winner/network.json"),
        (_not_a_network, "is not a neurocim network"),
    ],
    ids=["missing", "empty-dir", "not-a-network"],
)
def test_bad_arch_inputs_are_one_line_errors(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert _cli("train", "--arch", str(path), "--build-dir", str(tmp_path / "b")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("neurocim: error:")


def _wide() -> Network:
    return Network(
        "wide", InputSpec((1, 28, 28)), (Layer("out", (Edge("linear", "input"),), (10,)),)
    )


def _seven() -> Network:
    fc0 = mlp_arch().layers[0]
    return replace(mlp_arch(), layers=(fc0, Layer("out", (Edge("linear", "fc0"),), (7,))))


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (
            _wide,
            "takes inputs of shape (1, 28, 28), data set 'digits' has images of shape (1, 8, 8)",
        ),
        (_seven, "has 7 outputs, data set 'digits' has 10 classes"),
        (lambda: mlp_arch(timesteps=2), "runs 2 timestep(s), model.timesteps is 1"),
    ],
    ids=["shape", "classes", "timesteps"],
)
def test_an_architecture_that_does_not_fit_the_data_names_both(tmp_path, capsys, arch, message):
    save_network(arch(), tmp_path / "a")
    assert _cli("train", "--arch", str(tmp_path / "a"), "--build-dir", str(tmp_path / "b")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "b" / "digits-mlp" / "config.json").exists()  # nothing written
