"""The controller that runs the static schedule of :mod:`hdl.mapping`, cycle for cycle.

For each Monte-Carlo sample of a ``start``: the dropout-mask fill (``fill_cycles``), then per
timestep the input encoding (``encode_cycles``, rate coding) and per layer, per output position,
one read step per bit-plane (``plane_cycles[b]`` cycles) and the update step
(``update_cycles``) -- exactly the steps of :meth:`hdl.mapping.Schedule.iter_steps` with their
start cycles and lengths (a test replays that list against the controller's outputs). Nothing
is data-dependent: the FSM counts cycles.

**Overlapped reads** (``hw.overlap_reads``): a layer with weighted edges runs in one state
``L<i>_RUN`` with two sequencers. The read side issues plane ``b`` of position ``p`` at cycle
``p · q + o_b`` of the layer (``q = position_period``, ``o_b = read_offsets[b]``), each read
step ``read_step_cycles[b]`` cycles (the ADC sampling window) with ``reading`` high, and is idle
for the rest of a period; it advances ``oy``, ``ox`` and ``plane``. The update side waits
``sum_cycles`` cycles from the layer's start, updates position 0 (``update_cycles`` cycles),
then every ``q`` cycles the next position; it advances ``pos``, ``group`` and ``lif_group``, so
``pos`` is the position being updated and ``oy · W + ox`` the one being read. ``latch[i]`` is
high in the cycle before each update (the position's sum is final in it): the accelerator
copies the position's currents then. The layer ends with its last update:
``(P - 1) · q + sum_cycles + update_cycles`` cycles.

**Pipelined layers** (``hw.pipeline_layers``): the layers' states above run in one FSM per
layer (``seq_l<i>``, the layer's own :class:`Sequencer` of counters, and its own read and
update registers), and for rate coding the encoder is a stage of its own (a cycle counter).
Per stage ``k`` a register ``fin`` counts the items it finished in the sample (it is the
stage's ``t``), ``run`` says an item is in progress, and ``go = run | ready`` enables the
stage's sequencer, ``ready`` being the three conditions of :mod:`hdl.mapping` on the ``fin``
registers in the same cycle: the sample computing (state ``COMPUTE``), ``fin_k < T``, ``fin_p >
fin_k`` for every stage ``p`` it reads and ``fin_j + 1 >= fin_k`` for every stage ``j``
reading it (the bank it writes is free). An item thus starts in the cycle after the last
cycle of the item it waited for, as the recurrence says. The sample ends in the cycle in which
the last item ends (every ``fin`` at ``T``, or at ``T - 1`` with the stage's item ending); the
``fin`` registers return to 0 at its edge.

**Streamed timesteps** (pipelined layers and overlapped reads, T > 1, a layer with weighted edges:
:meth:`hdl.mapping.Mapping.streams`): the layer has no FSM. Its read side is the stage's item,
``ready`` taken on its own timestep ``rt`` (``Sequencer.rt``; ``t`` elsewhere) and on the
previous item's reads being done: one position every ``q`` cycles, so item ``t + 1``'s reads
begin ``P · q`` cycles after item ``t``'s, as :mod:`hdl.mapping` schedules. Every position's
first read loads one of ``LayerMap.latch_timers`` timers (round robin) with ``R - 1``;
``latch`` is high when one reaches 1 and the update side updates that position in the next
``G`` cycles, stepping ``pos``, ``group``, ``lif_group`` and after the last position ``t``
(the stage's ``fin``, so ``first = (t == 0)`` is the updates'). The shared ``t``, ``pos``, ...
ports are then absent:
:attr:`ScheduleController.seqs` gives every layer's counters in both modes, and
``encode_t`` the encoder's timestep.

**Pipelined samples** (:attr:`hdl.mapping.Mapping.samples_pipelined`): the stages run the items
``u = m · T + t`` of all samples of a ``start``. Per stage ``u`` (the sequencer's ``u``, and
``ru`` for the reads of a streamed layer, which every layer with reads is, also for ``T = 1``)
counts its items over the samples (``samples · T`` in all, ``SAMPLES_BITS + bits(T)`` bits) and
``t`` (``rt``) wraps at ``T``, so ``first = (t == 0)`` resets the membranes at every sample and
the spike banks are ``u mod 2``; the conditions compare the ``u`` counters. A layer with dropout
raises ``swap_l[i]`` in the first cycle of its first item of a sample (its keep registers load
at that edge, its reads in that cycle take the fill banks' bits) and, but for the last sample,
``prefetch_l[i]``: its edges' next fill starts and a counter of ``F_l`` cycles
(:func:`hdl.mapping.layer_fill_cycles`) holds its next sample's first item until the masks are
in. The output layer's first item of a sample waits for its previous item and for its previous
sample's emit: ``emit`` is high in the cycle after the output layer's last update of every sample
but the last (its outputs are final then, and not yet overwritten); while ``hold`` is high then,
the emit is owed and comes in the cycle after ``hold`` falls. The last sample is emitted with
``emit_last`` when every stage has finished, as above. Only the first sample has a ``FILL``
step; ``busy`` lasts ``Schedule.cycles`` when ``hold`` stays low.

**Outputs** (combinational unless said): ``fill`` / ``encode`` during those steps; ``read[i]``
in the first cycle of a read step of layer ``i`` and ``reading[i]`` in all its cycles;
``update[i]`` in its update cycles; ``latch[i]`` (overlapped reads, above); the registers ``t``
(timestep), ``pos`` (output position ``oy · W + ox``; with overlapped reads the updated one),
``oy``, ``ox``, ``plane``, ``group`` (update cycle within the position,
``0 .. update_cycles - 1``) and ``lif_group = pos · update_cycles + group`` (the LIF array's
word); ``first = (t == 0)``. ``prefetch`` is high in the cycle before each fill step (the
``start`` cycle, or the last cycle of the previous sample), so dropout sources with a start
latency of one cycle finish within the fill step.

**Double-buffered masks** (``hw.mask_double_buffer``): only the first sample has a ``FILL``
step. ``swap`` is high in the last cycle before each sample's compute (the last fill or wait
cycle, or the previous sample's last cycle): the masks just filled become the keep masks at its
edge. ``prefetch`` comes with ``swap`` while a later sample still needs masks, so the fill of
sample ``m + 1`` runs while sample ``m`` computes. A counter ``pending`` (loaded with
``F = fill_cycles`` at ``prefetch``, counting down) says when that fill is done: the last bit
enters at the edge of the cycle with ``pending == 1``. A sample that ends earlier waits in
``WAIT`` (``fill`` high) for ``F - C`` cycles (``C = compute_cycles``; fewer, or none, after a
stall of ``hold``, the fill running on): ``F + (S - 1) · max(C, F) + C`` busy cycles for ``S``
samples.

**Handshake.** ``start`` is taken while ``busy`` is low (``taken`` says so in that cycle);
``busy`` is high from the next cycle for exactly ``Schedule.cycles`` cycles when ``hold`` stays
low (``samples · cycles_per_sample`` with one mask bank). ``emit`` is a one-cycle registered
pulse in the cycle after each sample's last cycle (the outputs are final then), ``emit_last``
with it after the last sample. While ``hold`` is high at the end of a sample (the previous
sample's result not yet taken), the controller waits in a stall state before emitting.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from hdl.mapping import LayerMap, Mapping, layer_fill_cycles, stage_links
from hdl.rtl.component import CheckedComponent
from hdl.rtl.lif import RTLError

__all__ = ["SAMPLES_BITS", "ScheduleController", "Sequencer"]

SAMPLES_BITS = 16
"""Width of the ``samples`` port: up to 65,535 Monte-Carlo samples per ``start``."""


def _hw_of(lm: LayerMap) -> tuple[int, int]:
    """``(H, W)`` of a layer's output positions (``(1, 1)`` for a flat layer)."""
    if len(lm.out_shape) == 3:
        return int(lm.out_shape[1]), int(lm.out_shape[2])
    return 1, 1


