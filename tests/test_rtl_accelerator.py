"""The whole accelerator (hdl.rtl.accelerator) in Amaranth's simulator against hdl.golden.

Every crossbar macro is played by its behavioural model on the cells the chip programs, every
MTJ dropout module by the device model (seeded; the drawn bits are replayed by the golden
model). Outputs, every layer's spikes per timestep, the busy cycles (== hdl.mapping.schedule),
the event counters and the events the analog models saw must equal the golden model's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hdl.golden import run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from hdl.mapping import current_bits, map_network, schedule
from hdl.rtl import RTLError
from hdl.rtl.accelerator import Accelerator, accelerator_verilog, tile_cells
from hdl.rtl.accumulate import EdgeAccumulator
from hdl.rtl.mask_fill import MaskFill
from hdl.rtl.synth import lint, synth_stats
from sim.amaranth_accel import simulate_amaranth
from sim.compare import compare_run
from sim.netgen import (
    example_networks,
    long_fill_examples,
    pipeline_examples,
    random_images,
    random_network,
)

EXAMPLES = example_networks()


def check(net: Network, hw: HardwareConfig, images: int = 3, samples: int = 2, seed: int = 0):
    acc = Accelerator(net, hw)
    x = random_images(net, images, seed)
    observed = simulate_amaranth(acc, x, samples=samples, mtj_seed=seed)
    verdict = compare_run(net, hw, x, samples, observed)
    assert verdict.ok, "\n".join(verdict.findings)
    return acc, observed, verdict


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_network_matches_golden(name: str) -> None:
    net, hw = EXAMPLES[name]
    acc, observed, verdict = check(net, hw)
    golden = verdict.golden
    # not vacuous: neurons fire and outputs vary
    assert golden.events["spikes"] > 0
    assert len(np.unique(golden.outputs)) > 1
    # the analog models saw exactly the golden model's events
    assert observed.macro_reads == golden.events["crossbar_reads"]
    assert observed.macro_conversions == golden.events["adc_conversions"]
    mtj_units = sum(m.units for m in acc.mtj_modules if m.module == 0)
    assert observed.mtj_samples == mtj_units * 3 * 2
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 3 == [acc.cycles(2)] * 3


@pytest.mark.parametrize("seed", range(16))
def test_random_network_matches_golden(seed: int) -> None:
    net, hw = random_network(seed)
    check(net, hw, seed=seed)


def _pipelining_saves(net: Network, hw: HardwareConfig, samples: int) -> int:
    """Cycles a pipelined ADC saves, from docs/cost-model.md, for a network with one weighted
    edge per layer: every read step of ``m`` conversions per ADC takes ``m · (1 + L)`` cycles
    of conversions one after another, ``m + L`` pipelined, so it saves ``L · (m - 1)``."""
    latency, total = hw.adc_latency_cycles, 0
    for lm in map_network(net, hw).layers:
        assert len(lm.edges) <= 1, "the formula assumes one weighted edge per layer"
        for e in lm.edges:
            total += lm.positions * e.planes * latency * (e.mux_steps - 1)
    return samples * net.timesteps * total


@pytest.mark.parametrize("name", ["cell", "conv"])
def test_pipelined_adcs_take_the_predicted_fewer_cycles_and_stay_bit_exact(name: str) -> None:
    """With hw.adc_pipelined the macros hand over a conversion every cycle: the busy cycles
    equal the schedule's, which is the serial one minus what pipelining saves, and outputs,
    spikes and events stay the golden model's (the macro models flag any read too early)."""
    net, example_hw = EXAMPLES[name]
    serial_hw = replace(example_hw, adc_pipelined=False, overlap_reads=False, pipeline_layers=False)
    hw = replace(serial_hw, adc_pipelined=True)
    assert hw.adc_latency_cycles > 0
    acc, observed, verdict = check(net, hw)
    saved = _pipelining_saves(net, hw, 2)
    assert saved > 0
    want = schedule(net, serial_hw, 2).cycles - saved
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 3 == [want] * 3
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert observed.macro_conversions == verdict.golden.events["adc_conversions"]
    assert observed.errors == []
    for tile in acc.tiles:  # the macro timing the models played
        assert (tile.first_cycles, tile.conversion_cycles) == (1 + hw.adc_latency_cycles, 1)
        assert tile.latency == tile.conversions + hw.adc_latency_cycles


DOUBLE = {
    **{k: (n, replace(h, mask_double_buffer=True)) for k, (n, h) in EXAMPLES.items()},
    **long_fill_examples(),
}


@pytest.mark.parametrize("name", ["mlp", "cell", "mtj-long", "lfsr-long"])
def test_double_buffered_masks_hide_the_fill_and_stay_bit_exact(name: str) -> None:
    """With hw.mask_double_buffer the fill of sample m + 1 runs while sample m computes: the
    busy cycles are F + (S - 1) * max(C, F) + C (fill F, compute C per sample; mlp and cell
    have F < C, the long cases F > C, their samples waiting for the fill) and outputs, spikes,
    events and the masks the MTJ models drew stay the golden model's (samples in turn: the
    formula is theirs)."""
    net, hw = DOUBLE[name]
    hw = replace(hw, pipeline_samples=False)
    single_hw = replace(hw, mask_double_buffer=False)
    samples, images = 3, 2
    mp = map_network(net, single_hw)
    fill, compute = mp.fill_cycles, mp.compute_cycles
    assert fill > 0 and (fill > compute) == name.endswith("-long")
    acc, observed, verdict = check(net, hw, images=images, samples=samples)
    want = fill + (samples - 1) * max(compute, fill) + compute
    assert observed.cycles == [schedule(net, hw, samples).cycles] * images == [want] * images
    assert want == schedule(net, single_hw, samples).cycles - (samples - 1) * min(fill, compute)
    mtj_units = sum(m.units for m in acc.mtj_modules if m.module == 0)
    assert observed.mtj_samples == mtj_units * images * samples
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert observed.errors == []


