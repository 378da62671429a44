"""`neurocim rtl` and `neurocim sim` (neurocim.flow.rtl, neurocim.flow.sim) and the hierarchical
synthesis report (hdl.rtl.report), on small hand-made networks."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron, load_network, save_network
from hdl.mapping import map_network, schedule
from hdl.rtl.accelerator import tile_cells
from hdl.rtl.plan import plan_accelerator
from hdl.rtl.report import accelerator_components, hierarchy_stats, module_groups
from neurocim.cli import main
from neurocim.flow import rtl as rtl_step
from neurocim.flow import sim as sim_step
from neurocim.flow.common import INCOMPLETE, network_digest
from neurocim.flow.images import load_images

HW = {
    "tile_rows": 32,
    "tile_cols": 16,
    "adc_bits": 4,
    "columns_per_adc": 4,
    "lif_units": 4,
}
HW_ARGS = [arg for key, value in HW.items() for arg in ("--hw", f"{key}={value}")]


def tiny_network(metadata: dict | None = None, weights: bool = True) -> Network:
    """64 inputs (the 8x8 digits at 2 bits) -> 12 LIF neurons with MTJ dropout -> 3 outputs."""
    rng = np.random.default_rng(7)
    net = Network(
        "tiny",
        InputSpec((1, 8, 8), bits=2),
        (
            Layer(
                "fc1",
                (
                    Edge(
                        "linear",
                        "input",
                        weight=rng.choice([-1, 1], (12, 64)),
                        dropout=DropoutSpec(0.3, modules=3),
                    ),
                ),
                (12,),
                neuron=Neuron(threshold=np.full(12, 3), leak_shift=2),
                bias=rng.integers(-2, 3, 12),
            ),
            Layer("out", (Edge("linear", "fc1", weight=rng.choice([-1, 1], (3, 12))),), (3,)),
        ),
        timesteps=2,
        metadata=metadata or {},
    ).validate()
    return net if weights else net.architecture()


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch) -> None:
    """Every test runs in its own directory: `sim` of a loose network looks for the bundle
    `rtl` writes by default (build/rtl/<name>/, relative to the working directory)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def net_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tiny"
    save_network(tiny_network(), path)
    return path


def _one_line_error(capsys, message: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("neurocim: error:"), err
    assert err.count("\n") == 1, err
    assert message.lower() in err.lower(), err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- neurocim rtl


def test_rtl_writes_the_artifacts_byte_identically(net_dir, tmp_path, capsys):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["rtl", str(net_dir), *HW_ARGS, "--out", str(out), "--no-synth"]) == 0
    assert "0 Verilator warnings" in capsys.readouterr().out
    a, b = outs
    names = ["accelerator.v", "files.f", "manifest.json"]
    names += [f"cells/{p.name}" for p in sorted((a / "cells").iterdir())]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    reports = [json.loads((out / "report.json").read_text()) for out in outs]
    assert {k: v for k, v in reports[0].items() if k != "timing_s"} == {
        k: v for k, v in reports[1].items() if k != "timing_s"
    }
    assert reports[0]["lint"]["warnings"] == 0 and reports[0]["synthesis"] is None
    assert reports[0]["hardware"] == asdict(HardwareConfig(**HW))
    assert reports[0]["mtj_driver"]["pulse_ns"] == 10.0
    assert "tile_rows=32" in (a / "report.md").read_text()
    assert (a / "files.f").read_text() == "accelerator.v\n"
    assert "module accelerator(" in (a / "accelerator.v").read_text()

    net, hw = load_network(net_dir), HardwareConfig(**HW)
    manifest = json.loads((a / "manifest.json").read_text())
    acc = plan_accelerator(net, hw)
    assert manifest["schedule"]["cycles_per_sample"] == schedule(net, hw).cycles
    assert manifest["network"]["sha256"] == network_digest(net)
    assert manifest["hardware"]["tile_rows"] == 32
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["pixels__payload"] == {
        "name": "pixels__payload",
        "direction": "input",
        "width": 2 * hw.pixels_per_transfer,  # 2-bit pixels, K lanes
        "signed": False,
    }
    assert ports["counts__valid"]["direction"] == "output" and "clk" in ports
    # exactly the ports the Verilog declares, with their directions and widths
    assert _verilog_ports((a / "accelerator.v").read_text(), "accelerator") == {
        name: (p["direction"], p["width"]) for name, p in ports.items()
    }
    assert len(ports) == len(manifest["ports"])
    assert len(manifest["tiles"]) == len(acc.tiles) == 2 * 2 + 1  # 64 rows / 32, 24 cols / 16
    for entry, tile in zip(manifest["tiles"], acc.tiles, strict=True):
        cells = np.load(a / entry["cells"])
        assert cells.dtype == np.int64 and list(cells.shape) == entry["cells_shape"]
        np.testing.assert_array_equal(cells, tile_cells(net, tile, hw))
    assert [m["name"] for m in manifest["mtj_modules"]] == [f"mtj_l0_e0_m{i}" for i in range(3)]
    assert all(0 < m["code"] < 256 for m in manifest["mtj_modules"])
    assert manifest["mapping"]["tiles"] == 5


