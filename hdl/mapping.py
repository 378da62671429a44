"""Mapping of a network onto crossbar tiles, and the static schedule of one inference.

This module is the single source of truth for *where* every weighted edge of an
:class:`hdl.ir.Network` sits on the chip and *when* the controller does what. The RTL generator
builds exactly this mapping and this schedule, the cost model prices them, and the cycle count
of an RTL simulation equals :attr:`Schedule.cycles`. docs/cost-model.md writes the schedule down
in words; docs/hardware-model.md (section 5) defines the physical columns and the event counts.

Mapping of a weighted edge (``linear`` or ``conv2d``) with ``C_out`` outputs::

    rows      = in_features                      (linear)
              = C_in * k * k                     (conv2d, (c, ky, kx) order)
    slices    = ceil(magnitude_bits / cell_bits) (magnitude_bits = 1 if weight_bits == 1
                                                  else weight_bits - 1)
    phys_cols = 2 * slices * C_out               (output-major, + before -, then slice)
    row_tiles = ceil(rows / R),  col_tiles = ceil(phys_cols / C),  tiles = row_tiles * col_tiles
    ADCs      = tiles * C / columns_per_adc
    mux_steps = ceil(min(phys_cols, C) / (C / columns_per_adc))   (conversions per ADC and read)

An edge reading the direct-encoded input is read in ``planes_e = ceil(input.bits / d)`` planes
per position, ``d = hw.input_dac_bits`` (its word-line DACs; ``d = 1``: the ``input.bits``
bit-planes), every other edge in one.

Schedule of one Monte-Carlo sample (closed form; everything an integer number of clock cycles)::

    cycles_sample = fill + T * (encode + sum_l P_l * (sum_b read_l[b] + ceil(C_l / U)))
    read_l[b]     = max over the weighted edges e of layer l with planes_e > b of
                    READ_CYCLES + conv_e + ACCUMULATE_CYCLES
    conv_e        = mux_steps_e * (1 + adc_latency_cycles)     (serial ADCs)
                  = mux_steps_e + adc_latency_cycles           (hw.adc_pipelined: one
                                                                conversion per cycle)
    fill          = max over edges with dropout of ceil(units / modules) * cycles_per_dropout
    encode        = C * H * W of the input for rate coding (one LFSR draw per cycle), else 0

with ``P_l`` the output positions of layer ``l`` (``H_out * W_out`` or 1), ``C_l`` the neurons
per position (channels, or all neurons of a flat layer), ``U = hw.lif_units`` and ``T`` the
timesteps. ``Schedule.cycles = samples * cycles_sample``. Nothing is enumerated per position:
the cost is a handful of integer operations per edge, for digits and CIFAR networks alike.

With double-buffered masks (``hw.mask_double_buffer``) the fill of sample ``m + 1`` runs while
sample ``m`` computes (``C = cycles_sample - fill`` compute cycles), so only the first fill is
exposed and a sample whose fill is not finished when the previous one ends waits for it::

    Schedule.cycles = F + sum_{m < S - 1} max(C, F) + C
                    = S * C + F + (S - 1) * max(0, F - C)        (F = fill, S = samples)

the waits being ``fill`` steps of ``max(0, F - C)`` cycles before every sample but the first.

With overlapped reads (``hw.overlap_reads``) a new read is issued as soon as the ADCs have
sampled the bit lines of the previous one, the codes of all reads streaming into the
accumulators back to back: the planes of a position one after another, and the positions of a
layer one after another, while the previous position's update runs from a latched copy of its
currents. Per layer ``l``::

    s_l[b] = max over the weighted edges e of layer l with planes_e > b of mux_steps_e * interval
    o_l[b] = sum_{b' < b} s_l[b']                         (read strobe of plane b in a position)
    S_l    = sum_b s_l[b]                                 (a position's read stream)
    R_l    = max_b (o_l[b] + read_l[b])                   (its sum final, after its first read)
           = sum_{b < B_l - 1} s_l[b] + read_l[B_l - 1]   (the last plane ends last)
    q_l    = max(S_l, G_l)                                (position period, G_l = ceil(C_l / U))
    layer timestep cycles = (P_l - 1) * q_l + R_l + G_l

with ``interval = 1`` (pipelined ADCs) or ``1 + adc_latency_cycles`` (serial): position ``p``'s
plane ``b`` is read at ``p * q_l + o_l[b]``, its update runs from ``p * q_l + R_l`` for
``G_l`` cycles (the read stream waits when an update is longer than a position's reads). Without
the option ``q_l = R_l + G_l`` with ``R_l = sum_b read_l[b]``, the formula above. Events are
unchanged; so is the ADC bound. The steps then overlap: :attr:`Step.start` says when each
begins, and a read step lasts its ADC sampling window ``s_l[b]``
(:attr:`LayerMap.read_step_cycles`). A layer without weighted edges has ``R_l = 0`` and
``q_l = G_l``: its updates, back to back, as without the option.

With pipelined layers (``hw.pipeline_layers``) every layer runs its own timesteps and the spike
maps are double-buffered (timestep ``t`` in bank ``t mod 2``); for rate coding the encoder is a
stage of its own before the layers, its spikes double-buffered too. The stages ``k`` (the
encoder, then the layers in file order) take ``c_k`` cycles per item (``encode_cycles``, or the
layer's ``timestep_cycles`` above, overlapped reads or not), and item ``(k, t)`` starts, counted
from the sample's first compute cycle, when (a) stage ``k``'s item ``t - 1`` has got far
enough, (b) every stage whose spikes it reads (the sources of its weighted and skip edges) has
finished item ``t``, and (c) every stage reading its spikes has finished item ``t - 2`` (so bank
``t mod 2`` is free)::

    start(k, t) = max(a(k, t), max_{p in src(k)} f(p, t), max_{j in dst(k)} f(j, t - 2))
    a(k, t)     = start(k, t - 1) + P_k * q_k        (a layer; 0 for t = 0)
                = f(k, t - 1)                        (the encoder)
    f(k, t)     = start(k, t) + c_k                  (f = 0 for t < 0)
    C           = max_k f(k, T - 1)                  (a sample's compute, Mapping.compute_cycles)

Without overlapped reads ``P_k * q_k = P_k * (R_k + G_k) = c_k``: the layer's item ``t``
starts when its item ``t - 1`` has finished (its membranes are sequential). With overlapped
reads a layer's timesteps stream like its positions: item ``t``'s reads begin when item
``t - 1``'s read stream would have issued its next position (``P_k * q_k`` after its start),
while its last updates still run; each position's currents are latched ``R_k`` cycles after its
first read and ``q_k >= G_k`` cycles after the previous position's, whose update (``G_k``
cycles) has finished by then, and position ``p``'s update of ``t`` comes after its update of
``t - 1``. The item's spikes are complete only at ``f(k, t)``, so (b) and (c) wait for ``f``.
The updates thus run on their own timestep (the membranes' reset at ``t = 0``, the spike bank
written, the skip terms), the reads on theirs (the direct input's bit-plane, the source banks
read, the window position): see :mod:`hdl.rtl.controller`.

computed once per mapping in ``T * stages`` integer steps (:attr:`Mapping.item_starts`), the
same for every sample: without ``hw.pipeline_samples`` a sample starts when every stage has
finished the previous one, so ``Schedule.cycles = samples * (fill + C)``, or with
double-buffered masks the formula above with this ``C``. Events are unchanged; so is
:func:`adc_bound`, which is then no lower bound (the ADCs of different layers convert at the
same time).

**Pipelined samples** (``hw.pipeline_samples``, with ``hw.pipeline_layers``; with dropout only
with ``hw.mask_double_buffer``, else the option changes nothing: :attr:`Mapping.samples_pipelined`).
The items of a ``start`` of ``S`` samples are ``(k, u)``, ``u = m * T + t`` over the samples ``m``
and the timesteps ``t``, and the recurrence above runs over ``u`` across the sample boundary: the
membranes reset at each sample's ``t = 0`` (the updates' ``first``), the spikes go into bank
``u mod 2``, and every layer with weighted edges streams (also for ``T = 1``), with two more
conditions::

    start(k, u) = max(a(k, u), max_{p in src(k)} f(p, u), max_{j in dst(k)} f(j, u - 2), d(k, u))
    a(K, u)     = f(K, u - 1)             (the output layer K, t = 0: its outputs of sample m - 1
                                           are copied out before its updates of m overwrite them)
    d(l, u)     = start(l, u - T) + F_l   (a layer with dropout, t = 0, m >= 1; F_l its edges'
                                           largest fill, layer_fill_cycles; else d = 0)
    Schedule.cycles = F + max_k f(k, S * T - 1)

counted from the first compute cycle after the first fill (``F`` cycles, as before). ``d``: a
layer with dropout loads its keep registers from its fill banks at the start of its first item
of each sample (in that cycle it reads the fill banks themselves), and its edges' fill of the
next sample starts then and takes ``F_l`` cycles; the other stages do not wait for masks. Every
edge's dropout draws keep their order (sample by sample; each edge has its own sources), so the
golden model is unchanged. No later fill is exposed: :attr:`Schedule.fill_cycles` is ``F``. The
schedule is never shorter than :func:`sample_pipeline_bound` and equals it when neither ``d``
nor the output layer's wait binds (no dropout, reads in turn).

**Input.** The image reaches the chip before ``start`` through the ``pixels`` stream, ``K =
hw.pixels_per_transfer`` pixels per transfer and one transfer per cycle at best, accepted only
while the accelerator is idle::

    input_transfer_cycles = ceil(n_in / K)            (n_in = C * H * W of the input)
    inference cycles      = input_transfer_cycles + Schedule.cycles

``Schedule.cycles`` counts the ``busy`` cycles of one ``start`` (what the RTL's controller
takes, the transfers before it not included); the cost model's latency is the sum
(docs/cost-model.md). With ``hw.stream_while_busy`` the next image streams into a second
buffer while the current one computes, so back-to-back images take (:func:`image_period_cycles`)::

    image period = max(input_transfer_cycles, Schedule.cycles)   (stream_while_busy)
                 = input_transfer_cycles + Schedule.cycles       (otherwise)

cycles each at best (the handshakes of a bench around ``start`` and ``done`` not counted).

The **ADC bound** (:func:`adc_bound`) is the cycle count if every ADC converted one column every
cycle and nothing else cost a cycle: ``samples * T * sum_l P_l * sum_b max_e mux_steps_e``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hdl.checks import check_int
from hdl.driver import MTJDriver, driver_for
from hdl.errors import NeurocimError
from hdl.geometry import (
    ceil_div,
    conversion_cycles,
    conversions,
    magnitude_bits,
    mask_cycles,
    slices,
    update_cycles,
)
from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import DropoutSpec, Network
from hdl.lfsr import LFSRError, module_offsets

__all__ = [
    "ACCUMULATE_CYCLES",
    "EVENTS",
    "READ_CYCLES",
    "DropoutMap",
    "EdgeMap",
    "LayerMap",
    "LayerSchedule",
    "MTJDriver",
    "Mapping",
    "MappingError",
    "Schedule",
    "Step",
    "adc_bound",
    "current_bits",
    "current_bound",
    "image_period_cycles",
    "layer_fill_cycles",
    "map_network",
    "output_bits",
    "sample_item_starts",
    "sample_pipeline_bound",
    "schedule",
    "signed_bits",
    "stage_links",
    "z_bound",
]

READ_CYCLES = 1
"""Cycles of the crossbar read of one step: word lines driven with the (masked) input bits of
one output position and bit-plane, bit lines settle and are sampled (all tiles at once)."""

ACCUMULATE_CYCLES = 1
"""Cycles after the last ADC code of a step: the last shift-add into the partial sums and the
adder tree over row tiles and edges into the layer's current register."""

