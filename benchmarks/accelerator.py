"""The whole generated accelerator: generation, lint, cells per component, cycles, simulation speed.

Usage:  scripts/run python benchmarks/accelerator.py [--adc] [--masks] [--overlap] [--pipeline]
        [--options]
Writes docs/benchmarks-rtl.md (tables, definitions and the machine it ran on) and keeps every
network's `neurocim rtl` directory in build/bench-rtl/<network>/. With ``--adc`` it measures
only the section "Serial and pipelined ADCs" (cycles per inference with
``HardwareConfig.adc_pipelined`` off and on, simulated in Amaranth, against the ADC bound) and
replaces that section of the existing document (about a minute). With ``--masks`` it measures
only the section "Double-buffered dropout masks" (cycles per inference of 10 Monte-Carlo
samples with ``HardwareConfig.mask_double_buffer`` off and on, simulated in Amaranth) and
replaces that section (a few minutes). With ``--overlap`` it measures only the section
"Overlapped reads" (cycles per inference of 1 and 10 Monte-Carlo samples with
``HardwareConfig.overlap_reads`` off and on, on pipelined ADCs and double-buffered masks,
simulated in Amaranth, against the ADC bound) and replaces that section (a few minutes). With
``--pipeline`` it measures only the section "Pipelined layers" (cycles per inference of 1 and
10 Monte-Carlo samples with ``HardwareConfig.pipeline_layers`` off and on, on top of the other
three options, simulated in Amaranth, against the ADC bound) and replaces that section (a few
minutes). With ``--options`` it computes only the closed-form section "Schedule options: cycles,
area and energy" (``benchmarks/schedule_options.py``: every option alone and all together, on
the three networks and VGG-9; seconds). The flags combine: each measures its own section.

For three networks with random weights (a digits-size MLP 64-128-10, a small CNN on 8x8 inputs
and the MNIST-size 784-256-10 binary MLP, all on the default 128 x 128 tiles) it runs the RTL
flow of `neurocim rtl` (neurocim.flow.rtl.write_rtl: generation, Verilator lint, hierarchical
Yosys synthesis), simulates one image in Amaranth's simulator and checks the busy cycles equal
the schedule's (and outputs, spikes, events equal the golden model's), then runs the same image
on the Verilog under cocotb with Icarus and with Verilator. It takes about 5 to 10 minutes on
two cores, most of it the synthesis of the MNIST-size design.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from cost_model import vgg9
from schedule_options import (
    OPTIONS_HEADING,
    option_rows,
    options_section,
    sample_pipeline_section,
)

from hdl._io import atomic_write_text
from hdl.cost.default import sequencer_bits
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from hdl.mapping import Mapping, adc_bound, current_bits, map_network, schedule
from hdl.rtl.accelerator import Accelerator
from neurocim.flow.rtl import write_rtl
from sim.amaranth_accel import simulate_amaranth
from sim.compare import compare_run

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-rtl.md"
BUILD = ROOT / "build" / "bench-rtl"
AMARANTH_IMAGES = 3  # images of the second Amaranth run (the steady-state rate)
SERIAL = HardwareConfig(
    adc_pipelined=False, mask_double_buffer=False, overlap_reads=False, pipeline_layers=False
)
"""The serial schedule of the first generator: the base of the ``--adc`` and ``--masks``
sections."""


def _pm1(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice([-1, 1], shape)


def _binary_mlp(
    name: str,
    in_shape: tuple[int, int, int],
    *,
    bits: int,
    hidden: int,
    dropout: DropoutSpec,
    threshold: int,
    leak_shift: int | None,
    timesteps: int,
    seed: int,
) -> Network:
    """A binary MLP input -> ``hidden`` LIF neurons (with ``dropout``) -> 10 outputs."""
    rng = np.random.default_rng(seed)
    n_in = int(np.prod(in_shape))
    return Network(
        name,
        InputSpec(in_shape, bits=bits),
        (
            Layer(
                "fc1",
                (Edge("linear", "input", weight=_pm1(rng, (hidden, n_in)), dropout=dropout),),
                (hidden,),
                Neuron(threshold=np.full(hidden, threshold), leak_shift=leak_shift),
            ),
            Layer("out", (Edge("linear", "fc1", weight=_pm1(rng, (10, hidden))),), (10,)),
        ),
        timesteps=timesteps,
    ).validate()


def digits_mlp() -> Network:
    return _binary_mlp(
        "digits MLP 64-128-10, T=4",
        (1, 8, 8),
        bits=4,
        hidden=128,
        dropout=DropoutSpec(0.5, modules=8),
        threshold=24,
        leak_shift=2,
        timesteps=4,
        seed=1,
    )


def small_cnn() -> Network:
    rng = np.random.default_rng(2)
    return Network(
        "small CNN 8x8: conv16-conv32/2-fc10, T=4",
        InputSpec((1, 8, 8), bits=4),
        (
            Layer(
                "c1",
                (Edge("conv2d", "input", kernel=3, padding=1, weight=_pm1(rng, (16, 1, 3, 3))),),
                (16, 8, 8),
                Neuron(threshold=np.full(16, 12), leak_shift=2),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        kernel=3,
                        stride=2,
                        padding=1,
                        weight=_pm1(rng, (32, 16, 3, 3)),
                        dropout=DropoutSpec(0.3, granularity="channel", modules=4),
                    ),
                ),
                (32, 4, 4),
                Neuron(threshold=np.full(32, 4), leak_shift=2),
            ),
            Layer("out", (Edge("linear", "c2", weight=_pm1(rng, (10, 512))),), (10,)),
        ),
        timesteps=4,
    ).validate()


def mnist_mlp(modules: int = 16) -> Network:
    """The MNIST-size MLP; ``modules`` MTJ modules fill its hidden layer's masks."""
    suffix = "" if modules == 16 else f", {modules} MTJ modules"
    return _binary_mlp(
        f"MNIST-size binary MLP 784-256-10, T=1{suffix}",
        (1, 28, 28),
        bits=8,
        hidden=256,
        dropout=DropoutSpec(0.2, modules=modules),
        threshold=1000,
        leak_shift=None,
        timesteps=1,
        seed=3,
    )


