"""The cost model (hdl.cost): default preset against the schedule, spikesim preset against the
formulas and constants of SpikeSim (Moitra et al., IEEE TCAD 2023), its defect switch, reports
and speed."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
from serial_hw import serial_hw

import hdl.lfsr
from hdl.cost import (
    ADCTech,
    ComponentLibrary,
    CostError,
    DigitalTech,
    SpikeSimLibrary,
    SpikeSimRefusal,
    StaticTech,
    estimate,
    lfsr_xor_gates,
)
from hdl.golden import run
from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import LFSR_TAPS, DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron
from hdl.mapping import MTJDriver, current_bits, map_network, schedule
from hdl.mtj import MTJDevice, dropout_cycle_energy

DOC = Path(__file__).resolve().parent.parent / "docs" / "cost-model.md"

# --- networks ---------------------------------------------------------------------------------


def digits_mlp() -> Network:
    """64 -> 128 (LIF, 8 MTJ dropout modules, p = 0.5) -> 10 (membrane), 4-bit input, T = 4."""
    return Network(
        name="digits-mlp",
        input=InputSpec((1, 8, 8), bits=4),
        layers=(
            Layer(
                "fc1",
                (Edge("linear", "input", dropout=DropoutSpec(0.5, modules=8)),),
                (128,),
                Neuron(),
            ),
            Layer("out", (Edge("linear", "fc1"),), (10,)),
        ),
        timesteps=4,
    ).validate()


def rate_cnn(weights: bool = False) -> Network:
    """Rate-coded conv net (8-bit input LFSR) with LFSR dropout (4 modules of the default
    32-bit LFSR on 9 mask rows) and count decoding; random weights when ``weights``."""
    rng = np.random.default_rng(3)
    w1 = rng.integers(-3, 4, (8, 1, 3, 3)) if weights else None
    w2 = rng.choice([-1, 1], (10, 128)) if weights else None
    return Network(
        name="rate-cnn",
        input=InputSpec((1, 8, 8), bits=4, encoding="rate", lfsr=LFSRSpec(width=8)),
        layers=(
            Layer(
                "c1",
                (
                    Edge(
                        "conv2d",
                        "input",
                        weight=w1,
                        weight_bits=3,
                        kernel=3,
                        stride=2,
                        padding=1,
                        dropout=DropoutSpec(0.25, source="lfsr", modules=4),
                    ),
                ),
                (8, 4, 4),
                Neuron(threshold=np.full(8, 4) if weights else None, membrane_bits=10),
            ),
            Layer(
                "out",
                (Edge("linear", "c1", weight=w2),),
                (10,),
                Neuron(threshold=np.full(10, 2) if weights else None),
            ),
        ),
        timesteps=3,
        output_decoding="count",
    ).validate()


def vgg9() -> Network:
    """VGG-9 for CIFAR-10, architecture only (7 conv3x3 64-256 ch, 2 linear), T = 5."""
    plan = [(64, 32, 1), (64, 16, 2), (128, 16, 1), (128, 8, 2), (256, 8, 1), (256, 8, 1)]
    plan.append((256, 4, 2))
    layers, src = [], "input"
    for i, (c, h, s) in enumerate(plan, start=1):
        edge = Edge("conv2d", src, weight_bits=8, kernel=3, stride=s, padding=1)
        layers.append(Layer(f"conv{i}", (edge,), (c, h, h), Neuron()))
        src = f"conv{i}"
    fc1 = Edge("linear", src, weight_bits=8, dropout=DropoutSpec(0.2, modules=64))
    layers.append(Layer("fc1", (fc1,), (1024,), Neuron()))
    layers.append(Layer("fc2", (Edge("linear", "fc1", weight_bits=8),), (10,)))
    return Network("vgg9", InputSpec((3, 32, 32), bits=8), tuple(layers), timesteps=5).validate()


# SpikeSim's own example (its ELA script): the 7 conv layers of VGG-9 on CIFAR-10, T = 5.
SPIKESIM_IN = [3, 64, 64, 128, 128, 256, 256]
SPIKESIM_OUT = [64, 64, 128, 128, 256, 256, 256]
SPIKESIM_IN_DIM = [32, 32, 16, 16, 8, 8, 8]
SPIKESIM_OUT_DIM = [32, 16, 16, 8, 8, 8, 4]


def spikesim_vgg_convs() -> Network:
    layers, src = [], "input"
    for i, (c, h_in, h) in enumerate(
        zip(SPIKESIM_OUT, SPIKESIM_IN_DIM, SPIKESIM_OUT_DIM, strict=True), start=1
    ):
        edge = Edge("conv2d", src, kernel=3, stride=h_in // h, padding=1)
        last = i == len(SPIKESIM_OUT)
        layers.append(Layer(f"conv{i}", (edge,), (c, h, h), None if last else Neuron()))
        src = f"conv{i}"
    return Network("spikesim-vgg", InputSpec((3, 32, 32)), tuple(layers), timesteps=5).validate()


# --- spikesim: formulas term by term against the published model (Moitra et al., TCAD 2023) -----


def test_spikesim_pe_cycle_energy_term_by_term() -> None:
    lib = SpikeSimLibrary()
    x, k = 64, 3
    terms = {
        "h-tree": 157.12,
        "memory fetch": 4.64,
        "tile buffer": 397,
        "neuron": 5.096,
        "subtractor": (x / 8) * 16 * 1.15e-6,
        "temporary buffer": (x / 8) * 0.2,
        "crossbar + adc + mux": (x / 8) * (k**2 * 1.76423 + (x / 8) * (2.03084 + 0.094245)),
    }
    assert sum(terms.values()) == pytest.approx(828.5, abs=0.05)
    assert lib.pe_cycle_energy_pj() == pytest.approx(sum(terms.values()), rel=1e-12)
    assert lib.e_htree.value == 157.12 and lib.e_mem_fetch.value == 4.64
    assert lib.e_tile_buffer.value == 397 and lib.e_neuron.value == 5.096
    assert lib.e_crossbar.value == 1.76423 and lib.e_adc.value == 2.03084
    assert lib.e_mux.value == 0.094245 and lib.e_subtractor.value == 1.15e-6
    # one PE cycle = 26 clock cycles = 104 ns at 250 MHz
    assert lib.pe_cycle_ns == pytest.approx(104.0)


def test_spikesim_area_terms() -> None:
    lib = SpikeSimLibrary()
    # the published table rounds subtractor 13,411 and temporary buffer 484.6 um^2
    assert lib.a_subtractor.value == pytest.approx(13411, abs=0.5)
    assert lib.a_temp_buffer.value == pytest.approx(484.6, abs=0.05)
    assert lib.a_crossbar.value == pytest.approx(64 * 64 * 0.0064)
    assert (lib.a_adc.value, lib.a_mux.value, lib.a_htree.value) == (693.633, 45.9, 433660)
    pe = 9 * 26.2144 + 8 * (693.633 + 45.9)
    assert lib.pe_area_um2() == pytest.approx(pe)
    tile = 8 * 13411 + 484.6 + 0.7391 * 64 * 128 + 8 * pe + 433660
    assert lib.tile_area_um2() == pytest.approx(tile, abs=8 * 0.5 + 0.05)


def test_spikesim_tiling_energy_area_latency_on_its_own_example() -> None:
    net = spikesim_vgg_convs()
    t, x = 5, 64
    pes = [
        math.ceil(ci / x) * math.ceil(co / x)
        for ci, co in zip(SPIKESIM_IN, SPIKESIM_OUT, strict=True)
    ]
    assert pes == [1, 1, 2, 4, 8, 16, 16]
    lib = SpikeSimLibrary()
    e_pe, tile = lib.pe_cycle_energy_pj(), lib.tile_area_um2()
    value = 0.7391 * 22
    inputs = sum(c * h * h for c, h in zip(SPIKESIM_IN, SPIKESIM_IN_DIM, strict=True)) * value
    neurons = [c * h * h * value for c, h in zip(SPIKESIM_OUT, SPIKESIM_OUT_DIM, strict=True)]
    energy = sum(p * h * h * e_pe * t for p, h in zip(pes, SPIKESIM_OUT_DIM, strict=True))
    busy = [h * h * c * t for c, h in zip(SPIKESIM_OUT, SPIKESIM_OUT_DIM, strict=True)]
    latency = sum(0.75 * b for b in busy[:-1]) + busy[-1]  # PE cycles, the published formula

    fixed = estimate(net, preset="spikesim")
    assert fixed.events["pes"] == 48
    assert fixed.events["tiles"] == 1 + 1 + 1 + 1 + 1 + 2 + 2  # one layer per tile
    assert fixed.energy_pj["total"] == pytest.approx(energy, rel=1e-12)
    assert fixed.area_um2["tiles"] == pytest.approx(9 * tile)
    assert fixed.area_um2["input_buffers"] == pytest.approx(inputs)
    assert fixed.area_um2["neuron_memory"] == pytest.approx(sum(neurons))
    assert fixed.events["latency_pe_cycles"] == pytest.approx(latency)
    assert fixed.seconds == pytest.approx(latency * 104e-9)
    assert fixed.cycles == math.ceil(latency * 26)
    assert [r.cycles for r in fixed.layers] == [b * 26 for b in busy]

    original = estimate(net, preset="spikesim", reproduce_defects=True)
    assert original.events["tiles"] == 6  # ceil(48 PEs / 8): layers share tiles
    assert original.energy_pj["total"] == pytest.approx(energy, rel=1e-12)  # energy unchanged
    assert original.area_um2["tiles"] == pytest.approx(6 * tile)
    assert original.area_um2["neuron_memory"] == pytest.approx(sum(neurons[:5]))
    # here the last layer finishes last and every 75 % start is a whole PE cycle: same latency
    assert original.events["latency_pe_cycles"] == latency
    assert [r.cycles for r in original.layers] == [b * 26 for b in busy]
    assert len(original.notes) == 3 and not fixed.notes


# The released SpikeSim ELA script (Intelligent-Computing-Lab-Yale/SpikeSim,
# SNN_train_infer_quantization_ela/ela_spikesim.py) prints, for its own VGG9 example (lines
# 200-209: the 7 conv layers, X = 64, k = 3, 8 PEs per tile, T = 5, 250 MHz, PE_cycle = 26 *
# (1000 / 250) = 104.0 ns), these five figures, worked out with the script's own arithmetic:
#   line 25   "No. of PEs 48.0":    sum of ceil(C_in/64) * ceil(C_out/64) = 1+1+2+4+8+16+16
#   line 32   "No. of Tiles 6.0":   48 % 8 == 0, so num_tiles = 48 / 8 (lines 27-30)
#   line 103  "total_compute_area 8425528.755833998 µm^2": lines 75-98,
#             Tile_ar_ov * 6.0 + sum(C_in * H_in^2) * 0.7391 * 22
#             + sum(C_out[0:5] * H_out[0:5]^2) * 0.7391 * 22
#   line 69   "total_energy 15906934.026240002 pJ": lines 39-67,
#             sum of ceil(C_out/64) * ceil(C_in/64) * H_out^2 * PE_cycle_energy * 5
#   line 194  "Final Latency 62832640.0 ns": halts[-1] * PE_cycle, halts[-1] = sum_{i<7}
#             int(0.75 * H_i^2 * C_i) * 5 + 4 * 4 * 256 * 5 = 604160 PE cycles (lines 164-185)
SCRIPT_PES, SCRIPT_TILES = 48.0, 6.0
SCRIPT_AREA_UM2 = 8425528.755833998
SCRIPT_ENERGY_PJ = 15906934.026240002
SCRIPT_LATENCY_NS = 62832640.0


def _script_area_parts() -> tuple[float, float, float]:
    """(tiles, input buffers, neuron memory) [um^2] as lines 75-96 of the script compute them."""
    pe_ar = 3 * 3 * 26.2144 + (64 / 8) * (693.633 + 45.9)  # line 89
    tile_ar_ov = (64 / 8) * 13411.41498 + 484.643999 + 0.7391 * 64 * 128 + 8 * pe_ar + 216830 * 2
    inputs = sum(c * h * h for c, h in zip(SPIKESIM_IN, SPIKESIM_IN_DIM, strict=True))
    neurons = sum(c * h * h for c, h in zip(SPIKESIM_OUT[0:5], SPIKESIM_OUT_DIM[0:5], strict=True))
    return tile_ar_ov * SCRIPT_TILES, inputs * 0.7391 * 22, neurons * 0.7391 * 22


def test_spikesim_reproduce_defects_prints_the_released_scripts_figures() -> None:
    report = estimate(spikesim_vgg_convs(), preset="spikesim", reproduce_defects=True)
    assert report.events["pes"] == SCRIPT_PES
    assert report.events["tiles"] == SCRIPT_TILES
    assert report.energy_pj["total"] == SCRIPT_ENERGY_PJ
    assert report.area_um2["total"] == SCRIPT_AREA_UM2
    tiles, inputs, neurons = _script_area_parts()
    assert (tiles, inputs, neurons) == (
        report.area_um2["tiles"],
        report.area_um2["input_buffers"],
        report.area_um2["neuron_memory"],
    )
    assert tiles + inputs + neurons == SCRIPT_AREA_UM2
    assert report.events["latency_pe_cycles"] * SpikeSimLibrary().pe_cycle_ns == SCRIPT_LATENCY_NS
    assert report.seconds == pytest.approx(SCRIPT_LATENCY_NS * 1e-9, rel=1e-15)
    assert report.cycles == 604160 * 26
    # the timesteps are counted once: five times 62.8 ms would be the early layer-wise printout
    assert report.seconds < 0.1


def _mlp(name: str, widths: list[int], timesteps: int = 4) -> Network:
    """A chain of linear layers on a 64-pixel input, LIF neurons but the last."""
    layers, src = [], "input"
    for i, n in enumerate(widths):
        last = i == len(widths) - 1
        layers.append(Layer(f"fc{i + 1}", (Edge("linear", src),), (n,), None if last else Neuron()))
        src = f"fc{i + 1}"
    return Network(name, InputSpec((1, 8, 8)), tuple(layers), timesteps=timesteps).validate()


def test_spikesim_reproduced_latency_is_the_last_layers_truncated_end() -> None:
    # 64 -> 5 -> 832: uncapped PEs 0.078, 1.016 (accepted); the second layer starts after
    # int(0.75 * 5) * T = 3 * T PE cycles (script line 164), not 3.75 * T
    t = 4
    net = _mlp("trunc", [5, 832], t)
    fixed = estimate(net, preset="spikesim")
    original = estimate(net, preset="spikesim", reproduce_defects=True)
    assert fixed.events["latency_pe_cycles"] == 0.75 * 5 * t + 832 * t
    assert original.events["latency_pe_cycles"] == 3 * t + 832 * t
    # 3 -> 64 conv at 32x32 (busy 65536 T), then a 64-output linear layer (busy 64 T) that
    # starts at 75 % of it: the script stops the clock at the last layer's end (line 194)
    first = Edge("conv2d", "input", kernel=3, padding=1)
    net = Network(
        "late",
        InputSpec((3, 32, 32)),
        (
            Layer("conv", (first,), (64, 32, 32), Neuron()),
            Layer("fc", (Edge("linear", "conv"),), (64,)),
        ),
        timesteps=t,
    ).validate()
    fixed = estimate(net, preset="spikesim")
    original = estimate(net, preset="spikesim", reproduce_defects=True)
    assert fixed.events["latency_pe_cycles"] == 65536 * t
    assert original.events["latency_pe_cycles"] == 49152 * t + 64 * t


def test_spikesim_refuses_what_the_script_never_finishes() -> None:
    # 64 -> 16 -> 64: uncapped PEs 0.25, 0.25 are sorted but int() of each is 0, so the script's
    # tile-filling loop (lines 137-140) never advances
    net = _mlp("tiny", [16, 64])
    with pytest.raises(SpikeSimRefusal, match="never finishes"):
        estimate(net, preset="spikesim", reproduce_defects=True)
    assert estimate(net, preset="spikesim").cycles > 0


def test_spikesim_refusal_only_with_reproduced_defects() -> None:
    # 64 -> 128 -> 10: PEs 2, then 2 (ceil) or 0.3125 (uncapped): not growing
    with pytest.raises(SpikeSimRefusal, match="do not grow"):
        estimate(digits_mlp(), preset="spikesim", reproduce_defects=True)
    with pytest.raises(SpikeSimRefusal):
        estimate(vgg9(), preset="spikesim", reproduce_defects=True)
    report = estimate(vgg9(), preset="spikesim")
    assert report.energy_uj > 0 and report.area_mm2 > 0 and report.cycles > 0


def test_spikesim_pipeline_ends_with_the_last_layer_to_finish() -> None:
    # fc1 is busy 128 * 4 PE cycles; the 10-neuron output starts at 75 % of it and takes 40:
    # the inference cannot end before fc1 does
    report = estimate(digits_mlp(), preset="spikesim")
    assert report.events["latency_pe_cycles"] == max(128 * 4, 0.75 * 128 * 4 + 10 * 4)


def test_spikesim_samples_scale_energy_and_latency() -> None:
    one = estimate(vgg9(), preset="spikesim")
    three = estimate(vgg9(), preset="spikesim", samples=3)
    assert three.energy_pj["total"] == pytest.approx(3 * one.energy_pj["total"])
    assert three.seconds == pytest.approx(3 * one.seconds)
    assert three.area_um2 == one.area_um2


# --- default preset --------------------------------------------------------------------------


def transfers(net: Network, hw: HardwareConfig) -> int:
    """``pixels`` transfers of one image from the definition: ``ceil(C * H * W / K)``."""
    return math.ceil(math.prod(net.input.shape) / hw.pixels_per_transfer)


@pytest.mark.parametrize("make", [digits_mlp, rate_cnn, vgg9])
@pytest.mark.parametrize("samples", [1, 4])
def test_default_latency_is_the_transfers_and_the_schedule(make, samples: int) -> None:
    """An inference is its image's transfers (the stream runs only while idle) then the
    schedule's busy cycles."""
    net = make()
    hw = HardwareConfig(tile_rows=64, tile_cols=64, clock_mhz=100.0)
    report = estimate(net, hw, samples=samples)
    sched = schedule(net, hw, samples=samples)
    j = transfers(net, hw)
    assert j == sched.mapping.input_transfer_cycles == report.events["input_transfers"]
    assert report.cycles == j + sched.cycles
    assert report.seconds == pytest.approx((j + sched.cycles) / 100e6)
    for name, count in sched.events.items():
        assert report.events[name] == count
    parts = sum(r.cycles for r in report.layers) + sched.fill_cycles + sched.encode_cycles
    assert report.cycles - j <= parts  # the layers pipelined across timesteps overlap
    chained = replace(hw, pipeline_layers=False)
    chain = estimate(net, chained, samples=samples)
    assert chain.cycles == j + schedule(net, chained, samples=samples).cycles
    assert sum(r.cycles for r in chain.layers) + sched.fill_cycles + sched.encode_cycles == (
        chain.cycles - j
    )


