"""A bank of physical STT-MTJ dropout modules producing Monte-Carlo dropout masks (SpinDrop).

One layer owns ``n_modules`` dropout modules shared round-robin over its ``n_rows`` crossbar rows
(or input channels): row ``r`` is served by module ``r % n_modules`` in cycle
``r // n_modules``, so filling a mask takes ``ceil(n_rows / n_modules)`` cycles.

The write driver is calibrated once, for the nominal device at its reference temperature::

    I = Ic0 * [1 - ln(t_p / (-tau0 * ln(1 - p))) / Delta_ref]

Each module ``m`` has its own ``Ic0_m`` and ``Delta_ref_m`` (drawn once from the seed and the
:class:`~hdl.mtj.Variation`) and runs at the operating temperature ``T``, so its real drop
probability is::

    p_m = 1 - exp(-t_p / tau_m),  tau_m = tau0 * exp(Delta_ref_m * T_ref / T * (1 - I / Ic0_m))

A drop bit is the module's MTJ having switched to AP in that cycle; every cycle is an independent
Bernoulli(p_m) draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hdl.checks import check_int
from hdl.geometry import mask_cycles
from hdl.mtj import (
    DeviceError,
    DropoutCycleEnergy,
    MTJDevice,
    Variation,
    _check_probability,
    _cycle_energy_pj,
    _positive,
    dropout_cycle_energy,
    thermal_switching_probability,
)

__all__ = ["DriverSettings", "MTJDropoutBank"]

_DEFAULT_DEVICE = MTJDevice()
_NO_VARIATION = Variation()
_MAX_BLOCK = 1 << 22  # uniform draws per vectorised block in draw() (32 MiB of float64)


def _count(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` or :class:`DeviceError` naming ``name``."""
    return check_int(value, name, minimum, error=DeviceError)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class DriverSettings:
    """What the write driver of every module applies in a dropout cycle.

    Attributes:
        current_ua: write current ``I`` [uA], calibrated for the nominal device.
        pulse_ns: write-pulse width ``t_p`` [ns].
    """

    current_ua: float
    pulse_ns: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "current_ua",
            _positive("DriverSettings.current_ua", self.current_ua, "pass microamperes"),
        )
        object.__setattr__(
            self,
            "pulse_ns",
            _positive("DriverSettings.pulse_ns", self.pulse_ns, "pass nanoseconds"),
        )


