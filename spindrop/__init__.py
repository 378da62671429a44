"""SpinDrop: Bayesian binary and spiking networks whose Monte-Carlo dropout comes from STT-MTJs.

The public API, grouped; see docs/spindrop.md for the equations and units behind each part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it. Imported on first use (PEP 562), so that
#: ``import spindrop.data`` (the data loaders, numpy only) does not load torch: the hardware
#: commands (estimate, rtl, sim) read test images without paying for it.
_EXPORTS = {
    "DropoutConfig": "spindrop.dropout",
    "MTJDropout": "spindrop.dropout",
    "ReplayMaskSource": "spindrop.dropout",
    "EvalConfig": "spindrop.evaluation",
    "Evaluation": "spindrop.evaluation",
    "evaluate": "spindrop.evaluation",
    "DataConfig": "spindrop.experiment",
    "RunConfig": "spindrop.experiment",
    "prepare_data": "spindrop.experiment",
    "run_evaluate": "spindrop.experiment",
    "run_train": "spindrop.experiment",
    "mc_probabilities": "spindrop.inference",
    "predict_logits": "spindrop.inference",
    "BayesianBinaryNet": "spindrop.models",
    "ModelConfig": "spindrop.models",
    "QuantConv2d": "spindrop.quant",
    "QuantLinear": "spindrop.quant",
    "quantize_weight": "spindrop.quant",
    "TrainConfig": "spindrop.training",
    "TrainResult": "spindrop.training",
    "train": "spindrop.training",
    "SweepConfig": "spindrop.variation",
    "variation_sweep": "spindrop.variation",
}

if TYPE_CHECKING:
    from spindrop.dropout import DropoutConfig, MTJDropout, ReplayMaskSource
    from spindrop.evaluation import EvalConfig, Evaluation, evaluate
    from spindrop.experiment import DataConfig, RunConfig, prepare_data, run_evaluate, run_train
    from spindrop.inference import mc_probabilities, predict_logits
    from spindrop.models import BayesianBinaryNet, ModelConfig
    from spindrop.quant import QuantConv2d, QuantLinear, quantize_weight
    from spindrop.training import TrainConfig, TrainResult, train
    from spindrop.variation import SweepConfig, variation_sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spindrop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