def test_default_energy_is_events_times_energies() -> None:
    net, hw, m = digits_mlp(), serial_hw(), 3
    lib = ComponentLibrary()
    report = estimate(net, hw, samples=m)
    e = report.energy_pj
    e_cell = 8 * 1.76423 / 4096
    runs = m * 4  # samples x timesteps
    crossbar = runs * (4 * 64 * 256 + 1 * 128 * 20) * e_cell  # planes x rows x phys_cols
    assert e["crossbar"] == pytest.approx(crossbar)
    conversions = runs * (4 * 1 * 256 + 1 * 1 * 20)
    assert report.events["adc_conversions"] == conversions
    e_conv = 2.03084 * 2 ** (8 - 4) + 0.094245
    assert e["adc"] == pytest.approx(conversions * e_conv)
    device = MTJDevice()
    current = device.current_for_probability(0.5, 10.0)
    cycle = dropout_cycle_energy(device, current, 10.0).total_pj
    assert e["dropout"] == pytest.approx(m * 64 * (cycle + 10 / 64))
    lif = runs * 128 * (5 * 16 * 0.1 / 32 + (4 * 16 + 2) * 10 / 64)
    assert e["lif"] == pytest.approx(lif)
    static = lib.static.leakage_density.value * report.area_mm2 * report.seconds * 1e9
    assert e["static"] == pytest.approx(static)
    assert e["total"] == pytest.approx(sum(v for k, v in e.items() if k != "total"))
    assert report.energy_uj == pytest.approx(e["total"] * 1e-6)
    # the image's 8 transfers of 8 lanes x 4 bits, a decode way of bit_length(8) = 4 gates,
    # and (stream_while_busy) the 64 x 4 bits copied into the compute buffer once
    assert e["input"] == pytest.approx(8 * (8 * 4 * 0.1 / 32 + 4 * 0.1 / 64) + 256 * 0.1 / 32)
    rest = e["total"] - e["static"] - e["input"]
    assert sum(r.energy_pj for r in report.layers) == pytest.approx(rest)


