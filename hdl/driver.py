"""The MTJ dropout module's drive sequence (device and write pulse) and which one a network uses.

A trained network carries the driver it was trained with (:attr:`hdl.ir.Network.mtj_driver`, the
``mtj_driver`` field of ``network.json``); :func:`driver_for` is the one rule every consumer
(mapping and schedule, cost model, RTL, simulation) applies: an explicit driver wins, else the
network's, else the default ``MTJDriver()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hdl.hwconfig import HardwareError
from hdl.mtj import MTJDevice

if TYPE_CHECKING:
    from hdl.ir import Network

__all__ = ["MTJDriver", "driver_for"]


def _ns_to_cycles(ns: float, clock_mhz: float) -> int:
    """Whole clock cycles covering ``ns`` nanoseconds at ``clock_mhz``: ``ceil(ns * f)``, >= 1.

    ``ns * f`` is rounded to 9 decimals first so that an exact multiple of the clock period
    (5 ns at 200 MHz = 1.0 cycle) is not pushed up by floating-point error.
    """
    return max(1, math.ceil(round(ns * clock_mhz / 1000.0, 9)))


@dataclass(frozen=True, slots=True)
class MTJDriver:
    """The MTJ dropout module's drive sequence: the device and the write-pulse width.

    One dropout cycle is reset (``device.reset_pulse_ns``), write pulse (``pulse_ns``) and
    sense (``device.read_pulse_ns``), each rounded up to whole clock cycles on its own (the
    controller runs one counter per phase); the sensed bit is latched in the last sense cycle::

        cycles_per_dropout_cycle = ceil(t_reset * f) + ceil(t_p * f) + ceil(t_sense * f)

    with ``f = clock_mhz / 1000`` cycles per ns. The same device and pulse give the energy of a
    dropout cycle (:func:`hdl.mtj.dropout_cycle_energy` with the current calibrated for ``p``).

    Attributes:
        device: the nominal MTJ (reset and sense pulse widths, resistances, switching physics).
        pulse_ns: write-pulse width ``t_p`` [ns], > 0. Default 10 ns, the default of
            :class:`hdl.MTJDropoutBank` (shortest pulse for which the thermal model holds).
    """

    device: MTJDevice = field(default_factory=MTJDevice)
    pulse_ns: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.device, MTJDevice):
            raise HardwareError(
                f"mtj_driver.device must be an hdl.MTJDevice, got {type(self.device).__name__}"
            )
        p = self.pulse_ns
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0 < p < math.inf):
            raise HardwareError(f"mtj_driver.pulse_ns must be a finite number > 0 ns, got {p!r}")
        object.__setattr__(self, "pulse_ns", float(p))

    def phase_cycles(self, clock_mhz: float) -> tuple[int, int, int]:
        """Clock cycles of the reset, write and sense phases at ``clock_mhz``."""
        return (
            _ns_to_cycles(self.device.reset_pulse_ns, clock_mhz),
            _ns_to_cycles(self.pulse_ns, clock_mhz),
            _ns_to_cycles(self.device.read_pulse_ns, clock_mhz),
        )

    def cycles_per_dropout_cycle(self, clock_mhz: float) -> int:
        """Clock cycles of one dropout cycle (reset + write + sense) at ``clock_mhz``."""
        return sum(self.phase_cycles(clock_mhz))


def driver_for(net: Network | None, driver: MTJDriver | None = None) -> MTJDriver:
    """The drive sequence to price, build and simulate ``net`` with.

    ``driver`` if given (a user's override), else the one ``net`` was trained with
    (``net.mtj_driver``), else the default :class:`MTJDriver` ``()``.

    Raises:
        HardwareError: ``driver`` is neither ``None`` nor an :class:`MTJDriver`.
    """
    if driver is None:
        trained = getattr(net, "mtj_driver", None)
        return trained if trained is not None else _DEFAULT
    if not isinstance(driver, MTJDriver):
        raise HardwareError(
            f"driver must be an hdl.driver.MTJDriver, got {type(driver).__name__}; pass "
            "MTJDriver(device, pulse_ns) or None for the network's own (or the default)"
        )
    return driver


_DEFAULT = MTJDriver()