OVERLAP = {
    "mlp": (EXAMPLES["mlp"][0], replace(EXAMPLES["mlp"][1], overlap_reads=True)),
    "mlp-pipelined": (
        EXAMPLES["mlp"][0],
        replace(EXAMPLES["mlp"][1], overlap_reads=True, adc_pipelined=True),
    ),
    "conv-pipelined-double": (
        EXAMPLES["conv"][0],
        replace(
            EXAMPLES["conv"][1], overlap_reads=True, adc_pipelined=True, mask_double_buffer=True
        ),
    ),
    "cell": (EXAMPLES["cell"][0], replace(EXAMPLES["cell"][1], overlap_reads=True)),
}


def _overlap_saves(net: Network, hw: HardwareConfig, samples: int) -> int:
    """Cycles overlapped reads save, from docs/cost-model.md, for a network with one weighted
    edge per layer: a read step is ``read = 2 + first + (n - 1) * interval`` cycles (``n =
    mux_steps``), its sampling window ``s = n * interval``. In turn a layer of ``P`` positions
    and ``B`` planes takes ``P * (B * read + G)``; overlapped, the planes of a position are
    issued every ``s`` cycles (the sum final ``R = (B - 1) * s + read`` after the first) and the
    positions every ``q = max(B * s, G)`` cycles: ``(P - 1) * q + R + G``."""
    first, interval = hw.conversion_timing
    total = 0
    for lm in map_network(net, hw).layers:
        assert len(lm.edges) <= 1, "the formula assumes one weighted edge per layer"
        if not lm.edges:
            continue
        (e,) = lm.edges
        B, P, G, n = e.planes, lm.positions, lm.update_cycles, e.mux_steps
        read, s = 2 + first + (n - 1) * interval, n * interval
        R, q = (B - 1) * s + read, max(B * s, G)
        total += P * (B * read + G) - ((P - 1) * q + R + G)
    return samples * net.timesteps * total


@pytest.mark.parametrize("name", sorted(OVERLAP))
def test_overlapped_reads_take_the_predicted_fewer_cycles_and_stay_bit_exact(name: str) -> None:
    """With hw.overlap_reads the next read (bit-plane or output position) comes as soon as the
    ADCs have sampled the previous one (the macro models flag a read or word-line change too
    early), each position updated from its latched currents while the next ones are read: the
    busy cycles equal the schedule's, the plain one minus what the overlap saves, and outputs,
    spikes and events stay the golden model's (cell: one position and plane per layer, nothing
    changes)."""
    net, hw = OVERLAP[name]
    hw = replace(hw, pipeline_layers=False)  # the saving's formula chains the layers
    plain = replace(hw, overlap_reads=False)
    _, observed, verdict = check(net, hw, images=2)
    saved = _overlap_saves(net, hw, 2)
    assert (saved > 0) == (name != "cell")
    want = schedule(net, plain, 2).cycles - saved
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 2 == [want] * 2
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert observed.macro_conversions == verdict.golden.events["adc_conversions"]
    assert observed.errors == []


def test_overlapped_reads_with_the_reads_plane_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator that overlaps the reads but times the accumulators by the controller (each
    code shifted by the plane of the read issued last, each sum cleared by its first read)
    instead of by their codes: the first layer's sums are wrong."""
    net, hw = OVERLAP["mlp-pipelined"]
    check_original = EdgeAccumulator._check  # bound to the class

    def check_reads_plane(cls, **params):  # the accelerator then wires clear and plane
        return check_original(**{**params, "streamed": False})

    monkeypatch.setattr(EdgeAccumulator, "_check", classmethod(check_reads_plane))
    acc = Accelerator(net, hw)
    x = random_images(net, 2, 3)
    observed = simulate_amaranth(acc, x, samples=1)
    assert observed.errors == []  # the reads themselves are on time
    verdict = compare_run(net, hw, x, 1, observed)
    assert not verdict.ok
    assert verdict.first.startswith("layer 'fc0' differs first")


def test_overlapped_positions_updated_from_the_live_sums_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generator that overlaps the positions of a convolution but updates a position from the
    accumulators' live sums instead of its latched currents (by then the next position's codes
    are arriving): the convolution's spikes are wrong."""
    net, hw = OVERLAP["conv-pipelined-double"]
    monkeypatch.setattr(Accelerator, "_latched", lambda self, m, ctrl, lp, o, value: value)
    acc = Accelerator(net, hw)
    x = random_images(net, 2, 3)
    observed = simulate_amaranth(acc, x, samples=1)
    assert observed.errors == []  # the reads are on time
    verdict = compare_run(net, hw, x, 1, observed)
    assert not verdict.ok
    assert verdict.first.startswith("layer 'c1' differs first")


