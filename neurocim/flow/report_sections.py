"""The sections of a run report that describe one step each (:mod:`neurocim.flow.report`).

Search, training, MTJ dropout, RTL and proof: each function takes a :class:`RunFiles` (the run
directory's artifacts, read once) and returns a :class:`~neurocim.flow.html.Section` that says
"not run" when the step's main artifact is missing. Also the helpers the report shares:
:func:`fmt` and :func:`pct` (numbers for people) and :func:`get` (a nested value or ``None``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from neurocim.flow.html import Block, Code, Figure, KeyValues, Paragraph, Section, Table, Verdict

__all__ = [
    "RunFiles",
    "dropout_section",
    "fmt",
    "get",
    "not_run",
    "pct",
    "proof_section",
    "rtl_section",
    "search_section",
    "training_section",
    "winner",
]

# ---------------------------------------------------------------------------------------------
# formatting and reading


def fmt(value: object, digits: int = 4) -> str:
    """A number for people: integers with thousands separators, floats with ``digits``
    significant digits (thousands separators from 1,000 on); ``None`` as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def pct(fraction: float | None) -> str:
    """A fraction as a percentage with one decimal (``0.7583`` -> ``75.8 %``)."""
    return "–" if fraction is None else f"{100 * fraction:.1f} %"


