"""The keep mask of one weighted edge with dropout, filled at the start of every sample.

Docs/hardware-model.md, section 3: an edge's mask has ``units`` bits (crossbar rows, or input
channels for ``channel`` granularity), produced by its ``M = modules`` physical dropout sources
in lockstep; unit ``r`` comes from module ``r % M`` in dropout cycle ``r // M``, so a mask takes
``rounds = ceil(units / M)`` dropout cycles. :class:`MaskFill` holds the mask in a shift register
of ``rounds · M`` bits: each dropout cycle shifts it down by ``M`` and puts the ``M`` new keep
bits (``1 - drop``) on top, so after ``rounds`` cycles unit ``r`` sits at bit ``r``. Until the
first fill every unit is kept.

Sources:

* ``mtj``: one :class:`~hdl.rtl.dropout.DropoutModuleController` per module (reset, write pulse
  with the DAC code of :func:`~hdl.rtl.dropout.dac_setting`, sense) on the module ports ``mtj``
  (:func:`~hdl.rtl.accelerator.mtj_signature`); the sensed state enters the mask at the clock
  edge that ends the sense (``latch``). A module that owns no unit (``modules > units``) never
  runs; in the last round only the modules that own a unit do.
* ``lfsr``: an :class:`~hdl.rtl.dropout.LFSRDropoutSource`, all modules drawing every cycle,
  exactly :func:`hdl.lfsr.dropout_drop_bits` (slots of the last round that no unit uses are
  drawn and discarded).

**Timing.** ``prefetch`` is high in the cycle *before* the fill step (the sources start then),
``fill`` during the fill step. The last bit enters the mask at the edge ending cycle
``fill_cycles - 1`` of the step, ``fill_cycles = rounds · cycles_per_dropout`` (exactly
``DropoutMap.fill_cycles`` of :mod:`hdl.mapping`): MTJ ``R + W + S`` cycles per dropout cycle,
LFSR one. ``drops`` counts the mask bits that entered in a cycle (for the event counter).

**Double buffer** (``double_buffer=True``, ``hw.mask_double_buffer``): two banks, the shift
register being filled and a ``units``-bit keep register (``keep``) that the crossbar rows read.
A fill runs on its own from ``prefetch`` for ``rounds`` dropout cycles (``fill`` is not used),
exactly as above, so it may overlap the compute of the previous sample; ``swap`` loads the keep
register at the cycle's edge with the shift register as it is after that edge (the last bits
of a fill ending in the same cycle included); ``keep_next`` is that value in the cycle itself
(with pipelined samples a layer reads it in the cycle of its swap). A ``prefetch`` in the
cycle of a fill's last bit starts the next fill (the MTJ controllers restart in their last sense
cycle, the LFSRs draw
every cycle), so fills may run back to back. The bits drawn and their order are the same as
without the double buffer.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.geometry import mask_cycles
from hdl.ir import DropoutSpec
from hdl.mapping import LFSR_STEP_CYCLES, MTJDriver
from hdl.rtl.component import CheckedComponent
from hdl.rtl.dropout import DropoutModuleController, LFSRDropoutSource, dac_setting
from hdl.rtl.lif import RTLError

__all__ = ["MaskFill", "mtj_signature"]


def mtj_signature(code_bits: int) -> wiring.Signature:
    """The port list of one analog MTJ dropout module, seen from the digital side.

    ``reset`` (AP -> P), ``write`` (the stochastic write pulse) with the DAC code ``current``
    during it, ``sense`` (read strobe); ``state`` is the sensed state (1 = AP = drop), sampled
    at the clock edge ending the last sense cycle
    (:class:`~hdl.rtl.dropout.DropoutModuleController`).
    """
    return wiring.Signature(
        {
            "reset": Out(1),
            "write": Out(1),
            "current": Out(code_bits),
            "sense": Out(1),
            "state": In(1),
        }
    )


class MaskFill(CheckedComponent):
    """The keep mask of one edge and its dropout sources (see the module doc).

    Args:
        spec: the edge's dropout spec.
        units: mask bits per sample.
        edge, edges: the edge's index among the network's edges with dropout, and their number
            (they place the LFSR streams, :func:`hdl.lfsr.module_offsets`).
        driver: the MTJ drive sequence (``mtj`` source).
        clock_mhz: the clock [MHz] (``mtj`` phase lengths).
        code_bits: the write driver's DAC resolution (``mtj``).
        double_buffer: a second bank (the keep register) loaded by ``swap``; fills run on
            their own from ``prefetch`` (see the module doc).

    Ports:
        prefetch: In(1); fill: In(1); swap: In(1) (``double_buffer`` only); keep: Out(units);
        drops: Out(range(modules + 1));
        ``mtj``: an array of ``modules`` module ports (``mtj`` source only).
    """

    @classmethod
    def _check(
        cls,
        spec: DropoutSpec,
        units: int,
        *,
        edge: int = 0,
        edges: int = 1,
        driver: MTJDriver | None = None,
        clock_mhz: float = 200.0,
        code_bits: int = 8,
        double_buffer: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(double_buffer, bool):
            raise RTLError(f"double_buffer must be True or False, got {double_buffer!r}")
        if not isinstance(spec, DropoutSpec):
            raise RTLError(f"spec must be an hdl.ir.DropoutSpec, not {type(spec).__name__}")
        units = check_int(units, "units", 1, error=RTLError)
        driver = MTJDriver() if driver is None else driver
        p: dict[str, Any] = {
            "spec": spec,
            "units": units,
            "modules": spec.modules,
            "rounds": mask_cycles(units, spec.modules),
            "edge": edge,
            "edges": edges,
            "driver": driver,
            "clock_mhz": float(clock_mhz),
            "code_bits": code_bits,
            "double_buffer": double_buffer,
            "setting": None,
            "cycles_per_dropout": LFSR_STEP_CYCLES,
        }
        if spec.source == "mtj":
            try:
                p["setting"] = dac_setting(spec.p, driver, p["clock_mhz"], code_bits)
            except ValueError as err:
                raise RTLError(f"dropout p = {spec.p}: {err}") from err
            p["phases"] = driver.phase_cycles(p["clock_mhz"])
            p["cycles_per_dropout"] = sum(p["phases"])
        return p

    def __init__(self, *args: Any, **params: Any) -> None:  # checked by _check
        ports: dict[str, Any] = {
            "prefetch": In(1),
            "fill": In(1),
            "keep": Out(self.units),
            "drops": Out(range(self.modules + 1)),
        }
        if self.double_buffer:
            ports["swap"] = In(1)
            ports["keep_next"] = Out(self.units)
        if self.spec.source == "mtj":
            ports["mtj"] = Out(mtj_signature(self.code_bits)).array(self.modules)
        super().__init__(ports)

    @property
    def fill_cycles(self) -> int:
        """Cycles of the fill step this mask needs: ``rounds · cycles_per_dropout``."""
        return self.rounds * self.cycles_per_dropout

    def module_units(self, module: int) -> int:
        """Units module ``module`` fills per mask: ``ceil((units - module) / modules)``."""
        return len(range(module, self.units, self.modules))

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        M, rounds = self.modules, self.rounds
        width = rounds * M
        shift = Signal(width, init=(1 << width) - 1)
        double = self.double_buffer
        # dropout cycles finished in this fill (double buffer: ``rounds`` = no fill running)
        done = Signal(range(rounds + 1), init=rounds if double else 0)
        if not double:
            m.d.comb += self.keep.eq(shift[: self.units])
            with m.If(self.prefetch):
                m.d.sync += done.eq(0)
        running = Signal()  # a fill is under way in this cycle
        m.d.comb += running.eq(done < rounds if double else self.fill)
        last_round = Signal()
        m.d.comb += last_round.eq(done == rounds - 1)
        take = Signal()  # M new bits enter the mask at this cycle's edge
        if self.spec.source == "lfsr":
            src = LFSRDropoutSource(self.spec, self.edge, self.edges)
            m.submodules.lfsr = src
            m.d.comb += [
                take.eq(running & (done < rounds)),
                src.draw.eq(self.prefetch | (running & (done < rounds - 1))),
            ]
            new = ~src.bits
        else:
            r, w, s = self.phases
            ctrls = []
            for k in range(M):
                ctrl = DropoutModuleController(
                    reset_cycles=r,
                    write_cycles=w,
                    sense_cycles=s,
                    current_code=self.setting.code,
                    code_bits=self.code_bits,
                )
                m.submodules[f"module{k}"] = ctrl
                ctrls.append(ctrl)
                port = self.mtj[k]
                m.d.comb += [
                    port.reset.eq(ctrl.mtj_reset),
                    port.write.eq(ctrl.mtj_write),
                    port.current.eq(ctrl.mtj_current),
                    port.sense.eq(ctrl.mtj_sense),
                    ctrl.mtj_state.eq(port.state),
                ]
                owned = self.module_units(k)
                if owned:  # restart in the latch cycle while the module owns more units
                    again = running & ctrl.latch & (done + 1 < owned)
                    m.d.comb += ctrl.start.eq(self.prefetch | again)
            # module 0 owns a unit in every round; the others run in lockstep with it
            m.d.comb += take.eq(running & ctrls[0].latch)
            new = ~Cat(*(c.mtj_state for c in ctrls))
        with m.If(take):
            m.d.sync += [shift.eq(Cat(shift[M:], new)), done.eq(done + 1)]
        if double:
            with m.If(self.prefetch):  # after take: a fill starting at the last bit's edge
                m.d.sync += done.eq(0)
            keep = Signal(self.units, init=(1 << self.units) - 1)  # the second bank
            after = Signal(width)  # the shift register after this cycle's edge
            m.d.comb += [after.eq(Mux(take, Cat(shift[M:], new), shift)), self.keep.eq(keep)]
            m.d.comb += self.keep_next.eq(after[: self.units])
            with m.If(self.swap):
                m.d.sync += keep.eq(after[: self.units])
        m.d.comb += self.drops.eq(Mux(take, Mux(last_round, self.units - (rounds - 1) * M, M), 0))
        return m
