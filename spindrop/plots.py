"""Figures for the uncertainty / OOD / robustness evaluation, written as reproducible PNGs.

Every function draws on a stand-alone :class:`matplotlib.figure.Figure` (no pyplot, no GUI
backend, nothing left open), under matplotlib's default style so that global ``rcParams``
changes made elsewhere do not leak in, and saves it atomically with
:func:`spindrop._io.atomic_write` as a PNG without the version-dependent ``Software`` tag: the
same data give byte-identical files on the same matplotlib/freetype installation. Each function
validates its inputs before drawing and returns the :class:`~pathlib.Path` it wrote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.style
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from hdl._io import atomic_write
from spindrop.uncertainty import (
    _as_scores,
    auroc,
    calibration_bins,
    expected_calibration_error,
    roc_curve,
)

__all__ = [
    "plot_corruption_accuracy",
    "plot_reliability",
    "plot_roc",
    "plot_uncertainty_histograms",
    "plot_variation",
]

#: Resolution of every saved PNG (dots per inch).
DPI = 100

#: Smallest y-axis span of :func:`plot_variation` by default: 0.1 = 10 percentage points for
#: accuracies and detection rates, so that differences of a test image or two (noise) are not
#: stretched over the whole axis and read as a trend.
MIN_Y_SPAN = 0.1

# Reliability diagram: one opaque colour (and hatch) per legend entry, bars never overlap.
_ACCURACY = "C0"
_OVER_CONFIDENT = "#f4a6a6"  # light red: confidence above accuracy
_UNDER_HATCH = "///"  # the accuracy bar above the confidence: under-confident

_MEASURE_LABELS = {
    "entropy": "predictive entropy (nats)",
    "mutual_information": "mutual information (nats)",
    "expected_entropy": "expected entropy (nats)",
    "one_minus_max_prob": "1 - max probability",
}


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png (figures are saved as PNG), got {str(path)!r}")
    return path


def _save(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as a deterministic PNG at ``path`` atomically, then release it."""
    try:
        return atomic_write(
            path, lambda f: fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None})
        )
    finally:
        fig.clear()


def _check_named_scores(scores: Any, name: str, *, allow_empty: bool) -> dict[str, np.ndarray]:
    if not isinstance(scores, Mapping):
        raise ValueError(
            f"{name} must be a dict {{set name: 1-D scores}}, got {type(scores).__name__}"
        )
    if not scores and not allow_empty:
        raise ValueError(f"{name} must contain at least one OOD set, got an empty dict")
    out = {}
    for key, value in scores.items():
        if not isinstance(key, str):
            raise ValueError(f"{name} keys must be strings, got {key!r}")
        out[key] = _as_scores(value, f"{name}[{key!r}]")
    return out


def plot_uncertainty_histograms(
    scores_in: ArrayLike,
    scores_out: Mapping[str, ArrayLike],
    threshold: float | None,
    path: str | Path,
    measure: str = "entropy",
    title: str = "",
) -> Path:
    """Overlaid density histograms of in-distribution and OOD uncertainty scores.

    All sets share the same 40 bins spanning the pooled score range; a dashed vertical line
    marks ``threshold`` (skipped when ``None``). ``measure`` only sets the x-axis label
    (e.g. ``"entropy"`` -> "predictive entropy (nats)").

    Args:
        scores_in: ``(n_in,)`` in-distribution scores.
        scores_out: ``{OOD set name: (n_k,) scores}``; may be empty.
        threshold: detection threshold in score units, or ``None``.
        path: output ``.png`` path.
        measure: measure name for the axis label.
        title: figure title.
    """
    path = _check_path(path)
    s_in = _as_scores(scores_in, "scores_in")
    outs = _check_named_scores(scores_out, "scores_out", allow_empty=True)
    if threshold is not None:
        threshold = float(threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number or None, got {threshold!r}")
    pooled = np.concatenate([s_in, *outs.values()])
    edges = np.histogram_bin_edges(pooled, bins=40)
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.add_subplot()
        ax.hist(
            s_in,
            bins=edges,
            density=True,
            histtype="stepfilled",
            alpha=0.35,
            color="C0",
            label=f"in-distribution (n={s_in.size})",
        )
        for i, (key, s) in enumerate(outs.items(), start=1):
            ax.hist(
                s,
                bins=edges,
                density=True,
                histtype="step",
                linewidth=1.5,
                color=f"C{i % 10}",
                label=f"{key} (n={s.size})",
            )
        if threshold is not None:
            ax.axvline(
                threshold,
                color="k",
                linestyle="--",
                linewidth=1.0,
                label=f"threshold = {threshold:.4g}",
            )
        ax.set_xlabel(_MEASURE_LABELS.get(measure, measure))
        ax.set_ylabel("density")
        ax.legend(fontsize="small")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path)