def _verilog_ports(verilog: str, top: str) -> dict[str, tuple[str, int]]:
    """The ``input`` / ``output`` declarations of module ``top``: name -> (direction, width)."""
    body = verilog[verilog.index(f"module {top}(") :]
    body = body[: body.index("endmodule")]
    decl = re.compile(r"^\s*(input|output)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?(\w+);", re.M)
    return {m[3]: (m[1], int(m[2]) + 1 if m[2] else 1) for m in decl.finditer(body)}


def test_rtl_stale_cell_files_are_removed(net_dir, tmp_path):
    out = tmp_path / "out"
    (out / "cells").mkdir(parents=True)
    (out / "cells" / "xbar_l9_e0_r0_c0.npy").write_bytes(b"old")
    assert main(["rtl", str(net_dir), *HW_ARGS, "--out", str(out), "--no-synth"]) == 0
    assert not (out / "cells" / "xbar_l9_e0_r0_c0.npy").exists()
    assert len(list((out / "cells").iterdir())) == 5


def test_rtl_synthesis_reports_cells_per_component(net_dir, tmp_path):
    out = tmp_path / "out"
    args = ["rtl", str(net_dir), *HW_ARGS, "--out", str(out), "--name", "tiny_acc"]
    assert main(args) == 0
    assert (out / "tiny_acc.v").is_file()
    report = json.loads((out / "report.json").read_text())
    syn = report["synthesis"]
    assert syn["latches"] == 0 and syn["flip_flops"] > 0
    kinds = {r["kind"]: r for r in syn["components"]}
    assert any(k.startswith("top level") for k in kinds)
    assert any(k.startswith("LIF array") for k in kinds)
    assert kinds["LIF unit"]["instances"] == HW["lif_units"]
    assert kinds["MTJ dropout module controller"]["instances"] == 3
    assert sum(r["cells"] for r in syn["components"]) == syn["cells"]
    assert sum(r["flip_flops"] for r in syn["components"]) == syn["flip_flops"]
    top = syn["modules"][0]
    assert top["name"] == "tiny_acc" and top["total_cells"] == syn["cells"]
    assert sum(syn["registers"].values()) == top["flip_flops"]
    md = (out / "report.md").read_text()
    assert "## Cells per component" in md and "`tiny_acc.lif_l0`" in md
    # the four LIF units and three MTJ controllers are one row each, not one per module
    rows = md[md.index("## Modules of the hierarchy") :].split("\n")
    units = [r for r in rows if "tiny_acc.lif_l0.unit" in r]
    assert units == [r for r in rows if r.startswith("| `tiny_acc.lif_l0.unit{0..3}` | 4 | 1 |")]
    assert len(units) == 1
    assert len([r for r in rows if ".module" in r]) == 1
    assert len([r for r in rows if r.startswith("| `")]) < len(syn["modules"])


