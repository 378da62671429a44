from __future__ import annotations

import numpy as np
import pytest
import torch

from spindrop.data import load_dataset
from spindrop.dropout import DropoutConfig
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import CheckpointError, TrainConfig, train


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", split="train")
    return data.subset(np.arange(300))


def _model(p: float = 0.3) -> BayesianBinaryNet:
    cfg = ModelConfig(hidden=(64,), dropout=DropoutConfig(p=p, placement="all"))
    return BayesianBinaryNet(cfg, (1, 8, 8), 10, seed=5)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_learns_and_keeps_latent_weights_clipped(digits):
    model = _model(p=0.0)
    result = train(model, digits, TrainConfig(epochs=8, lr=5e-3), progress=False)
    assert result.history[-1]["train_accuracy"] > 0.8
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    for block in model.blocks:
        assert float(block.layer.weight.detach().abs().max()) <= 1.0


def test_same_seed_same_weights_bit_for_bit(digits):
    a, b = _model(), _model()
    train(a, digits, TrainConfig(epochs=2), progress=False)
    train(b, digits, TrainConfig(epochs=2), progress=False)
    for key, value in _weights(a).items():
        assert torch.equal(value, _weights(b)[key]), key


def test_resume_after_a_crash_continues_exactly(digits, tmp_path, monkeypatch):
    from resume_check import straight_and_resumed

    straight, resumed, result = straight_and_resumed(
        _model, digits, TrainConfig(epochs=4), tmp_path / "checkpoint.pt", monkeypatch
    )
    assert result.resumed_from_epoch == 2
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for key, value in _weights(straight).items():
        assert torch.equal(value, _weights(resumed)[key]), key


def test_checkpoint_of_other_settings_is_refused(digits, tmp_path):
    ckpt = tmp_path / "c.pt"
    train(_model(), digits, TrainConfig(epochs=1), checkpoint=ckpt, progress=False)
    with pytest.raises(CheckpointError, match="delete it or use a new run directory"):
        train(_model(), digits, TrainConfig(epochs=1, lr=1e-3), checkpoint=ckpt, progress=False)


def test_bad_train_config_named():
    with pytest.raises(ValueError, match=r"train\.epochs must be a positive integer"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match=r"train\.lr must be > 0"):
        TrainConfig(lr=-1.0)


def test_training_device_is_resolved_and_a_missing_one_refused():
    import torch

    from spindrop.training import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"train\.device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