def test_default_area_and_memory_by_hand() -> None:
    net, hw = digits_mlp(), serial_hw()
    report = estimate(net, hw)
    a = report.area_um2
    assert a["crossbar"] == pytest.approx(3 * 128 * 128 * 26.2144 / 4096)
    adc = 693.633 * 2 ** (8 - 4) + 45.9 * 8 / 8
    assert a["adc"] == pytest.approx(48 * adc)
    assert a["dropout"] == pytest.approx(8 * 25.0)
    assert a["total"] == pytest.approx(sum(v for k, v in a.items() if k != "total"))
    mem = report.memory_bits
    assert mem["weights"] == 128 * 64 + 10 * 128
    assert mem["crossbar"] == 3 * 128 * 128
    assert mem["membranes"] == 128 * 16 and mem["spikes"] == 128
    assert mem["input"] == 64 * 4 and mem["masks"] == 64
    assert report.state_bits == sum(
        mem[k] for k in ("membranes", "spikes", "input", "partial_sums", "output", "masks")
    )


def test_pipelined_adcs_are_priced_and_faster() -> None:
    """adc_pipelined: each of the 48 ADCs gets an 8-bit code register (8 flip-flops priced as
    adder bits, 137/32 um^2 and 0.1/32 pJ per conversion each); the latency is the schedule's,
    which shortens every read step by latency * (mux_steps - 1) cycles."""
    net, m = digits_mlp(), 2
    serial = estimate(net, serial_hw(), samples=m)
    hw = serial_hw(adc_pipelined=True)
    report = estimate(net, hw, samples=m)
    conversions = m * 4 * (4 * 256 + 20)
    assert report.events == serial.events and report.events["adc_conversions"] == conversions
    e_conv = 2.03084 * 2 ** (8 - 4) + 0.094245 + 8 * 0.1 / 32
    assert report.energy_pj["adc"] == pytest.approx(conversions * e_conv)
    adc = 693.633 * 2 ** (8 - 4) + 45.9 * 8 / 8 + 8 * 137 / 32
    assert report.area_um2["adc"] == pytest.approx(48 * adc)
    assert report.area_um2["adc"] - serial.area_um2["adc"] == pytest.approx(48 * 8 * 137 / 32)
    assert report.cycles == transfers(net, hw) + schedule(net, hw, samples=m).cycles
    # fc1: 4 planes of 8 conversions, out: one read of 2, ADC latency 1, T = 4
    assert serial.cycles - report.cycles == m * 4 * (4 * (8 - 1) + (2 - 1))
    lib = ComponentLibrary()
    assert lib.adc.pipeline_area_um2(8) == pytest.approx(8 * lib.adc.pipeline_ff_area.value)
    assert lib.adc.pipeline_energy_pj(6) == pytest.approx(6 * lib.adc.pipeline_ff_energy.value)
    assert report.as_dict()["hardware"]["adc_pipelined"] is True


