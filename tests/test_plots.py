"""Plots: valid, reproducible PNGs written atomically, and eager input validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from spindrop import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _probs(n: int, c: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, c)) * 3.0
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _histograms(path: Path) -> Path:
    rng = np.random.default_rng(0)
    return plots.plot_uncertainty_histograms(
        rng.gamma(1.0, 0.2, size=300),
        {"noise": rng.gamma(4.0, 0.3, size=200), "held-out": rng.gamma(2.0, 0.3, size=100)},
        0.6,
        path,
        measure="entropy",
        title="MNIST: entropy",
    )


def _roc(path: Path) -> Path:
    rng = np.random.default_rng(1)
    return plots.plot_roc(
        rng.normal(size=300),
        {"noise": rng.normal(2.0, 1.0, size=200), "rotated": rng.normal(0.5, 1.0, size=150)},
        path,
        title="ROC",
    )


def _corruption(path: Path) -> Path:
    return plots.plot_corruption_accuracy(
        {
            "bnn": {"noise": [0.98, 0.9, 0.7], "blur": [0.98, 0.95, 0.9], "rot": [0.98, 0.6, 0.3]},
            "spindrop": {"noise": [0.98, 0.93, 0.8], "blur": [0.97, 0.96, float("nan")]},
        },
        [0, 1, 2],
        path,
        title="corruptions",
    )


def _variation(path: Path) -> Path:
    rows = [
        {"sigma": s, "temperature_c": t, "accuracy": 0.95 - s - t / 1000, "detect:noise": 1.0 - s}
        for t in (25.0, 100.0)
        for s in (0.05, 0.0, 0.03, 0.01)
    ]
    return plots.plot_variation(
        rows, "sigma", ["accuracy", "detect:noise"], path, group_key="temperature_c", title="var"
    )


def _reliability(path: Path) -> Path:
    probs = _probs(400, 10, seed=2)
    labels = np.random.default_rng(3).integers(0, 10, size=400)
    return plots.plot_reliability(probs, labels, path, n_bins=10, title="reliability")


PLOTTERS: dict[str, Callable[[Path], Path]] = {
    "histograms": _histograms,
    "roc": _roc,
    "corruption": _corruption,
    "variation": _variation,
    "reliability": _reliability,
}


@pytest.mark.parametrize("kind", list(PLOTTERS))
def test_writes_valid_reproducible_png(tmp_path, kind):
    first = PLOTTERS[kind](tmp_path / "a" / f"{kind}.png")  # parent directory is created
    second = PLOTTERS[kind](tmp_path / f"{kind}_again.png")
    assert first == tmp_path / "a" / f"{kind}.png"
    data = first.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert b"Software" not in data
    with Image.open(first) as img:
        img.verify()
    with Image.open(first) as img:
        assert img.format == "PNG"
        width, height = img.size
    assert 300 <= width <= 3000 and 200 <= height <= 3000
    assert second.read_bytes() == data
    # Nothing but the two figures is left behind (no temporary files).
    names = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert names == sorted([f"{kind}.png", f"{kind}_again.png"])


def test_global_style_changes_do_not_leak_in(tmp_path):
    reference = _roc(tmp_path / "ref.png").read_bytes()
    with matplotlib.rc_context({"lines.linewidth": 7.0, "font.size": 20, "axes.grid": True}):
        styled = _roc(tmp_path / "styled.png").read_bytes()
    assert styled == reference
    assert matplotlib.rcParams["lines.linewidth"] != 7.0  # and the style is restored


def test_overwrites_existing_file(tmp_path):
    path = tmp_path / "roc.png"
    path.write_bytes(b"old")
    _roc(path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]


def test_histogram_without_threshold_or_ood_sets(tmp_path):
    path = plots.plot_uncertainty_histograms([0.1, 0.1, 0.1], {}, None, tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


GOOD_PROBS = np.array([[0.7, 0.3], [0.2, 0.8]])
BAD_CALLS: list[tuple[str, Callable[[Path], object], str]] = [
    ("suffix", lambda p: plots.plot_roc([0.1], {"a": [0.2]}, p.with_suffix(".pdf")), r"\.png"),
    (
        "hist_nan",
        lambda p: plots.plot_uncertainty_histograms([0.1, np.nan], {}, 0.5, p),
        "scores_in",
    ),
    (
        "hist_2d",
        lambda p: plots.plot_uncertainty_histograms([0.1], {"a": [[0.1, 0.2]]}, 0.5, p),
        r"scores_out\['a'\].*\(1, 2\)",
    ),
    ("hist_thr", lambda p: plots.plot_uncertainty_histograms([0.1], {}, np.inf, p), "threshold"),
    ("roc_empty", lambda p: plots.plot_roc([0.1], {}, p), "at least one"),
    ("roc_list", lambda p: plots.plot_roc([0.1], [[0.2]], p), "dict"),
    ("roc_empty_set", lambda p: plots.plot_roc([0.1], {"a": []}, p), "non-empty"),
    (
        "corr_len",
        lambda p: plots.plot_corruption_accuracy({"m": {"noise": [0.9, 0.8]}}, [0, 1, 2], p),
        r"shape \(3,\).*\(2,\)",
    ),
    ("corr_empty", lambda p: plots.plot_corruption_accuracy({}, [0], p), "results"),
    ("corr_sev", lambda p: plots.plot_corruption_accuracy({"m": {"n": []}}, [], p), "severities"),
    (
        "var_key",
        lambda p: plots.plot_variation([{"x": 0.0, "acc": 1.0}], "x", ["det"], p),
        "no key 'det'",
    ),
    (
        "var_group",
        lambda p: plots.plot_variation([{"x": 0.0, "acc": 1.0}], "x", ["acc"], p, group_key="g"),
        "group key",
    ),
    (
        "var_x",
        lambda p: plots.plot_variation([{"x": "high", "acc": 1.0}], "x", ["acc"], p),
        "must be a number",
    ),
    ("var_rows", lambda p: plots.plot_variation([], "x", ["acc"], p), "non-empty"),
    ("var_ykeys", lambda p: plots.plot_variation([{"x": 1.0}], "x", [], p), "y_keys"),
    (
        "rel_logits",
        lambda p: plots.plot_reliability(np.array([[2.0, -1.0]]), np.array([0]), p),
        "softmax",
    ),
    (
        "rel_labels",
        lambda p: plots.plot_reliability(GOOD_PROBS, np.array([0.0, 1.0]), p),
        "integer",
    ),
    ("rel_bins", lambda p: plots.plot_reliability(GOOD_PROBS, np.array([0, 1]), p, 0), "n_bins"),
]


@pytest.mark.parametrize(("name", "call", "match"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_raises_and_writes_nothing(tmp_path, name, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def _figures(monkeypatch) -> list:
    """Every figure a plot function saves, inspected before it is cleared: per axes the
    y limits, the bars (x, bottom, top, RGBA face, hatch) and the legend entries (RGBA, hatch)."""
    seen: list = []
    real = plots._save

    def spy(fig, path):
        axes = []
        for ax in fig.axes:
            bars = [
                (
                    round(p.get_x(), 9),
                    min(p.get_y(), p.get_y() + p.get_height()),
                    max(p.get_y(), p.get_y() + p.get_height()),
                    tuple(p.get_facecolor()),
                    p.get_hatch(),
                )
                for p in ax.patches
                if p.get_height() != 0
            ]
            legend = ax.get_legend()
            handles = [] if legend is None else legend.legend_handles
            styles = {
                (tuple(h.get_facecolor()), h.get_hatch())
                for h in handles
                if hasattr(h, "get_hatch")
            }
            axes.append({"ylim": ax.get_ylim(), "bars": bars, "legend": styles})
        seen.append(axes)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", spy)
    return seen


def test_reliability_bars_look_exactly_like_their_legend(tmp_path, monkeypatch):
    seen = _figures(monkeypatch)
    rng = np.random.default_rng(0)
    probs = _probs(500, 10, seed=4)
    noisy = rng.random(500) < 0.2  # under-confident bins at low confidence, over- at high
    labels = np.where(noisy, rng.integers(0, 10, 500), probs.argmax(1))
    plots.plot_reliability(probs, labels, tmp_path / "r.png")
    top = seen[0][0]
    styles = {(face, hatch) for _, _, _, face, hatch in top["bars"]}
    assert len(styles) == 3  # accuracy, over-confident gap, under-confident gap
    assert styles <= top["legend"]
    assert all(face[3] == 1.0 for face, _ in styles)  # opaque: no blended colour
    for i, (x, low, high, face, _) in enumerate(top["bars"]):
        for x2, low2, high2, face2, _ in top["bars"][i + 1 :]:
            if x == x2 and min(high, high2) - max(low, low2) > 1e-12:
                assert face == face2, f"bars of different colours overlap at x={x}"


def test_variation_axes_do_not_magnify_noise(tmp_path, monkeypatch):
    seen = _figures(monkeypatch)
    rows = [
        {"t": t, "flat": 0.971 + 0.004 * (t == 50), "top": 0.995 + 0.004 * (t > 0), "wide": t / 100}
        for t in (0, 25, 50, 75, 100)
    ]
    plots.plot_variation(rows, "t", ["flat", "top", "wide"], tmp_path / "v.png")
    plots.plot_variation(rows, "t", ["flat"], tmp_path / "auto.png", min_y_span=None)
    (flat, top, wide), (auto,) = (
        [a["ylim"] for a in seen[0][:3]],
        [a["ylim"] for a in seen[1][:1]],
    )
    assert flat[0] <= 0.971 and flat[1] >= 0.975 and flat[1] - flat[0] == pytest.approx(0.1)
    assert top == pytest.approx((0.9, 1.0))  # kept inside [0, 1]
    assert wide[1] - wide[0] > 1.0  # already wide: matplotlib's own limits
    assert auto[1] - auto[0] < 0.01
    with pytest.raises(ValueError, match="min_y_span"):
        plots.plot_variation(rows, "t", ["flat"], tmp_path / "x.png", min_y_span=0)