def test_rtl_default_output_directories(tmp_path, monkeypatch):
    run = tmp_path / "run"
    save_network(tiny_network(), run / "network")
    (run / "config.json").write_text(json.dumps({"data": {"dataset": "digits"}}))
    assert main(["rtl", str(run / "network"), *HW_ARGS, "--no-synth"]) == 0
    assert (run / "rtl" / "accelerator.v").is_file()

    monkeypatch.chdir(tmp_path)
    save_network(tiny_network(), tmp_path / "loose")
    assert main(["rtl", "loose/network.json", *HW_ARGS, "--no-synth"]) == 0
    assert (tmp_path / "build" / "rtl" / "tiny" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/network"], "no network at"),
        (["{net}", "--hw", "tile_rowz=64"], "unknown hardware key"),
        (["{net}", "--hw", "tile_rows=0"], "tile_rows must be"),
        (
            ["{net}", "--hw", "pixels_per_transfer=0"],
            "pixels_per_transfer must be an integer in 1..4096",
        ),
        (["{net}", "--hw", "pixels_per_transfer=x"], "pixels_per_transfer must be an integer in"),
        (["{net}", "--name", "9lives"], "identifier"),
        (["{arch}"], "no weights"),
    ],
)
def test_rtl_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    save_network(tiny_network(), tmp_path / "net")
    save_network(tiny_network(weights=False), tmp_path / "arch")
    args = [a.format(net=tmp_path / "net", arch=tmp_path / "arch") for a in args]
    assert main(["rtl", *args, "--out", str(tmp_path / "out"), "--no-synth"]) == 2
    _one_line_error(capsys, message)


def test_rtl_fails_loudly_on_latches(net_dir, tmp_path, capsys, monkeypatch):
    import hdl.rtl.report as report

    latchy = (
        "module latchy(input wire en, input wire [3:0] d, output reg [3:0] q);\n"
        "  always @* begin\n    if (en)\n      q = d;\n  end\nendmodule\n"
    )
    stats = hierarchy_stats(latchy, "latchy")
    assert stats.latches == 4 and stats.latch_modules() == ["latchy"]
    monkeypatch.setattr(report, "hierarchy_stats", lambda *a, **k: stats)
    out = tmp_path / "out"
    assert main(["rtl", str(net_dir), *HW_ARGS, "--out", str(out), "--no-progress"]) == 2
    _one_line_error(capsys, "4 latch bits")
    assert "| 4 |" in (out / "report.md").read_text()  # the report is written first


# ----------------------------------------------------------------------------- hierarchy


def test_hierarchy_stats_counts_instances_and_subtrees():
    verilog = """\
module leaf(input wire clk, input wire [3:0] d, output reg [3:0] q);
  always @(posedge clk) q <= d + 4'd1;
endmodule
module mid(input wire clk, input wire [3:0] d, output wire [3:0] q);
  wire [3:0] t;
  leaf a(.clk(clk), .d(d), .q(t));
  leaf b(.clk(clk), .d(t), .q(q));
endmodule
module top(input wire clk, input wire [3:0] d, output reg [3:0] q);
  wire [3:0] x, y;
  mid m0(.clk(clk), .d(d), .q(x));
  mid m1(.clk(clk), .d(x), .q(y));
  always @(posedge clk) q <= y ^ d;
endmodule
"""
    stats = hierarchy_stats(verilog, "top")
    assert [m.name for m in stats.modules] == ["top", "mid", "leaf"]
    leaf, mid, top = stats.module("leaf"), stats.module("mid"), stats.module("top")
    assert (leaf.instances, mid.instances, top.instances) == (4, 2, 1)
    assert leaf.flip_flops == 4 and mid.flip_flops == 0 and mid.submodules == {"leaf": 2}
    assert mid.total_cells == 2 * leaf.total_cells
    assert top.total_cells == top.cells + 2 * mid.total_cells == stats.cells
    assert stats.flip_flops == 4 * 4 + 4 and stats.latches == 0
    assert stats.registers == {"q": 4}
    rows = accelerator_components(stats)  # names unknown to the accelerator's patterns
    assert [r.kind.split(":")[0] for r in rows] == ["top level", "other"]
    assert sum(r.cells for r in rows) == stats.cells


