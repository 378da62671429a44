"""SpinDrop: Bayesian binary and spiking networks whose Monte-Carlo dropout comes from STT-MTJs.

The public API, grouped; see docs/spindrop.md for the equations and units behind each part.
"""

from __future__ import annotations

from spindrop.dropout import DropoutConfig, MTJDropout, ReplayMaskSource
from spindrop.evaluation import EvalConfig, Evaluation, evaluate
from spindrop.experiment import DataConfig, RunConfig, prepare_data, run_evaluate, run_train
from spindrop.inference import mc_probabilities, predict_logits
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.quant import QuantConv2d, QuantLinear, quantize_weight
from spindrop.training import TrainConfig, TrainResult, train
from spindrop.variation import SweepConfig, variation_sweep

__all__ = [
    # models and layers
    "BayesianBinaryNet",
    "DropoutConfig",
    "MTJDropout",
    "ModelConfig",
    "QuantConv2d",
    "QuantLinear",
    "ReplayMaskSource",
    "quantize_weight",
]
__all__ += [
    # training, inference, evaluation
    "EvalConfig",
    "Evaluation",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "mc_probabilities",
    "predict_logits",
    "train",
]
__all__ += [
    # experiments and device-variation studies
    "DataConfig",
    "RunConfig",
    "SweepConfig",
    "prepare_data",
    "run_evaluate",
    "run_train",
    "variation_sweep",
]
