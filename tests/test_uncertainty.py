"""Uncertainty, calibration and OOD metrics against independent references.

References: scipy.stats.entropy, scikit-learn's roc_auc_score / roc_curve, scipy's Mann-Whitney U,
a per-bin loop for the ECE as in Guo et al. (2017), and small hand-computed cases.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import warnings

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from spindrop.uncertainty import (
    DEFAULT_KEEP_FRACTIONS,
    OODResult,
    abstention_curve,
    accuracy,
    accuracy_when_kept,
    auroc,
    calibration_bins,
    detection_rate,
    expected_calibration_error,
    expected_entropy,
    fpr_at_tpr,
    max_probability,
    mutual_information,
    ood_report,
    predictive_entropy,
    predictive_mean,
    roc_curve,
    threshold_at_percentile,
    uncertainty_scores,
)

LOG2 = math.log(2.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@pytest.fixture
def mc_probs() -> np.ndarray:
    """(S=7, N=50, C=4) random softmax samples, some nearly one-hot."""
    rng = np.random.default_rng(1234)
    logits = rng.normal(size=(7, 50, 4)) * rng.uniform(0.1, 8.0, size=(1, 50, 1))
    return _softmax(logits)


def _ref_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats of every row of ``p`` (last axis) with scipy."""
    flat = p.reshape(-1, p.shape[-1])
    return np.array([scipy_entropy(row) for row in flat]).reshape(p.shape[:-1])


