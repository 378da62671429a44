"""The report step of ``neurocim flow``: one page about a whole run directory.

:func:`build_report` reads whatever artifacts ``build/<run>/`` holds in the flow's layout
(:mod:`neurocim.flow.runner`: ``search/``, ``model/{train,evaluate,network}/``,
``estimate/``, ``rtl/``, ``sim/``, ``flow/<step>.json``) and returns a
:class:`~neurocim.flow.html.Report` with seven sections: summary (verdict, network, budget
against the trained network's price, accuracy), search, training, MTJ dropout, RTL, proof and
steps. A step whose artifacts are missing gives a section that says "not run"; nothing here
raises for a missing or unreadable file. :func:`write_run_report` writes ``report.html``
(self-contained) and ``report.md`` into the run directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from neurocim.flow.html import (
    Block,
    KeyValues,
    Paragraph,
    Report,
    Section,
    Table,
    Verdict,
    write_report,
)
from neurocim.flow.report_sections import (
    RunFiles,
    dropout_section,
    fmt,
    get,
    pct,
    proof_section,
    rtl_section,
    search_section,
    training_section,
    winner,
)
from neurocim.flow.runner import STEPS

__all__ = ["BUDGET_METRICS", "STEPS", "build_report", "fmt", "pct", "write_run_report"]


#: Budget metrics: (name, unit, path of the value in ``estimate/cost.json``, scale).
BUDGET_METRICS = (
    ("memory_bits", "bit", ("memory_bits", "weights"), 1.0),
    ("area_mm2", "mm²", ("area", "mm2"), 1.0),
    ("latency_ms", "ms", ("latency", "seconds"), 1e3),
    ("energy_uj", "µJ", ("energy", "uj"), 1.0),
)


def _budget_rows(run: RunFiles) -> tuple[list[list[object]], list[str]]:
    """Rows (metric, limit, achieved, margin, search's price) and notes on differences."""
    search, cost = run.json("search/candidates.json"), run.json("estimate/cost.json")
    budget = get(search, "budget") or get(search, "settings", "budget") or {}
    priced = get(winner(search), "cost") or {}
    rows: list[list[object]] = []
    notes: list[str] = []
    for name, unit, path, scale in BUDGET_METRICS:
        limit, searched = budget.get(name), priced.get(name)
        raw = get(cost, *path)
        achieved = None if raw is None else raw * scale
        margin = "–"
        if limit is not None and achieved is not None and limit:
            margin = f"{100 * (limit - achieved) / limit:+.1f} %"
        if achieved is not None and searched is not None:
            if not math.isclose(achieved, searched, rel_tol=1e-6, abs_tol=1e-12):
                notes.append(
                    f"{name}: the search priced the winner at {fmt(searched)} {unit}, "
                    f"`estimate/cost.json` prices the trained network at {fmt(achieved)} {unit}."
                )
        shown = "not run" if cost is None else fmt(achieved)
        rows.append(
            [
                f"{name} [{unit}]",
                fmt(limit) if limit is not None else "no limit",
                shown,
                margin,
                fmt(searched),
            ]
        )
    if budget.get("params") is not None:  # stored weight values, fixed pool weights included
        stored = _stored_weights(run)
        limit = budget["params"]
        margin = "–" if stored is None else f"{100 * (limit - stored) / limit:+.1f} %"
        shown = "not run" if stored is None else fmt(stored)
        rows.insert(1, ["params [weights]", fmt(limit), shown, margin, fmt(priced.get("params"))])
    return rows, notes


def _stored_weights(run: RunFiles) -> int | None:
    """Weights the exported network stores (:func:`nas.budget.stored_weights`)."""
    from hdl.errors import NeurocimError
    from hdl.ir import load_network
    from nas.budget import stored_weights

    path = run.path("model/network/network.json")
    if not path.is_file():
        return None
    try:
        net = load_network(path.parent)
    except NeurocimError as exc:
        run.problems.append(f"`model/network/network.json` cannot be read ({exc})")
        return None
    return stored_weights(net)


def _summary(run: RunFiles) -> Section:
    sim, net = run.json("sim/sim.json"), run.json("model/network/network.json")
    blocks: list[Block] = []
    if sim is None:
        blocks.append(Paragraph("**Proof not run**: no `sim/sim.json`."))
    else:
        ok = bool(sim.get("ok")) and sim.get("verdict") == "PASS"
        blocks.append(
            Verdict(
                ok,
                f"RTL against the golden model: {sim.get('verdict', '?')} on "
                f"{fmt(len(get(sim, 'data', 'indices') or []))} images x "
                f"{fmt(sim.get('samples'))} samples.",
            )
        )
    if net is None:
        blocks.append(Paragraph("Network: not run (no `model/network/network.json`)."))
    else:
        meta = net.get("metadata", {})
        blocks.append(
            KeyValues(
                [
                    (
                        "network",
                        f"`{net.get('name')}` ({meta.get('architecture', meta.get('arch', '?'))})",
                    ),
                    ("layers", fmt(len(net.get("layers", [])))),
                    ("timesteps", fmt(net.get("timesteps"))),
                    (
                        "input",
                        f"{net.get('input', {}).get('shape')} x {get(net, 'input', 'bits')} bit",
                    ),
                ]
            )
        )
    rows, notes = _budget_rows(run)
    blocks.append(
        Table(
            ["metric", "limit", "achieved (estimate)", "margin", "search's price"],
            rows,
            caption="Budget against what the trained network costs",
            align=["left", "right", "right", "right", "right"],
        )
    )
    blocks.append(
        Paragraph(
            "Achieved: `estimate/cost.json` (weight memory, area, latency, energy of one "
            "inference); limit and search's price: `search/candidates.json`; "
            "margin = (limit - achieved) / limit."
        )
    )
    blocks += [Paragraph("Note: " + n) for n in notes]
    export = run.json("model/network/export_report.json")
    ev = run.json("model/evaluate/report.json")
    blocks.append(
        KeyValues(
            [
                ("float model (evaluate)", pct(get(ev, "accuracy")) if ev else "not run"),
                (
                    "integer model (export)",
                    pct(get(export, "integer_accuracy")) if export else "not run",
                ),
                ("RTL (sim)", pct(get(sim, "accuracy", "rtl")) if sim else "not run"),
            ]
        )
    )
    blocks += [Paragraph("Problem: " + p) for p in run.problems]
    return Section("Summary", blocks)


def _steps(run: RunFiles, records: Mapping[str, Mapping] | None) -> Section:
    if records is None:
        records = {s: r for s in STEPS if (r := run.json(f"flow/{s}.json")) is not None}
    if not records:
        return Section(
            "Steps",
            [
                Paragraph(
                    "No step records (`flow/<step>.json`): the "
                    "artifacts were written outside `neurocim flow`."
                )
            ],
        )
    order = [s for s in STEPS if s in records] + [s for s in records if s not in STEPS]
    rows = [
        [
            f"`{s}`",
            records[s].get("status", "?"),
            records[s].get("started", "–"),
            fmt(records[s].get("seconds")),
            f"`{str(records[s].get('inputs_digest', ''))[:12]}`",
        ]
        for s in order
    ]
    total = sum(float(r.get("seconds") or 0) for r in records.values())
    rows.append(["**total**", "", "", fmt(total), ""])
    blocks: list[Block] = [
        Table(
            ["step", "status", "started", "time [s]", "inputs digest"],
            rows,
            caption="Steps",
            align=["left", "left", "left", "right", "left"],
        )
    ]
    versions = next((r["versions"] for r in records.values() if r.get("versions")), None)
    if isinstance(versions, Mapping):
        blocks.append(KeyValues([(k, v) for k, v in sorted(versions.items())]))
    return Section("Steps", blocks)


# ---------------------------------------------------------------------------------------------
# API


def build_report(run_dir: Path, records: Mapping[str, Mapping] | None = None) -> Report:
    """The report of ``run_dir`` (see the module doc); ``records`` maps step names to their
    ``flow/<step>.json`` records (read from the directory when ``None``)."""
    run = RunFiles(Path(run_dir))
    body = [
        search_section(run),
        training_section(run),
        dropout_section(run),
        rtl_section(run),
        proof_section(run),
        _steps(run, records),
    ]
    return Report(f"Run {run.root.name}", [_summary(run), *body])


def write_run_report(
    run_dir: Path, records: Mapping[str, Mapping] | None = None
) -> tuple[Path, Path]:
    """Write ``<run_dir>/report.html`` and ``report.md`` (with its figure files); return both."""
    return write_report(build_report(run_dir, records), run_dir, "report")
