"""The ``neurocim`` command line: one subcommand per stage of the flow.

    neurocim train    --config run.toml [--set section.key=value ...] [--arch PATH]
    neurocim evaluate --run-dir build/<run>
    neurocim study    [--out build/study] [--quick]   (--quick: build/study-quick)
    neurocim rtl      NETWORK [--hw KEY=VALUE ...] [--out DIR] [--name accelerator] [--no-synth]
    neurocim sim      NETWORK [--rtl DIR] [--images N] [--samples M] [--max-accuracy-loss F]
                      [--simulator auto|icarus|verilator|amaranth] [--jobs N]
                      (exit 1: RTL != golden, 3: loss)
    neurocim search   --config x.toml [--set search.key=value ...] [--storage URL] [--study NAME]
                      [--trials N] [--sampler random|tpe|nsga2] [--baseline]
    neurocim flow     [--config flow.toml] [--set section.key=value ...] [--from STEP] [--to STEP]
                      [--quick]   (search -> train -> export -> estimate -> rtl -> sim -> report)
    neurocim search ops --config x.toml [--candidates N] [--epochs E] [--workers W]
                      (the operation study: cost, score and trained accuracy per op set)

Every run writes its artifacts under ``build/<run>/``. Bad input ends with one line naming the
problem and the fix (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sim.simulators import SIMULATOR_CHOICES

__all__ = ["main"]


def _limit_threads() -> None:
    """One thread per process (``NEUROCIM_THREADS``, default 1): multi-threaded torch is erratic
    on small machines.

    Never imports torch itself (``estimate``, ``rtl`` and ``sim`` do not need it, and importing
    it costs about a second): before torch is imported the limit goes into ``OMP_NUM_THREADS``,
    which torch (and an OpenMP BLAS) reads when it starts; a torch already imported is limited
    directly.
    """
    threads = int(os.environ.get("NEUROCIM_THREADS", "1"))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=Path, help="TOML run configuration (defaults for everything left out)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set model.dropout.p=0.2 (repeatable)",
    )
    p.add_argument(
        "--build-dir",
        type=Path,
        default=Path("build"),
        help="where run directories go (default: build)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run_dir(args, config) -> Path:
    return args.build_dir / config.name


def _winner_config(arch) -> Path | None:
    """The ``train.toml`` beside the architecture ``--arch`` names (a search's winner: its
    timesteps, beta and data set), or ``None``; ``--config`` replaces it."""
    from spindrop.graph_model import ArchitectureError, resolve_architecture

    try:
        path = resolve_architecture(arch).parent / "train.toml"
    except ArchitectureError:
        return None  # the configuration's own check names the bad path
    return path if path.is_file() else None


def _cmd_train(args) -> int:
    from hdl._io import locked_dir
    from neurocim.config import load_config
    from spindrop.experiment import run_train

    config_path = args.config
    if config_path is None and args.arch is not None:
        config_path = _winner_config(args.arch)
        if config_path is not None:
            print(f"neurocim: training settings from {config_path}", file=sys.stderr)
    config = load_config(config_path, args.overrides, arch=args.arch)
    run_dir = _run_dir(args, config)
    with locked_dir(run_dir, "run directory"):  # held over training and evaluation
        args.interrupted_hint = (
            f"{run_dir / 'train' / 'checkpoint.pt'} keeps the last finished epoch; "
            "run the same command again to resume"
        )
        run_train(config, run_dir, progress=not args.no_progress, overwrite=args.overwrite)
        args.interrupted_hint = None
        metrics = json.loads((run_dir / "train" / "metrics.json").read_text())
        last = metrics["history"][-1]
        print(
            f"trained {config.name}: val accuracy {last.get('val_accuracy', float('nan')):.4f} "
            f"after {last['epoch']} epochs -> {run_dir}"
        )
        if args.evaluate:
            return _evaluate(config, run_dir, args)
    return 0


def _evaluate(config, run_dir: Path, args) -> int:
    from spindrop.experiment import run_evaluate

    report = run_evaluate(
        config,
        run_dir,
        sweep=not args.no_sweep,
        corruptions=not args.no_corruptions,
        progress=not args.no_progress,
    )
    print(f"{config.name}: accuracy {report['accuracy']:.4f}, ECE {report['ece']:.4f}")
    for measure, sets in report["ood"].items():
        cells = ", ".join(
            f"{k} AUROC {v['auroc']:.3f} det {v['detection_rate']:.3f}" for k, v in sets.items()
        )
        print(f"  {measure}: {cells}")
    print(f"report: {run_dir / 'evaluate' / 'report.json'}")
    return 0


def _config_of_run(args):
    """The run's configuration and directory, from --run-dir or from --config/--set."""
    from neurocim.config import ConfigError, build_config, load_config
    from spindrop.experiment import read_run_config

    if args.run_dir is not None:
        path = args.run_dir / "config.json"
        if not path.is_file():
            raise ConfigError(
                f"{path} not found: --run-dir must be a directory written by `neurocim train`"
            )
        try:
            stored = read_run_config(args.run_dir)
        except (OSError, ValueError) as exc:
            what = "is not a run configuration" if "JSON object" in str(exc) else "cannot be read"
            raise ConfigError(
                f"{path} {what} ({exc}): train the run again with `neurocim train "
                "--overwrite` and its settings"
            ) from None
        return build_config(stored, args.overrides), args.run_dir
    config = load_config(args.config, args.overrides)
    return config, _run_dir(args, config)


