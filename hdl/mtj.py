"""STT-MTJ device physics for the stochastic dropout modules (SpinDrop).

A SpinDrop dropout module is one magnetic tunnel junction (MTJ) with a write driver and a sense
amplifier. Each dropout cycle (1) resets the MTJ to the parallel state P, (2) applies a write pulse
of current ``I`` and width ``t_p`` that switches it P -> AP with probability ``p``, (3) senses the
state: AP is a drop bit.

Switching model (textbook thermal activation, Neel-Brown with spin-torque lowered barrier), valid
for sub-critical currents ``0 <= I < Ic0`` and pulses of about 10 ns and longer::

    P_sw(I, t_p) = 1 - exp(-t_p / tau)
    tau          = tau0 * exp(Delta(T) * (1 - I / Ic0))
    Delta(T)     = E_b / (k_B T) = Delta_ref * T_ref / T          (barrier E_b fixed)

and its inverse, the driver current that gives a target probability ``p``::

    I = Ic0 * [1 - ln(t_p / (-tau0 * ln(1 - p))) / Delta(T)]

Above ``Ic0`` (precessional regime, pulses of a few ns) switching is nearly deterministic and of no
use for dropout; :func:`thermal_switching_probability` still evaluates the formula there (it tends
to 1), which is how a module whose ``Ic0`` fell below the calibrated current by process variation
behaves, but :meth:`MTJDevice.current_for_probability` refuses to calibrate a driver there.

Units throughout: current uA, time ns, resistance kOhm, voltage V, temperature K, energy pJ.
Conversions: 1 uA^2 * 1 kOhm * 1 ns = 1e-12 A^2 * 1e3 Ohm * 1e-9 s = 1e-18 J = 1e-6 pJ, and
1 V^2 / 1 kOhm * 1 ns = 1e-3 W * 1e-9 s = 1e-12 J = 1 pJ.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import ArrayLike

from hdl.errors import NeurocimError

__all__ = [
    "ABSOLUTE_ZERO_C",
    "DeviceError",
    "DropoutCycleEnergy",
    "MTJDevice",
    "Variation",
    "celsius_to_kelvin",
    "dropout_cycle_energy",
    "thermal_switching_probability",
]

ABSOLUTE_ZERO_C = -273.15
"""Absolute zero in degrees Celsius (definition of the kelvin scale)."""

_UA2_KOHM_NS_TO_PJ = 1e-6
"""(uA)^2 * kOhm * ns -> pJ: 1e-12 A^2 * 1e3 Ohm * 1e-9 s = 1e-18 J = 1e-6 pJ."""

_V2_PER_KOHM_NS_TO_PJ = 1.0
"""V^2 / kOhm * ns -> pJ: 1 V^2 / 1e3 Ohm * 1e-9 s = 1e-12 J = 1 pJ."""


class DeviceError(NeurocimError, ValueError):
    """An invalid device parameter or an operating point outside the device model's validity."""


# --------------------------------------------------------------------------------------------
# validation helpers


