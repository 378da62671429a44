"""Dropout-bit sources: the MTJ module controller and the LFSR alternative.

Two sources give a dropout mask's bits (docs/hardware-model.md section 3):

* ``mtj``: :class:`DropoutModuleController` drives ONE physical STT-MTJ dropout module (the
  analog part stays outside the digital logic) through a dropout cycle -- reset to P, stochastic
  write pulse, sense -- and latches the sensed bit (AP = 1 = drop). The phase lengths are those
  of :class:`hdl.mapping.MTJDriver`, so one dropout cycle takes exactly
  ``MTJDriver.cycles_per_dropout_cycle(clock_mhz)`` clock cycles, as the schedule counts;
  :func:`dac_setting` turns a target probability into the write driver's DAC code.
* ``lfsr``: :class:`LFSRDropoutSource` holds one :class:`hdl.rtl.lfsr.LeapLFSR` per module,
  started at the module offsets of :func:`hdl.lfsr.module_seeds`, and yields one drop bit per
  module on each ``draw``, bit for bit as :func:`hdl.lfsr.dropout_drop_bits`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.ir import DropoutSpec
from hdl.lfsr import drop_threshold, module_seeds
from hdl.mapping import MTJDriver
from hdl.rtl.component import CheckedComponent
from hdl.rtl.lfsr import LeapLFSR
from hdl.rtl.lif import RTLError

__all__ = [
    "DACSetting",
    "DropoutModuleController",
    "DropoutRTLError",
    "LFSRDropoutSource",
    "dac_setting",
]

MAX_CODE_BITS = 16
"""Widest write-driver DAC accepted (a current DAC of more than 16 bits is not realistic)."""


class DropoutRTLError(RTLError):
    """A bad dropout-RTL parameter; the message names the parameter and says how to fix it."""


def _int_param(name: str, value: object, lo: int, hi: int | None, fix: str) -> int:
    return check_int(value, name, lo, hi, error=DropoutRTLError, fix=fix)


def _clock(clock_mhz: object) -> float:
    ok = isinstance(clock_mhz, numbers.Real) and not isinstance(clock_mhz, bool)
    if not ok or not 0.0 < float(clock_mhz) < math.inf:
        raise DropoutRTLError(
            f"clock_mhz must be a finite number > 0 MHz, got {clock_mhz!r}; pass the clock of "
            "the digital logic, e.g. hdl.hwconfig.HardwareConfig.clock_mhz (200.0)"
        )
    return float(clock_mhz)


def _driver(driver: object) -> MTJDriver:
    if driver is None:
        return MTJDriver()
    if not isinstance(driver, MTJDriver):
        raise DropoutRTLError(
            f"driver must be an hdl.mapping.MTJDriver, got {type(driver).__name__}; pass "
            "MTJDriver(device, pulse_ns) or None for the default"
        )
    return driver


# --------------------------------------------------------------------------------------------
# write-driver DAC


@dataclass(frozen=True)
class DACSetting:
    """The write-driver setting for a target drop probability, after DAC quantisation.

    Attributes:
        p: target drop probability.
        code: DAC code ``round(I / Ic0 * (2**code_bits - 1))``, in ``1 .. 2**code_bits - 2``.
        code_bits: DAC resolution (full scale = ``Ic0`` of the nominal device).
        write_cycles: clock cycles of the write pulse (``MTJDriver.phase_cycles(f)[1]``).
        pulse_ns: the pulse the RTL applies, ``write_cycles * 1000 / clock_mhz`` [ns].
        current_ua: ideal current for ``p`` at ``pulse_ns`` [uA]
            (:meth:`hdl.mtj.MTJDevice.current_for_probability`).
        lsb_ua: one code step, ``Ic0 / (2**code_bits - 1)`` [uA].
        realised_current_ua: ``code * lsb_ua`` [uA].
        realised_p: ``MTJDevice.switching_probability(realised_current_ua, pulse_ns)``.
        p_low, p_high: switching probabilities at ``realised_current_ua -/+ lsb_ua / 2``; the
            target ``p`` lies in ``[p_low, p_high]`` (rounding moves the current by at most half
            an LSB and ``P_sw`` increases with the current).
    """

    p: float
    code: int
    code_bits: int
    write_cycles: int
    pulse_ns: float
    current_ua: float
    lsb_ua: float
    realised_current_ua: float
    realised_p: float
    p_low: float
    p_high: float


def dac_setting(
    p: float,
    driver: MTJDriver | None = None,
    clock_mhz: float = 200.0,
    code_bits: int = 8,
    temperature_k: float | None = None,
) -> DACSetting:
    """DAC code and write-pulse cycles that make the nominal MTJ drop with probability ``p``.

    The write pulse lasts ``W = ceil(t_p * f)`` clock cycles (``t_p = driver.pulse_ns``,
    ``f = clock_mhz / 1000`` cycles per ns), so the pulse applied is ``t_w = W / f`` (equal to
    ``t_p`` when ``t_p`` is a whole number of periods, e.g. the default 10 ns at 200 MHz); the
    current is calibrated for ``t_w`` with the device model's inverse::

        I    = Ic0 * [1 - ln(t_w / (-tau0 * ln(1 - p))) / Delta(T)]
        code = round(I / Ic0 * (2**b - 1))               (b = code_bits; full scale = Ic0)
        I_q  = code * Ic0 / (2**b - 1)                   (realised current, |I_q - I| <= LSB/2)

    Quantisation: as ``-ln(1 - P_sw) = (t_w / tau0) * exp(-Delta * (1 - I / Ic0))``, the realised
    probability is::

        p_q = 1 - (1 - p) ** exp(Delta * (I_q - I) / Ic0)

    i.e. the expected number of switching events ``-ln(1 - p)`` is scaled by a factor within
    ``exp(+-Delta / (2 * (2**b - 1)))``: +8.2 % / -7.5 % for Delta = 40, b = 8 (p = 0.5 is
    realised in 0.473 .. 0.527; p = 0.1 in 0.093 .. 0.108). Each extra bit halves the exponent.

    Args:
        p: target drop probability, strictly in (0, 1).
        driver: the drive sequence (device and pulse width); ``None`` = ``MTJDriver()``.
        clock_mhz: clock of the digital logic [MHz], > 0.
        code_bits: DAC resolution ``b`` in bits, 2 .. 16.
        temperature_k: calibration temperature [K]; ``None`` = the device's reference.

    Raises:
        hdl.mtj.DeviceError: ``p`` outside (0, 1) or no thermal-activation current for it (the
            message gives the pulse range that works).
        DropoutRTLError: a bad ``driver``, ``clock_mhz`` or ``code_bits``, or a current that
            rounds to code 0 or to full scale (``Ic0``, outside the thermal regime).
    """
    driver = _driver(driver)
    f = _clock(clock_mhz)
    bits = _int_param(
        "code_bits",
        code_bits,
        2,
        MAX_CODE_BITS,
        "pass the write-driver DAC resolution in bits, e.g. 8",
    )
    device = driver.device
    write_cycles = driver.phase_cycles(f)[1]
    pulse = write_cycles * 1000.0 / f
    current = device.current_for_probability(p, pulse, temperature_k)
    full = 2**bits - 1
    lsb = device.ic0_ua / full
    code = round(current / lsb)
    where = (
        f"p = {p:g} needs I = {current:.4g} uA with a {pulse:g} ns pulse; a {bits}-bit DAC "
        f"(LSB {lsb:.4g} uA, full scale Ic0 = {device.ic0_ua:g} uA) rounds it to code {code}"
    )
    if code < 1:
        raise DropoutRTLError(
            f"{where}, i.e. no current; raise code_bits or use a shorter write pulse "
            "(driver.pulse_ns)"
        )
    if code >= full:
        raise DropoutRTLError(
            f"{where} = full scale = Ic0, outside the thermal-activation regime; raise code_bits "
            "or use a longer write pulse (driver.pulse_ns)"
        )
    realised = code * lsb

    def prob(i: float) -> float:
        return float(device.switching_probability(i, pulse, temperature_k))

    return DACSetting(
        p=float(p),
        code=code,
        code_bits=bits,
        write_cycles=write_cycles,
        pulse_ns=pulse,
        current_ua=current,
        lsb_ua=lsb,
        realised_current_ua=realised,
        realised_p=prob(realised),
        p_low=prob(realised - lsb / 2),
        p_high=prob(realised + lsb / 2),
    )


# --------------------------------------------------------------------------------------------
# MTJ module controller


class DropoutModuleController(CheckedComponent):
    """Drives one MTJ dropout module through reset -> write pulse -> sense and latches the bit.

    Args:
        reset_cycles: ``R`` clock cycles of the reset pulse, >= 1.
        write_cycles: ``W`` clock cycles of the write pulse, >= 1.
        sense_cycles: ``S`` clock cycles of the sense strobe, >= 1.
        current_code: the write driver's DAC code (a constant, see :func:`dac_setting`), in
            ``0 .. 2**code_bits - 1``.
        code_bits: width of ``mtj_current``, 1 .. 16.

    :meth:`from_driver` takes ``R, W, S`` from :meth:`hdl.mapping.MTJDriver.phase_cycles` and
    :meth:`for_probability` also the code from :func:`dac_setting`, so one dropout cycle is
    ``N = R + W + S = MTJDriver.cycles_per_dropout_cycle(clock_mhz)`` clock cycles.

    Ports:
        start: In(1) -- begin a dropout cycle; taken in a cycle where ``idle`` is high.
        idle: Out(1) -- a ``start`` in this cycle is taken: high while no dropout cycle runs
            and in the last sense cycle (so back-to-back dropout cycles take ``N`` cycles each).
        drop_bit: Out(1) -- the last latched drop bit (1 = AP = drop), held until the next
            latch. (Not named ``bit``: that is a SystemVerilog keyword, which the Verilog would
            have to escape.)
        bit_valid: Out(1) -- high for the one cycle after each latch.
        mtj_reset: Out(1) -- reset pulse (AP -> P) to the analog module.
        mtj_write: Out(1) -- write pulse (P -> AP with probability p).
        mtj_current: Out(code_bits) -- DAC code: ``current_code`` during the write pulse, else 0.
        mtj_sense: Out(1) -- sense strobe.
        mtj_state: In(1) -- the analog module's sensed state (1 = AP = drop), sampled at the
            clock edge that ends the last sense cycle.
        latch: Out(1) -- high in the last sense cycle (combinational): ``mtj_state`` is
            latched at this cycle's closing edge, so a mask register may take it at the same
            edge instead of waiting for ``bit_valid``.

    All ``mtj_*`` outputs, ``drop_bit`` and ``bit_valid`` come straight from flip-flops (no glitches
    towards the analog drivers). Waveform, cycle 0 being the cycle in which ``start`` is taken::

        cycle         0    1 .. R    R+1 .. R+W    R+W+1 .. N    N+1
        mtj_reset     0    1         0             0             0 (1 if restarted in N)
        mtj_write     0    0         1             0             0
        mtj_current   0    0         code          0             0
        mtj_sense     0    0         0             1             0
        idle          1    0         0             0 .. 0, 1     1 (0 if restarted in N)
        bit_valid     0    0         0             0             1  (drop_bit = mtj_state at
                                                                     the edge ending cycle N)

    Latency: start -> first reset cycle 1 clock; start -> ``bit_valid`` ``N + 1`` clocks. With
    ``start`` high whenever ``idle`` is, dropout cycle ``k`` (0-based) starts its reset in cycle
    ``k * N + 1`` and its bit is valid in cycle ``(k + 1) * N + 1``: ``K`` bits take ``K * N``
    cycles plus the one-cycle start latency. A ``start`` while not ``idle`` is ignored.

    Raises:
        DropoutRTLError: a parameter out of range; the message names it and the fix.
    """

    @classmethod
    def _check(
        cls,
        *,
        reset_cycles: int,
        write_cycles: int,
        sense_cycles: int,
        current_code: int,
        code_bits: int = 8,
    ) -> dict[str, Any]:
        fix = "pass whole clock cycles, e.g. MTJDriver().phase_cycles(clock_mhz)"
        code_bits = _int_param(
            "code_bits", code_bits, 1, MAX_CODE_BITS, "pass the DAC resolution in bits, e.g. 8"
        )
        return {
            "reset_cycles": _int_param("reset_cycles", reset_cycles, 1, None, fix),
            "write_cycles": _int_param("write_cycles", write_cycles, 1, None, fix),
            "sense_cycles": _int_param("sense_cycles", sense_cycles, 1, None, fix),
            "code_bits": code_bits,
            "current_code": _int_param(
                "current_code",
                current_code,
                0,
                2**code_bits - 1,
                f"the code must fit the {code_bits}-bit DAC; compute it with dac_setting()",
            ),
        }

    def __init__(self, **params: Any) -> None:  # params checked by _check
        self.setting: DACSetting | None = None  # set by for_probability()
        super().__init__(
            {
                "start": In(1),
                "idle": Out(1),
                "drop_bit": Out(1),
                "bit_valid": Out(1),
                "mtj_reset": Out(1),
                "mtj_write": Out(1),
                "mtj_current": Out(self.code_bits),
                "mtj_sense": Out(1),
                "mtj_state": In(1),
                "latch": Out(1),
            }
        )

    @classmethod
    def from_driver(
        cls,
        driver: MTJDriver | None = None,
        clock_mhz: float = 200.0,
        *,
        current_code: int,
        code_bits: int = 8,
    ) -> DropoutModuleController:
        """A controller with the phase lengths of ``driver`` at ``clock_mhz``."""
        r, w, s = _driver(driver).phase_cycles(_clock(clock_mhz))
        return cls(
            reset_cycles=r,
            write_cycles=w,
            sense_cycles=s,
            current_code=current_code,
            code_bits=code_bits,
        )

    @classmethod
    def for_probability(
        cls,
        p: float,
        driver: MTJDriver | None = None,
        clock_mhz: float = 200.0,
        code_bits: int = 8,
        temperature_k: float | None = None,
    ) -> DropoutModuleController:
        """A controller for ``driver`` at ``clock_mhz`` whose code is ``dac_setting(p, ...)``;
        the setting is kept in :attr:`setting`."""
        setting = dac_setting(p, driver, clock_mhz, code_bits, temperature_k)
        ctrl = cls.from_driver(driver, clock_mhz, current_code=setting.code, code_bits=code_bits)
        ctrl.setting = setting
        return ctrl

    @property
    def cycles_per_dropout_cycle(self) -> int:
        """``N = R + W + S`` clock cycles per dropout cycle (back to back)."""
        return self.reset_cycles + self.write_cycles + self.sense_cycles

    def elaborate(self, platform: object) -> Module:
        m = Module()
        left = Signal(range(max(self.reset_cycles, self.write_cycles, self.sense_cycles)))
        last = Signal()
        busy = Signal()
        take = Signal()
        m.d.comb += [
            last.eq(left == 0),
            busy.eq(self.mtj_reset | self.mtj_write | self.mtj_sense),
            self.idle.eq(~busy | (self.mtj_sense & last)),
            take.eq(self.start & self.idle),
            self.latch.eq(self.mtj_sense & last),
        ]
        m.d.sync += self.bit_valid.eq(0)
        with m.If(busy & ~last):
            m.d.sync += left.eq(left - 1)
        with m.If(self.mtj_reset & last):
            m.d.sync += [
                self.mtj_reset.eq(0),
                self.mtj_write.eq(1),
                self.mtj_current.eq(self.current_code),
                left.eq(self.write_cycles - 1),
            ]
        with m.If(self.mtj_write & last):
            m.d.sync += [
                self.mtj_write.eq(0),
                self.mtj_current.eq(0),
                self.mtj_sense.eq(1),
                left.eq(self.sense_cycles - 1),
            ]
        with m.If(self.mtj_sense & last):
            m.d.sync += [
                self.mtj_sense.eq(0),
                self.drop_bit.eq(self.mtj_state),
                self.bit_valid.eq(1),
            ]
        with m.If(take):  # after the sense branch: a restart in the last sense cycle wins
            m.d.sync += [self.mtj_reset.eq(1), left.eq(self.reset_cycles - 1)]
        return m


# --------------------------------------------------------------------------------------------
# LFSR source


class LFSRDropoutSource(CheckedComponent):
    """One leap-forward LFSR per dropout module: ``modules`` drop bits per ``draw``.

    Module ``m`` of dropout edge ``edge`` (of ``edges``) is a :class:`~hdl.rtl.lfsr.LeapLFSR`
    of ``w = spec.lfsr.width`` bits whose reset value is
    ``hdl.lfsr.module_seeds(spec.lfsr, modules, edge, edges)[m]``, the seed advanced by
    ``offset(e, m) = (e + 1) * d + m * G`` single steps (docs/hardware-model.md section 3).
    Every ``draw`` advances all modules by one draw (``w`` single steps, one clock) and::

        u_m     = draw k of module m            (k = draws since reset or load)
        bits[m] = u_m < round(p * 2**w)         (drop_threshold; 1 = drop)

    Mask unit ``r`` of mask ``q`` (``cycles = ceil(units / modules)`` draws per mask, draws in
    the drawing order of section 4) is ``bits[r % modules]`` after draw
    ``q * cycles + r // modules + 1``, exactly :func:`hdl.lfsr.dropout_drop_bits`.

    Args:
        spec: the edge's dropout spec, ``source == "lfsr"``.
        edge: index of the edge among the network's weighted edges with dropout (file order).
        edges: number of such edges ``E``.

    Ports:
        draw: In(1) -- all modules draw at the clock edge.
        load: In(1) -- restart every module at its start state (priority over ``draw``).
        bits: Out(modules) -- ``bits[m]`` the drop bit of module ``m``'s current draw
            (combinational from the registers: valid in the cycle after ``draw``).
        valid: Out(1) -- high in the cycle after a ``draw`` (``bits`` hold a new draw).

    Timing: ``draw`` in cycle ``c`` -> new ``bits`` and ``valid`` in cycle ``c + 1``; ``draw``
    may be high every cycle (one dropout cycle = 1 clock, ``hdl.mapping.LFSR_STEP_CYCLES``).

    Attributes:
        spec, edge, edges, modules, width: as given / derived.
        threshold: ``round(p * 2**w)``.
        starts: the modules' start states.
        lfsrs: the :class:`~hdl.rtl.lfsr.LeapLFSR` submodules.

    Raises:
        DropoutRTLError: ``spec`` not an LFSR dropout spec.
        hdl.lfsr.LFSRError: ``edge``/``edges`` out of range or a width too narrow for the
            modules (the message names the smallest width that fits).
    """

    @classmethod
    def _check(cls, spec: DropoutSpec, edge: int = 0, edges: int = 1) -> dict[str, Any]:
        if not isinstance(spec, DropoutSpec) or spec.source != "lfsr" or spec.lfsr is None:
            got = spec.source if isinstance(spec, DropoutSpec) else type(spec).__name__
            raise DropoutRTLError(
                f"spec must be an hdl.ir.DropoutSpec with source 'lfsr', got {got!r}; for "
                "source 'mtj' use DropoutModuleController, one per module"
            )
        starts = module_seeds(spec.lfsr, spec.modules, edge, edges)  # LFSRError if too narrow
        return {
            "spec": spec,
            "modules": spec.modules,
            "width": spec.lfsr.width,
            "starts": tuple(int(s) for s in starts),
            "edge": int(edge),
            "edges": int(edges),
            "threshold": drop_threshold(spec.p, spec.lfsr.width),
        }

    def __init__(self, spec: DropoutSpec, edge: int = 0, edges: int = 1) -> None:
        self.lfsrs = [LeapLFSR(self.width, s) for s in self.starts]
        super().__init__(
            {
                "draw": In(1),
                "load": In(1),
                "bits": Out(self.modules),
                "valid": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        drops = []
        for i, lfsr in enumerate(self.lfsrs):
            m.submodules[f"lfsr{i}"] = lfsr
            m.d.comb += [lfsr.en.eq(self.draw), lfsr.load.eq(self.load)]
            drops.append(lfsr.state < self.threshold)
        m.d.comb += self.bits.eq(Cat(*drops))
        m.d.sync += self.valid.eq(self.draw & ~self.load)
        return m