def test_module_groups_merge_numbered_modules_with_equal_counts():
    def mod(name: str, cells: int, instances: int = 1) -> dict:
        return {
            "name": name,
            "instances": instances,
            "cells": cells,
            "total_cells": cells,
            "total_flip_flops": 2,
            "total_latches": 0,
        }

    modules = [mod("top", 50)]
    modules += [mod(f"top.mask_l0_e0.module{i}", 7) for i in range(912)]
    modules += [mod("top.lif_l0.unit0", 9), mod("top.lif_l0.unit1", 9), mod("top.lif_l0.unit2", 8)]
    modules += [mod("top.lif_l1.unit0", 9), mod("top.lif_l1.unit5", 9)]
    groups = module_groups(modules)
    assert [(g["name"], g["modules"]) for g in groups] == [
        ("top", 1),
        ("top.mask_l0_e0.module{0..911}", 912),
        ("top.lif_l{0,1}.unit{0,1,5}", 4),  # equal counts, whichever layer
        ("top.lif_l0.unit2", 1),  # different cells: a row of its own
    ]
    assert sum(g["modules"] for g in groups) == len(modules)
    assert groups[1]["names"][-1] == "top.mask_l0_e0.module911" and groups[1]["cells"] == 7


# ----------------------------------------------------------------------------- neurocim sim


def test_sim_amaranth_passes_with_the_runs_data_set(tmp_path, capsys):
    run = tmp_path / "run"
    save_network(tiny_network(), run / "network")
    (run / "config.json").write_text(json.dumps({"data": {"dataset": "digits", "root": None}}))
    args = ["sim", str(run / "network"), *HW_ARGS, "--simulator", "amaranth"]
    assert main([*args, "--images", "2", "--samples", "2", "--mtj-seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "2 digits images x 2 samples" in out
    report = json.loads((run / "rtl" / "sim" / "sim.json").read_text())
    assert report["ok"] is True and report["findings"] == []
    assert report["data"]["dataset"] == "digits" and "config.json" in report["data"]["source"]
    assert len(report["data"]["indices"]) == 2 and report["samples"] == 2
    net, hw = load_network(run / "network"), HardwareConfig(**HW)
    assert report["cycles"]["per_image"] == [schedule(net, hw, 2).cycles] * 2
    assert report["cycles"]["equal"] is True
    events = report["events"]
    assert set(events["rtl"]) == set(events["schedule"])  # the golden model also counts spikes
    assert all(v == events["golden"][k] == events["schedule"][k] for k, v in events["rtl"].items())
    assert np.asarray(report["outputs"]["rtl"]).shape == (2, 2, 3)
    assert report["outputs"]["rtl"] == report["outputs"]["golden"]
    assert report["cycles_per_second"] > 0
    assert "PASS" in (run / "rtl" / "sim" / "sim.md").read_text()


def test_sim_icarus_passes_with_the_networks_metadata(tmp_path, capsys):
    path = tmp_path / "net"
    save_network(tiny_network(metadata={"dataset": "digits"}), path)
    out = tmp_path / "sim"
    args = ["sim", str(path), *HW_ARGS, "--images", "1", "--out", str(out)]
    assert main([*args, "--simulator", "icarus", "--jobs", "1"]) == 0
    report = json.loads((out / "sim.json").read_text())
    assert report["ok"] is True and report["simulator"] == "icarus"
    assert report["data"]["source"] == "the network's metadata"
    assert report["bench"]["cycles"] >= report["cycles"]["schedule"]
    assert (out / "build").is_dir()


def test_sim_catches_a_corrupted_design(tmp_path, capsys, monkeypatch):
    net, hw = tiny_network(), HardwareConfig(**HW)
    fc1 = net.layers[0]
    neuron = replace(fc1.neuron, threshold=fc1.neuron.threshold + 1)
    corrupt = replace(net, layers=(replace(fc1, neuron=neuron), *net.layers[1:])).validate()
    # images on which the higher threshold loses a spike under the masks of MTJ seed 0
    x = np.random.default_rng(1).integers(0, 4, (2, 1, 8, 8))
    result = sim_step.simulate(net, hw, x, simulator="amaranth", rtl_net=corrupt)
    assert not result.ok and result.findings[0].startswith("layer 'fc1' differs")
    assert result.verdict.golden.outputs.shape == (1, 2, 3)

    path = tmp_path / "net"
    save_network(net, path)
    monkeypatch.setattr(sim_step, "run_sim", functools.partial(sim_step.run_sim, rtl_net=corrupt))
    args = ["sim", str(path), *HW_ARGS, "--simulator", "amaranth", "--data", "digits"]
    assert main([*args, "--images", "2", "--out", str(tmp_path / "sim")]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "layer 'fc1' differs" in out
    report = json.loads((tmp_path / "sim" / "sim.json").read_text())
    assert report["ok"] is False and report["findings"]
    assert "FAIL" in (tmp_path / "sim" / "sim.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{net}"], "pass --data"),
        (["{net}", "--data", "imagenet"], "unknown data set"),
        (["{small}", "--data", "digits"], "has images of shape (1, 8, 8)"),
        (["{net}", "--data", "digits", "--images", "100000"], "at most 360"),
        (["{net}", "--data", "digits", "--samples", "0"], "--samples must be"),
        (["{net}", "--data", "digits", "--waves"], "--waves needs a Verilog simulator"),
        (["{net}", "--data", "digits", "--jobs", "0"], "--jobs must be an integer >= 1"),
        (["{arch}", "--data", "digits"], "no weights"),
        (["{net}", "--hw", "lif_unitz=2"], "unknown hardware key"),
        (["/nonexistent.json"], "no network at"),
    ],
)
def test_sim_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    save_network(tiny_network(), tmp_path / "net")
    save_network(tiny_network(weights=False), tmp_path / "arch")
    small = Network(
        "small",
        InputSpec((1, 4, 4), bits=2),
        (Layer("out", (Edge("linear", "input", weight=np.ones((2, 16), np.int64)),), (2,)),),
    ).validate()
    save_network(small, tmp_path / "small")
    paths = {k: tmp_path / k for k in ("net", "arch", "small")}
    args = [a.format(**paths) for a in args]
    assert main(["sim", *args, "--out", str(tmp_path / "out"), "--simulator", "amaranth"]) == 2
    _one_line_error(capsys, message)