def _real(name: str, value: object) -> float:
    """``value`` as a finite float, or :class:`DeviceError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DeviceError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    x = float(value)
    if not math.isfinite(x):
        raise DeviceError(f"{name} must be finite, got {value!r}")
    return x


def _positive(name: str, value: object, fix: str) -> float:
    x = _real(name, value)
    if x <= 0.0:
        raise DeviceError(f"{name} must be > 0, got {value!r}; {fix}")
    return x


def _temperature(name: str, value: object) -> float:
    return _positive(
        name,
        value,
        "pass an absolute temperature in kelvin (celsius_to_kelvin(t_c) converts from Celsius)",
    )


def _check_probability(p: object) -> float:
    """``p`` as a float strictly inside (0, 1), or :class:`DeviceError` saying how to fix it."""
    fix = (
        "p = 0 never drops and p = 1 always drops, neither needs a stochastic device: "
        "pass a probability strictly between 0 and 1 (e.g. 0.1 to 0.5 for Monte-Carlo dropout)"
    )
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise DeviceError(f"dropout probability must be in (0, 1), got {p!r}; {fix}")
    x = float(p)
    if not 0.0 < x < 1.0:  # also rejects NaN
        raise DeviceError(f"dropout probability must be in (0, 1), got {p!r}; {fix}")
    return x


def _pulse(value: object) -> float:
    return _positive(
        "pulse_ns",
        value,
        "pass the write-pulse width in nanoseconds (the thermal-activation model holds for "
        "pulses of about 10 ns and longer)",
    )


def _ceil_sig(x: float, digits: int = 4) -> float:
    """``x`` > 0 rounded up to ``digits`` significant digits (so the printed bound is safe)."""
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(x)))
    return math.ceil(x * scale * (1 + 1e-12)) / scale  # strictly above an exact bound


def _floor_sig(x: float, digits: int = 4) -> float:
    """``x`` > 0 rounded down to ``digits`` significant digits."""
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(x)))
    return math.floor(x * scale * (1 - 1e-12)) / scale  # strictly below an exact bound


def celsius_to_kelvin(t_c: float) -> float:
    """Temperature in kelvin from degrees Celsius: ``T[K] = t[C] + 273.15``."""
    x = _real("t_c", t_c)
    if x <= ABSOLUTE_ZERO_C:
        raise DeviceError(
            f"t_c must be > {ABSOLUTE_ZERO_C} C (absolute zero), got {t_c!r}; "
            "pass a temperature in degrees Celsius"
        )
    return x - ABSOLUTE_ZERO_C


# --------------------------------------------------------------------------------------------
# switching model


def thermal_switching_probability(
    current_ua: ArrayLike,
    pulse_ns: float,
    ic0_ua: ArrayLike,
    delta: ArrayLike,
    tau0_ns: float,
) -> np.ndarray:
    """P -> AP switching probability in the thermal-activation regime, broadcast over arrays.

    ``P_sw = 1 - exp(-t_p / tau)`` with ``tau = tau0 * exp(Delta * (1 - I / Ic0))``, evaluated as
    ``-expm1(-(t_p / tau0) * exp(-Delta * (1 - I / Ic0)))`` for accuracy at small ``P_sw``.

    Args:
        current_ua: write current ``I`` [uA], >= 0 (P -> AP polarity).
        pulse_ns: write-pulse width ``t_p`` [ns], > 0.
        ic0_ua: critical current ``Ic0`` [uA], > 0 (one value or one per module).
        delta: thermal stability factor ``Delta`` at the operating temperature (dimensionless),
            > 0 (one value or one per module).
        tau0_ns: attempt time ``tau0`` [ns], > 0.

    Returns:
        float64 array of the broadcast shape of ``current_ua``, ``ic0_ua`` and ``delta``. For
        ``I >= Ic0`` (outside the model's regime) the formula is extrapolated and tends to 1.
    """
    tp = _pulse(pulse_ns)
    t0 = _positive("tau0_ns", tau0_ns, "pass the attempt time in nanoseconds (about 1 ns)")
    i = np.asarray(current_ua, dtype=np.float64)
    ic0 = np.asarray(ic0_ua, dtype=np.float64)
    d = np.asarray(delta, dtype=np.float64)
    if not np.all(np.isfinite(i)) or np.any(i < 0):
        raise DeviceError(
            "current_ua must be finite and >= 0 uA (P -> AP write polarity), got "
            f"min {np.min(i) if i.size else 'n/a'}; pass the write-driver current in microamperes"
        )
    if not np.all(np.isfinite(ic0)) or np.any(ic0 <= 0):
        raise DeviceError(
            "ic0_ua must be finite and > 0 uA; pass critical currents in microamperes"
        )
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise DeviceError("delta must be finite and > 0; pass the thermal stability factor E_b/kT")
    with np.errstate(over="ignore"):  # far above Ic0: t_p / tau -> inf, P_sw -> 1
        rate = (tp / t0) * np.exp(-d * (1.0 - i / ic0))  # t_p / tau
    return -np.expm1(-rate)


# --------------------------------------------------------------------------------------------
# device


@dataclass(frozen=True)
class MTJDevice:
    """The nominal STT-MTJ of a dropout module: switching physics, resistances and driver levels.

    Attributes:
        delta: thermal stability factor ``Delta = E_b / (k_B T)`` at ``reference_temperature_k``
            (dimensionless). Default 40: the worked example of the SpinDrop sensitivity analysis
            (SpinDrop, Ahmed et al., JETCAS 2023); typical in-plane / perpendicular MTJs span
            30-80.
        reference_temperature_k: temperature at which ``delta`` holds and the write driver is
            calibrated [K]. Default 300 K (room temperature; our default).
        tau0_ns: attempt time ``tau0`` of thermal activation [ns]. Default 1 ns (textbook).
        ic0_ua: critical switching current ``Ic0`` at zero temperature [uA]. Default 100 uA (our
            default, a ~40 nm perpendicular MTJ).
        resistance_p_kohm: resistance in the parallel state ``R_P`` [kOhm]. Default 3 kOhm (our
            default: resistance-area product ~4 Ohm um^2 on a ~40 nm junction; the group's
            published read figures are in unstated units).
        tmr: tunnelling magnetoresistance ratio ``(R_AP - R_P) / R_P`` (fraction). Default 0.37,
            from the group's published read figures P 18.54, AP 25.40 (25 C, 100 mV):
            25.40 / 18.54 - 1 = 0.370.
        read_voltage_v: sense voltage across the MTJ [V]. Default 0.1 V, the read bias of the
            group's published figures.
        read_pulse_ns: sense duration [ns]. Default 2 ns (our default).
        reset_current_ua: reset (AP -> P) current [uA]; must exceed ``ic0_ua`` so the reset is
            deterministic (precessional regime). Default 150 uA = 1.5 Ic0 (our default).
        reset_pulse_ns: reset pulse width [ns]. Default 5 ns (our default).
    """

    delta: float = 40.0
    reference_temperature_k: float = 300.0
    tau0_ns: float = 1.0
    ic0_ua: float = 100.0
    resistance_p_kohm: float = 3.0
    tmr: float = 0.37
    read_voltage_v: float = 0.1
    read_pulse_ns: float = 2.0
    reset_current_ua: float = 150.0
    reset_pulse_ns: float = 5.0

    def __post_init__(self) -> None:
        fixes = {
            "delta": "a usable MTJ has a thermal stability factor of about 30-80",
            "reference_temperature_k": "pass an absolute temperature in kelvin, e.g. 300.0",
            "tau0_ns": "the attempt time is about 1 ns",
            "ic0_ua": "pass the critical current in microamperes, e.g. 100.0",
            "resistance_p_kohm": "pass R_P in kilo-ohms, e.g. 3.0",
            "tmr": "pass (R_AP - R_P) / R_P as a fraction, e.g. 0.37 for 37 %",
            "read_voltage_v": "pass the sense voltage in volts, e.g. 0.1",
            "read_pulse_ns": "pass the sense duration in nanoseconds, e.g. 2.0",
            "reset_current_ua": "pass the reset current in microamperes, above ic0_ua",
            "reset_pulse_ns": "pass the reset pulse width in nanoseconds, e.g. 5.0",
        }
        for f in fields(self):
            value = _positive(f"MTJDevice.{f.name}", getattr(self, f.name), fixes[f.name])
            object.__setattr__(self, f.name, value)
        if self.reset_current_ua <= self.ic0_ua:
            raise DeviceError(
                f"MTJDevice.reset_current_ua must be > ic0_ua = {self.ic0_ua} uA so that the reset "
                f"to P is deterministic, got {self.reset_current_ua}; raise it, e.g. to "
                f"{1.5 * self.ic0_ua:g} uA (1.5 Ic0)"
            )

    @property
    def resistance_ap_kohm(self) -> float:
        """Resistance in the antiparallel state, ``R_AP = R_P * (1 + TMR)`` [kOhm]."""
        return self.resistance_p_kohm * (1.0 + self.tmr)

    def delta_at(self, temperature_k: float) -> float:
        """Thermal stability factor at ``temperature_k`` [K]: ``Delta(T) = Delta_ref * T_ref / T``.

        The energy barrier ``E_b = Delta_ref * k_B * T_ref`` is held fixed (its own temperature
        dependence, through the magnetisation, is neglected).
        """
        t = _temperature("temperature_k", temperature_k)
        return self.delta * self.reference_temperature_k / t

    def _delta(self, temperature_k: float | None) -> float:
        if temperature_k is None:
            return self.delta
        return self.delta_at(temperature_k)

    def switching_probability(
        self, current_ua: ArrayLike, pulse_ns: float, temperature_k: float | None = None
    ) -> float | np.ndarray:
        """P -> AP switching probability for a write pulse, vectorised over ``current_ua``.

        ``P_sw = 1 - exp(-t_p / tau)``, ``tau = tau0 * exp(Delta(T) * (1 - I / Ic0))``.

        Args:
            current_ua: write current [uA], scalar or array, >= 0.
            pulse_ns: pulse width [ns], > 0.
            temperature_k: operating temperature [K]; ``None`` means the reference temperature.

        Returns:
            a float for a scalar current, else a float64 array of the current's shape.
        """
        p = thermal_switching_probability(
            current_ua, pulse_ns, self.ic0_ua, self._delta(temperature_k), self.tau0_ns
        )
        return float(p) if p.ndim == 0 else p

    def time_constant_ns(
        self, current_ua: ArrayLike, temperature_k: float | None = None
    ) -> float | np.ndarray:
        """Mean switching time ``tau = tau0 * exp(Delta(T) * (1 - I / Ic0))`` [ns]."""
        i = np.asarray(current_ua, dtype=np.float64)
        if not np.all(np.isfinite(i)) or np.any(i < 0):
            raise DeviceError(
                "current_ua must be finite and >= 0 uA (P -> AP write polarity); pass the "
                "write-driver current in microamperes"
            )
        tau = self.tau0_ns * np.exp(self._delta(temperature_k) * (1.0 - i / self.ic0_ua))
        return float(tau) if tau.ndim == 0 else tau

    def current_for_probability(
        self, p: float, pulse_ns: float, temperature_k: float | None = None
    ) -> float:
        """Write current [uA] that switches the nominal device with probability ``p``.

        ``I = Ic0 * [1 - ln(t_p / (-tau0 * ln(1 - p))) / Delta(T)]``.

        Raises:
            DeviceError: ``p`` not strictly inside (0, 1); ``pulse_ns <= 0``; the needed current
                is ``>= Ic0`` (pulse too short for thermal activation: the message gives the
                minimum pulse ``tau0 * (-ln(1 - p))``) or ``<= 0`` (pulse so long that the device
                switches thermally with probability ``p`` unaided: the message gives the maximum
                pulse ``tau0 * (-ln(1 - p)) * exp(Delta(T))``).
        """
        p = _check_probability(p)
        tp = _pulse(pulse_ns)
        delta = self._delta(temperature_k)
        t_k = self.reference_temperature_k if temperature_k is None else float(temperature_k)
        mean_switches = -math.log1p(-p)  # -ln(1 - p) = t_p / tau at the target
        x = math.log(tp / (self.tau0_ns * mean_switches))  # = Delta * (1 - I / Ic0)
        current = self.ic0_ua * (1.0 - x / delta)
        where = f"p = {p:g} with a {tp:g} ns pulse at {t_k:g} K needs I = {current:.4g} uA"
        if current >= self.ic0_ua:
            t_min = self.tau0_ns * mean_switches
            raise DeviceError(
                f"{where} >= Ic0 = {self.ic0_ua:g} uA, outside the thermal-activation regime "
                f"(I < Ic0); use a longer pulse, at least {_ceil_sig(t_min):.4g} ns (the model "
                "is accurate for pulses of about 10 ns and longer), or a lower p"
            )
        if current <= 0.0:
            t_max = self.tau0_ns * mean_switches * math.exp(delta)
            raise DeviceError(
                f"{where} <= 0: the device switches thermally with that probability unaided; "
                f"use a shorter pulse, at most {_floor_sig(t_max):.4g} ns, or a more stable "
                "device (larger delta)"
            )
        return current


# --------------------------------------------------------------------------------------------
# variation


@dataclass(frozen=True)
class Variation:
    """Process and thermal variation of a bank of dropout modules.

    Each module ``m`` gets ``Ic0_m = Ic0 * (1 + sigma_ic0_rel * z1)`` and
    ``Delta_ref_m = Delta_ref * (1 + sigma_delta_rel * z2)`` with ``z1, z2 ~ N(0, 1)``
    independent, truncated to positive values (non-positive draws are redrawn), and operates at
    ``temperature_k`` where its stability factor is ``Delta_ref_m * T_ref / temperature_k``.

    Attributes:
        sigma_ic0_rel: relative standard deviation ``sigma(Ic0) / Ic0`` (fraction, 0.01 = 1 %),
            in [0, 1). Default 0 (no variation). SpinDrop variation studies sweep 1-5 %.
        sigma_delta_rel: relative standard deviation ``sigma(Delta) / Delta`` (fraction), in
            [0, 1). Default 0. SpinDrop variation studies sweep 5-10 %.
        temperature_k: operating temperature of the modules [K], > 0. Default 300 K (our
            default, equal to the default calibration temperature). Studies sweep 0-100 C
            (273.15-373.15 K).
    """

    sigma_ic0_rel: float = 0.0
    sigma_delta_rel: float = 0.0
    temperature_k: float = 300.0

    def __post_init__(self) -> None:
        for name in ("sigma_ic0_rel", "sigma_delta_rel"):
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not ok or not 0.0 <= float(value) < 1.0:  # also rejects NaN and inf
                raise DeviceError(
                    f"Variation.{name} must be in [0, 1), got {value!r}; pass the relative "
                    "standard deviation as a fraction, e.g. 0.05 for 5 % (0 disables it)"
                )
            object.__setattr__(self, name, float(value))
        object.__setattr__(
            self, "temperature_k", _temperature("Variation.temperature_k", self.temperature_k)
        )

    def sample_modules(
        self, device: MTJDevice, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-module critical current ``Ic0_m`` [uA] and ``Delta_ref_m`` (at the reference T).

        Draws ``z1`` (n values) then ``z2`` (n values) from ``rng`` whatever the sigmas, so that
        the same generator state gives the same underlying normals for every sigma (a sweep over
        sigma scales one fixed set of deviations). Non-positive results are redrawn from ``rng``
        until positive (a truncated Gaussian; below sigma = 0.2 the chance is < 1e-6 per module).

        Returns:
            ``(ic0_ua, delta_ref)``, two float64 arrays of shape ``(n,)``.
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise DeviceError(f"n must be an integer >= 0, got {n!r}; pass the number of modules")
        n = int(n)
        z_ic0 = rng.standard_normal(n)
        z_delta = rng.standard_normal(n)
        ic0 = _truncated(device.ic0_ua, self.sigma_ic0_rel, z_ic0, rng)
        delta = _truncated(device.delta, self.sigma_delta_rel, z_delta, rng)
        return ic0, delta


def _truncated(
    nominal: float, sigma_rel: float, z: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``nominal * (1 + sigma_rel * z)`` with non-positive entries redrawn until positive."""
    values = nominal * (1.0 + sigma_rel * z)
    bad = values <= 0.0
    while np.any(bad):
        values[bad] = nominal * (1.0 + sigma_rel * rng.standard_normal(int(bad.sum())))
        bad = values <= 0.0
    return values


# --------------------------------------------------------------------------------------------
# energy


@dataclass(frozen=True)
class DropoutCycleEnergy:
    """Expected energy dissipated in the MTJ during one dropout cycle [pJ].

    Attributes:
        reset_pj: reset pulse to P [pJ].
        write_pj: stochastic write pulse [pJ].
        read_pj: sensing [pJ].
        total_pj: ``reset_pj + write_pj + read_pj`` [pJ] (computed).
    """

    reset_pj: float
    write_pj: float
    read_pj: float
    total_pj: float = field(init=False)

    def __post_init__(self) -> None:
        for name in ("reset_pj", "write_pj", "read_pj"):
            value = _real(f"DropoutCycleEnergy.{name}", getattr(self, name))
            if value < 0.0:
                raise DeviceError(
                    f"DropoutCycleEnergy.{name} must be >= 0 pJ, got {value!r}; energies "
                    "dissipated in a resistor are never negative"
                )
            object.__setattr__(self, name, value)
        object.__setattr__(self, "total_pj", self.reset_pj + self.write_pj + self.read_pj)


def _cycle_energy_pj(
    device: MTJDevice,
    write_current_ua: float,
    pulse_ns: float,
    p_switch: ArrayLike,
    tau_ns: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reset, write and read energies [pJ] of a cycle with switching probability ``p_switch``.

    Vectorised over ``p_switch`` and ``tau_ns`` (one value per module); see
    :func:`dropout_cycle_energy` for the equations.
    """
    p = np.asarray(p_switch, dtype=np.float64)
    tau = np.asarray(tau_ns, dtype=np.float64)
    r_p, r_ap = device.resistance_p_kohm, device.resistance_ap_kohm
    i2 = write_current_ua**2
    # Expected time in AP during the write: E[(t_p - t_sw)^+] = t_p - tau * p  (t_sw ~ Exp(tau)).
    t_ap = np.clip(pulse_ns - tau * p, 0.0, pulse_ns)
    write = i2 * (r_p * pulse_ns + (r_ap - r_p) * t_ap) * _UA2_KOHM_NS_TO_PJ
    reset_r = p * r_ap + (1.0 - p) * r_p
    reset = device.reset_current_ua**2 * reset_r * device.reset_pulse_ns * _UA2_KOHM_NS_TO_PJ
    read_g = p / r_ap + (1.0 - p) / r_p
    read = device.read_voltage_v**2 * read_g * device.read_pulse_ns * _V2_PER_KOHM_NS_TO_PJ
    return reset, write, read


def dropout_cycle_energy(
    device: MTJDevice, write_current_ua: float, pulse_ns: float
) -> DropoutCycleEnergy:
    """Expected energy of one dropout cycle of the nominal device at its reference temperature.

    With ``p = P_sw(I, t_p)`` and ``tau`` the mean switching time of the nominal device, and the
    drivers acting as current sources (read as a voltage source):

    * write: the MTJ sits in P until it switches at ``t_sw ~ Exp(tau)`` and in AP for the rest of
      the pulse, so ``E_w = I^2 * [R_P * t_p + (R_AP - R_P) * (t_p - tau * p)]``, using
      ``E[(t_p - t_sw)^+] = t_p - tau * (1 - exp(-t_p / tau))``. It lies between the bounds
      ``I^2 R_P t_p`` (never switches) and ``I^2 R_AP t_p`` (in AP from the start).
    * reset: the MTJ is in AP with probability ``p`` (the last cycle dropped), else in P;
      ``E_r = I_reset^2 * (p * R_AP + (1 - p) * R_P) * t_reset``. The AP part is an upper bound:
      it neglects the few ns the AP -> P switch takes before the resistance falls to ``R_P``.
    * read: ``E_s = V_read^2 * (p / R_AP + (1 - p) / R_P) * t_read`` (sensed state AP with
      probability ``p``; the worst case, always P, is ``V_read^2 / R_P * t_read``).

    Units: uA^2 * kOhm * ns = 1e-6 pJ; V^2 / kOhm * ns = 1 pJ.

    Args:
        device: the nominal MTJ (resistances, reset and read levels).
        write_current_ua: calibrated write current [uA], >= 0.
        pulse_ns: write-pulse width [ns], > 0.
    """
    current = _real("write_current_ua", write_current_ua)
    if current < 0.0:
        raise DeviceError(
            f"write_current_ua must be >= 0 uA, got {write_current_ua!r}; pass the write-driver "
            "current in microamperes"
        )
    tp = _pulse(pulse_ns)
    p = device.switching_probability(current, tp)
    tau = device.time_constant_ns(current)
    reset, write, read = _cycle_energy_pj(device, current, tp, p, tau)
    return DropoutCycleEnergy(reset_pj=float(reset), write_pj=float(write), read_pj=float(read))
