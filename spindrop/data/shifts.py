"""Out-of-distribution and corrupted versions of an image set, for uncertainty evaluation.

Every function returns a new float32 :class:`ArrayDataset` whose values stay inside the value
range ``[lo, hi]`` of the data it was made from (``reference.value_range()``), so a detector
cannot tell shifted data apart by its range alone. Random shifts draw from
``numpy.random.default_rng(seed)`` and are identical for the same seed.

Out-of-distribution sets (``y = -1`` for the noise sets):

* ``uniform_noise``: ``x ~ U[lo, hi]`` independently per pixel.
* ``gaussian_noise``: ``x ~ N(mu, sigma^2)`` per pixel with ``mu``, ``sigma`` the mean and
  standard deviation of all reference pixels, clipped to ``[lo, hi]``.
* ``rotated``: bilinear rotation by ``degrees`` counter-clockwise in the (H, W) plane, corners
  filled with ``lo``; ``rotated(ds, 90)`` equals ``np.rot90(x, 1, axes=(2, 3))`` on square images.
* ``flipped``: mirror left-right (``horizontal``, W axis) or top-bottom (``vertical``, H axis).
* ``inverted``: ``x' = lo + hi - x``.
* ``split_classes``: hold out whole classes as unseen (novel-class) data.

Corruptions (labels kept; ``corrupt(ds, kind, severity)``, severity 1..5, 0 = clean):

==========  =================================================  ==============================
kind        effect                                             severity 1, 2, 3, 4, 5
==========  =================================================  ==============================
noise       ``clip(x + sigma * z, lo, hi)``, ``z ~ N(0, 1)``,  s = 0.08, 0.16, 0.24, 0.32, 0.40
            ``sigma = s * (hi - lo)``
blur        Gaussian filter over H and W, ``sigma_H = f * H /  f = 0.3, 0.5, 0.7, 0.9, 1.1
            8`` and ``sigma_W = f * W / 8`` pixels
occlusion   one square patch per image set to ``lo`` (all       f = 0.2, 0.3, 0.4, 0.5, 0.6
            channels) at a uniform random position, side
            ``round(f * min(H, W))`` pixels, raised to grow by
            at least 1 pixel per severity (8x8: 2, 3, 4, 5, 6;
            28x28: 6, 8, 11, 14, 17; 32x32: 6, 10, 13, 16, 19)
==========  =================================================  ==============================

For noise the same seed reuses the same ``z``, so the per-pixel change ``|x' - x|`` grows
monotonically with severity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from spindrop.data.datasets import ArrayDataset, DatasetError

__all__ = [
    "BLUR_SIGMA",
    "CORRUPTIONS",
    "FLIP_AXES",
    "NOISE_SIGMA",
    "OCCLUSION_SIDE",
    "SEVERITIES",
    "corrupt",
    "flipped",
    "gaussian_noise",
    "inverted",
    "occlusion_side",
    "rotated",
    "shift_suite",
    "split_classes",
    "uniform_noise",
]

CORRUPTIONS: tuple[str, ...] = ("noise", "blur", "occlusion")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
NOISE_SIGMA: tuple[float, ...] = (0.08, 0.16, 0.24, 0.32, 0.40)  # fraction of (hi - lo)
BLUR_SIGMA: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9, 1.1)  # pixels per 8 pixels of image size
OCCLUSION_SIDE: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6)  # fraction of min(H, W)
FLIP_AXES: dict[str, int] = {"horizontal": 3, "vertical": 2}


def _rng(seed: int) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DatasetError(f"n must be a positive int (number of samples), got {n!r}")
    return int(n)


def _unlabelled(name: str, x: np.ndarray, reference: ArrayDataset) -> ArrayDataset:
    return ArrayDataset(
        name=name,
        x=x.astype(np.float32),
        y=np.full(len(x), -1, dtype=np.int64),
        classes=reference.classes,
    )


def _with_images(ds: ArrayDataset, name: str, x: np.ndarray) -> ArrayDataset:
    """``ds`` with new images ``x`` clipped to ``ds``'s value range; labels and classes kept."""
    lo, hi = ds.value_range()
    x = np.clip(x, lo, hi).astype(np.float32)
    return ArrayDataset(name=name, x=x, y=ds.y.copy(), classes=ds.classes)


