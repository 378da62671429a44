"""Deterministic and Monte-Carlo inference.

Monte-Carlo dropout (Gal & Ghahramani 2016): with dropout kept on, ``S`` forward passes give
softmax outputs ``p_s(x)``; each pass draws a fresh mask per input from the MTJ modules.
"""

from __future__ import annotations

import numpy as np
import torch

from spindrop.graph_model import GraphNet
from spindrop.models import BayesianBinaryNet

__all__ = ["mc_probabilities", "predict_logits"]


def _batches(x: np.ndarray, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield torch.from_numpy(
            np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32)
        )


def predict_logits(
    model: BayesianBinaryNet | GraphNet, x: np.ndarray, batch_size: int = 1024
) -> np.ndarray:
    """Logits (N, C) with dropout off (the deterministic network)."""
    model.eval().set_mc(False)
    with torch.no_grad():
        return torch.cat([model(b) for b in _batches(x, batch_size)]).numpy()


def mc_probabilities(
    model: BayesianBinaryNet | GraphNet, x: np.ndarray, samples: int, batch_size: int = 1024
) -> np.ndarray:
    """Softmax outputs (S, N, C) of ``samples`` Monte-Carlo passes with dropout on.

    A model without dropout gives ``S`` identical passes; ``samples = 1`` is then the
    deterministic network's softmax.
    """
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"Monte-Carlo samples must be a positive integer, got {samples!r}")
    model.eval().set_mc(True)
    has_dropout = any(True for _ in model.dropout_layers())
    passes = samples if has_dropout else 1
    out = []
    with torch.no_grad():
        for _ in range(passes):
            out.append(
                torch.cat([torch.softmax(model(b), 1) for b in _batches(x, batch_size)]).numpy()
            )
    model.set_mc(False)
    probs = np.stack(out)
    if passes < samples:
        probs = np.repeat(probs, samples, axis=0)
    return probs.astype(np.float64)