LFSR_STEP_CYCLES = 1
"""Cycles of one leap-forward LFSR draw (input rate encoding, ``lfsr`` dropout source)."""

DEFAULT_STEP_LIMIT = 1_000_000
"""Largest number of steps :meth:`Schedule.steps` materialises without being asked to."""


class MappingError(NeurocimError, ValueError):
    """A network that cannot be mapped (unvalidated, inconsistent); the message says why."""


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


@dataclass(frozen=True, slots=True)
class DropoutMap:
    """The dropout modules of one weighted edge and the time they take to fill a mask.

    Attributes:
        p: drop probability.
        granularity: ``row`` or ``channel``.
        source: ``mtj`` or ``lfsr``.
        units: mask bits per sample: ``rows`` (row) or ``C_in`` (channel).
        modules: physical dropout modules of the edge (``DropoutSpec.modules``).
        cycles_per_dropout: clock cycles of one dropout cycle (MTJ: reset + write + sense;
            LFSR: one step).
        fill_cycles: ``ceil(units / modules) * cycles_per_dropout``.
        lfsr_width: LFSR width in bits for source ``lfsr``, else 0.
    """

    p: float
    granularity: str
    source: str
    units: int
    modules: int
    cycles_per_dropout: int
    fill_cycles: int
    lfsr_width: int


@dataclass(frozen=True, slots=True)
class EdgeMap:
    """Where one weighted edge sits on the crossbars, and the cycles of one read step.

    Attributes:
        layer: the layer the edge feeds.
        index: the edge's index in the layer's edge list.
        kind: ``linear`` or ``conv2d``.
        source: ``input`` or an earlier layer.
        weight_bits, kernel, stride, padding: from the IR (kernel 1 for linear).
        in_channels: ``C_in`` (conv2d) or ``in_features`` (linear).
        out_channels: ``C_out``.
        in_shape: shape of the source.
        rows: crossbar rows, ``in_features`` or ``C_in * k * k``.
        slices: bit-slices per polarity, ``ceil(magnitude_bits / cell_bits)``.
        phys_cols: physical columns, ``2 * slices * C_out``.
        row_tiles, col_tiles, tiles: ``ceil(rows / R)``, ``ceil(phys_cols / C)``, their product.
        adcs: ``tiles * tile_cols / columns_per_adc``.
        mux_steps: conversions each ADC makes per read, ``ceil(min(phys_cols, C) / ADCs per
            tile)`` (ADC ``a`` of a tile converts the tile's columns ``a, a + A, a + 2A, ...``).
        positions: output positions per timestep (``H_out * W_out``, or 1).
        planes: input planes per position: for an edge reading the direct-encoded input
            ``ceil(input.bits / hw.input_dac_bits)`` digit-planes (``input.bits`` bit-planes
            with 1-bit word-line drivers), else 1.
        step_cycles: ``READ_CYCLES + conv + ACCUMULATE_CYCLES`` with ``conv`` the cycles from
            the read to the last conversion, :func:`hdl.geometry.conversion_cycles` of
            ``mux_steps`` at :attr:`~hdl.hwconfig.HardwareConfig.conversion_timing`:
            ``mux_steps * (1 + adc_latency_cycles)`` (serial ADCs) or ``mux_steps +
            adc_latency_cycles`` (``adc_pipelined``).
        weights: number of weights, ``C_out * rows``.
        dropout: the edge's dropout modules, or ``None``.
        digit_bits: bits per word line and read, ``d``: ``hw.input_dac_bits`` for an edge
            reading the direct-encoded input (its word-line DACs), else 1 (spikes).
        value_bits: bits of the values the edge reads: ``input.bits`` for the direct-encoded
            input, else 1; plane ``p`` carries the digits ``(x >> (p * d)) & (2**d - 1)``.
    """

    layer: str
    index: int
    kind: str
    source: str
    weight_bits: int
    kernel: int
    stride: int
    padding: int
    in_channels: int
    out_channels: int
    in_shape: tuple[int, ...]
    rows: int
    slices: int
    phys_cols: int
    row_tiles: int
    col_tiles: int
    tiles: int
    adcs: int
    mux_steps: int
    positions: int
    planes: int
    step_cycles: int
    weights: int
    dropout: DropoutMap | None
    digit_bits: int = 1
    value_bits: int = 1

    @property
    def digit_max(self) -> tuple[int, ...]:
        """Largest digit of each plane ``p``: ``2**min(d, value_bits - p * d) - 1`` (the last
        plane of a ``d`` that does not divide ``value_bits`` holds fewer bits)."""
        d, bits = self.digit_bits, self.value_bits
        return tuple(2 ** min(d, bits - p * d) - 1 for p in range(self.planes))

    @property
    def reads_per_step(self) -> int:
        """Crossbar reads of one step (all tiles of the edge): ``row_tiles * col_tiles``."""
        return self.row_tiles * self.col_tiles

    @property
    def conversions_per_step(self) -> int:
        """ADC conversions of one step: ``row_tiles * phys_cols``."""
        return self.row_tiles * self.phys_cols

    @property
    def magnitude_bits(self) -> int:
        """Bits of a weight's magnitude (:func:`hdl.geometry.magnitude_bits`)."""
        return magnitude_bits(self.weight_bits)