def test_sim_a_failed_simulation_is_a_failed_check(tmp_path, capsys, monkeypatch):
    import sim.cosim
    from sim.runner import SimulationError

    def hang(*args, **kwargs):
        raise SimulationError("busy stayed high for 4x the schedule's cycles")

    monkeypatch.setattr(sim.cosim, "run_cosim", hang)
    path = tmp_path / "net"
    save_network(tiny_network(metadata={"dataset": "digits"}), path)
    assert main(["sim", str(path), *HW_ARGS, "--images", "1", "--out", str(tmp_path / "s")]) == 1
    assert "FAIL" in capsys.readouterr().out
    report = json.loads((tmp_path / "s" / "sim.json").read_text())
    assert report["ok"] is False and "busy stayed high" in report["findings"][0]


# ----------------------------------------------------------------------------- no torch


_IMPORT_PROBE = """
import json, sys
from neurocim.cli import main
rc = main(sys.argv[2:])
json.dump({"rc": rc, "torch": "torch" in sys.modules}, open(sys.argv[1], "w"))
"""


def _run_without_torch(tmp_path: Path, args: list[str]) -> dict:
    """Run ``neurocim ARGS`` in a fresh interpreter; whether it returned 0 and imported torch."""
    import subprocess
    import sys

    probe = tmp_path / "probe.json"
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(probe), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and probe.is_file(), proc.stderr
    return json.loads(probe.read_text())


@pytest.mark.parametrize("command", ["estimate", "rtl"])
def test_estimate_and_rtl_never_import_torch(net_dir, tmp_path, command):
    extra = ["--no-synth"] if command == "rtl" else []
    out = tmp_path / ("out" if command == "rtl" else "cost.json")
    result = _run_without_torch(
        tmp_path, [command, str(net_dir), *HW_ARGS, "--out", str(out), *extra]
    )
    assert result == {"rc": 0, "torch": False}


def test_sim_never_imports_torch(tmp_path):
    path = tmp_path / "net"
    save_network(tiny_network(metadata={"dataset": "digits"}), path)
    args = ["sim", str(path), *HW_ARGS, "--simulator", "amaranth", "--images", "1"]
    result = _run_without_torch(tmp_path, [*args, "--out", str(tmp_path / "sim")])
    assert result == {"rc": 0, "torch": False}


# ----------------------------------------------------------------------------- the bundle


def _bundle(net_dir: Path, out: Path, *args: str) -> Path:
    rtl = ["rtl", str(net_dir), *HW_ARGS, "--out", str(out), "--no-synth", "--no-progress"]
    assert main([*rtl, *args]) == 0
    return out


