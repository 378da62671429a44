from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Value

import sim.runner
from hdl.golden import lif as golden_lif
from hdl.rtl import LIFUnit, emit_verilog, lif_verilog
from sim.models import LIFParams, lif_step
from sim.runner import SimulationError, SimulatorNotFound, config_build_dir, run_cocotb

PARAM_SETS = [
    dict(membrane_bits=8, current_bits=6, threshold_bits=7, leak_shift=2, reset="subtract"),
    dict(membrane_bits=16, current_bits=12, threshold_bits=15, leak_shift=4, reset="zero"),
    dict(membrane_bits=6, current_bits=8, threshold_bits=3, leak_shift=None, reset="subtract"),
]
IDS = ["m8-leak2-subtract", "m16-leak4-zero", "m6-noleak-subtract"]


def run_lif(verilog: str, p: dict, build_dir: Path, vectors: int = 5000) -> sim.runner.SimResult:
    return run_cocotb(
        verilog,
        toplevel="lif_unit",
        test_module="sim.tb_lif",
        params={"lif": p, "vectors": vectors, "seed": 3},
        build_dir=build_dir,
    )


@pytest.mark.parametrize("p", PARAM_SETS, ids=IDS)
def test_verilog_matches_reference_on_icarus(p: dict, tmp_path: Path) -> None:
    result = run_lif(lif_verilog(**p), p, tmp_path)
    assert (result.tests, result.failed) == (1, 0)
    assert result.results_xml.is_file()
    assert (tmp_path / "lif_unit.v").read_text() == lif_verilog(**p)


class ThresholdOffByOne(LIFUnit):
    """A deliberately broken generator: fires on v > θ instead of v >= θ."""

    def _fires(self, v: Value, threshold: Value) -> Value:
        return v > threshold


def test_bench_catches_a_broken_generator(tmp_path: Path) -> None:
    p = PARAM_SETS[0]
    broken = emit_verilog(ThresholdOffByOne(**p), name="lif_unit")
    assert broken != lif_verilog(**p)
    with pytest.raises(SimulationError) as info:
        run_lif(broken, p, tmp_path, vectors=200)
    message = str(info.value)
    assert "1 of 1 cocotb tests of sim.tb_lif failed" in message
    assert "expected (v_next, spike, out_valid)" in message
    assert "vector " in message


def test_reference_iterated_over_timesteps_is_the_golden_model() -> None:
    rng = np.random.default_rng(11)
    for p in PARAM_SETS:
        lp = LIFParams(**p)
        current = rng.integers(lp.i_min, lp.i_max + 1, size=(2, 3, 20, 7), dtype=np.int64)
        theta = rng.integers(1, lp.theta_max + 1, size=7, dtype=np.int64)
        spikes, membranes = golden_lif(current, theta, lp.leak_shift, lp.reset, lp.membrane_bits)
        for m, n, o in np.ndindex(2, 3, 7):
            v, s = 0, 0
            for t in range(20):
                v, s = lif_step(v, s, int(current[m, n, t, o]), int(theta[o]), lp)
                assert (v, s) == (membranes[m, n, t, o], spikes[m, n, t, o])


def test_build_dir_is_per_configuration(tmp_path: Path) -> None:
    a = config_build_dir("lif", {"lif": PARAM_SETS[0]}, root=tmp_path)
    assert a == config_build_dir("lif", {"lif": dict(reversed(PARAM_SETS[0].items()))}, tmp_path)
    assert a != config_build_dir("lif", {"lif": PARAM_SETS[1]}, root=tmp_path)
    assert a.parent == tmp_path / "build" / "sim" and a.name.startswith("lif-")


def test_missing_icarus_says_to_run_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sim.runner.shutil, "which", lambda tool: None)
    with pytest.raises(SimulatorNotFound, match=r"run scripts/setup\.sh"):
        run_lif(lif_verilog(**PARAM_SETS[0]), PARAM_SETS[0], tmp_path)


def test_missing_verilator_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sim.runner.shutil, "which", lambda tool: None)
    with pytest.raises(SimulatorNotFound, match="verilator is not installed"):
        run_cocotb("", toplevel="t", test_module="m", build_dir=tmp_path, simulator="verilator")
    with pytest.raises(ValueError, match="simulator must be one of"):
        run_cocotb("", toplevel="t", test_module="m", build_dir=tmp_path, simulator="xsim")