def _size(n: int) -> range:
    """A counter range for values ``0 .. n - 1`` (at least one bit)."""
    return range(max(2, n))


@dataclass(frozen=True)
class Sequencer:
    """The counters of one layer's steps (module doc): shared by all layers when they run one
    after another, the layer's own with ``hw.pipeline_layers``."""

    t: Signal
    first: Signal
    pos: Signal
    oy: Signal
    ox: Signal
    plane: Signal
    group: Signal
    lif_group: Signal
    #: the reads' timestep: ``t`` itself unless the layer's timesteps stream (module doc)
    rt: Signal
    #: the updates' item ``u = m * T + t`` over the samples of a ``start`` with pipelined
    #: samples (its bit 0 the spike bank), else ``t``
    u: Signal
    #: the reads' item: ``u`` itself unless the layer's timesteps stream
    ru: Signal


@dataclass(frozen=True)
class _RunRegs:
    """The overlapped-read sequencers' registers (``L<i>_RUN``)."""

    rc: Signal
    rdone: Signal
    uwait: Signal
    updating: Signal
    ustarted: Signal

    @classmethod
    def make(cls, layers: Any, suffix: str) -> _RunRegs:
        periods = [lm.position_period for lm in layers]
        waits = [max(lm.sum_cycles, lm.position_period - lm.update_cycles) for lm in layers]
        return cls(
            rc=Signal(range(max(periods, default=1) + 1), name=f"rc{suffix}"),
            rdone=Signal(name=f"rdone{suffix}"),
            uwait=Signal(range(max(waits, default=1) + 1), name=f"uwait{suffix}"),
            updating=Signal(name=f"updating{suffix}"),
            ustarted=Signal(name=f"ustarted{suffix}"),
        )