def plot_roc(
    scores_in: ArrayLike,
    scores_out: Mapping[str, ArrayLike],
    path: str | Path,
    title: str = "",
) -> Path:
    """ROC curves (OOD = positive, higher score = more OOD), one per OOD set, AUROC in legend.

    Args:
        scores_in: ``(n_in,)`` in-distribution scores.
        scores_out: ``{OOD set name: (n_k,) scores}``, at least one set.
        path: output ``.png`` path.
        title: figure title.
    """
    path = _check_path(path)
    s_in = _as_scores(scores_in, "scores_in")
    outs = _check_named_scores(scores_out, "scores_out", allow_empty=False)
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(5.0, 5.0))
        ax = fig.add_subplot()
        for i, (key, s) in enumerate(outs.items()):
            fpr, tpr, _ = roc_curve(s_in, s)
            ax.plot(
                fpr,
                tpr,
                color=f"C{i % 10}",
                linewidth=1.5,
                label=f"{key} (AUROC = {auroc(s_in, s):.3f})",
            )
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1.0, label="chance")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("false-positive rate (in-distribution flagged)")
        ax.set_ylabel("true-positive rate (OOD flagged)")
        ax.legend(loc="lower right", fontsize="small")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path)


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    ncols = min(n, max_cols)
    return math.ceil(n / ncols), ncols


