from __future__ import annotations

import numpy as np
import pytest
import torch

from hdl.ir import load_network, save_network
from spindrop.data import load_dataset
from spindrop.dropout import DropoutConfig
from spindrop.export import ExportError, compare, export_network, quantize_pixels
from spindrop.integer_model import run_integer
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import TrainConfig, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


def _trained(config: ModelConfig, data) -> BayesianBinaryNet:
    model = BayesianBinaryNet(config, (1, 8, 8), 10, seed=0)
    train(model, data.subset(np.arange(1000)), TrainConfig(epochs=8), progress=False)
    return model


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(hidden=(64,), latent_init=1.0, dropout=DropoutConfig(p=0.5)),
        ModelConfig(
            arch="cnn",
            conv_channels=(4, 8),
            hidden=(32,),
            dropout=DropoutConfig(p=0.3, placement="all"),
        ),
        ModelConfig(
            arch="cnn",
            conv_channels=(4, 8),
            hidden=(32,),
            dropout=DropoutConfig(p=0.3, granularity="channel"),
        ),
        ModelConfig(hidden=(32, 16), weight_bits=4),
    ],
    ids=["mlp-baybnn", "cnn-row", "cnn-channel", "mlp-4bit"],
)
def test_binary_networks_export_exactly(digits, config):
    """T = 1: every hidden spike agrees (up to float rounding at the threshold), the integer
    outputs are the float logits over the folded scale, and the float prediction is among the
    integer arg-maxes. Nothing here depends on a kernel's summation order."""
    train_set, test = digits
    model = _trained(config, train_set)
    net = export_network(model, input_bits=8)
    report = compare(model, net, test.x, test.y, samples=3)
    spikes = report["hidden_spikes"]
    assert spikes["differences_beyond_rounding"] == 0, spikes["first_difference"]
    assert spikes["min_distance_to_threshold"] > 0.0
    assert report["output_max_error"] < report["output_rounding"]
    assert report["prediction_agreement"] == 1.0, report["first_mismatch"]
    # an exact arg-max disagreement is only ever a tie of the integer outputs
    assert 1.0 - report["exact_prediction_agreement"] <= report["tie_rate"]
    assert report["golden"]["equal"], report["golden"]["first_difference"]
    # the Monte-Carlo decision (mean softmax in float, summed integers on chip) may differ on ties
    assert abs(report["integer_accuracy"] - report["float_accuracy"]) < 0.02


def test_multibit_outputs_tie_and_the_comparison_says_so(digits):
    """4-bit weights make the integer classifier's outputs tie on some images; the float model
    breaks such ties by rounding, so an exact arg-max comparison is not a property of the
    export. The up-to-ties comparison is exact, and the tie rate is reported."""
    train_set, test = digits
    model = _trained(ModelConfig(hidden=(32, 16), weight_bits=4), train_set)
    net = export_network(model)
    report = compare(model, net, test.x, test.y)
    assert report["prediction_agreement"] == 1.0
    # independent count of ties of the integer outputs
    x_q = quantize_pixels(test.x, net.input.bits)
    outputs = run_integer(net, x_q).outputs[0]
    ties = (outputs == outputs.max(-1, keepdims=True)).sum(-1) > 1
    assert report["tie_rate"] == pytest.approx(float(ties.mean()))
    assert ties.any(), "the 4-bit classifier is expected to tie on some digits"


def test_spiking_export_is_a_close_approximation(digits):
    """T > 1: threshold, bias and leak are rounded, so agreement is measured, not exact
    (docs/hardware-model.md states the tolerance: >= 97 % of per-sample predictions)."""
    train_set, test = digits
    model = _trained(
        ModelConfig(hidden=(64,), timesteps=4, dropout=DropoutConfig(p=0.3)), train_set
    )
    net = export_network(model)
    assert net.timesteps == 4 and net.layers[0].neuron.leak_shift == 1  # beta 0.5
    report = compare(model, net, test.x, test.y, samples=2)
    assert report["prediction_agreement"] > 0.97
    assert report["hidden_spikes"]["agreement"] > 0.97
    assert abs(report["integer_accuracy"] - report["float_accuracy"]) < 0.03
    assert report["golden"]["equal"], report["golden"]["first_difference"]


