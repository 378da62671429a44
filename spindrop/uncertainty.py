"""Uncertainty measures, calibration and out-of-distribution (OOD) detection metrics.

All functions work on NumPy arrays of *probabilities* (softmax outputs), never logits:

* ``probs`` of shape ``(S, N, C)``: ``S`` Monte-Carlo (MC) dropout samples of the softmax
  output for ``N`` inputs over ``C`` classes;
* ``mean_probs`` of shape ``(N, C)``: the predictive mean ``p = (1/S) sum_s p_s``.

Uncertainty measures (Gal & Ghahramani 2016; BALD, Houlsby et al. 2011), natural log, so every
entropy is in **nats** and lies in ``[0, log C]``:

* predictive entropy ``H[p] = -sum_c p_c log p_c`` (total uncertainty, ``0 log 0 = 0``);
* expected entropy ``E_s H[p_s] = (1/S) sum_s H[p_s]`` (aleatoric part);
* mutual information ``MI = H[p] - E_s H[p_s] >= 0`` (epistemic part, clamped at 0);
* ``1 - max_c p_c`` (unitless).

Every score follows the convention *higher = more uncertain = more likely OOD*. OOD detection
treats OOD inputs as the positive class. An input is *flagged* when its score is strictly above a
threshold that is set on in-distribution validation data (e.g. its 95th percentile); the ROC
based metrics (:func:`auroc`, :func:`roc_curve`, :func:`fpr_at_tpr`) use the scikit-learn
convention ``score >= threshold`` for a positive prediction, which only differs on exact ties.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

__all__ = [
    "DEFAULT_KEEP_FRACTIONS",
    "MEASURES",
    "CalibrationBins",
    "OODResult",
    "abstention_curve",
    "accuracy",
    "accuracy_when_kept",
    "auroc",
    "calibration_bins",
    "detection_rate",
    "expected_calibration_error",
    "expected_entropy",
    "fpr_at_tpr",
    "max_probability",
    "mutual_information",
    "ood_report",
    "predictive_entropy",
    "predictive_mean",
    "roc_curve",
    "threshold_at_percentile",
    "uncertainty_scores",
]

#: Tolerance on ``|sum_c p_c - 1|`` accepted for a probability row.
SUM_TOLERANCE = 1e-4

#: Names accepted by :func:`uncertainty_scores` (all "higher = more uncertain").
MEASURES: tuple[str, ...] = (
    "entropy",
    "mutual_information",
    "one_minus_max_prob",
    "expected_entropy",
)

#: Default keep fractions of :func:`abstention_curve`: 0.50, 0.55, ..., 1.00 (read-only).
DEFAULT_KEEP_FRACTIONS: np.ndarray = np.linspace(0.5, 1.0, 11)
DEFAULT_KEEP_FRACTIONS.setflags(write=False)


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _as_probs(x: ArrayLike, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Return ``x`` as a float64 array of probabilities, checked eagerly.

    ``ndims`` lists the accepted numbers of dimensions (3 = ``(S, N, C)``, 2 = ``(N, C)``).
    """
    expected = " or ".join({3: "(S, N, C)", 2: "(N, C)"}[d] for d in ndims)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape {expected}: {exc}") from exc
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name} must have shape {expected}, got shape {arr.shape} "
            f"({arr.ndim}-D); Monte-Carlo samples go on axis 0 of an (S, N, C) array"
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} must be non-empty with shape {expected}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values (shape {arr.shape})")
    if arr.min() < 0.0:
        raise ValueError(
            f"{name} must be non-negative probabilities, got minimum {arr.min():.6g} "
            f"(shape {arr.shape}); pass softmax outputs, not logits"
        )
    deviation = np.abs(arr.sum(axis=-1) - 1.0)
    worst = float(deviation.max())
    if worst > SUM_TOLERANCE:
        index = np.unravel_index(int(np.argmax(deviation)), deviation.shape)
        raise ValueError(
            f"{name} rows must sum to 1 over the class axis (last axis of shape {arr.shape}) "
            f"within {SUM_TOLERANCE:g}; row {tuple(int(i) for i in index)} is off by "
            f"{worst:.6g}; pass softmax outputs, not logits"
        )
    return arr


def _as_labels(labels: ArrayLike, n: int, n_classes: int, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as 1-D int64 of length ``n`` with values in ``[0, n_classes)``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) to match the probabilities, got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must have an integer dtype (class indices), got dtype {arr.dtype}"
        )
    if n and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}) for {n_classes} classes, got values in "
            f"[{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64, copy=False)


