"""A bank of physical MTJ dropout modules: calibration, statistics, module assignment, energy."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import binomtest

from hdl import (
    DeviceError,
    DriverSettings,
    MTJDevice,
    MTJDropoutBank,
    Variation,
    celsius_to_kelvin,
    dropout_cycle_energy,
)

CONFIDENCE = 0.999


def assert_rate_consistent(mask: np.ndarray, p: float, confidence: float = CONFIDENCE) -> None:
    """``p`` lies in the Clopper-Pearson interval of the observed drop rate."""
    k, n = int(mask.sum()), int(mask.size)
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    assert ci.low <= p <= ci.high, f"observed {k}/{n} = {k / n:.5f}, p = {p:.5f}, CI {ci}"


# --------------------------------------------------------------------------------------------
# calibration and module probabilities


def test_driver_calibrated_on_nominal_device() -> None:
    device = MTJDevice()
    bank = MTJDropoutBank(0.3, 16, device=device, pulse_ns=20.0)
    assert bank.driver == DriverSettings(device.current_for_probability(0.3, 20.0), 20.0)
    ic0, delta = device.ic0_ua, device.delta
    i_rel = 1.0 - math.log(20.0 / (-1.0 * math.log(1.0 - 0.3))) / delta  # textbook inverse
    assert bank.driver.current_ua == pytest.approx(i_rel * ic0, rel=1e-12)
    np.testing.assert_allclose(bank.module_probabilities, 0.3, rtol=1e-12)
    assert bank.module_probabilities.shape == (16,)
    assert bank.module_probabilities.dtype == np.float64


def test_module_probabilities_follow_module_parameters() -> None:
    device = MTJDevice()
    variation = Variation(0.03, 0.07, temperature_k=330.0)
    bank = MTJDropoutBank(0.4, 32, device=device, variation=variation, seed=7)
    current, pulse = bank.driver.current_ua, bank.driver.pulse_ns
    for ic0, delta, p_m in zip(
        bank.module_ic0_ua, bank.module_delta, bank.module_probabilities, strict=True
    ):
        tau = 1.0 * math.exp(delta * (1.0 - current / ic0))
        assert p_m == pytest.approx(-math.expm1(-pulse / tau), rel=1e-12)
    # module Delta is at the operating temperature: Delta_ref_m * 300 / 330
    ic0, delta_ref = variation.sample_modules(
        device, 32, np.random.default_rng(np.random.SeedSequence(7).spawn(2)[0])
    )
    np.testing.assert_allclose(bank.module_ic0_ua, ic0)
    np.testing.assert_allclose(bank.module_delta, delta_ref * 300.0 / 330.0)


def test_module_arrays_are_read_only() -> None:
    bank = MTJDropoutBank(0.2, 4)
    with pytest.raises(ValueError, match="read-only"):
        bank.module_probabilities[0] = 0.9


def test_variation_increases_spread_with_sigma() -> None:
    spreads = [
        MTJDropoutBank(0.5, 256, variation=Variation(s, s), seed=3).module_probabilities.std()
        for s in (0.0, 0.01, 0.03, 0.05, 0.1)
    ]
    assert spreads[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(spreads) > 0)
    assert spreads[-1] > 0.1


def test_temperature_raises_probability() -> None:
    # published: 300 K -> 350 K turns a driver calibrated for p = 0.5 into p ~ 0.64
    hot = MTJDropoutBank(0.5, 8, variation=Variation(temperature_k=350.0))
    np.testing.assert_allclose(hot.module_probabilities, 0.64, atol=5e-3)
    rates = [
        MTJDropoutBank(
            0.5, 1, variation=Variation(temperature_k=celsius_to_kelvin(c))
        ).module_probabilities[0]
        for c in (0.0, 25.0, 50.0, 75.0, 100.0)
    ]
    assert np.all(np.diff(rates) > 0)
    assert rates[0] < 0.5 < rates[-1]


# --------------------------------------------------------------------------------------------
# statistics


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_drop_rate_without_variation(p: float) -> None:
    mask = MTJDropoutBank(p, 8, seed=11).draw(2000, 200)
    assert_rate_consistent(mask, p)


def test_drop_rate_with_variation_matches_mean_module_probability() -> None:
    bank = MTJDropoutBank(0.3, 50, variation=Variation(0.05, 0.1, 320.0), seed=5)
    mask = bank.draw(4000, 250)  # 250 rows = 5 full cycles: every module serves 5 rows
    # the bits are Poisson-binomial (variance below binomial): the binomial CI is conservative
    assert_rate_consistent(mask, float(bank.module_probabilities.mean()))
    assert abs(bank.module_probabilities.mean() - 0.3) > 0.01  # variation moved the rate


def test_one_module_per_row_rates_match_module_probabilities() -> None:
    n_rows = 8
    bank = MTJDropoutBank(0.5, n_rows, variation=Variation(sigma_ic0_rel=0.02), seed=2)
    p_m = bank.module_probabilities
    assert p_m.max() - p_m.min() > 0.1  # the modules differ, so the check is meaningful
    mask = bank.draw(20_000, n_rows)
    for r in range(n_rows):  # Bonferroni over the rows
        assert_rate_consistent(mask[:, r], float(p_m[r]), 1.0 - (1.0 - CONFIDENCE) / n_rows)


def test_round_robin_rows_share_their_module() -> None:
    bank = MTJDropoutBank(0.5, 3, variation=Variation(sigma_ic0_rel=0.03), seed=4)
    np.testing.assert_array_equal(
        bank.row_probabilities(7), bank.module_probabilities[[0, 1, 2, 0, 1, 2, 0]]
    )
    mask = bank.draw(20_000, 7)
    for r in range(7):
        assert_rate_consistent(mask[:, r], float(bank.module_probabilities[r % 3]), 1 - 1e-3 / 7)


def test_single_module_columns_are_consecutive_draws() -> None:
    bank = MTJDropoutBank(0.4, 1, seed=9)
    wide = bank.draw(50, 12)
    bank.reset()
    narrow = bank.draw(50 * 12, 1)  # one cycle per mask: the same stream, one bit at a time
    np.testing.assert_array_equal(wide, narrow.reshape(50, 12))


def test_partial_last_cycle_is_cut() -> None:
    bank = MTJDropoutBank(0.5, 3, seed=1)
    seven = bank.draw(40, 7)
    bank.reset()
    nine = bank.draw(40, 9)  # the same 3 cycles, all slots used
    np.testing.assert_array_equal(seven, nine[:, :7])


def test_successive_columns_are_independent() -> None:
    mask = MTJDropoutBank(0.5, 1, seed=6).draw(20_000, 2)
    both = mask[:, 0] & mask[:, 1]
    assert_rate_consistent(both, 0.25)


# --------------------------------------------------------------------------------------------
# stream, determinism, shapes


def test_same_seed_same_masks_and_reset() -> None:
    variation = Variation(0.02, 0.05)
    a = MTJDropoutBank(0.3, 5, variation=variation, seed=42)
    b = MTJDropoutBank(0.3, 5, variation=variation, seed=42)
    first = a.draw(10, 13)
    np.testing.assert_array_equal(first, b.draw(10, 13))
    np.testing.assert_array_equal(a.draw(4, 6), b.draw(4, 6))
    assert not np.array_equal(first, a.draw(10, 13))  # the stream continues
    a.reset()
    np.testing.assert_array_equal(first, a.draw(10, 13))
    c = MTJDropoutBank(0.3, 5, variation=variation, seed=43)
    assert not np.array_equal(c.module_probabilities, a.module_probabilities)
    assert not np.array_equal(c.draw(10, 13), first)


def test_reset_with_new_seed_keeps_variation() -> None:
    bank = MTJDropoutBank(0.3, 5, variation=Variation(0.02), seed=0)
    before = bank.module_probabilities.copy()
    first = bank.draw(20, 10)
    bank.reset(seed=5)
    np.testing.assert_array_equal(bank.module_probabilities, before)
    assert not np.array_equal(bank.draw(20, 10), first)
    # without variation the stream alone decides: reset(5) replays a bank seeded with 5
    plain = MTJDropoutBank(0.3, 5, seed=0)
    plain.reset(seed=5)
    np.testing.assert_array_equal(plain.draw(20, 10), MTJDropoutBank(0.3, 5, seed=5).draw(20, 10))


def test_split_calls_continue_the_stream_and_speed() -> None:
    bank = MTJDropoutBank(0.2, 64, seed=8)
    start = time.perf_counter()
    whole = bank.draw(1000, 10_000)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"1e3 x 1e4 mask took {elapsed:.2f} s"
    assert whole.shape == (1000, 10_000) and whole.dtype == np.bool_
    bank.reset()
    parts = np.concatenate([bank.draw(300, 10_000), bank.draw(700, 10_000)])
    np.testing.assert_array_equal(whole, parts)


def test_shapes_and_empty() -> None:
    bank = MTJDropoutBank(0.5, 4)
    assert bank.draw(3, 0).shape == (3, 0)
    assert bank.draw(0, 5).shape == (0, 5)
    assert bank.draw(2, 10).dtype == np.bool_
    assert bank.cycles_per_mask(0) == 0
    assert bank.cycles_per_mask(1) == 1
    assert bank.cycles_per_mask(8) == 2
    assert bank.cycles_per_mask(9) == 3
    assert MTJDropoutBank(0.5, 1).cycles_per_mask(10) == 10


# --------------------------------------------------------------------------------------------
# energy


def test_energy_per_mask_counts_one_cycle_per_row() -> None:
    device = MTJDevice()
    bank = MTJDropoutBank(0.25, 4, device=device)
    per_cycle = dropout_cycle_energy(device, bank.driver.current_ua, 10.0).total_pj
    assert bank.cycle_energy.total_pj == pytest.approx(per_cycle)
    np.testing.assert_allclose(bank.module_energy_pj, per_cycle, rtol=1e-12)
    for n_rows in (0, 1, 4, 10):  # 10 rows on 4 modules: 3 cycles, only 10 slots used
        assert bank.energy_per_mask_pj(n_rows) == pytest.approx(n_rows * per_cycle, rel=1e-12)
    assert MTJDropoutBank(0.25, 1).energy_per_mask_pj(10) == pytest.approx(10 * per_cycle)


def test_energy_per_mask_with_variation_sums_the_modules_used() -> None:
    bank = MTJDropoutBank(0.25, 4, variation=Variation(0.03, 0.05, 340.0), seed=1)
    e = bank.module_energy_pj
    assert e.std() > 0
    expected = 2 * e.sum() + e[0] + e[1]  # 10 rows: modules 0..3 twice, then 0 and 1
    assert bank.energy_per_mask_pj(10) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("p", [0.0, 1.0, 1.2, -0.1])
def test_bank_probability_outside_open_interval(p: float) -> None:
    with pytest.raises(DeviceError, match=r"dropout probability must be in \(0, 1\).*strictly"):
        MTJDropoutBank(p, 4)


@pytest.mark.parametrize("n_modules", [0, -1, 1.5, True, "4"])
def test_bad_module_count(n_modules: object) -> None:
    with pytest.raises(DeviceError, match=r"n_modules must be an integer >= 1"):
        MTJDropoutBank(0.5, n_modules)  # type: ignore[arg-type]


def test_bad_draw_arguments_and_seed() -> None:
    bank = MTJDropoutBank(0.5, 4)
    with pytest.raises(DeviceError, match=r"n_samples must be an integer >= 0, got -1"):
        bank.draw(-1, 4)
    with pytest.raises(DeviceError, match=r"n_rows must be an integer >= 0, got -2"):
        bank.draw(1, -2)
    with pytest.raises(DeviceError, match=r"n_rows must be an integer >= 0"):
        bank.energy_per_mask_pj(2.5)  # type: ignore[arg-type]
    with pytest.raises(DeviceError, match=r"seed must be an integer >= 0"):
        MTJDropoutBank(0.5, 4, seed=-1)
    with pytest.raises(DeviceError, match=r"seed must be an integer >= 0"):
        bank.reset(seed=-3)


def test_pulse_too_short_for_thermal_regime() -> None:
    with pytest.raises(DeviceError, match=r"use a longer pulse, at least 2\.303 ns"):
        MTJDropoutBank(0.9, 4, pulse_ns=1.0)


def test_temperature_tracking_driver_cancels_thermal_drift():
    hot = Variation(temperature_k=373.15)
    fixed = MTJDropoutBank(p=0.5, n_modules=4, variation=hot)
    tracking = MTJDropoutBank(p=0.5, n_modules=4, variation=hot, calibration_temperature_k=373.15)
    assert fixed.module_probabilities.min() > 0.6  # Delta falls when hot: a fixed driver drifts
    np.testing.assert_allclose(tracking.module_probabilities, 0.5, rtol=1e-9)
    assert tracking.driver.current_ua < fixed.driver.current_ua
