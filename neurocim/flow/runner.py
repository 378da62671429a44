"""``neurocim flow``: named steps from a dataset and a budget to verified Verilog.

``search -> train -> export -> estimate -> rtl -> sim -> report`` (FINN's named build steps
are the model), one run directory ``build/<name>/``::

    search/              the architecture search (nas.search.run_search): winner/, report.md
    model/               the winner trained (config.json, train/, evaluate/) and exported
      network/           (network.json, weights.npz, export_report.json)
    estimate/cost.json   the trained network priced on the winner's chip
    rtl/                 the RTL bundle (accelerator.v, manifest.json, report.md)
    sim/                 the proof on Icarus (sim.json, sim.md)
    flow/<step>.json     one record per finished step (neurocim.flow.record)
    report.html, report.md

Each step reads only what the steps before it wrote. A rerun skips a finished step whose
inputs (settings and earlier outputs) did not change and whose outputs are still there as it
wrote them, and runs every step after a changed one;
a step begun and killed resumes its own state when started again with the same inputs.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurocim.flow.common import FlowError
from neurocim.flow.config import FlowConfig
from neurocim.flow.record import (
    code_digest,
    digest_files,
    digest_settings,
    read_record,
    started_digest,
    versions,
    write_record,
    write_started,
)

__all__ = ["STEPS", "FlowResult", "run_flow"]

STEPS = ("search", "train", "export", "estimate", "rtl", "sim", "report")

Say = Callable[[str], None]


@dataclass
class FlowResult:
    """What a flow run did: per step ``ran`` / ``skipped``, the records, the proof's verdict."""

    run_dir: Path
    actions: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict: str | None = None


# ----------------------------------------------------------------------------- layout


def _owned(run_dir: Path, step: str) -> list[Path]:
    """What ``step`` writes (removed before it runs on changed inputs)."""
    return {
        "search": [run_dir / "search"],
        "train": [run_dir / "model"],
        "export": [run_dir / "model" / "network"],
        "estimate": [run_dir / "estimate"],
        "rtl": [run_dir / "rtl"],
        "sim": [run_dir / "sim"],
        "report": [run_dir / "report.html", run_dir / "report.md"],
    }[step]


def _outputs(run_dir: Path, step: str) -> list[Path]:
    """The files whose bytes are the step's result (timings excluded where they are apart)."""
    m = run_dir / "model"
    return {
        "search": [
            run_dir / "search" / "candidates.json",
            run_dir / "search" / "winner" / "network.json",
            run_dir / "search" / "winner" / "candidate.json",
        ],
        "train": [m / "config.json", m / "train" / "model.pt", m / "evaluate" / "report.json"],
        "export": [m / "network" / "network.json", m / "network" / "weights.npz"],
        "estimate": [run_dir / "estimate" / "cost.json"],
        "rtl": [run_dir / "rtl" / "accelerator.v", run_dir / "rtl" / "manifest.json"],
        "sim": [run_dir / "sim" / "sim.json"],
        "report": [run_dir / "report.md"],
    }[step]


def _intact(run_dir: Path, step: str, record: dict[str, Any], inputs: str) -> bool:
    """A finished step is up to date when its inputs are those it ran on and what it wrote
    is still there, unchanged and complete (no ``INCOMPLETE`` marker in its directories)."""
    from neurocim.flow.common import INCOMPLETE

    if record.get("inputs_digest") != inputs:
        return False
    if any((p / INCOMPLETE).exists() for p in _owned(run_dir, step) if p.is_dir()):
        return False
    return digest_files(_outputs(run_dir, step), run_dir) == record.get("outputs_digest")


