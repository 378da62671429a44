"""cocotb testbench of the whole accelerator (:class:`hdl.rtl.accelerator.Accelerator`) in
Verilog, inside its simulation top (:mod:`sim.sim_top`: behavioural Verilog macros and MTJ
modules, a trace writer), for one shard of the images.

Run it through :func:`sim.cosim.run_cosim` (which calls :func:`sim.runner.run_built` with
``params = {"dir": <shard directory>, ...}``, the simulator working in that directory). It
reads from the directory:

* ``cosim.json``: the accelerator's manifest (tiles, MTJ modules, output format), the layers
  with neurons, ``samples``, ``images`` (of the shard), ``first_image`` (the index of the
  shard's first image in the whole run), the clock period and the cycle limits;
* ``images.npy``: the shard's images ``(N, C, H, W)``.

The bench only drives ``clk`` (cocotb's clock), ``rst``, ``image``, the pixels, ``start`` and
``samples``, with ``counts.ready`` held high; the macros, MTJ modules and the recording of
spikes, outputs and MTJ bits run in the Verilog, so no Python runs in the clocked cycles of a
``start``. All signals are driven and read at falling edges (the design's registers change at
rising edges). Reset for two cycles, then per image ``n``: ``image = first_image + n``, the
pixels in C order, the manifest's ``pixels_per_transfer`` per ``pixels`` transfer
(:func:`sim.amaranth_accel.pack_pixels`; with the manifest's ``stream_while_busy`` image
``n + 1``'s right after image ``n``'s ``start``, while it computes), ``start`` with
``samples``, wait for ``done`` (one trigger, unless it came while streaming), one more cycle
(the last ``counts`` transfer). Image ``n`` owns the cycles from
the one after the previous image's last cycle to its own last; its busy cycles are those from
``start`` on (``busy_seen`` read before ``start`` and at the end). At the end it raises
``flush`` for one cycle and reads the trace (:data:`sim.sim_top.TRACE_FILE`):

* ``S`` lines: the ``k``-th of a layer in an image is sample ``k // T``, timestep ``k % T``;
* ``O`` lines: the ``s``-th of an image is sample ``s``'s outputs;
* ``M`` lines: each MTJ module's bits in drawing order; ``R``, ``P``, ``E``: the counters.

It writes ``shard.json`` (:data:`sim.cosim.SHARD_FORMAT`: outputs, spikes as hex words, busy
cycles, events, per-tile reads and protocol error counts, per-module MTJ bits and error counts,
the bench's observations; sorted keys, nothing time-dependent) and ``perf.json`` (simulated
cycles, wall-clock seconds); after each image the number of the shard's images done into
``progress.txt``. It never compares with the golden model; it fails only when the design hangs:
no ``done`` within ``timeout_cycles`` (4x the schedule's cycles) of ``start``, or a pixel not
accepted.
"""

from __future__ import annotations

import bisect
import json
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from sim.amaranth_accel import pack_pixels, unpack_outputs
from sim.runner import tb_params
from sim.shards import PROGRESS_FILE, SHARD_FORMAT
from sim.sim_top import TRACE_FILE


class BenchTimeout(AssertionError):
    """The design did not finish in time; the message says where it hung."""


def _int(handle: Any, what: str) -> int:
    value = handle.value
    try:
        return int(value)
    except ValueError:
        raise AssertionError(f"{what} is not a defined value: {value}") from None


def parse_trace(
    text: str, cfg: dict[str, Any], starts: list[int]
) -> tuple[dict[str, Any], list[str]]:
    """The shard's observations from the trace ``text`` (module doc); ``starts[n]``: the first
    cycle of image ``n``. Returns the ``shard.json`` fields and the bench's notes."""
    man = cfg["manifest"]
    samples, images, first = int(cfg["samples"]), int(cfg["images"]), int(cfg["first_image"])
    T = int(man["timesteps"])
    out_fmt = (int(man["output_neurons"]), int(man["output_bits"]), bool(man["output_signed"]))
    layers = {int(layer["index"]): layer["name"] for layer in cfg["layers"]}
    outputs = [[[0] * out_fmt[0] for _ in range(images)] for _ in range(samples)]
    spikes = {
        name: [[["0"] * T for _ in range(images)] for _ in range(samples)]
        for name in layers.values()
    }
    transfers = [0] * images
    strobes = {i: [0] * images for i in layers}
    bits: list[list[int]] = [[] for _ in man["mtj_modules"]]
    macros: dict[int, list[int]] = {}
    mtj_errors: dict[int, list[int]] = {}
    events: dict[str, int] = {}
    notes: list[str] = []
    flushed = False
    for line in text.splitlines():
        f = line.split()
        if f[0] == "F":
            flushed = True
        elif f[0] == "R":
            macros[int(f[1])] = [int(v) for v in f[2:5]]
        elif f[0] == "P":
            mtj_errors[int(f[1])] = [int(v) for v in f[2:5]]
        elif f[0] == "E":
            events[f[1]] = int(f[2])
        elif f[1] == "M":
            bits[int(f[2])].append(int(f[3]))
        else:
            n = max(0, bisect.bisect_right(starts, int(f[0])) - 1)
            if f[1] == "O":
                s = transfers[n]
                if s < samples:
                    outputs[s][n] = unpack_outputs(int(f[2], 16), *out_fmt)
                elif s == samples:
                    notes.append(
                        f"bench: more than {samples} counts transfers for image {first + n}"
                    )
                transfers[n] = s + 1
            elif f[1] == "S":
                i = int(f[2])
                k = strobes[i][n]
                s, t = divmod(k, T)
                if s < samples:
                    spikes[layers[i]][s][n][t] = format(int(f[3], 16), "x")
                elif k == samples * T:
                    notes.append(
                        f"bench: layer {layers[i]!r} finished more than {samples} x {T} "
                        f"timesteps for image {first + n}"
                    )
                strobes[i][n] = k + 1
    if not flushed:
        raise AssertionError(f"the trace {TRACE_FILE} ends before the flush: the simulator died")
    for n in range(images):
        if transfers[n] < samples:
            notes.append(
                f"bench: image {first + n}: {transfers[n]} counts transfers, expected {samples}"
            )
        for i, name in layers.items():
            if strobes[i][n] < samples * T:
                notes.append(
                    f"bench: layer {name!r} finished {strobes[i][n]} timesteps for image "
                    f"{first + n}, expected {samples} x {T}"
                )
    fields = {
        "outputs": outputs,
        "spikes": spikes,
        "events": events,
        "macros": {t["name"]: macros[k] for k, t in enumerate(man["tiles"])},
        "mtj_bits": {m["name"]: bits[k] for k, m in enumerate(man["mtj_modules"])},
        "mtj_errors": {m["name"]: mtj_errors[k] for k, m in enumerate(man["mtj_modules"])},
    }
    return fields, notes