def read_lower_bound(mapping: Mapping) -> int:
    """Read steps of one sample if every tile of a layer reads in parallel in one cycle and
    nothing else costs a cycle: ``T · Σ_l P_l · B_l`` (positions times bit-planes)."""
    return mapping.timesteps * sum(
        layer.positions * len(layer.plane_cycles) for layer in mapping.layers
    )


def cycle_split(mapping: Mapping) -> dict[str, int]:
    """Cycles of one sample: the mask fill, then the compute (encoding, reads and updates,
    which overlap in the fast schedule, so they are not split further)."""
    return {"fill": mapping.fill_cycles, "compute": mapping.compute_cycles}


def _cosim(net: Network, hw: HardwareConfig, x: np.ndarray, simulator: str, root: Path) -> dict:
    """One image on the Verilog; wall seconds (build included) and the bench's clocked rate."""
    try:
        from sim.cosim import run_cosim
    except ImportError as err:  # pragma: no cover - depends on the checkout
        return {"error": f"sim.cosim unavailable ({err})"}
    start = time.perf_counter()
    try:
        run = run_cosim(net, hw, x, samples=1, simulator=simulator, build_root=root)
    except Exception as err:  # a missing simulator is reported in the table, not fatal
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
    wall = time.perf_counter() - start
    verdict = compare_run(net, hw, x, 1, run)
    assert verdict.ok, (simulator, verdict.findings[:3])
    assert run.cycles == [schedule(net, hw).cycles], (simulator, run.cycles)
    return {"wall": wall, "rate": run.cycles_per_second, "cycles": run.sim_cycles}


def bench(net: Network, hw: HardwareConfig) -> dict:
    slug = re.sub(r"[^a-z0-9]+", "-", net.name.split(",")[0].lower()).strip("-")
    out = BUILD / slug
    t0 = time.perf_counter()
    result = write_rtl(net, out, hw)
    flow_s = time.perf_counter() - t0
    mapping = map_network(net, hw)
    cycles = schedule(net, hw).cycles
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**net.input.bits, (AMARANTH_IMAGES, *net.input.shape))

    acc = Accelerator(net, hw)
    start = time.perf_counter()
    one = simulate_amaranth(acc, x[:1])
    t_one = time.perf_counter() - start
    verdict = compare_run(net, hw, x[:1], 1, one)
    assert verdict.ok, verdict.findings[:3]
    assert one.cycles == [cycles], (one.cycles, cycles)  # measured == schedule
    acc = Accelerator(net, hw)
    start = time.perf_counter()
    many = simulate_amaranth(acc, x)
    t_many = time.perf_counter() - start
    assert many.cycles == [cycles] * AMARANTH_IMAGES
    # clock cycles of one image in sim.amaranth_accel's bench: one per pixels transfer (with
    # stream_while_busy hidden behind the previous image's busy cycles), the start cycle, the
    # busy cycles, the done cycle and the cycle taking the last result
    transfers = mapping.input_transfer_cycles
    exposed = max(0, transfers - cycles) if hw.stream_while_busy else transfers
    per_image = exposed + cycles + 3
    steady = (AMARANTH_IMAGES - 1) * per_image / max(t_many - t_one, 1e-9)

    shutil.rmtree(out / "sim-build", ignore_errors=True)  # time the Verilog builds too
    cosim = {s: _cosim(net, hw, x[:1], s, out / "sim-build") for s in ("icarus", "verilator")}
    bound = read_lower_bound(mapping)
    assert sum(cycle_split(mapping).values()) == cycles
    row = {
        "name": net.name,
        "tiles": mapping.tiles,
        "mtj": mapping.dropout_modules,
        "report": result.report,
        "seconds": result.seconds,
        "flow_s": flow_s,
        "cycles": cycles,
        "bound": bound,
        "split": cycle_split(mapping),
        "adc_bound": adc_bound(mapping),
        "amaranth_one_s": t_one,
        "amaranth_rate": steady,
        "cosim": cosim,
    }
    syn = result.report["synthesis"]
    print(
        f"{net.name}: {result.report['design']['verilog_bytes']:,} B Verilog, "
        f"{syn['cells']:,} cells, {syn['flip_flops']:,} FF, {cycles:,} cycles "
        f"(bound {bound:,}), flow {flow_s:.1f} s, Amaranth {steady:,.0f} cycles/s, "
        + ", ".join(
            f"{s} {c['rate']:,.0f} cycles/s" if "rate" in c else f"{s}: {c['error']}"
            for s, c in cosim.items()
        ),
        flush=True,
    )
    return row


