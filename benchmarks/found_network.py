"""A found network, end to end: search -> BayBNN training -> export -> estimate -> RTL -> Icarus.

Runs the user's chain with the CLI, one subprocess per command, on the embedded 8x8 digits:

1. ``neurocim search``: a small space (C = 4, H in {16, 32}, T in {1, 2}, 1- or 2-bit weights,
   MTJ dropout p in {0.1, 0.25} on the hidden edges, no avgpool) under a memory and energy
   budget, so the winner is a BayBNN whose RTL stays small;
2. ``neurocim train --arch <search dir>``: the winner with its own MTJ dropout
   (``arch.dropout = "network"``) and the winner's ``train.toml`` (timesteps, beta);
3. ``neurocim export``, ``neurocim estimate``, ``neurocim rtl`` (with synthesis);
4. ``neurocim sim --images 50 --samples 3`` on Icarus: RTL against the golden model, bit for bit.

Usage:  .venv/bin/python benchmarks/found_network.py [--quick] [--build-dir DIR] [--no-doc]

Runs into ``build/found-network/`` (``--build-dir``); writes ``<build>/found-network.json``
and (not with ``--quick`` or ``--no-doc``) the section "A found network, end to end" of
docs/nas.md. ``--quick`` (tiny search, 1 epoch, 3 images x 2
samples, ``--no-synth``) is the flow-level regression test (tests/test_found_network.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent

from _machine import machine  # noqa: E402

SECTION = "## A found network, end to end"
SEARCH = "found-digits"
RUN = "found-digits-baybnn"
SPACE = [
    "search.dataset=digits",
    "search.space.channels=[4]",
    "search.space.hidden=[16,32]",
    "search.space.timesteps=[1,2]",
    "search.space.weight_bits=[1,2]",
    "search.space.dropout_p=[0.1,0.25]",
    "search.space.modules=[1,4]",
    'search.space.ops=["zero","skip","conv1x1","conv3x3"]',
    "search.budget.memory_bits=20000",
    "search.budget.energy_uj=0.5",
]


def commands(build: Path, quick: bool) -> list[tuple[str, list[str]]]:
    """The chain's ``neurocim`` commands (argument lists after ``neurocim``)."""
    search = ["search", "--build-dir", str(build), "--no-progress", "--set", f"name={SEARCH}"]
    search += ["--trials", "4" if quick else "20"]
    for s in SPACE:
        search += ["--set", s]
    train = ["train", "--build-dir", str(build), "--no-progress", "--overwrite"]
    train += ["--arch", str(build / SEARCH / "search"), "--set", f"name={RUN}"]
    train += ["--set", "train.epochs=1"] if quick else ["--evaluate", "--no-sweep"]
    if not quick:
        train.append("--no-corruptions")
    net = str(build / RUN / "network")
    rtl = ["rtl", net, "--no-progress"] + (["--no-synth"] if quick else [])
    sim = ["sim", net, "--simulator", "icarus", "--no-progress", "--images", "3" if quick else "50"]
    sim += ["--samples", "2" if quick else "3"]
    return [
        ("search", search),
        ("train", train),
        ("export", ["export", "--run-dir", str(build / RUN), "--no-progress"]),
        ("estimate", ["estimate", net]),
        ("rtl", rtl),
        ("sim", sim),
    ]


