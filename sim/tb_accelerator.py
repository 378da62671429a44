"""cocotb testbench of the whole accelerator (:class:`hdl.rtl.accelerator.Accelerator`) in
Verilog, with one behavioural crossbar macro per tile and one MTJ model per dropout module.

Run it through :func:`sim.cosim.run_cosim` (which calls :func:`sim.runner.run_cocotb` with
``params = {"dir": <build directory>, "digest": ...}``). It reads from the build directory:

* ``cosim.json``: the accelerator's manifest (tiles with latencies, MTJ modules, output
  format), the layers with neurons (``layer_done_l<i>`` / ``spikes_l<i>``), ``samples``,
  ``images``, the MTJ seed and device, the clock period and the cycle limits;
* ``cells/<tile>.npy``: each macro's cells; ``images.npy``: the images ``(N, C, H, W)``.

and does what :func:`sim.amaranth_accel.simulate_amaranth` does in Amaranth's simulator: a
:class:`~sim.models.crossbar.CocotbCrossbarMacro` per tile (prefix ``<tile>__``, the tile's ADC
lanes, cycles to the first conversion and between conversions: serial or pipelined ADCs) and
a :class:`~sim.models.mtj.CocotbMTJModule` per MTJ module (seed ``[mtj_seed, i]``), reset for
two cycles, then per image: the pixels one per ``pixels`` transfer in C order, ``start`` with
``samples``, ``counts.ready`` held high. Every signal is
driven and sampled at falling edges (the design's registers change at rising edges). Per falling
edge it records:


* ``busy`` (cycles per image);
* a ``counts`` transfer (``valid`` and ``ready``): the outputs of the image's next sample;
* a layer's ``layer_done_l<i>`` strobe: at the next falling edge ``spikes_l<i>`` holds the
  layer's spikes of the next timestep (the ``k``-th strobe of an image is sample ``k // T``,
  timestep ``k % T``).

At the end it reads the ``ev_*`` counters and writes ``result.json`` (outputs, spikes as hex
words, busy cycles, events, per-tile reads and conversions, per-module MTJ bits, the analog
models' protocol errors and the bench's own observations; sorted keys, nothing time-dependent)
and ``perf.json`` (simulated cycles, wall-clock seconds); after each image it writes the number
of images done into ``progress.txt`` (read by :func:`sim.cosim.run_cosim`'s progress reports).
It never compares with the golden model (:func:`sim.compare.compare_run` does, in Python); it
fails only when the design hangs: a ``start`` keeps ``busy`` high longer than
``timeout_cycles`` (4x the schedule's cycles), no ``done`` follows, or the pixel stream is not
accepted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from hdl.mtj import MTJDevice
from hdl.rtl.accelerator import EVENTS
from sim.amaranth_accel import unpack_outputs
from sim.cosim import PROGRESS_FILE, RESULT_FORMAT
from sim.models.crossbar import CocotbCrossbarMacro, CrossbarTileModel
from sim.models.mtj import CocotbMTJModule, MTJModuleModel
from sim.runner import tb_params


class BenchTimeout(AssertionError):
    """The design did not finish in time; the message says where it hung."""


def _handle(dut: Any, name: str, what: str) -> Any:
    try:
        return getattr(dut, name)
    except AttributeError:
        raise AttributeError(
            f"the Verilog has no signal {name!r} ({what}); the generator's names changed: "
            "update sim.cosim (the layer names) and sim.tb_accelerator"
        ) from None


def _int(handle: Any, what: str) -> int:
    value = handle.value
    try:
        return int(value)
    except ValueError:
        raise AssertionError(f"{what} is not a defined value: {value}") from None


class Recorder:
    """Samples the design at every falling edge (see the module doc) and keeps what it saw."""

    def __init__(self, dut: Any, cfg: dict[str, Any]) -> None:
        man = cfg["manifest"]
        self.dut = dut
        self.clk = dut.clk
        self.busy = dut.busy
        self.done = dut.done
        self.valid = dut.counts__valid
        self.ready = dut.counts__ready
        self.payload = dut.counts__payload
        self.samples = int(cfg["samples"])
        self.images = int(cfg["images"])
        self.T = int(man["timesteps"])
        self.out = (int(man["output_neurons"]), int(man["output_bits"]), man["output_signed"])
        self.layers = [
            (
                layer["name"],
                _handle(dut, layer["strobe"], f"done strobe of layer {layer['name']!r}"),
                _handle(dut, layer["buffer"], f"spike buffer of layer {layer['name']!r}"),
            )
            for layer in cfg["layers"]
        ]
        self.pending = [False] * len(self.layers)
        zero = [[[0] * self.out[0] for _ in range(self.images)] for _ in range(self.samples)]
        self.outputs: list[list[list[int]]] = zero
        self.spikes = {
            name: [[["0"] * self.T for _ in range(self.images)] for _ in range(self.samples)]
            for name, _, _ in self.layers
        }
        self.notes: list[str] = []
        self.image = 0
        self.transfers = 0
        self.strobes = [0] * len(self.layers)
        self.busy_cycles = 0
        self.cycle = 0
        self.now_busy = 0
        self.now_done = 0

    def begin_image(self, n: int) -> None:
        self.image, self.transfers, self.busy_cycles = n, 0, 0
        self.strobes = [0] * len(self.layers)

    async def tick(self) -> None:
        """Wait for the next falling edge and record that cycle."""
        await FallingEdge(self.clk)
        self.cycle += 1
        n = self.image
        for i, (name, strobe, buf) in enumerate(self.layers):
            if self.pending[i]:  # strobe in the previous cycle: the buffer holds timestep k
                k = self.strobes[i]
                s, t = divmod(k, self.T)
                if s < self.samples:
                    word = _int(buf, f"spikes of layer {name!r}")
                    self.spikes[name][s][n][t] = format(word, "x")
                elif k == self.samples * self.T:
                    self.notes.append(
                        f"bench: layer {name!r} finished more than {self.samples} x {self.T} "
                        f"timesteps for image {n}"
                    )
                self.strobes[i] = k + 1
            self.pending[i] = bool(_int(strobe, f"layer_done of layer {name!r}"))
        self.now_busy = _int(self.busy, "busy")
        self.now_done = _int(self.done, "done")
        self.busy_cycles += self.now_busy
        if _int(self.valid, "counts.valid") and _int(self.ready, "counts.ready"):
            s = self.transfers
            if s < self.samples:
                payload = _int(self.payload, "counts.payload")
                self.outputs[s][n] = unpack_outputs(payload, *self.out)
            elif s == self.samples:
                self.notes.append(f"bench: more than {self.samples} counts transfers for image {n}")
            self.transfers = s + 1

    def end_image(self) -> None:
        n = self.image
        if self.transfers < self.samples:
            self.notes.append(
                f"bench: image {n}: {self.transfers} counts transfers, expected {self.samples}"
            )
        for i, (name, _, _) in enumerate(self.layers):
            if self.strobes[i] < self.samples * self.T:
                self.notes.append(
                    f"bench: layer {name!r} finished {self.strobes[i]} timesteps for image {n}, "
                    f"expected {self.samples} x {self.T}"
                )


@cocotb.test()
async def accelerator_run(dut: Any) -> None:
    """Run the images and record everything (module doc)."""
    params = tb_params()
    root = Path(params["dir"])
    cfg = json.loads((root / "cosim.json").read_text())
    man = cfg["manifest"]
    images = np.load(root / "images.npy", allow_pickle=False)
    samples = int(cfg["samples"])
    adc_bits = int(cfg["adc_bits"])
    macros: list[tuple[dict[str, Any], CocotbCrossbarMacro]] = []
    for tile in man["tiles"]:
        cells = np.load(root / "cells" / f"{tile['name']}.npy", allow_pickle=False)
        model = CrossbarTileModel(cells, adc_bits)
        macro = CocotbCrossbarMacro(
            dut,
            model,
            int(tile["first_cycles"]),
            int(tile["lanes"]),
            int(tile["conversion_cycles"]),
            prefix=f"{tile['name']}__",
            clock="clk",
        )
        macros.append((tile, macro))
    device = MTJDevice(**cfg["mtj_device"])
    mtjs: list[tuple[dict[str, Any], CocotbMTJModule]] = []
    for i, mod in enumerate(man["mtj_modules"]):
        model = MTJModuleModel(
            device, float(cfg["clock_mhz"]), int(mod["code_bits"]), [int(cfg["mtj_seed"]), i]
        )
        mtjs.append((mod, CocotbMTJModule(dut, model, prefix=f"{mod['name']}__", clock="clk")))

    rec = Recorder(dut, cfg)
    cocotb.start_soon(Clock(dut.clk, int(cfg["clock_period_ps"]), unit="ps").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.samples.value = 0
    dut.pixels__valid.value = 0
    dut.pixels__payload.value = 0
    dut.counts__ready.value = 1
    for _, macro in macros:
        cocotb.start_soon(macro.run())
    for _, mtj in mtjs:
        cocotb.start_soon(mtj.run())
    wall = time.perf_counter()
    await rec.tick()
    await rec.tick()
    dut.rst.value = 0
    await rec.tick()

    limit = int(cfg["timeout_cycles"])
    pixel_limit = int(cfg["pixel_timeout_cycles"])
    cycles: list[int] = []
    for n in range(images.shape[0]):
        rec.begin_image(n)
        for i, value in enumerate(images[n].reshape(-1)):
            dut.pixels__payload.value = int(value)
            dut.pixels__valid.value = 1
            waited = 0
            while not _int(dut.pixels__ready, "pixels.ready"):
                waited += 1
                if waited > pixel_limit:
                    raise BenchTimeout(
                        f"image {n}: pixel {i} not accepted within {pixel_limit} cycles "
                        "(pixels.ready stays low)"
                    )
                await rec.tick()
            await rec.tick()  # the transfer happens at this cycle's rising edge
        dut.pixels__valid.value = 0
        dut.samples.value = samples
        dut.start.value = 1
        rec.busy_cycles = 0
        await rec.tick()
        dut.start.value = 0
        waited = 0
        while not rec.now_done:
            await rec.tick()
            waited += 1
            if rec.busy_cycles > limit or waited > limit + 8:
                raise BenchTimeout(
                    f"image {n}: no done after {waited} cycles, busy for {rec.busy_cycles} "
                    f"cycles (the schedule takes {cfg['schedule_cycles']}, the limit is "
                    f"{limit}): the controller hangs"
                )
        await rec.tick()  # the last counts transfer
        rec.end_image()
        cycles.append(rec.busy_cycles)
        (root / PROGRESS_FILE).write_text(f"{n + 1}\n")  # images done, for progress reports
    events = {ev: _int(getattr(dut, f"ev_{ev}"), f"ev_{ev}") for ev in EVENTS}
    seconds = time.perf_counter() - wall

    errors = [f"{t['name']}: {e}" for t, m in macros for e in m.errors]
    errors += [f"{m['name']}: {e}" for m, p in mtjs for e in p.errors]
    errors += rec.notes
    result = {
        "format": RESULT_FORMAT,
        "samples": samples,
        "images": int(images.shape[0]),
        "outputs": rec.outputs,
        "spikes": rec.spikes,
        "cycles": cycles,
        "events": events,
        "macro_reads": {t["name"]: len(m.reads) for t, m in macros},
        "macro_conversions": {
            t["name"]: len(m.reads) * (t["cols"][1] - t["cols"][0]) for t, m in macros
        },
        "mtj_bits": {m["name"]: list(p.bits) for m, p in mtjs},
        "errors": errors,
    }
    text = json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n"
    (root / "result.json").write_text(text)
    perf = {"cycles": rec.cycle, "seconds": seconds}
    (root / "perf.json").write_text(json.dumps(perf, sort_keys=True) + "\n")
    dut._log.info(
        "%d images x %d samples, %d cycles in %.2f s (%.0f cycles/s)",
        images.shape[0],
        samples,
        rec.cycle,
        seconds,
        rec.cycle / max(seconds, 1e-9),
    )