def _cmd_evaluate(args) -> int:
    config, run_dir = _config_of_run(args)
    return _evaluate(config, run_dir, args)


def _cmd_export(args) -> int:
    from neurocim.flow.export import check_export_flags, export_run, export_summary, export_warning

    check_export_flags(args.input_bits, args.samples)  # before anything is read or written
    config, run_dir = _config_of_run(args)
    result = export_run(
        config,
        run_dir,
        input_bits=args.input_bits,
        samples=args.samples,
        progress=not args.no_progress,
    )
    print(export_summary(result))
    warning = export_warning(result)
    if warning is not None:
        print(warning, file=sys.stderr)
    return 0


def _hw_values(pairs: list[str]) -> dict:
    """The settings of ``--hw KEY=VALUE`` pairs (values are TOML literals, bare words strings).

    Parsed with :mod:`hdl._settings` rather than :mod:`neurocim.config`, whose module imports
    the training code (and torch) that ``estimate``, ``rtl`` and ``sim`` never need.
    """
    from dataclasses import fields

    from hdl._settings import parse_override
    from hdl.hwconfig import HardwareConfig, HardwareError

    known = {f.name for f in fields(HardwareConfig)}
    values = {}
    for pair in pairs:
        keys, value = parse_override(pair, HardwareError, "--hw expects KEY=VALUE")
        if len(keys) != 1 or keys[0] not in known:
            raise HardwareError(f"--hw {pair!r}: unknown hardware key; valid keys: {sorted(known)}")
        values[keys[0]] = value
    return values


def _hardware(pairs: list[str]):
    """A HardwareConfig from ``KEY=VALUE`` pairs (TOML literals)."""
    from hdl.hwconfig import HardwareConfig

    return HardwareConfig(**_hw_values(pairs))


def _cmd_estimate(args) -> int:
    from hdl.ir import load_network
    from neurocim.flow.estimate import estimate_cost

    net = load_network(args.network)
    hw = _hardware(args.hw)
    result = estimate_cost(
        net,
        hw,
        args.network,
        driver=_driver(args, net),
        preset=args.preset,
        samples=args.samples,
        reproduce_defects=args.reproduce_defects,
        out=args.out,
        show=print,
    )
    print(f"report: {result.path}")
    return 0


def _network_arg(path: Path):
    """The network at ``path`` (a directory with network.json, or a JSON file)."""
    from hdl.ir import load_network

    if not path.exists():
        raise FileNotFoundError(
            f"no network at {path}: pass a directory written by `neurocim export` "
            "(<run>/network) or a network .json file"
        )
    return load_network(path)


def _progress(args, command: str):
    """Progress lines on stderr (``neurocim <command>: [seconds] stage``), or ``None`` with
    ``--no-progress``."""
    if args.no_progress:
        return None
    import time

    start = time.monotonic()

    def say(line: str) -> None:
        print(f"neurocim {command}: [{time.monotonic() - start:6.1f} s] {line}", file=sys.stderr)

    return say