def test_double_buffered_masks_are_priced_and_faster() -> None:
    """mask_double_buffer: fc1's 64 mask bits get a second bank of 64 flip-flops (137/32 um^2
    each, 0.1/32 pJ per bit written, once per sample); the fill (8 MTJ rounds of 4 cycles =
    32 cycles) is exposed once instead of once per sample, C = 348 >= F, so the latency is
    F + (m - 1) * max(C, F) + C."""
    net, m = digits_mlp(), 3
    single = estimate(net, serial_hw(), samples=m)
    hw = serial_hw(mask_double_buffer=True)
    report = estimate(net, hw, samples=m)
    fill, compute, j = 8 * 4, 348, 64 // 8
    assert single.cycles == j + m * (fill + compute)
    assert report.cycles == j + fill + (m - 1) * max(compute, fill) + compute
    assert report.cycles == j + schedule(net, hw, samples=m).cycles
    assert report.events == single.events
    assert report.area_um2["dropout"] - single.area_um2["dropout"] == pytest.approx(64 * 137 / 32)
    assert report.energy_pj["dropout"] - single.energy_pj["dropout"] == pytest.approx(
        m * 64 * 0.1 / 32
    )
    lib = ComponentLibrary()
    assert lib.dropout.bank_area_um2(5) == pytest.approx(5 * lib.dropout.bank_ff_area.value)
    assert lib.dropout.bank_energy_pj(5, 2) == pytest.approx(10 * lib.dropout.bank_ff_energy.value)
    assert report.as_dict()["hardware"]["mask_double_buffer"] is True


