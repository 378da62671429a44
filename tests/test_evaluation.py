from __future__ import annotations

import numpy as np
import pytest
import torch

from spindrop.data import load_dataset, shift_suite
from spindrop.dropout import DropoutConfig
from spindrop.evaluation import EvalConfig, evaluate
from spindrop.inference import mc_probabilities, predict_logits
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import TrainConfig, train
from spindrop.variation import SweepConfig, variation_sweep


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    data = load_dataset("digits", split="train")
    test = load_dataset("digits", split="test")
    train_set, val = data.subset(np.arange(0, 1100)), data.subset(np.arange(1100, len(data)))
    model = BayesianBinaryNet(
        ModelConfig(hidden=(128,), dropout=DropoutConfig(p=0.5)), (1, 8, 8), 10
    )
    train(model, train_set, TrainConfig(epochs=10), progress=False)
    return model, val, test


def test_deterministic_model_gives_identical_samples():
    model = BayesianBinaryNet(ModelConfig(hidden=(16,)), (1, 8, 8), 10).eval()
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    probs = mc_probabilities(model, x, 4)
    assert probs.shape == (4, 5, 10)
    assert np.array_equal(probs[0], probs[3])
    expected = torch.softmax(torch.from_numpy(predict_logits(model, x)).double(), 1).numpy()
    np.testing.assert_allclose(probs[0], expected, rtol=1e-6)


def test_mc_samples_differ_with_dropout(trained):
    model, _, test = trained
    probs = mc_probabilities(model, test.x[:20], 5)
    assert not np.array_equal(probs[0], probs[1])
    assert np.allclose(probs.sum(-1), 1.0)


def test_evaluation_report_against_independent_computation(trained):
    model, val, test = trained
    ood = shift_suite(test, seed=0)
    config = EvalConfig(mc_samples=8, corruptions=("noise",), severities=(3,))
    ev = evaluate(model, val, test, {"uniform-noise": ood["uniform-noise"]}, config)
    report = ev.report
    assert report["accuracy"] > 0.8
    assert report["accuracy"] == pytest.approx(np.mean(ev.mean_probs_test.argmax(1) == test.y))
    threshold = np.percentile(ev.scores_val["entropy"], 95)
    out = report["ood"]["entropy"]["uniform-noise"]
    assert out["threshold"] == pytest.approx(threshold)
    detected = np.mean(ev.scores_ood["uniform-noise"]["entropy"] > threshold)
    assert out["detection_rate"] == pytest.approx(detected)
    # noise is more uncertain than digits for a trained BayBNN
    assert out["auroc"] > 0.8
    assert len(report["corruption"]["noise"]) == 2
    assert report["abstention"]["entropy"]["fraction_kept"] == pytest.approx(
        np.mean(ev.scores_test["entropy"] <= report["abstention"]["entropy"]["threshold"])
    )


def test_variation_sweep_follows_device_physics(trained):
    model, val, test = trained
    noise = {"uniform-noise": shift_suite(test, seed=0)["uniform-noise"]}
    sweep = SweepConfig(
        sigma_ic0_rel=(0.0,), sigma_delta_rel=(0.0,), temperatures_c=(26.85, 100.0), chips=1
    )
    result = variation_sweep(model, val, test, noise, sweep, mc_samples=5)
    nominal, hot, _, hot_tracking = result["rows"]
    assert [r["driver"] for r in result["rows"]] == ["fixed", "fixed", "tracking", "tracking"]
    assert nominal["mean_p"] == pytest.approx(0.5, abs=1e-9)  # calibrated at 300 K = 26.85 C
    assert hot["mean_p"] > 0.6  # Delta falls with temperature, switching gets likelier
    assert hot_tracking["mean_p"] == pytest.approx(0.5, abs=1e-9)  # the driver follows T
    for row in result["rows"]:
        assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["detect:uniform-noise"] <= 1.0


def test_sweep_refuses_a_deterministic_model(trained):
    _, val, test = trained
    model = BayesianBinaryNet(ModelConfig(hidden=(8,)), (1, 8, 8), 10)
    with pytest.raises(ValueError, match="needs a model with MTJ dropout"):
        variation_sweep(model, val, test, {}, SweepConfig())