def _cmd_rtl(args) -> int:
    from neurocim.flow.common import default_out_dir
    from neurocim.flow.rtl import write_rtl

    net = _network_arg(args.network)
    hw = _hardware(args.hw)
    out = args.out or default_out_dir(args.network, net, "rtl")
    result = write_rtl(
        net,
        out,
        hw,
        driver=_driver(args, net),
        name=args.name,
        synth=not args.synth_off,
        progress=_progress(args, "rtl"),
    )
    d, lint, syn = result.report["design"], result.report["lint"], result.report["synthesis"]
    print(
        f"rtl {net.name} -> {out}: {result.files['verilog'].name} ({d['verilog_bytes']:,} "
        f"bytes), {d['tiles']} crossbar tiles, {d['mtj_modules']} MTJ modules, "
        f"{d['cycles_per_sample']:,} cycles per sample; generated in "
        f"{result.seconds['generate']:.1f} s"
    )
    parts = [f"lint: {lint['warnings']} Verilator warnings"]
    if syn is None:
        parts.append("synthesis skipped (--no-synth)")
    else:
        parts.append(
            f"synthesis: {syn['cells']:,} cells, {syn['flip_flops']:,} flip-flop bits, "
            f"{syn['latches']} latch bits ({result.seconds['synthesis']:.1f} s)"
        )
    print("; ".join(parts))
    for note in d["notes"]:
        print(f"note: {note}")
    print(f"report: {result.files['report_md']}")
    return 0


#: Exit status of ``neurocim sim`` when the RTL equals the golden model but loses accuracy.
SIM_ACCURACY_LOSS_EXIT = 3


def _cmd_sim(args) -> int:
    from neurocim.flow import sim as sim_step
    from neurocim.flow.common import FlowError, default_out_dir
    from neurocim.flow.images import load_images
    from neurocim.flow.rtl import check_design

    net = _network_arg(args.network)
    rtl_dir = args.rtl or default_out_dir(args.network, net, "rtl")
    hw, driver, bundle = sim_step.sim_design(
        net,
        rtl_dir,
        hw_values=_hw_values(args.hw),
        pulse_ns=args.pulse_ns,
        required=args.rtl is not None,
    )
    if bundle is None:
        check_design(net, hw, driver)
    if args.simulator not in SIMULATOR_CHOICES:  # pragma: no cover - argparse checks
        raise FlowError(f"unknown simulator {args.simulator!r}")
    sim_step.check_jobs(args.jobs)
    if args.waves and args.simulator == "amaranth":
        raise FlowError("--waves needs a Verilog simulator: use --simulator icarus or verilator")
    images = load_images(
        net,
        args.images,
        data=args.data,
        data_root=args.data_root,
        network_path=args.network,
        seed=args.seed,
    )
    sim_step.check_sim_args(args.samples, args.mtj_seed, args.max_accuracy_loss)
    out = args.out or Path(rtl_dir) / "sim"
    if bundle is None:
        print(
            f"neurocim sim: no rtl bundle at {rtl_dir}: simulating a design generated now from "
            "the network and --hw (run `neurocim rtl` first to simulate the files you ship)",
            file=sys.stderr,
        )
    result, report = sim_step.run_sim(
        net,
        hw,
        images,
        out,
        samples=args.samples,
        mtj_seed=args.mtj_seed,
        driver=driver,
        simulator=args.simulator,
        waves=args.waves,
        jobs=args.jobs,
        bundle=bundle,
        network_path=args.network,
        max_accuracy_loss=args.max_accuracy_loss,
        allow_accuracy_loss=args.allow_accuracy_loss,
        progress=_progress(args, "sim"),
    )
    verdict = report["verdict"]
    what = f"{len(images.x)} {images.dataset} images x {args.samples} samples"
    design = f"bundle {bundle.path}" if bundle is not None else "a design generated now"
    if "cycles" in report:
        c = report["cycles"]
        speed = (
            f"bench {report['bench']['cycles_per_second']:,.0f} cycles/s"
            if "bench" in report
            else f"{result.cycles_per_second:,.0f} busy cycles/s"
        )
        print(
            f"sim {net.name} ({design}) on {result.simulator}: {verdict}, {what}; busy cycles "
            f"per image {sorted(set(c['per_image']))} (schedule {c['schedule']:,}); "
            f"{result.seconds:.1f} s, {speed}"
        )
        print(f"  {sim_step.accuracy_line(report['accuracy'])}")
    else:
        print(f"sim {net.name} ({design}) on {result.simulator}: {verdict}, {what}")
    for finding in result.findings[:5]:
        print(f"  {finding}")
    if len(result.findings) > 5:
        print(f"  ... {len(result.findings) - 5} more in sim.json")
    waves = report.get("bench", {}).get("waves")
    if waves:
        print(f"waves: {waves}")
    print(f"report: {Path(out) / 'sim.md'}")
    if verdict == "FAIL":
        return 1
    return SIM_ACCURACY_LOSS_EXIT if verdict == "ACCURACY LOSS" else 0


