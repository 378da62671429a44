"""The third level of the proof: the RTL's predictions against the float torch model.

The sim step proves RTL == golden model bit for bit on the RTL's own MTJ masks. This module
adds the trained float model (``model/train/model.pt``) on the same test images, seen as the
chip sees them (pixels quantized to the network's input bits, ``x_q / (2^bits - 1)``), with
the same masks: the keep masks the RTL's MTJ modules drew (``"layer.i"`` -> ``(samples,
images, units)``) are replayed into the model's dropout layers
(:meth:`spindrop.dropout.MonteCarloDropout.replay_masks`, the inverse of
:func:`spindrop.export.masks_from_records`), one forward pass per sample; the float
prediction is the arg-max of the mean softmax. Reported: the float model's and the RTL's
accuracy on the labels, their prediction agreement, and whether the RTL's accuracy is within
``tolerance`` of the float model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hdl._io import atomic_write_json
from neurocim.flow.images import ImageSet

__all__ = ["float_model_check"]


def _replayed_probabilities(
    model: Any, x: np.ndarray, masks: dict[str, np.ndarray], samples: int
) -> np.ndarray:
    """Softmax ``(samples, images, classes)`` of ``model`` with the keep ``masks`` replayed
    (:func:`spindrop.inference.mc_probabilities` in one batch: one replayed mask per pass)."""
    from spindrop.inference import mc_probabilities

    keys = getattr(model, "dropout_keys", None)
    layers = list(model.dropout_layers())
    if keys is None:  # BayesianBinaryNet: one dropout per block, on its first edge
        keys = [k for k in sorted(masks) if k.endswith(".0")][: len(layers)]
    missing = [k for k in keys if k not in masks]
    if layers and (missing or len(keys) != len(layers)):
        raise ValueError(f"the RTL drew no masks for the model's dropout layers {missing}")
    if layers:
        model.replay_masks([[~masks[k][m] for m in range(samples)] for k in keys])
    return mc_probabilities(model, x, samples, batch_size=max(len(x), 1))


def float_model_check(
    model_dir: Path,
    images: ImageSet,
    sim_report: dict[str, Any],
    samples: int,
    tolerance: float,
    input_bits: int,
    masks: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Compare the RTL's predictions in ``sim_report`` with the float model of ``model_dir``
    on ``images`` (pixels of ``input_bits`` bits) and the RTL's keep ``masks``; the result
    is also written to ``<model_dir>/../sim/float_check.json``."""
    from neurocim.config import build_config
    from spindrop.experiment import load_trained, read_run_config

    config = build_config(read_run_config(model_dir))
    model, _data = load_trained(config, model_dir)
    x = (images.x / (2**input_bits - 1)).astype(np.float32)
    float_pred = _replayed_probabilities(model, x, masks or {}, samples).mean(0).argmax(1)
    rtl_pred = np.asarray(sim_report["predictions"]["rtl"]) if "predictions" in sim_report else None
    labelled = images.labels >= 0
    n = int(labelled.sum())

    def acc(pred: np.ndarray | None) -> float | None:
        if pred is None or n == 0:
            return None
        return float(np.mean(pred[labelled] == images.labels[labelled]))

    float_acc, rtl_acc = acc(float_pred), acc(rtl_pred)
    loss = None if float_acc is None or rtl_acc is None else float_acc - rtl_acc
    out = {
        "images": len(images.x),
        "labelled_images": n,
        "samples": samples,
        "float_accuracy": float_acc,
        "rtl_accuracy": rtl_acc,
        "agreement": None if rtl_pred is None else float(np.mean(rtl_pred == float_pred)),
        "loss": loss,
        "tolerance": tolerance,
        "within_tolerance": None if loss is None else bool(loss <= tolerance + 1e-12),
        "float_predictions": [int(v) for v in float_pred],
        "masks": "the RTL's MTJ keep masks, replayed into the float model",
    }
    atomic_write_json(model_dir.parent / "sim" / "float_check.json", out)
    return out
