"""Behavioural model of one analog STT-MTJ dropout module, driven by the RTL's module port.

The module's port (:func:`hdl.rtl.accelerator.mtj_signature`) carries ``reset``, ``write`` with
the DAC code ``current``, ``sense`` and the sensed ``state`` back. The model turns the drive
back into physics with the device model (:class:`hdl.mtj.MTJDevice`):

* a ``reset`` pulse puts the junction in P (state 0);
* a ``write`` pulse of ``W`` cycles at code ``k`` applies ``I = k · Ic0 / (2^b - 1)`` for
  ``t_w = W · 1000 / f`` ns; by its end the junction has switched to AP (state 1) with
  probability ``P_sw(I, t_w) = 1 - exp(-(t_w / tau0) · exp(-Delta (1 - I / Ic0)))``
  (:meth:`hdl.mtj.MTJDevice.switching_probability`), drawn cycle by cycle from the model's own
  seeded generator (see :meth:`MTJModuleModel.step`);
* ``state`` always shows the junction's state (the RTL samples it at the end of ``sense``).

Every drawn bit is recorded in ``bits`` (1 = AP = drop), so the golden model can replay the
masks the RTL received (:func:`masks_from_bits`). :meth:`MTJModuleModel.step` is one clock cycle
and is shared by the Amaranth-simulator process and the cocotb coroutine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hdl.mtj import MTJDevice

__all__ = ["CocotbMTJModule", "MTJModuleModel", "amaranth_mtj", "masks_from_bits"]


class MTJModuleModel:
    """One MTJ dropout module (see the module doc).

    Args:
        device: the junction (nominal device of the design).
        clock_mhz: clock of the digital side [MHz] (converts pulse cycles to ns).
        code_bits: resolution ``b`` of the write driver's DAC (full scale = ``Ic0``).
        seed: seed of the module's generator (give each module its own).
    """

    def __init__(self, device: MTJDevice, clock_mhz: float, code_bits: int, seed: Any) -> None:
        self.device = device
        self.clock_mhz = float(clock_mhz)
        self.code_bits = int(code_bits)
        self.rng = np.random.default_rng(seed)
        self.state = 0
        self.bits: list[int] = []
        self.errors: list[str] = []
        self._code: int | None = None
        self._cycle = 0

    @property
    def idle(self) -> bool:
        """No write pulse is in progress (an all-zero drive then changes nothing)."""
        return self._code is None

    def probability(self, code: int, write_cycles: int) -> float:
        """``P_sw`` of a write pulse of ``write_cycles`` cycles at DAC code ``code``."""
        current = code * self.device.ic0_ua / (2**self.code_bits - 1)
        pulse_ns = write_cycles * 1000.0 / self.clock_mhz
        return float(self.device.switching_probability(current, pulse_ns))

    def step(self, reset: int, write: int, current: int, sense: int) -> int:
        """One clock cycle with the RTL's outputs of this cycle; returns ``state`` for the next.

        Thermal switching is memoryless (a Poisson process of rate ``1 / tau``), so a junction
        still in P switches in each write cycle with ``P_sw(I, 1 cycle)``; over a pulse of ``W``
        cycles that is exactly ``1 - exp(-W t_clk / tau) = P_sw(I, W t_clk)``, and the state is
        settled in the cycle after the pulse, where the RTL starts sensing.
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
            if self.state == 0 and self.rng.random() < self.probability(current, 1):
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