def plot_corruption_accuracy(
    results: Mapping[str, Mapping[str, Sequence[float]]],
    severities: Sequence[int],
    path: str | Path,
    title: str = "",
) -> Path:
    """Accuracy against corruption severity: one subplot per corruption kind, one line per model.

    Args:
        results: ``results[model_name][corruption_kind]`` = accuracies, one per severity (NaN
            allowed for a missing point). A model may lack some kinds; the kinds are the union
            over models, in first-seen order.
        severities: severity levels (x axis), e.g. ``[0, 1, 2, 3, 4, 5]``.
        path: output ``.png`` path.
        title: figure title.
    """
    path = _check_path(path)
    sev = np.asarray(severities)
    if sev.ndim != 1 or sev.size == 0:
        raise ValueError(f"severities must be a non-empty 1-D list, got shape {sev.shape}")
    if not np.issubdtype(sev.dtype, np.number) or not np.all(np.isfinite(sev)):
        raise ValueError(f"severities must be finite numbers, got {list(severities)!r}")
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty dict {model: {corruption kind: accuracies}}")
    kinds: list[str] = []
    data: dict[str, dict[str, np.ndarray]] = {}
    for model, per_kind in results.items():
        if not isinstance(per_kind, Mapping) or not per_kind:
            raise ValueError(
                f"results[{model!r}] must be a non-empty dict {{corruption kind: accuracies}}"
            )
        data[str(model)] = {}
        for kind, accs in per_kind.items():
            try:
                arr = np.asarray(accs, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"results[{model!r}][{kind!r}] must be numbers: {exc}") from exc
            if arr.shape != (sev.size,):
                raise ValueError(
                    f"results[{model!r}][{kind!r}] must have shape ({sev.size},) (one accuracy "
                    f"per severity), got shape {arr.shape}"
                )
            data[str(model)][str(kind)] = arr
            if str(kind) not in kinds:
                kinds.append(str(kind))
    nrows, ncols = _grid(len(kinds))
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(3.2 * ncols + 0.4, 2.8 * nrows + 0.6))
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        handles: dict[str, Any] = {}  # one legend entry per model, even if absent from a kind
        for k, kind in enumerate(kinds):
            ax = axes[k // ncols][k % ncols]
            for i, (model, per_kind) in enumerate(data.items()):
                if kind in per_kind:
                    (line,) = ax.plot(
                        sev,
                        per_kind[kind],
                        marker="o",
                        markersize=3,
                        color=f"C{i % 10}",
                        label=model,
                    )
                    handles.setdefault(model, line)
            ax.set_title(kind, fontsize="medium")
            ax.set_xticks(sev)
            ax.grid(True, alpha=0.3)
            if k // ncols == nrows - 1 or k + ncols >= len(kinds):
                ax.set_xlabel("severity")
            if k % ncols == 0:
                ax.set_ylabel("accuracy")
        for k in range(len(kinds), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        ordered = [handles[m] for m in data if m in handles]
        axes[0][0].legend(
            handles=ordered, labels=[h.get_label() for h in ordered], fontsize="small"
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path)


def _row_number(row: Mapping[str, Any], key: str, i: int, *, finite: bool) -> float:
    if key not in row:
        raise ValueError(f"rows[{i}] has no key {key!r} (keys: {sorted(map(str, row))})")
    try:
        value = float(row[key])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rows[{i}][{key!r}] must be a number, got {row[key]!r}") from exc
    if finite and not math.isfinite(value):
        raise ValueError(f"rows[{i}][{key!r}] must be finite, got {value!r}")
    return value


def plot_variation(
    rows: Sequence[Mapping[str, Any]],
    x_key: str,
    y_keys: Sequence[str],
    path: str | Path,
    group_key: str | None = None,
    title: str = "",
    min_y_span: float | None = MIN_Y_SPAN,
) -> Path:
    """Metrics against a device-variation parameter (e.g. ``sigma(Ic0)/Ic0`` or temperature).

    One subplot per ``y_keys`` entry (e.g. ``"accuracy"``, ``"detection_rate"``) sharing the x
    axis ``x_key``; one line per value of ``group_key`` (first-seen order) or a single line.
    Points are sorted by x within a line; y values may be NaN (gaps).

    Args:
        rows: records such as ``{"sigma_ic0": 0.02, "accuracy": 0.91, "model": "spindrop"}``.
        x_key: key of the x value (finite number) in every row.
        y_keys: keys of the y values, at least one.
        path: output ``.png`` path.
        group_key: optional key whose value names the line a row belongs to.
        title: figure title.
        min_y_span: smallest y-axis span of every subplot (``None`` = matplotlib's autoscale):
            nearly flat data are centred in a window this tall (kept inside [0, 1] when the
            data are), so noise does not look like a trend.
    """
    path = _check_path(path)
    if min_y_span is not None and not (
        isinstance(min_y_span, (int, float)) and math.isfinite(min_y_span) and min_y_span > 0
    ):
        raise ValueError(f"min_y_span must be a positive number or None, got {min_y_span!r}")
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence) or len(rows) == 0:
        raise ValueError("rows must be a non-empty list of dicts")
    if isinstance(y_keys, str):
        y_keys = [y_keys]
    y_keys = list(y_keys)
    if not y_keys:
        raise ValueError("y_keys must name at least one key")
    groups: dict[str, list[tuple[float, list[float]]]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"rows[{i}] must be a dict, got {type(row).__name__}")
        x = _row_number(row, x_key, i, finite=True)
        ys = [_row_number(row, k, i, finite=False) for k in y_keys]
        if group_key is None:
            group = ""
        elif group_key in row:
            group = str(row[group_key])
        else:
            raise ValueError(f"rows[{i}] has no group key {group_key!r}")
        groups.setdefault(group, []).append((x, ys))
    nrows, ncols = _grid(len(y_keys), max_cols=3)
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(3.6 * ncols + 0.4, 3.0 * nrows + 0.6))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for j, y_key in enumerate(y_keys):
            ax = axes[j // ncols][j % ncols]
            for i, (group, points) in enumerate(groups.items()):
                points = sorted(points, key=lambda p: p[0])
                xs = [p[0] for p in points]
                ys = [p[1][j] for p in points]
                ax.plot(
                    xs,
                    ys,
                    marker="o",
                    markersize=3,
                    color=f"C{i % 10}",
                    label=group if group_key is not None else None,
                )
            ax.set_xlabel(x_key)
            ax.set_ylabel(y_key)
            ax.grid(True, alpha=0.3)
            if min_y_span is not None:
                _widen_y(ax, [p[1][j] for points in groups.values() for p in points], min_y_span)
        for j in range(len(y_keys), nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        if group_key is not None:
            axes[0][0].legend(title=group_key, fontsize="small")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path)


def _widen_y(ax: Any, values: list[float], span: float) -> None:
    """Give ``ax`` a y range at least ``span`` tall around ``values`` (NaN ignored), inside
    [0, 1] when every value is."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    if high - low >= span:
        return
    centre = (low + high) / 2.0
    bottom, top = centre - span / 2.0, centre + span / 2.0
    if 0.0 <= low and high <= 1.0 and span <= 1.0:
        shift = max(0.0, -bottom) - max(0.0, top - 1.0)
        bottom, top = bottom + shift, top + shift
    ax.set_ylim(bottom, top)


def plot_reliability(
    mean_probs: ArrayLike,
    labels: ArrayLike,
    path: str | Path,
    n_bins: int = 15,
    title: str = "",
) -> Path:
    """Reliability diagram: accuracy against confidence in equal-width bins, with the ECE.

    Top: per-bin accuracy (blue bars) and the gap to the bin's mean confidence: a light red bar
    on top where the confidence is higher (over-confident), the hatched top of the blue bar
    where it is lower (under-confident); every colour is opaque, so what the plot shows is what
    its legend shows. The diagonal is perfect calibration. Bottom: fraction of inputs per bin.
    The bins and the ECE are those of
    :func:`spindrop.uncertainty.calibration_bins` /
    :func:`spindrop.uncertainty.expected_calibration_error`.

    Args:
        mean_probs: ``(N, C)`` predictive probabilities.
        labels: ``(N,)`` integer class indices.
        path: output ``.png`` path.
        n_bins: number of confidence bins.
        title: figure title.
    """
    path = _check_path(path)
    bins = calibration_bins(mean_probs, labels, n_bins)
    n = int(bins.counts.sum())
    filled = bins.counts > 0
    ece = expected_calibration_error(mean_probs, labels, n_bins)
    left = bins.edges[:-1]
    width = np.diff(bins.edges)
    acc = np.where(filled, bins.accuracy, 0.0)
    conf = np.where(filled, bins.confidence, 0.0)
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(5.0, 7.0))
        ax, ax_count = fig.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, squeeze=True
        )
        over = filled & (conf > acc)
        under = filled & (conf < acc)
        bar = {"align": "edge", "edgecolor": "k", "linewidth": 0.5}
        ax.bar(left, acc, width=width, color=_ACCURACY, label="accuracy", **bar)
        ax.bar(
            left[over],
            (conf - acc)[over],
            bottom=acc[over],
            width=width[over],
            color=_OVER_CONFIDENT,
            label="confidence above accuracy (over-confident)",
            **bar,
        )
        ax.bar(  # drawn over the top of the accuracy bar, in the same opaque blue
            left[under],
            (acc - conf)[under],
            bottom=conf[under],
            width=width[under],
            color=_ACCURACY,
            hatch=_UNDER_HATCH,
            label="accuracy above confidence (under-confident)",
            **bar,
        )
        ax.plot(
            [0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1.0, label="perfect calibration"
        )
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel("accuracy")
        ax.legend(
            loc="lower left",  # above the bars, never over them
            bbox_to_anchor=(0.0, 1.02, 1.0, 0.3),
            mode="expand",
            borderaxespad=0.0,
            fontsize="small",
            title=f"ECE = {ece:.4f} (N = {n})",
            title_fontsize="small",
        )
        if title:
            fig.suptitle(title)
        ax_count.bar(
            left,
            bins.counts / n,
            width=width,
            align="edge",
            color="0.6",
            edgecolor="k",
            linewidth=0.5,
        )
        ax_count.set_xlabel("confidence (max class probability)")
        ax_count.set_ylabel("fraction")
        fig.tight_layout()
        return _save(fig, path)