#: pipelined layers: the examples (direct multi-bit and rate input, convolutions, a skip edge,
#: MTJ and LFSR dropout, fills longer than a sample) with reads in turn and overlapped, and
#: the two networks whose producers wait for a free bank
PIPELINE = {
    **{
        f"{name}-{'overlap' if overlap else 'in-turn'}": (
            net,
            replace(hw, pipeline_layers=True, overlap_reads=overlap),
        )
        for name, (net, hw) in {**EXAMPLES, **long_fill_examples()}.items()
        for overlap in (False, True)
    },
    **pipeline_examples(),
}


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_pipelined_layers_take_the_scheduled_cycles_and_stay_bit_exact(name: str) -> None:
    """With hw.pipeline_layers every layer runs its own timesteps, layer l + 1 on timestep t
    while l works on t + 1: the busy cycles equal the schedule's (fewer than with the layers in
    turn when there are several timesteps), outputs, every layer's spikes per timestep and the
    events stay the golden model's, and no macro saw a read or word-line change too early."""
    net, hw = PIPELINE[name]
    _, observed, verdict = check(net, hw, images=2)
    want = schedule(net, hw, 2).cycles
    plain = schedule(net, replace(hw, pipeline_layers=False), 2).cycles
    assert observed.cycles == [want] * 2
    assert want < plain if net.timesteps > 1 else want == plain
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert observed.macro_conversions == verdict.golden.events["adc_conversions"]
    assert observed.errors == []


@pytest.mark.parametrize("seed", range(8))
def test_random_network_with_the_other_layer_schedule_matches_golden(seed: int) -> None:
    """The random networks of test_random_network_matches_golden with pipeline_layers flipped:
    every seed runs with its layers both in turn and pipelined."""
    net, hw = random_network(seed)
    flipped = replace(hw, pipeline_layers=not hw.pipeline_layers)
    _, observed, _ = check(net, flipped, seed=seed)
    assert observed.cycles == [schedule(net, flipped, 2).cycles] * 3


@pytest.mark.parametrize("seed", range(12))
def test_random_network_with_streamed_timesteps_matches_golden(seed: int) -> None:
    """The random networks with pipeline_layers and overlap_reads both on (the other options as
    drawn, the ADCs flipped on odd seeds): each layer's timesteps stream, its next item's reads
    P * q after its item's start; bit-exact with the scheduled busy cycles."""
    net, hw = random_network(seed)
    hw = replace(hw, pipeline_layers=True, overlap_reads=True)
    if seed % 2:
        hw = replace(hw, adc_pipelined=not hw.adc_pipelined)
    _, observed, _ = check(net, hw, seed=seed)
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 3
    assert observed.errors == []


def _digits_like() -> tuple[Network, HardwareConfig]:
    """The example MLP (4-bit direct input, one position per layer) streamed, on one tile row
    and one LIF unit: fc0's item t + 1 reads while t updates (R + G > q), and the next sample's
    items begin while the membranes carry the last sample's values."""
    net, hw = EXAMPLES["mlp"]
    return net, replace(hw, pipeline_layers=True, overlap_reads=True, lif_units=2)


def test_streamed_mlp_reads_the_next_timestep_while_updating() -> None:
    """The digits-like MLP streamed: fc0's next item starts P * q after its item, before that
    item's updates end, and the accelerator is bit-exact at the scheduled cycles."""
    net, hw = _digits_like()
    m = map_network(net, hw)
    fc0 = m.layers[0]
    assert fc0.positions == 1 and fc0.sum_cycles + fc0.update_cycles > fc0.position_period
    assert m.item_starts[1][0] == m.item_starts[0][0] + fc0.position_period
    _, observed, _ = check(net, hw, images=2, samples=2)
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 2


def test_streamed_with_several_latch_timers() -> None:
    """A 1-bit MLP on pipelined ADCs of latency 2 with one conversion per read and one update
    cycle per position: q = 1 cycle, R = 5, so four positions' latches are pending at once (the
    controller's four latch timers); bit-exact at the scheduled cycles."""
    rng = np.random.default_rng(7)
    net = Network(
        "narrow",
        InputSpec((1, 3, 3), bits=1),
        (
            Layer(
                "c0",
                (
                    Edge(
                        "conv2d",
                        "input",
                        kernel=3,
                        padding=1,
                        weight=rng.choice([-1, 1], (2, 1, 3, 3)),
                    ),
                ),
                (2, 3, 3),
                neuron=Neuron(threshold=np.array([1, 2]), membrane_bits=6),
            ),
            Layer("out", (Edge("linear", "c0", weight=rng.choice([-1, 1], (2, 18))),), (2,)),
        ),
        timesteps=3,
    ).validate()
    hw = HardwareConfig(
        tile_rows=16,
        tile_cols=16,
        columns_per_adc=1,
        lif_units=2,
        adc_pipelined=True,
        adc_latency_cycles=2,
        pipeline_layers=True,
    )
    m = map_network(net, hw)
    c0 = m.layers[0]
    assert (c0.position_period, c0.sum_cycles, c0.latch_timers) == (1, 5, 4)
    _, observed, _ = check(net, hw, images=2, samples=2)
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 2


def _amaranth_verdict(net: Network, hw: HardwareConfig, samples: int):
    """Two random images through the accelerator as generated now (after any fault a test
    patched in) in Amaranth's simulator, compared with the golden model."""
    x = random_images(net, 2, 0)
    observed = simulate_amaranth(Accelerator(net, hw), x, samples=samples)
    return compare_run(net, hw, x, samples, observed)