class ScheduleController(CheckedComponent):
    """The schedule's FSM for ``mapping`` (see the module doc)."""

    @classmethod
    def _check(cls, mapping: Mapping) -> dict[str, Any]:
        if not isinstance(mapping, Mapping):
            raise RTLError(f"mapping must be an hdl.mapping.Mapping, not {type(mapping).__name__}")
        return {"mapping": mapping}

    def __init__(self, mapping: Mapping) -> None:
        layers = mapping.layers
        n = len(layers)
        self.max_step = max(
            [max(lm.read_step_cycles, default=1) for lm in layers]
            + [mapping.fill_cycles, mapping.encode_cycles, 1]
        )
        #: overlapped reads: the layers run by the read and update sequencers (L<i>_RUN)
        self.runs = tuple(mapping.hw.overlap_reads and bool(lm.read_step_cycles) for lm in layers)
        #: pipelined layers: one sequencer per layer (module doc)
        self.pipelined = bool(mapping.item_starts)
        #: pipelined samples (module doc): the items run over the samples
        self.psamp = mapping.samples_pipelined
        #: width of an item counter over all samples of a start
        T = mapping.timesteps
        self.item_bits = SAMPLES_BITS + T.bit_length() if self.psamp else 0
        shared = (
            {}
            if self.pipelined
            else {
                "t": Out(_size(T)),
                "first": Out(1),
                "pos": Out(_size(max(lm.positions for lm in layers))),
                "oy": Out(_size(max(_hw_of(lm)[0] for lm in layers))),
                "ox": Out(_size(max(_hw_of(lm)[1] for lm in layers))),
                "plane": Out(_size(max(len(lm.plane_cycles) for lm in layers))),
                "group": Out(_size(max(lm.update_cycles for lm in layers))),
                "lif_group": Out(_size(max(lm.positions * lm.update_cycles for lm in layers))),
            }
        )
        super().__init__(
            {
                "start": In(1),
                "samples": In(SAMPLES_BITS),
                "hold": In(1),
                "taken": Out(1),
                "busy": Out(1),
                "emit": Out(1),
                "emit_last": Out(1),
                "prefetch": Out(1),
                "swap": Out(1),
                "fill": Out(1),
                "encode": Out(1),
                "read": Out(n),
                "reading": Out(n),
                "update": Out(n),
                "latch": Out(n),
                **({"swap_l": Out(n), "prefetch_l": Out(n)} if self.psamp else {}),
                **shared,
            }
        )
        #: streamed timesteps (pipelined layers and overlapped reads): the layers whose reads
        #: and updates run on their own timesteps (module doc)
        self.streams = tuple(mapping.streams(lm) for lm in layers)
        if self.pipelined:
            #: per layer its sequencer; ``t`` counts the items it finished in the sample
            self.seqs = tuple(
                _own_sequencer(lm, i, T, stream, self.item_bits)
                for i, (lm, stream) in enumerate(zip(layers, self.streams, strict=True))
            )
            #: the encoder's timestep (rate coding)
            self.encode_t = Signal(range(T + 1), name="t_enc")
            #: the encoder's item (pipelined samples; else its timestep)
            self.encode_u = Signal(self.item_bits, name="u_enc") if self.psamp else self.encode_t
        else:
            shared_seq = Sequencer(
                self.t,
                self.first,
                self.pos,
                self.oy,
                self.ox,
                self.plane,
                self.group,
                self.lif_group,
                self.t,
                self.t,
                self.t,
            )
            self.seqs = (shared_seq,) * n
            self.encode_t = self.t
            self.encode_u = self.t

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        mp = self.mapping
        T = mp.timesteps
        layers = mp.layers
        pipe = self.pipelined
        cyc = Signal(range(self.max_step + 1))
        samples_left = Signal(SAMPLES_BITS)
        has_fill = mp.fill_cycles > 0
        double = has_fill and mp.hw.mask_double_buffer
        has_encode = mp.encode_cycles > 0
        pending = Signal(range(mp.fill_cycles + 1))  # background fill cycles left (double)
        if double:
            with m.If(pending != 0):
                m.d.sync += pending.eq(pending - 1)
        for sq in self.seqs[:1] if not pipe else self.seqs:
            m.d.comb += sq.first.eq(sq.t == 0)
        m.d.sync += [self.emit.eq(0), self.emit_last.eq(0)]
        # the read and update sequencers' registers: shared by the layers run one after
        # another, one set per layer when the layers are pipelined
        ran = [lm for lm, run in zip(layers, self.runs, strict=True) if run]
        if pipe:
            regs = [
                _RunRegs.make([lm] if run else [], f"_l{i}")
                for i, (lm, run) in enumerate(zip(layers, self.runs, strict=True))
            ]
        else:
            regs = [_RunRegs.make(ran, "")] * len(layers)
        step = [
            cyc
            if not pipe
            else Signal(_size(max(lm.read_step_cycles, default=1) + 1), name=f"cyc_l{i}")
            for i, lm in enumerate(layers)
        ]

        def layer_entry(i: int) -> str:
            if self.runs[i]:
                return f"L{i}_RUN"
            return f"L{i}_READ" if layers[i].plane_cycles else f"L{i}_UPDATE"

        def timestep_entry() -> str:
            if pipe:
                return "COMPUTE"
            return "ENCODE" if has_encode else layer_entry(0)

        def sample_entry() -> str:
            return "FILL" if has_fill else timestep_entry()

        def begin_compute(more: Any) -> None:
            """Double buffer: the filled masks become the keep masks at this cycle's edge, and
            the next sample's fill starts now if ``more`` (a later sample needs masks)."""
            m.d.comb += self.swap.eq(1)
            with m.If(more):
                m.d.comb += self.prefetch.eq(1)
                m.d.sync += pending.eq(mp.fill_cycles)
            m.next = timestep_entry()

        def finish_sample() -> None:
            m.d.sync += [self.emit.eq(1), samples_left.eq(samples_left - 1)]
            if self.psamp:  # the last sample (the others are emitted while computing)
                m.d.sync += [self.busy.eq(0), self.emit_last.eq(1)]
                m.next = "IDLE"
                return
            with m.If(samples_left == 1):
                m.d.sync += [self.busy.eq(0), self.emit_last.eq(1)]
                m.next = "IDLE"
            with m.Else():
                if double:  # the next sample's masks are done at this edge, or it waits
                    with m.If(pending <= 1):
                        begin_compute(samples_left >= 3)
                    with m.Else():
                        m.next = "WAIT"
                else:
                    if has_fill:  # this cycle is the next fill's prefetch cycle
                        m.d.comb += self.prefetch.eq(1)
                    m.next = sample_entry()

        def end_sample() -> None:
            with m.If(self.hold):
                m.next = "STALL"
            with m.Else():
                finish_sample()

        def serial_done(i: int) -> None:
            """The last cycle of layer ``i`` in this timestep (one after another): on to the
            next layer, timestep or sample."""
            t = self.t
            if i + 1 < len(layers):
                m.next = layer_entry(i + 1)
            else:
                with m.If(t != T - 1):
                    m.d.sync += t.eq(t + 1)
                    m.next = timestep_entry()
                with m.Else():  # the sample is done
                    m.d.sync += t.eq(0)
                    end_sample()

        last = [Signal(name=f"last_l{i}") for i in range(len(layers))]

        def pipe_done(i: int) -> None:
            """The last cycle of layer ``i``'s item (pipelined): back to its entry state."""
            m.d.comb += last[i].eq(1)
            m.next = layer_entry(i)

        done_cb = pipe_done if pipe else serial_done

        def layer_done(i: int) -> None:
            sq = self.seqs[i]
            m.d.sync += [sq.group.eq(0), sq.pos.eq(0), sq.oy.eq(0), sq.ox.eq(0)]
            m.d.sync += sq.lif_group.eq(0)
            done_cb(i)

        def run_layer(i: int, lm: LayerMap) -> None:
            """``L<i>_RUN``: the read and update sequencers of an overlapped layer (module
            doc); every register they use is 0 when the state is entered."""
            sq, rg = self.seqs[i], regs[i]
            pos, oy, ox, plane = sq.pos, sq.oy, sq.ox, sq.plane
            group, lif_group = sq.group, sq.lif_group
            rc, rdone, uwait, updating, ustarted = (
                rg.rc,
                rg.rdone,
                rg.uwait,
                rg.updating,
                rg.ustarted,
            )
            height, width = _hw_of(lm)
            q, G, P = lm.position_period, lm.update_cycles, lm.positions
            offsets, span = lm.read_offsets, sum(lm.read_step_cycles)
            with m.State(f"L{i}_RUN"):
                # read side: period counter rc, plane b's read at rc == o_b
                strobe = reduce(operator.or_, (rc == o for o in offsets))
                m.d.comb += [
                    self.reading[i].eq(~rdone & (rc < span)),
                    self.read[i].eq(~rdone & strobe),
                ]
                with m.If(~rdone):
                    with m.If(rc == q - 1):
                        m.d.sync += [rc.eq(0), plane.eq(0)]
                        end = (oy == height - 1) & (ox == width - 1)
                        with m.If(end):
                            m.d.sync += [rdone.eq(1), oy.eq(0), ox.eq(0)]
                        with m.Elif(ox == width - 1):
                            m.d.sync += [ox.eq(0), oy.eq(oy + 1)]
                        with m.Else():
                            m.d.sync += ox.eq(ox + 1)
                    with m.Else():
                        m.d.sync += rc.eq(rc + 1)
                        for b in range(1, len(offsets)):
                            with m.If(rc == offsets[b] - 1):
                                m.d.sync += plane.eq(b)
                # update side: wait sum_cycles, then an update every q cycles
                with m.If(~updating):
                    target = Mux(ustarted, q - G, lm.sum_cycles) if q > G else lm.sum_cycles
                    with m.If(uwait == target - 1):
                        m.d.comb += self.latch[i].eq(1)
                        m.d.sync += [updating.eq(1), uwait.eq(0)]
                    with m.Else():
                        m.d.sync += uwait.eq(uwait + 1)
                with m.Else():
                    m.d.comb += self.update[i].eq(1)
                    m.d.sync += lif_group.eq(lif_group + 1)
                    with m.If(group != G - 1):
                        m.d.sync += group.eq(group + 1)
                    with m.Elif(pos != P - 1):  # the next position's update
                        m.d.sync += [group.eq(0), pos.eq(pos + 1), ustarted.eq(1)]
                        if q == G:  # it starts at once: its sum is final now
                            m.d.comb += self.latch[i].eq(1)
                        else:
                            m.d.sync += updating.eq(0)
                    with m.Else():  # the layer is done: both sides back to 0
                        m.d.sync += [
                            rc.eq(0),
                            rdone.eq(0),
                            plane.eq(0),
                            updating.eq(0),
                            ustarted.eq(0),
                        ]
                        layer_done(i)

        def step_layer(i: int, lm: LayerMap) -> None:
            """``L<i>_READ`` / ``L<i>_UPDATE``: the steps of a layer one after another."""
            sq, c = self.seqs[i], step[i]
            _, width = _hw_of(lm)
            planes = len(lm.plane_cycles)
            if planes:
                with m.State(f"L{i}_READ"):
                    m.d.comb += [self.reading[i].eq(1), self.read[i].eq(c == 0)]
                    last_cycle = Signal(name=f"read_last_l{i}")
                    with m.Switch(sq.plane):
                        for b, cycles in enumerate(lm.read_step_cycles):
                            with m.Case(b):
                                m.d.comb += last_cycle.eq(c == cycles - 1)
                    with m.If(last_cycle):
                        m.d.sync += c.eq(0)
                        with m.If(sq.plane == planes - 1):
                            m.d.sync += sq.plane.eq(0)
                            m.next = f"L{i}_UPDATE"
                        with m.Else():
                            m.d.sync += sq.plane.eq(sq.plane + 1)
                    with m.Else():
                        m.d.sync += c.eq(c + 1)
            with m.State(f"L{i}_UPDATE"):
                m.d.comb += self.update[i].eq(1)
                m.d.sync += sq.lif_group.eq(sq.lif_group + 1)
                with m.If(sq.group != lm.update_cycles - 1):
                    m.d.sync += sq.group.eq(sq.group + 1)
                with m.Elif(sq.pos != lm.positions - 1):  # next position of this layer
                    m.d.sync += [sq.group.eq(0), sq.pos.eq(sq.pos + 1)]
                    with m.If(sq.ox == width - 1):
                        m.d.sync += [sq.ox.eq(0), sq.oy.eq(sq.oy + 1)]
                    with m.Else():
                        m.d.sync += sq.ox.eq(sq.ox + 1)
                    m.next = layer_entry(i)
                with m.Else():  # the layer is done for this timestep
                    layer_done(i)

        def layer_states(i: int, lm: LayerMap) -> None:
            if self.runs[i]:
                run_layer(i, lm)
            else:
                step_layer(i, lm)

        def count(limit: int, then: str) -> None:
            with m.If(cyc == limit - 1):
                m.d.sync += cyc.eq(0)
                m.next = then
            with m.Else():
                m.d.sync += cyc.eq(cyc + 1)

        computing = Signal()  # pipelined: the sample's items may run in this cycle
        all_done = Signal()  # pipelined: the last item of the sample ends in this cycle
        self._total = Signal(max(1, self.item_bits), name="items")  # pipelined samples: S * T
        if pipe:
            self._pipeline(m, computing, all_done, last, layer_states, layer_entry)

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(self.start & (self.samples != 0)):
                    m.d.comb += self.taken.eq(1)
                    m.d.sync += [samples_left.eq(self.samples), cyc.eq(0), self.busy.eq(1)]
                    if self.psamp:
                        m.d.sync += self._total.eq(self.samples * T)
                    if not pipe:
                        sq = self.seqs[0]
                        m.d.sync += [self.t.eq(0), sq.pos.eq(0), sq.oy.eq(0), sq.ox.eq(0)]
                        m.d.sync += [sq.plane.eq(0), sq.group.eq(0), sq.lif_group.eq(0)]
                    if has_fill:
                        m.d.comb += self.prefetch.eq(1)
                    m.next = sample_entry()
            if has_fill:
                with m.State("FILL"):
                    m.d.comb += self.fill.eq(1)
                    if self.psamp:  # the first sample's fill; the layers swap on their own
                        count(mp.fill_cycles, timestep_entry())
                    elif double:  # the first sample's fill; the others run in the background
                        with m.If(cyc == mp.fill_cycles - 1):
                            m.d.sync += cyc.eq(0)
                            begin_compute(samples_left >= 2)
                        with m.Else():
                            m.d.sync += cyc.eq(cyc + 1)
                    else:
                        count(mp.fill_cycles, timestep_entry())
            if double and not self.psamp:
                with m.State("WAIT"):  # the fill of this sample is not done yet
                    m.d.comb += self.fill.eq(1)
                    with m.If(pending <= 1):
                        begin_compute(samples_left >= 2)
            if pipe:
                with m.State("COMPUTE"):
                    m.d.comb += computing.eq(1)
                    with m.If(all_done):
                        end_sample()
            else:
                if has_encode:
                    with m.State("ENCODE"):
                        m.d.comb += self.encode.eq(1)
                        count(mp.encode_cycles, layer_entry(0))
                for i, lm in enumerate(layers):
                    layer_states(i, lm)
            with m.State("STALL"):  # the previous sample's result has not been taken yet
                with m.If(~self.hold):
                    finish_sample()
        return m

    def _pipeline(
        self,
        m: Module,
        computing: Signal,
        all_done: Signal,
        last: list[Signal],
        layer_states: Any,
        layer_entry: Any,
    ) -> None:
        """Pipelined layers (module doc): per stage its items' counter ``fin`` (its ``t``),
        ``run`` (an item in progress) and ``go`` (the item runs in this cycle: in progress, or
        its three conditions hold), and the stage's own sequencer, enabled by ``go``."""
        mp = self.mapping
        T = mp.timesteps
        rate = mp.encode_cycles > 0
        producers, consumers = stage_links(mp.layers, rate)
        # the stages' items finished (their ``u``: the timestep ``t`` within a sample, or over
        # all samples with pipelined samples) and their update side's timesteps
        fins = ([self.encode_u] if rate else []) + [sq.u for sq in self.seqs]
        tsteps = ([self.encode_t] if rate else []) + [sq.t for sq in self.seqs]
        ends: list[Any] = []
        go = [Signal(name=f"go_s{k}") for k in range(len(fins))]
        base = 1 if rate else 0
        runs: list[Signal] = []
        psamp = self.psamp
        limit = self._total if psamp else T
        out = len(fins) - 1
        owe = Signal(name="emit_owed")  # pipelined samples: a sample's outputs not yet emitted
        swaps: list[tuple[int, Any]] = []
        prefetches: list[tuple[int, Any]] = []
        for k, fin in enumerate(fins):
            run = Signal(name=f"run_s{k}")
            # the item: a streamed layer's next reads (its read side's own ``ru``)
            item = fin if k < base else self.seqs[k - base].ru
            item_t = tsteps[k] if k < base else self.seqs[k - base].rt
            ready = computing & ~run & (item != limit)
            for p in producers[k]:  # (b) its sources have finished this item
                ready &= fins[p] > item
            ready &= self._bank_free(fins, item, consumers[k])
            if psamp:
                boundary = (item_t == 0) & (item != 0)  # a sample's first item, not the first
                fill = layer_fill_cycles(mp.layers[k - base]) if k >= base else 0
                if fill:  # (d) the layer's masks of this sample are filled (by this edge)
                    left = Signal(range(fill + 1), name=f"fill_left_l{k - base}")
                    with m.If(left != 0):
                        m.d.sync += left.eq(left - 1)
                    ready &= ~boundary | (left <= 1)
                    swap = Signal(name=f"swap_s{k}")
                    m.d.comb += swap.eq(ready & (item_t == 0))
                    swaps.append((k - base, swap))
                    # the next sample's fill starts with the swap (but for the last sample)
                    prefetch = Signal(name=f"prefetch_s{k}")
                    m.d.comb += prefetch.eq(swap & (item + T < limit))
                    prefetches.append((k - base, prefetch))
                    with m.If(prefetch):
                        m.d.sync += left.eq(fill)
                    with m.If(computing & all_done):
                        m.d.sync += left.eq(0)
                if k == out:  # the outputs of the previous sample emitted (or emitting)
                    prev = self._emitted(owe)
                    if k >= base and self.streams[k - base]:  # its previous item finished
                        prev &= fin == item
                    ready &= ~boundary | prev
            m.d.comb += go[k].eq(run | ready)
            end = Signal(name=f"end_s{k}")  # the item's last cycle
            runs.append(run)
            if k < base or not self.streams[k - base]:  # else its read side's (_stream_layer)
                with m.If(go[k]):
                    m.d.sync += run.eq(~end)
            with m.If(end):
                m.d.sync += fin.eq(fin + 1)
                if psamp:
                    t = tsteps[k]
                    m.d.sync += t.eq(Mux(t == T - 1, 0, t + 1))
            ends.append(end)
        if psamp:
            # the output layer's last item of a sample but the last: emit, or owe it (hold)
            sample_end = computing & ends[out] & (tsteps[out] == T - 1)
            with m.If(sample_end & (fins[out] + 1 != limit)):
                with m.If(self.hold):
                    m.d.sync += owe.eq(1)
                with m.Else():
                    m.d.sync += self.emit.eq(1)
            with m.Elif(owe & ~self.hold):
                m.d.sync += [self.emit.eq(1), owe.eq(0)]
            for i, sw in swaps:  # the layers with dropout load their keep registers
                m.d.comb += self.swap_l[i].eq(sw)
            for i, pf in prefetches:  # and start their next fill
                m.d.comb += self.prefetch_l[i].eq(pf)
        if rate:
            enc = Signal(_size(mp.encode_cycles), name="cyc_enc")
            m.d.comb += [self.encode.eq(go[0]), ends[0].eq(go[0] & (enc == mp.encode_cycles - 1))]
            with m.If(go[0]):
                m.d.sync += enc.eq(Mux(ends[0], 0, enc + 1))
        for i, lm in enumerate(mp.layers):
            m.d.comb += ends[base + i].eq(last[i])
            if self.streams[i]:
                self._stream_layer(m, i, lm, go[base + i], runs[base + i], last[i])
                continue
            with m.If(go[base + i]):
                with m.FSM(init=layer_entry(i), name=f"seq_l{i}"):
                    layer_states(i, lm)
        finished = [(f == limit) | (e & (f == limit - 1)) for f, e in zip(fins, ends, strict=True)]
        m.d.comb += all_done.eq(reduce(operator.and_, finished))
        with m.If(computing & all_done):  # the sample is done: every stage back to t = 0
            m.d.sync += [f.eq(0) for f in fins] + [t.eq(0) for t in tsteps]
            m.d.sync += [sq.rt.eq(0) for sq, st in zip(self.seqs, self.streams, strict=True) if st]
            m.d.sync += [sq.ru.eq(0) for sq, st in zip(self.seqs, self.streams, strict=True) if st]
            m.d.sync += owe.eq(0)

    @staticmethod
    def _emitted(owe: Signal) -> Any:
        """Pipelined samples: the output layer's previous sample is emitted (or emitting in
        this cycle), so its next sample may overwrite the outputs: no emit owed."""
        return ~owe

    def _bank_free(self, fins: list[Signal], item: Any, consumers: tuple[int, ...]) -> Any:
        """Condition (c) of a stage's next item ``t`` (``item``): the bank it writes,
        ``t mod 2``, is free, every consumer having finished item ``t - 2`` (``fin_c + 1 >=
        t``)."""
        free: Any = Const(1, 1)
        for c in consumers:
            free &= fins[c] + 1 >= item
        return free

    def _stream_layer(
        self, m: Module, i: int, lm: LayerMap, go: Any, active: Signal, end: Signal
    ) -> None:
        """A streamed layer (module doc): the read side runs item ``rt`` while ``go`` (in
        progress, or its three conditions hold), one position every ``q`` cycles; every
        position's first read loads a latch timer with ``R - 1`` (round robin over
        ``latch_timers``), ``latch`` is high when one reaches 1, and the update side updates
        the position (``G`` cycles) from the next cycle on, its own ``pos``, ``group``,
        ``lif_group`` and ``t``; ``end`` in the item's last update cycle. ``active``: the read
        side's item in progress."""
        sq = self.seqs[i]
        T = self.mapping.timesteps
        height, width = _hw_of(lm)
        q, G, P, R = lm.position_period, lm.update_cycles, lm.positions, lm.sum_cycles
        offsets, span = lm.read_offsets, sum(lm.read_step_cycles)
        K = lm.latch_timers
        rc = Signal(_size(q), name=f"rc_l{i}")
        timers = [Signal(range(R), name=f"latch_timer_l{i}_{j}") for j in range(K)]
        ptr = Signal(_size(K), name=f"latch_ptr_l{i}")
        updating = Signal(name=f"updating_l{i}")
        # read side
        with m.If(go):
            strobe = reduce(operator.or_, (rc == o for o in offsets))
            m.d.comb += [self.reading[i].eq(rc < span), self.read[i].eq(strobe)]
            m.d.sync += active.eq(1)
            with m.If(rc == q - 1):
                m.d.sync += [rc.eq(0), sq.plane.eq(0)]
                with m.If((sq.oy == height - 1) & (sq.ox == width - 1)):
                    m.d.sync += [active.eq(0), sq.oy.eq(0), sq.ox.eq(0)]
                    if self.psamp:
                        m.d.sync += [
                            sq.rt.eq(Mux(sq.rt == T - 1, 0, sq.rt + 1)),
                            sq.ru.eq(sq.ru + 1),
                        ]
                    else:
                        m.d.sync += sq.rt.eq(sq.rt + 1)
                with m.Elif(sq.ox == width - 1):
                    m.d.sync += [sq.ox.eq(0), sq.oy.eq(sq.oy + 1)]
                with m.Else():
                    m.d.sync += sq.ox.eq(sq.ox + 1)
            with m.Else():
                m.d.sync += rc.eq(rc + 1)
                for b in range(1, len(offsets)):
                    with m.If(rc == offsets[b] - 1):
                        m.d.sync += sq.plane.eq(b)
        # latch timers: a position's currents are final R - 1 cycles after its first read
        for j, timer in enumerate(timers):
            with m.If(go & (rc == 0) & (ptr == j)):
                m.d.sync += timer.eq(R - 1)
            with m.Elif(timer != 0):
                m.d.sync += timer.eq(timer - 1)
        if K > 1:
            with m.If(go & (rc == 0)):
                m.d.sync += ptr.eq(Mux(ptr == K - 1, 0, ptr + 1))
        latch = reduce(operator.or_, (timer == 1 for timer in timers))
        m.d.comb += self.latch[i].eq(latch)
        # update side
        m.d.sync += updating.eq(latch)
        with m.If(updating):
            m.d.comb += self.update[i].eq(1)
            m.d.sync += sq.lif_group.eq(sq.lif_group + 1)
            with m.If(sq.group != G - 1):
                m.d.sync += [sq.group.eq(sq.group + 1), updating.eq(1)]
            with m.Else():
                m.d.sync += sq.group.eq(0)
                with m.If(sq.pos != P - 1):
                    m.d.sync += sq.pos.eq(sq.pos + 1)
                with m.Else():  # the item's last update
                    m.d.comb += end.eq(1)
                    m.d.sync += [sq.pos.eq(0), sq.lif_group.eq(0)]


