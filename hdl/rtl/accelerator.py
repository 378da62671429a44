"""The whole accelerator: the digital controller and peripherals of a network on crossbar tiles.

:class:`Accelerator` generates, for any trained network of the IR (:mod:`hdl.ir`) and hardware
configuration, the digital logic that runs :func:`hdl.mapping.schedule` cycle for cycle and
computes bit for bit what :func:`hdl.golden.run` computes. The analog parts stay outside as
black boxes with packed-bus ports: one crossbar macro per tile (word lines out, ADC codes in)
and, for MTJ dropout, one port per physical dropout module (reset, write pulse with a DAC
current code, sense, sensed state in). Weights live only in the macros (programmed out of band
from :func:`tile_cells`); the logic holds thresholds, biases and the schedule, and grows with
tiles, LIF units and buffer depth, not with the number of weights.

**Blocks.**

* spike buffers: the input (pixels of ``input.bits`` bits for ``direct`` coding, or one spike
  per pixel for ``rate`` coding) and every layer's output spikes of the current timestep, in
  the IR's C-order flattening ``(c·H + y)·W + x``;
* word lines: per weighted edge the rows of the current output position -- the convolution
  window in ``(c, ky, kx)`` order, zero outside the map, or the whole source for ``linear`` --
  bit-plane ``b`` of the pixels for an edge reading the direct input, gated by the edge's keep
  mask (``channel`` granularity: one bit per input channel), split into the row tiles; with
  ``hw.input_dac_bits = d > 1`` digit-plane ``b`` instead, ``d`` bits per row (row ``r``'s digit
  ``(x >> (b·d)) & (2^d - 1)`` at bits ``r·d ..`` of the macros' ``wl_en``, a convolution
  window per digit bit, a dropped row gating all ``d`` bits of its digit);
* accumulation: per edge and output channel ``z += 2^(b·d) Σ_tiles Σ_j 2^(j·cell_bits) (code⁺_j -
  code⁻_j)`` (``d = 1`` for spikes and bit-planes), one conversion of the tiles' ADCs at a
  time, as their codes arrive (:class:`~hdl.rtl.accumulate.EdgeAccumulator`; the golden
  model's ADC clamp per tile is the macro's); the current ``I = Σ_edges z + bias + skip`` is
  formed in the update cycles;
* LIF units: one :class:`~hdl.rtl.lif_array.LIFArray` of ``hw.lif_units`` units per layer with
  neurons, time-multiplexed over the ``C`` channels of a position and over the positions
  (membranes of every neuron in its memory); their combinational spikes are written into the
  layer's buffer at the update's own clock edge; the output layer without neurons is the
  output accumulator ``y += I`` (decoding ``membrane``), a layer with neurons at the end counts
  spikes (decoding ``count``);
* dropout: per edge with dropout a keep-mask register filled at the start of every sample by
  its ``modules`` sources in lockstep, unit ``r`` from module ``r % modules`` in dropout cycle
  ``r // modules`` (a shift register, ``modules`` bits per cycle): MTJ modules through one
  :class:`~hdl.rtl.dropout.DropoutModuleController` each (DAC code and pulse from
  :func:`~hdl.rtl.dropout.dac_setting` for the edge's ``p``), or an
  :class:`~hdl.rtl.dropout.LFSRDropoutSource` producing :func:`hdl.lfsr.dropout_drop_bits`;
* rate encoding: the input LFSR draws one pixel's spike per cycle (:func:`hdl.lfsr.rate_spikes`);
* the controller: the steps of :meth:`hdl.mapping.Schedule.iter_steps` with the cycle counts of
  :func:`hdl.mapping.map_network`, for ``samples`` Monte-Carlo samples per ``start``.

**Timing** (one source of truth: :mod:`hdl.mapping`). With ``start`` taken in cycle ``c``
(``busy`` low), ``busy`` is high for exactly ``schedule(net, hw, samples).cycles`` cycles and
``done`` is high in the cycle after. A read step of ``S = plane_cycles[b]`` cycles raises
``read`` in its first cycle with the word lines, which stay unchanged for the whole step; each
of a tile's ``A = tile_cols / columns_per_adc`` ADCs converts its columns ``a, a + A, ...`` one
after another, and the tile hands over conversion ``s`` (one code per ADC, with ``codes_valid``)
exactly ``(s + 1) · (1 + adc_latency_cycles)`` cycles after ``read`` with serial ADCs (the
default), or ``s + 1 + adc_latency_cycles`` cycles after it with ``hw.adc_pipelined`` (a
conversion in every cycle; :class:`TilePort`, :mod:`hdl.rtl.crossbar`), the last one at most
``S - 2`` cycles after it; the step's last cycle is the accumulation. The edge accumulators
take one conversion in every cycle, so the same logic serves both macros: only the step
lengths of the controller differ. An update step is ``ceil(C / lif_units)`` cycles. The dropout
sources of a fill start one cycle before the fill step (in the ``start`` cycle or the previous
sample's last cycle), so the last mask bit lands at the fill's last clock edge. With
``hw.mask_double_buffer`` each mask has a second bank: the fill of sample ``m + 1`` starts with
sample ``m``'s compute and its masks are loaded into the keep registers (``swap``) in the last
cycle before sample ``m + 1`` computes, which waits for them if the fill is longer than a
sample (``F + (S - 1) · max(C, F) + C`` busy cycles; :mod:`hdl.rtl.controller`). With
``hw.overlap_reads`` a read step lasts only the ADCs' sampling window (``mux_steps · interval``
cycles: the word lines hold that long) and the next read, of the next plane or the next output
position, follows at once while this one's codes still arrive; the accumulators are
``streamed`` (each code shifted by its own plane counter, a new sum started by the first codes
of plane 0), a layer of several positions copies its sums and biases into its current register
in the controller's ``latch`` cycle, and the position's update runs from that copy (with the
skip terms, LIF word and spike buffer bit of the position updated, ``pos``) while the next
positions are read (``(P - 1) · q + R + G`` cycles per layer, :mod:`hdl.rtl.controller`).
With ``hw.pipeline_layers`` every layer runs its own timesteps (its own counters drive its
word lines, accumulators, currents and LIF array) and every layer with neurons has two spike
banks, timestep ``t`` written into bank ``t mod 2`` and read by each consumer from the bank of
the consumer's own timestep; for rate coding the input spikes have two banks too, written by
the encoder at its own timestep. The output register accumulates per timestep of the last layer
and is emitted after the sample, as without the option. ``spikes_l<i>`` is then the bank the
layer finished last (a bank flag set with ``layer_done_l<i>``), so in the cycle after the strobe
it holds the spikes of the timestep just finished, as with one bank. With
``hw.pipeline_samples`` the layers run the items of all samples (:mod:`hdl.rtl.controller`):
the banks are chosen by the items' ``u mod 2``, each layer with dropout loads its keep
registers at its own swap (reading its fill banks' ``keep_next`` in that cycle) and starts its
next fill then, and the outputs of every sample are emitted after the output layer's last item
of it (the output layer waiting for an emit owed while the host holds the counts).

**Ports** (the macro and module ports are listed, with their geometry, in :attr:`tiles` and
:attr:`mtj_modules`; :meth:`manifest` gives all of it as JSON-ready data):

==================== ============================== =============================================
port                 direction                      meaning
==================== ============================== =============================================
``pixels``           ``In(stream.Signature(K·bits))`` ``K = hw.pixels_per_transfer`` pixels per
                                                    transfer, C order: pixel ``j·K + i`` in lane
                                                    ``i`` (bits ``i·bits ..``) of transfer ``j``,
                                                    unused lanes of the last one ignored;
                                                    ``ceil(n_in / K)`` transfers, accepted until
                                                    the image is complete: while idle, or with
                                                    ``hw.stream_while_busy`` also while busy
                                                    (into the load buffer, copied into the
                                                    compute buffer when ``start`` is taken)
``start``            ``In(1)``                      run ``samples`` samples of the loaded image
                                                    (taken when idle and the image is complete)
``samples``          ``In(16)``                     Monte-Carlo samples, >= 1, sampled with start
``busy``, ``done``   ``Out(1)``                     running; one cycle after the last sample
``counts``           ``Out(stream.Signature(N·ob))`` one transfer per sample: output ``n`` signed
                                                    at bits ``n·ob ..`` (``ob = out_bits``)
``ev_*``             ``Out(32)``                    event counters since reset (docs section 5):
                                                    crossbar reads, ADC conversions, LIF updates,
                                                    dropout samples
``xbar_l<i>_e<j>_    ``Out(crossbar_signature)``    row tile ``r``, column tile ``c`` of edge
r<r>_c<c>``                                         ``j`` of layer ``i``
``mtj_l<i>_e<j>_     ``Out(mtj_signature)``         MTJ dropout module ``m`` of that edge
m<m>``
==================== ============================== =============================================

A sample's ``counts`` transfer waits in its register until taken; if the previous one is still
there when a sample ends, the controller stalls (the cycle count equals the schedule's when
``counts.ready`` keeps up, e.g. is held high).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring

from hdl.driver import MTJDriver
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import EVENTS, EdgeMap, Mapping
from hdl.rtl.accumulate import EdgeAccumulator
from hdl.rtl.component import CheckedComponent
from hdl.rtl.controller import SAMPLES_BITS, ScheduleController, Sequencer
from hdl.rtl.lfsr import LeapLFSR
from hdl.rtl.lif import RTLError, _check_name, emit_verilog
from hdl.rtl.lif_array import LIFArray
from hdl.rtl.mask_fill import MaskFill, mtj_signature
from hdl.rtl.plan import (
    DAC_BITS,
    EVENT_BITS,
    AcceleratorPlan,
    EdgePlan,
    LayerPlan,
    MTJModulePort,
    TilePort,
    plan_accelerator,
    tile_cells,
)
from hdl.rtl.window import ConvWindow

__all__ = [
    "DAC_BITS",
    "EVENTS",
    "EVENT_BITS",
    "SAMPLES_BITS",
    "Accelerator",
    "AcceleratorPlan",
    "MTJModulePort",
    "TilePort",
    "accelerator_verilog",
    "mtj_signature",
    "plan_accelerator",
    "tile_cells",
]


class Accelerator(CheckedComponent):
    """The accelerator's digital part for ``net`` on ``hw`` (see the module doc).

    Args:
        net: a trained network (weights and thresholds), validated here; or an
            :class:`~hdl.rtl.plan.AcceleratorPlan` (then without ``hw`` and ``driver``).
        hw: the hardware configuration (tiles, cells, ADCs, LIF units, clock).
        driver: the MTJ drive sequence (device, write pulse); default: the network's own
            (``net.mtj_driver``), else :class:`MTJDriver` ``()``.

    The network is planned (:func:`~hdl.rtl.plan.plan_accelerator`) before the component
    exists, so a refused network leaves no unused component behind.

    Raises:
        RTLError: the network cannot be generated; the message names the layer or edge and why.
    """

    @classmethod
    def _check(
        cls,
        net: Network | AcceleratorPlan,
        hw: HardwareConfig | None = None,
        driver: MTJDriver | None = None,
    ) -> dict[str, Any]:
        return {"plan": _plan_of(net, hw, driver)}

    def __init__(
        self,
        net: Network | AcceleratorPlan,
        hw: HardwareConfig | None = None,
        driver: MTJDriver | None = None,
    ) -> None:
        plan: AcceleratorPlan = self.plan
        # the plan's fields, as the generator and testbenches read them
        self.net, self.hw, self.driver = plan.net, plan.hw, plan.driver
        self.mapping = plan.mapping
        self.timesteps, self.rate = plan.timesteps, plan.rate
        self.in_bits, self.in_neurons = plan.in_bits, plan.in_neurons
        self.layers, self.dropout_edges = plan.layers, plan.dropout_edges
        self.tiles, self.mtj_modules = plan.tiles, plan.mtj_modules
        self.out_neurons, self.out_bits = plan.out_neurons, plan.out_bits
        self.out_signed = plan.out_signed
        super().__init__(plan.members())

    # --- public helpers ---------------------------------------------------------------------

    def cycles(self, samples: int = 1) -> int:
        """``busy`` cycles of one ``start`` with ``samples`` samples: the schedule's cycles."""
        return self.plan.cycles(samples)

    def manifest(self) -> dict[str, Any]:
        """The ports and their geometry as JSON-ready data (for testbenches and tools)."""
        return self.plan.manifest()

    # --- elaboration ------------------------------------------------------------------------

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.controller = ctrl = ScheduleController(self.mapping)
        m.d.comb += [
            ctrl.samples.eq(self.samples),
            ctrl.hold.eq(self.counts.valid & ~self.counts.ready),
            self.busy.eq(ctrl.busy),
        ]
        pix = self._pixel_buffer(m, ctrl)
        #: per source its buffer: one bank, or two with pipelined layers (bank ``t mod 2``
        #: holding timestep ``t``); :meth:`_reader` gives a layer the bank of its timestep
        self._banks: dict[str, tuple[Signal, ...]] = {}
        self._readers: dict[tuple[str, int], Any] = {}
        self._pix = pix
        nb = 2 if ctrl.pipelined else 1
        if self.rate:
            self._banks["input"] = self._input_spikes(m, ctrl, pix, nb)
        for lp in self.layers:
            if lp.lmap.has_neurons:
                name = self.net.layers[lp.index].name
                self._banks[name] = tuple(
                    Signal(
                        lp.lmap.neurons, name=f"spikes_l{lp.index}" + (f"_b{b}" if nb > 1 else "")
                    )
                    for b in range(nb)
                )
        sources = self._banks
        keeps, ev_drop = self._masks(m, ctrl)
        z_regs: dict[tuple[int, int], list[Any]] = {}
        ev_reads, ev_conversions = [], []
        for lp in self.layers:
            for ep in lp.edges:
                zs, reads, conversions = self._edge(m, ctrl, lp, ep, sources, keeps)
                z_regs[(lp.index, ep.index)] = zs
                ev_reads.append(reads)
                ev_conversions.append(conversions)
        out_regs = [
            Signal(
                signed(self.out_bits) if self.out_signed else unsigned(self.out_bits), name=f"y{n}"
            )
            for n in range(self.out_neurons)
        ]
        ev_updates = []
        #: Signals a testbench may watch (Amaranth simulator): per layer with neurons
        #: ``(index, strobe, buffer, t)`` -- in the cycle after ``strobe`` the buffer holds the
        #: layer's spikes of timestep ``t`` (sampled with ``strobe``; the Verilog keeps the
        #: names ``layer_done_l<i>``, ``spikes_l<i>``).
        self.debug: dict[str, Any] = {"layers": []}
        for lp in self.layers:
            lanes = self._lanes(m, ctrl, lp, z_regs, sources, pix)
            ev_updates.append(self._update(m, ctrl, lp, lanes, sources, out_regs))
        counters = {
            "crossbar_reads": sum(ev_reads, Const(0, 1)),
            "adc_conversions": sum(ev_conversions, Const(0, 1)),
            "lif_updates": sum(ev_updates, Const(0, 1)),
            "dropout_samples": ev_drop,
        }
        for name, inc in counters.items():
            port = getattr(self, f"ev_{name}")
            m.d.sync += port.eq(port + inc)
        # the cycle after a sample's last update (whose output update lands at its own edge)
        # the outputs go to the counts register
        m.d.sync += self.done.eq(0)
        with m.If(self.counts.valid & self.counts.ready):
            m.d.sync += self.counts.valid.eq(0)
        with m.If(ctrl.emit):
            m.d.sync += [
                self.counts.payload.eq(Cat(*(y.as_unsigned() for y in out_regs))),
                self.counts.valid.eq(1),
                self.done.eq(ctrl.emit_last),
            ]
        return m

    def _pixel_buffer(self, m: Module, ctrl: ScheduleController) -> Signal:
        """The image, ``K = hw.pixels_per_transfer`` pixels per ``pixels`` transfer: transfer
        ``j`` (counted by ``loaded``) writes pixels ``j * K + i`` from its lanes ``i``, the
        lanes past the last pixel ignored; ``start`` waits for all ``ceil(n_in / K)``
        transfers. Without ``hw.stream_while_busy`` the transfers write the buffer the compute
        reads and are accepted only while idle; with it they write a load buffer ``pix_load``
        at any time, copied into the compute buffer ``pix`` when ``start`` is taken (the next
        image streams in while this one computes)."""
        n_in, bits, k = self.in_neurons, self.in_bits, self.plan.pixels_per_transfer
        transfers = self.plan.input_transfers
        stream = self.hw.stream_while_busy
        pix = Signal(n_in * bits)
        load = Signal(n_in * bits, name="pix_load") if stream else pix
        loaded = Signal(range(transfers + 1))
        accept = loaded < transfers
        m.d.comb += self.pixels.ready.eq(accept if stream else ~self.busy & accept)
        with m.If(self.pixels.valid & self.pixels.ready):
            with m.Switch(loaded):
                for j in range(transfers):
                    with m.Case(j):
                        for i in range(j * k, min(n_in, (j + 1) * k)):
                            lane = self.pixels.payload[(i - j * k) * bits : (i - j * k + 1) * bits]
                            m.d.sync += load[i * bits : (i + 1) * bits].eq(lane)
            m.d.sync += loaded.eq(loaded + 1)
        m.d.comb += ctrl.start.eq(self.start & (loaded == transfers))
        with m.If(ctrl.taken):  # the next image is streamed in after (or while) this one runs
            m.d.sync += loaded.eq(0)
            if stream:
                m.d.sync += pix.eq(load)
        return pix

    def _reader(
        self, m: Module, ctrl: ScheduleController, source: str, li: int, update: bool = False
    ) -> Any:
        """What layer ``li`` reads from ``source``: bit-plane ``plane`` of the pixels (direct
        input, the layer's own plane counter), or the spikes of its timestep: the one buffer,
        or with pipelined layers bank ``t mod 2`` of the source's two, ``t`` the reads'
        timestep ``rt`` (its weighted edges) or, ``update``, the updates' ``t`` (its skip
        terms; the two differ when the layer's timesteps stream)."""
        own = update and ctrl.streams[li]
        key = (source, li if ctrl.pipelined else 0, own)
        if key in self._readers:
            return self._readers[key]
        sq = ctrl.seqs[li]
        suffix = (f"_l{li}" if ctrl.pipelined else "") + ("_u" if own else "")
        if source == "input" and not self.rate and self.hw.input_dac_bits > 1:
            value = self._digit_plane(m, sq, suffix)
        elif source == "input" and not self.rate:
            n_in, bits, pix = self.in_neurons, self.in_bits, self._pix
            value = Signal(n_in, name=f"input_plane{suffix}")
            with m.Switch(sq.plane):
                for b in range(bits):
                    with m.Case(b):
                        m.d.comb += value.eq(Cat(pix[i * bits + b] for i in range(n_in)))
        elif len(self._banks[source]) == 1:
            value = self._banks[source][0]
        else:
            b0, b1 = self._banks[source]
            value = Signal(len(b0), name=f"read_{_ident(source)}{suffix}")
            # the bank of the item: u mod 2 (t mod 2 within a sample)
            step = sq.u if own else sq.ru
            m.d.comb += value.eq(Mux(step[0], b1, b0))
        self._readers[key] = value
        return value

    def _digit_plane(self, m: Module, sq: Sequencer, suffix: str) -> Signal:
        """Digit-plane ``plane`` of the pixels for ``d = hw.input_dac_bits > 1``: pixel ``i``'s
        digit ``(x_i >> (plane·d)) & (2**d - 1)`` at bits ``i·d .. i·d + d - 1`` (bits past
        ``input.bits`` are 0)."""
        n_in, bits, pix, d = self.in_neurons, self.in_bits, self._pix, self.hw.input_dac_bits
        value = Signal(n_in * d, name=f"input_digits{suffix}")
        with m.Switch(sq.plane):
            for p in range(self.hw.input_planes(bits)):
                with m.Case(p):
                    digits = [
                        pix[i * bits + p * d + q] if p * d + q < bits else Const(0, 1)
                        for i in range(n_in)
                        for q in range(d)
                    ]
                    m.d.comb += value.eq(Cat(*digits))
        return value

    @staticmethod
    def _update_timestep(sq: Sequencer) -> tuple[Any, Any]:
        """The timestep of a layer's update steps and its ``first`` flag: the updates' own
        ``t`` (the reads' ``rt`` runs ahead when the layer's timesteps stream)."""
        return sq.t, sq.first

    def _input_spikes(
        self, m: Module, ctrl: ScheduleController, pix: Signal, banks: int
    ) -> tuple[Signal, ...]:
        """Rate coding: the spikes the input LFSR draws, one pixel per encode cycle, into the
        input spike buffer (with pipelined layers bank ``t mod 2`` of two, ``t`` the
        encoder's timestep)."""
        n_in, bits = self.in_neurons, self.in_bits
        spec = self.net.input.lfsr
        assert spec is not None
        m.submodules.input_lfsr = lfsr = LeapLFSR(spec.width, spec.seed)
        names = ["input_spikes"] if banks == 1 else ["input_spikes_b0", "input_spikes_b1"]
        spikes = tuple(Signal(n_in, name=name) for name in names)
        pixel = Signal(range(max(2, n_in)))
        m.d.comb += lfsr.en.eq(ctrl.encode)
        u = lfsr.next_state() >> (spec.width - bits)
        with m.If(ctrl.encode):
            bit = u < pix.word_select(pixel, bits)
            if banks == 1:
                m.d.sync += spikes[0].bit_select(pixel, 1).eq(bit)
            else:
                with m.If(ctrl.encode_u[0]):
                    m.d.sync += spikes[1].bit_select(pixel, 1).eq(bit)
                with m.Else():
                    m.d.sync += spikes[0].bit_select(pixel, 1).eq(bit)
            m.d.sync += pixel.eq(Mux(pixel == n_in - 1, 0, pixel + 1))
        return spikes

    def _masks(self, m: Module, ctrl: ScheduleController) -> tuple[dict[tuple[int, int], Any], Any]:
        """A :class:`MaskFill` per edge with dropout: its keep mask, and the mask bits made
        per cycle (for the event counter)."""
        keeps: dict[tuple[int, int], Any] = {}
        made = []
        for ordinal, (li, ei) in enumerate(self.dropout_edges):
            fill = MaskFill(
                self.net.layers[li].edges[ei].dropout,
                _dropout_units(self.mapping, li, ei),
                edge=ordinal,
                edges=len(self.dropout_edges),
                driver=self.driver,
                clock_mhz=self.hw.clock_mhz,
                code_bits=DAC_BITS,
                double_buffer=self.hw.mask_double_buffer,
            )
            m.submodules[f"mask_l{li}_e{ei}"] = fill
            prefetch = ctrl.prefetch | ctrl.prefetch_l[li] if ctrl.psamp else ctrl.prefetch
            m.d.comb += [fill.prefetch.eq(prefetch), fill.fill.eq(ctrl.fill)]
            if ctrl.psamp:  # the layer's own swap, at its first item of each sample
                swap = self._swap_of(ctrl, li)
                m.d.comb += fill.swap.eq(swap)
                keeps[(li, ei)] = Mux(swap, fill.keep_next, fill.keep)
            else:
                if fill.double_buffer:
                    m.d.comb += fill.swap.eq(ctrl.swap)
                keeps[(li, ei)] = fill.keep
            made.append(fill.drops)
            for k in range(fill.modules if fill.setting is not None else 0):
                port = getattr(self, f"mtj_l{li}_e{ei}_m{k}")
                wiring.connect(m, wiring.flipped(port), fill.mtj[k])
        return keeps, sum(made, Const(0, 1))

    @staticmethod
    def _swap_of(ctrl: ScheduleController, li: int) -> Any:
        """Pipelined samples: the swap of layer ``li``'s keep registers, in the first cycle of
        its first item of each sample (the layers are on different samples at once)."""
        return ctrl.swap_l[li]

    def _edge(
        self,
        m: Module,
        ctrl: ScheduleController,
        lp: LayerPlan,
        ep: EdgePlan,
        sources: dict[str, Any],
        keeps: dict[tuple[int, int], Any],
    ) -> tuple[list[Any], Any, Any]:
        """One weighted edge: its gated word lines on its tiles, the read strobe, and the
        :class:`EdgeAccumulator` of their codes. Returns ``z[o]`` and the per-cycle increments
        of the read and conversion counters."""
        hw, em = self.hw, ep.emap
        sq = ctrl.seqs[lp.index]
        edge = self.net.layers[lp.index].edges[ep.index]
        src = self._reader(m, ctrl, edge.source, lp.index)
        d = em.digit_bits  # bits per word line: row r's digit at bits r·d .. r·d + d - 1
        if d > 1:
            rows = self._digit_window(m, lp.index, em, src, sq)
        else:
            rows = self._window(m, lp.index, em, src, sq.oy, sq.ox)
        keep = keeps.get((lp.index, ep.index))
        if keep is not None:
            if em.dropout.units != em.rows:  # channel granularity: k·k rows share a bit
                kk = em.kernel * em.kernel
                keep = Cat(*(keep[r // kk] for r in range(em.rows)))
            if d > 1:  # a dropped row drops every bit of its digit
                keep = Cat(*(keep[r] for r in range(em.rows) for _ in range(d)))
            gated = Signal(em.rows * d, name=f"wl_l{lp.index}_e{ep.index}")
            m.d.comb += gated.eq(rows & keep)
            rows = gated
        read = ctrl.read[lp.index]
        active = Signal(name=f"read_l{lp.index}_e{ep.index}")
        m.d.comb += active.eq(read & (sq.plane < em.planes))
        acc = EdgeAccumulator(
            out_channels=em.out_channels,
            slices=em.slices,
            cell_bits=hw.cell_bits,
            adc_bits=hw.adc_bits,
            col_tiles=[t.cols for t in ep.tiles if t.row_tile == 0],
            row_tiles=em.row_tiles,
            adcs=hw.adcs_per_tile,
            z_bits=ep.z_bits,
            planes=em.planes,
            streamed=hw.overlap_reads,
            digit_bits=d,
        )
        m.submodules[f"acc_l{lp.index}_e{ep.index}"] = acc
        codes, valids = [], []
        for tile in ep.tiles:
            port = getattr(self, tile.name)
            r0, r1 = tile.rows
            m.d.comb += [port.wl_en.eq(rows[r0 * d : r1 * d]), port.read.eq(active)]
            codes.append(port.codes)
            valids.append(port.codes_valid)
        m.d.comb += [acc.codes.eq(Cat(*codes)), acc.valid.eq(Cat(*valids))]
        if not acc.streamed:  # a sum starts with the read of plane 0, shifted by the read's plane
            m.d.comb += acc.clear.eq(read & (sq.plane == 0))
            if em.planes > 1:
                m.d.comb += acc.plane.eq(sq.plane)
        zb = ep.z_bits
        zs = [acc.z[o * zb : (o + 1) * zb].as_signed() for o in range(em.out_channels)]
        conversions = sum(t.cols[1] - t.cols[0] for t in ep.tiles)
        return zs, Mux(active, len(ep.tiles), 0), Mux(active, conversions, 0)

    def _lanes(
        self,
        m: Module,
        ctrl: ScheduleController,
        lp: LayerPlan,
        z_regs: dict[tuple[int, int], list[Any]],
        sources: dict[str, Any],
        pix: Signal,
    ) -> list[Signal]:
        """The ``U`` currents of update cycle ``group``: ``I[o] = Σ_edges z[o] + bias[o] +
        skip[o]`` for channels ``o = group · U + lane`` of the current position (0 past ``C``);
        a skip edge adds the source's spike (or, from the direct input, the pixel value) at the
        same flat index ``o · P + pos``. With overlapped reads a layer of several positions
        updates position ``pos`` while the next ones are read: ``Σ_edges z[o] + bias[o]`` is
        copied into its current register (``C`` words of ``current_bits``) in the ``latch``
        cycle, when the position's sums are final, and the update adds the skip terms of
        ``pos`` to that copy."""
        lm, U, bits = lp.lmap, self.hw.lif_units, self.in_bits
        C, P, G, cb = lm.channels, lm.positions, lm.update_cycles, lp.current_bits
        sq = ctrl.seqs[lp.index]
        # latched: the next position's reads (or, streamed, the next timestep's) clear the sums
        latched = ctrl.runs[lp.index] and (P > 1 or ctrl.streams[lp.index])
        currents = []
        for o in range(C):
            terms: list[Any] = [z_regs[(lp.index, ep.index)][o] for ep in lp.edges]
            bias = Const(lp.bias[o], signed(cb))
            if latched:  # the sums and the bias, copied when final
                terms, bias = (
                    [self._latched(m, ctrl, lp, o, sum(terms, bias))],
                    Const(0, signed(cb)),
                )
            for s in lp.skips:
                if s == "input" and not self.rate:
                    chan = pix[o * P * bits : (o + 1) * P * bits]
                    terms.append(chan.word_select(sq.pos, bits) if P > 1 else chan)
                else:
                    chan = self._reader(m, ctrl, s, lp.index, update=True)[o * P : (o + 1) * P]
                    terms.append(chan.bit_select(sq.pos, 1) if P > 1 else chan)
            current = Signal(signed(cb), name=f"current_l{lp.index}_{o}")
            m.d.comb += current.eq(sum(terms, bias))
            currents.append(current)
        lanes = [Signal(signed(cb), name=f"lane_l{lp.index}_{i}") for i in range(U)]
        with m.Switch(sq.group):
            for g in range(G):
                with m.Case(g):
                    for i in range(U):
                        o = g * U + i
                        m.d.comb += lanes[i].eq(currents[o] if o < C else 0)
        return lanes

    def _latched(
        self, m: Module, ctrl: ScheduleController, lp: LayerPlan, o: int, value: Any
    ) -> Any:
        """Channel ``o``'s current register of an overlapped layer: ``value`` (its sums and
        bias) copied in the layer's ``latch`` cycle."""
        reg = Signal(signed(lp.current_bits), name=f"latched_l{lp.index}_{o}")
        with m.If(ctrl.latch[lp.index]):
            m.d.sync += reg.eq(value)
        return reg

    def _update(
        self,
        m: Module,
        ctrl: ScheduleController,
        lp: LayerPlan,
        lanes: list[Signal],
        sources: dict[str, Any],
        out_regs: list[Signal],
    ) -> Any:
        """The update step of a layer: its :class:`LIFArray`, whose spikes go into the layer's
        buffer at the update's own edge (and are counted, decoding ``count``), or the output
        accumulator ``y += I``. Returns the per-cycle increment of the LIF-update counter."""
        layer = self.net.layers[lp.index]
        lm, U = lp.lmap, self.hw.lif_units
        C, P, G = lm.channels, lm.positions, lm.update_cycles
        sq = ctrl.seqs[lp.index]
        update, group, pos = ctrl.update[lp.index], sq.group, sq.pos
        _, first = self._update_timestep(sq)
        real = [min(U, C - g * U) for g in range(G)]  # lanes that hold a neuron
        is_output = lp.index == len(self.layers) - 1
        if not lm.has_neurons:  # the output accumulator
            with m.If(update):
                with m.Switch(group):
                    for g in range(G):
                        with m.Case(g):
                            for i in range(real[g]):
                                y = out_regs[g * U + i]
                                m.d.sync += y.eq(Mux(first, 0, y) + lanes[i])
            return Const(0, 1)
        assert lp.lif is not None  # a layer with neurons
        thresholds = [
            lp.thresholds[g * U + i] if g * U + i < C else 0
            for _ in range(P)
            for g in range(G)
            for i in range(U)
        ]
        arr = LIFArray(
            neurons=P * G * U,
            units=U,
            thresholds=thresholds,
            **asdict(lp.lif),
        )
        m.submodules[f"lif_l{lp.index}"] = arr
        m.d.comb += [
            arr.valid.eq(update),
            arr.group.eq(sq.lif_group),
            arr.first.eq(first),
            arr.currents.eq(Cat(*(lane.as_unsigned() for lane in lanes))),
        ]
        banks = sources[layer.name]
        with m.If(update):
            with m.Switch(group):
                for g in range(G):
                    with m.Case(g):
                        for i in range(real[g]):
                            o = g * U + i
                            bits = [
                                buf[o * P : (o + 1) * P].bit_select(pos, 1)
                                if P > 1
                                else buf[o * P : o * P + 1]
                                for buf in banks
                            ]
                            if len(bits) == 1:
                                m.d.sync += bits[0].eq(arr.fires[i])
                            else:  # bank u mod 2 (t mod 2 within a sample)
                                with m.If(sq.u[0]):
                                    m.d.sync += bits[1].eq(arr.fires[i])
                                with m.Else():
                                    m.d.sync += bits[0].eq(arr.fires[i])
                            if is_output:  # decoding "count"
                                y = out_regs[o]
                                m.d.sync += y.eq(Mux(first, 0, y) + arr.fires[i])
        done = Signal(name=f"layer_done_l{lp.index}")
        m.d.comb += done.eq(update & (group == G - 1) & (pos == P - 1))
        buf = banks[0]
        if len(banks) > 1:  # the bank of the timestep last finished, for the testbenches
            shown = Signal(name=f"shown_l{lp.index}")
            with m.If(done):
                m.d.sync += shown.eq(sq.u[0])
            buf = Signal(lm.neurons, name=f"spikes_l{lp.index}")
            m.d.comb += buf.eq(Mux(shown, banks[1], banks[0]))
        self.debug["layers"].append((lp.index, done, buf, sq.t))
        return Mux(update, _switch_value(group, real), 0)

    def _digit_window(self, m: Module, li: int, em: EdgeMap, src: Any, sq: Sequencer) -> Any:
        """The edge's ``rows · d`` word-line bits of ``d``-bit digits (``d = em.digit_bits``):
        the source's pixels hold ``d`` bits each (``src`` bit ``i·d + q`` is bit ``q`` of
        pixel ``i``'s digit), a convolution window per digit bit ``q``, row ``r``'s digit at
        bits ``r·d .. r·d + d - 1``."""
        d = em.digit_bits
        if em.kind == "linear":
            return src
        n_in = len(src) // d
        wins = []
        for q in range(d):
            win = ConvWindow(
                in_shape=em.in_shape, kernel=em.kernel, stride=em.stride, padding=em.padding
            )
            m.submodules[f"window_l{li}_e{em.index}_q{q}"] = win
            bits = Cat(*(src[i * d + q] for i in range(n_in)))
            m.d.comb += [win.spikes.eq(bits), win.oy.eq(sq.oy), win.ox.eq(sq.ox)]
            wins.append(win.rows)
        return Cat(*(wins[q][r] for r in range(em.rows) for q in range(d)))

    def _window(self, m: Module, li: int, em: EdgeMap, src: Any, oy: Signal, ox: Signal) -> Any:
        """The edge's ``rows`` word-line bits for output position ``(oy, ox)``."""
        if em.kind == "linear":
            return src
        win = ConvWindow(
            in_shape=em.in_shape, kernel=em.kernel, stride=em.stride, padding=em.padding
        )
        m.submodules[f"window_l{li}_e{em.index}"] = win
        m.d.comb += [win.spikes.eq(src), win.oy.eq(oy), win.ox.eq(ox)]
        return win.rows


def _plan_of(
    net: Network | AcceleratorPlan, hw: HardwareConfig | None, driver: MTJDriver | None
) -> AcceleratorPlan:
    if isinstance(net, AcceleratorPlan):
        if hw is not None or driver is not None:
            raise RTLError("an AcceleratorPlan already holds its hw and driver; pass only the plan")
        return net
    return plan_accelerator(net, hw, driver)


def _ident(name: str) -> str:
    """A layer name as part of a signal name."""
    return "".join(c if c.isalnum() else "_" for c in name)


def _dropout_units(mapping: Mapping, li: int, ei: int) -> int:
    em = next(e for e in mapping.layers[li].edges if e.index == ei)
    assert em.dropout is not None
    return em.dropout.units


def _switch_value(sel: Signal, values: list[int]) -> Any:
    """``values[sel]`` as a mux chain (constants)."""
    out: Any = Const(values[-1], unsigned(max(1, max(values).bit_length())))
    for g in range(len(values) - 2, -1, -1):
        out = Mux(sel == g, values[g], out)
    return out


def accelerator_verilog(
    net: Network,
    hw: HardwareConfig | None = None,
    driver: MTJDriver | None = None,
    name: str = "accelerator",
) -> str:
    """Verilog of the :class:`Accelerator` of ``net`` on ``hw`` (identical for identical inputs)."""
    _check_name(name)
    return emit_verilog(Accelerator(net, hw, driver), name=name)