@dataclass(frozen=True, slots=True)
class LayerMap:
    """One layer: its weighted edges, its neurons and the cycles of one timestep.

    Attributes:
        name, index: the layer's name and position in the file.
        out_shape: ``(C, H, W)`` or ``(N,)``.
        neurons: ``prod(out_shape)``.
        positions: ``H * W`` for a ``(C, H, W)`` layer, 1 for a flat one.
        channels: neurons per position: ``C``, or ``N`` for a flat layer.
        has_neurons: LIF neurons (``False``: the output accumulator of decoding ``membrane``).
        membrane_bits: membrane width of the neurons (0 without neurons).
        bias_bound: largest ``|bias|`` of the layer's channels; 0 when the network carries no
            biases (an architecture saved without them is mapped as if its biases were 0).
        edges: the weighted edges, in file order.
        skip_sources: sources of ``skip`` edges (added by the LIF unit, no crossbar).
        plane_cycles: cycles of the read of bit-plane ``b`` alone (one output position):
            from its read strobe to its sum, ``max_e step_cycles`` over the edges reading it.
        read_step_cycles: cycles of the read step of plane ``b`` in the schedule (word lines
            held): ``plane_cycles`` without ``hw.overlap_reads``; with it the ADC sampling
            window ``s_b = max_e mux_steps_e * interval`` (module doc), the next read
            following at once.
        sum_cycles: cycles from an output position's first read until its sum is final, ``R``:
            ``sum(plane_cycles)``, or with ``hw.overlap_reads`` ``max_b (o_b +
            plane_cycles[b])``; its update starts then. 0 without weighted edges.
        position_period: cycles from one output position's first read to the next one's,
            ``q``: ``sum_cycles + update_cycles`` (positions in turn), or with
            ``hw.overlap_reads`` ``max(sum(read_step_cycles), update_cycles)``.
        update_cycles: cycles of the LIF (or accumulator) updates of one output position,
            ``ceil(channels / lif_units)``.
    """

    name: str
    index: int
    out_shape: tuple[int, ...]
    neurons: int
    positions: int
    channels: int
    has_neurons: bool
    membrane_bits: int
    bias_bound: int
    edges: tuple[EdgeMap, ...]
    skip_sources: tuple[str, ...]
    plane_cycles: tuple[int, ...]
    read_step_cycles: tuple[int, ...]
    sum_cycles: int
    position_period: int
    update_cycles: int

    @property
    def read_offsets(self) -> tuple[int, ...]:
        """Cycle of plane ``b``'s read after the position's first: ``o_b = sum_{b' < b}
        read_step_cycles[b']``."""
        return tuple(sum(self.read_step_cycles[:b]) for b in range(len(self.read_step_cycles)))

    @property
    def position_cycles(self) -> int:
        """Cycles of one output position, from its first read to its last update:
        ``sum_cycles + update_cycles``."""
        return self.sum_cycles + self.update_cycles

    @property
    def timestep_cycles(self) -> int:
        """Cycles of the layer in one timestep: ``(positions - 1) * position_period +
        position_cycles`` (``positions * position_cycles`` without overlapped reads)."""
        return (self.positions - 1) * self.position_period + self.position_cycles

    @property
    def latch_timers(self) -> int:
        """Streamed timesteps (pipelined layers and overlapped reads): the latch timers the
        controller needs, ``max(1, ceil((sum_cycles - 1) / position_period))``, one per
        position whose reads have begun and whose currents are not latched yet."""
        return max(1, ceil_div(max(self.sum_cycles - 1, 0), self.position_period))

    @property
    def tiles(self) -> int:
        return sum(e.tiles for e in self.edges)

    @property
    def adcs(self) -> int:
        return sum(e.adcs for e in self.edges)

    @property
    def dropout_modules(self) -> int:
        return sum(e.dropout.modules for e in self.edges if e.dropout is not None)

    @property
    def weights(self) -> int:
        return sum(e.weights for e in self.edges)