def _ref_ece(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """Per-bin loop of Guo et al. (2017): bins (lower, upper] from linspace(0, 1, n_bins + 1)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lower, upper in itertools.pairwise(edges):
        in_bin = (conf > lower) & (conf <= upper)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return ece


# ------------------------------------------------------------------------------------------
# Uncertainty measures
# ------------------------------------------------------------------------------------------


def test_predictive_mean_hand_case():
    probs = np.array([[[1.0, 0.0], [0.2, 0.8]], [[0.0, 1.0], [0.4, 0.6]]])
    np.testing.assert_allclose(predictive_mean(probs), [[0.5, 0.5], [0.3, 0.7]])


def test_predictive_entropy_matches_scipy(mc_probs):
    mean = mc_probs.mean(axis=0)
    ref = _ref_entropy(mean)
    np.testing.assert_allclose(predictive_entropy(mc_probs), ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(predictive_entropy(mean), ref, rtol=1e-12, atol=1e-15)
    assert predictive_entropy(mean).shape == (50,)


def test_entropy_extremes_and_zero_log_zero_without_warnings():
    probs = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = predictive_entropy(probs)
    np.testing.assert_allclose(h, [math.log(4.0), 0.0, LOG2], atol=1e-15)


def test_expected_entropy_matches_scipy(mc_probs):
    ref = _ref_entropy(mc_probs).mean(axis=0)
    np.testing.assert_allclose(expected_entropy(mc_probs), ref, rtol=1e-12, atol=1e-15)


def test_mutual_information_matches_scipy_and_is_bounded(mc_probs):
    ref = _ref_entropy(mc_probs.mean(axis=0)) - _ref_entropy(mc_probs).mean(axis=0)
    mi = mutual_information(mc_probs)
    np.testing.assert_allclose(mi, np.maximum(ref, 0.0), atol=1e-12)
    assert np.all(mi >= 0.0)
    assert np.all(mi <= predictive_entropy(mc_probs) + 1e-12)


def test_mutual_information_hand_cases():
    # Two confident samples that disagree: H(mean) = log 2, expected entropy = 0.
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(mutual_information(disagree), [LOG2], atol=1e-15)
    # Samples that agree (or a single sample): no epistemic uncertainty, never negative.
    agree = np.repeat(np.array([[[0.3, 0.3, 0.4], [0.1, 0.2, 0.7]]]), 5, axis=0)
    assert np.all(mutual_information(agree) == 0.0)
    assert np.all(mutual_information(agree[:1]) == 0.0)


def test_max_probability_2d_and_3d():
    probs = np.array([[[0.6, 0.4]], [[0.0, 1.0]]])
    np.testing.assert_allclose(max_probability(probs), [0.7])
    np.testing.assert_allclose(max_probability(probs[0]), [0.6])


def test_uncertainty_scores_against_references(mc_probs):
    scores = uncertainty_scores(mc_probs)
    assert list(scores) == ["entropy", "mutual_information", "one_minus_max_prob"]
    mean = mc_probs.mean(axis=0)
    h_mean = _ref_entropy(mean)
    h_samples = _ref_entropy(mc_probs).mean(axis=0)
    np.testing.assert_allclose(scores["entropy"], h_mean, rtol=1e-12)
    np.testing.assert_allclose(scores["mutual_information"], h_mean - h_samples, atol=1e-12)
    np.testing.assert_allclose(scores["one_minus_max_prob"], 1.0 - mean.max(axis=1), rtol=1e-12)
    only = uncertainty_scores(mc_probs, "expected_entropy")
    assert list(only) == ["expected_entropy"]
    np.testing.assert_allclose(only["expected_entropy"], h_samples, rtol=1e-12)


def test_uncertainty_scores_unknown_measure():
    with pytest.raises(ValueError, match="unknown"):
        uncertainty_scores(np.full((2, 3, 2), 0.5), ("entropy", "variance"))


@pytest.mark.parametrize(
    "func", [predictive_mean, expected_entropy, mutual_information, uncertainty_scores]
)
def test_mc_functions_require_3d(func):
    with pytest.raises(ValueError, match=r"\(S, N, C\).*\(3, 2\)"):
        func(np.full((3, 2), 0.5))


@pytest.mark.parametrize("func", [predictive_entropy, max_probability])
def test_mean_functions_reject_wrong_ndim(func):
    with pytest.raises(ValueError, match=r"\(S, N, C\) or \(N, C\).*\(4,\)"):
        func(np.full(4, 0.25))


def test_logits_are_rejected_with_a_hint():
    logits = np.array([[[2.0, -1.0, 0.5]]])
    with pytest.raises(ValueError, match="softmax outputs, not logits"):
        predictive_entropy(logits)
    unnormalised = np.array([[[0.2, 0.2, 0.2]]])
    with pytest.raises(ValueError, match=r"sum to 1.*softmax outputs, not logits"):
        mutual_information(unnormalised)


def test_small_rounding_of_row_sums_is_accepted():
    probs = np.array([[[0.5, 0.5 + 5e-5]]])
    assert predictive_entropy(probs).shape == (1,)


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 0, 3)), np.array([[[np.nan, 1.0]]]), np.array([[[np.inf, 0.0]]])]
)
def test_empty_or_non_finite_probs_are_rejected(bad):
    with pytest.raises(ValueError, match="probs"):
        expected_entropy(bad)


# ------------------------------------------------------------------------------------------
# Accuracy and calibration
# ------------------------------------------------------------------------------------------


def test_accuracy_ties_go_to_lowest_class():
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.2, 0.8], [0.4, 0.4 + 0.2]])
    assert accuracy(probs, np.array([0, 1, 1, 1])) == pytest.approx(0.75)


def test_accuracy_validates_labels():
    probs = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\).*\(2,\)"):
        accuracy(probs, np.array([0, 1]))
    with pytest.raises(ValueError, match="integer dtype"):
        accuracy(probs, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        accuracy(probs, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"mean_probs must have shape \(N, C\)"):
        accuracy(np.full((1, 3, 2), 0.5), np.array([0, 1, 1]))


def test_ece_hand_case():
    # Bins of width 0.2 (n_bins=5), right-closed: confidences 0.4 and 0.6 lie on edges and
    # belong to (0.2, 0.4] and (0.4, 0.6].
    probs = np.array(
        [
            [0.9, 0.1, 0.0, 0.0],  # conf 0.9, correct   -> bin (0.8, 1.0]
            [0.9, 0.1, 0.0, 0.0],  # conf 0.9, wrong     -> bin (0.8, 1.0]
            [0.6, 0.4, 0.0, 0.0],  # conf 0.6, correct   -> bin (0.4, 0.6]
            [0.55, 0.45, 0.0, 0.0],  # conf 0.55, wrong  -> bin (0.4, 0.6]
            [0.4, 0.3, 0.3, 0.0],  # conf 0.4, correct   -> bin (0.2, 0.4]
        ]
    )
    labels = np.array([0, 1, 0, 1, 0])
    # (1/5)|1 - 0.4| + (2/5)|0.5 - 0.575| + (2/5)|0.5 - 0.9| = 0.12 + 0.03 + 0.16
    assert expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(0.31)
    assert _ref_ece(probs, labels, 5) == pytest.approx(0.31)
    bins = calibration_bins(probs, labels, n_bins=5)
    np.testing.assert_array_equal(bins.counts, [0, 1, 2, 0, 2])
    np.testing.assert_allclose(bins.accuracy[[1, 2, 4]], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(bins.confidence[[1, 2, 4]], [0.4, 0.575, 0.9])
    assert np.isnan(bins.accuracy[0]) and np.isnan(bins.confidence[3])
    np.testing.assert_allclose(bins.edges, np.linspace(0.0, 1.0, 6))


def test_ece_perfectly_confident_and_correct_is_zero():
    probs = np.eye(3)
    assert expected_calibration_error(probs, np.array([0, 1, 2])) == 0.0
    assert expected_calibration_error(probs, np.array([1, 2, 0])) == pytest.approx(1.0)


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_matches_reference_loop(mc_probs, n_bins):
    mean = mc_probs.mean(axis=0)
    labels = np.random.default_rng(7).integers(0, 4, size=mean.shape[0])
    got = expected_calibration_error(mean, labels, n_bins=n_bins)
    assert got == pytest.approx(_ref_ece(mean, labels, n_bins), abs=1e-12)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_ece_rejects_bad_n_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(np.eye(2), np.array([0, 1]), n_bins=n_bins)


# ------------------------------------------------------------------------------------------
# OOD detection
# ------------------------------------------------------------------------------------------


def _auroc_cases():
    rng = np.random.default_rng(99)
    return [
        (rng.normal(size=300), rng.normal(0.8, 1.0, size=200)),  # continuous
        (rng.integers(0, 5, size=400).astype(float), rng.integers(2, 7, size=150).astype(float)),
        (np.array([0.3]), np.array([0.3, 0.1, 0.9])),
    ]


@pytest.mark.parametrize(("s_in", "s_out"), _auroc_cases())
def test_auroc_matches_sklearn_and_mann_whitney(s_in, s_out):
    y = np.r_[np.zeros(s_in.size), np.ones(s_out.size)]
    ref = roc_auc_score(y, np.r_[s_in, s_out])
    assert auroc(s_in, s_out) == pytest.approx(ref, abs=1e-12)
    u = mannwhitneyu(s_out, s_in, alternative="two-sided").statistic
    assert auroc(s_in, s_out) == pytest.approx(u / (s_in.size * s_out.size), abs=1e-12)


def test_auroc_hand_cases():
    assert auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert auroc([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    # pairs (out > in): 0.5 vs 0.2 yes, 0.5 vs 0.5 tie, 0.1 vs both no -> (1 + 0.5) / 4
    assert auroc([0.2, 0.5], [0.5, 0.1]) == pytest.approx(0.375)


def test_auroc_is_vectorised():
    rng = np.random.default_rng(0)
    s_in, s_out = rng.normal(size=200_000), rng.normal(0.5, 1.0, size=200_000)
    ref = roc_auc_score(np.r_[np.zeros(s_in.size), np.ones(s_out.size)], np.r_[s_in, s_out])
    assert auroc(s_in, s_out) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize(
    "func", [auroc, roc_curve, fpr_at_tpr, lambda a, b: ood_report(a, a, b, "x", "entropy")]
)
def test_score_arrays_are_validated(func):
    with pytest.raises(ValueError, match=r"scores_out must be non-empty"):
        func([0.1, 0.2], [])
    with pytest.raises(ValueError, match=r"scores_in.*1-D.*\(2, 1\)"):
        func([[0.1], [0.2]], [0.3])
    with pytest.raises(ValueError, match="NaN"):
        func([0.1, np.nan], [0.3])


def test_roc_curve_hand_case():
    fpr, tpr, thr = roc_curve([0.1, 0.4], [0.35, 0.8])
    np.testing.assert_allclose(fpr, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(thr[1:], [0.8, 0.4, 0.35, 0.1])
    assert np.isinf(thr[0])


def _sk_fpr_at_tpr(s_in, s_out, target):
    y = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
    fpr, tpr, _ = sk_roc_curve(y, np.r_[s_in, s_out], drop_intermediate=False)
    return fpr[np.argmax(tpr >= target)]  # first (highest-threshold) point reaching the target


@pytest.mark.parametrize("target", [0.95, 0.7, 0.5, 1.0, 0.01])
@pytest.mark.parametrize(("s_in", "s_out"), _auroc_cases())
def test_fpr_at_tpr_matches_sklearn_roc(s_in, s_out, target):
    assert fpr_at_tpr(s_in, s_out, target) == pytest.approx(_sk_fpr_at_tpr(s_in, s_out, target))


def test_fpr_at_tpr_hand_cases():
    out = np.arange(1.0, 21.0)  # 95% of 20 = 19 flagged -> threshold = 2 (flag score >= 2)
    assert fpr_at_tpr([1.5, 2.0, 3.0], out) == pytest.approx(2.0 / 3.0)
    # 0.07 * 100 is 7.000000000000001 in floating point; 7 of 100 (= 0.07) must be enough.
    out100 = np.arange(100.0)  # 7 highest: 93..99 -> threshold 93
    assert fpr_at_tpr([92.5, 93.0, 93.5, 100.0], out100, tpr=0.07) == pytest.approx(0.75)
    assert fpr_at_tpr([92.5, 93.0, 93.5, 100.0], out100, tpr=0.07) == pytest.approx(
        _sk_fpr_at_tpr([92.5, 93.0, 93.5, 100.0], out100, 0.07)
    )
    with pytest.raises(ValueError, match="tpr"):
        fpr_at_tpr([0.0], [1.0], tpr=0.0)


def test_threshold_detection_and_keep():
    assert threshold_at_percentile(np.arange(11.0), 95.0) == pytest.approx(9.5)
    assert threshold_at_percentile([3.0, 1.0, 2.0], 50) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="percentile"):
        threshold_at_percentile([1.0, 2.0], 101.0)
    with pytest.raises(ValueError, match="scores_in_val must be non-empty"):
        threshold_at_percentile([])
    assert detection_rate([1.0, 2.0, 3.0], 2.0) == pytest.approx(1.0 / 3.0)  # strictly above
    with pytest.raises(ValueError, match="threshold"):
        detection_rate([1.0], float("nan"))


def test_accuracy_when_kept_hand_case():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    labels = np.array([0, 0, 0, 1])  # correct, wrong, correct, wrong
    scores = np.array([0.1, 0.5, 0.2, 0.9])
    acc, kept = accuracy_when_kept(probs, labels, scores, 0.5)  # keeps score <= 0.5
    assert (acc, kept) == (pytest.approx(2.0 / 3.0), pytest.approx(0.75))
    acc, kept = accuracy_when_kept(probs, labels, scores, 0.05)
    assert math.isnan(acc) and kept == 0.0
    with pytest.raises(ValueError, match=r"scores must have shape \(4,\)"):
        accuracy_when_kept(probs, labels, scores[:3], 0.5)


def test_abstention_curve_hand_case_with_stable_ties():
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 0])  # correct, wrong, correct, wrong
    scores = np.array([0.2, 0.2, 0.1, 0.5])  # order kept: 2, 0, 1, 3 (0 before 1: stable)
    curve = abstention_curve(probs, labels, scores, keep_fractions=[0.25, 0.5, 0.75, 1.0])
    assert curve == [(0.25, 1.0), (0.5, 1.0), (0.75, pytest.approx(2 / 3)), (1.0, 0.5)]
    default = abstention_curve(probs, labels, scores)
    assert [f for f, _ in default] == pytest.approx(list(np.linspace(0.5, 1.0, 11)))
    assert not DEFAULT_KEEP_FRACTIONS.flags.writeable
    with pytest.raises(ValueError, match="keep_fractions"):
        abstention_curve(probs, labels, scores, keep_fractions=[0.0, 1.0])


def test_abstention_curve_rounds_fraction_times_n_safely():
    # 0.55 * 100 = 55.00000000000001 in floating point: keep 55 inputs, not 56.
    probs = np.tile([[0.9, 0.1]], (100, 1))
    labels = np.array([0] * 55 + [1] * 45)
    scores = np.arange(100.0)  # the 55 most certain are exactly the correct ones
    curve = abstention_curve(probs, labels, scores)  # default fractions 0.50, 0.55, ..., 1.0
    assert curve[1] == (pytest.approx(0.55), 1.0)
    assert curve[2] == (pytest.approx(0.6), pytest.approx(55 / 60))
    assert curve[7] == (pytest.approx(0.85), pytest.approx(55 / 85))  # 85.00000000000001 too


def test_abstention_curve_stable_ties_against_python_sort():
    rng = np.random.default_rng(11)
    n = 200
    probs = _softmax(rng.normal(size=(n, 3)))
    labels = rng.integers(0, 3, size=n)
    scores = rng.integers(0, 3, size=n).astype(float)  # many ties
    order = sorted(range(n), key=lambda i: scores[i])  # Python's sort is stable
    correct = probs.argmax(axis=1) == labels
    fractions = [0.125, 0.25, 0.5, 0.75, 1.0]  # f * n exact in floating point
    expected = [(f, correct[order[: math.ceil(f * n)]].mean()) for f in fractions]
    got = abstention_curve(probs, labels, scores, fractions)
    assert [f for f, _ in got] == fractions
    np.testing.assert_allclose([a for _, a in got], [a for _, a in expected], rtol=0, atol=0)


def test_ood_report_against_references():
    rng = np.random.default_rng(5)
    val, test_in = rng.normal(size=400), rng.normal(size=300)
    out = rng.normal(1.5, 1.0, size=250)
    res = ood_report(val, test_in, out, name="noise", measure="entropy")
    threshold = np.percentile(val, 95.0)
    y = np.r_[np.zeros(300), np.ones(250)]
    assert res.name == "noise" and res.measure == "entropy" and res.n == 250
    assert res.threshold == pytest.approx(threshold)
    assert res.auroc == pytest.approx(roc_auc_score(y, np.r_[test_in, out]))
    assert res.fpr_at_95_tpr == pytest.approx(_sk_fpr_at_tpr(test_in, out, 0.95))
    assert res.detection_rate == pytest.approx(np.mean(out > threshold))
    d = res.as_dict()
    assert set(d) == {f.name for f in dataclasses.fields(OODResult)}
    assert json.loads(json.dumps(d)) == d
    assert all(type(d[k]) is float for k in ("auroc", "fpr_at_95_tpr", "detection_rate"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.auroc = 0.0  # type: ignore[misc]