def _checked_cycles(
    net: Network, chip: HardwareConfig, x: np.ndarray, samples: int, label: str
) -> int:
    """Busy cycles of ``x`` on ``chip`` in Amaranth's simulator, asserted equal to the
    schedule's and bit-exact with the golden model."""
    want = schedule(net, chip, samples).cycles
    start = time.perf_counter()
    run = simulate_amaranth(Accelerator(net, chip), x, samples=samples)
    verdict = compare_run(net, chip, x, samples, run)
    assert verdict.ok, verdict.findings[:3]
    assert run.cycles == [want], (run.cycles, want)  # measured == schedule
    print(
        f"{net.name}: {label}: {want:,} cycles for {samples} sample(s) "
        f"(simulated in {time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    return want


def adc_row(net: Network, hw: HardwareConfig) -> dict:
    """Cycles of one inference (one image, one sample) with serial and with pipelined ADCs,
    each simulated in Amaranth and asserted equal to the schedule and bit-exact with the golden
    model, and the ADC bound (:func:`hdl.mapping.adc_bound`)."""
    x = np.random.default_rng(0).integers(0, 2**net.input.bits, (1, *net.input.shape))
    cycles = {}
    for pipelined in (False, True):
        chip = replace(hw, adc_pipelined=pipelined)
        cycles[pipelined] = _checked_cycles(net, chip, x, 1, f"adc_pipelined={pipelined}")
    bound = adc_bound(map_network(net, hw))
    return {"name": net.name, "serial": cycles[False], "pipelined": cycles[True], "bound": bound}


ADC_HEADING = "## Serial and pipelined ADCs"


def adc_section(rows: list[dict], where: str) -> list[str]:
    """The section of :data:`ADC_HEADING`: cycles with ``adc_pipelined`` off and on."""
    out = [
        "",
        ADC_HEADING,
        "",
        f"Measured with `scripts/run python benchmarks/accelerator.py --adc` on: {where}. "
        "Cycles per inference (one image, one Monte-Carlo sample) on the serial schedule "
        "(`SERIAL`: every schedule option off, ADC latency 1 cycle) with serial ADCs "
        "(`adc_pipelined = false`: a "
        "read step of `2 + mux_steps · (1 + adc_latency_cycles)` cycles) and with pipelined "
        "ADCs (`adc_pipelined = true`: `2 + mux_steps + adc_latency_cycles`), "
        "each the `busy` cycles of a run in Amaranth's simulator, asserted equal to the "
        "schedule's and bit-exact with the golden model. ADC bound: `hdl.mapping.adc_bound`, "
        "the cycles if every ADC converted one column every cycle and nothing else cost a "
        "cycle (the sum over the read steps of their conversions per ADC; "
        "docs/cost-model.md). What separates the pipelined count from the bound: per read "
        "step its read and accumulate cycles and the ADC latency (3 cycles here, against "
        "`mux_steps` conversions: 8 on a layer using all 128 columns of its tiles, 2 or 4 on "
        "the CNN's convolutions and 2 on the 10-output layers), and the mask fill and LIF "
        "update steps.",
        "",
        "| network | serial ADCs [cycles] | pipelined ADCs [cycles] | speed-up | ADC bound "
        "[cycles] | serial / bound | pipelined / bound |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {r['serial']:,} | {r['pipelined']:,} | "
            f"{r['serial'] / r['pipelined']:.2f} | {r['bound']:,} | "
            f"{r['serial'] / r['bound']:.2f} | {r['pipelined'] / r['bound']:.2f} |"
        )
    return out


MASK_SAMPLES = 10
"""Monte-Carlo samples per inference of the double-buffered mask measurement."""

MASK_HEADING = "## Double-buffered dropout masks"


def mask_row(net: Network, hw: HardwareConfig, samples: int = MASK_SAMPLES) -> dict:
    """Cycles of one inference (one image, ``samples`` Monte-Carlo samples) with one mask bank
    and with double-buffered masks, each simulated in Amaranth and asserted equal to the
    schedule (``S * (F + C)`` and ``F + (S - 1) * max(C, F) + C``) and bit-exact with the
    golden model."""
    x = np.random.default_rng(0).integers(0, 2**net.input.bits, (1, *net.input.shape))
    mp = map_network(net, hw)
    fill, compute = mp.fill_cycles, mp.compute_cycles
    formula = {
        False: samples * (fill + compute),
        True: fill + (samples - 1) * max(compute, fill) + compute,
    }
    cycles = {}
    for double in (False, True):
        chip = replace(hw, mask_double_buffer=double)
        cycles[double] = _checked_cycles(net, chip, x, samples, f"mask_double_buffer={double}")
        assert cycles[double] == formula[double], (cycles[double], formula[double])
    return {
        "name": net.name,
        "fill": fill,
        "compute": compute,
        "single": cycles[False],
        "double": cycles[True],
    }


def mask_section(rows: list[dict], where: str) -> list[str]:
    """The section of :data:`MASK_HEADING`: cycles with ``mask_double_buffer`` off and on."""
    out = [
        "",
        MASK_HEADING,
        "",
        f"Measured with `scripts/run python benchmarks/accelerator.py --masks` on: {where}. "
        f"Cycles per inference (one image, {MASK_SAMPLES} Monte-Carlo samples `S`) on the "
        "serial schedule (`SERIAL`) with one mask bank (`mask_double_buffer = false`: every "
        "sample fills its masks first, `S · (F + C)` cycles) and with double-buffered masks "
        "(`mask_double_buffer = true`: the next sample's fill runs behind the "
        "current sample's compute, `F + (S - 1) · max(C, F) + C`), `F` the mask fill and `C` "
        "a sample's compute cycles; each count the `busy` cycles of a run in Amaranth's "
        "simulator, asserted equal to the schedule's and bit-exact with the golden model. "
        "The saving is `(S - 1) · min(F, C)`: all fills but the first where `F <= C`; where "
        "`F > C` (the MNIST-size MLP, whose 784 mask rows on 16 modules take 49 MTJ dropout "
        "cycles of 4 clocks) each sample after the first still waits `F - C` cycles for its "
        "masks. The second bank costs `units` flip-flops per edge with dropout "
        "(docs/cost-model.md).",
        "",
        "| network | fill F [cycles] | compute C [cycles] | one bank [cycles] | double-buffered "
        "[cycles] | saved | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {r['fill']:,} | {r['compute']:,} | {r['single']:,} | "
            f"{r['double']:,} | {r['single'] - r['double']:,} | "
            f"{r['single'] / r['double']:.2f} |"
        )
    return out


OVERLAP_SAMPLES = (1, 10)
"""Monte-Carlo samples per inference of the overlapped-read measurement."""

OVERLAP_HEADING = "## Overlapped reads"


def overlap_hardware(hw: HardwareConfig) -> HardwareConfig:
    """The chip the overlapped reads are measured on: ``hw`` with pipelined ADCs and
    double-buffered masks (the two earlier options on), the layers not pipelined."""
    return replace(hw, adc_pipelined=True, mask_double_buffer=True, pipeline_layers=False)


def overlap_row(net: Network, hw: HardwareConfig, samples: int) -> dict:
    """Cycles of one inference (one image, ``samples`` Monte-Carlo samples) on
    :func:`overlap_hardware` with ``overlap_reads`` off and on, each simulated in Amaranth and
    asserted equal to the schedule and bit-exact with the golden model, the ADC bound, and the
    plane-counter flip-flops the option adds."""
    x = np.random.default_rng(0).integers(0, 2**net.input.bits, (1, *net.input.shape))
    base = overlap_hardware(hw)
    cycles = {}
    for overlap in (False, True):
        chip = replace(base, overlap_reads=overlap)
        cycles[overlap] = _checked_cycles(net, chip, x, samples, f"overlap_reads={overlap}")
    mapping = map_network(net, replace(base, overlap_reads=True))
    flip_flops = sum((e.planes - 1).bit_length() for e in mapping.edges)  # plane counters
    flip_flops += sum(  # the latched currents of the layers of several positions
        lm.channels * current_bits(lm, mapping)
        for lm in mapping.layers
        if lm.positions > 1 and lm.edges
    )
    return {
        "name": net.name,
        "samples": samples,
        "off": cycles[False],
        "on": cycles[True],
        "bound": adc_bound(mapping, samples),
        "planes": max(len(lm.plane_cycles) for lm in mapping.layers),
        "flip_flops": flip_flops,
    }


def overlap_section(rows: list[dict], where: str) -> list[str]:
    """The section of :data:`OVERLAP_HEADING`: cycles with ``overlap_reads`` off and on."""
    out = [
        "",
        OVERLAP_HEADING,
        "",
        f"Measured with `scripts/run python benchmarks/accelerator.py --overlap` on: {where}. "
        "Cycles per inference (one image, `S` Monte-Carlo samples) with pipelined ADCs and "
        "double-buffered masks, layers not pipelined (`adc_pipelined = true`, "
        "`mask_double_buffer = true`, `pipeline_layers = false`, ADC latency 1 cycle) with the "
        "steps of a layer one after another (`overlap_reads = false`: per output position a "
        "read step of "
        "`2 + mux_steps + adc_latency_cycles` cycles per bit-plane, then the `ceil(C / 16)` "
        "update cycles) and overlapped (`overlap_reads = true`: the next read, of the next "
        "plane or output position, is issued once the ADCs have sampled the previous one, "
        "`mux_steps` cycles after it, and each position is updated from its latched currents "
        "while the next ones are read: `(P - 1) · max(S, G) + R + G` cycles per layer; "
        "docs/cost-model.md), each the `busy` cycles of a run in Amaranth's simulator, "
        "asserted equal to the schedule's and bit-exact with the golden model. ADC bound: "
        "`hdl.mapping.adc_bound`. The layers reading the multi-bit direct input have several "
        "planes (`fc1` of the MLPs, 4 and 8 planes of 8 conversions per ADC; the CNN's `c1`, "
        "4 planes of 2 conversions at each of its 64 positions); the CNN's convolutions gain "
        "most, their positions streaming (`c1` 8 cycles per position instead of 4 · 5 + 1, "
        "`c2` 4 instead of 7 + 2). The MLPs' layers have one position each: they gain the "
        "planes' overlap only (3 cycles per plane but the last). With 10 samples the "
        "MNIST-size MLP gains almost nothing: its mask fill (196 cycles) is longer than a "
        "sample's compute, so with double-buffered masks every sample after the first waits "
        "for its fill whatever the compute takes. Column FF: the flip-flops the option adds, "
        "a plane counter of `bit_length(planes - 1)` per multi-plane edge and a current "
        "register of `C · current_bits` per layer of several positions (docs/cost-model.md).",
        "",
        "| network | S | planes | reads in turn [cycles] | overlapped [cycles] | speed-up "
        "| ADC bound [cycles] | in turn / bound | overlapped / bound | FF |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {r['samples']} | {r['planes']} | {r['off']:,} | {r['on']:,} | "
            f"{r['off'] / r['on']:.2f} | {r['bound']:,} | {r['off'] / r['bound']:.2f} | "
            f"{r['on'] / r['bound']:.2f} | {r['flip_flops']} |"
        )
    return out


PIPELINE_SAMPLES = (1, 10)
"""Monte-Carlo samples per inference of the pipelined-layer measurement."""

PIPELINE_HEADING = "## Pipelined layers"


def pipeline_row(net: Network, hw: HardwareConfig, samples: int) -> dict:
    """Cycles of one inference (one image, ``samples`` Monte-Carlo samples) on ``hw`` with the
    other three options on and ``pipeline_layers`` off and on, each simulated in Amaranth and
    asserted equal to the schedule and bit-exact with the golden model, the ADC bound, and the
    flip-flops the cost model prices for the option (second spike banks, sequencers)."""
    x = np.random.default_rng(0).integers(0, 2**net.input.bits, (1, *net.input.shape))
    base = replace(hw, adc_pipelined=True, mask_double_buffer=True, overlap_reads=True)
    cycles = {}
    for pipelined in (False, True):
        chip = replace(base, pipeline_layers=pipelined)
        cycles[pipelined] = _checked_cycles(net, chip, x, samples, f"pipeline_layers={pipelined}")
    mapping = map_network(net, replace(base, pipeline_layers=True))
    rate = mapping.encoding == "rate"
    banks = sum(lm.neurons for lm in mapping.layers if lm.has_neurons)
    banks += mapping.input_neurons if rate else 0
    stages = len(mapping.layers) + int(rate)
    return {
        "name": net.name,
        "samples": samples,
        "off": cycles[False],
        "on": cycles[True],
        "bound": adc_bound(mapping, samples),
        "layer_cycles": [lm.timestep_cycles for lm in mapping.layers],
        "fill": mapping.fill_cycles,
        "compute": mapping.compute_cycles,
        "banks": banks,
        "sequencers": sum(sequencer_bits(mapping, k) for k in range(stages)),
        # streamed timesteps: the one-position layers' latched currents
        "latched": sum(
            lm.channels * current_bits(lm, mapping)
            for lm in mapping.layers
            if mapping.streams(lm) and lm.positions == 1
        ),
    }


def pipeline_section(rows: list[dict], where: str) -> list[str]:
    """The section of :data:`PIPELINE_HEADING`: cycles with ``pipeline_layers`` off and on."""
    per_layer = "; ".join(
        f"{r['name']} "
        + " + ".join(str(c) for c in r["layer_cycles"])
        + f" (fill {r['fill']}, pipelined compute {r['compute']})"
        for r in rows
        if r["samples"] == rows[0]["samples"]
    )
    out = [
        "",
        PIPELINE_HEADING,
        "",
        f"Measured with `scripts/run python benchmarks/accelerator.py --pipeline` on: {where}. "
        "Cycles per inference (one image, `S` Monte-Carlo samples) on the default hardware with "
        "the other three options on (`adc_pipelined`, `mask_double_buffer`, `overlap_reads`) "
        "with the layers of a timestep one after another (`pipeline_layers = false`) and "
        "pipelined across timesteps (`pipeline_layers = true`: every layer its own "
        "sequencer, its spikes double-buffered, item `(l, t)` started when `l`'s item `t - 1` "
        "has got far enough, its sources have finished `t` and its consumers `t - 2`; with "
        "overlapped reads a layer's timesteps stream like its positions, item `t`'s reads "
        "`P_l · q_l` cycles after item `t - 1`'s start while `t - 1`'s last updates still "
        "run; docs/cost-model.md), each the `busy` cycles of a run in Amaranth's simulator, "
        "asserted equal to the schedule's and bit-exact with the golden model. ADC bound: "
        "`hdl.mapping.adc_bound` (the conversions of all layers one after another; with "
        "pipelined layers the ADCs of different layers convert at once, so it is no lower "
        f"bound). Cycles per layer and timestep: {per_layer}. The first layer is the slowest "
        "in all three: the later layers hide behind it, and its own timesteps stream, so a "
        "sample's compute is about `T · P_1 · q_1` plus the last timestep's tail. The digits "
        "MLP's `fc1` (one position, 4 planes of 8 conversions per ADC: `q = 32`, `R = 35`, 8 "
        "update cycles, 43 per timestep) starts its timesteps at 0, 32, 64, 96 and a sample "
        "computes in `96 + 43 + 6 = 145` cycles instead of `4 · 43 + 6 = 178` (its reads as "
        "busy as the ADC bound but for the last timestep's tail). The MNIST-size MLP has one "
        "timestep: nothing to pipeline. FF: the flip-flops the cost model prices for the "
        "option (second spike banks + the stages' sequencers, an upper estimate, + the "
        "one-position layers' latched currents, which streamed timesteps need; "
        "docs/cost-model.md).",
        "",
        "| network | S | layers in turn [cycles] | pipelined [cycles] | speed-up "
        "| ADC bound [cycles] | in turn / bound | pipelined / bound "
        "| FF (banks + sequencers + latched) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {r['samples']} | {r['off']:,} | {r['on']:,} | "
            f"{r['off'] / r['on']:.2f} | {r['bound']:,} | {r['off'] / r['bound']:.2f} | "
            f"{r['on'] / r['bound']:.2f} | {r['banks']} + {r['sequencers']} + {r['latched']} |"
        )
    return out


def _replace_section(text: str, section: list[str], heading: str = ADC_HEADING) -> str:
    """``text`` with its ``heading`` section (up to the next ``## `` heading or the end)
    replaced by ``section``, or with ``section`` appended."""
    lines = text.rstrip("\n").split("\n")
    if heading in lines:
        start = lines.index(heading) - 1  # the blank line before it
        end = next(
            (k for k in range(start + 2, len(lines)) if lines[k].startswith("## ")), len(lines)
        )
        if end < len(lines):
            end -= 1  # keep the blank line before the next heading
        lines[start:end] = section
    else:
        lines.extend(section)
    return "\n".join(lines) + "\n"


def _cosim_cell(c: dict) -> str:
    if "rate" not in c:
        return "n/a"
    return f"{c['rate']:,.0f} ({c['wall']:.1f} s)"


def write_doc(
    rows: list[dict],
    total_s: float,
    adc_rows: list[dict],
    mask_rows: list[dict],
    overlap_rows: list[dict],
    pipeline_rows: list[dict],
) -> str:
    head = [
        "# Benchmarks: the generated accelerator",
        "",
        f"Written by `scripts/run python benchmarks/accelerator.py` on: {machine()}. "
        f"The whole benchmark took {total_s / 60:.1f} minutes.",
        "",
        "Three networks with random ±1 weights on the default hardware (`HardwareConfig()`: "
        "128 x 128 tiles of 1-bit cells, 8-bit ADCs shared by 8 columns, 16 LIF units per "
        "layer, 200 MHz): the digits-size MLP 64-128-10 (4-bit pixels, MTJ dropout on 8 "
        "modules, T = 4), a small CNN on 8x8 inputs (conv16 - conv32 stride 2 with channel "
        "MTJ dropout on 4 modules - fc10, T = 4) and the MNIST-size binary MLP 784-256-10 "
        "(8-bit pixels, MTJ dropout on 16 modules, T = 1). Every artifact comes from the flow "
        "of `neurocim rtl` (`neurocim.flow.rtl.write_rtl`); the directories are kept in "
        "`build/bench-rtl/`.",
        "",
        "## Generation, lint and synthesis",
        "",
        "Generate: building the Amaranth design and emitting its Verilog. Lint: Verilator "
        "`--lint-only -Wall` warnings left after the documented waivers. Cells, flip-flop and "
        "latch bits: Yosys' generic `synth` keeping the module hierarchy "
        "(`hdl.rtl.report.hierarchy_stats`).",
        "",
        "| network | tiles | MTJ modules | generate [s] | Verilog [kB] | lint warnings | cells "
        "| flip-flop bits | latch bits | synthesize [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rep, syn, s = r["report"], r["report"]["synthesis"], r["seconds"]
        head.append(
            f"| {r['name']} | {r['tiles']} | {r['mtj']} | {s['generate']:.1f} | "
            f"{rep['design']['verilog_bytes'] / 1000:,.0f} | {rep['lint']['warnings']} | "
            f"{syn['cells']:,} | {syn['flip_flops']:,} | {syn['latches']} | "
            f"{s['synthesis']:.0f} |"
        )
    kinds: list[str] = []
    for r in rows:
        for c in r["report"]["synthesis"]["components"]:
            if c["kind"] not in kinds:
                kinds.append(c["kind"])
    comp = [
        "",
        "## Cells per component",
        "",
        "Cells / flip-flop bits of each kind of module (own logic times instances; the top level "
        "holds the pixel and spike buffers, the word-line gating, the current sums, the output "
        "registers and the event counters). Instances in parentheses.",
        "",
        "| component | " + " | ".join(r["name"] for r in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for kind in kinds:
        cells = []
        for r in rows:
            c = next((c for c in r["report"]["synthesis"]["components"] if c["kind"] == kind), None)
            cells.append(
                "-" if c is None else f"{c['cells']:,} / {c['flip_flops']:,} ({c['instances']})"
            )
        comp.append(f"| {kind} | " + " | ".join(cells) + " |")
    cyc = [
        "",
        "## Cycles and simulation speed",
        "",
        "Cycles per inference: `busy` cycles of one image with one Monte-Carlo sample; the "
        "schedule's count (`hdl.mapping.schedule`) and the count measured in Amaranth's "
        "simulator are asserted equal (and outputs, spikes and events equal the golden "
        "model's). Read-step lower bound: `T · Σ_l P_l · B_l`, the number of crossbar read "
        "steps of one sample (output positions `P_l` times input bit-planes `B_l` per layer, "
        "`B_l = input bits` for a layer reading the direct-coded input, else 1) if every tile "
        "of a layer read in parallel in a single cycle and nothing else (mask fill, ADC "
        "multiplexing and latency, accumulation, LIF updates) cost a cycle; ADC bound: "
        "`hdl.mapping.adc_bound` (docs/cost-model.md). The split gives the schedule's cycles "
        "of mask fill / compute (input encoding, reads and updates, which overlap on the "
        "default chip).",
        "",
        "Simulation speed in simulated clock cycles per wall-clock second, every cycle counted "
        "(one per streamed pixel, the busy cycles, the start and done handshakes): for "
        f"Amaranth the steady state, from the difference between a run of {AMARANTH_IMAGES} "
        "images and one of 1 (the wall time of the 1-image run, elaboration included, in "
        "parentheses); Icarus and Verilator run the Verilog under the cocotb bench of "
        "`sim.cosim`, measured over the bench's clocked part, with the wall time of the whole "
        "one-image run (Verilog build included) in parentheses. Amaranth plays the crossbar "
        "macros and MTJ modules with the Python behavioural models, one process per macro and "
        "module every cycle; Icarus and Verilator with their Verilog twins inside the "
        "simulation top of `sim.sim_top` (docs/cosim.md), the bench running Python per pixel "
        "and per image only (docs/benchmarks-cosim.md measures the rate over many images).",
        "",
        "| network | cycles / inference | split fill / compute | read-step lower "
        "bound | cycles / bound | ADC bound | cycles / ADC bound | Amaranth [cycles/s] | "
        "Icarus [cycles/s] | Verilator [cycles/s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        split = " / ".join(f"{v:,}" for v in r["split"].values())
        cyc.append(
            f"| {r['name']} | {r['cycles']:,} | {split} | {r['bound']:,} | "
            f"{r['cycles'] / r['bound']:.1f} | {r['adc_bound']:,} | "
            f"{r['cycles'] / r['adc_bound']:.2f} "
            f"| {r['amaranth_rate']:,.0f} ({r['amaranth_one_s']:.1f} s) | "
            f"{_cosim_cell(r['cosim']['icarus'])} | {_cosim_cell(r['cosim']['verilator'])} |"
        )
    errors = [
        f"- {r['name']}, {s}: {c['error']}"
        for r in rows
        for s, c in r["cosim"].items()
        if "error" in c
    ]
    tail = ["", "Not run:", "", *errors] if errors else []
    adc = adc_section(adc_rows, f"{machine()} (the same run)")
    masks = mask_section(mask_rows, f"{machine()} (the same run)")
    overlap = overlap_section(overlap_rows, f"{machine()} (the same run)")
    pipeline = pipeline_section(pipeline_rows, f"{machine()} (the same run)")
    return "\n".join([*head, *comp, *cyc, *tail, *adc, *masks, *overlap, *pipeline, ""])


def _options(nets: tuple[Network, ...]) -> list[str]:
    """The closed-form section of :data:`OPTIONS_HEADING`: every option's cycles, area and
    energy on the benchmark networks and VGG-9 (``benchmarks/schedule_options.py``)."""
    every = [*nets, vgg9()]
    rows = [r for net in every for r in option_rows(net)]
    return options_section(rows, machine()) + sample_pipeline_section(
        [*nets, mnist_mlp(modules=64), vgg9()]
    )


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    hw = HardwareConfig()
    nets = (digits_mlp(), small_cnn(), mnist_mlp())
    flags = set(sys.argv[1:])
    if flags & {"--adc", "--masks", "--overlap", "--pipeline", "--options"}:  # those only
        text = DOC.read_text()
        if "--adc" in flags:
            adc_rows = [adc_row(net, SERIAL) for net in nets]
            text = _replace_section(text, adc_section(adc_rows, machine()))
        if "--masks" in flags:
            mask_rows = [mask_row(net, SERIAL) for net in nets]
            text = _replace_section(text, mask_section(mask_rows, machine()), MASK_HEADING)
        if "--overlap" in flags:
            overlap_rows = [overlap_row(n, hw, s) for n in nets for s in OVERLAP_SAMPLES]
            section = overlap_section(overlap_rows, machine())
            text = _replace_section(text, section, OVERLAP_HEADING)
        if "--pipeline" in flags:
            pipeline_rows = [pipeline_row(n, hw, s) for n in nets for s in PIPELINE_SAMPLES]
            section = pipeline_section(pipeline_rows, machine())
            text = _replace_section(text, section, PIPELINE_HEADING)
        if "--options" in flags:
            text = _replace_section(text, _options(nets), OPTIONS_HEADING)
    else:
        rows = [bench(net, hw) for net in nets]
        adc_rows = [adc_row(net, SERIAL) for net in nets]
        mask_rows = [mask_row(net, SERIAL) for net in nets]
        overlap_rows = [overlap_row(n, hw, s) for n in nets for s in OVERLAP_SAMPLES]
        pipeline_rows = [pipeline_row(n, hw, s) for n in nets for s in PIPELINE_SAMPLES]
        text = write_doc(
            rows,
            time.perf_counter() - start,
            adc_rows,
            mask_rows,
            overlap_rows,
            pipeline_rows,
        )
        text = _replace_section(text, _options(nets), OPTIONS_HEADING)
    atomic_write_text(DOC, text)
    print(text)


if __name__ == "__main__":
    main()