def get(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or ``None`` where a level is missing."""
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


class RunFiles:
    """A run directory's artifacts, each read once; unreadable files are noted, not raised."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []
        self._cache: dict[str, Any] = {}

    def path(self, rel: str) -> Path:
        """``rel`` under the run directory."""
        return self.root / rel

    def json(self, rel: str) -> dict[str, Any] | None:
        """The JSON object in ``rel``, or ``None`` if it is missing, unreadable or not an
        object (noted in :attr:`problems`)."""
        if rel not in self._cache:
            path, data = self.path(rel), None
            if path.is_file():
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    self.problems.append(f"`{rel}` is unreadable ({exc})")
                if data is not None and not isinstance(data, dict):
                    self.problems.append(f"`{rel}` holds no JSON object")
                    data = None
            self._cache[rel] = data
        return self._cache[rel]

    def figure(self, rel: str, caption: str) -> Block:
        """The PNG ``rel`` as a figure, or a paragraph saying it is missing."""
        path = self.path(rel)
        try:
            png = path.read_bytes()
        except OSError:
            return Paragraph(f"Figure `{rel}`: not found.")
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            return Paragraph(f"Figure `{rel}`: not a PNG file.")
        return Figure(png=png, caption=f"{caption} (`{rel}`)", alt=caption)


def not_run(step: str, rel: str) -> Paragraph:
    return Paragraph(f"**Not run**: the {step} step left no `{rel}`.")


def winner(search: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The search's winning candidate (``winner`` is its trial number)."""
    for cand in get(search, "candidates") or []:
        if cand.get("number") == get(search, "winner"):
            return cand
    return None


# ---------------------------------------------------------------------------------------------
# 2. search, 3. training, 4. MTJ dropout


def search_section(run: RunFiles) -> Section:
    data = run.json("search/candidates.json")
    if data is None:
        return Section("Search", [not_run("search", "search/candidates.json")])
    cands = data.get("candidates", [])
    feasible = [c for c in cands if c.get("feasible")]
    st = data.get("settings", {})
    blocks: list[Block] = [
        KeyValues(
            [
                ("candidates", fmt(len(cands))),
                ("valid", fmt(sum(bool(c.get("valid")) for c in cands))),
                ("feasible (within budget)", fmt(len(feasible))),
                ("sampler, seed", f"{st.get('sampler')}, {st.get('seed')}"),
                ("score", f"{data.get('score')}"),
                ("data set", f"{st.get('dataset')}, input {st.get('input_shape')}"),
            ]
        )
    ]
    timing = run.json("search/timing.json")
    if timing:
        blocks.append(
            Paragraph(
                f"{fmt(timing.get('candidates_per_second'))} candidates/s "
                f"({fmt(timing.get('wall_seconds_this_run'))} s wall clock)."
            )
        )
    blocks.append(run.figure("search/score_cost.png", "Score against cost, budget lines, Pareto"))
    win = winner(data)
    if win is None:
        blocks.append(Paragraph("No winner: no feasible candidate was scored."))
        return Section("Search", blocks)
    cand = win.get("candidate", {})
    blocks.append(run.figure("search/winner/cell.png", "The winner's cell"))
    blocks.append(
        KeyValues(
            [
                ("trial, key", f"{win.get('number')}, `{win.get('key')}`"),
                ("score", fmt(win.get("score"))),
                ("cells", " / ".join(f"`{c}`" for c in cand.get("cells", []))),
                (
                    "channels, down channels, hidden",
                    f"{cand.get('channels')}, {cand.get('down_channels')}, {cand.get('hidden')}",
                ),
                ("timesteps, weight bits", f"{cand.get('timesteps')}, {cand.get('weight_bits')}"),
                (
                    "dropout",
                    f"p = {cand.get('dropout_p')}, {cand.get('granularity')}, "
                    f"{cand.get('modules')} modules, {cand.get('source')}",
                ),
            ]
        )
    )
    top = sorted(feasible, key=lambda c: -(c.get("score") or -math.inf))[:10]
    rows = [
        [
            c.get("number"),
            fmt(c.get("score")),
            fmt(get(c, "cost", "memory_bits")),
            fmt(get(c, "cost", "area_mm2")),
            fmt(get(c, "cost", "latency_ms")),
            fmt(get(c, "cost", "energy_uj")),
        ]
        for c in top
    ]
    blocks.append(
        Table(
            ["trial", "score", "memory [bit]", "area [mm²]", "latency [ms]", "energy [µJ]"],
            rows,
            caption="Best feasible candidates",
            align=["right"] * 6,
        )
    )
    return Section("Search", blocks)


def training_section(run: RunFiles) -> Section:
    metrics, ev = run.json("model/train/metrics.json"), run.json("model/evaluate/report.json")
    if metrics is None and ev is None:
        return Section("Training", [not_run("train", "model/train/metrics.json")])
    blocks: list[Block] = []
    hist = get(metrics, "history") or []
    if hist:
        last = hist[-1]
        blocks.append(
            KeyValues(
                [
                    ("epochs", fmt(last.get("epoch"))),
                    (
                        "train / validation accuracy",
                        f"{pct(last.get('train_accuracy'))} / {pct(last.get('val_accuracy'))}",
                    ),
                    ("parameters", fmt(metrics.get("parameters"))),
                    ("training time [s]", fmt(metrics.get("seconds"))),
                ]
            )
        )
    if ev is None:
        blocks.append(not_run("evaluate", "model/evaluate/report.json"))
        return Section("Training", blocks)
    blocks.append(
        KeyValues(
            [
                ("test accuracy", pct(ev.get("accuracy"))),
                ("ECE (expected calibration error)", fmt(ev.get("ece"))),
                ("Monte-Carlo samples", fmt(ev.get("mc_samples"))),
            ]
        )
    )
    blocks.append(run.figure("model/evaluate/reliability.png", "Reliability diagram (calibration)"))
    rows = [
        [
            f"`{m}`",
            name,
            fmt(r.get("n")),
            fmt(r.get("auroc")),
            pct(r.get("fpr_at_95_tpr")),
            pct(r.get("detection_rate")),
        ]
        for m, sets in (ev.get("ood") or {}).items()
        for name, r in sets.items()
    ]
    for measure in ev.get("ood") or {}:
        blocks.append(
            run.figure(
                f"model/evaluate/uncertainty_{measure}.png",
                f"Uncertainty ({measure}) of in- and out-of-distribution inputs",
            )
        )
        blocks.append(
            run.figure(f"model/evaluate/roc_{measure}.png", f"ROC of OOD detection ({measure})")
        )
    blocks.append(
        Table(
            ["measure", "OOD set", "images", "AUROC", "FPR at 95 % TPR", "detected"],
            rows,
            caption="Out-of-distribution detection",
            align=["left", "left", "right", "right", "right", "right"],
        )
    )
    return Section("Training", blocks)


def dropout_section(run: RunFiles) -> Section:
    net, man = run.json("model/network/network.json"), run.json("rtl/manifest.json")
    if net is None:
        return Section("MTJ dropout", [not_run("export", "model/network/network.json")])
    drv = net.get("mtj_driver") or {}
    dev = drv.get("device") or {}
    blocks: list[Block] = [
        KeyValues(
            [
                ("write pulse [ns]", fmt(drv.get("pulse_ns"))),
                (
                    "reset current [µA], pulse [ns]",
                    f"{fmt(dev.get('reset_current_ua'))}, {fmt(dev.get('reset_pulse_ns'))}",
                ),
                (
                    "critical current Ic0 [µA], Δ",
                    f"{fmt(dev.get('ic0_ua'))}, {fmt(dev.get('delta'))}",
                ),
            ]
        )
    ]
    specs = [
        [
            f"`{layer.get('name')}`",
            f"{i} ({e.get('kind')})",
            fmt(d.get("p")),
            d.get("granularity"),
            fmt(d.get("modules")),
            d.get("source"),
        ]
        for layer in net.get("layers", [])
        for i, e in enumerate(layer.get("edges", []))
        if (d := e.get("dropout"))
    ]
    blocks.append(
        Table(
            ["layer", "edge", "p", "granularity", "modules", "source"],
            specs,
            caption="Dropout per edge (`model/network/network.json`)",
        )
        if specs
        else Paragraph("No edge has dropout.")
    )
    mods = (man or {}).get("mtj_modules") or []
    if mods:
        blocks.append(
            Table(
                [
                    "module",
                    "edge",
                    "p (target)",
                    "p (realised)",
                    "current [µA]",
                    "pulse [ns]",
                    "units",
                ],
                [
                    [
                        f"`{m.get('name')}`",
                        f"`{m.get('key')}`",
                        fmt(m.get("p")),
                        fmt(m.get("realised_p")),
                        fmt(m.get("realised_current_ua")),
                        fmt(m.get("pulse_ns")),
                        fmt(m.get("units")),
                    ]
                    for m in mods
                ],
                caption="MTJ modules in the RTL (`rtl/manifest.json`)",
                align=["left", "left"] + ["right"] * 5,
            )
        )
    else:
        blocks.append(Paragraph("MTJ modules of the RTL: not run (no `rtl/manifest.json`)."))
    return Section("MTJ dropout", blocks)


# ---------------------------------------------------------------------------------------------
# 5. RTL, 6. proof, 7. steps


def rtl_section(run: RunFiles) -> Section:
    rep = run.json("rtl/report.json")
    if rep is None:
        return Section("RTL", [not_run("rtl", "rtl/report.json")])
    d = rep.get("design", {})
    blocks: list[Block] = [
        KeyValues(
            [
                ("top module", f"`{rep.get('top')}`"),
                (
                    "Verilog",
                    f"{fmt(d.get('verilog_lines'))} lines, {fmt(d.get('verilog_modules'))} "
                    f"modules, {fmt(d.get('verilog_bytes'))} bytes",
                ),
                (
                    "crossbar tiles, MTJ modules",
                    f"{fmt(d.get('tiles'))}, {fmt(d.get('mtj_modules'))}",
                ),
                ("cycles per sample", fmt(d.get("cycles_per_sample"))),
            ]
        )
    ]
    files = sorted(p for p in (run.root / "rtl").iterdir() if p.is_file())
    rows = [[f"`{p.name}`", fmt(p.stat().st_size)] for p in files]
    cells = sorted((run.root / "rtl" / "cells").glob("*"))
    if cells:
        rows.append(
            [
                f"`cells/` ({fmt(len(cells))} files)",
                fmt(sum(p.stat().st_size for p in cells if p.is_file())),
            ]
        )
    blocks.append(Table(["file", "bytes"], rows, caption="Files", align=["left", "right"]))
    syn = rep.get("synthesis")
    if syn:
        comps = [
            [
                c.get("kind"),
                fmt(c.get("instances")),
                fmt(c.get("cells")),
                fmt(c.get("flip_flops")),
                fmt(c.get("latches")),
            ]
            for c in syn.get("components", [])
        ]
        comps.append(
            [
                "**total**",
                "",
                fmt(syn.get("cells")),
                fmt(syn.get("flip_flops")),
                fmt(syn.get("latches")),
            ]
        )
        blocks.append(
            Table(
                ["component", "instances", "cells", "flip-flops [bit]", "latches"],
                comps,
                caption=f"Synthesis ({syn.get('tool')})",
                align=["left"] + ["right"] * 4,
            )
        )
        latch = syn.get("latch_modules") or []
        blocks.append(
            Paragraph(
                f"Latches: {fmt(syn.get('latches'))}"
                + (f" in {', '.join(latch)}." if latch else ".")
            )
        )
    else:
        blocks.append(
            Paragraph("Synthesis: not run (`--no-synth`): no cells, flip-flops or latches counted.")
        )
    lint = rep.get("lint") or {}
    blocks.append(
        Paragraph(
            f"Lint ({lint.get('tool')}): {fmt(lint.get('warnings'))} warnings"
            f"; waived: {', '.join(lint.get('waived') or []) or 'none'}."
        )
    )
    if lint.get("messages"):
        blocks.append(Code("\n".join(lint["messages"])))
    return Section("RTL", blocks)


def _per_image(cycles: list[int]) -> str:
    """Measured cycles per image: one number when all are equal, else the first ten."""
    if cycles and all(c == cycles[0] for c in cycles):
        return f"{fmt(cycles[0])} on each of {fmt(len(cycles))} images"
    more = f", ... ({fmt(len(cycles))} images)" if len(cycles) > 10 else ""
    return ", ".join(fmt(c) for c in cycles[:10]) + more


def proof_section(run: RunFiles) -> Section:
    sim = run.json("sim/sim.json")
    if sim is None:
        return Section("Proof", [not_run("sim", "sim/sim.json")])
    cyc, acc, chk = sim.get("cycles") or {}, sim.get("accuracy") or {}, sim.get("checked") or {}
    images = len(get(sim, "data", "indices") or [])
    blocks: list[Block] = [
        Verdict(
            sim.get("verdict") == "PASS" and bool(sim.get("ok")),
            f"{fmt(images)} images x {fmt(sim.get('samples'))} samples on "
            f"{sim.get('simulator')}: {fmt(chk.get('outputs'))} outputs and "
            f"{fmt(chk.get('spikes'))} spikes compared with the golden model.",
        ),
        KeyValues(
            [
                ("cycles per image, predicted (schedule)", fmt(cyc.get("schedule"))),
                (
                    "cycles per image, measured (busy)",
                    _per_image(cyc.get("per_image") or []),
                ),
                ("busy cycles in all", fmt(sim.get("busy_cycles"))),
                ("equal", "yes" if cyc.get("equal") else "**no**"),
                ("simulation time [s]", fmt(sim.get("seconds"))),
            ]
        ),
    ]
    ev = sim.get("events") or {}
    names = sorted(set().union(*(set(v) for v in ev.values())) if ev else set())
    blocks.append(
        Table(
            ["event", "RTL", "golden", "schedule"],
            [
                [f"`{n}`"] + [fmt(get(ev, s, n)) for s in ("rtl", "golden", "schedule")]
                for n in names
            ],
            caption="Events",
            align=["left"] + ["right"] * 3,
        )
    )
    exp = acc.get("export") or {}
    blocks.append(
        Table(
            ["model", "images", "accuracy (labels)", "source"],
            [
                ["RTL", fmt(acc.get("labelled_images")), pct(acc.get("rtl")), "`sim/sim.json`"],
                [
                    "golden model",
                    fmt(acc.get("labelled_images")),
                    pct(acc.get("reference")),
                    "`sim/sim.json`",
                ],
                [
                    "integer model",
                    fmt(exp.get("images")),
                    pct(exp.get("integer_accuracy")),
                    "`model/network/export_report.json`",
                ],
                [
                    "float model",
                    fmt(exp.get("images")),
                    pct(exp.get("float_accuracy")),
                    "`model/network/export_report.json`",
                ],
            ],
            caption="Accuracy",
            align=["left", "right", "right", "left"],
        )
    )
    blocks.append(
        Paragraph(
            f"RTL agrees with the golden model on {pct(acc.get('agreement'))} "
            f"of the predictions; loss {fmt(acc.get('loss'))} (tolerance "
            f"{fmt(acc.get('max_loss'))})."
        )
    )
    flt = run.json("sim/float_check.json")
    if flt is not None:
        ok = flt.get("within_tolerance")
        blocks.append(
            Verdict(
                bool(ok),
                f"Float torch model on the same {fmt(flt.get('images'))} images x "
                f"{fmt(flt.get('samples'))} samples and the same MTJ masks: accuracy "
                f"{pct(flt.get('float_accuracy'))} against the RTL's "
                f"{pct(flt.get('rtl_accuracy'))}, predictions agree on "
                f"{pct(flt.get('agreement'))}; the RTL "
                + ("is" if ok else "is **not**")
                + f" within {pct(flt.get('tolerance'))} of the float model "
                "(`sim/float_check.json`).",
            )
        )
    blocks += [Paragraph(f"Finding: {f}") for f in sim.get("findings") or []]
    return Section("Proof", blocks)
