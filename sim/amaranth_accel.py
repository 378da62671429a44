"""The whole accelerator in Amaranth's simulator with behavioural analog parts.

:func:`simulate_amaranth` plays every crossbar macro (:mod:`sim.models.crossbar`, programmed
with :func:`hdl.rtl.accelerator.tile_cells`, converting its columns on its ADCs with the timing
of its :class:`~hdl.rtl.plan.TilePort`: serial or pipelined ADCs) and every MTJ dropout module
(:mod:`sim.models.mtj`, seeded per image: module ``i`` draws image ``n`` from
:func:`~sim.models.mtj.module_key` ``(mtj_seed, n, i)``), streams the images in
(:func:`pack_pixels`: ``hw.pixels_per_transfer`` pixels per transfer; with
``hw.stream_while_busy`` image ``n + 1`` while image ``n`` computes), runs ``samples``
Monte-Carlo samples per image and records the outputs, every layer's spikes per timestep, the
busy cycles, the event counters and the masks the MTJ models drew. The cocotb testbench
(:mod:`sim.tb_accelerator`) does the same on the Verilog; both are compared with
:func:`hdl.golden.run` by :func:`sim.compare.compare_run`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from hdl.rtl.accelerator import EVENTS, Accelerator, tile_cells
from sim.models.crossbar import CrossbarTileModel, amaranth_macro
from sim.models.mtj import MTJModuleModel, amaranth_mtj, masks_from_bits

__all__ = ["AcceleratorRun", "pack_pixels", "simulate_amaranth", "unpack_outputs"]


@dataclass
class AcceleratorRun:
    """What a simulation of the accelerator observed.

    Attributes:
        outputs: int64 ``(samples, images, outputs)``, one ``counts`` transfer per sample.
        spikes: layer name -> uint8 ``(samples, images, T, *out_shape)`` (layers with neurons).
        cycles: ``busy`` cycles per image.
        events: the ``ev_*`` counters after the last image.
        macro_reads: reads answered by the macro models, all tiles together.
        macro_conversions: ADC codes returned by the macro models (reads x tile columns).
        mtj_samples: bits drawn by the MTJ models.
        masks: ``"layer.i"`` -> keep masks ``(samples, images, units)`` the MTJ models drew.
        errors: protocol violations the analog models saw.
        transfers: ``pixels`` transfers accepted (``valid`` and ``ready``) per image.
    """

    outputs: np.ndarray
    spikes: dict[str, np.ndarray]
    cycles: list[int]
    events: dict[str, int]
    macro_reads: int
    macro_conversions: int
    mtj_samples: int
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    transfers: list[int] = field(default_factory=list)


@contextmanager
def _long_integers() -> Iterator[None]:
    """Lift Python's limit on int <-> str conversion for a while: Amaranth's simulator compiles
    the design to Python source, and the packed code buses of a large edge (e.g. 28 tiles x 128
    columns x 8 bits) are constants longer than the default 4,300 digits."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def unpack_outputs(value: int, n: int, bits: int, signed: bool) -> list[int]:
    """The ``n`` fields of ``bits`` bits of a ``counts`` payload (two's complement if signed)."""
    mask, half = (1 << bits) - 1, 1 << (bits - 1)
    fields = [(int(value) >> (i * bits)) & mask for i in range(n)]
    return [f - 2 * half if signed and f >= half else f for f in fields]


def pack_pixels(image: np.ndarray, per_transfer: int, bits: int) -> list[int]:
    """The ``pixels`` payloads of one image: its pixels in C order, ``K = per_transfer`` per
    transfer, pixel ``j * K + i`` in bits ``[i * bits, (i + 1) * bits)`` of payload ``j``;
    ``ceil(n_in / K)`` payloads, the unused lanes of the last one zero
    (:attr:`hdl.hwconfig.HardwareConfig.pixels_per_transfer`)."""
    flat = [int(v) for v in np.asarray(image).reshape(-1)]
    payloads = []
    for j in range(0, len(flat), per_transfer):
        word = 0
        for i, v in enumerate(flat[j : j + per_transfer]):
            word |= v << (i * bits)
        payloads.append(word)
    return payloads


