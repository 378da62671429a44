"""Behavioural model of one analog STT-MTJ dropout module, driven by the RTL's module port.

The module's port (:func:`hdl.rtl.accelerator.mtj_signature`) carries ``reset``, ``write`` with
the DAC code ``current``, ``sense`` and the sensed ``state`` back. The model turns the drive
back into physics with the device model (:class:`hdl.mtj.MTJDevice`):

* a ``reset`` pulse puts the junction in P (state 0);
* a ``write`` pulse of ``W`` cycles at code ``k`` applies ``I = k · Ic0 / (2^b - 1)`` for
  ``t_w = W · 1000 / f`` ns; by its end the junction has switched to AP (state 1) with
  probability ``P_sw(I, t_w) = 1 - exp(-(t_w / tau0) · exp(-Delta (1 - I / Ic0)))``
  (:meth:`hdl.mtj.MTJDevice.switching_probability`), drawn cycle by cycle: a junction in P
  switches in a write cycle when ``u < threshold[k]``, ``threshold[k] = floor(P_sw(I_k, 1
  cycle) · 2^32)`` (:func:`threshold_table`) and ``u`` the cycle's 32-bit draw;
* the draws are counter based (:func:`draw_u32`): draw ``j`` of image ``n`` of module ``m``
  is the top half of SplitMix64's output ``mix64(key + (j + 1) · γ)`` with ``key =``
  :func:`module_key` ``(seed, n, m)``, ``j`` counting the write cycles of the image. The draws
  of an image depend on nothing before it, so images can be simulated in any order or in
  parallel, and the Verilog module (:mod:`sim.models.mtj_verilog`) computes the same bits;
* ``state`` always shows the junction's state (the RTL samples it at the end of ``sense``).

Every drawn bit is recorded in ``bits`` (1 = AP = drop), so the golden model can replay the
masks the RTL received (:func:`masks_from_bits`). :meth:`MTJModuleModel.step` is one clock cycle
and is shared by the Amaranth-simulator process and the cocotb coroutine; tell the model the
image with :meth:`MTJModuleModel.begin_image` before the image's first cycle.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hdl.mtj import MTJDevice

__all__ = [
    "GAMMA",
    "CocotbMTJModule",
    "MTJModuleModel",
    "amaranth_mtj",
    "draw_u32",
    "masks_from_bits",
    "mix64",
    "module_key",
    "threshold_table",
]

MASK64 = 2**64 - 1
#: SplitMix64's increment, ``floor(2^64 / golden ratio)`` (odd).
GAMMA = 0x9E3779B97F4A7C15
#: Largest seed, image index and module index (64, 32 and 32 bits).
SEED_LIMIT, IMAGE_LIMIT, MODULE_LIMIT = 2**64, 2**32, 2**32


def mix64(z: int) -> int:
    """SplitMix64's finaliser: ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
    z *= 0x94D049BB133111EB; z ^= z >> 31``, all modulo ``2^64``."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seed_key(seed: int) -> int:
    """``mix64(seed + γ)``: the first step of :func:`module_key`, the same for every image."""
    return mix64(int(seed) + GAMMA)


def module_key(seed: int, image: int, module: int) -> int:
    """Key of the draws of ``module`` on ``image``: ``mix64(mix64(mix64(seed + γ) + image + γ)
    + module + γ)`` (modulo ``2^64``; seed < 2^64, image and module < 2^32)."""
    return mix64(mix64(seed_key(seed) + int(image) + GAMMA) + int(module) + GAMMA)


def draw_u32(key: int, j: int) -> int:
    """Draw ``j`` (0, 1, ...) of a key: ``mix64(key + (j + 1) · γ) >> 32`` (SplitMix64 started at
    state ``key``, its ``j + 1``-th output, top 32 bits), uniform on ``0 .. 2^32 - 1``."""
    return mix64(int(key) + (int(j) + 1) * GAMMA) >> 32