def _add_network_args(p: argparse.ArgumentParser) -> None:
    """The network file and its hardware settings, shared by estimate, rtl and sim."""
    p.add_argument("network", type=Path, help="network directory (network.json) or JSON file")
    p.add_argument(
        "--hw",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hardware setting, e.g. --hw tile_rows=256 (repeatable)",
    )
    p.add_argument(
        "--pulse-ns",
        type=float,
        default=None,
        metavar="NS",
        help="MTJ dropout write-pulse width [ns] (default: the pulse the network was trained "
        "with, from its network.json, else 10 ns)",
    )


def _driver(args, net):
    """The MTJ drive of ``--pulse-ns`` for ``net`` (:func:`neurocim.flow.common.mtj_driver`)."""
    from neurocim.flow.common import mtj_driver

    return mtj_driver(net, args.pulse_ns)


def _cmd_study(args) -> int:
    from spindrop.study import run_study

    out = args.out or Path("build/study-quick" if args.quick else "build/study")
    path = run_study(out, quick=args.quick, workers=args.workers, progress=not args.no_progress)
    print(f"results: {path}")
    return 0


#: ``neurocim search`` flags and the configuration keys they set.
_SEARCH_FLAGS = {
    "trials": "search.trials",
    "sampler": "search.sampler",
    "storage": "search.storage",
    "study": "search.study",
}


def _cmd_search(args) -> int:
    from nas.config import load_search_config
    from nas.search import run_search

    given = {k: getattr(args, k) for k in _SEARCH_FLAGS if getattr(args, k) is not None}
    overrides = list(args.overrides)
    # strings as TOML basic strings (a JSON string is one)
    toml = {k: json.dumps(v) if isinstance(v, str) else v for k, v in given.items()}
    overrides += [f"{_SEARCH_FLAGS[k]}={v}" for k, v in toml.items()]
    if args.baseline:
        overrides.append("search.baseline=true")
    try:
        config = load_search_config(args.config, overrides)
    except ValueError as exc:  # the library names the key; the user may have typed the flag
        text = str(exc)
        for k in given:
            text = text.replace(_SEARCH_FLAGS[k], f"--{k}")
        raise type(exc)(text) from None
    if args.what == "ops":
        return _search_ops(args, config)
    out = _run_dir(args, config) / "search"
    result = run_search(config, out, progress=not args.no_progress)
    win = result.winner_record
    cost = win["cost"]
    print(
        f"search {config.name}: {len(result.records)} trials, winner trial {win['number']} "
        f"(score {win['score']:.6g}, {result.score_name}): {cost['memory_bits']} weight bits, "
        f"{cost['area_mm2']:.4g} mm^2, {cost['latency_ms']:.4g} ms, {cost['energy_uj']:.4g} uJ"
    )
    if result.baseline is not None:
        from nas.report import timing

        b = timing(result)["baseline"]
        print(
            f"  baseline (score everything, filter afterwards): {b['seconds']:.3g} s, "
            f"speed-up {b['speedup']:.3g}x, same winner: {b['same_winner']}"
        )
    print(f"winner: {out / 'winner' / 'network.json'}")
    print(f"report: {out / 'report.md'}")
    return 0


