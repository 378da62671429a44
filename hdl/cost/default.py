"""The ``default`` preset: the architecture neurocim generates (docs/cost-model.md section 4).

Latency is the image's ``pixels`` transfers plus the schedule of :mod:`hdl.mapping` to the
cycle (``Mapping.input_transfer_cycles + Schedule.cycles``: the RTL accepts the image while
idle, then is busy for exactly the schedule's cycles). Energy [pJ] is the schedule's event
counts times energies per event from :class:`~hdl.cost.constants.ComponentLibrary`, plus the
image's transfers, plus the MTJ dropout cycles priced by :func:`hdl.mtj.dropout_cycle_energy`,
plus static energy
``E_static = leakage_density [mW/mm^2] * area [mm^2] * latency [s] * 1e9``. Area [um^2] is the
crossbar cells (and, with ``input_dac_bits > 1``, the word-line DACs of the edges reading the
direct input), ADCs with their muxes (and, for pipelined ADCs, their code registers), shift-add
adders, LIF units, SRAM and dropout modules (and, for double-buffered masks, the second mask
bank's flip-flops; for overlapped reads, the plane counters of the multi-plane accumulators and
the latched current registers of the layers of several output positions; for pipelined
layers, the second spike banks and every layer's own sequencer registers), and the ``pixels``
input port (its lanes and the pixel buffer's write decode).
"""

from __future__ import annotations

from functools import lru_cache

from hdl.cost.constants import PJ_PER_MW_S, ComponentLibrary
from hdl.cost.memory import Memory
from hdl.cost.report import LayerCost, PresetCost
from hdl.geometry import mask_cycles
from hdl.mapping import Mapping, Schedule, layer_fill_cycles
from hdl.mtj import MTJDevice, dropout_cycle_energy

__all__ = ["SAMPLE_COUNTER_BITS", "price_default", "sample_pipeline_bits", "sequencer_bits"]


def _bits(n: int) -> int:
    """Flip-flops of a counter over ``0 .. n``: ``bit_length(n)``, at least 1."""
    return max(1, n.bit_length())


def sequencer_bits(mapping: Mapping, stage: int) -> int:
    """Flip-flops of one stage's own sequencer with pipelined layers (stage 0 the encoder for
    rate coding, then the layers; :mod:`hdl.rtl.controller`): ``t`` over ``0 .. T`` and
    ``run``; the encoder a cycle counter over its ``encode_cycles``; a layer its position,
    row, column, plane, update-group and LIF-word counters, a bank-shown bit (with neurons), a
    state bit and either its step counter (``0 .. max read step``) or, with overlapped reads,
    the read period counter, the update wait counter and three flags. A layer whose timesteps
    stream (:meth:`hdl.mapping.Mapping.streams`) has no state bit but its reads' timestep
    ``rt`` over ``0 .. T``, the read period counter, ``latch_timers`` latch timers over ``0 ..
    R - 1``, their round-robin pointer (more than one) and an updating flag."""
    rate = mapping.encode_cycles > 0
    head = _bits(mapping.timesteps) + 1
    if rate and stage == 0:
        return head + _bits(mapping.encode_cycles - 1)
    lm = mapping.layers[stage - (1 if rate else 0)]
    height, width = (lm.out_shape[1], lm.out_shape[2]) if len(lm.out_shape) == 3 else (1, 1)
    n = head + _bits(lm.positions - 1) + _bits(height - 1) + _bits(width - 1)
    n += _bits(len(lm.plane_cycles) - 1) + _bits(lm.update_cycles - 1)
    n += _bits(lm.positions * lm.update_cycles - 1) + (1 if lm.has_neurons else 0)
    if mapping.streams(lm):
        k = lm.latch_timers
        n += _bits(mapping.timesteps) + _bits(lm.position_period - 1)
        return n + k * _bits(lm.sum_cycles - 1) + (_bits(k - 1) if k > 1 else 0) + 1
    n += 1
    if mapping.hw.overlap_reads and lm.read_step_cycles:
        wait = max(lm.sum_cycles, lm.position_period - lm.update_cycles)
        return n + _bits(lm.position_period) + _bits(wait) + 3
    return n + _bits(max(lm.read_step_cycles, default=1))


