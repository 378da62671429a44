"""Mapping of networks onto crossbar tiles and the static schedule (hdl.mapping).

The schedule's closed form is checked against an independent step-by-step enumerator written
here from docs/cost-model.md, on small networks of every kind of layer.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from serial_hw import serial_hw

from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron
from hdl.mapping import (
    MappingError,
    MTJDriver,
    adc_bound,
    image_period_cycles,
    map_network,
    sample_item_starts,
    sample_pipeline_bound,
    schedule,
    schedule_mapping,
)
from hdl.mtj import MTJDevice

# --- networks ---------------------------------------------------------------------------------


def digits_mlp(modules: int = 8, samples_dropout: bool = True, bits: int = 4) -> Network:
    """64 -> 128 (LIF, MTJ dropout) -> 10 (membrane output), direct 4-bit input, T = 4."""
    dropout = DropoutSpec(0.5, modules=modules) if samples_dropout else None
    return Network(
        name="digits-mlp",
        input=InputSpec((1, 8, 8), bits=bits),
        layers=(
            Layer("fc1", (Edge("linear", "input", dropout=dropout),), (128,), Neuron()),
            Layer("out", (Edge("linear", "fc1"),), (10,)),
        ),
        timesteps=4,
    ).validate()


def small_cnn(encoding: str = "direct") -> Network:
    """conv3x3 8ch -> conv3x3 s2 16ch (channel dropout, LFSR) -> linear 10 (count decoding)."""
    lfsr = LFSRSpec(width=8, seed=3) if encoding == "rate" else None
    return Network(
        name="small-cnn",
        input=InputSpec((1, 8, 8), bits=3, encoding=encoding, lfsr=lfsr),
        layers=(
            Layer(
                "c1",
                (Edge("conv2d", "input", weight_bits=4, kernel=3, padding=1),),
                (8, 8, 8),
                Neuron(membrane_bits=12),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        weight_bits=2,
                        kernel=3,
                        stride=2,
                        padding=1,
                        dropout=DropoutSpec(0.3, granularity="channel", source="lfsr", modules=3),
                    ),
                ),
                (16, 4, 4),
                Neuron(),
            ),
            Layer("out", (Edge("linear", "c2"),), (10,), Neuron()),
        ),
        timesteps=3,
        output_decoding="count",
    ).validate()


def cell_net() -> Network:
    """A searched cell: a node summing conv1x1 + conv3x3 from the input, a skip and a zero."""
    return Network(
        name="cell",
        input=InputSpec((2, 5, 5), bits=2),
        layers=(
            Layer(
                "stem",
                (Edge("conv2d", "input", weight_bits=1, kernel=3, padding=1),),
                (4, 5, 5),
                Neuron(),
            ),
            Layer(
                "node",
                (
                    Edge("conv2d", "stem", kernel=1, dropout=DropoutSpec(0.2, modules=2)),
                    Edge("conv2d", "input", weight_bits=3, kernel=3, padding=1),
                    Edge("skip", "stem"),
                    Edge("zero", "stem"),
                ),
                (4, 5, 5),
                Neuron(),
            ),
            Layer("skiponly", (Edge("skip", "node"),), (4, 5, 5), Neuron()),
            Layer("out", (Edge("linear", "skiponly", weight_bits=5),), (3,)),
        ),
        timesteps=2,
    ).validate()


def vgg9(weight_bits: int = 8) -> Network:
    """VGG-9 for CIFAR-10 (architecture only): 7 conv3x3 (64-256 ch, stride-2 downsampling)
    and two linear layers, 8-bit direct input, T = 5."""
    plan = [(64, 32, 1), (64, 16, 2), (128, 16, 1), (128, 8, 2), (256, 8, 1), (256, 8, 1)]
    plan.append((256, 4, 2))
    layers = []
    src = "input"
    for i, (c, h, s) in enumerate(plan, start=1):
        edge = Edge("conv2d", src, weight_bits=weight_bits, kernel=3, stride=s, padding=1)
        layers.append(Layer(f"conv{i}", (edge,), (c, h, h), Neuron()))
        src = f"conv{i}"
    fc1 = Edge("linear", src, weight_bits=weight_bits, dropout=DropoutSpec(0.2, modules=64))
    layers.append(Layer("fc1", (fc1,), (1024,), Neuron()))
    layers.append(Layer("fc2", (Edge("linear", "fc1", weight_bits=weight_bits),), (10,)))
    return Network("vgg9", InputSpec((3, 32, 32), bits=8), tuple(layers), timesteps=5).validate()


# --- an independent enumerator of docs/cost-model.md's schedule -------------------------------


def _cycles_of(ns: float, mhz: float) -> int:
    return max(1, math.ceil(Fraction(str(ns)) * Fraction(str(mhz)) / 1000))


def enumerate_schedule(
    net: Network, hw: HardwareConfig, samples: int, device: MTJDevice | None = None
) -> tuple[list[tuple[str, int]], dict[str, int], int]:
    """Every step (kind, cycles), the event counts and the ADC bound (the conversions per ADC of
    every read step, summed), enumerated one by one."""
    device = device or MTJDevice()
    pulse = 10.0
    shapes: dict[str, tuple[int, ...]] = {"input": net.input.shape}
    per_layer = []
    fill = 0
    mask_units = 0
    for layer in net.layers:
        shape = layer.out_shape
        channels = shape[0]
        positions = shape[1] * shape[2] if len(shape) == 3 else 1
        edges = []
        for e in layer.edges:
            src = shapes[e.source]
            if e.kind not in ("linear", "conv2d"):
                continue
            rows = src[0] * e.kernel * e.kernel if e.kind == "conv2d" else math.prod(src)
            mag = 1 if e.weight_bits == 1 else e.weight_bits - 1
            cols = 2 * math.ceil(mag / hw.cell_bits) * channels
            rt, ct = math.ceil(rows / hw.tile_rows), math.ceil(cols / hw.tile_cols)
            adcs_per_tile = hw.tile_cols // hw.columns_per_adc
            widest = min(cols, hw.tile_cols)
            mux = math.ceil(widest / adcs_per_tile)
            if hw.adc_pipelined:  # a new conversion every cycle, the last one latency late
                convert = mux + hw.adc_latency_cycles
            else:  # one conversion after another, 1 + latency cycles each
                convert = mux * (1 + hw.adc_latency_cycles)
            step = 1 + convert + 1
            direct = e.source == "input" and net.input.encoding == "direct"
            # the ADCs sample the bit lines of a read for mux conversions of `interval` cycles
            interval = 1 if hw.adc_pipelined else 1 + hw.adc_latency_cycles
            # d-bit word-line DACs read a pixel in ceil(bits / d) digit-planes
            planes = math.ceil(net.input.bits / hw.input_dac_bits) if direct else 1
            edges.append((planes, step, rt, ct, cols, mux, mux * interval))
            if e.dropout is not None:
                units = src[0] if e.dropout.granularity == "channel" else rows
                if e.dropout.source == "mtj":
                    per = (
                        _cycles_of(device.reset_pulse_ns, hw.clock_mhz)
                        + _cycles_of(pulse, hw.clock_mhz)
                        + _cycles_of(device.read_pulse_ns, hw.clock_mhz)
                    )
                else:
                    per = 1
                fill = max(fill, math.ceil(units / e.dropout.modules) * per)
                mask_units += units
        per_layer.append((layer, channels, positions, edges))
        shapes[layer.name] = shape
    steps: list[tuple[str, int, int]] = []  # (kind, start cycle, cycles)
    bound = 0
    events = dict.fromkeys(
        ("crossbar_reads", "adc_conversions", "lif_updates", "dropout_samples"), 0
    )

    def layer_timeline(
        item, clock: int, update_end: int | None = None
    ) -> tuple[list[tuple[str, int, int]], int, int, int]:
        """One layer's steps in a timestep from ``clock``: (steps, end, conversions per ADC,
        the cycle from which the read stream could issue its next read). ``update_end``: when
        the previous update of the stream ends (the stream continued from an earlier timestep),
        by default ``clock``."""
        layer, channels, positions, edges = item
        bound = 0
        planes = max((p for p, *_ in edges), default=0)
        updates = math.ceil(channels / hw.lif_units)
        layer_steps = []
        # a timeline of the layer. In turn (the default) every read waits for the
        # previous step to end. Overlapped: a read may be issued once the ADCs have
        # sampled the previous read (its sampling window), and a position's sums, final
        # when the last of its edges' read steps (read, codes, accumulate) ends, go to
        # the one current register, so they must not be final before the previous
        # position's update has ended (the first read of a position waits for that).
        free = clock  # the next read may be issued from here
        update_end = clock if update_end is None else update_end
        for _pos in range(positions):
            reads, done, issue = [], free, free
            for b in range(planes):
                active = [e for e in edges if e[0] > b]
                sampled = issue + max(e[6] for e in active)
                finished = max(issue + e[1] for e in active)
                done = max(done, finished)
                length = sampled - issue if hw.overlap_reads else finished - issue
                reads.append(("read", issue, length))
                issue = sampled if hw.overlap_reads else finished
                bound += max(e[5] for e in active)
                for _, _, rt, ct, cols, *_ in active:
                    events["crossbar_reads"] += rt * ct
                    events["adc_conversions"] += rt * cols
            # overlapped: the whole position later if its sums would be final before
            # the previous update has ended (they cannot wait in the accumulators)
            delay = max(0, update_end - done) if hw.overlap_reads else 0
            layer_steps += [(k, st + delay, c) for k, st, c in reads]
            free = issue + delay
            start = done + delay
            layer_steps.append(("update", start, updates))
            update_end = start + updates
            if not hw.overlap_reads:
                free = update_end
            if layer.neuron is not None:
                events["lif_updates"] += channels
        kinds = {"read": 0, "update": 1}
        ordered = sorted(layer_steps, key=lambda st: (st[1], kinds[st[0]]))
        return ordered, update_end, bound, free

    rate = net.input.encoding == "rate"
    names = (["input"] if rate else []) + [layer.name for layer in net.layers]
    reads = [set() for _ in range(int(rate))] + [
        {e.source for e in layer.edges if e.kind != "zero" and e.source in names}
        for layer in net.layers
    ]
    pipelined_samples = (
        hw.pipeline_samples and hw.pipeline_layers and (fill == 0 or hw.mask_double_buffer)
    )
    if pipelined_samples:
        # the samples pipelined: one fill, then the items u = m * T + t of all samples. Stage k
        # runs item u once it has finished u - 1 (a layer with reads: once its read stream is
        # free), its sources have finished u and its readers u - 2. The output layer's first
        # item of a sample waits until its previous item has finished; a layer with dropout's
        # first item of sample m >= 1 waits for its masks, whose fill starts when the layer
        # begins sample m - 1 and takes its edges' longest fill.
        T = net.timesteps
        if fill:
            steps.append(("fill", 0, fill))
        events["dropout_samples"] += samples * mask_units
        layer_fill = [0] * int(rate)
        for layer in net.layers:
            longest = 0
            for e in layer.edges:
                if e.kind in ("linear", "conv2d") and e.dropout is not None:
                    src = shapes[e.source]
                    rows = src[0] * e.kernel * e.kernel if e.kind == "conv2d" else math.prod(src)
                    units = src[0] if e.dropout.granularity == "channel" else rows
                    per = 1
                    if e.dropout.source == "mtj":
                        per = (
                            _cycles_of(device.reset_pulse_ns, hw.clock_mhz)
                            + _cycles_of(pulse, hw.clock_mhz)
                            + _cycles_of(device.read_pulse_ns, hw.clock_mhz)
                        )
                    longest = max(longest, math.ceil(units / e.dropout.modules) * per)
            layer_fill.append(longest)
        output = len(names) - 1
        finish: dict[tuple[int, int], int] = {}
        begins: dict[tuple[int, int], int] = {}
        stream: dict[int, tuple[int, int]] = {}
        items = []
        for u in range(samples * T):
            t = u % T
            for k, name in enumerate(names):
                masks_ready = fill
                if layer_fill[k] and t == 0 and u:
                    masks_ready = begins[(k, u - T)] + layer_fill[k]
                restart = k == output and t == 0
                streamed = hw.overlap_reads and k in stream and not restart
                waits = [masks_ready, stream[k][0] if streamed else finish.get((k, u - 1), fill)]
                waits += [finish[(names.index(p), u)] for p in reads[k]]
                if u >= 2:
                    waits += [finish[(j, u - 2)] for j in range(len(names)) if name in reads[j]]
                begin = max(waits)
                begins[(k, u)] = begin
                if rate and k == 0:
                    encode = math.prod(net.input.shape)
                    item_steps, end = [("encode", begin, encode)], begin + encode
                else:
                    layer = per_layer[k - int(rate)]
                    carried = stream[k][1] if streamed else None
                    item_steps, end, b, free = layer_timeline(layer, begin, carried)
                    bound += b
                    if layer[3]:
                        stream[k] = (free, end)
                finish[(k, u)] = end
                items += [(st, u, k, i, kind, c) for i, (kind, st, c) in enumerate(item_steps)]
        steps.extend((kind, st, c) for st, _u, _k, _i, kind, c in sorted(items))
        assert max(finish.values()) == max(st + c for _, st, c in steps)
        return steps, events, bound

    # double-buffered masks: a timeline. The fill of sample m + 1 starts when sample m's
    # compute starts and takes `fill` cycles; a compute starts when the previous one has ended
    # and its own masks are done; the gap is a fill step (the wait).
    clock, masks_ready = 0, fill
    for sample in range(samples):
        if fill and (sample == 0 or not hw.mask_double_buffer):
            steps.append(("fill", clock, fill))
            clock += fill
        elif fill and masks_ready > clock:
            steps.append(("fill", clock, masks_ready - clock))
            clock = masks_ready
        masks_ready = clock + fill  # the next sample's fill runs behind this compute
        events["dropout_samples"] += mask_units
        if not hw.pipeline_layers:
            for _t in range(net.timesteps):
                if net.input.encoding == "rate":
                    steps.append(("encode", clock, math.prod(net.input.shape)))
                    clock += math.prod(net.input.shape)
                for item in per_layer:
                    layer_steps, clock, b, _ = layer_timeline(item, clock)
                    steps.extend(layer_steps)
                    bound += b
            continue
        # pipelined layers: stage k (the encoder, then the layers) runs item t once it has
        # finished t - 1, the stages it reads have finished t and those reading it t - 2.
        # With overlapped reads a layer's timesteps are one read stream: instead of finishing
        # t - 1, item t waits for the stream's next read (the cursor after t - 1's last
        # sampling), and its first position's reads wait, like any position's, until its sums
        # cannot be final before the previous update (t - 1's last) has ended.
        rate = net.input.encoding == "rate"
        names = (["input"] if rate else []) + [layer.name for layer in net.layers]
        reads = [set() for _ in range(int(rate))] + [
            {e.source for e in layer.edges if e.kind != "zero" and e.source in names}
            for layer in net.layers
        ]
        finish: dict[tuple[int, int], int] = {}
        stream: dict[int, tuple[int, int]] = {}  # per streamed stage: (read cursor, update end)
        items = []
        for t in range(net.timesteps):
            for k, name in enumerate(names):
                streamed = hw.overlap_reads and k in stream
                waits = [stream[k][0] if streamed else finish.get((k, t - 1), clock)]
                waits += [finish[(names.index(p), t)] for p in reads[k]]
                if t >= 2:
                    waits += [finish[(j, t - 2)] for j in range(len(names)) if name in reads[j]]
                begin = max(waits)
                if rate and k == 0:
                    encode = math.prod(net.input.shape)
                    item_steps, end = [("encode", begin, encode)], begin + encode
                else:
                    layer = per_layer[k - int(rate)]
                    carried = stream[k][1] if streamed else None
                    item_steps, end, b, free = layer_timeline(layer, begin, carried)
                    bound += b
                    if layer[3]:  # a layer with reads: its stream goes on
                        stream[k] = (free, end)
                finish[(k, t)] = end
                items += [(st, t, k, i, kind, c) for i, (kind, st, c) in enumerate(item_steps)]
        steps.extend((kind, st, c) for st, _t, _k, _i, kind, c in sorted(items))
        clock = max(finish.values())
    assert clock == max(st + c for _, st, c in steps)
    return steps, events, bound


SMALL = {
    "mlp": digits_mlp,
    "cnn-direct": small_cnn,
    "cnn-rate": lambda: small_cnn("rate"),
    "cell": cell_net,
    # one MTJ module for 64 mask rows: at 1 GHz its fill outlasts a sample's compute
    "mlp-one-module": lambda: digits_mlp(modules=1),
}

HWS = {
    "default": HardwareConfig(),
    "small-tiles": HardwareConfig(
        tile_rows=16, tile_cols=32, cell_bits=2, columns_per_adc=4, lif_units=3
    ),
    "slow-adc": HardwareConfig(
        tile_rows=64, tile_cols=64, adc_latency_cycles=3, clock_mhz=250.0, lif_units=1
    ),
    "pipelined-adc": HardwareConfig(adc_pipelined=True),
    "pipelined-slow-adc": HardwareConfig(
        tile_rows=64, tile_cols=64, adc_latency_cycles=3, lif_units=1, adc_pipelined=True
    ),
    "double-buffer": HardwareConfig(mask_double_buffer=True),
    "overlap": HardwareConfig(overlap_reads=True),
    "overlap-pipelined-slow-adc": HardwareConfig(
        tile_rows=64,
        tile_cols=64,
        adc_latency_cycles=3,
        lif_units=1,
        adc_pipelined=True,
        overlap_reads=True,
    ),
    # a 1 GHz clock: 17 cycles per MTJ dropout cycle; the fills of some nets outlast a sample
    "double-buffer-fast-clock": HardwareConfig(
        tile_rows=64, tile_cols=64, clock_mhz=1000.0, lif_units=8, mask_double_buffer=True
    ),
    # pipelined layers: on the fast schedule, the serial one, one LIF unit (slow consumers:
    # producers wait for a free bank) and with fills outlasting a sample
    "pipeline": HardwareConfig(pipeline_layers=True),
    "pipeline-serial": serial_hw(pipeline_layers=True),
    "pipeline-one-unit": HardwareConfig(
        tile_rows=64, tile_cols=64, lif_units=1, pipeline_layers=True
    ),
    "pipeline-fast-clock": HardwareConfig(
        tile_rows=64, tile_cols=64, clock_mhz=1000.0, lif_units=8, pipeline_layers=True
    ),
    # word-line DACs on the input edges: fewer (digit-)planes, on both schedules
    "dac-3": HardwareConfig(input_dac_bits=3),
    "dac-2-serial": serial_hw(input_dac_bits=2),
}


# --- tile counts by hand ----------------------------------------------------------------------


def test_linear_tiles_by_hand() -> None:
    m = map_network(digits_mlp(), serial_hw())
    fc1, out = m.layers[0].edges[0], m.layers[1].edges[0]
    # fc1: 64 rows, binary -> 1 slice, 2 * 1 * 128 = 256 columns on 128 x 128 tiles
    assert (fc1.rows, fc1.slices, fc1.phys_cols) == (64, 1, 256)
    assert (fc1.row_tiles, fc1.col_tiles, fc1.tiles) == (1, 2, 2)
    assert fc1.adcs == 2 * 128 // 8
    assert fc1.mux_steps == 8  # 128 used columns of the widest tile / 16 ADCs
    assert fc1.step_cycles == 1 + 8 * (1 + 1) + 1
    assert fc1.planes == 4 and fc1.positions == 1
    # out: 128 rows, 20 columns: one tile, 20 columns over 16 ADCs -> 2 conversions each
    assert (out.rows, out.phys_cols, out.tiles, out.mux_steps, out.planes) == (128, 20, 1, 2, 1)
    assert m.tiles == 3 and m.adcs == 48


def test_conv_tiles_bitslices_by_hand() -> None:
    hw = HardwareConfig(tile_rows=16, tile_cols=32, cell_bits=2, columns_per_adc=4)
    m = map_network(small_cnn(), hw)
    c1, c2 = m.layers[0].edges[0], m.layers[1].edges[0]
    # c1: 1 * 3 * 3 = 9 rows; 4-bit weights -> 3 magnitude bits -> 2 slices of 2 bits
    assert (c1.rows, c1.slices, c1.phys_cols) == (9, 2, 2 * 2 * 8)
    assert (c1.row_tiles, c1.col_tiles, c1.adcs) == (1, 1, 8)
    assert c1.mux_steps == 4 and c1.positions == 64 and c1.planes == 3
    # c2: 8 * 9 = 72 rows -> 5 row tiles; 2-bit weights -> 1 slice; 32 columns
    assert (c2.rows, c2.slices, c2.phys_cols, c2.row_tiles, c2.col_tiles) == (72, 1, 32, 5, 1)
    assert c2.positions == 16
    # channel dropout: one unit per input channel, 3 LFSR modules, 1 cycle per draw
    assert c2.dropout is not None
    assert (c2.dropout.units, c2.dropout.modules, c2.dropout.fill_cycles) == (8, 3, 3)
    out = m.layers[2].edges[0]
    assert (out.rows, out.phys_cols, out.row_tiles, out.col_tiles) == (256, 20, 16, 1)


def test_mtj_dropout_cycle_from_pulse_and_clock() -> None:
    driver = MTJDriver()  # reset 5 ns, write 10 ns, sense 2 ns
    assert driver.phase_cycles(200.0) == (1, 2, 1)
    assert driver.cycles_per_dropout_cycle(200.0) == 4
    assert driver.phase_cycles(250.0) == (2, 3, 1)
    assert MTJDriver(pulse_ns=20.0).cycles_per_dropout_cycle(100.0) == 1 + 2 + 1
    m = map_network(digits_mlp(modules=8), HardwareConfig())
    d = m.layers[0].edges[0].dropout
    assert d is not None
    assert (d.units, d.modules, d.cycles_per_dropout, d.fill_cycles) == (64, 8, 4, 8 * 4)
    assert m.fill_cycles == 32
    m = map_network(digits_mlp(modules=5), HardwareConfig(clock_mhz=250.0))
    assert m.fill_cycles == math.ceil(64 / 5) * 6


def test_vgg9_maps_in_closed_form() -> None:
    net = vgg9()
    hw = serial_hw()
    m = map_network(net, hw)
    conv1, conv7, fc1 = m.layers[0].edges[0], m.layers[6].edges[0], m.layers[7].edges[0]
    # 8-bit weights: 7 magnitude bits, 7 slices, 14 physical columns per output
    assert (conv1.rows, conv1.phys_cols, conv1.tiles) == (27, 14 * 64, 7)
    assert (conv7.rows, conv7.row_tiles, conv7.col_tiles) == (2304, 18, 28)
    assert (fc1.rows, fc1.row_tiles, fc1.col_tiles) == (4096, 32, 112)
    expected = sum(math.ceil(e.rows / 128) * math.ceil(14 * e.out_channels / 128) for e in m.edges)
    assert m.tiles == expected
    s = schedule(net, hw, samples=2)
    assert s.cycles == 2 * m.cycles_per_sample
    with pytest.raises(ValueError, match="steps"):
        s.steps(limit=10_000)


# --- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("hw_name", sorted(HWS))
@pytest.mark.parametrize("net_name", sorted(SMALL))
@pytest.mark.parametrize("samples", [1, 3])
def test_cycles_equal_the_sum_of_enumerated_steps(
    net_name: str, hw_name: str, samples: int
) -> None:
    net, hw = SMALL[net_name](), HWS[hw_name]
    s = schedule(net, hw, samples=samples)
    steps, events, bound = enumerate_schedule(net, hw, samples)
    assert s.cycles == max(st + c for _, st, c in steps)
    if not hw.overlap_reads and not hw.pipeline_layers:  # the steps one after another
        assert s.cycles == sum(c for _, _, c in steps)
    assert s.events == events
    assert adc_bound(s.mapping, samples) == bound
    if not hw.pipeline_layers:  # a lower bound while the layers convert one after another
        assert bound <= s.cycles
    # the module's own step list agrees step by step with the independent enumerator
    listed = s.steps()
    assert [(st.kind, st.start, st.cycles) for st in listed] == steps
    assert len(listed) == s.step_count()
    # per-layer cycles and the phases add up to the total (pipelined: they overlap; with
    # pipelined samples a layer may also wait for its next masks, idle cycles in neither)
    work = s.fill_cycles + s.encode_cycles + sum(r.cycles for r in s.layers)
    if not hw.pipeline_layers:
        assert s.cycles == work
    elif not s.mapping.samples_pipelined:
        assert s.cycles <= work
    assert s.seconds == pytest.approx(s.cycles / (hw.clock_mhz * 1e6))


def test_schedule_formula_for_the_digits_mlp() -> None:
    hw = serial_hw()  # 128 x 128, 8 columns per ADC, ADC latency 1, 16 LIF units
    s = schedule(digits_mlp(), hw, samples=2)
    fc1_read = 1 + 8 * 2 + 1  # 4 bit-planes of the direct input
    out_read = 1 + 2 * 2 + 1
    per_t = (4 * fc1_read + math.ceil(128 / 16)) + (out_read + math.ceil(10 / 16))
    assert s.cycles == 2 * (64 / 8 * 4 + 4 * per_t)
    assert s.fill_cycles == 2 * 32 and s.encode_cycles == 0


def test_pipelined_adcs_shorten_the_read_steps_not_the_events() -> None:
    """A pipelined ADC converts a column every cycle: a read step is 1 + mux_steps + latency + 1
    cycles instead of 1 + mux_steps * (1 + latency) + 1, with the same conversions."""
    net = digits_mlp()
    serial = schedule(net, serial_hw(), samples=2)
    for latency in (0, 1, 3):
        hw = serial_hw(adc_latency_cycles=latency, adc_pipelined=True)
        s = schedule(net, hw, samples=2)
        fc1_read = 1 + 8 + latency + 1  # 64 rows x 128 columns: 8 conversions per ADC
        out_read = 1 + 2 + latency + 1  # 20 columns on 16 ADCs: 2 conversions
        per_t = (4 * fc1_read + 8) + (out_read + 1)
        assert s.cycles == 2 * (32 + 4 * per_t)
        assert s.events == serial.events
        assert [e.mux_steps for e in s.mapping.edges] == [8, 2]
    # without ADC latency both ADCs take one conversion per cycle
    for pipelined in (False, True):
        hw = serial_hw(adc_latency_cycles=0, adc_pipelined=pipelined)
        assert schedule(net, hw).cycles == 32 + 4 * ((4 * 10 + 8) + (4 + 1))
    # the ADC bound: 4 planes of 8 conversions and one read of 2, per timestep
    assert adc_bound(serial.mapping, 2) == 2 * 4 * (4 * 8 + 2)
    assert serial_hw(adc_pipelined=True).conversion_timing == (2, 1)
    assert serial_hw(adc_latency_cycles=2).conversion_timing == (3, 3)


@pytest.mark.parametrize("samples", [1, 2, 10])
def test_double_buffered_masks_expose_one_fill(samples: int) -> None:
    """mask_double_buffer: F + (S - 1) * max(C, F) + C cycles for S samples (F the fill, C a
    sample's compute), the same events; here with the fill shorter and longer than C."""
    compute = 4 * ((4 * (1 + 8 * 2 + 1) + 8) + ((1 + 2 * 2 + 1) + 1))  # digits MLP, T = 4
    # 8 modules at 200 MHz: 8 rounds of 1 + 2 + 1 cycles; 1 module at 1 GHz: 64 of 5 + 10 + 2
    for modules, mhz, fill in ((8, 200.0, 8 * 4), (1, 1000.0, 64 * 17)):
        net = digits_mlp(modules=modules)
        single = schedule(net, serial_hw(clock_mhz=mhz), samples=samples)
        hw = serial_hw(clock_mhz=mhz, mask_double_buffer=True)
        s = schedule(net, hw, samples=samples)
        assert (s.mapping.fill_cycles, s.mapping.compute_cycles) == (fill, compute)
        assert single.cycles == samples * (fill + compute)
        assert s.cycles == fill + (samples - 1) * max(compute, fill) + compute
        assert s.fill_cycles == fill + (samples - 1) * max(0, fill - compute)
        assert s.events == single.events
        fills = [st.cycles for st in s.iter_steps() if st.kind == "fill"]
        assert fills == [fill] + [fill - compute] * (samples - 1 if fill > compute else 0)
    # without dropout the option changes nothing
    net = digits_mlp(samples_dropout=False)
    on, off = serial_hw(mask_double_buffer=True), serial_hw()
    assert schedule(net, on, samples).cycles == schedule(net, off, samples).cycles


def test_overlapped_reads_issue_each_read_once_the_adcs_have_sampled_the_last() -> None:
    """overlap_reads, digits MLP (one position per layer): fc1's 4 planes of 8 conversions per
    ADC are read every 8 * interval cycles, the position's sum final one read step (2 + conv)
    after the last read; the update follows. The events and the ADC bound are unchanged."""
    net = digits_mlp()
    for pipelined, latency in ((False, 1), (False, 0), (True, 1), (True, 3)):
        off = serial_hw(adc_pipelined=pipelined, adc_latency_cycles=latency)
        on = replace(off, overlap_reads=True)
        interval = 1 if pipelined else 1 + latency
        conv = 8 + latency if pipelined else 8 * (1 + latency)
        out_conv = 2 + latency if pipelined else 2 * (1 + latency)
        s_off, s_on = schedule(net, off, samples=2), schedule(net, on, samples=2)
        fc1, on_fc1 = s_off.mapping.layers[0], s_on.mapping.layers[0]
        assert fc1.read_step_cycles == fc1.plane_cycles == (2 + conv,) * 4
        assert fc1.sum_cycles == 4 * (2 + conv) and fc1.position_period == fc1.position_cycles
        assert on_fc1.plane_cycles == (2 + conv,) * 4
        assert on_fc1.read_step_cycles == (8 * interval,) * 4  # the ADC sampling windows
        assert on_fc1.read_offsets == (0, 8 * interval, 16 * interval, 24 * interval)
        assert on_fc1.sum_cycles == 3 * 8 * interval + 2 + conv
        assert on_fc1.position_cycles == on_fc1.sum_cycles + 8 == on_fc1.timestep_cycles
        out = s_on.mapping.layers[1]
        assert (out.read_step_cycles, out.sum_cycles) == ((2 * interval,), 2 + out_conv)
        per_t = (3 * 8 * interval + 2 + conv + 8) + (2 + out_conv + 1)
        assert s_on.cycles == 2 * (32 + 4 * per_t)
        # each of the first 3 planes saves read - s = 2 + first - interval cycles
        first = 1 + latency
        assert s_off.cycles - s_on.cycles == 2 * 4 * 3 * (2 + first - interval)
        assert s_on.events == s_off.events
        assert adc_bound(s_on.mapping, 2) == adc_bound(s_off.mapping, 2)
        steps = [(st.kind, st.start, st.cycles) for st in s_on.iter_steps()][:7]
        r, f = 8 * interval, 32  # the mask fill first
        assert steps == [("fill", 0, 32)] + [("read", f + b * r, r) for b in range(4)] + [
            ("update", f + on_fc1.sum_cycles, 8),
            ("read", f + on_fc1.position_cycles, 2 * interval),
        ]


def test_overlapped_reads_stream_the_positions_of_a_convolution() -> None:
    """overlap_reads, small CNN (rate input, one plane): the positions of a layer are read every
    q = max(mux_steps * interval, ceil(C / U)) cycles, each position updated from its latched
    currents while the next ones are read: (P - 1) * q + R + G cycles per layer and timestep
    instead of P * (R + G); on a single LIF unit the updates set the pace."""
    net = small_cnn("rate")
    for lif_units, latency, pipelined in ((16, 1, False), (16, 1, True), (1, 1, True)):
        off = serial_hw(lif_units=lif_units, adc_latency_cycles=latency, adc_pipelined=pipelined)
        on = replace(off, overlap_reads=True)
        first, interval = on.conversion_timing
        s_off, s_on = schedule(net, off, samples=1), schedule(net, on, samples=1)
        total_off = total_on = 0
        for lm in s_on.mapping.layers:
            (e,) = lm.edges
            n, P, G = e.mux_steps, lm.positions, math.ceil(lm.channels / lif_units)
            read = 2 + first + (n - 1) * interval
            q = max(n * interval, G)
            assert (lm.read_step_cycles, lm.sum_cycles) == ((n * interval,), read)
            assert (lm.position_period, lm.update_cycles) == (q, G)
            assert lm.timestep_cycles == (P - 1) * q + read + G
            total_on += lm.timestep_cycles
            total_off += P * (read + G)
        encode, fill = 64, s_on.mapping.fill_cycles  # rate coding; c2's LFSR masks
        assert s_on.cycles == fill + 3 * (encode + total_on)
        assert s_off.cycles == fill + 3 * (encode + total_off) > s_on.cycles
        assert s_on.events == s_off.events
        # the updates of c1 (8 channels on 1 unit: G = 8 > 3 conversions) set its pace
        c1 = s_on.mapping.layers[0]
        assert c1.position_period == (8 if lif_units == 1 else 3 * interval)
        steps = [st for st in s_on.iter_steps() if st.layer == "c1" and st.timestep == 0]
        reads = [st.start for st in steps if st.kind == "read"]
        updates = [st.start for st in steps if st.kind == "update"]
        assert reads == [fill + encode + p * c1.position_period for p in range(64)]
        assert updates == [r + c1.sum_cycles for r in reads]
        assert [st.start for st in steps] == sorted(st.start for st in steps)


def test_pipelined_layers_by_hand() -> None:
    """pipeline_layers, the digits MLP (fc1 c1 cycles per timestep, out c2 < c1). Reads in turn:
    fc1 runs its timesteps back to back, out's item t starts when fc1 has finished t, so a
    sample computes in T * c1 + c2 cycles instead of T * (c1 + c2). Overlapped reads (the
    default): fc1's timesteps stream like positions, item t + 1's reads S = 32 cycles (its 4
    planes of 8 conversions) after item t's, while t's 8 updates still run (from R = 35): fc1
    starts at 0, 32, 64, 96, out when fc1 has finished, (T - 1) * 32 + c1 + c2 = 145 cycles.
    The events, the ADC bound and each step's length stay; with one timestep nothing
    overlaps."""
    net = digits_mlp()
    T = 4
    for overlap in (False, True):
        off = HardwareConfig(overlap_reads=overlap, pipeline_layers=False, pipeline_samples=False)
        on = replace(off, pipeline_layers=True)
        fc1, out = map_network(net, off).layers
        c1, c2 = fc1.timestep_cycles, out.timestep_cycles
        assert c2 < c1
        m = map_network(net, on)
        if overlap:
            assert (fc1.positions, fc1.position_period, fc1.sum_cycles) == (1, 32, 35)
            assert (fc1.update_cycles, c1, c2) == (8, 43, 6)
            assert m.item_starts == tuple((32 * t, 32 * t + 43) for t in range(T))
            assert m.compute_cycles == 145
        else:
            assert m.item_starts == tuple((t * c1, (t + 1) * c1) for t in range(T))
            assert m.compute_cycles == T * c1 + c2
        assert m.compute_cycles < map_network(net, off).compute_cycles
        for samples in (1, 3):
            s_on, s_off = schedule(net, on, samples), schedule(net, off, samples)
            assert s_on.events == s_off.events
            assert adc_bound(s_on.mapping, samples) == adc_bound(s_off.mapping, samples)
            F, C = m.fill_cycles, m.compute_cycles  # double-buffered masks (the default)
            assert s_on.cycles == F + (samples - 1) * max(C, F) + C
            steps = s_on.steps()
            assert sorted((st.kind, st.cycles) for st in steps) == sorted(
                (st.kind, st.cycles) for st in s_off.steps()
            )
            assert [st.start for st in steps] == sorted(st.start for st in steps)
            first = [st for st in steps if st.sample == 0]
            if overlap:  # fc1 reads timestep 1 while it updates timestep 0
                read1 = next(
                    st for st in first if st.kind == "read" and st.layer == "fc1" and st.timestep
                )
                last0 = max(
                    st.start + st.cycles
                    for st in first
                    if st.kind == "update" and st.layer == "fc1" and st.timestep == 0
                )
                assert read1.start == F + 32 < last0 == F + 43
            else:  # out's timestep t is read while fc1 reads timestep t + 1
                reads = [st for st in first if st.kind == "read"]
                out1 = next(st for st in reads if st.layer == "out" and st.timestep == 1)
                assert any(
                    st.layer == "fc1" and st.timestep == 2 and st.start == out1.start
                    for st in reads
                )
        single = replace(net, timesteps=1).validate()
        assert schedule(single, on, 2).cycles == schedule(single, off, 2).cycles


def test_pipelined_producers_wait_for_a_free_bank() -> None:
    """pipeline_layers with a consumer slower than its producer (16 -> 4 -> 64 -> 3 on one LIF
    unit: h1 updates 64 neurons per timestep, h0 4): every start is the latest of the three
    conditions, and h0 waits for h1 to free a bank, running at most two timesteps ahead."""
    net = Network(
        name="slow-consumer",
        input=InputSpec((1, 4, 4), bits=1),
        layers=(
            Layer("h0", (Edge("linear", "input"),), (4,), Neuron()),
            Layer("h1", (Edge("linear", "h0"),), (64,), Neuron()),
            Layer("out", (Edge("linear", "h1"),), (3,)),
        ),
        timesteps=6,
    ).validate()
    hw = HardwareConfig(lif_units=1, pipeline_layers=True)
    m = map_network(net, hw)
    c = [lm.timestep_cycles for lm in m.layers]
    assert c[0] < c[1]
    reads = {1: [0], 2: [1]}  # h1 reads h0, out reads h1
    fin: dict[tuple[int, int], int] = {}
    waited = 0
    for t, row in enumerate(m.item_starts):
        for k, start in enumerate(row):
            free = [fin[(j, t - 2)] for j, ps in reads.items() if k in ps and t >= 2]
            # overlapped reads: the layer's next reads one read stream (P * q) after its last
            lm = m.layers[k]
            own = m.item_starts[t - 1][k] + lm.positions * lm.position_period if t else 0
            assert start == max([own] + [fin[(p, t)] for p in reads.get(k, [])] + free)
            waited += bool(free) and max(free) > own
            fin[(k, t)] = start + c[k]
    assert m.compute_cycles == max(fin.values())
    assert waited == net.timesteps - 2  # h0 from t = 2 on
    assert m.item_starts[2][0] == m.item_starts[0][1] + c[1]  # h0 (t = 2) after h1 (t = 0)


def test_event_counts_by_formula() -> None:
    hw = HardwareConfig(tile_rows=16, tile_cols=32, cell_bits=2, columns_per_adc=4)
    s = schedule(small_cnn(), hw, samples=5)
    m, t = 5, 3
    # c1: 3 planes x 64 positions x (1 x 1) tiles; c2: 16 positions x 5 row tiles;
    # out: 16 row tiles x 1 column tile
    assert s.events["crossbar_reads"] == m * t * (3 * 64 * 1 + 16 * 5 * 1 + 16 * 1)
    assert s.events["adc_conversions"] == m * t * (3 * 64 * 32 + 16 * 5 * 32 + 16 * 20)
    assert s.events["lif_updates"] == m * t * (8 * 64 + 16 * 16 + 10)
    assert s.events["dropout_samples"] == m * 8
    # rate coding: one LFSR step per input per timestep, one encode phase per timestep
    r = schedule(small_cnn("rate"), hw, samples=2)
    assert r.lfsr_steps == 2 * 3 * 64 and r.encode_cycles == 2 * 3 * 64
    assert r.events["crossbar_reads"] == 2 * 3 * (64 + 16 * 5 + 16)  # one plane only


def test_layers_of_a_cell_read_in_parallel() -> None:
    hw = HardwareConfig(tile_rows=16, tile_cols=16, columns_per_adc=4)
    m = map_network(cell_net(), hw)
    node = m.layers[1]
    a, b = node.edges  # conv1x1 from stem (1 plane), conv3x3 from the 2-bit input (2 planes)
    assert (a.planes, b.planes) == (1, 2)
    assert node.plane_cycles == (max(a.step_cycles, b.step_cycles), b.step_cycles)
    assert node.skip_sources == ("stem",)
    skiponly = m.layers[2]
    assert skiponly.edges == () and skiponly.plane_cycles == ()
    assert skiponly.timestep_cycles == 25 * math.ceil(4 / 16)


def test_architecture_and_weights_map_alike() -> None:
    import numpy as np

    arch = digits_mlp()
    rng = np.random.default_rng(0)
    weighted = Network(
        name=arch.name,
        input=arch.input,
        layers=tuple(
            Layer(
                layer.name,
                tuple(
                    Edge(
                        e.kind,
                        e.source,
                        weight_bits=e.weight_bits,
                        weight=rng.choice([-1, 1], size=e.weight_shape),
                        dropout=e.dropout,
                    )
                    for e in layer.edges
                ),
                layer.out_shape,
                None if layer.neuron is None else Neuron(threshold=np.full(layer.out_shape[0], 3)),
            )
            for layer in arch.layers
        ),
        timesteps=arch.timesteps,
    ).validate()
    assert weighted.has_weights and not arch.has_weights
    hw = HardwareConfig()
    assert schedule(weighted, hw).as_dict() == schedule(arch, hw).as_dict()


def test_notes_warn_of_adc_saturation_and_idle_modules() -> None:
    m = map_network(digits_mlp(modules=100), HardwareConfig(adc_bits=5))
    text = " ".join(m.notes)
    assert "saturation possible" in text and "never used" in text
    assert map_network(digits_mlp(), HardwareConfig()).notes == ()


def test_as_dict_is_json_ready() -> None:
    import json

    m = map_network(cell_net(), HardwareConfig())
    json.dumps(m.as_dict())
    json.dumps(schedule(cell_net(), HardwareConfig(), samples=2).as_dict())


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tile_rows": 0}, "tile_rows"),
        ({"tile_cols": 5000}, "tile_cols"),
        ({"cell_bits": 9}, "cell_bits"),
        ({"columns_per_adc": 3}, "columns_per_adc"),
        ({"lif_units": 0}, "lif_units"),
        ({"clock_mhz": -1.0}, "clock_mhz"),
        ({"adc_latency_cycles": 1.5}, "adc_latency_cycles"),
        ({"adc_pipelined": 1}, "adc_pipelined"),
        ({"adc_pipelined": "true"}, "adc_pipelined"),
        ({"mask_double_buffer": 1}, "mask_double_buffer"),
        ({"overlap_reads": "yes"}, "overlap_reads"),
        ({"input_dac_bits": 0}, "input_dac_bits"),
        ({"input_dac_bits": 9}, "input_dac_bits"),
        ({"input_dac_bits": "2"}, "input_dac_bits"),
        ({"stream_while_busy": 1}, "stream_while_busy"),
    ],
)
def test_bad_hardware_raises_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(HardwareError, match=field):
        HardwareConfig(**kwargs)