@dataclass(frozen=True, slots=True)
class Mapping:
    """A whole network on the chip (see :func:`map_network`).

    Attributes:
        network: the network's name.
        hw: the hardware configuration.
        driver: the MTJ dropout drive sequence (cycles per dropout cycle).
        timesteps: ``T``.
        input_shape, input_bits, encoding: the input specification.
        input_lfsr_width: width of the input LFSR for rate coding, else 0.
        encode_cycles: cycles to encode the input spikes of one timestep: ``C * H * W`` for
            rate coding (one leap-forward LFSR draw per cycle), 0 for direct encoding.
        fill_cycles: cycles to fill all dropout masks of a sample (banks in parallel:
            the maximum over edges of their fill cycles), 0 without dropout.
        layers: the layers in file order.
        notes: warnings worth reading (possible ADC saturation, unusual inputs).
        item_starts: with ``hw.pipeline_layers``, per timestep ``t`` the start cycle of every
            stage's item ``t`` (the encoder first for rate coding, then the layers in file
            order), counted from the sample's first compute cycle (the recurrence of the
            module doc); empty without the option.
    """

    network: str
    hw: HardwareConfig
    driver: MTJDriver
    timesteps: int
    input_shape: tuple[int, ...]
    input_bits: int
    encoding: str
    input_lfsr_width: int
    encode_cycles: int
    fill_cycles: int
    layers: tuple[LayerMap, ...]
    notes: tuple[str, ...]
    item_starts: tuple[tuple[int, ...], ...] = ()

    @property
    def edges(self) -> tuple[EdgeMap, ...]:
        """All weighted edges in file order."""
        return tuple(e for layer in self.layers for e in layer.edges)

    @property
    def tiles(self) -> int:
        """Crossbar tiles of the chip (one set of tiles per edge, never shared)."""
        return sum(layer.tiles for layer in self.layers)

    @property
    def adcs(self) -> int:
        return sum(layer.adcs for layer in self.layers)

    @property
    def dropout_modules(self) -> int:
        return sum(layer.dropout_modules for layer in self.layers)

    @property
    def input_neurons(self) -> int:
        return _prod(self.input_shape)

    @property
    def input_transfer_cycles(self) -> int:
        """``pixels`` transfers of one image, ``ceil(n_in / K)`` [cycles] (``n_in`` the input
        pixels, ``K = hw.pixels_per_transfer``): the stream accepts one transfer per cycle
        while the accelerator is idle, so an inference of an image streamed in takes
        ``input_transfer_cycles + Schedule.cycles`` cycles at best (module doc, "Input")."""
        return ceil_div(self.input_neurons, self.hw.pixels_per_transfer)

    @property
    def samples_pipelined(self) -> bool:
        """Whether the Monte-Carlo samples are pipelined (module doc): ``hw.pipeline_samples``
        with ``hw.pipeline_layers``, and with dropout only with ``hw.mask_double_buffer``."""
        hw = self.hw
        if not (hw.pipeline_samples and self.item_starts):
            return False
        return self.fill_cycles == 0 or hw.mask_double_buffer

    @property
    def stage_cycles(self) -> tuple[int, ...]:
        """Cycles of one item of every stage: the encoder's ``encode_cycles`` (rate coding),
        then each layer's ``timestep_cycles``."""
        enc = (self.encode_cycles,) if self.encode_cycles else ()
        return enc + tuple(layer.timestep_cycles for layer in self.layers)

    def streams(self, layer: LayerMap) -> bool:
        """Whether ``layer``'s timesteps stream (``hw.pipeline_layers`` and
        ``hw.overlap_reads``, a layer with weighted edges, more than one timestep or the
        samples pipelined): its next item's reads begin ``positions * position_period`` cycles
        after its item's start (module doc), its reads and updates on timesteps of their own in
        the RTL."""
        items = self.timesteps > 1 or self.samples_pipelined
        if not (self.item_starts and self.hw.overlap_reads and items):
            return False
        return bool(layer.read_step_cycles)

    @property
    def compute_cycles(self) -> int:
        """Cycles of one sample after its fill, ``C = T * (encode + sum_l timestep_cycles_l)``;
        with ``hw.pipeline_layers`` the last finish of the recurrence's items,
        ``max_k (item_starts[T - 1][k] + stage_cycles[k])``."""
        if self.item_starts:
            last = self.item_starts[-1]
            return max(s + c for s, c in zip(last, self.stage_cycles, strict=True))
        per_t = self.encode_cycles + sum(layer.timestep_cycles for layer in self.layers)
        return self.timesteps * per_t

    @property
    def cycles_per_sample(self) -> int:
        """``fill + T * (encode + sum_l timestep_cycles_l)`` (one sample with its own fill)."""
        return self.fill_cycles + self.compute_cycles

    @property
    def next_fill_cycles(self) -> int:
        """Exposed fill cycles before every sample but the first of a ``start``: ``F`` (one
        fill per sample), or ``max(0, F - C)`` with ``hw.mask_double_buffer`` (the wait for
        the fill that ran while the previous sample computed)."""
        if self.hw.mask_double_buffer:
            return max(0, self.fill_cycles - self.compute_cycles)
        return self.fill_cycles

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: totals and one entry per weighted edge."""
        return {
            "network": self.network,
            "tiles": self.tiles,
            "adcs": self.adcs,
            "dropout_modules": self.dropout_modules,
            "input_transfer_cycles": self.input_transfer_cycles,
            "encode_cycles": self.encode_cycles,
            "fill_cycles": self.fill_cycles,
            "cycles_per_sample": self.cycles_per_sample,
            "layers": [
                {
                    "name": layer.name,
                    "neurons": layer.neurons,
                    "positions": layer.positions,
                    "channels": layer.channels,
                    "plane_cycles": list(layer.plane_cycles),
                    "read_step_cycles": list(layer.read_step_cycles),
                    "sum_cycles": layer.sum_cycles,
                    "position_period": layer.position_period,
                    "update_cycles": layer.update_cycles,
                    "timestep_cycles": layer.timestep_cycles,
                    "edges": [
                        {
                            "index": e.index,
                            "kind": e.kind,
                            "source": e.source,
                            "rows": e.rows,
                            "phys_cols": e.phys_cols,
                            "row_tiles": e.row_tiles,
                            "col_tiles": e.col_tiles,
                            "tiles": e.tiles,
                            "adcs": e.adcs,
                            "mux_steps": e.mux_steps,
                            "planes": e.planes,
                            "step_cycles": e.step_cycles,
                            "dropout": None
                            if e.dropout is None
                            else {
                                "units": e.dropout.units,
                                "modules": e.dropout.modules,
                                "source": e.dropout.source,
                                "cycles_per_dropout": e.dropout.cycles_per_dropout,
                                "fill_cycles": e.dropout.fill_cycles,
                            },
                        }
                        for e in layer.edges
                    ],
                }
                for layer in self.layers
            ],
            "notes": list(self.notes),
        }


@lru_cache(maxsize=64)
def _dropout_cycles(driver: MTJDriver, clock_mhz: float) -> int:
    return driver.cycles_per_dropout_cycle(clock_mhz)


def _check_hw(hw: object) -> HardwareConfig:
    if not isinstance(hw, HardwareConfig):
        raise HardwareError(f"hardware must be an hdl.hwconfig.HardwareConfig, got {hw!r}")
    return hw


def _check_samples(samples: object) -> int:
    return check_int(samples, "samples (Monte-Carlo samples)", 1)


def map_network(net: Network, hw: HardwareConfig, driver: MTJDriver | None = None) -> Mapping:
    """Map every weighted edge of ``net`` onto crossbar tiles of ``hw`` (closed form).

    Args:
        net: a validated network (:meth:`hdl.ir.Network.validate` or
            :func:`hdl.ir.load_network`); weights are not needed.
        hw: the hardware configuration.
        driver: the MTJ dropout drive sequence; default: the one the network was trained with
            (``net.mtj_driver``), else :class:`MTJDriver` ``()``.

    Raises:
        HardwareError: ``hw`` is not a :class:`~hdl.hwconfig.HardwareConfig`.
        MappingError: an edge reads an unknown source or a shape does not fit its kind, or
            an LFSR dropout source is too narrow for its modules (the message names the edge,
            the width needed and the fix).

    A layer that no edge reads (other than the output layer, and other than through ``zero``
    edges) is legal, but built and scheduled for nothing: :attr:`Mapping.notes` says so.
    """
    hw = _check_hw(hw)
    driver = driver_for(net, driver)
    inp = net.input
    shapes: dict[str, tuple[int, ...]] = {"input": tuple(inp.shape)}
    adcs_per_tile = hw.adcs_per_tile
    first, interval = hw.conversion_timing
    direct = inp.encoding == "direct"
    mtj_cycles = _dropout_cycles(driver, hw.clock_mhz)
    notes: list[str] = []
    layers: list[LayerMap] = []
    fill = 0
    n_dropout = sum(e.weighted and e.dropout is not None for la in net.layers for e in la.edges)
    dropout_ordinal = 0
    for li, layer in enumerate(net.layers):
        out_shape = tuple(layer.out_shape)
        if len(out_shape) == 3:
            channels, positions = out_shape[0], out_shape[1] * out_shape[2]
        else:
            channels, positions = out_shape[0], 1
        edges: list[EdgeMap] = []
        skips: list[str] = []
        for ei, edge in enumerate(layer.edges):
            where = f"layer {layer.name!r}.edges[{ei}]"
            if edge.source not in shapes:
                raise MappingError(
                    f"{where}.source {edge.source!r} is not 'input' or an earlier layer; "
                    "validate the network first (Network.validate())"
                )
            in_shape = shapes[edge.source]
            if edge.kind == "skip":
                skips.append(edge.source)
                if edge.source == "input" and direct and inp.bits > 1:
                    notes.append(
                        f"{where}: a skip edge from the direct-encoded input adds the "
                        f"{inp.bits}-bit pixel values (not spikes) to the current"
                    )
                continue
            if edge.kind not in ("linear", "conv2d"):
                continue  # zero edges cost nothing
            if edge.kind == "conv2d":
                if len(in_shape) != 3 or len(out_shape) != 3:
                    raise MappingError(
                        f"{where}: conv2d needs (C, H, W) shapes, got {in_shape} -> {out_shape}"
                    )
                c_in, k = in_shape[0], edge.kernel
                rows = c_in * k * k
                kernel, stride, padding = k, edge.stride, edge.padding
            else:
                if len(out_shape) != 1:
                    raise MappingError(
                        f"{where}: a linear edge needs a flat layer, got {out_shape}"
                    )
                c_in = rows = _prod(in_shape)
                kernel, stride, padding = 1, 1, 0
            bits = edge.weight_bits
            n_slices = slices(bits, hw.cell_bits)
            phys_cols = 2 * n_slices * channels
            row_tiles = ceil_div(rows, hw.tile_rows)
            col_tiles = ceil_div(phys_cols, hw.tile_cols)
            tiles = row_tiles * col_tiles
            mux_steps = conversions(min(phys_cols, hw.tile_cols), adcs_per_tile)
            reads_pixels = edge.source == "input" and direct
            digit_bits = hw.input_dac_bits if reads_pixels else 1
            value_bits = inp.bits if reads_pixels else 1
            planes = hw.input_planes(inp.bits) if reads_pixels else 1
            dmap = None
            spec = edge.dropout
            if spec is not None:
                units = c_in if (spec.granularity == "channel" and edge.kind == "conv2d") else rows
                if spec.source == "mtj":
                    per, width = mtj_cycles, 0
                else:
                    _check_lfsr_modules(f"{where}.dropout", spec, dropout_ordinal, n_dropout)
                    per, width = LFSR_STEP_CYCLES, spec.lfsr.width if spec.lfsr else 16
                dropout_ordinal += 1
                dfill = mask_cycles(units, spec.modules) * per
                dmap = DropoutMap(
                    p=float(spec.p),
                    granularity=spec.granularity,
                    source=spec.source,
                    units=units,
                    modules=spec.modules,
                    cycles_per_dropout=per,
                    fill_cycles=dfill,
                    lfsr_width=width,
                )
                fill = max(fill, dfill)
                if spec.modules > units:
                    notes.append(
                        f"{where}: {spec.modules} dropout modules for {units} mask units; "
                        f"{spec.modules - units} are never used"
                    )
            slice_max = 2 ** min(hw.cell_bits, magnitude_bits(bits)) - 1
            peak = min(rows, hw.tile_rows) * slice_max * (2 ** min(digit_bits, value_bits) - 1)
            if peak > hw.adc_max:
                notes.append(
                    f"{where}: a column sum can reach {peak} > ADC maximum {hw.adc_max} "
                    f"(adc_bits {hw.adc_bits}): saturation possible"
                )
            edges.append(
                EdgeMap(
                    layer=layer.name,
                    index=ei,
                    kind=edge.kind,
                    source=edge.source,
                    weight_bits=bits,
                    kernel=kernel,
                    stride=stride,
                    padding=padding,
                    in_channels=c_in,
                    out_channels=channels,
                    in_shape=in_shape,
                    rows=rows,
                    slices=n_slices,
                    phys_cols=phys_cols,
                    row_tiles=row_tiles,
                    col_tiles=col_tiles,
                    tiles=tiles,
                    adcs=tiles * adcs_per_tile,
                    mux_steps=mux_steps,
                    positions=positions,
                    planes=planes,
                    step_cycles=READ_CYCLES
                    + conversion_cycles(mux_steps, first, interval)
                    + ACCUMULATE_CYCLES,
                    weights=channels * rows,
                    dropout=dmap,
                    digit_bits=digit_bits,
                    value_bits=value_bits,
                )
            )
        n_planes = max((e.planes for e in edges), default=0)
        plane_cycles = tuple(
            max(e.step_cycles for e in edges if e.planes > b) for b in range(n_planes)
        )
        n_updates = update_cycles(channels, hw.lif_units)
        read_steps = plane_cycles
        sum_cycles = sum(plane_cycles)
        period = sum_cycles + n_updates
        if hw.overlap_reads:
            read_steps = tuple(
                max(e.mux_steps for e in edges if e.planes > b) * interval for b in range(n_planes)
            )
            offsets = [sum(read_steps[:b]) for b in range(n_planes)]
            sum_cycles = max((o + c for o, c in zip(offsets, plane_cycles, strict=True)), default=0)
            period = max(sum(read_steps), n_updates)
        neuron = layer.neuron
        layers.append(
            LayerMap(
                name=layer.name,
                index=li,
                out_shape=out_shape,
                neurons=channels * positions,
                positions=positions,
                channels=channels,
                has_neurons=neuron is not None,
                membrane_bits=0 if neuron is None else neuron.membrane_bits,
                bias_bound=0 if layer.bias is None else max(abs(int(b)) for b in layer.bias),
                edges=tuple(edges),
                skip_sources=tuple(skips),
                plane_cycles=plane_cycles,
                read_step_cycles=read_steps,
                sum_cycles=sum_cycles,
                position_period=period,
                update_cycles=n_updates,
            )
        )
        shapes[layer.name] = out_shape
    notes.extend(_dead_ends(net, layers))
    rate = inp.encoding == "rate"
    encode = _prod(tuple(inp.shape)) * LFSR_STEP_CYCLES if rate else 0
    starts = _pipeline_starts(layers, net.timesteps, encode) if hw.pipeline_layers else ()
    return Mapping(
        network=net.name,
        hw=hw,
        driver=driver,
        timesteps=net.timesteps,
        input_shape=tuple(inp.shape),
        input_bits=inp.bits,
        encoding=inp.encoding,
        input_lfsr_width=inp.lfsr.width if rate else 0,
        encode_cycles=encode,
        fill_cycles=fill,
        layers=tuple(layers),
        notes=tuple(notes),
        item_starts=starts,
    )


def stage_links(
    layers: tuple[LayerMap, ...] | list[LayerMap], rate: bool
) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """The pipeline's stages (the encoder first for ``rate`` coding, then the layers) and per
    stage the stages whose spikes it reads (``producers``: its weighted and skip edges'
    sources; the direct input is no stage) and those that read its spikes (``consumers``).
    Returns ``(producers, consumers)`` indexed by stage."""
    base = 1 if rate else 0
    index = {"input": 0} if rate else {}
    index.update({lm.name: base + k for k, lm in enumerate(layers)})
    producers: list[tuple[int, ...]] = [()] * base
    for lm in layers:
        names = {e.source for e in lm.edges} | set(lm.skip_sources)
        producers.append(tuple(sorted(index[n] for n in names if n in index)))
    consumers = tuple(
        tuple(k for k, ps in enumerate(producers) if j in ps) for j in range(len(producers))
    )
    return tuple(producers), consumers


def _pipeline_starts(
    layers: list[LayerMap], timesteps: int, encode: int
) -> tuple[tuple[int, ...], ...]:
    """The start cycles of the pipelined items (module doc): ``T * stages`` integer steps."""
    producers, consumers = stage_links(layers, encode > 0)
    cycles = ((encode,) if encode else ()) + tuple(lm.timestep_cycles for lm in layers)
    # condition (a): the stage's next item may start this long after the previous one (its
    # read stream, P * q, with overlapped reads; the whole item without: P * (R + G) = c)
    strides = ((encode,) if encode else ()) + tuple(
        lm.positions * lm.position_period for lm in layers
    )
    return _item_starts(
        cycles,
        producers,
        consumers,
        timesteps,
        lambda k, u, starts, finish: starts[u - 1][k] + strides[k] if u else 0,
    )


def _item_starts(
    cycles: tuple[int, ...],
    producers: tuple[tuple[int, ...], ...],
    consumers: tuple[tuple[int, ...], ...],
    items: int,
    own: Callable[[int, int, list, list], int],
) -> tuple[tuple[int, ...], ...]:
    """The recurrence of pipelined stages (module doc) over ``items`` items: item ``(k, u)``
    starts at ``max(own(k, u, starts, finish), max_{p in src(k)} f(p, u), max_{j in dst(k)}
    f(j, u - 2))`` and finishes ``cycles[k]`` later; ``own`` gives the stage's own conditions
    (its previous item, and for pipelined samples its masks and outputs) from the starts and
    finishes of the earlier items. ``items * stages`` integer steps."""
    n = len(cycles)
    finish: list[list[int]] = []  # finish[u][k]
    starts: list[tuple[int, ...]] = []
    for u in range(items):
        row = [0] * n
        begin = [0] * n
        for k in range(n):
            at = own(k, u, starts, finish)
            for p in producers[k]:
                at = max(at, row[p])
            if u >= 2:
                for c in consumers[k]:
                    at = max(at, finish[u - 2][c])
            begin[k] = at
            row[k] = at + cycles[k]
        finish.append(row)
        starts.append(tuple(begin))
    return tuple(starts)


def layer_fill_cycles(layer: LayerMap) -> int:
    """``F_l``: the fill cycles of a layer's masks, the largest of its edges with dropout (0
    without)."""
    return max((e.dropout.fill_cycles for e in layer.edges if e.dropout is not None), default=0)


def _last_finish(mapping: Mapping, starts: tuple[tuple[int, ...], ...]) -> int:
    """The last finish ``max_k f(k, u)`` over the last item of ``starts``."""
    return max(s + c for s, c in zip(starts[-1], mapping.stage_cycles, strict=True))


@lru_cache(maxsize=256)
def sample_item_starts(mapping: Mapping, samples: int) -> tuple[tuple[int, ...], ...]:
    """Pipelined samples (module doc): per item ``u = m * T + t`` of a ``start`` of
    ``samples`` samples the start cycle of every stage's item (the encoder first for rate
    coding, then the layers), counted from the first compute cycle (after the first fill):
    ``samples * T * stages`` integer steps, cached per ``(mapping, samples)``.

    Raises:
        MappingError: the samples are not pipelined (:attr:`Mapping.samples_pipelined`).
    """
    samples = _check_samples(samples)
    if not mapping.samples_pipelined:
        raise MappingError(
            "sample_item_starts needs pipelined samples: hardware.pipeline_samples and "
            "pipeline_layers (and mask_double_buffer when the network has dropout)"
        )
    layers = mapping.layers
    T = mapping.timesteps
    enc = mapping.encode_cycles
    base = 1 if enc else 0
    producers, consumers = stage_links(layers, enc > 0)
    cycles = mapping.stage_cycles
    n = len(cycles)
    # condition (a): a streamed layer's next item this long after its item's start, every
    # other stage (the encoder, a layer without reads) when its item has finished
    strides = [
        lm.positions * lm.position_period if mapping.streams(lm) else lm.timestep_cycles
        for lm in layers
    ]
    strides = ([enc] if enc else []) + strides
    out = n - 1  # the output layer
    fills = [0] * base + [layer_fill_cycles(lm) for lm in layers]

    def own(k: int, u: int, starts: list, finish: list) -> int:
        t = u % T
        at = 0
        if fills[k] and t == 0 and u:  # (d): this sample's masks, filled after the last's
            at = starts[u - T][k] + fills[k]
        if u:  # (a), the output layer at a sample's first item after its previous item
            prev = finish[u - 1][k] if k == out and t == 0 else starts[u - 1][k] + strides[k]
            at = max(at, prev)
        return at

    return _item_starts(cycles, producers, consumers, samples * T, own)


def _check_lfsr_modules(where: str, spec: DropoutSpec, edge: int, edges: int) -> None:
    """Refuse an LFSR dropout source too narrow for its modules (:func:`hdl.lfsr.module_offsets`:
    the modules' starts would lie closer than one draw, so their draws would overlap)."""
    assert spec.lfsr is not None  # DropoutSpec gives source "lfsr" a default LFSR
    try:
        module_offsets(spec.lfsr.width, spec.modules, edge, edges)
    except LFSRError as err:
        raise MappingError(f"{where}.lfsr.width {spec.lfsr.width} is too narrow: {err}") from err


def _dead_ends(net: Network, layers: list[LayerMap]) -> list[str]:
    """A note per layer (other than the output) whose spikes no edge reads (``zero`` edges
    read nothing): it is built and scheduled, but never affects the output."""
    read = {e.source for layer in net.layers for e in layer.edges if e.kind != "zero"}
    return [
        f"layer {lm.name!r} is read by no edge and is not the output: its {lm.neurons} neurons "
        f"cost {lm.timestep_cycles} cycles per timestep, tiles and energy for nothing; remove it "
        "or feed it into a later layer"
        for lm in layers[:-1]
        if lm.name not in read
    ]


# --- register widths -------------------------------------------------------------------------


def signed_bits(bound: int) -> int:
    """The fewest bits of a two's-complement register holding every integer in ``-bound ..
    bound``: ``bit_length(bound) + 1`` (``w`` bits hold ``-2**(w-1) .. 2**(w-1) - 1``)."""
    return check_int(bound, "bound", 0).bit_length() + 1


def z_bound(edge: EdgeMap, hw: HardwareConfig) -> int:
    """The largest ``|z[o]|`` of a weighted edge: the bound every width after the ADCs uses.

    With ``R = hw.tile_rows``, ``cb = hw.cell_bits``, row tile ``k`` holding ``R_k`` rows
    (``R``, the last one ``rows - (row_tiles - 1) * R``), slice ``j`` of a magnitude of
    ``mb = magnitude_bits`` bits at most ``d_j = 2**min(cb, mb - j*cb) - 1`` and the ADC's full
    scale ``adc_max = 2**adc_bits - 1``::

        |z| <= sum_p 2**(p*dig) * sum_k sum_j 2**(j*cb) * min(adc_max, R_k * d_j * D_p)

    since ``z = sum_p 2**(p*dig) z_p`` over the input planes (``dig = edge.digit_bits``,
    plane ``p``'s digits at most ``D_p`` = :attr:`EdgeMap.digit_max`; one plane of 0/1 spikes
    for a spike input) and every code of ``z_p`` is in ``0 .. min(adc_max, R_k * d_j * D_p)``
    (at most ``R_k`` inputs of ``D_p`` on cells of at most ``d_j``), the ``+`` and ``-`` codes
    of one column pair having the same range. The bound is reached by an edge with all weights
    ``+w_max`` and all inputs at their maximum, so it is tight. With 1-bit drivers
    (``D_p = 1``) it is ``(2**planes - 1) * sum_k sum_j ...``, and without saturation
    (``R_k * d_j * D_p <= adc_max``) ``x_max * rows * w_max``.
    """
    mb, cb, r = edge.magnitude_bits, hw.cell_bits, hw.tile_rows
    digits = [2 ** min(cb, mb - j * cb) - 1 for j in range(edge.slices)]
    full, last = divmod(edge.rows, r)
    tiles = [(full, r)] + ([(1, last)] if last else [])

    def tile_bound(rows: int, top: int) -> int:
        return sum(2 ** (j * cb) * min(hw.adc_max, rows * d * top) for j, d in enumerate(digits))

    dig = edge.digit_bits
    return sum(
        2 ** (p * dig) * sum(n * tile_bound(rows, top) for n, rows in tiles)
        for p, top in enumerate(edge.digit_max)
    )


def _skip_bound(source: str, mapping: Mapping) -> int:
    """Largest value a skip edge adds: a spike (1), or a pixel of the direct-encoded input."""
    direct = source == "input" and mapping.encoding == "direct"
    return 2**mapping.input_bits - 1 if direct else 1


def current_bound(layer: LayerMap, mapping: Mapping) -> int:
    """The largest ``|I|`` of a layer's current ``I[o] = sum_edges z[o] + bias[o] + skip[o]``.

    ``sum_e z_bound(e) + bias_bound + sum_skips s_max`` with ``s_max = 2**input_bits - 1`` for a
    skip from the direct-encoded input (it adds the pixel values) and 1 for spikes. A network
    without biases (an architecture) is bounded as if they were 0 (:attr:`LayerMap.bias_bound`).
    """
    skips = sum(_skip_bound(s, mapping) for s in layer.skip_sources)
    return sum(z_bound(e, mapping.hw) for e in layer.edges) + layer.bias_bound + skips


def current_bits(layer: LayerMap, mapping: Mapping) -> int:
    """Signed width of a layer's current register (the RTL's and the cost model's):
    ``signed_bits(current_bound(layer, mapping))``.

    It may be narrower than ``membrane_bits``: the LIF unit sign-extends ``I`` before
    ``v + I`` and saturates the membrane itself.
    """
    return signed_bits(current_bound(layer, mapping))


def output_bits(mapping: Mapping) -> int:
    """Width of one output of the ``counts`` port: an unsigned spike count ``0 .. T``
    (decoding ``count``), or the signed sum ``y = sum_t I`` of the output accumulator
    (decoding ``membrane``), ``signed_bits(T * current_bound(last layer))``."""
    last = mapping.layers[-1]
    if last.has_neurons:
        return max(1, mapping.timesteps.bit_length())
    return signed_bits(mapping.timesteps * current_bound(last, mapping))


# --- the schedule ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the explicit schedule (see :meth:`Schedule.steps`).

    Attributes:
        kind: ``fill`` (dropout masks of a sample; with ``hw.mask_double_buffer`` the first
            sample's fill and, for the others, the wait for the fill running in the
            background, see :attr:`Mapping.next_fill_cycles`), ``encode`` (input spikes of a
            timestep, rate coding), ``read`` (crossbar read, ADC conversions and accumulation of all
            tiles of a layer for one output position and bit-plane) or ``update`` (LIF or
            output-accumulator updates of one output position).
        sample, timestep: indices (``timestep`` is -1 for ``fill``).
        layer: the layer's name (empty for ``fill`` and ``encode``).
        position: output position ``y * W + x`` (0 for flat layers; -1 if not applicable).
        plane: input bit-plane (digit-plane with ``hw.input_dac_bits > 1``) of a ``read``
            step (-1 otherwise).
        cycles: clock cycles of the step. With ``hw.overlap_reads`` a read step lasts its
            ADC sampling window (:attr:`LayerMap.read_step_cycles`; its codes arrive during
            the following cycles) and steps overlap: an update runs while the next positions
            are read, and a layer's cycles may hold no step (waiting for a sum).
        start: the cycle the step begins, counted from the first ``busy`` cycle of the
            inference: the steps are listed by ``start``; without ``hw.overlap_reads`` and
            ``hw.pipeline_layers`` each begins where the previous one ends (with pipelined
            layers the steps of different layers and timesteps overlap, each item's from its
            start in :attr:`Mapping.item_starts`).
    """

    kind: str
    sample: int
    timestep: int
    layer: str
    position: int
    plane: int
    cycles: int
    start: int


@dataclass(frozen=True, slots=True)
class LayerSchedule:
    """Cycles and event counts of one layer over the whole inference (all samples).

    Attributes:
        name: the layer.
        cycles: ``samples * T * timestep_cycles`` (the layer's read and update steps; the
            dropout fill is counted once per sample in :attr:`Schedule.fill_cycles`).
        fill_cycles: this layer's own mask-fill time per sample (its banks run in parallel
            with those of other layers).
        crossbar_reads, adc_conversions, lif_updates, dropout_samples: docs section 5.
        accumulator_updates: output-accumulator updates (layer without neurons), else 0.
        buffer_bits_read: spike (or pixel bit) buffer bits read onto word lines:
            ``samples * T * sum_e planes * positions * rows * digit_bits``.
    """

    name: str
    cycles: int
    fill_cycles: int
    crossbar_reads: int
    adc_conversions: int
    lif_updates: int
    dropout_samples: int
    accumulator_updates: int
    buffer_bits_read: int


EVENTS = ("crossbar_reads", "adc_conversions", "lif_updates", "dropout_samples")
"""The counted events of docs/hardware-model.md section 5, in the order of the RTL's ``ev_*``
counters (``spikes`` are data dependent and not counted by the schedule)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """The static schedule of one inference of ``samples`` Monte-Carlo samples.

    Attributes:
        mapping: the mapping it schedules.
        samples: Monte-Carlo samples ``M``.
        layers: per-layer cycles and events.
        fill_cycles: the exposed mask-fill cycles: ``samples * F`` (``F =
            mapping.fill_cycles``), or ``F + (samples - 1) * max(0, F - C)`` with
            ``hw.mask_double_buffer`` (``C = mapping.compute_cycles``; the fills behind the
            compute of the previous sample cost no cycle).
        encode_cycles: all input encodings: ``samples * T * mapping.encode_cycles``.
        cycles: the exact cycle count of the inference: ``fill_cycles + samples *
            mapping.compute_cycles``, which is ``fill_cycles + encode_cycles +
            sum(layer.cycles)`` unless the layers are pipelined (``hw.pipeline_layers``: they
            overlap).
        lfsr_steps: LFSR draws of input rate coding (``samples * T * C * H * W``), else 0.
    """

    mapping: Mapping
    samples: int
    layers: tuple[LayerSchedule, ...]
    fill_cycles: int
    encode_cycles: int
    cycles: int
    lfsr_steps: int

    @property
    def seconds(self) -> float:
        """Latency of the inference at the hardware clock [s]: ``cycles / (clock_mhz * 1e6)``."""
        return self.cycles / (self.mapping.hw.clock_mhz * 1e6)

    @property
    def events(self) -> dict[str, int]:
        """Totals of the docs section 5 events (``spikes`` are data dependent: not predicted)."""
        return {name: sum(getattr(row, name) for row in self.layers) for name in EVENTS}

    def iter_steps(self) -> Iterator[Step]:
        """Yield every step of the inference by its start cycle (lazy; any size; the steps of
        one layer and timestep are merged from its reads and its updates, and with pipelined
        layers those of all items of a sample, ties in timestep, stage and step order)."""
        m = self.mapping
        clock = 0
        if m.samples_pipelined:  # one fill, then every item of every sample from its start
            if m.fill_cycles:
                yield Step("fill", 0, -1, "", -1, -1, m.fill_cycles, 0)
            starts = sample_item_starts(m, self.samples)
            yield from _pipelined_steps(m, starts, m.fill_cycles)
            return
        for sample in range(self.samples):
            fill = m.next_fill_cycles if sample else m.fill_cycles
            if fill:
                yield Step("fill", sample, -1, "", -1, -1, fill, clock)
                clock += fill
            if m.item_starts:  # pipelined layers: every item from its start in the recurrence
                yield from _pipelined_steps(m, m.item_starts, clock, sample)
                clock += m.compute_cycles
                continue
            for t in range(m.timesteps):
                if m.encode_cycles:
                    yield Step("encode", sample, t, "", -1, -1, m.encode_cycles, clock)
                    clock += m.encode_cycles
                for layer in m.layers:
                    yield from heapq.merge(
                        _reads(layer, sample, t, clock),
                        _updates(layer, sample, t, clock),
                        key=lambda step: step.start,
                    )
                    clock += layer.timestep_cycles

    def step_count(self) -> int:
        """Number of steps :meth:`iter_steps` yields (closed form)."""
        m = self.mapping
        per_t = sum(layer.positions * (len(layer.plane_cycles) + 1) for layer in m.layers)
        per_t += 1 if m.encode_cycles else 0
        fills = (1 if m.fill_cycles else 0) + (self.samples - 1) * (1 if m.next_fill_cycles else 0)
        if m.samples_pipelined:
            fills = 1 if m.fill_cycles else 0
        return fills + self.samples * m.timesteps * per_t

    def steps(self, limit: int = DEFAULT_STEP_LIMIT) -> list[Step]:
        """The explicit step list, for small networks (tests, RTL traces).

        Raises:
            ValueError: the list would hold more than ``limit`` steps (use :meth:`iter_steps`
                or the closed-form totals instead).
        """
        n = self.step_count()
        if n > limit:
            raise ValueError(
                f"the schedule has {n} steps, more than limit={limit}; iterate with "
                "iter_steps() or use the closed-form totals (cycles, events)"
            )
        return list(self.iter_steps())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready totals and per-layer rows."""
        return {
            "samples": self.samples,
            "timesteps": self.mapping.timesteps,
            "cycles": self.cycles,
            "seconds": self.seconds,
            "fill_cycles": self.fill_cycles,
            "encode_cycles": self.encode_cycles,
            "events": self.events,
            "layers": [
                {
                    "name": r.name,
                    "cycles": r.cycles,
                    "fill_cycles": r.fill_cycles,
                    "crossbar_reads": r.crossbar_reads,
                    "adc_conversions": r.adc_conversions,
                    "lif_updates": r.lif_updates,
                    "dropout_samples": r.dropout_samples,
                    "accumulator_updates": r.accumulator_updates,
                    "buffer_bits_read": r.buffer_bits_read,
                }
                for r in self.layers
            ],
        }


def _pipelined_steps(
    m: Mapping, starts: tuple[tuple[int, ...], ...], clock: int, first: int = 0
) -> Iterator[Step]:
    """The steps of the items ``starts`` (per item ``u`` the stages' starts: one sample's
    :attr:`Mapping.item_starts`, or all samples' :func:`sample_item_starts`), sample ``first +
    u // T`` and timestep ``u mod T``, counted from ``clock``, merged by start."""
    base = 1 if m.encode_cycles else 0
    T = m.timesteps
    streams: list[Iterator[Step]] = []
    for u, row in enumerate(starts):
        sample, t = first + u // T, u % T
        if base:
            streams.append(
                iter([Step("encode", sample, t, "", -1, -1, m.encode_cycles, clock + row[0])])
            )
        for k, layer in enumerate(m.layers):
            at = clock + row[base + k]
            streams.append(_reads(layer, sample, t, at))
            streams.append(_updates(layer, sample, t, at))
    return heapq.merge(*streams, key=lambda step: step.start)


def _reads(layer: LayerMap, sample: int, t: int, begin: int) -> Iterator[Step]:
    """The read steps of ``layer`` in timestep ``t`` from cycle ``begin``: plane ``b`` of
    position ``p`` at ``p * position_period + read_offsets[b]``."""
    offsets = layer.read_offsets
    for pos in range(layer.positions):
        at = begin + pos * layer.position_period
        for b, c in enumerate(layer.read_step_cycles):
            yield Step("read", sample, t, layer.name, pos, b, c, at + offsets[b])


def _updates(layer: LayerMap, sample: int, t: int, begin: int) -> Iterator[Step]:
    """The update steps of ``layer``: position ``p``'s at ``p * position_period +
    sum_cycles``."""
    for pos in range(layer.positions):
        at = begin + pos * layer.position_period + layer.sum_cycles
        yield Step("update", sample, t, layer.name, pos, -1, layer.update_cycles, at)


def schedule_mapping(mapping: Mapping, samples: int = 1) -> Schedule:
    """The :class:`Schedule` of an existing :class:`Mapping` (closed form)."""
    samples = _check_samples(samples)
    runs = samples * mapping.timesteps
    rows: list[LayerSchedule] = []
    for layer in mapping.layers:
        cycles = runs * layer.timestep_cycles
        reads = adc = bits = units = 0
        lfill = 0
        for e in layer.edges:
            steps = e.planes * e.positions
            reads += steps * e.reads_per_step
            adc += steps * e.conversions_per_step
            bits += steps * e.rows * e.digit_bits
            if e.dropout is not None:
                units += e.dropout.units
                lfill = max(lfill, e.dropout.fill_cycles)
        rows.append(
            LayerSchedule(
                name=layer.name,
                cycles=cycles,
                fill_cycles=lfill,
                crossbar_reads=runs * reads,
                adc_conversions=runs * adc,
                lif_updates=runs * layer.neurons if layer.has_neurons else 0,
                dropout_samples=samples * units,
                accumulator_updates=0 if layer.has_neurons else runs * layer.neurons,
                buffer_bits_read=runs * bits,
            )
        )
    fill = mapping.fill_cycles + (samples - 1) * mapping.next_fill_cycles
    busy = fill + samples * mapping.compute_cycles
    if mapping.samples_pipelined:  # one exposed fill, the samples' items overlapping
        fill = mapping.fill_cycles
        busy = fill + _last_finish(mapping, sample_item_starts(mapping, samples))
    encode = runs * mapping.encode_cycles
    return Schedule(
        mapping=mapping,
        samples=samples,
        layers=tuple(rows),
        fill_cycles=fill,
        encode_cycles=encode,
        cycles=busy,
        lfsr_steps=runs * mapping.input_neurons if mapping.encoding == "rate" else 0,
    )


def schedule(
    net: Network, hw: HardwareConfig, samples: int = 1, driver: MTJDriver | None = None
) -> Schedule:
    """The static schedule of one inference of ``net`` on ``hw`` with ``samples`` MC samples.

    ``schedule(...).cycles`` is the exact number of clock cycles the generated controller
    takes (docs/cost-model.md, "Schedule"); the event counts follow docs/hardware-model.md
    section 5.
    """
    samples = _check_samples(samples)
    return schedule_mapping(map_network(net, hw, driver), samples)


def image_period_cycles(mapping: Mapping, samples: int = 1) -> int:
    """Cycles per image of back-to-back inferences of ``samples`` samples, at best (module doc,
    "Input"): ``max(J, B)`` with ``hw.stream_while_busy`` (image ``n + 1``'s ``J =
    input_transfer_cycles`` transfers while image ``n`` is busy for ``B = Schedule.cycles``),
    ``J + B`` without (the stream waits while busy)."""
    samples = _check_samples(samples)
    busy = schedule_mapping(mapping, samples).cycles
    transfers = mapping.input_transfer_cycles
    if mapping.hw.stream_while_busy:
        return max(transfers, busy)
    return transfers + busy


def sample_pipeline_bound(mapping: Mapping, samples: int = 1) -> int:
    """Cycles of one inference if the Monte-Carlo samples were pipelined like the timesteps,
    at best (``hw.pipeline_samples`` schedules them so, with the masks' and the outputs'
    conditions: never fewer cycles, :func:`sample_item_starts`): the
    recurrence of pipelined layers (module doc) over ``samples * T`` items, the membranes
    reset in place at each sample's first timestep, the masks' fill double-buffered and free
    but for its ``F`` cycles per sample, the outputs' handshake free::

        bound = max(F + max_k f(k, samples * T - 1), max_l (F + (samples - 1) * F_l + c_l))

    (``f`` the items' finish cycles; ``F_l`` = :func:`layer_fill_cycles` and ``c_l`` the item
    cycles of a layer with dropout: its masks of sample ``m`` cannot be filled before ``F + m *
    F_l``, its sources filling one sample at a time, and its last item takes ``c_l``; the stages
    without dropout need not wait for masks). Needs ``hw.pipeline_layers``; what sample
    pipelining could save is ``Schedule.cycles - bound``."""
    samples = _check_samples(samples)
    if not mapping.item_starts:
        raise MappingError(
            "sample_pipeline_bound needs pipelined layers: set hardware.pipeline_layers = true"
        )
    items = samples * mapping.timesteps
    starts = _pipeline_starts(list(mapping.layers), items, mapping.encode_cycles)
    last = max(s + c for s, c in zip(starts[-1], mapping.stage_cycles, strict=True))
    fill = mapping.fill_cycles
    masks = [
        fill + (samples - 1) * layer_fill_cycles(lm) + lm.timestep_cycles
        for lm in mapping.layers
        if layer_fill_cycles(lm)
    ]
    return max([fill + last, *masks])


def adc_bound(mapping: Mapping, samples: int = 1) -> int:
    """The ADC bound [cycles]: what one inference would take if every ADC converted one column
    every cycle and nothing else (read, ADC latency, accumulation, updates, mask fill,
    encoding) cost a cycle::

        adc_bound = samples * T * sum_l P_l * sum_{b < B_l} max_{e in l, planes_e > b} mux_steps_e

    the conversions per ADC of every read step, the edges of a layer converting in parallel. A
    schedule with the layers in turn never takes fewer cycles (each read step lasts at least
    ``mux_steps`` cycles); ``Schedule.cycles / adc_bound`` says how far the chip is from
    converting every cycle. With ``hw.pipeline_layers`` the ADCs of different layers convert at
    the same time and the ratio may be below 1.
    """
    samples = _check_samples(samples)
    per_t = sum(
        layer.positions
        * sum(
            max(e.mux_steps for e in layer.edges if e.planes > b)
            for b in range(len(layer.plane_cycles))
        )
        for layer in mapping.layers
    )
    return samples * mapping.timesteps * per_t