def test_streamed_updates_on_the_reads_timestep_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generator whose update side takes the reads' timestep (for ``first`` and the bank it
    writes): fc0's item 1 starts reading before item 0's updates, so those run as timestep 1
    (no membrane reset, the wrong bank) and the spikes are wrong."""
    net, hw = _digits_like()
    monkeypatch.setattr(
        Accelerator, "_update_timestep", staticmethod(lambda sq: (sq.rt, sq.rt == 0))
    )
    verdict = _amaranth_verdict(net, hw, samples=2)
    assert not verdict.ok
    assert any(f.startswith("layer 'fc0' differs first") for f in verdict.findings)


def test_streamed_reads_on_the_updates_timestep_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generator whose weighted edges read the source bank of the updates' timestep: on the
    rate-coded network with slow consumers (streamed), h1 reads h0's item t while its own item
    t - 1 still updates, so it reads the bank of t - 1 and its spikes are wrong."""
    net, hw = pipeline_examples()["slow-rate"]
    assert hw.overlap_reads and map_network(net, hw).streams(map_network(net, hw).layers[1])
    reader = Accelerator._reader
    monkeypatch.setattr(
        Accelerator,
        "_reader",
        lambda self, m, ctrl, source, li, update=False: reader(self, m, ctrl, source, li, True),
    )
    verdict = _amaranth_verdict(net, hw, samples=2)
    assert not verdict.ok
    assert any(f.startswith("layer 'h1' differs first") for f in verdict.findings)


def test_pipelined_producer_overwriting_a_bank_still_read_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A controller without condition (c): a producer starts its next timestep without waiting
    for its consumers to free the bank it writes. On the rate-coded network with slow consumers
    the encoder and h0 overwrite spikes h0 and h1 still read: h1's spikes are wrong."""
    from amaranth.hdl import Const

    from hdl.rtl.controller import ScheduleController

    net, hw = pipeline_examples()["slow-rate"]
    hw = replace(hw, overlap_reads=False)  # items in turn: the consumers stay slow
    monkeypatch.setattr(ScheduleController, "_bank_free", lambda self, fins, t, cs: Const(1, 1))
    verdict = _amaranth_verdict(net, hw, samples=1)
    assert not verdict.ok
    assert any(f.startswith("layer 'h1' differs first") for f in verdict.findings)


def test_pipelined_verilog_lints_clean_and_holds_the_second_banks() -> None:
    """The rate-coded cell example with pipelined layers: lint-clean, latch-free Verilog holding
    at least the second spike banks (every layer with neurons and the input spikes) more than
    with the layers in turn, and at most those and the sequencers the cost model prices."""
    from hdl.cost.default import sample_pipeline_bits, sequencer_bits

    net, example_hw = EXAMPLES["cell"]
    hw = replace(example_hw, pipeline_layers=True)
    text = accelerator_verilog(net, hw)
    result = lint(text, "accelerator")
    assert result.clean, "\n".join(map(str, result.warnings))
    stats = synth_stats(text, "accelerator")
    plain = synth_stats(accelerator_verilog(net, replace(hw, pipeline_layers=False)), "accelerator")
    assert stats.latches == 0
    mapping = map_network(net, hw)
    banks = sum(lm.neurons for lm in mapping.layers if lm.has_neurons) + mapping.input_neurons
    # streamed timesteps: a layer of one position latches its currents too (the next item's
    # reads clear its sums while it updates)
    banks += sum(
        lm.channels * current_bits(lm, mapping)
        for lm in mapping.layers
        if mapping.streams(lm) and lm.positions == 1
    )
    seq = sum(sequencer_bits(mapping, k) for k in range(len(mapping.layers) + 1))
    if mapping.samples_pipelined:  # the default: the samples' item counters, fill counters
        seq += sample_pipeline_bits(mapping)
    assert plain.flip_flops + banks <= stats.flip_flops <= plain.flip_flops + banks + seq


def test_all_rows_dropped_and_saturated_columns() -> None:
    """p close to 1 drops whole masks; 6-bit cells into a 3-bit ADC saturate every column."""
    rng = np.random.default_rng(7)
    net = Network(
        "edge_cases",
        InputSpec((1, 2, 4), bits=2),
        (
            Layer(
                "h",
                (
                    Edge(
                        "linear",
                        "input",
                        weight_bits=4,
                        weight=rng.integers(-7, 8, (6, 8)),
                        dropout=DropoutSpec(p=0.95, source="lfsr", modules=2),
                    ),
                ),
                (6,),
                neuron=Neuron(threshold=np.full(6, 3), membrane_bits=6),
                bias=np.full(6, -2),
            ),
            Layer("o", (Edge("linear", "h", weight=rng.choice([-1, 1], (2, 6))),), (2,)),
        ),
        timesteps=4,
    ).validate()
    hw = HardwareConfig(adc_bits=3, cell_bits=3, tile_rows=4, tile_cols=8, lif_units=4)
    _, _, verdict = check(net, hw, images=4, samples=3)
    masks = verdict.golden.masks["h.0"]
    assert (~masks).all(axis=-1).any(), "no all-dropped mask drawn: the case is not exercised"
    assert (verdict.golden.membranes["h"] < 0).any(), "no negative membrane"