def test_sim_simulates_the_rtl_bundle_with_its_hardware(tmp_path, capsys):
    path = tmp_path / "net"
    save_network(tiny_network(metadata={"dataset": "digits"}), path)
    rtl = _bundle(path, tmp_path / "rtl", "--name", "tiny_acc", "--pulse-ns", "20")
    # no --hw and no --pulse-ns: the bundle's 32-row tiles and 20 ns pulse, its own Verilog
    assert main(["sim", str(path), "--rtl", str(rtl), "--images", "1", "--no-progress"]) == 0
    report = json.loads((rtl / "sim" / "sim.json").read_text())
    manifest = json.loads((rtl / "manifest.json").read_text())
    assert report["verdict"] == "PASS" and report["hardware"] == manifest["hardware"]
    assert report["hardware"]["tile_rows"] == 32 and report["mtj_driver"]["pulse_ns"] == 20.0
    rtl_report = json.loads((rtl / "report.json").read_text())
    assert report["design"]["sha256"] == rtl_step.bundle_digest(rtl)
    assert report["design"]["sha256"] == rtl_report["bundle"]["sha256"]
    assert report["design"]["path"] == str(rtl.resolve()) and report["design"]["top"] == "tiny_acc"
    sim_md = (rtl / "sim" / "sim.md").read_text()
    assert report["design"]["sha256"] in sim_md and "tile_rows=32" in sim_md
    # the macros are programmed with the bundle's cell files: damaged cells fail the check
    cells = rtl / manifest["tiles"][0]["cells"]
    np.save(cells, np.zeros_like(np.load(cells)))
    assert main(["sim", str(path), "--rtl", str(rtl), "--images", "2", "--no-progress"]) == 1
    assert json.loads((rtl / "sim" / "sim.json").read_text())["verdict"] == "FAIL"


def test_sim_finds_the_bundle_rtl_wrote_by_default(tmp_path, capsys):
    run = tmp_path / "run"
    save_network(tiny_network(), run / "network")
    (run / "config.json").write_text(json.dumps({"data": {"dataset": "digits"}}))
    assert main(["rtl", str(run / "network"), *HW_ARGS, "--no-synth", "--no-progress"]) == 0
    args = ["sim", str(run / "network"), "--simulator", "amaranth", "--images", "1"]
    args.append("--no-progress")
    assert main(args) == 0
    capsys.readouterr()
    report = json.loads((run / "rtl" / "sim" / "sim.json").read_text())
    assert report["design"]["path"] == str((run / "rtl").resolve())
    assert report["hardware"] == asdict(HardwareConfig(**HW))
    # Amaranth's simulator stands in for the bundle only while its Verilog is the bundle's
    verilog = run / "rtl" / "accelerator.v"
    verilog.write_text(
        verilog.read_text().replace("module accelerator(", "module accelerator (", 1)
    )
    assert main(args) == 2
    _one_line_error(capsys, "cannot stand in for it")


def test_pipelined_adcs_from_the_command_line_through_the_bundle(net_dir, tmp_path, capsys):
    """--hw adc_pipelined=true: the manifest records it, the design runs the shorter schedule
    and passes the check on the bundle's own hardware; the serial option contradicts it."""
    rtl = _bundle(net_dir, tmp_path / "rtl", "--hw", "adc_pipelined=true")
    manifest = json.loads((rtl / "manifest.json").read_text())
    assert manifest["hardware"]["adc_pipelined"] is True
    hw = HardwareConfig(**manifest["hardware"])
    assert hw == HardwareConfig(**HW, adc_pipelined=True)
    net = load_network(net_dir)
    serial = schedule(net, HardwareConfig(**HW, adc_pipelined=False))
    pipelined = schedule(net, hw)
    assert pipelined.cycles < serial.cycles
    assert all(t["conversion_cycles"] == 1 for t in manifest["tiles"])
    args = ["sim", str(net_dir), "--rtl", str(rtl), "--data", "digits", "--images", "1"]
    assert main([*args, "--simulator", "amaranth", "--no-progress"]) == 0
    report = json.loads((rtl / "sim" / "sim.json").read_text())
    assert report["verdict"] == "PASS" and report["hardware"]["adc_pipelined"] is True
    capsys.readouterr()
    bad = [*args, "--hw", "adc_pipelined=false", "--simulator", "amaranth"]
    assert main(bad) == 2
    _one_line_error(capsys, "generated with adc_pipelined=True")


