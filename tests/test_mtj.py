"""STT-MTJ device physics against the textbook formulas and the published SpinDrop numbers."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from hdl import (
    DeviceError,
    DropoutCycleEnergy,
    MTJDevice,
    Variation,
    celsius_to_kelvin,
    dropout_cycle_energy,
    thermal_switching_probability,
)

# Published numbers are given to 3 significant digits (0.933, 0.455, ...): half a unit of the
# last digit. The 350 K figure is given to 2 digits (0.64).
TOL3 = 5e-4
TOL2 = 5e-3


def p_sw(i_rel: float, delta: float, tau0_ns: float = 1.0, pulse_ns: float = 10.0) -> float:
    """Textbook thermal activation: 1 - exp(-t_p / (tau0 exp(Delta (1 - I/Ic0))))."""
    return -math.expm1(-pulse_ns / (tau0_ns * math.exp(delta * (1.0 - i_rel))))


def i_rel_for(p: float, delta: float, tau0_ns: float = 1.0, pulse_ns: float = 10.0) -> float:
    """Textbook inverse: I/Ic0 = 1 - ln(t_p / (-tau0 ln(1 - p))) / Delta."""
    return 1.0 - math.log(pulse_ns / (-tau0_ns * math.log(1.0 - p))) / delta


@pytest.fixture
def device() -> MTJDevice:
    return MTJDevice(delta=40.0, tau0_ns=1.0, ic0_ua=100.0)


# --------------------------------------------------------------------------------------------
# published numbers (SpinDrop, Ahmed et al., IEEE JETCAS 2023, and the textbook thermal model)


def test_half_probability_needs_0933_ic0(device: MTJDevice) -> None:
    current = device.current_for_probability(0.5, 10.0)
    assert current / device.ic0_ua == pytest.approx(0.933, abs=TOL3)
    assert current / device.ic0_ua == pytest.approx(i_rel_for(0.5, 40.0), rel=1e-12)
    assert device.switching_probability(current, 10.0) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize(("delta", "expected"), [(40.0 * 1.05, 0.455), (40.0 * 0.95, 0.547)])
def test_delta_plus_minus_5_percent(device: MTJDevice, delta: float, expected: float) -> None:
    current = device.current_for_probability(0.5, 10.0)
    varied = dataclasses.replace(device, delta=delta)
    p = varied.switching_probability(current, 10.0)
    assert p == pytest.approx(expected, abs=TOL3)
    assert p == pytest.approx(p_sw(current / 100.0, delta), rel=1e-12)


@pytest.mark.parametrize(("scale", "expected"), [(0.99, 0.379), (1.01, 0.635)])
def test_current_plus_minus_1_percent(device: MTJDevice, scale: float, expected: float) -> None:
    current = device.current_for_probability(0.5, 10.0) * scale
    p = device.switching_probability(current, 10.0)
    assert p == pytest.approx(expected, abs=TOL3)
    assert p == pytest.approx(p_sw(current / 100.0, 40.0), rel=1e-12)


def test_300k_to_350k_raises_p_to_064(device: MTJDevice) -> None:
    current = device.current_for_probability(0.5, 10.0)
    p = device.switching_probability(current, 10.0, temperature_k=350.0)
    assert p == pytest.approx(0.64, abs=TOL2)
    assert p == pytest.approx(p_sw(current / 100.0, 40.0 * 300.0 / 350.0), rel=1e-12)


def test_default_tmr_matches_published_read_figures() -> None:
    assert MTJDevice().tmr == pytest.approx(25.40 / 18.54 - 1.0, abs=TOL3)
    assert MTJDevice().resistance_ap_kohm == pytest.approx(MTJDevice().resistance_p_kohm * 1.37)


# --------------------------------------------------------------------------------------------
# model


@pytest.mark.parametrize("temperature_k", [None, 273.15, 350.0])
def test_inverse_round_trip(device: MTJDevice, temperature_k: float | None) -> None:
    for pulse in (10.0, 20.0, 50.0, 100.0, 1000.0):
        for p in (0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            current = device.current_for_probability(p, pulse, temperature_k)
            assert 0.0 < current < device.ic0_ua
            back = device.switching_probability(current, pulse, temperature_k)
            assert back == pytest.approx(p, rel=1e-9), (p, pulse)


def test_vectorised_over_current(device: MTJDevice) -> None:
    currents = np.linspace(0.0, 99.0, 12).reshape(3, 4)
    p = device.switching_probability(currents, 10.0)
    assert isinstance(p, np.ndarray)
    assert p.shape == (3, 4)
    assert p.dtype == np.float64
    expected = [[p_sw(c / 100.0, 40.0) for c in row] for row in currents]
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-300)
    assert isinstance(device.switching_probability(90.0, 10.0), float)
    assert np.all(np.diff(p.ravel()) > 0)  # monotone in current


def test_module_function_broadcasts_per_module_parameters() -> None:
    ic0 = np.array([95.0, 100.0, 105.0])
    delta = np.array([38.0, 40.0, 42.0])
    p = thermal_switching_probability(93.0, 10.0, ic0, delta, 1.0)
    expected = [p_sw(93.0 / c, d) for c, d in zip(ic0, delta, strict=True)]
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_probability_above_ic0_tends_to_one(device: MTJDevice) -> None:
    p = device.switching_probability(np.array([100.0, 120.0, 1e4]), 10.0)
    assert np.all((p > 0.9999) & (p <= 1.0))


def test_delta_scales_inversely_with_temperature(device: MTJDevice) -> None:
    assert device.delta_at(300.0) == 40.0
    assert device.delta_at(600.0) == pytest.approx(20.0)
    assert device.delta_at(150.0) == pytest.approx(80.0)
    for t in (250.0, 300.0, 373.15):  # E_b = Delta k_B T fixed
        assert device.delta_at(t) * t == pytest.approx(40.0 * 300.0)
    hot = dataclasses.replace(device, delta=device.delta_at(350.0))
    assert device.switching_probability(90.0, 10.0, 350.0) == pytest.approx(
        hot.switching_probability(90.0, 10.0), rel=1e-12
    )


def test_celsius_to_kelvin() -> None:
    assert celsius_to_kelvin(25.0) == pytest.approx(298.15)
    assert celsius_to_kelvin(0) == pytest.approx(273.15)
    assert celsius_to_kelvin(100.0) == pytest.approx(373.15)
    with pytest.raises(DeviceError, match="absolute zero"):
        celsius_to_kelvin(-300.0)


def test_time_constant(device: MTJDevice) -> None:
    assert device.time_constant_ns(100.0) == pytest.approx(1.0)
    assert device.time_constant_ns(50.0) == pytest.approx(math.exp(20.0))


# --------------------------------------------------------------------------------------------
# energy


def test_energy_unit_conversion_by_hand() -> None:
    # 1 uA^2 * 1 kOhm * 1 ns in pJ, from SI units
    assert (1e-6) ** 2 * 1e3 * 1e-9 / 1e-12 == pytest.approx(1e-6)
    # p ~ 1e-8 (I = Ic0 / 2, Delta = 40): the device stays in P, so every term is the P one.
    dev = MTJDevice(
        ic0_ua=200.0,
        resistance_p_kohm=1.0,
        tmr=1.0,
        read_voltage_v=0.2,
        read_pulse_ns=1.0,
        reset_current_ua=300.0,
        reset_pulse_ns=2.0,
    )
    e = dropout_cycle_energy(dev, write_current_ua=100.0, pulse_ns=10.0)
    assert e.write_pj == pytest.approx(100.0**2 * 1.0 * 10.0 * 1e-6, rel=1e-6)  # 0.1 pJ
    assert e.reset_pj == pytest.approx(300.0**2 * 1.0 * 2.0 * 1e-6, rel=1e-6)  # 0.18 pJ
    assert e.read_pj == pytest.approx(0.2**2 / 1.0 * 1.0, rel=1e-6)  # 0.04 pJ
    assert e.total_pj == pytest.approx(0.32, rel=1e-6)


def test_energy_expected_switching_terms() -> None:
    dev = MTJDevice(ic0_ua=100.0, resistance_p_kohm=2.0, tmr=0.5)
    current, pulse = 93.0, 10.0
    tau = 1.0 * math.exp(40.0 * (1.0 - current / 100.0))
    p = 1.0 - math.exp(-pulse / tau)
    r_p, r_ap = 2.0, 3.0
    e = dropout_cycle_energy(dev, current, pulse)
    write = current**2 * (r_p * pulse + (r_ap - r_p) * (pulse - tau * p)) * 1e-6
    reset = 150.0**2 * (p * r_ap + (1 - p) * r_p) * 5.0 * 1e-6
    read = 0.1**2 * (p / r_ap + (1 - p) / r_p) * 2.0
    assert e.write_pj == pytest.approx(write, rel=1e-12)
    assert e.reset_pj == pytest.approx(reset, rel=1e-12)
    assert e.read_pj == pytest.approx(read, rel=1e-12)
    assert e.total_pj == pytest.approx(write + reset + read, rel=1e-12)
    # between the never-switches and the AP-throughout bounds
    assert current**2 * r_p * pulse * 1e-6 < e.write_pj < current**2 * r_ap * pulse * 1e-6


def test_energy_record_rejects_negative() -> None:
    with pytest.raises(DeviceError, match=r"DropoutCycleEnergy.write_pj must be >= 0 pJ"):
        DropoutCycleEnergy(reset_pj=0.1, write_pj=-0.1, read_pj=0.0)


# --------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("p", [0, 0.0, 1, 1.0, 1.2, -0.1, float("nan")])
def test_probability_outside_open_interval(device: MTJDevice, p: float) -> None:
    with pytest.raises(DeviceError, match=r"dropout probability must be in \(0, 1\)") as err:
        device.current_for_probability(p, 10.0)
    assert "strictly between 0 and 1" in str(err.value)


def test_current_at_or_above_ic0_names_minimum_pulse(device: MTJDevice) -> None:
    # p = 0.9 reaches I = Ic0 at t_p = tau0 * (-ln 0.1) = 2.3026 ns
    with pytest.raises(DeviceError, match=r"use a longer pulse, at least 2\.303 ns") as err:
        device.current_for_probability(0.9, 1.0)
    assert ">= Ic0" in str(err.value)
    assert device.current_for_probability(0.9, 2.303) < device.ic0_ua  # the advice works
    with pytest.raises(DeviceError, match="longer pulse"):
        device.current_for_probability(0.9, 2.302)


def test_negative_current_names_maximum_pulse() -> None:
    weak = MTJDevice(delta=2.0)
    t_max = 1.0 * math.log(2.0) * math.exp(2.0)  # 5.1217 ns
    with pytest.raises(DeviceError, match=r"use a shorter pulse, at most 5\.121 ns"):
        weak.current_for_probability(0.5, 100.0)
    assert weak.current_for_probability(0.5, 5.121) > 0.0
    assert t_max > 5.121


@pytest.mark.parametrize("pulse", [0.0, -1.0, float("inf")])
def test_bad_pulse(device: MTJDevice, pulse: float) -> None:
    with pytest.raises(DeviceError, match="pulse_ns must be"):
        device.current_for_probability(0.5, pulse)
    with pytest.raises(DeviceError, match="pulse_ns must be"):
        device.switching_probability(90.0, pulse)


def test_negative_current_rejected(device: MTJDevice) -> None:
    with pytest.raises(DeviceError, match=r"current_ua must be finite and >= 0 uA"):
        device.switching_probability([90.0, -1.0], 10.0)


@pytest.mark.parametrize("field", ["sigma_ic0_rel", "sigma_delta_rel"])
@pytest.mark.parametrize("value", [-0.01, 1.0, float("nan"), float("inf")])
def test_bad_variation_sigma(field: str, value: float) -> None:
    with pytest.raises(DeviceError, match=rf"Variation\.{field} must be in \[0, 1\)") as err:
        Variation(**{field: value})
    assert "e.g. 0.05 for 5 %" in str(err.value)


@pytest.mark.parametrize("t", [0.0, -10.0])
def test_non_positive_temperature(device: MTJDevice, t: float) -> None:
    for call in (
        lambda: Variation(temperature_k=t),
        lambda: device.delta_at(t),
        lambda: device.switching_probability(90.0, 10.0, temperature_k=t),
        lambda: device.current_for_probability(0.5, 10.0, temperature_k=t),
        lambda: MTJDevice(reference_temperature_k=t),
    ):
        with pytest.raises(DeviceError, match=r"must be > 0.*kelvin"):
            call()


def test_device_field_errors_name_field_value_and_fix() -> None:
    with pytest.raises(DeviceError, match=r"MTJDevice\.delta must be > 0, got -3; .*30-80"):
        MTJDevice(delta=-3)
    with pytest.raises(DeviceError, match=r"MTJDevice\.tmr must be > 0, got 0"):
        MTJDevice(tmr=0)
    with pytest.raises(DeviceError, match=r"MTJDevice\.ic0_ua must be a real number"):
        MTJDevice(ic0_ua="100")  # type: ignore[arg-type]
    with pytest.raises(DeviceError, match=r"reset_current_ua must be > ic0_ua .* e\.g\. to 150"):
        MTJDevice(reset_current_ua=90.0)
    assert issubclass(DeviceError, ValueError)


def test_device_is_hashable_and_frozen() -> None:
    dev = MTJDevice()
    assert hash(dev) == hash(MTJDevice())
    with pytest.raises(dataclasses.FrozenInstanceError):
        dev.delta = 50.0  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# variation sampling


def test_no_variation_gives_nominal(device: MTJDevice) -> None:
    ic0, delta = Variation().sample_modules(device, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(ic0, np.full(5, 100.0))
    np.testing.assert_array_equal(delta, np.full(5, 40.0))


def test_variation_statistics(device: MTJDevice) -> None:
    n = 20_000
    ic0, delta = Variation(0.05, 0.08).sample_modules(device, n, np.random.default_rng(2))
    assert ic0.shape == delta.shape == (n,)
    # relative standard error of a sample sd is 1/sqrt(2n) = 0.5 %; allow 5 of them
    assert ic0.std() / 100.0 == pytest.approx(0.05, rel=0.025)
    assert delta.std() / 40.0 == pytest.approx(0.08, rel=0.025)
    assert ic0.mean() == pytest.approx(100.0, abs=5 * 5.0 / math.sqrt(n))
    assert abs(np.corrcoef(ic0, delta)[0, 1]) < 5 / math.sqrt(n)


def test_variation_uses_common_random_numbers(device: MTJDevice) -> None:
    small, _ = Variation(0.01).sample_modules(device, 50, np.random.default_rng(3))
    large, _ = Variation(0.04).sample_modules(device, 50, np.random.default_rng(3))
    np.testing.assert_allclose(large - 100.0, 4.0 * (small - 100.0), rtol=1e-9)


def test_variation_truncated_positive(device: MTJDevice) -> None:
    ic0, delta = Variation(0.9, 0.9).sample_modules(device, 10_000, np.random.default_rng(4))
    assert np.all(ic0 > 0) and np.all(delta > 0)


def test_hdl_never_imports_torch() -> None:
    code = "import sys, hdl; assert 'torch' not in sys.modules, 'hdl imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