def run_chain(build: Path, quick: bool = False) -> dict:
    """Run the chain into ``build``; the measured results (raises on a failed command)."""
    build = Path(build).resolve()
    if build.is_relative_to(ROOT):  # the commands run in ROOT: print them as a user types them
        build = build.relative_to(ROOT)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    steps = []
    for step, argv in commands(build, quick):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "neurocim.cli", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - t0
        lines = proc.stdout.strip().splitlines()
        steps.append(
            {
                "step": step,
                "command": "neurocim " + " ".join(argv),
                "seconds": seconds,
                "rc": proc.returncode,
                "summary": lines[0] if lines else "",
            }
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"neurocim {step} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
    build = ROOT / build
    run = build / RUN
    cands = json.loads((build / SEARCH / "search" / "candidates.json").read_text())
    winner = next(c for c in cands["candidates"] if c["number"] == cands["winner"])
    export = json.loads((run / "network" / "export_report.json").read_text())
    rtl = json.loads((run / "rtl" / "report.json").read_text())
    sim = json.loads((run / "rtl" / "sim" / "sim.json").read_text())
    evaluate = run / "evaluate" / "report.json"
    result = {
        "quick": quick,
        "machine": machine(),
        "steps": steps,
        "search": {
            "trials": len(cands["candidates"]),
            "feasible": sum(1 for c in cands["candidates"] if c.get("feasible")),
            "winner": winner["number"],
            "candidate": winner["candidate"],
            "cost": {
                k: winner["cost"][k]
                for k in ("memory_bits", "params", "area_mm2", "latency_ms", "energy_uj", "cycles")
            },
        },
        "accuracy": {
            "evaluate": (
                json.loads(evaluate.read_text())["accuracy"] if evaluate.is_file() else None
            ),
            "export_float": export["float_accuracy"],
            "export_integer": export["integer_accuracy"],
            "export_images": export["images"],
            "export_samples": export["samples"],
            "prediction_agreement": export["prediction_agreement"],
        },
        "rtl": {
            "bytes": (run / "rtl" / "accelerator.v").stat().st_size,
            "lint_warnings": rtl["lint"].get("warnings") if rtl.get("lint") else None,
            "synthesis": (
                {k: rtl["synthesis"][k] for k in ("cells", "flip_flops", "latches")}
                if rtl.get("synthesis")
                else None
            ),
            "timing_s": rtl["timing_s"],
        },
        "sim": {
            "verdict": sim["verdict"],
            "ok": sim["ok"],
            "simulator": sim["simulator"],
            "images": len(sim["predictions"]["rtl"]),
            "samples": sim["samples"],
            "checked": sim["checked"],
            "busy_cycles": sim["busy_cycles"],
            "cycles": sim["cycles"],
            "seconds": sim["seconds"],
            "cycles_per_second": sim["cycles_per_second"],
            "bench": sim["bench"],
            "accuracy": sim["accuracy"],
            "accuracy_rtl": sim["predictions"]["accuracy_rtl"],
        },
    }
    (build / "found-network.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def section(r: dict) -> str:
    """The docs/nas.md section of a full run's results."""
    s, a, sim, c = r["search"], r["accuracy"], r["sim"], r["search"]["candidate"]
    cost = s["cost"]
    rows = "\n".join(
        f"| `{x['step']}` | `{x['command']}` | {x['seconds']:.1f} |" for x in r["steps"]
    )
    synth = r["rtl"]["synthesis"]
    synth_text = (
        f"{synth['cells']:,} yosys cells, {synth['flip_flops']:,} flip-flop bits, "
        f"{synth['latches']} latch bits "
        f"(synthesis {r['rtl']['timing_s'].get('synthesis', 0):.0f} s)"
        if synth
        else "not synthesized"
    )
    checked = sim["checked"]
    checked_text = (
        ", ".join(f"{v:,} {k}" for k, v in checked.items())
        if isinstance(checked, dict)
        else str(checked)
    )
    bench = sim["bench"]
    bench_text = (
        f"{bench.get('cycles_per_second', 0):,.0f} cycles/s in the clocked part"
        if isinstance(bench, dict)
        else str(bench)
    )
    acc = sim["accuracy"]
    acc_text = (
        f"Accuracy on the {acc['labelled_images']} labelled images: RTL {sim['accuracy_rtl']:.3f},"
        f" golden model {acc['reference']:.3f} (RTL/golden prediction agreement"
        f" {acc['agreement']:.3f}; a subset of the export's test images, so its accuracy differs)."
    )
    busy = sim["busy_cycles"]
    equal = "equal to" if sim["cycles"]["equal"] else "NOT equal to"
    per_sample = cost["cycles"]
    return f"""{SECTION}

`benchmarks/found_network.py` runs the whole user flow with the CLI on the embedded 8x8
digits: a small search, the winner trained as a BayBNN with its own MTJ dropout, exported,
priced, generated (with synthesis) and simulated on Icarus against the golden model. Machine:
{r["machine"]}. Measured (one run; wall time of each command, process start included):

| step | command | wall [s] |
|---|---|---:|
{rows}

(`--set` options of the search: {", ".join(f"`{x}`" for x in SPACE)}.)

* **Search**: {s["trials"]} trials, {s["feasible"]} feasible; winner trial {s["winner"]}: cells
  `{c["cells"][0]}` (shared), C {c["channels"]}, C_down {c["down_channels"]}, H {c["hidden"]},
  T {c["timesteps"]}, {c["weight_bits"]}-bit weights, MTJ dropout p {c["dropout_p"]}
  ({c["granularity"]}, {c["modules"]} module(s) per edge, placement {c["placement"]});
  {cost["memory_bits"]:,} weight bits, {cost["area_mm2"]:.3f} mm^2,
  {cost["energy_uj"]:.3f} uJ, {per_sample:,} cycles ({cost["latency_ms"] * 1e3:.2f} us) per
  sample.
* **Training** (`train --arch <search dir>`, which takes the winner's `train.toml`:
  timesteps, beta, data set; 60 epochs): test accuracy {a["evaluate"]:.3f} (`--evaluate`,
  the whole test split).
* **Export** check on {a["export_images"]} test images x {a["export_samples"]} MC samples:
  float accuracy {a["export_float"]:.3f}, integer {a["export_integer"]:.3f}; per-sample
  predictions agree up to ties on {100 * a["prediction_agreement"]:.1f} %.
* **RTL**: `accelerator.v` {r["rtl"]["bytes"]:,} bytes, {r["rtl"]["lint_warnings"]} Verilator
  lint warnings; {synth_text}.
* **Simulation**: **{sim["verdict"]}** on {sim["simulator"]}, {sim["images"]} images x
  {sim["samples"]} MC samples: RTL == golden model for every output and spike
  ({checked_text} compared), busy cycles {busy:,} = {sim["images"]} x {sim["samples"]} x
  {per_sample:,}, {equal} the schedule ({sim["cycles"]["schedule"]:,} per image);
  {sim["seconds"]:.0f} s, {sim["cycles_per_second"]:,.0f} busy cycles/s (elaboration
  included), {bench_text}.
  {acc_text}

`--quick` (4 trials, 1 epoch, 3 images x 2 samples, `--no-synth`) is
`tests/test_found_network.py`, the flow-level regression test: it asserts the verdict PASS.
"""


def write_section(text: str, path: Path = ROOT / "docs" / "nas.md") -> None:
    """Replace (or append) the section in ``path``, leaving every other section as it is."""
    doc = path.read_text()
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + (doc[end + 1 :] if end >= 0 else "")
        if end >= 0 and not text.endswith("\n\n"):
            doc = doc.replace(text, text + "\n", 1)
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny search, 1 epoch, 3 x 2, no synth")
    p.add_argument("--build-dir", type=Path, default=ROOT / "build" / "found-network")
    p.add_argument("--no-doc", action="store_true", help="do not write docs/nas.md")
    args = p.parse_args(argv)
    r = run_chain(args.build_dir, quick=args.quick)
    for x in r["steps"]:
        print(f"{x['seconds']:7.1f} s  {x['command']}\n          {x['summary']}")
    print(f"sim: {r['sim']['verdict']}")
    if not args.quick and not args.no_doc:
        write_section(section(r))
        print("wrote docs/nas.md section", SECTION[3:])
    return 0 if r["sim"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
