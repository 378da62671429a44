"""The sim step behind ``neurocim sim``: test images through the RTL, checked and reported.

:func:`sim_design` decides what is simulated: the RTL bundle ``neurocim rtl`` wrote
(:func:`neurocim.flow.rtl.read_bundle`, checked against the network and the flags), else a
design generated from the network. :func:`run_sim` runs test images
(:func:`neurocim.flow.images.load_images`) through the RTL in a simulator (Icarus or Verilator
through the cocotb bench of :mod:`sim.cosim`, or Amaranth's own simulator; :func:`simulate`),
cross-checks it against :func:`hdl.golden.run` with :func:`sim.compare.compare_run` and writes
``sim.json`` and ``sim.md``: with a :class:`~neurocim.flow.rtl.Bundle` the bundle's own
Verilog, cells, hardware and MTJ drive, and besides RTL == golden the accuracy against the
labels and against :data:`REFERENCE`, flagged beyond a tolerance (:func:`accuracy_line`).
External tools run as guarded children (:func:`hdl.procs.run`) that die with the flow;
``progress`` callbacks report each stage.

Every file is written atomically (:mod:`hdl._io`). Bad input raises
:class:`~neurocim.flow.common.FlowError` (or the error of the layer that found it) with a
message naming the problem and the fix.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hdl._io import atomic_write_json, atomic_write_text
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import MTJDriver, schedule_mapping
from neurocim.flow.common import (
    INCOMPLETE,
    FlowError,
    Progress,
    begin_run,
    network_digest,
    say,
)
from neurocim.flow.images import ImageSet
from neurocim.flow.rtl import (
    Bundle,
    build_accelerator,
    check_design,
    generate_verilog,
    plan_manifest,
    read_bundle,
)
from sim.simulators import AUTO, SIMULATOR_CHOICES, SIMULATORS, VERILOG_SIMULATORS

__all__ = [
    "DEFAULT_MAX_ACCURACY_LOSS",
    "REFERENCE",
    "SIMULATORS",
    "SimResult",
    "accuracy_line",
    "check_jobs",
    "check_sim_args",
    "run_sim",
    "sim_design",
    "simulate",
]


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
        json.dumps(plan_manifest(check_design(net, bundle.hw, bundle.driver), bundle.top, None))
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
    simulator: str = AUTO,
    waves: bool = False,
    build_root: str | Path | None = None,
    driver: MTJDriver | None = None,
    rtl_net: Network | None = None,
    bundle: Bundle | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
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
        simulator: one of :data:`SIMULATOR_CHOICES`; ``icarus`` and ``verilator`` run the
            Verilog under cocotb (:func:`sim.cosim.run_cosim`), ``amaranth`` the design in
            Amaranth's simulator (:func:`sim.amaranth_accel.simulate_amaranth`), ``auto``
            Verilator where it is installed, else Icarus (the result names the one used).
        waves: dump waves (Verilog simulators only), into the run's build directory.
        build_root: where the Verilog simulators build (default ``build/sim``).
        rtl_net: the network the RTL is generated from (default ``net``): a deliberately
            different design shows that the check catches it.
        bundle: simulate this ``rtl`` bundle (generated for ``net``, ``hw`` and ``driver``).
        progress: called with one line per stage (and the images done, on the Verilog
            simulators).
        jobs: simulator processes of a Verilog simulator, each a contiguous shard of the
            images (default: the CPUs, at most one per image; :func:`sim.cosim.run_cosim`).

    Raises:
        FlowError: unknown simulator, waves on Amaranth, missing simulator, a bundle whose
            Verilog Amaranth cannot stand in for.
    """
    if simulator not in SIMULATOR_CHOICES:
        raise FlowError(
            f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATOR_CHOICES)}"
        )
    check_jobs(jobs)
    if simulator == AUTO:
        simulator = _default_simulator()
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
        acc = build_accelerator(design, hw, driver)
        say(progress, f"amaranth: simulating {len(x)} image(s) x {samples} sample(s)")
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
                jobs=jobs,
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

    say(progress, "comparing with the golden model")
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

    say(progress, "amaranth: checking that the design's Verilog is the bundle's")
    acc = build_accelerator(net, hw, driver)
    if generate_verilog(acc, bundle.top) != bundle.verilog():
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


CLI_FLAGS = {
    "samples": "--samples",
    "mtj_seed": "--mtj-seed",
    "max_accuracy_loss": "--max-accuracy-loss",
}
"""How :func:`check_sim_args` names the settings by default: ``neurocim sim``'s flags."""


def _default_simulator() -> str:
    """What ``auto`` means here: :func:`sim.runner.default_simulator`, or ``icarus`` when the
    cocotb runner cannot be imported (simulating then fails with the reason)."""
    try:
        from sim.runner import default_simulator
    except ImportError:
        return "icarus"
    return default_simulator()


def check_jobs(jobs: Any, name: str = "--jobs") -> None:
    """Raise :class:`FlowError` unless ``jobs`` is ``None`` (the CPUs) or an integer >= 1
    (:func:`sim.shards.check_jobs`, naming the flag or key ``name``)."""
    from sim.cosim import CosimError
    from sim.shards import check_jobs as shard_count

    try:
        shard_count(jobs, 1, name, f"use {name} 1" if name.startswith("--") else f"set {name} = 1")
    except CosimError as err:
        raise FlowError(str(err)) from None


def check_sim_args(
    samples: Any,
    mtj_seed: Any,
    max_accuracy_loss: Any,
    names: Mapping[str, str] = CLI_FLAGS,
) -> None:
    """Raise :class:`FlowError` naming the first of :func:`run_sim`'s settings that is out of
    range (``samples`` 1..65535, ``mtj_seed`` >= 0, ``max_accuracy_loss`` 0..1); ``names``
    says what to call each setting (the CLI's flags, or a flow file's ``sim.*`` keys)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 65535:
        raise FlowError(f"{names['samples']} must be an integer in 1..65535, got {samples!r}")
    if isinstance(mtj_seed, bool) or not isinstance(mtj_seed, int) or mtj_seed < 0:
        raise FlowError(f"{names['mtj_seed']} must be an integer >= 0, got {mtj_seed!r}")
    if isinstance(max_accuracy_loss, bool) or not (
        isinstance(max_accuracy_loss, (int, float)) and 0 <= max_accuracy_loss <= 1
    ):
        raise FlowError(
            f"{names['max_accuracy_loss']} must be a fraction in 0..1 (0.02: two points), got "
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
    simulator: str = AUTO,
    waves: bool = False,
    driver: MTJDriver | None = None,
    rtl_net: Network | None = None,
    bundle: Bundle | None = None,
    network_path: Path | None = None,
    max_accuracy_loss: float = DEFAULT_MAX_ACCURACY_LOSS,
    allow_accuracy_loss: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
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
    marker = begin_run(out, "neurocim sim", ("sim.json", "sim.md"))
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
        jobs=jobs,
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
        "simulator": result.simulator,
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
        say(progress, "accuracy against the labels and the default-hardware reference")
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