@cocotb.test()
async def accelerator_run(dut: Any) -> None:
    """Run the shard's images and record everything (module doc)."""
    params = tb_params()
    root = Path(params["dir"])
    cfg = json.loads((root / "cosim.json").read_text())
    images = np.load(root / "images.npy", allow_pickle=False)
    samples, first = int(cfg["samples"]), int(cfg["first_image"])
    period = int(cfg["clock_period_ps"])
    clk = dut.clk

    async def tick() -> None:
        await FallingEdge(clk)

    dut.rst.value = 1
    dut.start.value = 0
    dut.samples.value = 0
    dut.pixels__valid.value = 0
    dut.pixels__payload.value = 0
    dut.counts__ready.value = 1
    dut.image.value = first
    dut.flush.value = 0
    cocotb.start_soon(Clock(clk, period, unit="ps").start())
    wall = time.perf_counter()
    await tick()
    await tick()
    dut.rst.value = 0
    await tick()

    man = cfg["manifest"]
    per_transfer, in_bits = int(man["pixels_per_transfer"]), int(man["input_bits"])
    limit = int(cfg["timeout_cycles"])
    pixel_limit = int(cfg["pixel_timeout_cycles"])
    cycles: list[int] = []
    starts: list[int] = []
    stream = bool(man["stream_while_busy"])

    async def send(n: int) -> bool:
        """Stream image ``n``'s transfers; whether ``done`` was high in one of their cycles."""
        seen = False
        for i, value in enumerate(pack_pixels(images[n], per_transfer, in_bits)):
            dut.pixels__payload.value = value
            dut.pixels__valid.value = 1
            waited = 0
            while not _int(dut.pixels__ready, "pixels.ready"):
                waited += 1
                if waited > pixel_limit:
                    raise BenchTimeout(
                        f"image {first + n}: pixel transfer {i} not accepted within "
                        f"{pixel_limit} cycles (pixels.ready stays low)"
                    )
                await tick()
                seen = seen or bool(_int(dut.done, "done"))
            await tick()  # the transfer happens at this cycle's rising edge
            seen = seen or bool(_int(dut.done, "done"))
        dut.pixels__valid.value = 0
        return seen

    for n in range(images.shape[0]):
        starts.append(_int(dut.cycle, "cycle") + 1)  # the next cycle is image n's first
        dut.image.value = first + n
        if not (stream and n):  # else streamed while image n - 1 computed
            await send(n)
        dut.samples.value = samples
        dut.start.value = 1
        busy_before = _int(dut.busy_seen, "busy_seen")
        await tick()
        dut.start.value = 0
        begun = _int(dut.cycle, "cycle")
        # with stream_while_busy the next image's pixels go in while this one computes
        done = await send(n + 1) if stream and n + 1 < images.shape[0] else False
        while not done:
            await First(RisingEdge(dut.done), Timer((limit + 8) * period, unit="ps"))
            await tick()
            if _int(dut.done, "done"):
                break
            waited = _int(dut.cycle, "cycle") - begun
            if waited >= limit:
                busy = _int(dut.busy_seen, "busy_seen") - busy_before
                raise BenchTimeout(
                    f"image {first + n}: no done after {waited} cycles, busy for {busy} "
                    f"cycles (the schedule takes {cfg['schedule_cycles']}, the limit is "
                    f"{limit}): the controller hangs"
                )
        await tick()  # the last counts transfer
        cycles.append(_int(dut.busy_seen, "busy_seen") - busy_before)
        (root / PROGRESS_FILE).write_text(f"{n + 1}\n")  # images done, for progress reports
    dut.flush.value = 1
    await tick()
    dut.flush.value = 0
    await tick()
    seconds = time.perf_counter() - wall
    sim_cycles = _int(dut.cycle, "cycle")

    fields, notes = parse_trace((root / TRACE_FILE).read_text(), cfg, starts)
    shard = {
        "format": SHARD_FORMAT,
        "first_image": first,
        "images": int(images.shape[0]),
        "samples": samples,
        "cycles": cycles,
        "notes": notes,
        **fields,
    }
    text = json.dumps(shard, sort_keys=True, separators=(",", ":")) + "\n"
    (root / "shard.json").write_text(text)
    perf = {"cycles": sim_cycles, "seconds": seconds}
    (root / "perf.json").write_text(json.dumps(perf, sort_keys=True) + "\n")
    dut._log.info(
        "%d images x %d samples, %d cycles in %.2f s (%.0f cycles/s)",
        images.shape[0],
        samples,
        sim_cycles,
        seconds,
        sim_cycles / max(seconds, 1e-9),
    )
