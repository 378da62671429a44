"""Evaluation of a trained network: accuracy, calibration, OOD detection, corruption, abstention.

For every input the model gives ``S`` Monte-Carlo softmax outputs; uncertainty is measured by
predictive entropy and mutual information (and ``1 - max p``). The OOD threshold is the
``percentile``-th percentile of the in-distribution *validation* uncertainty, then applied to
the test set and to every out-of-distribution set (detection rate), next to threshold-free
AUROC and FPR at 95 % TPR.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spindrop.data import CORRUPTIONS, SEVERITIES, ArrayDataset, corrupt
from spindrop.graph_model import GraphNet
from spindrop.inference import mc_probabilities
from spindrop.models import BayesianBinaryNet
from spindrop.uncertainty import (
    abstention_curve,
    accuracy,
    accuracy_when_kept,
    expected_calibration_error,
    ood_report,
    predictive_mean,
    uncertainty_scores,
)

__all__ = ["EvalConfig", "Evaluation", "evaluate", "evaluation_steps"]

MEASURES = ("entropy", "mutual_information", "one_minus_max_prob")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings.

    Attributes:
        mc_samples: Monte-Carlo passes per input (dropout networks; 1 pass otherwise).
        percentile: in-distribution validation percentile that sets the OOD threshold.
        measures: uncertainty measures reported (``entropy``, ``mutual_information``,
            ``one_minus_max_prob``).
        corruptions: corruption kinds evaluated at every severity.
        severities: corruption severities (0 = clean is always added).
        seed: seed of the corruptions' randomness.
    """

    mc_samples: int = 20
    percentile: float = 95.0
    measures: tuple[str, ...] = ("entropy", "mutual_information")
    corruptions: tuple[str, ...] = CORRUPTIONS
    severities: tuple[int, ...] = SEVERITIES
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", tuple(self.measures))
        object.__setattr__(self, "corruptions", tuple(self.corruptions))
        object.__setattr__(self, "severities", tuple(self.severities))
        if not isinstance(self.mc_samples, int) or self.mc_samples < 1:
            raise ValueError(
                f"evaluate.mc_samples must be a positive integer, got {self.mc_samples!r}"
            )
        if not 0.0 < self.percentile < 100.0:
            raise ValueError(f"evaluate.percentile must be in (0, 100), got {self.percentile}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"evaluate.seed must be an integer >= 0, got {self.seed!r}")
        unknown = set(self.measures) - set(MEASURES)
        if unknown:
            raise ValueError(f"evaluate.measures has unknown {sorted(unknown)}; valid: {MEASURES}")


@dataclass
class Evaluation:
    """A JSON-ready report plus the raw scores the plots need."""

    report: dict
    scores_val: dict[str, np.ndarray] = field(default_factory=dict)
    scores_test: dict[str, np.ndarray] = field(default_factory=dict)
    scores_ood: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    mean_probs_test: np.ndarray | None = None


@contextmanager
def step(bar: Any, label: str) -> Iterator[None]:
    """One step of a progress bar (a ``tqdm`` or ``None``): show ``label`` while it runs, then
    count it."""
    if bar is not None:
        bar.set_postfix_str(label)
    yield
    if bar is not None:
        bar.update()


def evaluation_steps(n_ood: int, config: EvalConfig, with_corruptions: bool = True) -> int:
    """How many :func:`step` calls :func:`evaluate` makes: validation, test, each OOD set and,
    with corruptions, the clean pass plus one per corruption kind and severity."""
    corrupted = 1 + len(config.corruptions) * len(config.severities) if with_corruptions else 0
    return 2 + n_ood + corrupted


def _scores(
    model: BayesianBinaryNet | GraphNet, x: np.ndarray, config: EvalConfig
) -> tuple[np.ndarray, dict]:
    probs = mc_probabilities(model, x, config.mc_samples)
    return predictive_mean(probs), uncertainty_scores(probs, config.measures)


def evaluate(
    model: BayesianBinaryNet | GraphNet,
    val: ArrayDataset,
    test: ArrayDataset,
    ood_sets: dict[str, ArrayDataset],
    config: EvalConfig,
    with_corruptions: bool = True,
    bar: Any = None,
) -> Evaluation:
    """Evaluate ``model``: in-distribution metrics, OOD detection per set and measure,
    corruptions. ``bar`` (a ``tqdm``) advances by :func:`evaluation_steps` steps."""
    with step(bar, "validation set"):
        _, scores_val = _scores(model, val.x, config)
    with step(bar, "test set"):
        mean_test, scores_test = _scores(model, test.x, config)
    report: dict = {
        "mc_samples": config.mc_samples if any(True for _ in model.dropout_layers()) else 1,
        "accuracy": accuracy(mean_test, test.y),
        "ece": expected_calibration_error(mean_test, test.y),
        "ood": {},
        "abstention": {},
    }
    scores_ood: dict[str, dict[str, np.ndarray]] = {}
    for name, data in ood_sets.items():
        with step(bar, f"OOD set {name}"):
            _, scores_ood[name] = _scores(model, data.x, config)
    for measure in config.measures:
        threshold_report = {}
        for name in ood_sets:
            result = ood_report(
                scores_val[measure],
                scores_test[measure],
                scores_ood[name][measure],
                name,
                measure,
                config.percentile,
            )
            threshold_report[name] = result.as_dict()
        report["ood"][measure] = threshold_report
        threshold = float(np.percentile(scores_val[measure], config.percentile))
        kept_acc, kept = accuracy_when_kept(mean_test, test.y, scores_test[measure], threshold)
        report["abstention"][measure] = {
            "threshold": threshold,
            "accuracy_kept": kept_acc,
            "fraction_kept": kept,
            "curve": abstention_curve(mean_test, test.y, scores_test[measure]),
        }
    if with_corruptions:
        report["corruption"] = corruption_accuracy(model, test, config, bar)
    return Evaluation(report, scores_val, scores_test, scores_ood, mean_test)


def corruption_accuracy(
    model: BayesianBinaryNet | GraphNet, test: ArrayDataset, config: EvalConfig, bar: Any = None
) -> dict[str, list[float]]:
    """Accuracy (Monte-Carlo mean prediction) at severity 0 (clean) and each severity, per kind.

    ``bar`` (a ``tqdm``) advances once for the clean pass and once per kind and severity."""
    with step(bar, "clean test set"):
        clean = accuracy(
            predictive_mean(mc_probabilities(model, test.x, config.mc_samples)), test.y
        )
    out: dict[str, list[float]] = {}
    for kind in config.corruptions:
        accs = [clean]
        for severity in config.severities:
            with step(bar, f"corruption {kind} severity {severity}"):
                data = corrupt(test, kind, severity, seed=config.seed)
                probs = mc_probabilities(model, data.x, config.mc_samples)
                accs.append(accuracy(predictive_mean(probs), data.y))
        out[kind] = accs
    return out