def test_overlapped_reads_are_priced_and_faster() -> None:
    """overlap_reads: fc1 reads the 4-bit direct input in 4 planes, so its accumulator gets a
    plane counter of bit_length(3) = 2 flip-flops (137/32 um^2 each, 0.1/32 pJ per read step);
    out reads one plane and gets none. The latency is the schedule's: fc1's first 3 planes are
    read every 8 * 2 cycles instead of 18, 2 cycles saved each, per timestep."""
    net, m = digits_mlp(), 2
    off = estimate(net, serial_hw(), samples=m)
    hw = serial_hw(overlap_reads=True)
    report = estimate(net, hw, samples=m)
    assert report.cycles == transfers(net, hw) + schedule(net, hw, samples=m).cycles
    assert off.cycles - report.cycles == m * 4 * 3 * 2
    assert report.events == off.events
    assert report.area_um2["shift_add"] - off.area_um2["shift_add"] == pytest.approx(2 * 137 / 32)
    steps = m * 4 * 4  # samples x timesteps x planes, one position
    extra = report.energy_pj["shift_add"] - off.energy_pj["shift_add"]
    assert extra == pytest.approx(steps * 2 * 0.1 / 32)
    lib = ComponentLibrary()
    assert [lib.digital.plane_counter_bits(b) for b in (1, 2, 3, 4, 5, 8, 9)] == [
        0,
        1,
        2,
        2,
        3,
        3,
        4,
    ]
    assert lib.digital.plane_counter_area_um2(8) == pytest.approx(3 * 137 / 32)
    assert lib.digital.plane_counter_energy_pj(4, 10) == pytest.approx(20 * 0.1 / 32)
    assert report.as_dict()["hardware"]["overlap_reads"] is True


def test_overlapped_positions_price_the_latched_currents() -> None:
    """overlap_reads on a CNN (rate input, one plane per layer: no plane counters): every layer
    of several output positions gets a current register of C * current_bits flip-flops
    (137/32 um^2 each, 0.1/32 pJ per bit and position); the flat output layer none. The
    latency is the schedule's, which streams the positions."""
    net, m = rate_cnn(), 2
    off = estimate(net, serial_hw(), samples=m)
    hw = serial_hw(overlap_reads=True)
    report = estimate(net, hw, samples=m)
    sched = schedule(net, hw, samples=m)
    assert report.cycles == transfers(net, hw) + sched.cycles < off.cycles
    assert report.events == off.events
    mapping = sched.mapping
    bits = {
        lm.name: lm.channels * current_bits(lm, mapping)
        for lm in mapping.layers
        if lm.positions > 1 and lm.edges
    }
    assert bits and len(bits) < len(mapping.layers)
    area = sum(bits.values()) * 137 / 32
    assert report.area_um2["shift_add"] - off.area_um2["shift_add"] == pytest.approx(area)
    runs = m * net.timesteps
    energy = sum(
        runs * mapping.layers[i].positions * bits[lm.name] * 0.1 / 32
        for i, lm in enumerate(mapping.layers)
        if lm.name in bits
    )
    extra = report.energy_pj["shift_add"] - off.energy_pj["shift_add"]
    assert extra == pytest.approx(energy)


@pytest.mark.parametrize("net_name", ["digits", "rate-cnn"])
def test_pipelined_layers_are_priced_and_faster(net_name: str) -> None:
    """pipeline_layers: the latency is the pipelined schedule's (fewer cycles), the events stay;
    every layer with neurons gets a second spike bank of its neurons (and, rate-coded, the
    input its own: 137/32 um^2 per flip-flop, in ``sram``), every stage its own sequencer of
    sequencer_bits flip-flops (137/32 um^2 each in ``lif``, 0.1/32 pJ per bit and item)."""
    from hdl.cost.default import sequencer_bits

    net, m = (digits_mlp(), 2) if net_name == "digits" else (rate_cnn(), 3)
    off_hw = HardwareConfig(pipeline_layers=False, pipeline_samples=False)
    on_hw = replace(off_hw, pipeline_layers=True)
    off, report = estimate(net, off_hw, samples=m), estimate(net, on_hw, samples=m)
    sched = schedule(net, on_hw, samples=m)
    assert report.cycles == transfers(net, on_hw) + sched.cycles < off.cycles
    assert report.events == off.events
    mapping = sched.mapping
    rate = mapping.encoding == "rate"
    banks = sum(lm.neurons for lm in mapping.layers if lm.has_neurons)
    banks += mapping.input_neurons if rate else 0
    assert report.area_um2["sram"] - off.area_um2["sram"] == pytest.approx(banks * 137 / 32)
    stages = len(mapping.layers) + int(rate)
    seq = sum(sequencer_bits(mapping, k) for k in range(stages))
    assert report.area_um2["lif"] - off.area_um2["lif"] == pytest.approx(seq * 137 / 32)
    # streamed timesteps (overlapped reads, the default): one-position layers latch their
    # currents too (137/32 um^2 per flip-flop in ``shift_add``)
    latched = sum(
        lm.channels * current_bits(lm, mapping)
        for lm in mapping.layers
        if lm.edges and lm.positions == 1
    )
    assert latched > 0 and all(mapping.streams(lm) for lm in mapping.layers if lm.edges)
    extra = report.area_um2["shift_add"] - off.area_um2["shift_add"]
    assert extra == pytest.approx(latched * 137 / 32)
    runs = m * net.timesteps
    assert report.energy_pj["lif"] - off.energy_pj["lif"] == pytest.approx(runs * seq * 0.1 / 32)
    seconds = (transfers(net, on_hw) + sched.cycles) / (on_hw.clock_mhz * 1e6)
    assert report.seconds == pytest.approx(seconds)
    if net_name == "digits":  # t (0..4: 3 bits), run, shown, state; fc1 8 update groups
        fc1 = mapping.layers[0]
        assert fc1.update_cycles == 8 and len(fc1.plane_cycles) == 4
        assert sequencer_bits(mapping, 0) > 3 + 1 + 1 + 1
    assert report.as_dict()["hardware"]["pipeline_layers"] is True