def test_mnist_size_mlp_generates_and_matches() -> None:
    """A 784-256-10 binary MLP on 128x128 tiles (28 + 2 tiles) with LFSR dropout."""
    rng = np.random.default_rng(0)
    net = Network(
        "mnist_mlp",
        InputSpec((1, 28, 28), bits=1),
        (
            Layer(
                "h",
                (
                    Edge(
                        "linear",
                        "input",
                        weight=rng.choice([-1, 1], (256, 784)),
                        dropout=DropoutSpec(p=0.2, modules=16, source="lfsr"),
                    ),
                ),
                (256,),
                neuron=Neuron(threshold=rng.integers(5, 30, 256)),
            ),
            Layer("o", (Edge("linear", "h", weight=rng.choice([-1, 1], (10, 256))),), (10,)),
        ),
    ).validate()
    hw = HardwareConfig()
    acc, observed, _ = check(net, hw, images=2, samples=2)
    assert len(acc.tiles) == 7 * 4 + 2 * 1
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 2


@pytest.mark.parametrize("double", [False, True])
def test_verilog_is_byte_identical_lints_clean_and_has_no_latch(double: bool) -> None:
    net, example_hw = EXAMPLES["cell"]
    hw = replace(example_hw, mask_double_buffer=double, pipeline_layers=False)
    text = accelerator_verilog(net, hw)
    assert text == accelerator_verilog(net, hw)
    assert "module accelerator" in text
    result = lint(text, "accelerator")
    assert result.clean, "\n".join(map(str, result.warnings))
    stats = synth_stats(text, "accelerator")
    assert stats.latches == 0 and stats.flip_flops > 0
    if double:  # the second banks (12 + 12 mask bits) and the controller's fill counter
        single_hw = replace(hw, mask_double_buffer=False)
        single = synth_stats(accelerator_verilog(net, single_hw), "accelerator")
        fill = map_network(net, hw).fill_cycles  # 28: pending counts 0 .. 28, 5 bits
        assert stats.flip_flops == single.flip_flops + 12 + 12 + fill.bit_length()


def test_overlapped_verilog_lints_clean_and_holds_the_latched_currents() -> None:
    """The conv example with overlapped reads: lint-clean, latch-free Verilog holding at least
    the current registers of its two convolutions (C * current_bits flip-flops each) and the
    plane counter of c1 (3 planes: 2 bits) more than without the option."""
    net, hw = OVERLAP["conv-pipelined-double"]
    text = accelerator_verilog(net, hw)
    result = lint(text, "accelerator")
    assert result.clean, "\n".join(map(str, result.warnings))
    stats = synth_stats(text, "accelerator")
    plain = synth_stats(accelerator_verilog(net, replace(hw, overlap_reads=False)), "accelerator")
    assert stats.latches == 0
    mapping = map_network(net, hw)
    latched = sum(
        lm.channels * current_bits(lm, mapping) for lm in mapping.layers if lm.positions > 1
    )
    assert latched > 0 and mapping.layers[0].edges[0].planes == 3
    assert stats.flip_flops >= plain.flip_flops + latched + 2


def test_logic_does_not_grow_with_weights() -> None:
    """Same shapes, different weights: identical Verilog (weights live in the macros)."""
    net, hw = EXAMPLES["mlp"]
    rng = np.random.default_rng(99)
    layers = tuple(
        replace(
            layer,
            edges=tuple(
                replace(e, weight=rng.choice([-1, 1], np.shape(e.weight))) if e.weighted else e
                for e in layer.edges
            ),
        )
        for layer in net.layers
    )
    other = replace(net, layers=layers).validate()
    assert accelerator_verilog(net, hw) == accelerator_verilog(other, hw)


def test_changed_threshold_is_caught() -> None:
    """One threshold one higher in the generated RTL: the busiest neuron of fc1 then fires
    differently (it does on these images); the report names layer fc1 and that neuron."""
    net, hw = EXAMPLES["mlp"]
    x = random_images(net, 6, 1)
    spikes = run(net, x, hw, samples=2, masks=None, mtj_seed=1, trace=True).spikes["fc1"]
    busiest = int(spikes.sum(axis=(0, 1, 2)).argmax())
    layer = net.layers[1]
    th = np.array(layer.neuron.threshold)
    th[busiest] += 1
    broken = replace(
        net,
        layers=(
            net.layers[0],
            replace(layer, neuron=replace(layer.neuron, threshold=th)),
            net.layers[2],
        ),
    ).validate()
    observed = simulate_amaranth(Accelerator(broken, hw), x, samples=2, mtj_seed=1)
    verdict = compare_run(net, hw, x, 2, observed)
    assert not verdict.ok
    assert verdict.first.startswith("layer 'fc1' differs first at image")
    assert f"neuron {busiest}:" in verdict.first


def test_dropped_partial_sum_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator that forgets the codes of the second row tile of layer c2's edge."""
    net, hw = EXAMPLES["conv"]
    acc = Accelerator(net, hw)
    assert any(t.layer == 1 and t.row_tile == 1 for t in acc.tiles)
    original = EdgeAccumulator._lane_sum

    def forget(self, col_tile, lane, codes):
        if self.out_channels != 4:  # only c2's accumulator (c1 has 3 outputs, fc 5)
            return original(self, col_tile, lane, codes)
        return original(self, col_tile, lane, codes[:1] + codes[2:])

    monkeypatch.setattr(EdgeAccumulator, "_lane_sum", forget)
    x = random_images(net, 2, 3)
    observed = simulate_amaranth(acc, x, samples=1)  # elaborated here, with the fault
    verdict = compare_run(net, hw, x, 1, observed)
    assert not verdict.ok
    assert verdict.first.startswith("layer 'c2' differs first at image 0, sample 0, timestep 0")


