"""Hardware configuration of a neurocim accelerator: crossbar tiles, cells, ADCs, LIF units, clock.

These are the knobs of the chip, separate from the network (IR) it runs. Units in the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.checks import check_int
from hdl.errors import NeurocimError

__all__ = ["HardwareConfig", "HardwareError"]


class HardwareError(NeurocimError, ValueError):
    """An invalid hardware configuration; the message names the field and the allowed range."""


@dataclass(frozen=True)
class HardwareConfig:
    """The accelerator's physical parameters.

    Attributes:
        tile_rows: word lines (rows) of one crossbar tile, R.
        tile_cols: bit lines (columns) of one crossbar tile.
        cell_bits: bits stored per crossbar cell; weights are bit-sliced across columns.
        adc_bits: ADC resolution; a column sum saturates at ``2**adc_bits - 1``.
        columns_per_adc: columns multiplexed onto one ADC (converted one after another).
        lif_units: parallel LIF update units, time-multiplexed over the neurons.
        clock_mhz: clock frequency of the digital logic [MHz].
        adc_latency_cycles: cycles from the read strobe to a valid ADC code.
        adc_pipelined: ``False``: an ADC converts its columns one after another,
            each conversion taking ``1 + adc_latency_cycles`` cycles, so conversion ``s`` of a
            read is valid ``(s + 1) * (1 + adc_latency_cycles)`` cycles after it. ``True``: a
            pipelined ADC (a sample-and-hold and a pipeline register per ADC) starts a new
            conversion every cycle, its latency hidden behind the next, so conversion ``s`` is
            valid ``s + 1 + adc_latency_cycles`` cycles after the read (the default). It changes
            the cycles of a read step (:attr:`conversion_timing`), not its events; the cost
            model prices the registers.
        mask_double_buffer: ``False``: every Monte-Carlo sample begins with the
            fill of its dropout masks (``F`` cycles), ``S * (F + C)`` cycles for ``S`` samples
            of ``C`` compute cycles each. ``True``: two mask banks per dropout edge (the fill
            shift register and a keep register loaded from it at each sample boundary); the
            fill of sample ``m + 1`` runs while sample ``m`` computes, so only the first fill
            is exposed and a sample waits for its fill when ``F > C``:
            ``F + (S - 1) * max(C, F) + C`` cycles (:mod:`hdl.mapping`). The same dropout
            samples are drawn in the same order; the cost model prices the second bank.
        overlap_reads: ``False``: the steps of a layer run one after another:
            per output position a read step per bit-plane, each ``READ_CYCLES + conv +
            ACCUMULATE_CYCLES`` cycles (read, all codes, accumulate), then the update step.
            ``True`` (the default): a new read is issued as soon as the ADCs have sampled the
            bit lines of the previous one (``mux_steps * interval`` cycles, the largest over
            the layer's edges reading that plane; :attr:`conversion_timing`): the bit-planes of
            a position and the output positions of a layer back to back, their codes streaming
            into the accumulators, which take each code's plane and sum from their own
            counters. A position's sums are final ``R`` cycles after its first read; they are
            latched into the layer's current register and the position's update runs from that
            copy while the next positions are read, the read stream waiting only when an update
            is longer than a position's reads: ``(P - 1) * max(S, G) + R + G`` cycles per layer
            and timestep (``S`` a position's read cycles, ``G = ceil(C / lif_units)``;
            :mod:`hdl.mapping`). Events are unchanged; the cost model prices the plane counters
            and the current registers (``C * current_bits`` flip-flops per layer of several
            positions, or with ``pipeline_layers`` and several timesteps of any positions).
        pipeline_layers: ``False``: the layers of a timestep run one after another,
            timestep ``t + 1`` after the last layer of ``t``. ``True`` (the default): the
            layers are pipelined across timesteps, each with its own sequencer over its
            timesteps (its reads and updates as without the option, overlapped or not per
            ``overlap_reads``), the spike map of every layer with neurons (and, for rate
            coding, the input spikes, the encoder a stage of its own before the layers)
            double-buffered: timestep ``t`` is written into bank ``t mod 2`` while the
            consumers read bank ``(t - 1) mod 2``. Item ``(l, t)`` starts when layer ``l`` has
            finished ``t - 1`` (with ``overlap_reads``: when ``t - 1``'s read stream would
            have issued its next position, ``P * q`` cycles after its start, the timesteps
            streaming like positions, the updates on their own timestep), every layer whose
            spikes it reads has finished ``t`` and every consumer of its spikes has finished
            ``t - 2`` (:mod:`hdl.mapping`, a recurrence over the items). Without
            ``pipeline_samples`` a sample starts when every layer has finished the previous
            one; with it the samples' items follow one another like timesteps. Events
            are unchanged; the cost model prices the second spike banks, the sequencers'
            registers and, streamed, the latched currents of one-position layers.
        input_dac_bits: ``d``, resolution of the word-line drivers of the edges that read the
            direct-encoded input (1..8 bits). ``d = 1`` (the default): a pixel of ``bits`` bits
            is read bit-serially, one read per bit-plane ``s_b = (x >> b) & 1``, the word lines
            carrying 0/1. ``d > 1``: the drivers are ``d``-bit DACs and a pixel is cut into
            ``P = ceil(bits / d)`` digit-planes ``D_p = (x >> (p * d)) & (2**d - 1)``,
            ``p = 0 .. P - 1``; one read per digit-plane drives every word line with its digit
            (a cell contributes ``cell * D_p[r]`` to its bit line's current), so a column sum
            ``a = Σ_r slice_j(W±)[o, r] * D_p[r]`` (up to ``rows * (2**cell_bits - 1) *
            (2**d - 1)``) saturates in the ADC at ``2**adc_bits - 1`` and ``z = Σ_p 2**(p * d)
            * z_p``. Fewer reads and conversions of the input layer (``P`` instead of ``bits``
            per position), at the price of DACs (the cost model's ``crossbar.dac_unit_*``) and
            of accuracy where the larger column sums saturate the ADCs: the default stays 1.
            Spike inputs (hidden layers, rate-coded input) are unaffected; a skip edge from the
            direct input still adds the pixel values.
        pixels_per_transfer: ``K``, pixels per transfer of the ``pixels`` input stream
            (1 .. 4096): a payload of ``K * input.bits`` bits, transfer ``j`` carrying pixels
            ``j * K .. j * K + K - 1`` of the image in C order, pixel ``j * K + i`` in bits
            ``[i * input.bits, (i + 1) * input.bits)``, the unused lanes of the last transfer
            ignored. An image takes ``ceil(n_in / K)`` transfers, one per cycle at best, while
            the accelerator is idle (:attr:`hdl.mapping.Mapping.input_transfer_cycles`; the
            cost model adds them to the latency and prices the port's lanes). The default 8 is
            a 32- or 64-bit bus for 4- or 8-bit pixels, an ordinary SoC or DMA width: the
            784 pixels of an MNIST image in 98 cycles instead of 784, for a write decode of
            ``ceil(n_in / K)`` ways instead of ``n_in``.
        stream_while_busy: ``False``: the ``pixels`` stream accepts the next image only while
            the accelerator is idle, back-to-back images taking ``J + B`` cycles each (``J =
            ceil(n_in / K)`` transfers, ``B`` the ``busy`` cycles of a ``start``). ``True``
            (the default): a second pixel buffer; the next image streams into the load buffer
            while the current one computes from the compute buffer, copied from the load buffer
            when ``start`` is taken (``start`` still waits for all ``J`` transfers and for the
            accelerator to be idle), so back-to-back images take ``max(J, B)`` cycles each
            (:func:`hdl.mapping.image_period_cycles`); a single inference still takes ``J + B``.
            The cost model prices the second buffer (``n_in * input.bits`` flip-flops).
        pipeline_samples: ``False``: with ``pipeline_layers`` a Monte-Carlo sample starts
            when every stage has finished the previous one. ``True`` (the default): the samples
            are pipelined like the timesteps; it applies only with ``pipeline_layers`` (else it
            changes nothing) and, when the network has dropout, only with
            ``mask_double_buffer`` (one mask bank cannot serve two samples at once: it then
            changes nothing either; :attr:`hdl.mapping.Mapping.samples_pipelined`). The items of
            a ``start`` are ``(k, u)``, ``u = m * T + t`` over the samples ``m`` and timesteps
            ``t``, and the recurrence of ``pipeline_layers`` runs over ``u`` across the sample
            boundary (membranes reset at each sample's ``t = 0``, spike banks ``u mod 2``);
            with dropout a layer's first item of sample ``m >= 1`` waits for its masks of
            ``m``, whose fill starts when the layer begins sample ``m - 1`` (its keep registers
            loaded from the fill banks then) and takes ``F_l`` cycles; the output layer's
            first item of a sample waits for its previous item to finish (the outputs are
            copied out before they are overwritten) and, while the host holds the ``counts``,
            for the previous sample's emit (nothing lost, the run longer):
            ``cycles = F + max_k f(k, S * T - 1)`` (:mod:`hdl.mapping`). Events are unchanged.
            The cost model prices the sample counters and the swap logic.

    The defaults are the fast schedule (the schedule options on, samples pipelined, eight
    pixels per transfer, the next image streamed while busy);
    ``HardwareConfig(adc_pipelined=False, mask_double_buffer=False, overlap_reads=False,
    pipeline_layers=False, pipeline_samples=False, pixels_per_transfer=1,
    stream_while_busy=False)`` is the serial one
    of the first generator.
    """

    tile_rows: int = 128
    tile_cols: int = 128
    cell_bits: int = 1
    adc_bits: int = 8
    columns_per_adc: int = 8
    lif_units: int = 16
    clock_mhz: float = 200.0
    adc_latency_cycles: int = 1
    adc_pipelined: bool = True
    mask_double_buffer: bool = True
    overlap_reads: bool = True
    pipeline_layers: bool = True
    input_dac_bits: int = 1
    pixels_per_transfer: int = 8
    stream_while_busy: bool = True
    pipeline_samples: bool = True

    def __post_init__(self) -> None:
        limits = {
            "tile_rows": (1, 4096),
            "tile_cols": (1, 4096),
            "cell_bits": (1, 8),
            "adc_bits": (1, 16),
            "columns_per_adc": (1, 4096),
            "lif_units": (1, 4096),
            "adc_latency_cycles": (0, 64),
            "input_dac_bits": (1, 8),
            "pixels_per_transfer": (1, 4096),
        }
        for name, (lo, hi) in limits.items():
            value = check_int(getattr(self, name), f"hardware.{name}", lo, hi, error=HardwareError)
            object.__setattr__(self, name, value)
        if self.tile_cols % self.columns_per_adc:
            raise HardwareError(
                f"hardware.columns_per_adc ({self.columns_per_adc}) must divide "
                f"hardware.tile_cols ({self.tile_cols})"
            )
        if not isinstance(self.clock_mhz, (int, float)) or not self.clock_mhz > 0:
            raise HardwareError(f"hardware.clock_mhz must be > 0, got {self.clock_mhz!r}")
        if not isinstance(self.adc_pipelined, bool):
            raise HardwareError(
                f"hardware.adc_pipelined must be true or false, got {self.adc_pipelined!r}"
            )
        if not isinstance(self.mask_double_buffer, bool):
            raise HardwareError(
                "hardware.mask_double_buffer must be true or false, got "
                f"{self.mask_double_buffer!r}"
            )
        if not isinstance(self.overlap_reads, bool):
            raise HardwareError(
                f"hardware.overlap_reads must be true or false, got {self.overlap_reads!r}"
            )
        if not isinstance(self.stream_while_busy, bool):
            raise HardwareError(
                f"hardware.stream_while_busy must be true or false, got {self.stream_while_busy!r}"
            )
        if not isinstance(self.pipeline_samples, bool):
            raise HardwareError(
                f"hardware.pipeline_samples must be true or false, got {self.pipeline_samples!r}"
            )
        if not isinstance(self.pipeline_layers, bool):
            raise HardwareError(
                f"hardware.pipeline_layers must be true or false, got {self.pipeline_layers!r}"
            )

    @property
    def adc_max(self) -> int:
        """Largest ADC code: ``2**adc_bits - 1``."""
        return 2**self.adc_bits - 1

    @property
    def adcs_per_tile(self) -> int:
        """ADCs of one tile, ``tile_cols / columns_per_adc`` (it divides, see above)."""
        return self.tile_cols // self.columns_per_adc

    @property
    def conversion_timing(self) -> tuple[int, int]:
        """``(first, interval)`` [cycles] of the ADC codes of a read: conversion ``s`` is valid
        ``first + s * interval`` cycles after the read strobe.

        ``first = 1 + adc_latency_cycles`` in both modes; ``interval = 1 + adc_latency_cycles``
        for the serial ADC (``(s + 1) * (1 + adc_latency_cycles)``) and ``1`` for the pipelined
        one (``s + 1 + adc_latency_cycles``). :func:`hdl.geometry.conversion_cycles` turns it
        into the cycles of ``n`` conversions.
        """
        first = 1 + self.adc_latency_cycles
        return first, 1 if self.adc_pipelined else first

    def input_planes(self, bits: int) -> int:
        """Reads per position of an edge reading a direct-encoded input of ``bits``-bit pixels:
        the digit-planes ``P = ceil(bits / input_dac_bits)`` (``bits`` bit-planes for 1-bit
        drivers)."""
        return -(-bits // self.input_dac_bits)