def threshold_table(
    device: MTJDevice, clock_mhz: float, code_bits: int, write_cycles: int = 1
) -> list[int]:
    """``threshold[k] = floor(P_sw(I_k, t) · 2^32)`` for every DAC code ``k = 0 .. 2^b - 1``,
    ``I_k = k · Ic0 / (2^b - 1)``, ``t = write_cycles · 1000 / clock_mhz`` ns: a draw ``u`` (32
    bits) switches the junction when ``u < threshold[k]`` (probability ``threshold[k] / 2^32``,
    within ``2^-32`` of ``P_sw``; ``2^32`` when ``P_sw = 1``)."""
    top = 2**code_bits - 1
    currents = np.arange(top + 1, dtype=np.float64) * device.ic0_ua / top
    pulse_ns = write_cycles * 1000.0 / float(clock_mhz)
    p = np.asarray(device.switching_probability(currents, pulse_ns), dtype=np.float64)
    return [min(2**32, math.floor(float(v) * 2**32)) for v in p.reshape(-1)]


class MTJModuleModel:
    """One MTJ dropout module (see the module doc).

    Args:
        device: the junction (nominal device of the design).
        clock_mhz: clock of the digital side [MHz] (converts pulse cycles to ns).
        code_bits: resolution ``b`` of the write driver's DAC (full scale = ``Ic0``).
        seed: the run's MTJ seed, ``0 .. 2^64 - 1`` (shared by every module).
        module: the module's index, ``0 .. 2^32 - 1`` (give each module its own).
    """

    def __init__(
        self, device: MTJDevice, clock_mhz: float, code_bits: int, seed: int, module: int = 0
    ) -> None:
        if not 0 <= int(seed) < SEED_LIMIT or not 0 <= int(module) < MODULE_LIMIT:
            raise ValueError(
                f"seed must be in 0..2^64-1 and module in 0..2^32-1, got {seed} and {module}"
            )
        self.device = device
        self.clock_mhz = float(clock_mhz)
        self.code_bits = int(code_bits)
        self.seed, self.module = int(seed), int(module)
        self.thresholds = threshold_table(device, self.clock_mhz, self.code_bits)
        self.state = 0
        self.bits: list[int] = []
        self.errors: list[str] = []
        self.image = 0
        self.draws = 0
        self._key = module_key(self.seed, 0, self.module)
        self._code: int | None = None
        self._cycle = 0

    @property
    def idle(self) -> bool:
        """No write pulse is in progress (an all-zero drive then changes nothing)."""
        return self._code is None

    def begin_image(self, image: int) -> None:
        """Draw the next write cycles from image ``image``'s key, from its draw 0."""
        if not 0 <= int(image) < IMAGE_LIMIT:
            raise ValueError(f"image must be in 0..2^32-1, got {image}")
        self.image, self.draws = int(image), 0
        self._key = module_key(self.seed, self.image, self.module)

    def step(self, reset: int, write: int, current: int, sense: int) -> int:
        """One clock cycle with the RTL's outputs of this cycle; returns ``state`` for the next.

        Thermal switching is memoryless (a Poisson process of rate ``1 / tau``), so a junction
        still in P switches in each write cycle with ``P_sw(I, 1 cycle)``; over a pulse of ``W``
        cycles that is exactly ``1 - exp(-W t_clk / tau) = P_sw(I, W t_clk)``, and the state is
        settled in the cycle after the pulse, where the RTL starts sensing. Every write cycle
        takes one draw ``u`` (:func:`draw_u32`), whatever the state; the junction switches when
        it is in P and ``u < threshold[current]``.
        """
        n, self._cycle = self._cycle, self._cycle + 1
        if reset + write + sense > 1:
            self.errors.append(f"cycle {n}: more than one of reset/write/sense high")
        if write:
            if self._code is None:
                if self.state != 0:
                    self.errors.append(f"cycle {n}: write pulse without a reset before it")
                self._code = current
            elif current != self._code:
                self.errors.append(f"cycle {n}: write current changed during the pulse")
            u = draw_u32(self._key, self.draws)
            self.draws += 1
            if self.state == 0 and u < self.thresholds[int(current)]:
                self.state = 1
        elif self._code is not None:  # the first cycle after the pulse: the drawn bit
            self.bits.append(self.state)
            self._code = None
        if reset:
            self.state = 0
        return self.state