@pytest.mark.parametrize(
    ("adc_bits", "fc1_bits", "out_bits", "output_bits"), [(8, 11, 9, 11), (4, 9, 5, 7)]
)
def test_current_and_output_registers_are_the_rtls_widths(
    adc_bits: int, fc1_bits: int, out_bits: int, output_bits: int
) -> None:
    """Current registers: signed bits of the largest |I| (hdl.mapping.current_bits, the RTL's rule).

    Digits MLP, binary weights (one slice, digit 1), 128-row tiles. fc1: 64 rows on one tile,
    4 input bit-planes, ADC codes at most min(adc_max, 64): |I| <= 15 * 64 = 960 -> 11 bits
    (8-bit ADC), 15 * 15 = 225 -> 9 bits (4-bit ADC, saturating). out: 128 rows, 1 plane:
    min(255, 128) = 128 -> 9 bits, min(15, 128) = 15 -> 5 bits. The membrane output sums
    T = 4 currents: 4 * 128 = 512 -> 11 bits, 4 * 15 = 60 -> 7 bits.
    """
    mem = estimate(digits_mlp(), HardwareConfig(adc_bits=adc_bits)).memory_bits
    assert mem["partial_sums"] == 128 * fc1_bits + 10 * out_bits
    assert mem["output"] == 10 * output_bits
    assert mem["parameters"] == 2 * 128 * 16 + 10 * out_bits  # fc1 threshold + bias, out bias


def test_library_changes_move_the_numbers() -> None:
    net = digits_mlp()
    base = estimate(net)
    no_leak = ComponentLibrary(
        static=StaticTech(leakage_density=replace(StaticTech().leakage_density, value=0.0))
    )
    assert estimate(net, library=no_leak).energy_pj["static"] == 0.0
    cheap_adc = ComponentLibrary(adc=ADCTech(energy_ref=replace(ADCTech().energy_ref, value=1.0)))
    assert estimate(net, library=cheap_adc).energy_pj["adc"] < base.energy_pj["adc"]
    longer = estimate(net, driver=MTJDriver(pulse_ns=20.0))
    assert longer.cycles > base.cycles  # 20 ns pulses: longer mask fill
    bigger_adc = estimate(net, HardwareConfig(adc_bits=6))
    assert bigger_adc.energy_pj["adc"] < base.energy_pj["adc"]


def test_rate_coding_and_lfsr_dropout_are_priced() -> None:
    report = estimate(rate_cnn(), samples=2)
    assert report.energy_pj["encode"] > 0 and report.events["lfsr_steps"] == 2 * 3 * 64
    assert report.energy_pj["dropout"] > 0
    m = map_network(rate_cnn(), HardwareConfig())
    assert m.layers[0].edges[0].dropout.cycles_per_dropout == 1


# --- LFSRs: leap-forward draws ------------------------------------------------------------------


def _gf2_step_matrix(width: int) -> np.ndarray:
    """The single step as a 0/1 matrix: new bit 0 = XOR of the taps, new bit i = old bit i-1."""
    a = np.zeros((width, width), dtype=np.int64)
    for tap in LFSR_TAPS[width]:
        a[0, tap - 1] = 1
    for i in range(1, width):
        a[i, i - 1] = 1
    return a


def _gf2_power(a: np.ndarray, k: int) -> np.ndarray:
    out = np.eye(a.shape[0], dtype=np.int64)
    for _ in range(k):
        out = (a @ out) % 2
    return out


def test_leap_forward_xor_gates_by_hand() -> None:
    # w = 4, taps (4, 3): the bit stream obeys b[n] = b[n-4] ^ b[n-3]; from s = (s0..s3) =
    # (b0, b-1, b-2, b-3), four steps give s0' = b4 = s0^s2^s3 (2 gates), s1' = b3 = s0^s1,
    # s2' = b2 = s1^s2, s3' = b1 = s2^s3 (1 gate each): 5 gates
    assert lfsr_xor_gates(4) == 5
    rows = (np.array([0b1101, 0b0011, 0b0110, 0b1100])[:, None] >> np.arange(4)) & 1  # [i, j]
    assert (rows == _gf2_power(_gf2_step_matrix(4), 4)).all()
    assert (lfsr_xor_gates(8), lfsr_xor_gates(16), lfsr_xor_gates(32)) == (23, 110, 473)


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
def test_leap_forward_xor_gates_match_an_independent_matrix_power(width: int) -> None:
    aw = _gf2_power(_gf2_step_matrix(width), width)  # A^w, row i = output bit i
    assert lfsr_xor_gates(width) == int((aw.sum(axis=1) - 1).sum())
    # the same network advances the register by one draw
    state = 0b1011 % (2**width - 1) + 1
    bits = (state >> np.arange(width)) & 1
    drawn = int(((aw @ bits) % 2) @ (1 << np.arange(width)))
    assert drawn == int(hdl.lfsr.lfsr_advance(state, width, width))


def test_lfsr_draw_energy_and_area_from_the_constants() -> None:
    dig = DigitalTech()
    ff_e, ff_a = dig.lfsr_bit_energy.value, dig.lfsr_bit_area.value
    xor_e, xor_a = dig.xor_energy.value, dig.xor_area.value
    assert dig.lfsr_draw_energy_pj(4) == pytest.approx(4 * ff_e + 5 * xor_e)
    assert dig.lfsr_area_um2(32) == pytest.approx(32 * ff_a + 473 * xor_a)
    assert dig.lfsr_draw_energy_pj(32) == pytest.approx(32 * 0.1 / 32 + 473 * 0.1 / 64)
    assert xor_e < ff_e and xor_a < ff_a