def test_a_wrong_export_is_caught_beyond_rounding(digits):
    """The comparison is not vacuous: a bias off by one shows up as spike differences beyond
    float rounding and the first one is named."""
    from dataclasses import replace

    train_set, test = digits
    model = _trained(ModelConfig(hidden=(32,)), train_set)
    net = export_network(model)
    hidden = net.layers[0]
    broken = replace(
        net, layers=(replace(hidden, bias=hidden.bias + 3), *net.layers[1:])
    ).validate()
    report = compare(model, broken, test.x, test.y)
    spikes = report["hidden_spikes"]
    assert spikes["differences_beyond_rounding"] > 0
    assert spikes["first_difference"]["layer"] == hidden.name


def test_exported_files_round_trip_and_run_the_same(digits, tmp_path):
    train_set, test = digits
    model = _trained(
        ModelConfig(hidden=(32,), dropout=DropoutConfig(p=0.4, n_modules=8)), train_set
    )
    net = export_network(model, input_bits=6, name="digits")
    save_network(net, tmp_path)
    again = load_network(tmp_path)
    assert again.layers[1].edges[0].dropout.modules == 8
    x = quantize_pixels(test.x[:20], 6)
    masks = {"out.0": np.random.default_rng(0).random((2, 20, 32)) > 0.4}
    a = run_integer(net, x, samples=2, masks=masks)
    b = run_integer(again, x, samples=2, masks=masks)
    assert np.array_equal(a.outputs, b.outputs)


def test_unfoldable_leak_is_refused(digits):
    model = BayesianBinaryNet(ModelConfig(hidden=(8,), timesteps=2, beta=0.6), (1, 8, 8), 10)
    with pytest.raises(ExportError, match=r"beta = 1 - 2\*\*-s"):
        export_network(model)


def test_missing_masks_are_named(digits):
    model = BayesianBinaryNet(ModelConfig(hidden=(8,), dropout=DropoutConfig(p=0.5)), (1, 8, 8), 10)
    net = export_network(model)
    with pytest.raises(ValueError, match=r"masks\['out\.0'\]"):
        run_integer(net, np.zeros((1, 1, 8, 8), dtype=np.int64))
    torch.manual_seed(0)


def test_the_trained_mtj_drive_reaches_cost_and_rtl(digits, tmp_path):
    """A BayBNN trained with a 20 ns write pulse (and its own device) is priced, built and
    documented with that pulse and device, not the default driver's."""
    from amaranth.hdl import Fragment

    from hdl.cost import estimate
    from hdl.driver import MTJDriver
    from hdl.hwconfig import HardwareConfig
    from hdl.ir import DataSource
    from hdl.mtj import MTJDevice
    from hdl.rtl.accelerator import Accelerator
    from neurocim.flow.rtl import build_manifest

    device = MTJDevice(delta=45.0)
    config = ModelConfig(hidden=(16,), dropout=DropoutConfig(p=0.3, pulse_ns=20.0, device=device))
    model = BayesianBinaryNet(config, (1, 8, 8), 10, seed=0)
    net = export_network(model, dataset=DataSource("digits"))
    assert net.mtj_driver == MTJDriver(device=device, pulse_ns=20.0)
    save_network(net, tmp_path)
    net = load_network(tmp_path)
    assert net.mtj_driver.pulse_ns == 20.0 and net.mtj_driver.device == device
    assert net.dataset == DataSource("digits")

    hw = HardwareConfig()
    trained = estimate(net, hw).as_dict()
    assert trained == estimate(net, hw, driver=MTJDriver(device=device, pulse_ns=20.0)).as_dict()
    assert trained != estimate(net, hw, driver=MTJDriver()).as_dict()

    accelerator = Accelerator(net, hw)
    manifest = build_manifest(accelerator)
    Fragment.get(accelerator, None)  # elaborated: a used component
    assert manifest["mtj_driver"]["pulse_ns"] == 20.0
    assert manifest["mtj_driver"]["device"]["delta"] == 45.0
    # 20 ns at 200 MHz: 4 write cycles in every module's DAC setting
    assert {m["write_cycles"] for m in manifest["mtj_modules"]} == {4}
    assert {m["pulse_ns"] for m in manifest["mtj_modules"]} == {20.0}
    # a deterministic BNN has no driver to carry
    bnn = export_network(BayesianBinaryNet(ModelConfig(hidden=(16,)), (1, 8, 8), 10))
    assert bnn.mtj_driver is None
