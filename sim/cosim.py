"""The whole accelerator's Verilog in a Verilog simulator, next to its behavioural analog parts.

:func:`run_cosim` is the Verilog counterpart of :func:`sim.amaranth_accel.simulate_amaranth`:
it generates the :class:`~hdl.rtl.accelerator.Accelerator`'s Verilog and the simulation top
around it (:mod:`sim.sim_top`: one behavioural Verilog macro per crossbar tile, one MTJ module
per MTJ port, a trace writer), writes what the cocotb testbench :mod:`sim.tb_accelerator`
needs into the configuration's build directory, builds it once on Verilator or Icarus
(:func:`sim.runner.build_cocotb`; Verilator by default where it is installed), runs the bench
on ``jobs`` contiguous shards of the images in parallel (:func:`sim.runner.run_built`), merges
the shards' results in image order (:func:`merge_shards`) and reads them back into an
:class:`~sim.amaranth_accel.AcceleratorRun`, which :func:`sim.compare.compare_run` checks
against the golden model::

    >>> run = run_cosim(net, hw, x, samples=2, mtj_seed=3)            # doctest: +SKIP
    >>> verdict = compare_run(net, hw, x, 2, run)                      # doctest: +SKIP
    >>> verdict.ok, verdict.first                                      # doctest: +SKIP
    (True, '')

Files of a run, in ``<build_root>/accelerator-<digest>/`` (``digest``: the first 12 hex digits
of the SHA-256 of the Verilog and every input, so distinct runs never share a directory):

========================== ===================================================================
``accelerator.v``          the generated Verilog (top module ``accelerator``)
``accelerator_sim_top.v``  the simulation top with the macros and MTJ modules
                           (:func:`sim.sim_top.sim_top_verilog`)
``accelerator.icarus.v``   on Icarus (without ``waves``): the accelerator's simulation
                           netlist (:func:`sim.runner.simulation_netlist`), compiled instead
                           of the Verilog (same cycle behaviour, about 1.7x faster), with its
                           Yosys input, script and log (``accelerator.icarus.in.v``, ``.ys``,
                           ``.log``)
``cosim.json``             the bench's configuration: manifest
                           (:meth:`Accelerator.manifest`), the layers with neurons, samples,
                           MTJ seed and device, ADC bits, clock, cycle limits
``cells/<tile>.npy``       int64 ``(rows, cols)`` cells of each crossbar macro
                           (:func:`~hdl.rtl.accelerator.tile_cells`, baked into its module)
``images.npy``             int64 ``(N, C, H, W)`` images
``shard-<k>/``             shard ``k``: its ``cosim.json`` (``images``, ``first_image``),
                           ``images.npy``, the trace, ``shard.json``, ``perf.json``, ``sim.log``
``result.json``            the merged observations (:data:`RESULT_FORMAT`; sorted keys, no
                           times: byte for byte the same for the same inputs, any ``jobs``)
``perf.json``              simulated cycles and wall-clock seconds of the shards, summed (not
                           reproducible)
``build.log``              the simulator's build log
========================== ===================================================================

The same network, hardware, images, samples and seed give the same outputs, spikes, cycles,
events and MTJ masks as :func:`~sim.amaranth_accel.simulate_amaranth`: module ``i`` (in
:attr:`Accelerator.mtj_modules` order) draws image ``n`` from
:func:`sim.models.mtj.module_key` ``(mtj_seed, n, i)`` in both.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import MTJDriver
from hdl.rtl.accelerator import EVENTS, SAMPLES_BITS, Accelerator, tile_cells
from hdl.rtl.lif import emit_verilog
from hdl.rtl.plan import AcceleratorPlan, plan_accelerator
from sim.amaranth_accel import AcceleratorRun
from sim.models.mtj import masks_from_bits
from sim.runner import (
    SimulationError,
    build_cocotb,
    config_build_dir,
    resolve_simulator,
    simulation_netlist,
)
from sim.shards import (
    PROGRESS_FILE,
    RESULT_FORMAT,
    SHARD_FORMAT,
    check_jobs,
    lfsr_across_images,
    merge_shards,
    progress_ticker,
    run_shards,
    shard_ranges,
)
from sim.sim_top import SIM_TOP, sim_top_verilog

__all__ = [
    "PROGRESS_FILE",
    "RESULT_FORMAT",
    "SHARD_FORMAT",
    "TOPLEVEL",
    "CosimError",
    "CosimRun",
    "diff_runs",
    "lfsr_across_images",
    "merge_shards",
    "read_result",
    "run_cosim",
    "traced_layers",
]

#: Name of the Verilog top module (and of the build directory's prefix) unless told otherwise.
TOPLEVEL = "accelerator"
#: The bench fails when a ``start`` keeps ``busy`` high this many times the schedule's cycles.
TIMEOUT_FACTOR = 4


class CosimError(NeurocimError, ValueError):
    """The inputs of :func:`run_cosim` are unusable; the message says which and why."""


@dataclass
class CosimRun(AcceleratorRun):
    """An :class:`~sim.amaranth_accel.AcceleratorRun` of the Verilog, plus where and how fast.

    Attributes (besides the inherited ones):
        simulator: ``"icarus"`` or ``"verilator"``.
        build_dir: the run's directory (Verilog, inputs, logs, ``result.json``, waves).
        sim_cycles: clock cycles simulated (reset, pixel streaming and every ``start``), summed
            over the shards.
        sim_seconds: wall-clock seconds of the benches' clocked parts, summed over the shards
            (not reproducible).
        waves: the wave file when ``waves`` was asked for.
    """

    simulator: str = "icarus"
    build_dir: Path | None = None
    sim_cycles: int = 0
    sim_seconds: float = 0.0
    waves: Path | None = None

    @property
    def cycles_per_second(self) -> float:
        """Simulated clock cycles per wall-clock second of one bench process."""
        return self.sim_cycles / self.sim_seconds if self.sim_seconds > 0 else 0.0


def _check_inputs(net: Network, x: Any, samples: Any, mtj_seed: Any) -> np.ndarray:
    arr = np.asarray(x)
    shape = tuple(net.input.shape)
    if arr.ndim != 4 or tuple(arr.shape[1:]) != shape or arr.shape[0] < 1:
        raise CosimError(
            f"x must be (N, C, H, W) images with N >= 1 and (C, H, W) = {shape}, the network's "
            f"input shape; got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        raise CosimError(f"x must hold integers (quantised pixels), got dtype {arr.dtype}")
    top = 2**net.input.bits - 1
    if arr.min() < 0 or arr.max() > top:
        raise CosimError(
            f"x must hold pixels in 0..{top} (input.bits = {net.input.bits}), got "
            f"{int(arr.min())}..{int(arr.max())}: quantise with hdl.golden.quantize_input"
        )
    limit = 2**SAMPLES_BITS - 1
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise CosimError(f"samples must be an integer in 1..{limit}, got {samples!r}")
    if not 1 <= int(samples) <= limit:
        raise CosimError(f"samples must be in 1..{limit} (the samples port), got {samples}")
    if (
        isinstance(mtj_seed, bool)
        or not isinstance(mtj_seed, (int, np.integer))
        or not 0 <= mtj_seed < 2**64
    ):
        raise CosimError(f"mtj_seed must be an integer in 0..2^64-1, got {mtj_seed!r}")
    return arr.astype(np.int64)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _check_cells(
    acc: Accelerator | AcceleratorPlan, cells: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """The given cells of every tile, as int64, with the tile's shape."""
    out: dict[str, np.ndarray] = {}
    for t in acc.tiles:
        if t.name not in cells:
            raise CosimError(f"no cells for crossbar tile {t.name!r}")
        c = np.asarray(cells[t.name])
        shape = (t.rows[1] - t.rows[0], t.cols[1] - t.cols[0])
        if c.shape != shape or c.dtype.kind not in "iu":
            raise CosimError(
                f"the cells of tile {t.name!r} must be integers of shape {shape}, got "
                f"{c.dtype} {c.shape}"
            )
        out[t.name] = c.astype(np.int64)
    return out