def amaranth_mtj(model: MTJModuleModel, port: Any) -> Any:
    """An Amaranth simulator process playing ``model`` on the module port ``port``."""

    async def process(ctx: Any) -> None:
        ctx.set(port.state, 0)
        while True:
            _clk, _rst, reset, write, current, sense = await ctx.tick().sample(
                port.reset, port.write, port.current, port.sense
            )
            drive = (int(reset), int(write), int(current), int(sense))
            ctx.set(port.state, model.step(*drive))
            if drive == (0, 0, 0, 0) and model.idle:
                # the drive lines are flip-flop outputs: sleep until one of them changes (right
                # after a clock edge); the next tick then samples it
                await ctx.changed(port.reset, port.write, port.sense)

    process.model = model  # type: ignore[attr-defined]
    return process


class CocotbMTJModule:
    """The module as a cocotb coroutine on the Verilog ports of one MTJ module port.

    ``dut`` is the top level; the ports are ``<prefix>reset``, ``<prefix>write``,
    ``<prefix>current``, ``<prefix>sense`` (outputs of the digital side) and ``<prefix>state``
    (driven here), e.g. ``prefix = "mtj_l1_e0_m0__"`` for a port of
    :class:`hdl.rtl.accelerator.Accelerator`, clocked by ``dut.<clock>``. Start it with
    ``cocotb.start_soon(module.run())``; ``model`` (:class:`MTJModuleModel`) records the drawn
    bits and the protocol violations.

    Timing as :class:`sim.models.crossbar.CocotbCrossbarMacro`: the coroutine samples the drive
    at each falling edge (mid-cycle, where the registered outputs are stable) and drives
    ``state`` at falling edges too, so the state returned by :meth:`MTJModuleModel.step` for
    cycle ``n`` is on the port from the middle of cycle ``n + 1`` and the digital side samples
    it at the rising edge ending cycle ``n + 1``, exactly as with :func:`amaranth_mtj`.
    """

    def __init__(
        self,
        dut: Any,
        model: MTJModuleModel,
        *,
        prefix: str,
        clock: str = "clk",
    ) -> None:
        if not isinstance(model, MTJModuleModel):
            raise TypeError(f"model must be an MTJModuleModel, not {type(model).__name__}")
        self.model = model
        self.clk = getattr(dut, clock)
        self.reset = getattr(dut, f"{prefix}reset")
        self.write = getattr(dut, f"{prefix}write")
        self.current = getattr(dut, f"{prefix}current")
        self.sense = getattr(dut, f"{prefix}sense")
        self.state = getattr(dut, f"{prefix}state")

    @property
    def bits(self) -> list[int]:
        """The drawn bits (1 = AP = drop), in drawing order."""
        return self.model.bits

    @property
    def errors(self) -> list[str]:
        return self.model.errors

    async def run(self) -> None:
        from cocotb.triggers import FallingEdge, First, RisingEdge

        self.state.value = 0
        pending = 0
        while True:
            await FallingEdge(self.clk)
            drive = (
                int(self.reset.value),
                int(self.write.value),
                int(self.current.value),
                int(self.sense.value),
            )
            self.state.value = pending
            if drive == (0, 0, 0, 0) and self.model.idle:
                # Nothing can happen until the digital side raises a drive line (they come from
                # flip-flops, so they rise at a clock edge and are sampled at the falling edge
                # after it): sleep until then instead of stepping every cycle. A module is idle
                # for all but its few dropout cycles per sample.
                await First(RisingEdge(self.reset), RisingEdge(self.write), RisingEdge(self.sense))
                continue
            pending = self.model.step(*drive)


def masks_from_bits(bits: list[list[int]], units: int, samples: int, images: int) -> np.ndarray:
    """Keep masks ``(samples, images, units)`` of one edge from its modules' recorded bits.

    ``bits[m]`` are module ``m``'s drop bits in drawing order; per mask module ``m`` fills units
    ``m, m + M, ...`` (``ceil((units - m) / M)`` bits), masks drawn image by image, sample by
    sample (``q = n · samples + s``), the order of :func:`hdl.golden.run`.
    """
    modules = len(bits)
    masks = np.empty((images * samples, units), dtype=bool)
    for mod, stream in enumerate(bits):
        per = len(range(mod, units, modules))
        if len(stream) != per * images * samples:
            raise ValueError(
                f"module {mod} drew {len(stream)} bits, expected {per} per mask x "
                f"{images * samples} masks"
            )
        drops = np.asarray(stream, dtype=bool).reshape(images * samples, per)
        masks[:, mod::modules] = ~drops
    return masks.reshape(images, samples, units).transpose(1, 0, 2)