@pytest.mark.parametrize("samples", [1, 3])
def test_lfsr_energy_is_draws_times_draw_energy(samples: int) -> None:
    net, dig = rate_cnn(), DigitalTech()
    report = estimate(net, serial_hw(), samples=samples)  # one mask bank: no bank energy
    # input LFSR (w = 8): one draw per sample, timestep and input
    inputs = samples * 3 * 64
    # dropout: 9 rows on 4 modules take ceil(9 / 4) = 3 cycles, all 4 modules draw in each
    # (3 slots of the last cycle discarded): 12 draws of a 32-bit LFSR per mask and sample
    masks = samples * 4 * 3
    assert report.events["lfsr_draws"] == inputs + masks
    assert report.events["lfsrs"] == 1 + 4
    assert report.layers[0].detail["lfsr_draws"] == masks
    e_sram, e_add = dig.sram_energy.value, dig.add_energy.value
    dropout = masks * dig.lfsr_draw_energy_pj(32) + samples * 9 * e_sram
    assert report.energy_pj["dropout"] == pytest.approx(dropout)
    encode = inputs * (dig.lfsr_draw_energy_pj(8) + 4 * e_add + 5 * e_sram)
    assert report.energy_pj["encode"] == pytest.approx(encode)
    assert report.area_um2["dropout"] == pytest.approx(4 * dig.lfsr_area_um2(32))


def test_lfsr_energy_scales_with_draws() -> None:
    one, three = estimate(rate_cnn(), samples=1), estimate(rate_cnn(), samples=3)
    assert three.events["lfsr_draws"] == 3 * one.events["lfsr_draws"]
    for part in ("dropout", "encode"):
        assert three.energy_pj[part] == pytest.approx(3 * one.energy_pj[part])
    assert three.area_um2 == one.area_um2
    # a wider register costs more per draw, the same number of draws
    narrow = replace(rate_cnn(), input=replace(rate_cnn().input, lfsr=LFSRSpec(width=16)))
    wide = estimate(narrow.validate(), samples=1)
    assert wide.events["lfsr_draws"] == one.events["lfsr_draws"]
    dig = DigitalTech()
    extra = 3 * 64 * (dig.lfsr_draw_energy_pj(16) - dig.lfsr_draw_energy_pj(8))
    assert wide.energy_pj["encode"] - one.energy_pj["encode"] == pytest.approx(extra)