@pytest.mark.parametrize("name", ["conv", "lfsr-long"])
def test_counts_stream_backpressure_stalls_but_keeps_results(name: str) -> None:
    """With counts.ready low the controller waits; results stay exact (lfsr-long: with
    double-buffered masks, whose background fill runs on during the stall)."""
    from amaranth.sim import Simulator

    from sim.amaranth_accel import pack_pixels, unpack_outputs
    from sim.models.crossbar import CrossbarTileModel, amaranth_macro

    net, hw = (DOUBLE if name.endswith("-long") else EXAMPLES)[name]  # LFSR dropout only
    acc = Accelerator(net, hw)
    x = random_images(net, 1, 5)
    sim = Simulator(acc)
    sim.add_clock(1e-6)
    for tile in acc.tiles:
        model = CrossbarTileModel(tile_cells(net, tile, hw), hw.adc_bits)
        port = getattr(acc, tile.name)
        sim.add_process(
            amaranth_macro(
                model, port, tile.first_cycles, adcs=tile.lanes, interval=tile.conversion_cycles
            )
        )
    got: list[list[int]] = []
    busy_cycles = [0]

    async def bench(ctx) -> None:
        for v in pack_pixels(x[0], hw.pixels_per_transfer, acc.in_bits):
            ctx.set(acc.pixels.payload, v)
            ctx.set(acc.pixels.valid, 1)
            await ctx.tick().until(acc.pixels.ready)
        ctx.set(acc.pixels.valid, 0)
        ctx.set(acc.samples, 3)
        ctx.set(acc.start, 1)
        await ctx.tick()
        ctx.set(acc.start, 0)
        while len(got) < 3:
            await ctx.tick()
            busy_cycles[0] += ctx.get(acc.busy)
            if ctx.get(acc.counts.valid) and len(got) < 3:
                for _ in range(3000):  # hold the transfer back (longer than a sample)
                    await ctx.tick()
                    busy_cycles[0] += ctx.get(acc.busy)
                ctx.set(acc.counts.ready, 1)
                got.append(
                    unpack_outputs(
                        ctx.get(acc.counts.payload), acc.out_neurons, acc.out_bits, acc.out_signed
                    )
                )
                await ctx.tick()
                ctx.set(acc.counts.ready, 0)

    sim.add_testbench(bench)
    sim.run()
    golden = run(net, x, hw, samples=3)
    assert np.array_equal(np.array(got), golden.outputs[:, 0])
    assert busy_cycles[0] > schedule(net, hw, 3).cycles  # it did stall


def test_bad_networks_are_refused_with_a_reason() -> None:
    net, hw = EXAMPLES["mlp"]
    with pytest.raises(RTLError, match="no weights"):
        Accelerator(net.architecture(), hw)
    with pytest.raises(RTLError, match=r"needs an hdl\.ir\.Network"):
        Accelerator("net.json", hw)  # type: ignore[arg-type]
    with pytest.raises(RTLError, match=r"hdl\.hwconfig\.HardwareConfig"):
        Accelerator(net, {"tile_rows": 8})  # type: ignore[arg-type]
    conv_out = Network(
        "conv_out",
        InputSpec((1, 4, 4), bits=1),
        (
            Layer(
                "c", (Edge("conv2d", "input", kernel=3, weight=np.ones((2, 1, 3, 3))),), (2, 2, 2)
            ),
        ),
    ).validate()
    with pytest.raises(RTLError, match="flat layer"):
        Accelerator(conv_out, hw)


# --- the pixel stream ---------------------------------------------------------------------------


def test_pack_pixels_puts_pixel_j_k_plus_i_in_lane_i_of_transfer_j() -> None:
    """Five 4-bit pixels 1..5, two per transfer: lanes ``(1, 2), (3, 4), (5, 0)``, lane ``i``
    at bits ``4 i ..``; the unused lane of the last transfer is zero."""
    from sim.amaranth_accel import pack_pixels

    image = np.arange(1, 6).reshape(1, 1, 5)
    assert pack_pixels(image, 2, 4) == [0x21, 0x43, 0x05]
    assert pack_pixels(image, 1, 4) == [1, 2, 3, 4, 5]
    assert pack_pixels(image, 9, 4) == [0x54321]


