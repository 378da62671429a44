"""ScheduleController (hdl.rtl.controller) replays hdl.mapping's schedule cycle for cycle.

The expected trace is Schedule.iter_steps(): every step is active from its start for its
cycles (with overlapped reads a layer's update runs while its next positions are read, and a
cycle may hold no step, waiting for a sum); the controller's outputs are classified per cycle
into the same set of (kind, sample, timestep, layer, position, plane, group) tuples.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from amaranth.sim import Simulator

from hdl.mapping import map_network, schedule_mapping
from hdl.rtl import RTLError
from hdl.rtl.controller import ScheduleController
from sim.netgen import example_networks, long_fill_examples, random_network

CASES = {**example_networks(), **{f"random{s}": random_network(s) for s in (0, 3, 4, 9)}}
CASES["cell-pipelined"] = (CASES["cell"][0], replace(CASES["cell"][1], adc_pipelined=True))
CASES["cell-double"] = (CASES["cell"][0], replace(CASES["cell"][1], mask_double_buffer=True))
# overlapped reads: the direct multi-bit inputs of mlp and conv, serial and pipelined ADCs
CASES["mlp-overlap"] = (CASES["mlp"][0], replace(CASES["mlp"][1], overlap_reads=True))
CASES["conv-overlap-pipelined"] = (
    CASES["conv"][0],
    replace(CASES["conv"][1], overlap_reads=True, adc_pipelined=True, mask_double_buffer=True),
)
CASES.update(long_fill_examples())  # double-buffered, fill longer than a sample's compute
# pipelined layers: serial and overlapped reads, direct and rate input, skip edges, a fill
# longer than a sample
for _name in ("mlp", "conv", "cell", "random0", "random4", "lfsr-long", "conv-overlap-pipelined"):
    CASES[f"{_name}-pipelined-layers"] = (
        CASES[_name][0],
        replace(CASES[_name][1], pipeline_layers=True),
    )
# streamed timesteps (pipelined layers and overlapped reads): serial and pipelined ADCs, direct
# and rate input, one LIF unit (updates longer than the reads), several latch timers
for _name in ("mlp", "conv", "cell", "random0", "random4", "lfsr-long"):
    _hw = CASES[_name][1]
    CASES[f"{_name}-streamed"] = (
        CASES[_name][0],
        replace(_hw, pipeline_layers=True, overlap_reads=True),
    )
    CASES[f"{_name}-streamed-fast"] = (
        CASES[_name][0],
        replace(_hw, pipeline_layers=True, overlap_reads=True, adc_pipelined=True, lif_units=1),
    )
# pipelined samples: serial and streamed reads, T = 1 and T > 1, MTJ and LFSR dropout (a fill
# longer than a sample's compute), rate input, skip edges, one LIF unit
PSAMP: list[str] = []
for _name in ("mlp", "conv", "cell", "random0", "random4", "lfsr-long"):
    _net, _hw = CASES[_name]
    for _suffix, _t, _extra in (
        ("", _net.timesteps, {}),
        ("-t1", 1, {}),
        ("-fast", _net.timesteps, {"adc_pipelined": True, "lif_units": 1}),
    ):
        for _overlap in (False, True):
            _key = f"{_name}{_suffix}-samples{'-streamed' if _overlap else ''}"
            CASES[_key] = (
                replace(_net, timesteps=_t).validate(),
                replace(
                    _hw,
                    pipeline_layers=True,
                    overlap_reads=_overlap,
                    mask_double_buffer=True,
                    pipeline_samples=True,
                    **_extra,
                ),
            )
            PSAMP.append(_key)


def check_streamed_starts(mapping, want: list[set]) -> None:
    """The pipelined items' starts in the replayed trace follow the rule, modelled here from
    the layers' constants: item (k, t) starts (its first step) at the latest of (a) its stage's
    previous item's start + P * q for a layer with reads and overlapped reads (the read stream's
    next position), else that item's end, (b) its sources' ends of t and (c) its consumers' ends
    of t - 2."""
    first: dict[tuple, int] = {}
    end: dict[tuple, int] = {}
    for cycle, steps in enumerate(want):
        for kind, sample, t, layer, *_ in steps:
            if kind == "fill":
                continue
            key = (sample, "input" if kind == "encode" else layer, t)
            first.setdefault(key, cycle)
            end[key] = cycle + 1
    rate = mapping.encoding == "rate"
    stages = (["input"] if rate else []) + [lm.name for lm in mapping.layers]
    src = {"input": set()} if rate else {}
    for lm in mapping.layers:
        src[lm.name] = {e.source for e in lm.edges} | set(lm.skip_sources)
        src[lm.name] &= set(stages)
    lmaps = {lm.name: lm for lm in mapping.layers}
    samples = {key[0] for key in first}
    streamed = 0
    for sample in samples:
        begin = min(c for key, c in first.items() if key[0] == sample)
        for t in range(mapping.timesteps):
            for name in stages:
                lm = lmaps.get(name)
                waits = [begin]
                if t and lm is not None and mapping.hw.overlap_reads and lm.read_step_cycles:
                    waits.append(first[(sample, name, t - 1)] + lm.positions * lm.position_period)
                    streamed += 1
                elif t:
                    waits.append(end[(sample, name, t - 1)])
                waits += [end[(sample, p, t)] for p in src[name]]
                if t >= 2:
                    waits += [end[(sample, j, t - 2)] for j in stages if name in src[j]]
                assert first[(sample, name, t)] == max(waits), (sample, name, t)
    assert streamed or not mapping.hw.overlap_reads or mapping.timesteps == 1


def expected(mapping, samples: int) -> tuple[list[set], list[int], set, set]:
    """Per cycle the set of active steps, the sample it belongs to, and the cycles where a
    read step starts and where an update step starts, as (layer, cycle)."""
    steps = list(schedule_mapping(mapping, samples).iter_steps())
    cycles = schedule_mapping(mapping, samples).cycles
    trace: list[set] = [set() for _ in range(cycles)]
    sample_of = [0] * cycles
    reads, updates = set(), set()
    for step in steps:
        for k in range(step.start, cycles):
            sample_of[k] = step.sample
        if step.kind == "read":
            reads.add((step.layer, step.start))
        if step.kind == "update":
            updates.add((step.layer, step.start))
        for k in range(step.cycles):
            group = k if step.kind == "update" else -1
            where = (step.layer, step.position, step.plane, group)
            trace[step.start + k].add((step.kind, step.sample, step.timestep, *where))
    return trace, sample_of, reads, updates


@pytest.mark.parametrize("name", sorted(CASES))
def test_controller_follows_the_schedule(name: str) -> None:
    net, hw = CASES[name]
    mapping = map_network(net, hw)
    ctrl = ScheduleController(mapping)
    samples = 3 if hw.mask_double_buffer else 2
    psamp = ctrl.psamp
    T = mapping.timesteps
    swap_l: list[tuple[int, int]] = []
    prefetch_l: list[tuple[int, int]] = []
    names = [layer.name for layer in mapping.layers]
    got: list[set] = []
    read_starts, latches = set(), set()
    prefetch_cycles: list[int] = []
    swap_cycles: list[int] = []
    emits: list[int] = []

    async def bench(ctx) -> None:
        ctx.set(ctrl.samples, samples)
        ctx.set(ctrl.start, 1)
        assert ctx.get(ctrl.taken)
        prefetch_cycles.append(-1) if ctx.get(ctrl.prefetch) else None
        await ctx.tick()
        ctx.set(ctrl.start, 0)
        sample, cycle = 0, 0
        while ctx.get(ctrl.busy):
            if ctx.get(ctrl.emit):
                sample += 1
                emits.append(cycle)
            if ctx.get(ctrl.prefetch):
                prefetch_cycles.append(cycle)
            if ctx.get(ctrl.swap):
                swap_cycles.append(cycle)
            if psamp:
                swap_l.extend(
                    (i, cycle) for i in range(len(names)) if ctx.get(ctrl.swap_l) >> i & 1
                )
                prefetch_l.extend(
                    (i, cycle) for i in range(len(names)) if ctx.get(ctrl.prefetch_l) >> i & 1
                )
            kinds = set()
            if ctx.get(ctrl.fill):
                kinds.add(("fill", sample, -1, "", -1, -1, -1))
            if ctx.get(ctrl.encode):
                u = ctx.get(ctrl.encode_u)
                where = (u // T, u % T) if psamp else (sample, ctx.get(ctrl.encode_t))
                assert not psamp or u % T == ctx.get(ctrl.encode_t)
                kinds.add(("encode", *where, "", -1, -1, -1))
            for i, layer in enumerate(names):
                lm, sq = mapping.layers[i], ctrl.seqs[i]
                w = lm.out_shape[2] if len(lm.out_shape) == 3 else 1
                t, pos = ctx.get(sq.t), ctx.get(sq.pos)
                if (ctx.get(ctrl.read) >> i) & 1:
                    read_starts.add((layer, cycle))
                    assert (ctx.get(ctrl.reading) >> i) & 1
                if (ctx.get(ctrl.latch) >> i) & 1:
                    latches.add((layer, cycle))
                if (ctx.get(ctrl.reading) >> i) & 1:  # the position read: (oy, ox)
                    read_pos = ctx.get(sq.oy) * w + ctx.get(sq.ox)
                    rt = ctx.get(sq.rt)  # the reads' timestep (streamed: ahead of t)
                    rs = sample
                    if psamp:  # the reads' item over the samples
                        ru = ctx.get(sq.ru)
                        assert ru % T == rt
                        rs = ru // T
                    kinds.add(("read", rs, rt, layer, read_pos, ctx.get(sq.plane), -1))
                if (ctx.get(ctrl.update) >> i) & 1:  # the position updated: pos
                    group = ctx.get(sq.group)
                    us = sample
                    if psamp:
                        u = ctx.get(sq.u)
                        assert u % T == t
                        us = u // T
                    kinds.add(("update", us, t, layer, pos, -1, group))
                    assert ctx.get(sq.lif_group) == pos * lm.update_cycles + group
                    if not hw.overlap_reads:  # one position at a time
                        assert (ctx.get(sq.oy), ctx.get(sq.ox)) == divmod(pos, w)
            got.append(kinds)
            await ctx.tick()
            cycle += 1
        assert ctx.get(ctrl.emit) and ctx.get(ctrl.emit_last)

    sim = Simulator(ctrl)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want, sample_of, reads, updates = expected(mapping, samples)
    assert len(got) == len(want) == schedule_mapping(mapping, samples).cycles
    if psamp:
        check_pipelined_samples(mapping, samples, want, swap_l, prefetch_l, prefetch_cycles, emits)
    elif hw.pipeline_layers:  # layers of different timesteps at once (T > 1)
        assert any(len({step[2] for step in k}) > 1 for k in want) == (mapping.timesteps > 1)
        check_streamed_starts(mapping, got)
    elif not hw.overlap_reads:  # one step at a time, every cycle
        assert all(len(k) == 1 for k in want)
    elif name == "conv-overlap-pipelined":  # updates while the next positions are read
        assert any(len(k) > 1 for k in want)
    elif name == "mlp-overlap":  # one position per layer: waits for its sums between steps
        assert any(len(k) == 0 for k in want) and all(len(k) <= 1 for k in want)
    if psamp:  # samples at once where that saves cycles
        off = schedule_mapping(map_network(net, replace(hw, pipeline_samples=False)), samples)
        if len(want) < off.cycles:
            assert any(len({step[1] for step in k}) > 1 for k in want)
    first_diff = next((k for k, (a, b) in enumerate(zip(got, want, strict=True)) if a != b), None)
    assert first_diff is None, f"cycle {first_diff}: {got[first_diff]} != {want[first_diff]}"
    assert read_starts == reads  # read strobes exactly at the read steps' starts
    if hw.overlap_reads:  # the currents are latched in the cycle before each update
        runs = {lm.name for lm in mapping.layers if lm.read_step_cycles}
        assert latches == {(layer, k - 1) for layer, k in updates if layer in runs}
    else:
        assert latches == set()
    if psamp:
        return
    kinds = [{step[0] for step in k} for k in want]
    fills = [
        k for k in range(len(want)) if "fill" in kinds[k] and (k == 0 or "fill" not in kinds[k - 1])
    ]
    if not (hw.mask_double_buffer and mapping.fill_cycles):
        # the dropout sources start in the cycle before each fill step, and only then
        assert prefetch_cycles == [k - 1 for k in fills]
        assert swap_cycles == []
    else:
        # the masks swap in the cycle before each sample's compute; the sources start in the
        # start cycle and with each swap but the last (sample m + 1 fills while m computes)
        computes = [
            k
            for k in range(len(want))
            if "fill" not in kinds[k]
            and (k == 0 or "fill" in kinds[k - 1] or sample_of[k - 1] != sample_of[k])
        ]
        assert len(computes) == samples
        assert swap_cycles == [k - 1 for k in computes]
        assert prefetch_cycles == [-1] + [k - 1 for k in computes[:-1]]
        waits = [k for k in fills if sample_of[k] > 0]  # the waits for a background fill
        assert len(waits) == (samples - 1 if mapping.fill_cycles > mapping.compute_cycles else 0)
    assert len(emits) == samples - 1  # the last emit is after busy


def test_refuses_a_network() -> None:
    net, _ = CASES["mlp"]
    with pytest.raises(RTLError, match="Mapping"):
        ScheduleController(net)  # type: ignore[arg-type]


def check_pipelined_samples(
    mapping, samples, want, swap_l, prefetch_l, prefetch_cycles, emits
) -> None:
    """Pipelined samples: every layer with dropout swaps its masks in the first cycle of its
    first read of each sample and its next sample's fill starts then (the first fill in the
    start cycle); every sample but the last is emitted in the cycle after the output layer's
    last update of it."""
    T = mapping.timesteps
    names = [lm.name for lm in mapping.layers]
    dropout = [i for i, lm in enumerate(mapping.layers) if any(e.dropout for e in lm.edges)]
    first_read: dict[tuple[int, int], int] = {}
    last_update: dict[int, int] = {}
    for k, steps in enumerate(want):
        for step in steps:
            kind, sample, t, layer = step[:4]
            if kind == "read" and t == 0:
                first_read.setdefault((names.index(layer), sample), k)
            if kind == "update" and layer == names[-1] and t == T - 1:
                last_update[sample] = k
    if mapping.fill_cycles:
        assert sorted(swap_l) == sorted(
            (i, first_read[(i, m)]) for i in dropout for m in range(samples)
        )
        # each layer's next fill starts with its swap (but for the last sample)
        fills = sorted((i, first_read[(i, m)]) for i in dropout for m in range(samples - 1))
        assert prefetch_cycles == [-1] and sorted(prefetch_l) == fills
    else:
        assert swap_l == prefetch_l == prefetch_cycles == []
    assert emits == [last_update[m] + 1 for m in range(samples - 1)]