SAMPLE_COUNTER_BITS = 16
"""Width of a sample counter with pipelined samples: the controller's ``samples`` port
(:data:`hdl.rtl.controller.SAMPLES_BITS`, up to 65,535 samples per ``start``)."""


def sample_pipeline_bits(mapping: Mapping) -> int:
    """Flip-flops pipelining the samples adds (``hw.pipeline_samples``, :attr:`hdl.mapping.
    Mapping.samples_pipelined`; 0 otherwise), those of :mod:`hdl.rtl.controller`: per stage an
    item counter over all samples of ``w = SAMPLE_COUNTER_BITS + bits(T)`` bits (a layer whose
    timesteps stream two: its reads' and its updates'), the item total ``samples * T`` (``w``),
    per layer with dropout its fill counter over ``0 .. F_l``
    (:func:`hdl.mapping.layer_fill_cycles`) and the output's owed-emit flag. The per-layer swap
    multiplexers (a layer's reads take the fill banks in its swap cycle) are one gate per mask
    bit and not counted."""
    if not mapping.samples_pipelined:
        return 0
    w = SAMPLE_COUNTER_BITS + _bits(mapping.timesteps)
    stages = len(mapping.stage_cycles)
    streamed = sum(1 for lm in mapping.layers if mapping.streams(lm))
    n = (stages + streamed + 1) * w
    n += sum(_bits(layer_fill_cycles(lm)) for lm in mapping.layers if layer_fill_cycles(lm))
    return n + 1


@lru_cache(maxsize=256)
def _mtj_cycle_energy_pj(device: MTJDevice, p: float, pulse_ns: float) -> float:
    """Expected energy of one dropout cycle for drop probability ``p`` [pJ] (cached)."""
    current = device.current_for_probability(p, pulse_ns)
    return dropout_cycle_energy(device, current, pulse_ns).total_pj