def uniform_noise(reference: ArrayDataset, n: int, seed: int = 0) -> ArrayDataset:
    """``n`` images of i.i.d. ``U[lo, hi]`` pixels shaped like ``reference``; ``y = -1``.

    Mean ``(lo + hi) / 2`` and standard deviation ``(hi - lo) / sqrt(12)``.
    """
    n, rng = _count(n), _rng(seed)
    lo, hi = reference.value_range()
    x = rng.uniform(lo, hi, size=(n, *reference.shape))
    return _unlabelled("uniform-noise", x, reference)


def gaussian_noise(reference: ArrayDataset, n: int, seed: int = 0) -> ArrayDataset:
    """``n`` images of i.i.d. ``N(mu, sigma^2)`` pixels clipped to ``[lo, hi]``; ``y = -1``.

    ``mu`` and ``sigma`` are the mean and standard deviation over all of ``reference``'s pixels.
    """
    n, rng = _count(n), _rng(seed)
    lo, hi = reference.value_range()
    mu = float(reference.x.mean(dtype=np.float64))
    sigma = float(reference.x.std(dtype=np.float64))
    x = np.clip(rng.normal(mu, sigma, size=(n, *reference.shape)), lo, hi)
    return _unlabelled("gaussian-noise", x, reference)


def rotated(ds: ArrayDataset, degrees: float) -> ArrayDataset:
    """Rotate every image by ``degrees`` counter-clockwise (bilinear, corners filled with ``lo``).

    Uses ``scipy.ndimage.rotate(reshape=False, order=1, mode="constant", cval=lo)`` over (H, W);
    the name is ``f"rotated-{degrees:g}"``, e.g. ``rotated-90``.
    """
    try:
        degrees = float(degrees)
    except (TypeError, ValueError):
        degrees = float("nan")
    if not np.isfinite(degrees):
        raise DatasetError(f"degrees must be a finite number, got {degrees!r}")
    lo, _ = ds.value_range()
    x = ndimage.rotate(ds.x, degrees, axes=(2, 3), reshape=False, order=1, mode="constant", cval=lo)
    return _with_images(ds, f"rotated-{degrees:g}", x)


def flipped(ds: ArrayDataset, axis: str = "horizontal") -> ArrayDataset:
    """Mirror every image: ``horizontal`` reverses W (left-right), ``vertical`` reverses H."""
    if axis not in FLIP_AXES:
        raise DatasetError(f"unknown flip axis {axis!r}; valid axes: {', '.join(FLIP_AXES)}")
    x = np.ascontiguousarray(np.flip(ds.x, axis=FLIP_AXES[axis]))
    return _with_images(ds, f"flipped-{axis}", x)


def inverted(ds: ArrayDataset) -> ArrayDataset:
    """Photometric negative inside the value range: ``x' = lo + hi - x``."""
    lo, hi = ds.value_range()
    return _with_images(ds, "inverted", np.float32(lo + hi) - ds.x)