def test_lfsr_draws_are_the_golden_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The draws the cost model prices are the ones the golden model makes, width by width."""
    draws: dict[int, int] = {}
    streams: dict[int, int] = {}
    real = hdl.lfsr.lfsr_streams

    def counting(width: int, starts: object, n: int, stride: int | None = None) -> np.ndarray:
        out = real(width, starts, n, stride)
        draws[width] = draws.get(width, 0) + out.size
        streams[width] = streams.get(width, 0) + out.shape[0]
        return out

    monkeypatch.setattr(hdl.lfsr, "lfsr_streams", counting)
    net, samples = rate_cnn(weights=True), 2
    x = np.random.default_rng(0).integers(0, 16, (1, 1, 8, 8))
    run(net, x, samples=samples)
    report = estimate(net, samples=samples)
    assert draws == {8: report.events["lfsr_steps"], 32: report.layers[0].detail["lfsr_draws"]}
    assert sum(draws.values()) == report.events["lfsr_draws"]
    assert sum(streams.values()) == report.events["lfsrs"]


def test_architecture_only_and_trained_networks_price_alike() -> None:
    import numpy as np

    arch = digits_mlp()
    rng = np.random.default_rng(1)
    trained = Network(
        arch.name,
        arch.input,
        (
            Layer(
                "fc1",
                (
                    Edge(
                        "linear",
                        "input",
                        weight=rng.choice([-1, 1], (128, 64)),
                        dropout=DropoutSpec(0.5, modules=8),
                    ),
                ),
                (128,),
                Neuron(threshold=np.full(128, 2)),
            ),
            Layer("out", (Edge("linear", "fc1", weight=rng.choice([-1, 1], (10, 128))),), (10,)),
        ),
        timesteps=4,
    ).validate()
    assert trained.has_weights and not arch.has_weights
    for preset in ("default", "spikesim"):
        assert estimate(trained, preset=preset).as_dict() == estimate(arch, preset=preset).as_dict()


def test_vgg9_is_mapped_and_priced() -> None:
    report = estimate(vgg9(), samples=2)
    assert [r.name for r in report.layers][-2:] == ["fc1", "fc2"]
    assert report.memory_bits["weights"] == sum(
        e.weights * 8 for e in map_network(vgg9(), HardwareConfig()).edges
    )
    assert report.energy_uj > 0 and report.area_mm2 > 0
    assert report.events["dropout_samples"] == 2 * 4096


# --- report -----------------------------------------------------------------------------------


def test_report_as_dict_and_table() -> None:
    for preset in ("default", "spikesim"):
        report = estimate(rate_cnn() if preset == "default" else vgg9(), preset=preset)
        d = json.loads(json.dumps(report.as_dict()))
        assert d["preset"] == preset
        assert d["latency"]["cycles"] == report.cycles
        assert d["energy"]["uj"] == pytest.approx(report.energy_uj)
        assert len(d["layers"]) == len(report.layers)
        text = report.table()
        assert "total" in text and "latency:" in text and "energy:" in text
        for row in report.layers:
            assert row.name in text


def test_report_records_the_hardware_driver_and_constants_it_priced() -> None:
    hw = HardwareConfig(tile_rows=64, tile_cols=64, adc_bits=6, clock_mhz=100.0)
    drv = MTJDriver(device=MTJDevice(delta=45.0), pulse_ns=20.0)
    cheap_adc = ComponentLibrary(adc=ADCTech(energy_ref=replace(ADCTech().energy_ref, value=1.0)))
    report = estimate(digits_mlp(), hw, driver=drv, library=cheap_adc)
    d = json.loads(json.dumps(report.as_dict()))
    assert set(d["hardware"]) == {f.name for f in fields(HardwareConfig)}
    assert HardwareConfig(**d["hardware"]) == hw
    assert d["mtj_driver"]["pulse_ns"] == 20.0 and d["mtj_driver"]["device"]["delta"] == 45.0
    assert set(d["mtj_driver"]["device"]) == {f.name for f in fields(MTJDevice)}
    recorded = MTJDriver(MTJDevice(**d["mtj_driver"]["device"]), d["mtj_driver"]["pulse_ns"])
    assert recorded == drv
    assert d["library"]["adc.energy_ref"] == 1.0 and d["library"]["crossbar.cell_area"] > 0
    # what the JSON records prices the same inference again
    again = estimate(
        digits_mlp(), HardwareConfig(**d["hardware"]), driver=recorded, library=cheap_adc
    )
    assert again.as_dict() == report.as_dict()
    # without an explicit driver the network's own is priced, and recorded
    own = replace(digits_mlp(), mtj_driver=MTJDriver(pulse_ns=15.0)).validate()
    d_own = estimate(own).as_dict()
    assert d_own["mtj_driver"]["pulse_ns"] == 15.0
    assert d_own["energy"]["pj"]["dropout"] != estimate(digits_mlp()).energy_pj["dropout"]
    assert estimate(digits_mlp()).as_dict()["mtj_driver"]["pulse_ns"] == MTJDriver().pulse_ns
    # spikesim: its own constants, and the hardware its memory figures were counted on
    d_ss = estimate(vgg9(), hw, preset="spikesim").as_dict()
    assert HardwareConfig(**d_ss["hardware"]) == hw
    assert d_ss["library"]["xbar"] == 64 and d_ss["library"]["pe_cycle_clocks"] == 26


def test_every_constant_has_unit_source_and_is_documented() -> None:
    doc = DOC.read_text()
    for lib in (ComponentLibrary(), SpikeSimLibrary()):
        for name, c in lib.constants().items():
            assert c.unit and c.source, name
            lines = [ln for ln in doc.splitlines() if f"`{name}`" in ln]
            assert lines, f"{name} is not documented in {DOC.name}"
            assert any(f"{c.value:g}" in ln for ln in lines), f"{name} = {c.value:g} not in doc"


# --- errors -----------------------------------------------------------------------------------


def test_errors() -> None:
    net = digits_mlp()
    with pytest.raises(CostError, match="preset"):
        estimate(net, preset="isaac")
    with pytest.raises(CostError, match="samples"):
        estimate(net, samples=0)
    with pytest.raises(CostError, match="SpikeSimLibrary"):
        estimate(net, preset="spikesim", library=ComponentLibrary())
    with pytest.raises(CostError, match="ComponentLibrary"):
        estimate(net, library=SpikeSimLibrary())
    with pytest.raises(CostError, match="spikesim"):
        estimate(net, reproduce_defects=True)
    with pytest.raises(HardwareError, match="HardwareConfig"):
        estimate(net, hw={"tile_rows": 64})  # type: ignore[arg-type]
    with pytest.raises(HardwareError, match="adc_bits"):
        estimate(net, HardwareConfig(adc_bits=0))
    with pytest.raises(HardwareError, match="pulse_ns"):
        estimate(net, driver=MTJDriver(pulse_ns=-1.0))


# --- speed ------------------------------------------------------------------------------------


def _best_us(fn, repeat: int = 30) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def test_estimate_is_fast() -> None:
    mlp, big, hw = digits_mlp(), vgg9(), HardwareConfig()
    assert _best_us(lambda: estimate(mlp, hw)) < 1000
    assert _best_us(lambda: estimate(big, hw)) < 5000
    assert _best_us(lambda: estimate(big, preset="spikesim")) < 5000


def test_docs_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/cost-model.md needs a runnable example"
    exec(compile(blocks[0], str(DOC), "exec"), {})


@pytest.mark.parametrize("k", [1, 3, 8, 64, 100])
def test_the_pixel_port_is_priced_lanes_against_decode_and_cycles(k: int) -> None:
    """pixels_per_transfer = K on the digits MLP (64 pixels of 4 bits): J = ceil(64 / K)
    transfers of K * 4 lanes; area ``K * 4 * 137/32 + J * bit_length(J) * 137/64`` um^2,
    energy ``J * (K * 4 * 0.1/32 + bit_length(J) * 0.1/64)`` pJ, J cycles of latency; the
    second pixel buffer of stream_while_busy 64 * 4 flip-flops (137/32 um^2 each, 0.1/32 pJ
    each per image), no cycle."""
    net = digits_mlp()
    off = estimate(net, HardwareConfig(pixels_per_transfer=k, stream_while_busy=False), samples=2)
    on = estimate(net, HardwareConfig(pixels_per_transfer=k), samples=2)
    j = math.ceil(64 / k)
    gates = j.bit_length()
    assert off.area_um2["input"] == pytest.approx(k * 4 * 137 / 32 + j * gates * 137 / 64)
    assert off.energy_pj["input"] == pytest.approx(j * (k * 4 * 0.1 / 32 + gates * 0.1 / 64))
    assert on.area_um2["input"] - off.area_um2["input"] == pytest.approx(256 * 137 / 32)
    assert on.energy_pj["input"] - off.energy_pj["input"] == pytest.approx(256 * 0.1 / 32)
    busy = schedule(net, HardwareConfig(), samples=2).cycles
    assert off.cycles == on.cycles == j + busy and off.events["input_transfers"] == j


def test_pipelined_samples_are_priced_and_faster() -> None:
    """pipeline_samples: the latency is the schedule's over all samples' items (fewer cycles),
    the events stay; the controller's item counters, item total and fill counters are
    sample_pipeline_bits flip-flops (137/32 um^2 each in ``lif``, 0.1/32 pJ per bit and
    item)."""
    from hdl.cost.default import sample_pipeline_bits

    net, m = digits_mlp(), 4
    off_hw = HardwareConfig(pipeline_samples=False)
    on_hw = replace(off_hw, pipeline_samples=True)
    off, report = estimate(net, off_hw, samples=m), estimate(net, on_hw, samples=m)
    sched = schedule(net, on_hw, samples=m)
    assert report.cycles == transfers(net, on_hw) + sched.cycles < off.cycles
    assert report.events == off.events
    mapping = sched.mapping
    # T = 4: the same layers stream either way (both); item counters of 16 + 3 bits, two per
    # streamed layer, the total, fc1's fill counter, the owed-emit flag
    bits = sample_pipeline_bits(mapping)
    fill = mapping.layers[0].edges[0].dropout.fill_cycles
    assert bits == (2 + 2 + 1) * 19 + fill.bit_length() + 1
    assert report.area_um2["lif"] - off.area_um2["lif"] == pytest.approx(bits * 137 / 32)
    runs = m * net.timesteps
    assert report.energy_pj["lif"] - off.energy_pj["lif"] == pytest.approx(runs * bits * 0.1 / 32)
    # without pipelined layers the option changes nothing
    serial = HardwareConfig(pipeline_layers=False)
    plain = estimate(net, serial, samples=m)
    same = estimate(net, replace(serial, pipeline_samples=True), samples=m)
    assert (same.cycles, same.energy_pj, same.area_um2) == (
        plain.cycles,
        plain.energy_pj,
        plain.area_um2,
    )