def _as_scores(x: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    """Return ``x`` as a non-empty, finite, 1-D float64 array (of length ``n`` if given)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D numeric array of scores: {exc}") from exc
    expected = "(n,)" if n is None else f"({n},)"
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape {expected}, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values (shape {arr.shape})")
    return arr


def _as_real(x: Any, name: str) -> float:
    """Return ``x`` as a Python float, rejecting NaN and non-numbers."""
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {x!r}") from exc
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


# --------------------------------------------------------------------------------------------
# Uncertainty measures
# --------------------------------------------------------------------------------------------


def _entropy(p: np.ndarray) -> np.ndarray:
    """``-sum_c p_c log p_c`` over the last axis with ``0 log 0 = 0`` (no validation)."""
    logp = np.log(np.where(p > 0.0, p, 1.0))
    return np.maximum(-(p * logp).sum(axis=-1), 0.0)


def predictive_mean(probs: ArrayLike) -> np.ndarray:
    """Predictive (Bayesian model average) distribution ``p = (1/S) sum_s p_s``.

    Args:
        probs: ``(S, N, C)`` softmax outputs of ``S`` MC samples.

    Returns:
        ``(N, C)`` float64 mean probabilities.
    """
    return _as_probs(probs, "probs", (3,)).mean(axis=0)


def _mean_or_2d(probs_or_mean: ArrayLike) -> np.ndarray:
    arr = _as_probs(probs_or_mean, "probs_or_mean", (3, 2))
    return arr.mean(axis=0) if arr.ndim == 3 else arr


def predictive_entropy(probs_or_mean: ArrayLike) -> np.ndarray:
    """Predictive entropy ``H[p] = -sum_c p_c log p_c`` in nats, with ``0 log 0 = 0``.

    Args:
        probs_or_mean: ``(S, N, C)`` MC softmax samples (the mean over ``S`` is taken first) or
            ``(N, C)`` probabilities.

    Returns:
        ``(N,)`` entropies in nats, in ``[0, log C]``.
    """
    return _entropy(_mean_or_2d(probs_or_mean))


def expected_entropy(probs: ArrayLike) -> np.ndarray:
    """Expected entropy of the MC samples ``(1/S) sum_s H[p_s]`` in nats (aleatoric part).

    Args:
        probs: ``(S, N, C)`` softmax outputs of ``S`` MC samples.

    Returns:
        ``(N,)`` expected entropies in nats.
    """
    return _entropy(_as_probs(probs, "probs", (3,))).mean(axis=0)


def _mutual_information(p: np.ndarray) -> np.ndarray:
    return np.maximum(_entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0), 0.0)


def mutual_information(probs: ArrayLike) -> np.ndarray:
    """Mutual information (BALD) ``MI = H[(1/S) sum_s p_s] - (1/S) sum_s H[p_s]`` in nats.

    The epistemic part of the predictive entropy; non-negative by concavity of ``H``, clamped at
    0 to absorb rounding. It is 0 for ``S = 1`` or when all MC samples agree.

    Args:
        probs: ``(S, N, C)`` softmax outputs of ``S`` MC samples.

    Returns:
        ``(N,)`` mutual information in nats, in ``[0, log C]``.
    """
    return _mutual_information(_as_probs(probs, "probs", (3,)))


def max_probability(probs_or_mean: ArrayLike) -> np.ndarray:
    """Confidence ``max_c p_c`` of the (mean) prediction.

    Args:
        probs_or_mean: ``(S, N, C)`` MC samples (averaged first) or ``(N, C)`` probabilities.

    Returns:
        ``(N,)`` maximum class probabilities in ``[1/C, 1]``.
    """
    return _mean_or_2d(probs_or_mean).max(axis=-1)


def uncertainty_scores(
    probs: ArrayLike,
    measures: Sequence[str] | str = ("entropy", "mutual_information", "one_minus_max_prob"),
) -> dict[str, np.ndarray]:
    """Several uncertainty scores at once (higher = more uncertain), validating ``probs`` once.

    Measures (see :data:`MEASURES`): ``"entropy"`` = ``H[p]`` (nats), ``"mutual_information"`` =
    ``H[p] - E_s H[p_s]`` (nats), ``"one_minus_max_prob"`` = ``1 - max_c p_c``,
    ``"expected_entropy"`` = ``E_s H[p_s]`` (nats), with ``p = (1/S) sum_s p_s``.

    Args:
        probs: ``(S, N, C)`` softmax outputs of ``S`` MC samples.
        measures: measure names (a single name is accepted too).

    Returns:
        ``{measure: (N,) scores}`` in the order of ``measures``.
    """
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ValueError(f"measures contains unknown names {unknown}; valid names are {MEASURES}")
    p = _as_probs(probs, "probs", (3,))
    mean = p.mean(axis=0)
    out: dict[str, np.ndarray] = {}
    for m in measures:
        if m == "entropy":
            out[m] = _entropy(mean)
        elif m == "mutual_information":
            out[m] = _mutual_information(p)
        elif m == "one_minus_max_prob":
            out[m] = 1.0 - mean.max(axis=-1)
        else:  # expected_entropy
            out[m] = _entropy(p).mean(axis=0)
    return out


# --------------------------------------------------------------------------------------------
# Accuracy and calibration
# --------------------------------------------------------------------------------------------


def accuracy(mean_probs: ArrayLike, labels: ArrayLike) -> float:
    """Top-1 accuracy ``(1/N) sum_i [argmax_c p_ic == y_i]``, ties to the lowest class index.

    Args:
        mean_probs: ``(N, C)`` probabilities.
        labels: ``(N,)`` integer class indices.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    p = _as_probs(mean_probs, "mean_probs", (2,))
    y = _as_labels(labels, p.shape[0], p.shape[1])
    return float(np.mean(p.argmax(axis=1) == y))


@dataclass(frozen=True)
class CalibrationBins:
    """Per-bin statistics of a reliability diagram (equal-width confidence bins on ``(0, 1]``).

    Attributes:
        edges: ``(n_bins + 1,)`` bin edges ``0, 1/n_bins, ..., 1``; bin ``b`` is
            ``(edges[b], edges[b + 1]]``.
        counts: ``(n_bins,)`` number of inputs per bin.
        accuracy: ``(n_bins,)`` accuracy per bin (NaN for empty bins).
        confidence: ``(n_bins,)`` mean confidence ``max_c p_c`` per bin (NaN for empty bins).
    """

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray


def _check_n_bins(n_bins: Any) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def calibration_bins(mean_probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> CalibrationBins:
    """Bin the inputs by confidence ``max_c p_c`` into ``n_bins`` equal-width bins on ``(0, 1]``.

    Bin ``b`` (0-based) holds the inputs with ``b/n_bins < conf <= (b+1)/n_bins`` (edges from
    ``np.linspace(0, 1, n_bins + 1)``); a confidence slightly above 1 (allowed rounding) goes to
    the last bin. Predictions are arg-max with ties to the lowest class index.
    """
    n_bins = _check_n_bins(n_bins)
    p = _as_probs(mean_probs, "mean_probs", (2,))
    y = _as_labels(labels, p.shape[0], p.shape[1])
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / counts
        mconf = np.bincount(idx, weights=conf, minlength=n_bins) / counts
    acc[counts == 0] = np.nan
    mconf[counts == 0] = np.nan
    return CalibrationBins(edges=edges, counts=counts, accuracy=acc, confidence=mconf)


def expected_calibration_error(mean_probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error (Guo et al. 2017) with equal-width confidence bins.

    ``ECE = sum_b (|B_b| / N) * |acc(B_b) - conf(B_b)|`` over the non-empty bins
    ``B_b = {i : b/n_bins < max_c p_ic <= (b+1)/n_bins}``, where ``acc`` is the fraction of
    correct arg-max predictions and ``conf`` the mean confidence in the bin.

    Args:
        mean_probs: ``(N, C)`` probabilities.
        labels: ``(N,)`` integer class indices.
        n_bins: number of bins (positive integer).

    Returns:
        ECE in ``[0, 1]`` (unitless, a probability gap).
    """
    bins = calibration_bins(mean_probs, labels, n_bins)
    n = bins.counts.sum()
    filled = bins.counts > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(bins.counts[filled] / n * gaps))


# --------------------------------------------------------------------------------------------
# OOD detection
# --------------------------------------------------------------------------------------------


def auroc(scores_in: ArrayLike, scores_out: ArrayLike) -> float:
    """Area under the ROC curve with OOD as the positive class (higher score = more OOD).

    Computed from average ranks (``scipy.stats.rankdata``) as the Mann-Whitney statistic,
    O(n log n):
    ``AUROC = (R_out - n_out (n_out + 1) / 2) / (n_in n_out)`` where ``R_out`` is the sum of the
    ranks of the OOD scores in the pooled sample. This equals
    ``P(s_out > s_in) + 0.5 P(s_out = s_in)`` and ``sklearn.metrics.roc_auc_score``.

    Args:
        scores_in: ``(n_in,)`` scores of in-distribution inputs.
        scores_out: ``(n_out,)`` scores of OOD inputs.

    Returns:
        AUROC in ``[0, 1]``; 0.5 = chance, 1 = every OOD score above every in-distribution one.
    """
    s_in = _as_scores(scores_in, "scores_in")
    s_out = _as_scores(scores_out, "scores_out")
    n_in, n_out = s_in.size, s_out.size
    ranks = rankdata(np.concatenate((s_in, s_out)), method="average")
    u = ranks[n_in:].sum() - n_out * (n_out + 1) / 2.0
    return float(u / (n_in * n_out))


def roc_curve(
    scores_in: ArrayLike, scores_out: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full ROC curve (OOD = positive) via ``sklearn.metrics.roc_curve``.

    An input is predicted OOD when ``score >= threshold``. No point is dropped
    (``drop_intermediate=False``); ``thresholds`` decrease and ``thresholds[0] = inf``
    (the point ``fpr = tpr = 0``).

    Returns:
        ``(fpr, tpr, thresholds)``, three 1-D arrays of the same length.
    """
    from sklearn.metrics import roc_curve as _sk_roc_curve

    s_in = _as_scores(scores_in, "scores_in")
    s_out = _as_scores(scores_out, "scores_out")
    y = np.concatenate((np.zeros(s_in.size, dtype=np.int64), np.ones(s_out.size, dtype=np.int64)))
    fpr, tpr, thresholds = _sk_roc_curve(
        y, np.concatenate((s_in, s_out)), pos_label=1, drop_intermediate=False
    )
    return fpr, tpr, thresholds


def _check_fraction(x: Any, name: str, *, allow_zero: bool) -> float:
    value = _as_real(x, name)
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    if not (low_ok and value <= 1.0):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def fpr_at_tpr(scores_in: ArrayLike, scores_out: ArrayLike, tpr: float = 0.95) -> float:
    """False-positive rate at a given true-positive rate (FPR@95TPR by default).

    With ``flag(t) = {score >= t}``, take the highest threshold ``t*`` such that
    ``TPR(t*) = |{s_out >= t*}| / n_out >= tpr``, i.e. the ``k``-th largest OOD score with
    ``k`` the smallest integer such that ``k / n_out >= tpr``, and return
    ``FPR = |{s_in >= t*}| / n_in``, the fraction of in-distribution inputs flagged.

    Args:
        scores_in: ``(n_in,)`` in-distribution scores.
        scores_out: ``(n_out,)`` OOD scores.
        tpr: target true-positive rate in ``(0, 1]``.

    Returns:
        FPR in ``[0, 1]`` (lower is better).
    """
    tpr = _check_fraction(tpr, "tpr", allow_zero=False)
    s_in = _as_scores(scores_in, "scores_in")
    s_out = _as_scores(scores_out, "scores_out")
    n_out = s_out.size
    # Smallest k with k / n_out >= tpr, evaluated exactly as a ROC curve would (tps / n_out).
    k = int(np.argmax(np.arange(1, n_out + 1) / n_out >= tpr)) + 1
    threshold = np.sort(s_out)[::-1][k - 1]
    return float(np.mean(s_in >= threshold))


def threshold_at_percentile(scores_in_val: ArrayLike, percentile: float = 95.0) -> float:
    """Detection threshold ``np.percentile(scores_in_val, percentile)`` (linear interpolation).

    With the default 95, about 5% of in-distribution inputs score strictly above it.
    """
    q = _as_real(percentile, "percentile")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must lie in [0, 100], got {q!r}")
    return float(np.percentile(_as_scores(scores_in_val, "scores_in_val"), q))


def detection_rate(scores_out: ArrayLike, threshold: float) -> float:
    """Fraction of OOD inputs flagged: ``|{s_out > threshold}| / n_out`` (strictly above)."""
    t = _as_real(threshold, "threshold")
    return float(np.mean(_as_scores(scores_out, "scores_out") > t))


def accuracy_when_kept(
    mean_probs: ArrayLike, labels: ArrayLike, scores: ArrayLike, threshold: float
) -> tuple[float, float]:
    """Accuracy on the inputs that are *not* flagged (``score <= threshold``).

    Returns:
        ``(accuracy on kept inputs, kept fraction)``; the accuracy is NaN when nothing is kept.
    """
    p = _as_probs(mean_probs, "mean_probs", (2,))
    n = p.shape[0]
    y = _as_labels(labels, n, p.shape[1])
    s = _as_scores(scores, "scores", n)
    t = _as_real(threshold, "threshold")
    kept = s <= t
    frac = float(np.mean(kept))
    if not kept.any():
        return float("nan"), frac
    return float(np.mean(p[kept].argmax(axis=1) == y[kept])), frac


def abstention_curve(
    mean_probs: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    keep_fractions: Iterable[float] = DEFAULT_KEEP_FRACTIONS,
) -> list[tuple[float, float]]:
    """Accuracy when only the most certain inputs are kept (accuracy-rejection curve).

    For each fraction ``f`` the ``ceil(f N)`` inputs with the lowest score are kept (a stable
    sort, so among equal scores the earlier input is kept first; ``f N`` is rounded to 9
    decimals before the ceiling so that e.g. ``0.7 * 10`` keeps 7), and their top-1 accuracy is
    reported.

    Args:
        mean_probs: ``(N, C)`` probabilities.
        labels: ``(N,)`` integer class indices.
        scores: ``(N,)`` uncertainty scores (higher = more uncertain).
        keep_fractions: fractions in ``(0, 1]``.

    Returns:
        ``[(f, accuracy), ...]`` in the order of ``keep_fractions``.
    """
    p = _as_probs(mean_probs, "mean_probs", (2,))
    n = p.shape[0]
    y = _as_labels(labels, n, p.shape[1])
    s = _as_scores(scores, "scores", n)
    if not isinstance(keep_fractions, np.ndarray):
        keep_fractions = list(keep_fractions)
    fractions = np.asarray(keep_fractions, dtype=np.float64)
    if fractions.ndim != 1 or fractions.size == 0:
        raise ValueError(
            f"keep_fractions must be a non-empty 1-D sequence, got shape {fractions.shape}"
        )
    for f in fractions:
        _check_fraction(f, "keep_fractions entries", allow_zero=False)
    correct = p.argmax(axis=1) == y
    cum_correct = np.cumsum(correct[np.argsort(s, kind="stable")])
    curve = []
    for f in fractions:
        n_keep = max(1, math.ceil(round(float(f) * n, 9)))
        curve.append((float(f), float(cum_correct[n_keep - 1] / n_keep)))
    return curve


@dataclass(frozen=True)
class OODResult:
    """OOD detection summary of one uncertainty measure on one OOD set.

    Attributes:
        name: OOD set name.
        measure: uncertainty measure name (e.g. ``"entropy"``).
        auroc: AUROC of in-distribution test vs OOD scores.
        fpr_at_95_tpr: FPR at 95% TPR of in-distribution test vs OOD scores.
        detection_rate: fraction of OOD scores strictly above ``threshold``.
        threshold: threshold set on in-distribution validation scores (score units, e.g. nats).
        n: number of OOD inputs.
    """

    name: str
    measure: str
    auroc: float
    fpr_at_95_tpr: float
    detection_rate: float
    threshold: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (Python ``str``/``float``/``int`` values)."""
        d = asdict(self)
        for key in ("auroc", "fpr_at_95_tpr", "detection_rate", "threshold"):
            d[key] = float(d[key])
        d["n"] = int(d["n"])
        return d


def ood_report(
    scores_in_val: ArrayLike,
    scores_in_test: ArrayLike,
    scores_out: ArrayLike,
    name: str,
    measure: str,
    percentile: float = 95.0,
) -> OODResult:
    """Evaluate one measure on one OOD set.

    ``threshold = percentile(scores_in_val, percentile)``; ``auroc`` and ``fpr_at_95_tpr``
    compare ``scores_in_test`` with ``scores_out``; ``detection_rate`` is the fraction of
    ``scores_out`` strictly above ``threshold``; ``n = len(scores_out)``.
    """
    if not isinstance(name, str) or not isinstance(measure, str):
        raise ValueError(f"name and measure must be strings, got {name!r} and {measure!r}")
    s_val = _as_scores(scores_in_val, "scores_in_val")
    s_test = _as_scores(scores_in_test, "scores_in_test")
    s_out = _as_scores(scores_out, "scores_out")
    threshold = threshold_at_percentile(s_val, percentile)
    return OODResult(
        name=name,
        measure=measure,
        auroc=auroc(s_test, s_out),
        fpr_at_95_tpr=fpr_at_tpr(s_test, s_out, 0.95),
        detection_rate=detection_rate(s_out, threshold),
        threshold=threshold,
        n=int(s_out.size),
    )