class MTJDropoutBank:
    """``n_modules`` physical MTJ dropout modules serving the rows of one layer.

    Args:
        p: target drop probability, strictly in (0, 1); the driver is calibrated for it.
        n_modules: number of physical modules, >= 1.
        device: the nominal MTJ the driver is calibrated for (at its reference temperature).
        pulse_ns: write-pulse width [ns], default 10 ns (our default, the shortest pulse for
            which the thermal-activation model holds).
        variation: process spread of ``Ic0`` and ``Delta`` and the operating temperature.
        seed: non-negative integer; one seed gives both the module variation and the bit stream
            (through two independent children of ``np.random.SeedSequence(seed)``).
        calibration_temperature_k: temperature [K] at which the write current is calibrated
            for ``p``; ``None`` = the device's reference temperature (a fixed driver). Passing
            the operating temperature models a temperature-tracking driver (e.g. a current
            reference that follows Delta(T)), which cancels the thermal drift of ``p``.

    Attributes:
        p, n_modules, device, variation, seed: as given.
        driver: the calibrated :class:`DriverSettings`.
        module_ic0_ua: ``(n_modules,)`` critical current of each module [uA].
        module_delta: ``(n_modules,)`` thermal stability factor of each module at the operating
            temperature.
        module_probabilities: ``(n_modules,)`` float64, real drop probability ``p_m`` of each
            module.
        module_energy_pj: ``(n_modules,)`` expected energy of one dropout cycle of each module
            [pJ] (see :func:`hdl.mtj.dropout_cycle_energy`, with the module's ``p_m`` and
            ``tau_m``).
        cycle_energy: :class:`DropoutCycleEnergy` of the nominal device at the calibration point.

    The per-module arrays are read-only.
    """

    def __init__(
        self,
        p: float,
        n_modules: int,
        device: MTJDevice = _DEFAULT_DEVICE,
        pulse_ns: float = 10.0,
        variation: Variation = _NO_VARIATION,
        seed: int = 0,
        calibration_temperature_k: float | None = None,
    ) -> None:
        self.p = _check_probability(p)
        self.n_modules = _count("n_modules", n_modules, 1)
        if not isinstance(device, MTJDevice):
            raise DeviceError(f"device must be an MTJDevice, got {type(device).__name__}")
        if not isinstance(variation, Variation):
            raise DeviceError(f"variation must be a Variation, got {type(variation).__name__}")
        self.device = device
        self.variation = variation
        self.seed = _count("seed", seed, 0)

        current = device.current_for_probability(self.p, pulse_ns, calibration_temperature_k)
        self.driver = DriverSettings(current_ua=current, pulse_ns=float(pulse_ns))

        variation_seq, _ = np.random.SeedSequence(self.seed).spawn(2)
        ic0, delta_ref = variation.sample_modules(
            device, self.n_modules, np.random.default_rng(variation_seq)
        )
        delta = delta_ref * (device.reference_temperature_k / variation.temperature_k)
        p_m = thermal_switching_probability(
            current, self.driver.pulse_ns, ic0, delta, device.tau0_ns
        )
        tau_m = device.tau0_ns * np.exp(delta * (1.0 - current / ic0))
        reset, write, read = _cycle_energy_pj(device, current, self.driver.pulse_ns, p_m, tau_m)

        self.module_ic0_ua = _readonly(ic0)
        self.module_delta = _readonly(delta)
        self.module_probabilities = _readonly(p_m)
        self.module_energy_pj = _readonly(reset + write + read)
        self.cycle_energy: DropoutCycleEnergy = dropout_cycle_energy(
            device, current, self.driver.pulse_ns
        )
        self._rng = self._mask_rng(self.seed)

    @staticmethod
    def _mask_rng(seed: int) -> np.random.Generator:
        _, mask_seq = np.random.SeedSequence(seed).spawn(2)
        return np.random.default_rng(mask_seq)

    def __repr__(self) -> str:
        return (
            f"MTJDropoutBank(p={self.p:g}, n_modules={self.n_modules}, "
            f"current_ua={self.driver.current_ua:.4g}, pulse_ns={self.driver.pulse_ns:g}, "
            f"variation={self.variation!r}, seed={self.seed})"
        )

    def cycles_per_mask(self, n_rows: int) -> int:
        """Dropout cycles to fill a mask of ``n_rows`` bits: ``ceil(n_rows / n_modules)``."""
        n_rows = _count("n_rows", n_rows, 0)
        return mask_cycles(n_rows, self.n_modules)

    def row_probabilities(self, n_rows: int) -> np.ndarray:
        """``(n_rows,)`` drop probability of each row: ``p_{r mod n_modules}``."""
        n_rows = _count("n_rows", n_rows, 0)
        return self.module_probabilities[np.arange(n_rows) % self.n_modules]

    def draw(self, n_samples: int, n_rows: int) -> np.ndarray:
        """Drop masks, bool ``(n_samples, n_rows)``, True = row dropped.

        Each module draws a fresh Bernoulli(p_m) bit per cycle; row ``r`` takes the bit of
        module ``r % n_modules`` in cycle ``r // n_modules``. Bits come from the bank's own
        generator: successive calls continue its stream, and drawing ``a`` then ``b`` samples
        gives the same masks as drawing ``a + b`` at once (the unused module slots of the last
        cycle are drawn too and discarded).
        """
        n_samples = _count("n_samples", n_samples, 0)
        cycles = self.cycles_per_mask(n_rows)
        width = cycles * self.n_modules
        out = np.empty((n_samples, n_rows), dtype=bool)
        if n_samples == 0 or width == 0:
            return out
        block = max(1, _MAX_BLOCK // width)
        for start in range(0, n_samples, block):
            stop = min(start + block, n_samples)
            u = self._rng.random((stop - start, cycles, self.n_modules))
            bits = u < self.module_probabilities
            out[start:stop] = bits.reshape(stop - start, width)[:, :n_rows]
        return out

    def energy_per_mask_pj(self, n_rows: int) -> float:
        """Expected energy [pJ] to fill one mask of ``n_rows`` bits: one dropout cycle per row.

        ``sum_r E_{r mod n_modules}`` with ``E_m`` = :attr:`module_energy_pj`; idle module slots
        of the last cycle cost nothing. Without variation at the calibration temperature this is
        ``n_rows * cycle_energy.total_pj``.
        """
        n_rows = _count("n_rows", n_rows, 0)
        full, rest = divmod(n_rows, self.n_modules)
        e = self.module_energy_pj
        return float(full * math.fsum(e) + math.fsum(e[:rest]))

    def reset(self, seed: int | None = None) -> None:
        """Restart the bit stream from ``seed`` (default: the bank's seed); variation stays."""
        self._rng = self._mask_rng(self.seed if seed is None else _count("seed", seed, 0))