def _own_sequencer(lm: LayerMap, i: int, T: int, stream: bool, item_bits: int) -> Sequencer:
    """Layer ``i``'s own counters (pipelined layers); ``t`` (and ``rt``) hold ``0 .. T``; with
    pipelined samples (``item_bits``) the items ``u`` (and ``ru``) too."""
    h, w = _hw_of(lm)
    t = Signal(range(T + 1), name=f"t_l{i}")
    rt = Signal(range(T + 1), name=f"rt_l{i}") if stream else t
    u = Signal(item_bits, name=f"u_l{i}") if item_bits else t
    ru = Signal(item_bits, name=f"ru_l{i}") if item_bits and stream else (u if item_bits else rt)
    return Sequencer(
        u=u,
        ru=ru,
        rt=rt,
        t=t,
        first=Signal(name=f"first_l{i}"),
        pos=Signal(_size(lm.positions), name=f"pos_l{i}"),
        oy=Signal(_size(h), name=f"oy_l{i}"),
        ox=Signal(_size(w), name=f"ox_l{i}"),
        plane=Signal(_size(len(lm.plane_cycles)), name=f"plane_l{i}"),
        group=Signal(_size(lm.update_cycles), name=f"group_l{i}"),
        lif_group=Signal(_size(lm.positions * lm.update_cycles), name=f"lif_group_l{i}"),
    )