def traced_layers(acc: Accelerator | AcceleratorPlan) -> list[dict[str, Any]]:
    """The layers with neurons whose spikes the bench records: index, name, shape and the
    names the Verilog keeps for them (``layer_done_l<i>``, ``spikes_l<i>``)."""
    return [
        {
            "index": li,
            "name": acc.net.layers[li].name,
            "shape": [int(s) for s in acc.net.layers[li].out_shape],
            "strobe": f"layer_done_l{li}",
            "buffer": f"spikes_l{li}",
        }
        for li, lm in enumerate(acc.mapping.layers)
        if lm.has_neurons
    ]


def run_cosim(
    net: Network,
    hw: HardwareConfig | None,
    x: np.ndarray,
    samples: int = 1,
    mtj_seed: int = 0,
    simulator: str | None = None,
    waves: bool = False,
    build_root: str | os.PathLike[str] | None = None,
    driver: MTJDriver | None = None,
    *,
    verilog_files: Sequence[str | os.PathLike[str]] | None = None,
    top: str = TOPLEVEL,
    cells: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> CosimRun:
    """Run the images ``x`` through the accelerator's Verilog, ``samples`` samples each.

    Args:
        net: a trained network (the RTL is generated from it).
        hw: the hardware configuration (default :class:`HardwareConfig` ``()``).
        x: int ``(N, C, H, W)`` images, pixels in ``0 .. 2^input.bits - 1``, run back to back.
        samples: Monte-Carlo samples per image (``1 .. 65535``).
        mtj_seed: seed of the MTJ modules, ``0 .. 2^64 - 1`` (module ``i`` draws image ``n``
            from :func:`sim.models.mtj.module_key` ``(mtj_seed, n, i)``).
        simulator: ``"icarus"``, ``"verilator"``, or ``None`` / ``"auto"``: Verilator where it
            is installed, else Icarus (:func:`sim.runner.default_simulator`).
        waves: also dump the waves (``<top>.fst`` / ``dump.vcd``; one shard).
        build_root: directory of the per-configuration build directories (default
            ``<repository>/build/sim``).
        driver: the MTJ drive sequence (default: the network's, else
            :class:`~hdl.driver.MTJDriver` ``()``).
        verilog_files: simulate these Verilog files as they are (e.g. those of a ``neurocim
            rtl`` bundle, generated for ``net``, ``hw`` and ``driver``) instead of generating
            the Verilog; ``top`` is their top module.
        top: the accelerator's top module's name.
        cells: tile name -> the cells its macro is programmed with (default
            :func:`~hdl.rtl.accelerator.tile_cells` of the network).
        progress: called with one line per stage and, while the bench runs, the images done.
        jobs: simulator processes (default: the CPUs, at most one per image): the images are
            split into ``jobs`` contiguous shards run in parallel on one build, and the shards'
            results merged in image order, equal to a run in one process. One shard when the
            network's LFSRs run across images (:func:`lfsr_across_images`) or with ``waves``.

    Returns:
        A :class:`CosimRun` (an :class:`~sim.amaranth_accel.AcceleratorRun`).

    Raises:
        CosimError: unusable images, samples, seed, cells, simulator name or jobs.
        hdl.rtl.lif.RTLError: the network cannot be generated.
        sim.runner.SimulatorNotFound: the simulator is missing (the message says how to
            install it).
        sim.runner.SimulationError: the build failed or the bench failed (e.g. a timeout:
            ``busy`` longer than 4x the schedule's cycles); the message quotes the bench.
    """
    hw = HardwareConfig() if hw is None else hw
    if not isinstance(net, Network):
        raise CosimError(f"net must be an hdl.ir.Network, not {type(net).__name__}")
    images = _check_inputs(net, x, samples, mtj_seed)
    samples, mtj_seed = int(samples), int(mtj_seed)
    n_images = int(images.shape[0])
    jobs = check_jobs(jobs, n_images)
    try:
        simulator = resolve_simulator(simulator)
    except ValueError as err:
        raise CosimError(str(err)) from None
    say = progress or (lambda line: None)
    if jobs > 1 and (waves or lfsr_across_images(net)):
        why = "waves" if waves else "the network's LFSRs run across images"
        say(f"one shard instead of {jobs}: {why}")
        jobs = 1
    acc: Accelerator | AcceleratorPlan
    if verilog_files is None:
        acc = Accelerator(net, hw, driver)
        say("generating the Verilog")
        verilog = emit_verilog(acc, name=top)
    else:
        acc = plan_accelerator(net, hw, driver)  # the geometry only: the Verilog is given
        try:
            verilog = "".join(Path(f).read_text() for f in verilog_files)
        except OSError as err:
            raise CosimError(f"cannot read the Verilog to simulate: {err}") from err
    layers = traced_layers(acc)
    if cells is None:
        cells = {t.name: tile_cells(acc.net, t, hw) for t in acc.tiles}
    cells = _check_cells(acc, cells)
    manifest = acc.manifest()
    try:
        top_text = sim_top_verilog(
            verilog,
            top,
            manifest,
            layers,
            cells,
            int(hw.adc_bits),
            acc.driver.device,
            float(hw.clock_mhz),
            mtj_seed,
            EVENTS,
        )
    except ValueError as err:
        raise CosimError(f"cannot wrap the Verilog in the simulation top: {err}") from err
    period_ps = max(2, 2 * round(5e5 / float(hw.clock_mhz)))
    schedule_cycles = acc.cycles(samples)
    config = {
        "manifest": manifest,
        "layers": layers,
        "samples": samples,
        "images": n_images,
        "first_image": 0,
        "mtj_seed": mtj_seed,
        "mtj_device": asdict(acc.driver.device),
        "adc_bits": int(hw.adc_bits),
        "clock_mhz": float(hw.clock_mhz),
        "clock_period_ps": period_ps,
        "schedule_cycles": schedule_cycles,
        "timeout_cycles": int(TIMEOUT_FACTOR * schedule_cycles),
        "pixel_timeout_cycles": 64,
    }
    config_text = _json_text(config)
    blobs = {f"cells/{name}.npy": _npy_bytes(c) for name, c in cells.items()}
    blobs["images.npy"] = _npy_bytes(images)
    digest = hashlib.sha256()
    for part in (simulator, str(waves), top, verilog, top_text, config_text):
        digest.update(part.encode() + b"\0")
    for name in sorted(blobs):
        digest.update(name.encode() + b"\0" + blobs[name])
    key = {"digest": digest.hexdigest()}
    out = config_build_dir(top, key)
    if build_root is not None:
        out = Path(build_root) / out.name
    out = out.resolve()
    (out / "cells").mkdir(parents=True, exist_ok=True)
    for name, data in blobs.items():
        _write_if_changed(out / name, data)
    _write_if_changed(out / "cosim.json", config_text.encode())
    if verilog_files is None:
        _write_if_changed(out / f"{top}.v", verilog.encode())
    _write_if_changed(out / f"{SIM_TOP}.v", top_text.encode())
    result_path, perf_path = out / "result.json", out / "perf.json"
    for stale in (result_path, perf_path):
        stale.unlink(missing_ok=True)
    for old in sorted(out.glob("shard-*")):
        shutil.rmtree(old)

    sources = [Path(f).resolve() for f in verilog_files] if verilog_files else [out / f"{top}.v"]
    sources.append(out / f"{SIM_TOP}.v")
    ranges = shard_ranges(n_images, jobs)
    say(
        f"building the Verilog with {simulator}, then {n_images} image(s) x {samples} "
        f"sample(s) in {jobs} process(es)"
    )
    if simulator == "icarus" and not waves:
        # the same design flattened and optimised for Icarus (sim.runner.simulation_netlist),
        # keeping the signals the simulation top reads by name; waves keep the hierarchy
        keep = sorted({layer[k] for layer in layers for k in ("strobe", "buffer")})
        netlist = simulation_netlist(verilog, top, out, keep)
        if netlist is not None:
            sources[:-1] = [netlist]
    build = build_cocotb(
        sources,
        toplevel=SIM_TOP,
        build_dir=out,
        simulator=simulator,
        waves=waves,
        on_tick=progress_ticker(say, simulator, [], n_images) if progress is not None else None,
        top_only=True,  # the bench drives and reads the simulation top's ports only
    )
    dirs = []
    for k, (first, stop) in enumerate(ranges):
        d = out / f"shard-{k}"
        d.mkdir()
        (d / "images.npy").write_bytes(_npy_bytes(images[first:stop]))
        (d / "cosim.json").write_text(
            _json_text({**config, "images": stop - first, "first_image": first})
        )
        dirs.append(d)
    run_shards(build, dirs, key, say if progress is not None else None, simulator, n_images)
    docs = [json.loads((d / "shard.json").read_text()) for d in dirs]
    result = merge_shards(docs, manifest)
    result_path.write_text(json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n")
    perfs = [json.loads((d / "perf.json").read_text()) for d in dirs]
    perf = {
        "cycles": sum(int(p["cycles"]) for p in perfs),
        "seconds": sum(float(p["seconds"]) for p in perfs),
        "shards": len(dirs),
    }
    perf_path.write_text(json.dumps(perf, sort_keys=True) + "\n")
    run = read_result(result_path, acc)
    run.simulator = simulator
    run.build_dir = out
    run.sim_cycles = perf["cycles"]
    run.sim_seconds = perf["seconds"]
    if waves:  # one shard; Verilator writes into its working directory
        run.waves = dirs[0] / "dump.vcd" if simulator == "verilator" else out / f"{SIM_TOP}.fst"
    return run


def _json_text(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


def read_result(path: str | os.PathLike[str], acc: Accelerator | AcceleratorPlan) -> CosimRun:
    """The :class:`CosimRun` of a ``result.json`` the bench wrote for ``acc`` (the accelerator
    or its plan).

    MTJ bits become keep masks with :func:`sim.models.mtj.masks_from_bits` (modules of an edge
    in module order); a module that drew a wrong number of bits is reported in ``errors``.
    """
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != RESULT_FORMAT:
        raise SimulationError(
            f"{path} is not a cosim result of this version (format {doc.get('format')!r}, "
            f"expected {RESULT_FORMAT!r}): rerun sim.cosim.run_cosim"
        )
    samples, n_img = int(doc["samples"]), int(doc["images"])
    T = acc.timesteps
    outputs = np.array(doc["outputs"], dtype=np.int64).reshape(samples, n_img, acc.out_neurons)
    spikes: dict[str, np.ndarray] = {}
    for name, words in doc["spikes"].items():
        shape = tuple(acc.net.layer(name).out_shape)
        width = int(np.prod(shape))
        flat = np.zeros((samples, n_img, T, width), dtype=np.uint8)
        for (s, n, t), word in np.ndenumerate(np.array(words, dtype=object)):
            value = int(word, 16)
            flat[s, n, t] = [(value >> k) & 1 for k in range(width)]
        spikes[name] = flat.reshape(samples, n_img, T, *shape)
    errors = list(doc["errors"])
    masks: dict[str, np.ndarray] = {}
    bits = doc["mtj_bits"]
    for key in sorted({m.key for m in acc.mtj_modules}):
        mods = sorted((m for m in acc.mtj_modules if m.key == key), key=lambda m: m.module)
        try:
            masks[key] = masks_from_bits(
                [bits[m.name] for m in mods], mods[0].units, samples, n_img
            )
        except ValueError as err:
            errors.append(f"edge {key}: {err}")
    return CosimRun(
        outputs=outputs,
        spikes=spikes,
        cycles=[int(c) for c in doc["cycles"]],
        events={ev: int(doc["events"][ev]) for ev in EVENTS},
        macro_reads=int(sum(doc["macro_reads"].values())),
        macro_conversions=int(sum(doc["macro_conversions"].values())),
        mtj_samples=int(sum(len(b) for b in bits.values())),
        masks=masks,
        errors=errors,
    )


def diff_runs(a: AcceleratorRun, b: AcceleratorRun) -> list[str]:
    """What differs between two runs of the same accelerator and inputs (empty: nothing).

    Compares outputs, spikes, busy cycles, events, macro and MTJ activity, masks and errors --
    everything :func:`sim.amaranth_accel.simulate_amaranth` and :func:`run_cosim` both record.
    """
    out: list[str] = []

    def arrays(what: str, x: np.ndarray, y: np.ndarray) -> None:
        if x.shape != y.shape:
            out.append(f"{what}: shape {x.shape} vs {y.shape}")
        elif not np.array_equal(x, y):
            first = tuple(int(i) for i in np.argwhere(x != y)[0])
            out.append(f"{what}: differ first at index {first}: {x[first]} vs {y[first]}")

    arrays("outputs", a.outputs, b.outputs)
    for name in sorted(set(a.spikes) | set(b.spikes)):
        if name not in a.spikes or name not in b.spikes:
            out.append(f"spikes of layer {name!r}: recorded by one run only")
        else:
            arrays(f"spikes of layer {name!r}", a.spikes[name], b.spikes[name])
    for key in sorted(set(a.masks) | set(b.masks)):
        if key not in a.masks or key not in b.masks:
            out.append(f"masks of edge {key}: recorded by one run only")
        else:
            arrays(f"masks of edge {key}", a.masks[key], b.masks[key])
    for what in ("cycles", "events", "macro_reads", "macro_conversions", "mtj_samples", "errors"):
        if getattr(a, what) != getattr(b, what):
            out.append(f"{what}: {getattr(a, what)} vs {getattr(b, what)}")
    return out