def split_classes(ds: ArrayDataset, held_out: Sequence[int]) -> tuple[ArrayDataset, ArrayDataset]:
    """Split ``ds`` into known classes and held-out (novel) classes.

    Returns ``(known, novel)``. ``known`` keeps the samples of the other K classes with labels
    remapped to ``0..K-1`` in their original order and ``classes`` cut down to match; ``novel``
    holds the held-out samples with ``y = -1`` and the same K-class label space.
    """
    held = _held_out(ds, held_out)
    kept = [c for c in range(ds.num_classes) if c not in held]
    remap = np.full(ds.num_classes, -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    novel_mask = np.isin(ds.y, sorted(held))
    classes = tuple(ds.classes[c] for c in kept)
    known = ArrayDataset(
        name=f"{ds.name}-known",
        x=ds.x[~novel_mask],
        y=remap[ds.y[~novel_mask]],
        classes=classes,
    )
    novel = ArrayDataset(
        name=f"{ds.name}-held-out",
        x=ds.x[novel_mask],
        y=np.full(int(novel_mask.sum()), -1, dtype=np.int64),
        classes=classes,
    )
    return known, novel


def _held_out(ds: ArrayDataset, held_out: Sequence[int]) -> set[int]:
    if len(ds) and int(ds.y.min()) < 0:
        raise DatasetError(f"split_classes needs a fully labelled set; {ds.name!r} has y = -1")
    held = {int(c) for c in held_out}
    if len(held) != len(held_out) or not held:
        raise DatasetError(f"held_out must list distinct class indices, got {list(held_out)}")
    bad = sorted(c for c in held if not 0 <= c < ds.num_classes)
    if bad:
        raise DatasetError(f"held_out classes {bad} are outside [0, {ds.num_classes})")
    if len(held) == ds.num_classes:
        raise DatasetError("held_out lists every class; keep at least one in-distribution class")
    return held


def corrupt(ds: ArrayDataset, kind: str, severity: int, seed: int = 0) -> ArrayDataset:
    """Corrupt every image with ``kind`` (one of ``CORRUPTIONS``) at ``severity`` 1..5.

    Severity 0 returns ``ds`` itself (clean). Labels are kept; the name is ``f"{kind}-{severity}"``.
    See the module docstring for the severity tables.
    """
    if kind not in CORRUPTIONS:
        raise DatasetError(f"unknown corruption {kind!r}; valid kinds: {', '.join(CORRUPTIONS)}")
    valid_int = isinstance(severity, (int, np.integer)) and not isinstance(severity, bool)
    if not valid_int or severity not in (0, *SEVERITIES):
        valid = ", ".join(str(s) for s in (0, *SEVERITIES))
        raise DatasetError(f"severity must be one of {valid} (0 = clean), got {severity!r}")
    if severity == 0:
        return ds
    rng = _rng(seed)
    apply = {"noise": _noise, "blur": _blur, "occlusion": _occlusion}[kind]
    return _with_images(ds, f"{kind}-{severity}", apply(ds, severity - 1, rng))


def _noise(ds: ArrayDataset, level: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = ds.value_range()
    sigma = NOISE_SIGMA[level] * (hi - lo)
    return ds.x + sigma * rng.standard_normal(ds.x.shape, dtype=np.float32)


def _blur(ds: ArrayDataset, level: int, rng: np.random.Generator) -> np.ndarray:
    _, h, w = ds.shape
    f = BLUR_SIGMA[level]
    return ndimage.gaussian_filter(ds.x, sigma=(0.0, 0.0, f * h / 8, f * w / 8))


def occlusion_side(size: int, severity: int) -> int:
    """Patch side in pixels for an image of ``size`` (= min(H, W)) at ``severity`` 1..5.

    ``round(f * size)`` with ``f`` from ``OCCLUSION_SIDE``, raised where needed so that it grows
    by at least one pixel per severity (capped at ``size``): 8x8 images get 2, 3, 4, 5, 6.
    """
    side = 0
    for f in OCCLUSION_SIDE[:severity]:
        side = min(size, max(round(f * size), side + 1))
    return side


def _occlusion(ds: ArrayDataset, level: int, rng: np.random.Generator) -> np.ndarray:
    lo, _ = ds.value_range()
    _, h, w = ds.shape
    side = occlusion_side(min(h, w), level + 1)
    top = rng.integers(0, h - side + 1, size=len(ds))[:, None]
    left = rng.integers(0, w - side + 1, size=len(ds))[:, None]
    rows, cols = np.arange(h)[None], np.arange(w)[None]
    in_rows = (rows >= top) & (rows < top + side)  # (N, H)
    in_cols = (cols >= left) & (cols < left + side)  # (N, W)
    patch = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return np.where(patch[:, None], np.float32(lo), ds.x)


def shift_suite(
    reference_test: ArrayDataset, n_noise: int | None = None, seed: int = 0
) -> dict[str, ArrayDataset]:
    """The standard OOD sets for one in-distribution test set, keyed by their names.

    ``uniform-noise`` (seed ``seed``) and ``gaussian-noise`` (seed ``seed + 1``) with
    ``n_noise`` samples (default ``len(reference_test)``), ``rotated-90``, ``flipped-vertical``
    and ``inverted``.
    """
    n = len(reference_test) if n_noise is None else n_noise
    sets = (
        uniform_noise(reference_test, n, seed),
        gaussian_noise(reference_test, n, seed + 1),
        rotated(reference_test, 90),
        flipped(reference_test, "vertical"),
        inverted(reference_test),
    )
    return {ds.name: ds for ds in sets}
