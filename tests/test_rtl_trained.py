"""A network trained by spindrop on the digits, exported, generated and simulated.

The RTL (Amaranth's simulator, behavioural crossbars and MTJ modules) runs 100 test images with
3 Monte-Carlo samples each; its outputs and spikes equal the golden model's with the masks the
MTJ models drew, its busy cycles equal the schedule's and the cost model's latency, and its
predictions are as accurate as the software model's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdl.cost import estimate
from hdl.hwconfig import HardwareConfig
from hdl.rtl.accelerator import Accelerator
from sim.amaranth_accel import simulate_amaranth
from sim.compare import compare_run

IMAGES, SAMPLES = 100, 3


@pytest.fixture(scope="module")
def trained():
    from spindrop.data import load_dataset
    from spindrop.dropout import DropoutConfig
    from spindrop.export import export_network, quantize_pixels
    from spindrop.models import BayesianBinaryNet, ModelConfig
    from spindrop.training import TrainConfig, train

    data = load_dataset("digits", split="train")
    test = load_dataset("digits", split="test")
    model = BayesianBinaryNet(
        ModelConfig(
            hidden=(64,),
            timesteps=1,
            dropout=DropoutConfig(p=0.2, placement="hidden", n_modules=8),
        ),
        data.shape,
        10,
        seed=3,
    )
    train(model, data.subset(np.arange(1000)), TrainConfig(epochs=6), progress=False)
    net = export_network(model, input_bits=4)
    x = quantize_pixels(test.x[:IMAGES], 4)
    return net, x, np.asarray(test.y[:IMAGES])


def test_trained_digits_network_is_bit_exact_in_rtl(trained) -> None:
    net, x, labels = trained
    hw = HardwareConfig()
    assert any(
        e.dropout is not None and e.dropout.source == "mtj"
        for layer in net.layers
        for e in layer.edges
    )
    acc = Accelerator(net, hw)
    observed = simulate_amaranth(acc, x, samples=SAMPLES, mtj_seed=11)
    verdict = compare_run(net, hw, x, SAMPLES, observed)
    assert verdict.ok, "\n".join(verdict.findings)
    assert verdict.checked["outputs"] == SAMPLES * IMAGES * 10
    # the masks really came from the MTJ models and vary between samples
    ((_, masks),) = observed.masks.items()
    assert masks.shape[:2] == (SAMPLES, IMAGES)
    assert 0.1 < 1 - masks.mean() < 0.3  # p = 0.2, realised by the DAC and device model
    assert not np.array_equal(masks[0], masks[1])
    # the prediction of the chip is a working classifier
    prediction = observed.outputs.sum(axis=0).argmax(axis=1)
    assert np.array_equal(prediction, verdict.golden.prediction)
    assert (prediction == labels).mean() > 0.8
    # the cost model's latency is the measured transfers and busy cycles
    report = estimate(net, hw, samples=SAMPLES)
    assert observed.transfers == [math.ceil(x[0].size / hw.pixels_per_transfer)] * IMAGES
    measured = [t + c for t, c in zip(observed.transfers, observed.cycles, strict=True)]
    assert measured == [report.cycles] * IMAGES


def test_trained_digits_network_is_bit_exact_on_icarus(trained) -> None:
    """The same network as Verilog under cocotb on Icarus: equal to the golden model."""
    from sim.cosim import run_cosim

    net, x, labels = trained
    hw = HardwareConfig()
    observed = run_cosim(net, hw, x, samples=SAMPLES, mtj_seed=11, simulator="icarus")
    verdict = compare_run(net, hw, x, SAMPLES, observed)
    assert verdict.ok, "\n".join(verdict.findings)
    transfers = math.ceil(x[0].size / hw.pixels_per_transfer)  # the image, K per transfer
    assert observed.cycles == [estimate(net, hw, samples=SAMPLES).cycles - transfers] * IMAGES
    assert (observed.outputs.sum(axis=0).argmax(axis=1) == labels).mean() > 0.8


def test_sim_flags_the_accuracy_a_2_bit_adc_loses(trained, tmp_path, capsys) -> None:
    """A trained network on 2-bit ADCs is still bit-exact with the golden model on the same
    hardware, but no longer a classifier: `neurocim sim` says so and exits with 3, unless the
    loss is allowed."""
    import json
    from dataclasses import replace

    from hdl.ir import DataSource, save_network
    from neurocim.cli import SIM_ACCURACY_LOSS_EXIT, main

    net, _, _ = trained
    path = tmp_path / "net"
    save_network(replace(net, dataset=DataSource("digits", None)), path)
    args = ["sim", str(path), "--simulator", "amaranth", "--images", "20", "--no-progress"]
    out = tmp_path / "sim"
    assert main([*args, "--out", str(out)]) == 0  # default hardware: the reference itself
    report = json.loads((out / "sim.json").read_text())
    assert report["verdict"] == "PASS" and report["accuracy"]["loss"] == 0
    assert report["accuracy"]["rtl"] > 0.8

    bad = [*args, "--hw", "adc_bits=2", "--out", str(out)]
    assert main(bad) == SIM_ACCURACY_LOSS_EXIT
    report = json.loads((out / "sim.json").read_text())
    acc = report["accuracy"]
    assert report["ok"] is True and report["verdict"] == "ACCURACY LOSS"  # bit-exact, but
    assert acc["flagged"] and not acc["allowed"] and acc["loss"] > 0.3
    assert acc["reference"] > 0.8 and acc["rtl"] < 0.5
    assert acc["reference"] - acc["rtl"] == acc["loss"]
    assert "ACCURACY LOSS" in (out / "sim.md").read_text()

    assert main([*bad, "--allow-accuracy-loss"]) == 0
    report = json.loads((out / "sim.json").read_text())
    assert report["verdict"] == "PASS" and report["accuracy"]["allowed"]
    assert main([*bad, "--max-accuracy-loss", "1"]) == 0
