"""ScheduleController (hdl.rtl.controller) replays hdl.mapping's schedule cycle for cycle.

The expected trace is Schedule.iter_steps() with each step repeated for its cycles; the
controller's outputs are classified per cycle into the same (kind, sample, timestep, layer,
position, plane) tuples.
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
CASES.update(long_fill_examples())  # double-buffered, fill longer than a sample's compute


def expected(mapping, samples: int) -> list[tuple]:
    trace = []
    for step in schedule_mapping(mapping, samples).iter_steps():
        for k in range(step.cycles):
            group = k if step.kind == "update" else -1
            trace.append(
                (
                    step.kind,
                    step.sample,
                    step.timestep,
                    step.layer,
                    step.position,
                    step.plane,
                    group,
                )
            )
    return trace


@pytest.mark.parametrize("name", sorted(CASES))
def test_controller_follows_the_schedule(name: str) -> None:
    net, hw = CASES[name]
    mapping = map_network(net, hw)
    ctrl = ScheduleController(mapping)
    samples = 3 if hw.mask_double_buffer else 2
    names = [layer.name for layer in mapping.layers]
    got: list[tuple] = []
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
            t = ctx.get(ctrl.t)
            kinds = []
            if ctx.get(ctrl.fill):
                kinds.append(("fill", sample, -1, "", -1, -1, -1))
            if ctx.get(ctrl.encode):
                kinds.append(("encode", sample, t, "", -1, -1, -1))
            for i, layer in enumerate(names):
                pos = ctx.get(ctrl.pos)
                if (ctx.get(ctrl.reading) >> i) & 1:
                    kinds.append(("read", sample, t, layer, pos, ctx.get(ctrl.plane), -1))
                    assert bool((ctx.get(ctrl.read) >> i) & 1) == (
                        not got or got[-1][:6] != kinds[-1][:6]
                    )
                if (ctx.get(ctrl.update) >> i) & 1:
                    group = ctx.get(ctrl.group)
                    kinds.append(("update", sample, t, layer, pos, -1, group))
                    g = mapping.layers[i].update_cycles
                    assert ctx.get(ctrl.lif_group) == pos * g + group
                    w = (
                        mapping.layers[i].out_shape[2]
                        if len(mapping.layers[i].out_shape) == 3
                        else 1
                    )
                    assert (ctx.get(ctrl.oy), ctx.get(ctrl.ox)) == divmod(pos, w)
            assert len(kinds) == 1, kinds
            got.append(kinds[0])
            await ctx.tick()
            cycle += 1
        assert ctx.get(ctrl.emit) and ctx.get(ctrl.emit_last)

    sim = Simulator(ctrl)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = expected(mapping, samples)
    assert len(got) == len(want) == schedule_mapping(mapping, samples).cycles
    first_diff = next((k for k, (a, b) in enumerate(zip(got, want, strict=True)) if a != b), None)
    assert first_diff is None, f"cycle {first_diff}: {got[first_diff]} != {want[first_diff]}"
    fills = [
        k
        for k, step in enumerate(want)
        if step[0] == "fill" and (k == 0 or want[k - 1][0] != "fill")
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
            for k, step in enumerate(want)
            if step[0] != "fill"
            and (k == 0 or want[k - 1][0] == "fill" or want[k - 1][1] != step[1])
        ]
        assert len(computes) == samples
        assert swap_cycles == [k - 1 for k in computes]
        assert prefetch_cycles == [-1] + [k - 1 for k in computes[:-1]]
        waits = [k for k in fills if want[k][1] > 0]  # the waits for a background fill
        assert len(waits) == (samples - 1 if mapping.fill_cycles > mapping.compute_cycles else 0)
    assert len(emits) == samples - 1  # the last emit is after busy


def test_refuses_a_network() -> None:
    net, _ = CASES["mlp"]
    with pytest.raises(RTLError, match="Mapping"):
        ScheduleController(net)  # type: ignore[arg-type]