def simulate_amaranth(
    acc: Accelerator,
    x: np.ndarray,
    samples: int = 1,
    mtj_seed: int = 0,
    cells: Mapping[str, np.ndarray] | None = None,
    counts_ready: Callable[[int], bool] | None = None,
) -> AcceleratorRun:
    """Run the images ``x`` ``(N, C, H, W)`` (unsigned ``input.bits`` integers) back to back.

    ``cells`` (tile name -> ``(rows, cols)`` integers) programs the macros; default
    :func:`~hdl.rtl.accelerator.tile_cells` of the network. ``counts_ready``: ``counts.ready``
    in cycle ``k`` of the run (the host taking the outputs or not; default always), the bench
    then waiting for every sample's transfer after ``done``."""
    net, hw = acc.net, acc.hw
    x = np.asarray(x, dtype=np.int64)
    n_img = x.shape[0]
    T = acc.timesteps
    macros = []
    for tile in acc.tiles:
        programmed = tile_cells(net, tile, hw) if cells is None else cells[tile.name]
        model = CrossbarTileModel(programmed, hw.adc_bits, tile.dac_bits)
        port = getattr(acc, tile.name)
        proc = amaranth_macro(
            model, port, tile.first_cycles, adcs=tile.lanes, interval=tile.conversion_cycles
        )
        macros.append((tile, proc))
    mtjs = []
    for mod in acc.mtj_modules:
        model = MTJModuleModel(
            acc.driver.device, hw.clock_mhz, mod.setting.code_bits, mtj_seed, len(mtjs)
        )
        mtjs.append((mod, amaranth_mtj(model, getattr(acc, mod.name))))
    with _long_integers():
        sim = Simulator(acc)
    sim.add_clock(1e-6)
    for _, proc in macros + mtjs:
        sim.add_process(proc)

    shapes = {net.layers[i].name: net.layers[i].out_shape for i in range(len(net.layers))}
    layers = acc.debug["layers"]
    spikes = {
        net.layers[i].name: np.zeros((samples, n_img, T, *shapes[net.layers[i].name]), np.uint8)
        for i, _, _, _ in layers
    }
    outputs = np.zeros((samples, n_img, acc.out_neurons), dtype=np.int64)
    cycles: list[int] = []
    transfers = [0] * n_img
    events: dict[str, int] = {}
    state = {"image": 0, "sample": 0, "busy": 0, "loading": 0, "t_seen": {}}
    strobes_seen: dict[tuple[int, int], int] = {}

    async def monitor(ctx) -> None:
        strobes = [s for _, s, _, _ in layers]
        steps = [t for _, _, _, t in layers]
        n_layers = len(layers)
        async for sampled in ctx.tick().sample(
            acc.busy,
            acc.counts.valid,
            acc.counts.ready,
            acc.counts.payload,
            acc.pixels.valid,
            acc.pixels.ready,
            *strobes,
            *steps,
        ):
            _clk, _rst, busy, valid, ready, payload, p_valid, p_ready, *rest = sampled
            fired, ts = rest[:n_layers], rest[n_layers:]
            if busy:
                state["busy"] += 1
            n, s = state["image"], state["sample"]
            if p_valid and p_ready:
                transfers[state["loading"]] += 1
            for (li, _, buf, _), hit, t in zip(layers, fired, ts, strict=True):
                if hit:
                    name = net.layers[li].name
                    value = ctx.get(buf)
                    flat = np.array(
                        [(value >> k) & 1 for k in range(int(np.prod(shapes[name])))], np.uint8
                    )
                    # the k-th strobe of a layer in an image is sample k // T, timestep k % T
                    # (with pipelined samples the layers are on different samples at once)
                    k = strobes_seen.get((li, n), 0)
                    strobes_seen[(li, n)] = k + 1
                    assert k % T == int(t), (name, k, int(t))
                    if k // T < samples:
                        spikes[name][k // T, n, int(t)] = flat.reshape(shapes[name])
            if valid and ready:
                outputs[s, n] = unpack_outputs(
                    payload, acc.out_neurons, acc.out_bits, acc.out_signed
                )
                state["sample"] += 1

    stream = acc.hw.stream_while_busy
    words = [pack_pixels(x[n], acc.plan.pixels_per_transfer, acc.in_bits) for n in range(n_img)]

    async def send(ctx, n: int) -> bool:
        """Stream image ``n``'s transfers; whether ``done`` was high in one of their cycles."""
        state["loading"], seen = n, False
        for v in words[n]:
            ctx.set(acc.pixels.payload, v)
            ctx.set(acc.pixels.valid, 1)
            while True:
                _clk, _rst, ready, done = await ctx.tick().sample(acc.pixels.ready, acc.done)
                seen = seen or bool(done)
                if ready:
                    break
        ctx.set(acc.pixels.valid, 0)
        return seen

    async def host(ctx) -> None:  # the host's counts.ready, cycle by cycle
        k = 0
        while True:
            assert counts_ready is not None
            ctx.set(acc.counts.ready, int(bool(counts_ready(k))))
            await ctx.tick()
            k += 1

    async def bench(ctx) -> None:
        if counts_ready is None:
            ctx.set(acc.counts.ready, 1)
        for n in range(n_img):
            if not (stream and n):  # else streamed while image n - 1 computed
                await send(ctx, n)
            state["image"], state["sample"] = n, 0
            for _, proc in mtjs:
                proc.model.begin_image(n)  # the draws of image n depend on n only
            ctx.set(acc.samples, samples)
            ctx.set(acc.start, 1)
            state["busy"] = 0
            await ctx.tick()
            ctx.set(acc.start, 0)
            # with stream_while_busy the next image's pixels go in while this one computes
            done = await send(ctx, n + 1) if stream and n + 1 < n_img else False
            if not done:
                await ctx.tick().until(acc.done)
            await ctx.tick()  # the last counts transfer
            if counts_ready is not None:  # the host may take it later
                for _ in range(100_000):
                    if (state["image"], state["sample"]) == (n, samples):
                        break
                    await ctx.tick()
            cycles.append(state["busy"])
        for ev in EVENTS:
            events[ev] = int(ctx.get(getattr(acc, f"ev_{ev}")))

    sim.add_testbench(bench)
    sim.add_testbench(monitor, background=True)
    if counts_ready is not None:
        sim.add_testbench(host, background=True)
    with _long_integers():
        sim.run()

    errors = [f"{t.name}: {e}" for t, p in macros for e in p.protocol.errors]
    errors += [f"{m.name}: {e}" for m, p in mtjs for e in p.model.errors]
    masks: dict[str, np.ndarray] = {}
    for key in sorted({m.key for m, _ in mtjs}):
        mods = sorted(((m, p) for m, p in mtjs if m.key == key), key=lambda mp: mp[0].module)
        masks[key] = masks_from_bits(
            [p.model.bits for _, p in mods], mods[0][0].units, samples, n_img
        )
    return AcceleratorRun(
        outputs=outputs,
        spikes=spikes,
        cycles=cycles,
        events=events,
        macro_reads=sum(len(p.protocol.reads) for _, p in macros),
        macro_conversions=sum(len(p.protocol.reads) * (t.cols[1] - t.cols[0]) for t, p in macros),
        mtj_samples=sum(len(p.model.bits) for _, p in mtjs),
        masks=masks,
        errors=errors,
        transfers=transfers,
    )
