from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Value

import sim.runner
from hdl.rtl import emit_verilog
from hdl.rtl.crossbar import CrossbarTileDriver, crossbar_driver_verilog
from sim.runner import SimResult, SimulationError, SimulatorNotFound, run_cocotb

CONFIGS = [  # rows, cols, adc_bits, cell_max, latency
    (16, 4, 4, 3, 1),
    (9, 3, 3, 1, 3),
    (24, 5, 6, 7, 6),
]
IDS = ["r{}-c{}-adc{}-cell{}-lat{}".format(*c) for c in CONFIGS]


def params(config: tuple[int, int, int, int, int], reads: int = 40, **extra: int) -> dict:
    rows, cols, adc_bits, cell_max, latency = config
    cells = np.random.default_rng(rows).integers(0, cell_max + 1, size=(rows, cols))
    cells[:, 0] = cell_max  # column 0 saturates with all rows on
    return dict(
        rows=rows,
        cols=cols,
        adc_bits=adc_bits,
        latency=latency,
        cells=cells.tolist(),
        reads=reads,
        seed=rows + latency,
        **extra,
    )


def run_bench(verilog: str, p: dict, build_dir: Path) -> SimResult:
    return run_cocotb(
        verilog,
        toplevel="crossbar_tile_driver",
        test_module="sim.tb_crossbar",
        params=p,
        build_dir=build_dir,
    )


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_verilog_driver_with_cocotb_macro(config: tuple, tmp_path: Path) -> None:
    p = params(config)
    assert np.array(p["cells"]).sum(axis=0).max() > 2 ** p["adc_bits"] - 1  # saturation occurs
    verilog = crossbar_driver_verilog(rows=p["rows"], cols=p["cols"], adc_bits=p["adc_bits"])
    result = run_bench(verilog, p, tmp_path)
    assert (result.tests, result.failed) == (1, 0)
    assert (tmp_path / "crossbar_tile_driver.v").read_text() == verilog


class CapturesEarly(CrossbarTileDriver):
    """A deliberately broken driver: captures the codes (garbage) one cycle after the read."""

    def _answer(self) -> Value:
        return Value.cast(1)


def test_bench_catches_a_broken_driver(tmp_path: Path) -> None:
    p = params(CONFIGS[1], reads=5)
    broken = emit_verilog(
        CapturesEarly(rows=p["rows"], cols=p["cols"], adc_bits=p["adc_bits"]),
        name="crossbar_tile_driver",
    )
    with pytest.raises(SimulationError) as info:
        run_bench(broken, p, tmp_path)
    message = str(info.value)
    assert "1 of 1 cocotb tests of sim.tb_crossbar failed" in message
    assert "read 0: busy low in cycle 2 after start" in message  # done a cycle early


def test_bench_catches_a_wrong_macro_model(tmp_path: Path) -> None:
    p = params(CONFIGS[0], reads=5, model_adc_bits=CONFIGS[0][2] - 1)  # saturates too early
    verilog = crossbar_driver_verilog(rows=p["rows"], cols=p["cols"], adc_bits=p["adc_bits"])
    with pytest.raises(SimulationError) as info:
        run_bench(verilog, p, tmp_path)
    message = str(info.value)
    assert "1 of 1 cocotb tests of sim.tb_crossbar failed" in message
    assert "read 1 (rows_in=0xffff): expected codes" in message


def test_missing_icarus_says_to_run_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sim.runner.shutil, "which", lambda tool: None)
    p = params(CONFIGS[0])
    verilog = crossbar_driver_verilog(rows=p["rows"], cols=p["cols"], adc_bits=p["adc_bits"])
    with pytest.raises(SimulatorNotFound, match=r"run scripts/setup\.sh"):
        run_bench(verilog, p, tmp_path)


class HoldsNoWordLines(CrossbarTileDriver):
    """A deliberately broken driver: drops the word lines while the macro converts."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.busy & ~self.xbar.read):
            m.d.sync += self.xbar.wl_en.eq(0)
        return m


def test_macro_reports_word_lines_dropped_during_conversion(tmp_path: Path) -> None:
    p = params(CONFIGS[1], reads=3)
    broken = emit_verilog(
        HoldsNoWordLines(rows=p["rows"], cols=p["cols"], adc_bits=p["adc_bits"]),
        name="crossbar_tile_driver",
    )
    with pytest.raises(SimulationError, match=r"protocol violations: .*wl_en changed"):
        run_bench(broken, p, tmp_path)