def _search_ops(args, config) -> int:
    from nas.accuracy import ShortTraining
    from nas.errors import NASError
    from nas.ops_study import operation_study, write_operation_study
    from nas.scoring import resolve_score

    checks = (
        ("candidates", args.candidates, 1),
        ("epochs", args.epochs, 0),
        ("seeds", args.seeds, 1),
    )
    for flag, value, lo in checks:
        if value < lo:
            raise NASError(f"--{flag} must be an integer >= {lo}, got {value}")
    if args.workers < 1:
        raise NASError(f"--workers must be an integer >= 1, got {args.workers}")
    if not 0 <= args.tolerance < 100:
        raise NASError(f"--tolerance must be accuracy points in [0, 100), got {args.tolerance}")
    training = (
        ShortTraining(
            epochs=args.epochs,
            seeds=tuple(range(config.seed, config.seed + args.seeds)),
            dataset=config.dataset,
        )
        if args.epochs > 0
        else None
    )
    name, score = resolve_score(config.score, dataset=config.dataset)
    out = _run_dir(args, config) / "search-ops"
    tolerance = args.tolerance / 100
    rows = operation_study(
        config,
        args.candidates,
        score,
        training,
        workers=args.workers,
        cache_dir=out,
        tolerance=tolerance,
        progress=None if args.no_progress else lambda text: print(f"  {text}", flush=True),
    )
    path = write_operation_study(rows, config, name, out, training, tolerance)
    for r in rows:
        label = r["removed"] if r.get("chosen") else f"without {r['removed']}"
        line = (
            f"{label:>18}: {r['distinct_cells']:5d} cells, "
            f"{r['feasible_fraction'] * 100:3.0f} % within budget, best score within budget "
            f"{r['score_best_feasible']}"
        )
        if training is not None:
            acc = r["winner_accuracy"]
            line += ", search winner's accuracy " + ("-" if acc is None else f"{acc:.3f}")
        print(line)
    if training is not None:
        print(f"chosen operation set: {', '.join(rows[-1]['ops'])}")
    print(f"report: {path}")
    return 0


QUICK = (
    "search.trials=4",
    "train.epochs=2",
    "export.samples=2",
    "rtl.synth=false",
    "sim.images=3",
    "sim.samples=2",
)
"""``neurocim flow --quick``: a smoke run of the whole flow (its name gets ``-quick``)."""