def test_double_buffered_masks_from_the_command_line_through_the_bundle(net_dir, tmp_path, capsys):
    """--hw mask_double_buffer=true: the manifest records it; 3 samples of the bundle's design
    take F + 2 * max(C, F) + C cycles (fewer than 3 * (F + C)) and pass the check on the
    bundle's own hardware; the single-buffered option contradicts it."""
    rtl = _bundle(net_dir, tmp_path / "rtl", "--hw", "mask_double_buffer=true")
    manifest = json.loads((rtl / "manifest.json").read_text())
    assert manifest["hardware"]["mask_double_buffer"] is True
    hw = HardwareConfig(**manifest["hardware"])
    assert hw == HardwareConfig(**HW, mask_double_buffer=True)
    net = load_network(net_dir)
    single_hw = HardwareConfig(**HW, mask_double_buffer=False)
    mp = map_network(net, single_hw)
    fill, compute = mp.fill_cycles, mp.compute_cycles
    assert fill > 0
    double = schedule(net, hw, samples=3)
    assert double.cycles == fill + 2 * max(compute, fill) + compute
    assert double.cycles < schedule(net, single_hw, samples=3).cycles
    args = ["sim", str(net_dir), "--rtl", str(rtl), "--data", "digits", "--images", "1"]
    assert main([*args, "--samples", "3", "--simulator", "amaranth", "--no-progress"]) == 0
    report = json.loads((rtl / "sim" / "sim.json").read_text())
    assert report["verdict"] == "PASS" and report["hardware"]["mask_double_buffer"] is True
    capsys.readouterr()
    bad = [*args, "--hw", "mask_double_buffer=false", "--simulator", "amaranth"]
    assert main(bad) == 2
    _one_line_error(capsys, "generated with mask_double_buffer=True")


@pytest.mark.parametrize("option", ["overlap_reads", "pipeline_layers"])
def test_schedule_option_from_the_command_line_through_the_bundle(
    option, net_dir, tmp_path, capsys
):
    """--hw overlap_reads=true / pipeline_layers=true: the manifest records it, the design runs
    the shorter schedule (the manifest's cycles those of the mapping) and passes the check on
    the bundle's own hardware; the option off contradicts it."""
    rtl = _bundle(net_dir, tmp_path / "rtl", "--hw", f"{option}=true")
    manifest = json.loads((rtl / "manifest.json").read_text())
    assert manifest["hardware"][option] is True
    hw = HardwareConfig(**manifest["hardware"])
    assert hw == HardwareConfig(**HW, **{option: True})
    net = load_network(net_dir)
    plain = HardwareConfig(**HW, **{option: False})
    assert schedule(net, hw).cycles < schedule(net, plain).cycles
    assert manifest["schedule"]["cycles_per_sample"] == map_network(net, hw).cycles_per_sample
    args = ["sim", str(net_dir), "--rtl", str(rtl), "--data", "digits", "--images", "1"]
    assert main([*args, "--simulator", "amaranth", "--no-progress"]) == 0
    report = json.loads((rtl / "sim" / "sim.json").read_text())
    assert report["verdict"] == "PASS" and report["hardware"][option] is True
    capsys.readouterr()
    bad = [*args, "--hw", f"{option}=false", "--simulator", "amaranth"]
    assert main(bad) == 2
    _one_line_error(capsys, f"generated with {option}=True")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hw", "tile_rows=64"], "--hw tile_rows=64 contradicts the rtl bundle"),
        (["--hw", "tile_rows=64"], "generated with tile_rows=32: rerun `neurocim rtl`"),
        (["--hw", "clock_mhz=100"], "generated with clock_mhz=200.0"),
        (["--pulse-ns", "20"], "--pulse-ns 20 contradicts the rtl bundle"),
        (["--pulse-ns", "20"], "or drop the flag"),
    ],
)
def test_sim_refuses_flags_that_contradict_the_bundle(net_dir, tmp_path, capsys, flags, message):
    rtl = _bundle(net_dir, tmp_path / "rtl")
    args = ["sim", str(net_dir), "--rtl", str(rtl), "--data", "digits", *flags]
    assert main([*args, "--simulator", "amaranth", "--images", "1"]) == 2
    _one_line_error(capsys, message)
    assert not (rtl / "sim").exists()