def _clear(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


# ----------------------------------------------------------------------------- steps


def _winner_hardware(run_dir: Path) -> Any:
    from nas.space import Candidate

    path = run_dir / "search" / "winner" / "candidate.json"
    if not path.is_file():
        raise FlowError(f"{path} is missing: run the search step first (--from search)")
    return Candidate.from_dict(json.loads(path.read_text())).hardware()


def _network(run_dir: Path) -> tuple[Any, Path]:
    from hdl.ir import load_network

    path = run_dir / "model" / "network"
    if not (path / "network.json").is_file():
        raise FlowError(f"{path} holds no exported network: run the export step (--from export)")
    return load_network(path), path


def _train_config(flow: FlowConfig, run_dir: Path) -> Any:
    from hdl._settings import read_toml
    from neurocim.config import ConfigError, build_config

    winner = run_dir / "search" / "winner"
    values = read_toml(winner / "train.toml", ConfigError)
    _deep_merge(values, flow.train_values())
    values["name"], values["seed"] = flow.name, flow.seed
    return build_config(values, arch=winner / "network.json")  # resolved, with its digest


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> None:
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = v


def _step_search(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from nas.config import search_config
    from nas.search import run_search

    config = search_config(flow.search_values())
    result = run_search(config, run_dir / "search", progress=progress)
    win = result.winner_record
    return {"trials": len(result.records), "winner_trial": win["number"], "cost": win["cost"]}


def _step_train(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from spindrop.experiment import run_evaluate, run_train

    config = _train_config(flow, run_dir)
    model, data = run_train(config, run_dir / "model", progress=progress)
    report = run_evaluate(
        config, run_dir / "model", model, data, sweep=False, corruptions=False, progress=progress
    )
    return {"accuracy": report["accuracy"], "ece": report["ece"]}


def _step_export(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from neurocim.config import build_config
    from neurocim.flow.export import export_run, export_summary
    from spindrop.experiment import read_run_config

    stored = read_run_config(run_dir / "model")
    result = export_run(
        build_config(stored),
        run_dir / "model",
        input_bits=flow.export.input_bits,
        samples=flow.export.samples,
        progress=progress,
    )
    say(export_summary(result))
    return {"network": str(result.files["network"])}


def _step_estimate(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from neurocim.flow.common import mtj_driver
    from neurocim.flow.estimate import estimate_cost

    net, path = _network(run_dir)
    result = estimate_cost(
        net,
        _winner_hardware(run_dir),
        path,
        driver=mtj_driver(net, None),
        preset=flow.estimate.preset,
        samples=flow.estimate.samples,
        out=run_dir / "estimate" / "cost.json",
    )
    r = result.report
    return {"energy_uj": r.energy_uj, "area_mm2": r.area_mm2, "seconds": r.seconds}


def _step_rtl(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from neurocim.flow.common import mtj_driver
    from neurocim.flow.rtl import write_rtl

    net, _path = _network(run_dir)
    result = write_rtl(
        net,
        run_dir / "rtl",
        _winner_hardware(run_dir),
        driver=mtj_driver(net, None),
        name=flow.rtl.name,
        synth=flow.rtl.synth,
        progress=say if progress else None,
    )
    d = result.report["design"]
    return {"verilog_bytes": d["verilog_bytes"], "cycles_per_sample": d["cycles_per_sample"]}


def _step_sim(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from neurocim.flow import sim as sim_step
    from neurocim.flow.images import load_images
    from neurocim.flow.reference import float_model_check

    net, path = _network(run_dir)
    s = flow.sim
    hw, driver, bundle = sim_step.sim_design(net, run_dir / "rtl", required=True)
    images = load_images(net, s.images, network_path=path, seed=flow.seed)  # settings checked
    result, report = sim_step.run_sim(
        net,
        hw,
        images,
        run_dir / "sim",
        samples=s.samples,
        mtj_seed=s.mtj_seed,
        driver=driver,
        simulator=s.simulator,
        jobs=s.jobs,
        bundle=bundle,
        network_path=path,
        max_accuracy_loss=s.max_accuracy_loss,
        progress=say if progress else None,
    )
    masks = result.observed.masks if result.observed is not None else {}
    check = float_model_check(
        run_dir / "model", images, report, s.samples, s.max_accuracy_loss, net.input.bits, masks
    )
    return {"verdict": report["verdict"], "float_check": check}


def _verdict(summary: dict[str, Any]) -> str:
    """The proof's verdict: the sim step's (``PASS``, ``FAIL``, ``ACCURACY LOSS``), made
    ``ACCURACY LOSS`` when the RTL falls more than the tolerance below the float model."""
    verdict = summary["verdict"]
    if verdict == "PASS" and summary.get("float_check", {}).get("within_tolerance") is False:
        return "ACCURACY LOSS"
    return verdict


def _step_report(flow: FlowConfig, run_dir: Path, progress: bool, say: Say) -> dict[str, Any]:
    from neurocim.flow.report import write_run_report

    records = {s: r for s in STEPS if (r := read_record(run_dir, s)) is not None}
    html, md = write_run_report(run_dir, records)
    return {"html": str(html), "markdown": str(md)}


_RUN = {
    "search": _step_search,
    "train": _step_train,
    "export": _step_export,
    "estimate": _step_estimate,
    "rtl": _step_rtl,
    "sim": _step_sim,
    "report": _step_report,
}


# ----------------------------------------------------------------------------- the flow


def _validate(flow: FlowConfig) -> None:
    """The search and training settings checked before any step runs (a bad training key is
    named at once, not after the search)."""
    from nas.config import search_config
    from neurocim.config import build_config

    search_config(flow.search_values())
    build_config({"name": flow.name, "seed": flow.seed, **flow.train_values()})


def _step_range(from_step: str | None, to_step: str | None) -> tuple[int, int]:
    for flag, value in (("--from", from_step), ("--to", to_step)):
        if value is not None and value not in STEPS:
            raise FlowError(f"{flag} must be one of {list(STEPS)}, got {value!r}")
    first = 0 if from_step is None else STEPS.index(from_step)
    last = len(STEPS) - 1 if to_step is None else STEPS.index(to_step)
    if first > last:
        raise FlowError(f"--from {from_step} comes after --to {to_step}: nothing to run")
    return first, last


def run_flow(
    flow: FlowConfig,
    build_dir: Path,
    *,
    from_step: str | None = None,
    to_step: str | None = None,
    progress: bool = True,
    say: Say = print,
) -> FlowResult:
    """Run the steps up to ``to_step`` (skipping the finished ones whose inputs did not
    change; ``from_step`` and every step after it run again); see the module docstring."""
    from hdl._io import locked_dir

    first, last = _step_range(from_step, to_step)
    _validate(flow)
    run_dir = Path(build_dir) / flow.name
    result = FlowResult(run_dir)
    with locked_dir(run_dir, "flow run directory"):
        upstream: list[str] = []
        for i, step in enumerate(STEPS[: last + 1]):
            inputs = digest_settings(step, flow.settings(step), upstream, code_digest())
            if step == "report":  # its step table shows when and how long each step ran
                inputs = digest_settings(inputs, [r["started"] for r in result.records.values()])
            record = read_record(run_dir, step)
            forced = from_step is not None and i >= first
            fresh = not forced and record is not None and _intact(run_dir, step, record, inputs)
            if fresh:
                result.actions[step] = "skipped"
                result.records[step] = record  # type: ignore[assignment]
                say(f"flow {flow.name}: {step}: up to date, skipped")
            else:
                if forced or started_digest(run_dir, step) != inputs:
                    _clear(_owned(run_dir, step))  # new inputs (or --from): from nothing
                started = write_started(run_dir, step, inputs)
                say(f"flow {flow.name}: {step} ...")
                t0 = time.monotonic()
                summary = _RUN[step](flow, run_dir, progress, say)
                seconds = time.monotonic() - t0
                record = {
                    "inputs_digest": inputs,
                    "outputs_digest": digest_files(_outputs(run_dir, step), run_dir),
                    "settings": flow.settings(step),
                    "started": started,
                    "seconds": round(seconds, 3),
                    "versions": versions(),
                    "summary": summary,
                }
                write_record(run_dir, step, record)
                result.actions[step] = "ran"
                result.records[step] = {"step": step, "status": "done", **record}
                say(f"flow {flow.name}: {step} done in {seconds:.1f} s")
            upstream.append(result.records[step]["outputs_digest"])
            if step == "sim":
                result.verdict = _verdict(result.records[step]["summary"])
    return result
