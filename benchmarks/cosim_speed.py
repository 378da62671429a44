"""Speed of the Verilog co-simulation (:func:`sim.cosim.run_cosim`) with the behavioural Verilog
macros and MTJ modules (:mod:`sim.sim_top`), on the digits-size MLP 64-128-10 of
benchmarks/accelerator.py (random ±1 weights, MTJ dropout on 8 modules, T = 4, default
hardware).

* Simulated clock cycles per wall-clock second of one bench process (every cycle counted:
  reset, streamed pixels, busy cycles, handshakes), on Icarus and on Verilator, over
  ``RATE_IMAGES`` images x ``RATE_SAMPLES`` samples (``jobs = 1``; the build is not counted);
* the wall time of the proof's workload, 360 digits test images x 10 Monte-Carlo samples
  through the RTL with ``jobs = 2`` (build included) on each simulator, checked bit for bit
  against the golden model.

Run ``scripts/run python benchmarks/cosim_speed.py``; it writes docs/benchmarks-cosim.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from accelerator import digits_mlp

from hdl._io import atomic_write_text
from hdl.hwconfig import HardwareConfig
from hdl.mapping import schedule
from neurocim.flow.images import load_images
from sim.compare import compare_run
from sim.cosim import run_cosim
from sim.runner import available_simulators

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-cosim.md"
BUILD = ROOT / "build" / "bench-cosim"
RATE_IMAGES, RATE_SAMPLES = 20, 5
PROOF_IMAGES, PROOF_SAMPLES, PROOF_JOBS = 360, 10, 2


def rate(simulator: str, x: np.ndarray) -> dict[str, float]:
    """Cycles per second of one bench process over ``x`` (:data:`RATE_SAMPLES` samples each)."""
    net, hw, m = digits_mlp(), HardwareConfig(), RATE_SAMPLES
    run = run_cosim(net, hw, x, m, simulator=simulator, jobs=1, build_root=BUILD / "rate")
    assert compare_run(net, hw, x, m, run).ok, simulator
    assert run.cycles == [schedule(net, hw, m).cycles] * len(x), run.cycles
    return {"rate": run.cycles_per_second, "cycles": run.sim_cycles, "seconds": run.sim_seconds}


def proof(simulator: str, x: np.ndarray) -> dict[str, float]:
    """Wall seconds of ``x`` x :data:`PROOF_SAMPLES` samples with :data:`PROOF_JOBS` jobs."""
    net, hw = digits_mlp(), HardwareConfig()
    start = time.perf_counter()
    run = run_cosim(
        net,
        hw,
        x,
        PROOF_SAMPLES,
        mtj_seed=1,
        simulator=simulator,
        jobs=PROOF_JOBS,
        build_root=BUILD / "proof",
    )
    wall = time.perf_counter() - start
    verdict = compare_run(net, hw, x, PROOF_SAMPLES, run)
    assert verdict.ok, (simulator, verdict.findings[:3])
    return {"wall": wall, "cycles": run.sim_cycles, "checked": verdict.checked["outputs"]}


def write_doc(rows: dict[str, dict[str, dict[str, float]]], total_s: float) -> str:
    lines = [
        "# Benchmarks: Verilog co-simulation speed",
        "",
        f"Written by `scripts/run python benchmarks/cosim_speed.py` on: {machine()}. The whole "
        f"benchmark took {total_s / 60:.1f} minutes.",
        "",
        "The digits-size MLP 64-128-10 of `benchmarks/accelerator.py` (random ±1 weights, 4-bit "
        "pixels, MTJ dropout on 8 modules, T = 4) on the default hardware, simulated by "
        "`sim.cosim.run_cosim` inside the simulation top of `sim.sim_top`: the crossbar macros "
        "and MTJ modules are behavioural Verilog (`sim.models.crossbar_verilog`, "
        "`sim.models.mtj_verilog`) and the Verilog writes the trace, so the cocotb bench runs "
        "Python only per streamed pixel and once per image. On Icarus the accelerator runs as "
        "the simulation netlist of `sim.runner.simulation_netlist` (the same design flattened "
        "and optimised by Yosys, its flip-flops in one clocked block; same results, about "
        "1.7x faster than the generated Verilog).",
        "",
        f"Rate: simulated clock cycles per wall-clock second of one bench process (`jobs=1`) "
        f"over {RATE_IMAGES} images x {RATE_SAMPLES} samples, every cycle counted (reset, "
        "pixels, busy cycles, handshakes), the build not counted. "
        f"Proof: {PROOF_IMAGES} digits test images x {PROOF_SAMPLES} Monte-Carlo samples with "
        f"`jobs={PROOF_JOBS}` (two shards of contiguous images on one build, merged), wall "
        "time of the whole `run_cosim` call (Verilog generation and build included), checked "
        "bit for bit against the golden model "
        "(`sim.compare.compare_run`).",
        "",
        "| simulator | rate [cycles/s] | rate run: cycles, seconds | proof wall time [s] | "
        "proof: cycles simulated, outputs checked |",
        "|---|---:|---:|---:|---:|",
    ]
    for simulator, r in rows.items():
        a, b = r["rate"], r["proof"]
        lines.append(
            f"| {simulator} | {a['rate']:,.0f} | {a['cycles']:,} in {a['seconds']:.2f} s | "
            f"{b['wall']:.1f} | {b['cycles']:,}, {b['checked']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    start = time.perf_counter()
    net = digits_mlp()
    x = load_images(net, PROOF_IMAGES, data="digits").x
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for simulator in available_simulators():
        rows[simulator] = {"rate": rate(simulator, x[:RATE_IMAGES]), "proof": proof(simulator, x)}
        print(simulator, rows[simulator], flush=True)
    text = write_doc(rows, time.perf_counter() - start)
    atomic_write_text(DOC, text)
    print(text)


if __name__ == "__main__":
    main()