@pytest.mark.parametrize("value", [0, 4097, "8", 2.0, True])
def test_bad_pixels_per_transfer_names_the_key_and_the_range(value: object) -> None:
    with pytest.raises(HardwareError, match=r"hardware\.pixels_per_transfer .*1\.\.4096"):
        HardwareConfig(pixels_per_transfer=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 3, 8, 64, 100, 4096])
def test_input_transfer_cycles_are_the_pixels_over_the_lanes_rounded_up(k: int) -> None:
    """64 pixels, ``k`` per transfer: ``ceil(64 / k)`` transfers; the busy cycles do not
    depend on ``k``."""
    hw = HardwareConfig(pixels_per_transfer=k)
    m = map_network(digits_mlp(), hw)
    assert m.input_transfer_cycles == -(-64 // k) == m.as_dict()["input_transfer_cycles"]
    assert schedule(digits_mlp(), hw).cycles == schedule(digits_mlp(), HardwareConfig()).cycles


@pytest.mark.parametrize("k", [1, 8])
@pytest.mark.parametrize("stream", [False, True])
def test_image_period_overlaps_the_next_transfers_with_the_busy_cycles(k: int, stream: bool):
    """Back-to-back images: ``J + B`` cycles each with the stream only while idle, ``max(J,
    B)`` with stream_while_busy (J = ceil(64 / k) transfers, B the busy cycles of 3 samples);
    a one-pixel-wide stream on a 4096-pixel input is longer than the busy cycles."""
    hw = HardwareConfig(pixels_per_transfer=k, stream_while_busy=stream)
    m = map_network(digits_mlp(), hw)
    j, b = -(-64 // k), schedule(digits_mlp(), hw, samples=3).cycles
    assert image_period_cycles(m, 3) == (max(j, b) if stream else j + b)
    big = Network(
        "wide",
        InputSpec((1, 64, 64), bits=1),
        (Layer("out", (Edge("linear", "input", weight=np.ones((2, 4096), int)),), (2,)),),
        timesteps=1,
    ).validate()
    wide = map_network(big, HardwareConfig(pixels_per_transfer=1))
    busy = schedule_mapping(wide, 1).cycles
    assert busy < 4096 == image_period_cycles(wide)


def test_bad_arguments() -> None:
    with pytest.raises(HardwareError, match="HardwareConfig"):
        map_network(digits_mlp(), {"tile_rows": 64})  # type: ignore[arg-type]
    with pytest.raises(HardwareError, match="pulse_ns"):
        MTJDriver(pulse_ns=0.0)
    with pytest.raises(HardwareError, match="device"):
        MTJDriver(device="mtj")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples"):
        schedule(digits_mlp(), HardwareConfig(), samples=0)
    raw = Network(
        "raw",
        InputSpec((1, 2, 2)),
        (Layer("a", (Edge("linear", "nowhere"),), (2,)),),
    )
    with pytest.raises(MappingError, match="nowhere"):
        map_network(raw, HardwareConfig())


# --- one definition of each rule ---------------------------------------------------------------


def test_time_multiplexing_rules_by_hand() -> None:
    from hdl.geometry import (
        ceil_div,
        conversion_cycles,
        conversions,
        lanes,
        mask_cycles,
        update_cycles,
    )

    assert [ceil_div(a, 4) for a in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
    assert (conversions(10, 4), lanes(10, 4), conversions(3, 4), lanes(3, 4)) == (3, 4, 1, 3)
    assert mask_cycles(64, 5) == 13 and update_cycles(10, 16) == 1
    # 4 conversions: serial ADCs of latency 2 (3 cycles each), pipelined ones (one per cycle)
    assert conversion_cycles(4, 3, 3) == 12 and conversion_cycles(4, 3, 1) == 6
    assert conversion_cycles(1, 3, 1) == 3


def test_one_definition_of_each_rule() -> None:
    """The RTL takes the event names from the mapping, and no module of the mapping, the RTL or
    the behavioural models rounds up a division by hand or derives the ADCs per tile itself
    (HardwareConfig.adcs_per_tile and hdl.geometry are the definitions, the golden model's own
    geometry the deliberate exception)."""
    import re
    from pathlib import Path

    import hdl.rtl.accelerator as accelerator
    from hdl import mapping

    assert accelerator.EVENTS is mapping.EVENTS
    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("hdl/*.py"), *root.glob("hdl/rtl/*.py"), *root.glob("sim/models/*.py")]
    allowed = {"geometry.py", "golden.py", "hwconfig.py"}  # the definitions, the cross-check
    copies = re.compile(r"-\(-\w|_ceil_div\(|tile_cols\s*//|1 \+ \w+\.adc_latency_cycles")
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in files
        if path.name not in allowed
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if copies.search(line)
    ]
    assert not found, found


# --- refusals and notes ------------------------------------------------------------------------


def _mlp(dropout: DropoutSpec | None = None, dead_end: bool = False) -> Network:
    layers = [Layer("fc1", (Edge("linear", "input", dropout=dropout),), (16,), Neuron())]
    if dead_end:  # read by nobody (the zero edge reads nothing)
        layers.append(Layer("side", (Edge("linear", "input"),), (8,), Neuron()))
    zero = (Edge("zero", "side"),) if dead_end else ()
    layers.append(Layer("out", (Edge("linear", "fc1"), *zero), (4,)))
    return Network("mlp", InputSpec((1, 4, 4), bits=2), tuple(layers), timesteps=2).validate()


def test_an_lfsr_too_narrow_for_its_modules_is_refused_naming_the_edge_and_the_fix() -> None:
    hw = HardwareConfig(tile_rows=16, tile_cols=16)
    # width 5: period 31, 8 modules -> starts 31 // 8 // 2 = 1 < 5 steps apart
    narrow = DropoutSpec(0.5, source="lfsr", modules=8, lfsr=LFSRSpec(5, 1))
    with pytest.raises(
        MappingError,
        match=r"layer 'fc1'.edges\[0\].dropout.lfsr.width 5 is too narrow: .* use a wider LFSR "
        r"\(width >= 7\)",
    ):
        map_network(_mlp(narrow), hw)
    # width 7: 127 // 8 // 2 = 7 >= 7
    m = map_network(_mlp(replace(narrow, lfsr=LFSRSpec(7, 1))), hw)
    assert m.edges[0].dropout.lfsr_width == 7


def test_a_layer_nobody_reads_is_mapped_with_a_note() -> None:
    hw = HardwareConfig(tile_rows=16, tile_cols=16)
    m = map_network(_mlp(dead_end=True), hw)
    side = m.layers[1]
    dead = [n for n in m.notes if "'side'" in n]
    assert dead == [
        f"layer 'side' is read by no edge and is not the output: its 8 neurons cost "
        f"{side.timestep_cycles} cycles per timestep, tiles and energy for nothing; remove it "
        "or feed it into a later layer"
    ]
    assert not [n for n in map_network(_mlp(), hw).notes if "read by no edge" in n]


# --- the sample-pipelining bound ----------------------------------------------------------------


def test_sample_pipeline_bound_of_one_layer_in_turn_is_samples_times_its_item() -> None:
    # one layer, T = 1, no dropout, reads in turn: every item waits for the previous one
    net = Network(
        "one", InputSpec((1, 4, 4), bits=2), (Layer("out", (Edge("linear", "input"),), (4,)),)
    ).validate()
    hw = HardwareConfig(tile_rows=16, tile_cols=16, overlap_reads=False)
    m = map_network(net, hw)
    (item,) = m.stage_cycles
    for samples in (1, 2, 7):
        assert sample_pipeline_bound(m, samples) == samples * item
        assert schedule_mapping(m, samples).cycles == samples * item  # nothing to save here


@pytest.mark.parametrize("seed", range(12))
def test_sample_pipeline_bound_equals_one_sample_and_never_exceeds_the_schedule(seed) -> None:
    from sim.netgen import random_network

    net, hw = random_network(seed)
    m = map_network(net, replace(hw, pipeline_layers=True))
    assert sample_pipeline_bound(m, 1) == schedule_mapping(m, 1).cycles
    for samples in (2, 5):
        bound = sample_pipeline_bound(m, samples)
        assert m.fill_cycles + m.compute_cycles <= bound
        assert bound <= schedule_mapping(m, samples).cycles


def test_sample_pipeline_bound_needs_pipelined_layers() -> None:
    m = map_network(digits_mlp(), serial_hw())
    with pytest.raises(MappingError, match=r"hardware\.pipeline_layers = true"):
        sample_pipeline_bound(m, 2)


# --- pipelined samples -------------------------------------------------------------------------


def _one_timestep(net: Network) -> Network:
    return replace(net, timesteps=1).validate()


PS_NETS = {
    **SMALL,
    "mlp-t1": lambda: _one_timestep(digits_mlp()),
    "mlp-t1-one-module": lambda: _one_timestep(digits_mlp(modules=1)),
    "mlp-no-dropout": lambda: digits_mlp(samples_dropout=False),
    "cnn-rate-t1": lambda: _one_timestep(small_cnn("rate")),
    "cell-t1": lambda: _one_timestep(cell_net()),
}

PS_HWS = {
    "default": HardwareConfig(pipeline_samples=True),
    "serial": serial_hw(pipeline_layers=True, mask_double_buffer=True, pipeline_samples=True),
    "one-unit": HardwareConfig(tile_rows=64, tile_cols=64, lif_units=1, pipeline_samples=True),
    "fast-clock": HardwareConfig(
        tile_rows=64, tile_cols=64, clock_mhz=1000.0, lif_units=8, pipeline_samples=True
    ),
    "slow-adc": HardwareConfig(
        tile_rows=64,
        tile_cols=64,
        adc_latency_cycles=3,
        lif_units=1,
        adc_pipelined=False,
        pipeline_samples=True,
    ),
}


@pytest.mark.parametrize("hw_name", sorted(PS_HWS))
@pytest.mark.parametrize("net_name", sorted(PS_NETS))
@pytest.mark.parametrize("samples", [1, 2, 4])
def test_pipelined_samples_equal_the_enumerated_items(
    net_name: str, hw_name: str, samples: int
) -> None:
    net, hw = PS_NETS[net_name](), PS_HWS[hw_name]
    s = schedule(net, hw, samples=samples)
    assert s.mapping.samples_pipelined
    steps, events, bound = enumerate_schedule(net, hw, samples)
    assert s.cycles == max(st + c for _, st, c in steps)
    listed = s.steps()
    assert [(st.kind, st.start, st.cycles) for st in listed] == steps
    assert len(listed) == s.step_count()
    assert s.events == events
    assert adc_bound(s.mapping, samples) == bound
    # never below the ideal, and the events are those of the samples one after another
    off = schedule(net, replace(hw, pipeline_samples=False), samples=samples)
    assert s.events == off.events
    assert sample_pipeline_bound(s.mapping, samples) <= s.cycles <= off.cycles
    if samples == 1:
        assert s.cycles == off.cycles
    T = net.timesteps
    assert [(st.sample, st.timestep) for st in listed if st.kind == "update"][-1] == (
        samples - 1,
        T - 1,
    )
    assert s.fill_cycles == s.mapping.fill_cycles


@pytest.mark.parametrize("net_name", ["mlp-no-dropout", "cnn-rate-t1", "cell-t1"])
@pytest.mark.parametrize("samples", [2, 5])
def test_pipelined_samples_reach_the_bound_when_nothing_else_binds(
    net_name: str, samples: int
) -> None:
    # no masks, reads in turn (the output layer waits for its previous item anyway)
    net = PS_NETS[net_name]()
    net = replace(
        net,
        layers=tuple(
            replace(la, edges=tuple(replace(e, dropout=None) for e in la.edges))
            for la in net.layers
        ),
    ).validate()
    hw = HardwareConfig(overlap_reads=False, pipeline_samples=True)
    m = map_network(net, hw)
    assert schedule_mapping(m, samples).cycles == sample_pipeline_bound(m, samples)


def test_pipelined_samples_change_nothing_without_pipelined_layers_or_a_second_mask_bank() -> None:
    for hw in (
        serial_hw(pipeline_samples=True),
        HardwareConfig(pipeline_layers=False, pipeline_samples=True),
        HardwareConfig(mask_double_buffer=False, pipeline_samples=True),
    ):
        m = map_network(digits_mlp(), hw)
        assert not m.samples_pipelined
        off = schedule(digits_mlp(), replace(hw, pipeline_samples=False), samples=3)
        assert schedule_mapping(m, 3).cycles == off.cycles
        with pytest.raises(MappingError, match="pipeline_samples"):
            sample_item_starts(m, 3)
    # one mask bank and no dropout: nothing to wait for, the samples pipeline
    net = digits_mlp(samples_dropout=False)
    assert map_network(
        net, HardwareConfig(mask_double_buffer=False, pipeline_samples=True)
    ).samples_pipelined


@pytest.mark.parametrize("seed", range(12))
def test_pipelined_samples_of_random_networks(seed: int) -> None:
    from sim.netgen import random_network

    net, hw = random_network(seed)
    hw = replace(hw, pipeline_layers=True, mask_double_buffer=True, pipeline_samples=True)
    m = map_network(net, hw)
    assert (
        schedule_mapping(m, 1).cycles
        == schedule_mapping(replace(m, hw=replace(hw, pipeline_samples=False)), 1).cycles
    )
    for samples in (2, 3):
        s = schedule_mapping(m, samples)
        steps, events, _ = enumerate_schedule(net, hw, samples)
        assert s.cycles == max(st + c for _, st, c in steps)
        assert [(st.kind, st.start, st.cycles) for st in s.iter_steps()] == steps
        assert s.events == events
        assert sample_pipeline_bound(m, samples) <= s.cycles


def test_a_vgg9_prices_ten_pipelined_samples_fast() -> None:
    import time

    m = map_network(vgg9(), HardwareConfig(pipeline_samples=True))
    begin = time.perf_counter()
    s = schedule_mapping(m, 10)
    assert time.perf_counter() - begin < 0.5
    assert (
        sample_pipeline_bound(m, 10)
        <= s.cycles
        < schedule_mapping(replace(m, hw=replace(m.hw, pipeline_samples=False)), 10).cycles
    )