@pytest.mark.parametrize("name", ["mlp", "cell"])
@pytest.mark.parametrize("k", [1, 3, 8, 20, 33])
def test_pixels_per_transfer_is_golden_exact_in_ceil_n_over_k_transfers(name: str, k: int) -> None:
    """K pixels per transfer (direct 4-bit input of 20 pixels, and the rate-coded cell): the
    payload is ``K * bits`` wide, an image is accepted in ``ceil(n_in / K)`` transfers (counted
    by the simulation's monitor: ``valid`` and ``ready`` in a cycle), the results are the golden
    model's, the busy cycles the schedule's."""
    net, base = EXAMPLES[name]
    hw = replace(base, pixels_per_transfer=k)
    acc, observed, _ = check(net, hw)
    n_in = int(np.prod(net.input.shape))
    assert len(acc.pixels.payload) == k * net.input.bits
    assert observed.transfers == [-(-n_in // k)] * 3
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 3
    assert acc.manifest()["pixels_per_transfer"] == k
    assert acc.manifest()["input_transfers"] == -(-n_in // k)


def test_reversed_lanes_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bench that puts the pixels of a transfer in the lanes the other way round feeds the
    chip a permuted image: the results differ from the golden model's."""
    import sim.amaranth_accel as amaranth_accel

    real = amaranth_accel.pack_pixels

    def reversed_lanes(image: np.ndarray, per_transfer: int, bits: int) -> list[int]:
        mask = (1 << bits) - 1
        words = real(image, per_transfer, bits)
        lanes = [[(w >> (i * bits)) & mask for i in range(per_transfer)] for w in words]
        return [sum(v << (i * bits) for i, v in enumerate(reversed(ln))) for ln in lanes]

    net, base = EXAMPLES["mlp"]
    hw = replace(base, pixels_per_transfer=4)
    x = random_images(net, 2, 3)
    monkeypatch.setattr(amaranth_accel, "pack_pixels", reversed_lanes)
    observed = simulate_amaranth(Accelerator(net, hw), x, samples=1, mtj_seed=3)
    verdict = compare_run(net, hw, x, 1, observed)
    assert not verdict.ok
    assert observed.transfers == [5, 5]


def _two_images(net: Network, hw: HardwareConfig, x: np.ndarray) -> dict:
    """Image 0 streamed and started; image 1 offered right after ``start`` and ``start`` held
    high for it. Returns per image the outputs, and for image 1 whether each of its transfers
    was accepted while ``busy``, the cycle of its last transfer and of its ``start`` being
    taken, counted from image 0's ``start``, and image 0's ``done`` cycle."""
    from amaranth.sim import Simulator

    from sim.amaranth_accel import pack_pixels, unpack_outputs
    from sim.models.crossbar import CrossbarTileModel, amaranth_macro

    acc = Accelerator(net, hw)
    sim = Simulator(acc)
    sim.add_clock(1e-6)
    for tile in acc.tiles:
        model = CrossbarTileModel(tile_cells(net, tile, hw), hw.adc_bits)
        port = getattr(acc, tile.name)
        sim.add_process(
            amaranth_macro(
                model, port, tile.first_cycles, adcs=tile.lanes, interval=tile.conversion_cycles
            )
        )
    got: dict = {"outputs": [], "busy": [], "done": None, "taken": None, "loaded": None}
    words = [pack_pixels(x[n], hw.pixels_per_transfer, acc.in_bits) for n in range(2)]

    async def bench(ctx) -> None:
        ctx.set(acc.counts.ready, 1)
        for v in words[0]:
            ctx.set(acc.pixels.payload, v)
            ctx.set(acc.pixels.valid, 1)
            await ctx.tick().until(acc.pixels.ready)
        ctx.set(acc.samples, 1)
        ctx.set(acc.start, 1)
        await ctx.tick()
        cycle, pending = 0, list(words[1])
        ctx.set(acc.pixels.valid, 0)
        while len(got["outputs"]) < 2:
            if pending:
                ctx.set(acc.pixels.payload, pending[0])
                ctx.set(acc.pixels.valid, 1)
            _clk, _rst, ready, busy, done, valid, payload, start = await ctx.tick().sample(
                acc.pixels.ready,
                acc.busy,
                acc.done,
                acc.counts.valid,
                acc.counts.payload,
                acc.start,
            )
            cycle += 1
            loaded = got["loaded"] is not None  # before this cycle's transfer
            if pending and ready:
                pending.pop(0)
                got["busy"].append(bool(busy))
                if not pending:
                    got["loaded"] = cycle
                    ctx.set(acc.pixels.valid, 0)
            if done and got["done"] is None:
                got["done"] = cycle
            if valid:
                got["outputs"].append(
                    unpack_outputs(payload, acc.out_neurons, acc.out_bits, acc.out_signed)
                )
            if start and not busy and loaded and got["done"] is not None and got["taken"] is None:
                got["taken"] = cycle  # idle with start high and the image loaded: taken
                ctx.set(acc.start, 0)

    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("name", ["conv", "slow-rate"])
def test_next_image_streams_while_busy_and_each_computes_its_own(name: str) -> None:
    """stream_while_busy: image 1's ceil(n_in / K) transfers are all accepted while image 0
    computes (one per cycle), its ``start``, held high, is taken only once image 0 is done,
    and both images' outputs are the golden model's (image 0 computed from its own pixels,
    though image 1's were loaded meanwhile). Without the option image 1's transfers wait
    until image 0 is done."""
    net, base = {**EXAMPLES, **PIPELINE}[name]  # LFSR dropout or none: no MTJ models needed
    x = random_images(net, 2, 11)
    golden = run(net, x, replace(base, pixels_per_transfer=3), samples=1)
    n_in = int(np.prod(net.input.shape))
    on = _two_images(net, replace(base, pixels_per_transfer=3, stream_while_busy=True), x)
    assert np.array_equal(np.array(on["outputs"]), golden.outputs[0])
    assert on["busy"] == [True] * -(-n_in // 3)
    assert on["loaded"] == -(-n_in // 3) < on["done"] <= on["taken"]
    off = _two_images(net, replace(base, pixels_per_transfer=3, stream_while_busy=False), x)
    assert np.array_equal(np.array(off["outputs"]), golden.outputs[0])
    assert off["busy"] == [False] * -(-n_in // 3)
    assert off["loaded"] > off["done"]


# --- pipelined samples ---------------------------------------------------------------------


def _samples_cases() -> dict[str, tuple[Network, HardwareConfig]]:
    """The example networks (MTJ and LFSR dropout, rate input, skip edges) with pipelined
    samples, T as drawn and T = 1, reads in turn and streamed."""
    cases = {}
    for name, (net, hw) in sorted(EXAMPLES.items()):
        for t in sorted({net.timesteps, 1}):
            for overlap in (False, True):
                key = f"{name}-t{t}{'-streamed' if overlap else ''}"
                cases[key] = (
                    replace(net, timesteps=t).validate(),
                    replace(
                        hw,
                        pipeline_layers=True,
                        overlap_reads=overlap,
                        mask_double_buffer=True,
                        pipeline_samples=True,
                    ),
                )
    return cases


SAMPLES_CASES = _samples_cases()


@pytest.mark.parametrize("name", sorted(SAMPLES_CASES))
def test_pipelined_samples_take_the_scheduled_cycles_and_stay_bit_exact(name: str) -> None:
    """With hw.pipeline_samples the layers run the items of all samples, several samples at
    once: the busy cycles equal the schedule's, outputs, spikes and events the golden model's
    (the masks of each sample loaded per layer, the outputs emitted per sample), several images
    back to back."""
    net, hw = SAMPLES_CASES[name]
    samples = 3
    _, observed, verdict = check(net, hw, images=2, samples=samples)
    want = schedule(net, hw, samples).cycles
    plain = schedule(net, replace(hw, pipeline_samples=False), samples).cycles
    assert observed.cycles == [want] * 2
    assert want <= plain
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert observed.errors == []


@pytest.mark.parametrize(
    "name", ["mlp-t1-streamed", "mlp-t3-streamed", "conv-t1", "cell-t3-streamed"]
)
def test_pipelined_samples_lose_no_output_while_the_host_holds(name: str) -> None:
    """counts.ready mostly low: the output layer waits with its next sample until the previous
    one is emitted, nothing is lost (bit-exact), and the run takes longer than scheduled."""
    net, hw = SAMPLES_CASES[name]
    acc = Accelerator(net, hw)
    x = random_images(net, 2, 1)
    period = schedule(net, hw, 4).cycles // 2  # the host takes a transfer every period cycles

    def host(k: int) -> bool:
        return k % period == period - 1

    observed = simulate_amaranth(acc, x, samples=4, mtj_seed=1, counts_ready=host)
    verdict = compare_run(net, hw, x, 4, observed)
    # outputs, spikes and events exact; only the busy cycles are longer than scheduled
    other = [f for f in verdict.findings if not f.startswith("busy cycles per image")]
    assert other == [] and verdict.checked["outputs"] == 2 * 4 * acc.out_neurons
    want = schedule(net, hw, 4).cycles
    assert all(c >= want for c in observed.cycles) and max(observed.cycles) > want


def test_pipelined_samples_with_the_masks_swapped_globally_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A random network with MTJ dropout on two layers (seed 29) and the cell example with its
    keep registers loaded whenever any layer begins a sample instead of per layer: a layer
    behind reads the masks of the sample ahead (caught by the golden model), or its word lines
    change while the ADCs sample (caught by the macro model)."""
    import operator
    from functools import reduce

    net, hw = random_network(29)
    hw = replace(hw, pipeline_layers=True, mask_double_buffer=True, pipeline_samples=True)
    x = random_images(net, 2, 0)
    samples = 3
    good = simulate_amaranth(Accelerator(net, hw), x, samples=samples)
    assert compare_run(net, hw, x, samples, good).ok

    def global_swap(ctrl, li):
        return reduce(operator.or_, (ctrl.swap_l[i] for i in range(len(ctrl.mapping.layers))))

    monkeypatch.setattr(Accelerator, "_swap_of", staticmethod(global_swap))
    broken = simulate_amaranth(Accelerator(net, hw), x, samples=samples)
    verdict = compare_run(net, hw, x, samples, broken)
    assert any("differs" in f for f in verdict.findings)
    net, hw = SAMPLES_CASES["cell-t3-streamed"]
    broken = simulate_amaranth(Accelerator(net, hw), random_images(net, 2, 0), samples=3)
    assert any("while the ADCs sample" in e for e in broken.errors)


def test_pipelined_samples_read_the_fill_bank_in_the_swap_cycle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A layer's first read of a sample comes in the cycle of its swap: reading the keep
    register there (the previous sample's masks) instead of the fill bank is caught."""
    net, hw = SAMPLES_CASES["mlp-t1-streamed"]
    x = random_images(net, 2, 0)
    real = MaskFill.elaborate

    def late(self, platform):
        m = real(self, platform)
        if self.double_buffer:  # keep_next: the keep register as it is, not the fill bank
            m.d.comb += self.keep_next.eq(self.keep)
        return m

    monkeypatch.setattr(MaskFill, "elaborate", late)
    broken = simulate_amaranth(Accelerator(net, hw), x, samples=3)
    assert not compare_run(net, hw, x, 3, broken).ok


def test_pipelined_samples_output_not_waiting_for_the_host_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The output layer starting its next sample while the previous one's emit is owed (the
    host holding): the outputs are overwritten before they are copied, caught by the golden
    model."""
    from amaranth.hdl import Const

    from hdl.rtl.controller import ScheduleController

    net, hw = SAMPLES_CASES["mlp-t3-streamed"]
    period = schedule(net, hw, 4).cycles // 2
    x = random_images(net, 2, 1)
    monkeypatch.setattr(ScheduleController, "_emitted", staticmethod(lambda owe: Const(1, 1)))
    broken = simulate_amaranth(
        Accelerator(net, hw), x, samples=4, counts_ready=lambda k: k % period == period - 1
    )
    verdict = compare_run(net, hw, x, 4, broken)
    assert any("output" in f and not f.startswith("busy") for f in verdict.findings)