def _cmd_flow(args) -> int:
    from neurocim.flow.config import load_flow_config
    from neurocim.flow.runner import run_flow

    overrides = list(QUICK) + list(args.overrides) if args.quick else list(args.overrides)
    flow = load_flow_config(args.config, overrides)
    if args.quick and not any(o.startswith("name=") for o in args.overrides):
        from dataclasses import replace

        flow = replace(flow, name=f"{flow.name}-quick")
    args.interrupted_hint = "run the same command again: finished steps are kept, the search "
    args.interrupted_hint += "resumes from its storage and training from its checkpoint"
    result = run_flow(
        flow,
        args.build_dir,
        from_step=args.from_step,
        to_step=args.to_step,
        progress=not args.no_progress,
    )
    args.interrupted_hint = None
    ran = [s for s, a in result.actions.items() if a == "ran"]
    skipped = [s for s, a in result.actions.items() if a == "skipped"]
    print(
        f"flow {flow.name}: ran {', '.join(ran) or 'nothing'}"
        + (f"; skipped {', '.join(skipped)} (up to date)" if skipped else "")
    )
    if (result.run_dir / "report.html").is_file() and "report" in result.actions:
        print(f"report: {result.run_dir / 'report.html'} ({result.run_dir / 'report.md'})")
    if result.verdict is not None:
        print(f"proof: {result.verdict}")
    if result.verdict == "FAIL":
        return 1
    return SIM_ACCURACY_LOSS_EXIT if result.verdict == "ACCURACY LOSS" else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurocim",
        description="neurocim: search, train, generate and verify neuromorphic CIM accelerators.",
        epilog="Each command writes its artifacts under build/<run>/; see README.md.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a (Bayesian) binary / spiking network")
    _add_config_args(p)
    p.add_argument(
        "--arch",
        type=Path,
        metavar="PATH",
        help="train an IR architecture instead of model.arch: a network.json, a directory "
        "holding one, or a search directory (its winner/network.json); sets arch.file; "
        "without --config, a train.toml beside that network.json (a search winner's: "
        "timesteps, beta, data set) is the configuration",
    )
    p.add_argument("--evaluate", action="store_true", help="evaluate right after training")
    p.add_argument(
        "--no-sweep", action="store_true", help="with --evaluate: skip the device-variation sweep"
    )
    p.add_argument(
        "--no-corruptions", action="store_true", help="with --evaluate: skip corrupted inputs"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="remove an earlier run of the same name (other settings allowed) and start over",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="uncertainty, OOD detection, corruption and variation report of a trained run",
    )
    _add_config_args(p)
    p.add_argument("--run-dir", type=Path, help="a run directory written by `neurocim train`")
    p.add_argument("--no-sweep", action="store_true", help="skip the device-variation sweep")
    p.add_argument("--no-corruptions", action="store_true", help="skip corrupted inputs")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("export", help="export a trained run to the deployable network format")
    _add_config_args(p)
    p.add_argument("--run-dir", type=Path, help="a run directory written by `neurocim train`")
    p.add_argument("--input-bits", type=int, default=8, help="bits of the chip's input pixels")
    p.add_argument("--samples", type=int, default=4, help="Monte-Carlo samples of the check")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "estimate", help="memory, area, latency and energy of a network (weights optional)"
    )
    _add_network_args(p)
    p.add_argument("--preset", choices=("default", "spikesim"), default="default")
    p.add_argument("--samples", type=int, default=1, help="Monte-Carlo samples per inference")
    p.add_argument("--out", type=Path, help="report path (default: next to the network)")
    p.add_argument(
        "--reproduce-defects",
        action="store_true",
        help="spikesim preset: reproduce the original script's known defects",
    )
    p.set_defaults(func=_cmd_estimate)

    p = sub.add_parser(
        "rtl",
        help="generate the accelerator's Verilog, manifest and macro cells; lint and synthesize",
        description="Generate the accelerator of a trained network: <name>.v, files.f, "
        "manifest.json, cells/<tile>.npy, report.json and report.md (Verilator lint, Yosys "
        "cells per component). Default output: <run>/rtl/ for a network exported into a run "
        "directory (<run>/network), else build/rtl/<network name>/.",
    )
    _add_network_args(p)
    p.add_argument("--out", type=Path, help="output directory (default: see above)")
    p.add_argument("--name", default="accelerator", help="Verilog top module name")
    p.add_argument(
        "--no-synth",
        dest="synth_off",
        action="store_true",
        help="skip the Yosys synthesis (minutes for large networks)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_rtl)

    p = sub.add_parser(
        "sim",
        help="run test images through the RTL in a simulator and check it against the golden model",
        description="Simulate the accelerator `neurocim rtl` wrote for the network (its "
        "manifest's hardware and MTJ drive, its Verilog and cell files; a design generated now "
        "when there is no bundle) on test images of the network's data set, compare outputs, "
        "spikes, cycles and events with the golden model and the accuracy with the golden "
        "model on the default hardware; writes sim.json and sim.md (default: the sim/ "
        "subdirectory of the rtl directory). Exits with 1 when RTL and golden model differ, "
        "with 3 when the accuracy loss exceeds --max-accuracy-loss.",
    )
    _add_network_args(p)
    p.add_argument("--images", type=int, default=10, help="test images to run (default 10)")
    p.add_argument("--samples", type=int, default=1, help="Monte-Carlo samples per image")
    p.add_argument(
        "--data",
        help="data set of the images (default: the one the network was trained on, from its "
        "metadata or its run's config.json)",
    )
    p.add_argument("--data-root", help="directory of the data set's files, if it needs any")
    p.add_argument("--seed", type=int, default=0, help="seed picking the test images")
    p.add_argument("--mtj-seed", type=int, default=0, help="seed of the MTJ device models")
    p.add_argument(
        "--simulator",
        choices=SIMULATOR_CHOICES,
        default=SIMULATOR_CHOICES[0],
        help="Verilog on Icarus or Verilator (cocotb), or Amaranth's simulator; auto (the "
        "default): Verilator where it is installed, else Icarus",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="simulator processes, one contiguous shard of the images each (Verilog "
        "simulators; default: the CPUs, at most one per image)",
    )
    p.add_argument("--waves", action="store_true", help="dump waves (Verilog simulators)")
    p.add_argument(
        "--rtl",
        type=Path,
        help="the `neurocim rtl` directory to simulate (default: the one `neurocim rtl` writes "
        "for the network, if it is there)",
    )
    p.add_argument(
        "--max-accuracy-loss",
        type=float,
        default=0.02,
        metavar="FRACTION",
        help="accuracy the RTL may lose against the golden model on the default hardware "
        "(default 0.02)",
    )
    p.add_argument(
        "--allow-accuracy-loss",
        action="store_true",
        help="report a larger accuracy loss but still exit with 0",
    )
    p.add_argument("--out", type=Path, help="output directory (default: see above)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_sim)

    p = sub.add_parser(
        "flow",
        help="one command from a dataset and a budget to verified Verilog",
        description="Run the named steps search -> train -> export -> estimate -> rtl -> sim "
        "-> report from one TOML file (default: the embedded digits with a default budget) "
        "into build/<name>/; finished steps whose inputs did not change are skipped, a "
        "killed run resumes.",
    )
    p.add_argument("--config", type=Path, help="flow TOML file (default: the embedded digits)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting, e.g. --set search.budget.energy_uj=0.4 (repeatable)",
    )
    from neurocim.flow.runner import STEPS

    p.add_argument("--from", dest="from_step", choices=STEPS, help="run this step and all after")
    p.add_argument(
        "--to",
        dest="to_step",
        choices=STEPS,
        help="stop after this step (--to estimate: design-space mode, no RTL)",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of every step (about 30 s)")
    p.add_argument(
        "--build-dir", type=Path, default=Path("build"), help="where the run directory goes"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_flow)

    p = sub.add_parser(
        "study", help="the SpinDrop results table: BNN vs BayBNN, MLP and CNN, on digits"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: build/study, or build/study-quick with --quick)",
    )
    p.add_argument(
        "--quick", action="store_true", help="few epochs and samples: a smoke run, not results"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel training processes",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser(
        "search",
        help="hardware-aware architecture search: constraint-first on Optuna",
        description="Search the spiking cell architecture space under a hardware budget "
        "([search.budget]: memory_bits or params, area_mm2, latency_ms, energy_uj): every "
        "candidate priced by the cost model before it is scored; writes <build>/<name>/search/ "
        "(study journal, candidates.csv/json, report.md, winner/network.json, winner/train.toml).",
    )
    p.add_argument(
        "what",
        nargs="?",
        choices=("ops",),
        help="ops: the operation study (the space without each operation in turn) instead of "
        "a search; writes <build>/<name>/search-ops/",
    )
    _add_config_args(p)
    p.add_argument("--candidates", type=int, default=24, help="ops: candidates per operation set")
    p.add_argument(
        "--epochs",
        type=int,
        default=4,
        help="ops: train every candidate this many epochs (one fixed short budget, no dropout) "
        "for the accuracy side; 0: cost and score only",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="ops: parallel training processes",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=2,
        help="ops: trainings per architecture (seeds from the config's seed on); the accuracy "
        "is their mean",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        help="ops: accuracy points an operation's removal may lose and still be dropped",
    )
    p.add_argument("--storage", help="Optuna storage URL (default: a journal file in the run)")
    p.add_argument("--study", help="study name; workers with one name share the study")
    p.add_argument("--trials", type=int, help="finished trials the study should hold")
    p.add_argument("--sampler", choices=("random", "tpe", "nsga2"), help="candidate sampler")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also score every candidate and filter afterwards (SNASNet's order), timed",
    )
    p.set_defaults(func=_cmd_search)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors caused by the user's input or environment: one line, not a traceback."""
    from hdl.errors import NeurocimError

    return (NeurocimError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _limit_threads()
    try:
        return args.func(args)
    except _user_errors() as exc:
        if args.debug:
            raise
        print(f"neurocim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        hint = getattr(args, "interrupted_hint", None)
        print("neurocim: interrupted" + (f": {hint}" if hint else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