def test_sim_accepts_flags_that_agree_with_the_bundle(net_dir, tmp_path):
    rtl = _bundle(net_dir, tmp_path / "rtl")
    args = ["sim", str(net_dir), "--rtl", str(rtl), "--data", "digits", *HW_ARGS]
    assert main([*args, "--pulse-ns", "10", "--simulator", "amaranth", "--images", "1"]) == 0


def test_sim_refuses_a_bundle_it_cannot_trust(net_dir, tmp_path, capsys):
    rtl = _bundle(net_dir, tmp_path / "rtl")
    other = tmp_path / "other"
    net = tiny_network()
    save_network(
        replace(net, layers=(replace(net.layers[0], bias=net.layers[0].bias + 1), net.layers[1])),
        other,
    )
    base = ["--data", "digits", "--simulator", "amaranth", "--images", "1"]
    assert main(["sim", str(other), "--rtl", str(rtl), *base]) == 2
    _one_line_error(capsys, "generated for another network")
    assert main(["sim", str(net_dir), "--rtl", str(tmp_path / "nothing"), *base]) == 2
    _one_line_error(capsys, "no rtl bundle at")
    (rtl / INCOMPLETE).write_text("killed")
    assert main(["sim", str(net_dir), "--rtl", str(rtl), *base]) == 2
    _one_line_error(capsys, "is incomplete")


def test_sim_without_a_bundle_says_it_generates_one(net_dir, tmp_path, capsys):
    out = tmp_path / "sim"
    args = ["sim", str(net_dir), *HW_ARGS, "--data", "digits", "--simulator", "amaranth"]
    assert main([*args, "--images", "1", "--out", str(out), "--no-progress"]) == 0
    assert "no rtl bundle at" in capsys.readouterr().err
    report = json.loads((out / "sim.json").read_text())
    assert report["design"]["source"].startswith("generated by neurocim sim")
    assert report["hardware"] == asdict(HardwareConfig(**HW))


# ----------------------------------------------------------------------------- progress


def test_rtl_and_sim_report_progress_per_stage(net_dir, tmp_path, capsys):
    lines: list[str] = []
    net, hw = load_network(net_dir), HardwareConfig(**HW)
    rtl_step.write_rtl(net, tmp_path / "rtl", hw, progress=lines.append)
    stages = ["generating the accelerator", "writing accelerator.v", "lint", "synthesis"]
    for stage, line in zip(stages, lines, strict=False):
        assert line.startswith(stage), lines
    assert lines[-1].startswith("synthesis done in")
    lines.clear()
    bundle = rtl_step.read_bundle(tmp_path / "rtl")
    images = load_images(net, 2, data="digits")
    sim_step.run_sim(
        net,
        bundle.hw,
        images,
        tmp_path / "sim",
        bundle=bundle,
        progress=lines.append,
        simulator="icarus",
        jobs=2,
    )
    want = "building the Verilog with icarus, then 2 image(s) x 1 sample(s) in 2 process(es)"
    assert lines[0] == want
    assert lines[-2:] == [
        "comparing with the golden model",
        "accuracy against the labels and the default-hardware reference",
    ]
    # on the command line they go to stderr, unless --no-progress
    capsys.readouterr()
    args = ["rtl", str(net_dir), *HW_ARGS, "--out", str(tmp_path / "b"), "--no-synth"]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(ln.startswith("neurocim rtl: [") for ln in err)
    assert main([*args, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_a_layer_nobody_reads_is_noted_in_the_rtl_report(tmp_path, capsys):
    from dataclasses import replace

    rng = np.random.default_rng(3)
    base = tiny_network()
    side = Layer(
        "side",
        (Edge("linear", "input", weight=rng.choice([-1, 1], (4, 64))),),
        (4,),
        neuron=Neuron(threshold=np.full(4, 2)),
    )
    net = replace(base, layers=(base.layers[0], side, base.layers[1])).validate()
    save_network(net, tmp_path / "net")
    out = tmp_path / "rtl"
    assert main(["rtl", str(tmp_path / "net"), *HW_ARGS, "--out", str(out), "--no-synth"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert any("'side' is read by no edge" in n for n in report["design"]["notes"])
    md = (out / "report.md").read_text()
    assert "## Notes on the mapping" in md and "'side' is read by no edge" in md
    assert "note: layer 'side' is read by no edge" in capsys.readouterr().out
