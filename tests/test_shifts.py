"""Tests of the out-of-distribution and corruption sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spindrop.data import (
    CORRUPTIONS,
    SEVERITIES,
    ArrayDataset,
    DatasetError,
    corrupt,
    flipped,
    gaussian_noise,
    inverted,
    load_digits,
    rotated,
    shift_suite,
    split_classes,
    uniform_noise,
)
from spindrop.data.shifts import occlusion_side

LO, HI = 0.2, 0.7


@pytest.fixture(scope="module")
def digits() -> ArrayDataset:
    return load_digits("test")


@pytest.fixture(scope="module")
def narrow() -> ArrayDataset:
    """Random 3-channel 6x6 images whose values span exactly [0.2, 0.7]."""
    rng = np.random.default_rng(3)
    x = rng.uniform(LO, HI, size=(40, 3, 6, 6)).astype(np.float32)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = LO, HI
    y = np.arange(40, dtype=np.int64) % 4
    return ArrayDataset("narrow", x, y, ("a", "b", "c", "d"))


def _inside(ds: ArrayDataset, lo: float, hi: float) -> bool:
    return ds.x.dtype == np.float32 and lo <= float(ds.x.min()) and float(ds.x.max()) <= hi


# ----------------------------------------------------------------------------- noise sets


def test_uniform_noise_matches_textbook_moments(narrow: ArrayDataset) -> None:
    noise = uniform_noise(narrow, 500, seed=1)
    assert noise.name == "uniform-noise"
    assert len(noise) == 500 and noise.shape == narrow.shape
    assert _inside(noise, LO, HI)
    np.testing.assert_array_equal(noise.y, -1)
    assert noise.classes == narrow.classes
    assert abs(float(noise.x.mean()) - (LO + HI) / 2) < 0.005
    assert abs(float(noise.x.std()) - (HI - LO) / np.sqrt(12)) < 0.005
    assert float(noise.x.min()) < LO + 0.001 and float(noise.x.max()) > HI - 0.001


def test_gaussian_noise_matches_reference_moments(digits: ArrayDataset) -> None:
    noise = gaussian_noise(digits, 400, seed=0)
    assert noise.name == "gaussian-noise"
    assert _inside(noise, *digits.value_range())
    np.testing.assert_array_equal(noise.y, -1)
    # clipping at 0 shifts the moments, so compare against the clipped normal's moments
    rng = np.random.default_rng(99)
    mu, sigma = float(digits.x.mean()), float(digits.x.std())
    clipped = np.clip(rng.normal(mu, sigma, 10**6), 0.0, 1.0)
    assert abs(float(noise.x.mean()) - clipped.mean()) < 0.01
    assert abs(float(noise.x.std()) - clipped.std()) < 0.01


@pytest.mark.parametrize("make", [uniform_noise, gaussian_noise])
def test_noise_is_deterministic_per_seed(make, narrow: ArrayDataset) -> None:
    first, again, other = make(narrow, 8, seed=5), make(narrow, 8, seed=5), make(narrow, 8, 6)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_noise_rejects_bad_count(bad, narrow: ArrayDataset) -> None:
    with pytest.raises(DatasetError, match="n must be a positive int"):
        uniform_noise(narrow, bad)


def test_noise_rejects_bad_seed(narrow: ArrayDataset) -> None:
    with pytest.raises(DatasetError, match="seed must be a non-negative int"):
        gaussian_noise(narrow, 3, seed=-1)


# ----------------------------------------------------------------------------- geometric


def test_rotated_90_equals_rot90_and_360_is_identity(narrow: ArrayDataset) -> None:
    quarter = rotated(narrow, 90)
    assert quarter.name == "rotated-90"
    np.testing.assert_allclose(quarter.x, np.rot90(narrow.x, 1, axes=(2, 3)), atol=1e-5)
    np.testing.assert_array_equal(quarter.y, narrow.y)
    full = rotated(narrow, 360.0)
    assert full.name == "rotated-360"
    np.testing.assert_allclose(full.x, narrow.x, atol=1e-5)


def test_rotated_45_fills_corners_with_low_value(narrow: ArrayDataset) -> None:
    turned = rotated(narrow, 45)
    assert turned.name == "rotated-45"
    assert _inside(turned, LO, HI)
    np.testing.assert_allclose(turned.x[:, :, 0, 0], LO, atol=1e-6)
    with pytest.raises(DatasetError, match="finite"):
        rotated(narrow, float("inf"))


def test_flipped_mirrors_the_right_axis(narrow: ArrayDataset) -> None:
    horizontal, vertical = flipped(narrow), flipped(narrow, "vertical")
    assert (horizontal.name, vertical.name) == ("flipped-horizontal", "flipped-vertical")
    np.testing.assert_array_equal(horizontal.x, narrow.x[:, :, :, ::-1])
    np.testing.assert_array_equal(vertical.x, narrow.x[:, :, ::-1, :])
    np.testing.assert_array_equal(vertical.y, narrow.y)
    with pytest.raises(DatasetError, match="valid axes: horizontal, vertical"):
        flipped(narrow, "diagonal")


def test_inverted_maps_range_onto_itself(narrow: ArrayDataset) -> None:
    neg = inverted(narrow)
    assert neg.name == "inverted"
    np.testing.assert_allclose(neg.x, LO + HI - narrow.x, atol=1e-6)
    np.testing.assert_allclose(neg.value_range(), (LO, HI), atol=1e-6)
    np.testing.assert_allclose(inverted(neg).x, narrow.x, atol=1e-6)
    np.testing.assert_array_equal(neg.y, narrow.y)


# ----------------------------------------------------------------------------- held-out classes


def test_split_classes_remaps_labels(narrow: ArrayDataset) -> None:
    known, novel = split_classes(narrow, [1, 3])
    assert known.classes == ("a", "c") and novel.classes == ("a", "c")
    assert (len(known), len(novel)) == (20, 20)
    np.testing.assert_array_equal(known.y, np.arange(20) % 2)  # 0 -> 0, 2 -> 1
    np.testing.assert_array_equal(known.x, narrow.x[np.isin(narrow.y, [0, 2])])
    np.testing.assert_array_equal(novel.y, -1)
    np.testing.assert_array_equal(novel.x, narrow.x[np.isin(narrow.y, [1, 3])])
    assert (known.name, novel.name) == ("narrow-known", "narrow-held-out")


@pytest.mark.parametrize(
    ("held", "message"),
    [([4], "outside"), ([1, 1], "distinct"), ([], "distinct"), ([0, 1, 2, 3], "every class")],
)
def test_split_classes_rejects_bad_held_out(held, message, narrow: ArrayDataset) -> None:
    with pytest.raises(DatasetError, match=message):
        split_classes(narrow, held)


def test_split_classes_rejects_unlabelled(narrow: ArrayDataset) -> None:
    with pytest.raises(DatasetError, match="fully labelled"):
        split_classes(uniform_noise(narrow, 4), [0])


# ----------------------------------------------------------------------------- corruptions


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corruption_effect_grows_with_severity(kind: str, digits: ArrayDataset) -> None:
    effects = []
    for severity in SEVERITIES:
        bad = corrupt(digits, kind, severity, seed=0)
        assert bad.name == f"{kind}-{severity}"
        assert _inside(bad, *digits.value_range())
        np.testing.assert_array_equal(bad.y, digits.y)
        effects.append(float(np.abs(bad.x - digits.x).mean()))
    assert effects[0] > 0
    assert all(b > a for a, b in itertools.pairwise(effects)), effects


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corruption_respects_narrow_range_and_zero_is_clean(kind, narrow: ArrayDataset) -> None:
    assert corrupt(narrow, kind, 0) is narrow
    assert _inside(corrupt(narrow, kind, 5, seed=2), LO, HI)


@pytest.mark.parametrize("kind", ["noise", "occlusion"])
def test_random_corruptions_are_seeded(kind: str, digits: ArrayDataset) -> None:
    first, again = corrupt(digits, kind, 3, seed=4), corrupt(digits, kind, 3, seed=4)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, corrupt(digits, kind, 3, seed=5).x)


def test_occlusion_blanks_one_square_per_image(narrow: ArrayDataset) -> None:
    x = np.full((6, 2, 10, 10), 0.9, np.float32)
    x[0] = 0.1  # a dark image sets lo = 0.1
    bad = corrupt(ArrayDataset("bright", x, narrow.y[:6], narrow.classes), "occlusion", 3, seed=1)
    side = occlusion_side(10, 3)
    assert side == 4
    corners = set()
    for image in bad.x[1:]:
        np.testing.assert_array_equal(image[0], image[1])  # same patch on every channel
        blanked = np.argwhere(image[0] == np.float32(0.1))
        assert len(blanked) == side * side
        top, left = blanked.min(axis=0)
        assert (blanked.max(axis=0) - (top, left) == side - 1).all()  # one square
        corners.add((int(top), int(left)))
    assert len(corners) > 1  # positions differ between images


def test_occlusion_side_grows_every_severity() -> None:
    assert [occlusion_side(8, s) for s in SEVERITIES] == [2, 3, 4, 5, 6]
    assert [occlusion_side(28, s) for s in SEVERITIES] == [6, 8, 11, 14, 17]
    assert [occlusion_side(3, s) for s in SEVERITIES] == [1, 2, 3, 3, 3]


@pytest.mark.parametrize(
    ("kind", "severity", "message"),
    [
        ("fog", 1, "valid kinds: noise, blur, occlusion"),
        ("noise", 6, "one of 0, 1, 2, 3, 4, 5"),
        ("blur", -1, "one of 0, 1, 2, 3, 4, 5"),
        ("blur", 2.0, "one of 0, 1, 2, 3, 4, 5"),
    ],
)
def test_corrupt_rejects_bad_arguments(kind, severity, message, narrow: ArrayDataset) -> None:
    with pytest.raises(DatasetError, match=message):
        corrupt(narrow, kind, severity)


# ----------------------------------------------------------------------------- suite


def test_shift_suite_builds_the_standard_sets(digits: ArrayDataset) -> None:
    suite = shift_suite(digits)
    expected = ["uniform-noise", "gaussian-noise", "rotated-90", "flipped-vertical", "inverted"]
    assert list(suite) == expected
    lo, hi = digits.value_range()
    for name, ds in suite.items():
        assert ds.name == name and ds.shape == digits.shape
        assert len(ds) == len(digits)
        assert _inside(ds, lo, hi), name
    assert len(shift_suite(digits, n_noise=7)["gaussian-noise"]) == 7
    np.testing.assert_array_equal(suite["inverted"].y, digits.y)
    np.testing.assert_array_equal(shift_suite(digits)["uniform-noise"].x, suite["uniform-noise"].x)