def price_default(
    mapping: Mapping, sched: Schedule, lib: ComponentLibrary, mem: Memory
) -> PresetCost:
    """Latency, energy [pJ], area [um^2], rows and events of the ``default`` preset.

    Latency is the image's transfers and the schedule, ``J + sched.cycles`` cycles at
    ``hw.clock_mhz`` (``J = mapping.input_transfer_cycles``: the ``pixels`` stream runs only
    while idle, so an inference is its transfers then its busy cycles).

    Energy = schedule events x energies per event (docs/cost-model.md section 4), plus the
    image's transfers (``input``: :meth:`~hdl.cost.constants.DigitalTech.input_port_energy_pj`),
    plus ``E_static = leakage_density [mW/mm^2] * area [mm^2] * latency [s] * 1e9`` [pJ].
    """
    hw = mapping.hw
    xb, adc, dig = lib.crossbar, lib.adc, lib.digital
    e_cell = xb.cell_read_energy.value * xb.row_activity.value
    e_conv = adc.conversion_energy_pj(hw.adc_bits)
    a_adc = adc.area_um2(hw.adc_bits, hw.columns_per_adc)
    if hw.adc_pipelined:  # the code register of each pipelined ADC
        e_conv += adc.pipeline_energy_pj(hw.adc_bits)
        a_adc += adc.pipeline_area_um2(hw.adc_bits)
    e_add, e_sram = dig.add_energy.value, dig.sram_energy.value
    adcs_per_tile = hw.adcs_per_tile
    a_tile_cells = hw.tile_rows * hw.tile_cols * xb.cell_area.value
    widths = mem.current_bits
    runs = sched.samples * mapping.timesteps
    driver = mapping.driver

    energy = dict.fromkeys(
        (
            "crossbar",
            "adc",
            "shift_add",
            "buffers",
            "lif",
            "accumulator",
            "dropout",
            "encode",
            "input",
        ),
        0.0,
    )
    area = dict.fromkeys(("crossbar", "adc", "shift_add", "lif", "sram", "dropout", "input"), 0.0)
    rows: list[LayerCost] = []
    mb_max = 0
    lfsrs = lfsr_draws = 0
    for layer, ls, w_bits, s_bits, acc in zip(
        mapping.layers,
        sched.layers,
        mem.layer_weight_bits,
        mem.layer_state_bits,
        widths,
        strict=True,
    ):
        e = dict.fromkeys(energy, 0.0)
        a = dict.fromkeys(area, 0.0)
        layer_draws = 0
        for em in layer.edges:
            steps = runs * em.planes * em.positions
            e["crossbar"] += steps * em.rows * em.phys_cols * e_cell
            conversions = steps * em.conversions_per_step
            e["adc"] += conversions * e_conv
            e["shift_add"] += conversions * acc * e_add
            a["crossbar"] += em.tiles * a_tile_cells
            if em.digit_bits > 1:  # the word-line DACs of an edge reading the direct input
                drivers = em.rows * em.col_tiles
                e["crossbar"] += steps * drivers * xb.dac_energy_pj(em.digit_bits)
                a["crossbar"] += drivers * xb.dac_area_um2(em.digit_bits)
            a["adc"] += em.tiles * adcs_per_tile * a_adc
            a["shift_add"] += em.tiles * adcs_per_tile * acc * dig.add_area.value
            if hw.overlap_reads and em.planes > 1:  # the accumulator's plane counter
                e["shift_add"] += dig.plane_counter_energy_pj(em.planes, steps)
                a["shift_add"] += dig.plane_counter_area_um2(em.planes)
            d = em.dropout
            if d is not None:
                if d.source == "mtj":
                    per = _mtj_cycle_energy_pj(driver.device, d.p, driver.pulse_ns)
                    a["dropout"] += d.modules * lib.dropout.module_area.value
                    e["dropout"] += sched.samples * d.units * (per + e_sram)
                else:
                    # every module draws in each of a mask's ceil(units / modules) cycles,
                    # the unused slots of the last cycle included (docs/hardware-model.md 3)
                    draws = sched.samples * d.modules * mask_cycles(d.units, d.modules)
                    e["dropout"] += draws * dig.lfsr_draw_energy_pj(d.lfsr_width)
                    e["dropout"] += sched.samples * d.units * e_sram  # mask bits written
                    a["dropout"] += d.modules * dig.lfsr_area_um2(d.lfsr_width)
                    lfsrs += d.modules
                    layer_draws += draws
                if hw.mask_double_buffer:  # the second bank: a keep register per edge
                    e["dropout"] += lib.dropout.bank_energy_pj(d.units, sched.samples)
                    a["dropout"] += lib.dropout.bank_area_um2(d.units)
        # latched currents: several positions, or streamed timesteps (the next item's reads)
        if hw.overlap_reads and layer.edges and (layer.positions > 1 or mapping.streams(layer)):
            bits = layer.channels * acc
            e["shift_add"] += runs * layer.positions * bits * dig.latch_ff_energy.value
            a["shift_add"] += bits * dig.latch_ff_area.value
        e["buffers"] += ls.buffer_bits_read * e_sram
        if layer.has_neurons:
            mb = layer.membrane_bits
            mb_max = max(mb_max, mb)
            per_update = dig.lif_adders.value * mb * e_add
            per_update += (dig.lif_sram_words.value * mb + 2) * e_sram
            e["lif"] += ls.lif_updates * per_update
        else:
            e["accumulator"] += ls.accumulator_updates * (2 * acc * e_add + 3 * acc * e_sram)
        a["sram"] += s_bits * dig.sram_area.value
        if hw.pipeline_layers and layer.has_neurons:  # the second spike bank
            a["sram"] += layer.neurons * dig.spike_bank_ff_area.value
        for k in energy:
            energy[k] += e[k]
        for k in area:
            area[k] += a[k]
        rows.append(
            LayerCost(
                name=layer.name,
                tiles=layer.tiles,
                cycles=ls.cycles,
                energy_pj=sum(e.values()),
                area_mm2=sum(a.values()) * 1e-6,
                weight_bits=w_bits,
                state_bits=s_bits,
                detail={
                    "adcs": layer.adcs,
                    "dropout_modules": layer.dropout_modules,
                    "crossbar_reads": ls.crossbar_reads,
                    "adc_conversions": ls.adc_conversions,
                    "lif_updates": ls.lif_updates,
                    "dropout_samples": ls.dropout_samples,
                    "lfsr_draws": layer_draws,
                    "energy_pj_by_component": {k: v for k, v in e.items() if v},
                },
            )
        )
        lfsr_draws += layer_draws
    # LIF units (shared by all layers), parameters and input buffer, input encoder
    mb_units = mb_max or max(widths, default=1)
    area["lif"] += hw.lif_units * dig.lif_adders.value * mb_units * dig.add_area.value
    area["sram"] += (mem.bits["parameters"] + mem.bits["input"]) * dig.sram_area.value
    if mapping.encoding == "rate":
        width = mapping.input_lfsr_width
        # one leap-forward draw per input and timestep (sched.lfsr_steps counts the draws)
        per = dig.lfsr_draw_energy_pj(width) + mapping.input_bits * e_add
        per += (mapping.input_bits + 1) * e_sram
        energy["encode"] += sched.lfsr_steps * per
        area["lif"] += dig.lfsr_area_um2(width)  # the input LFSR sits with the units
        lfsrs += 1
        lfsr_draws += sched.lfsr_steps
    if hw.pipeline_layers:  # the stages' own sequencers; the input's second spike bank
        stages = len(mapping.layers) + (1 if mapping.encoding == "rate" else 0)
        seq = sum(sequencer_bits(mapping, k) for k in range(stages))
        area["lif"] += seq * dig.sequencer_ff_area.value
        energy["lif"] += runs * seq * dig.sequencer_ff_energy.value
        if mapping.encoding == "rate":
            area["sram"] += mapping.input_neurons * dig.spike_bank_ff_area.value
        # pipelined samples: the sample counters, the item total, the swap flags (priced as
        # sequencer flip-flops, clocked once per item like them)
        extra = sample_pipeline_bits(mapping)
        area["lif"] += extra * dig.sequencer_ff_area.value
        energy["lif"] += runs * extra * dig.sequencer_ff_energy.value
    transfers = mapping.input_transfer_cycles
    lane_bits = hw.pixels_per_transfer * mapping.input_bits
    energy["input"] += dig.input_port_energy_pj(lane_bits, transfers)
    area["input"] += dig.input_port_area_um2(lane_bits, transfers)
    if hw.stream_while_busy:  # the second pixel buffer, copied once per image
        buffer_bits = mapping.input_neurons * mapping.input_bits
        energy["input"] += buffer_bits * dig.pixel_bank_ff_energy.value
        area["input"] += buffer_bits * dig.pixel_bank_ff_area.value
    area["total"] = sum(area.values())
    cycles = transfers + sched.cycles
    seconds = cycles / (hw.clock_mhz * 1e6)
    energy["static"] = (
        lib.static.leakage_density.value * area["total"] * 1e-6 * seconds * PJ_PER_MW_S
    )
    energy["total"] = sum(energy.values())
    events: dict[str, int | float] = {
        **sched.events,
        "accumulator_updates": sum(r.accumulator_updates for r in sched.layers),
        "buffer_bits_read": sum(r.buffer_bits_read for r in sched.layers),
        "lfsr_steps": sched.lfsr_steps,
        "tiles": mapping.tiles,
        "adcs": mapping.adcs,
        "dropout_modules": mapping.dropout_modules,
        "lfsrs": lfsrs,
        "lfsr_draws": lfsr_draws,
        "input_transfers": transfers,
    }
    return PresetCost(
        clock_mhz=float(hw.clock_mhz),
        cycles=cycles,
        seconds=seconds,
        energy_pj=energy,
        area_um2=area,
        events=events,
        layers=tuple(rows),
        notes=mapping.notes,
    )
