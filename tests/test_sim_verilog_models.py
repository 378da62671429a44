"""The behavioural Verilog models (:mod:`sim.models.crossbar_verilog`,
:mod:`sim.models.mtj_verilog`) against their Python references, cycle by cycle, on random
stimuli, on Icarus and (when it is installed) on Verilator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hdl.mtj import MTJDevice
from sim.models.crossbar import CrossbarTileModel, MacroProtocol
from sim.models.crossbar_verilog import crossbar_macro_verilog
from sim.models.mtj import (
    GAMMA,
    MTJModuleModel,
    draw_u32,
    mix64,
    module_key,
    seed_key,
    threshold_table,
)
from sim.models.mtj_verilog import mtj_module_verilog
from sim.runner import available_simulators, run_cocotb

SIMULATORS = [
    pytest.param("icarus"),
    pytest.param(
        "verilator",
        marks=pytest.mark.skipif(
            "verilator" not in available_simulators(), reason="Verilator is not installed"
        ),
    ),
]


def play(
    verilog: str,
    top: str,
    inputs: list[str],
    outputs: list[str],
    cycles: list[list[int]],
    tmp_path: Path,
    simulator: str,
) -> list[list[int]]:
    """Run ``cycles`` (one value per input each) through ``top``; the outputs per cycle."""
    spec = {"clock": "clk", "inputs": inputs, "outputs": outputs, "cycles": cycles}
    (tmp_path / "stimuli.json").write_text(json.dumps(spec))
    run_cocotb(
        verilog,
        toplevel=top,
        test_module="sim.tb_models",
        params={"dir": str(tmp_path)},
        build_dir=tmp_path,
        simulator=simulator,
    )
    return json.loads((tmp_path / "observed.json").read_text())


def macro_stimuli(rng: np.random.Generator, proto: MacroProtocol, n: int) -> list[list[int]]:
    """``n`` cycles of ``(wl_en, read)``: reads as soon as allowed or a few cycles later,
    word lines held while sampled, and now and then a read or a word-line change too early."""
    rows = proto.model.rows * proto.model.dac_bits  # wl_en bits (a digit per row)
    out: list[list[int]] = []
    wl = 0
    while len(out) < n:
        wl = int(rng.integers(0, 2**rows))
        out.append([wl, 1])
        hold = proto.sampling_cycles - 1
        for i in range(hold + int(rng.integers(0, 3))):
            bad = rng.random() < 0.08
            if i < hold and bad and rng.random() < 0.5:
                out.append([wl ^ 1, 0])  # word lines changed while sampled
            else:
                out.append([wl, int(bad)])  # a read during sampling when bad
    return out[:n]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_macro_matches_protocol(seed: int, simulator: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(100 + seed)
    rows, cols = int(rng.integers(1, 13)), int(rng.integers(1, 11))
    cells = rng.integers(0, 4, size=(rows, cols))
    adc_bits = int(rng.integers(1, 5))
    latency = int(rng.integers(1, 5))
    interval = [None, 1, int(rng.integers(1, 5))][seed % 3]
    adcs = None if seed == 0 else int(rng.integers(1, cols + 1))
    proto = MacroProtocol(CrossbarTileModel(cells, adc_bits), latency, adcs, interval)
    cycles = macro_stimuli(rng, proto, 300)
    verilog = crossbar_macro_verilog("macro_dut", cells, adc_bits, latency, adcs, interval)
    got = play(
        verilog,
        "macro_dut",
        ["wl_en", "read"],
        ["codes_valid", "codes", "reads", "read_errors", "wl_errors"],
        cycles,
        tmp_path,
        simulator,
    )
    want = [list(proto.step(read, wl)) for wl, read in cycles]
    assert [g[:2] for g in got[1:]] == want
    assert sum(v for v, _ in want) > 10  # conversions were checked
    reads, read_errors, wl_errors = got[-1][2:]
    assert reads == len(proto.reads)
    assert read_errors == sum("read while" in e for e in proto.errors)
    assert wl_errors == sum("wl_en changed" in e for e in proto.errors)
    assert read_errors + wl_errors == len(proto.errors)
    assert len(proto.errors) > 0 or proto.sampling_cycles == 1  # no violation is possible


@pytest.mark.parametrize("dac_bits", [2, 3])
def test_digit_macro_matches_protocol(dac_bits: int, tmp_path: Path) -> None:
    """A macro whose word lines carry ``dac_bits``-bit digits (``hw.input_dac_bits``): the
    Verilog sums ``cell * digit`` and saturates as the Python model does, cycle by cycle."""
    rng = np.random.default_rng(200 + dac_bits)
    rows, cols = 7, 5
    cells = rng.integers(0, 4, size=(rows, cols))
    proto = MacroProtocol(CrossbarTileModel(cells, 5, dac_bits), 2, 2, 1)
    cycles = macro_stimuli(rng, proto, 200)
    verilog = crossbar_macro_verilog("macro_dut", cells, 5, 2, 2, 1, dac_bits=dac_bits)
    got = play(
        verilog,
        "macro_dut",
        ["wl_en", "read"],
        ["codes_valid", "codes", "reads", "read_errors", "wl_errors"],
        cycles,
        tmp_path,
        "icarus",
    )
    want = [list(proto.step(read, wl)) for wl, read in cycles]
    assert [g[:2] for g in got[1:]] == want
    sums = [proto.model.column_sums(wl) for wl, read in cycles if read]
    assert max(int(s.max()) for s in sums) > 31  # some column sums saturated the 5-bit ADC


def test_generator_is_splitmix64() -> None:
    """The draws are SplitMix64 started at the key (its published first outputs for seed 0)."""
    state, outputs = 0, []
    for _ in range(3):
        state = (state + GAMMA) % 2**64
        outputs.append(mix64(state))
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [draw_u32(0, j) for j in range(3)] == [v >> 32 for v in outputs]
    assert module_key(7, 3, 2) == mix64(mix64(seed_key(7) + 3 + GAMMA) + 2 + GAMMA)
    assert len({module_key(1, n, m) for n in range(50) for m in range(50)}) == 2500


def test_thresholds_quantise_the_device_model() -> None:
    device = MTJDevice()
    table = threshold_table(device, 200.0, 8)
    model = MTJModuleModel(device, 200.0, 8, 0)
    assert len(table) == 256 and table == sorted(table) and model.thresholds == table
    for code in (0, 100, 236, 255):  # I = code * Ic0 / 255 for one 5 ns cycle at 200 MHz
        p = float(device.switching_probability(code * device.ic0_ua / 255, 5.0))
        assert table[code] == int(np.floor(p * 2**32))


def test_draws_of_an_image_do_not_depend_on_the_images_before() -> None:
    device = MTJDevice()

    def pulses(model: MTJModuleModel, image: int) -> list[int]:
        model.begin_image(image)
        for _ in range(20):
            model.step(1, 0, 0, 0)
            for _ in range(3):
                model.step(0, 1, 236, 0)
            model.step(0, 0, 0, 1)
        return model.bits[-20:]

    a = MTJModuleModel(device, 200.0, 8, 9, 1)
    first = [pulses(a, n) for n in range(4)]
    b = MTJModuleModel(device, 200.0, 8, 9, 1)
    assert pulses(b, 3) == first[3]  # image 3 alone draws what it drew after images 0..2
    assert 0 < np.mean(first) < 1


def mtj_stimuli(rng: np.random.Generator, n: int, code_bits: int) -> list[list[int]]:
    """``n`` cycles of ``(image, reset, write, current, sense)``: reset, write pulses of random
    length and code, sense; now and then two drive lines at once, a changed current or a write
    without a reset; the image changes a few times."""
    out: list[list[int]] = []
    image = 0
    while len(out) < n:
        if rng.random() < 0.1:
            image = int(rng.integers(0, 2**32))
        code = int(rng.integers(0, 2**code_bits))
        if rng.random() < 0.9:
            out.append([image, 1, 0, 0, 0])
        for i in range(int(rng.integers(1, 6))):
            changed = i > 0 and rng.random() < 0.05
            out.append([image, int(rng.random() < 0.03), 1, code ^ int(changed), 0])
        out.append([image, 0, 0, 0, 1])
        out.extend([[image, 0, 0, 0, 0]] * int(rng.integers(0, 3)))
    return out[:n]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("seed", [0, 1])
def test_mtj_module_matches_model(seed: int, simulator: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(200 + seed)
    device = MTJDevice()
    clock, code_bits = [200.0, 500.0][seed], 8
    mtj_seed, module = int(rng.integers(0, 2**63)), int(rng.integers(0, 64))
    model = MTJModuleModel(device, clock, code_bits, mtj_seed, module)
    body = mtj_module_verilog("mtj_model", model.thresholds, code_bits)
    wrapper = f"""
module mtj_dut(clk, image, reset, write, current, sense, state, bit_valid, bit_value,
    drive_errors, reset_errors, current_errors);
  input clk; input [31:0] image; input reset; input write; input [7:0] current; input sense;
  output state; output bit_valid; output bit_value;
  output [31:0] drive_errors; output [31:0] reset_errors; output [31:0] current_errors;
  mtj_model #(.SEED_KEY(64'h{seed_key(mtj_seed):x}), .MODULE(32'd{module})) u (
    clk, image, reset, write, current, sense, state, bit_valid, bit_value,
    drive_errors, reset_errors, current_errors);
endmodule
"""
    cycles = mtj_stimuli(rng, 600, code_bits)
    outputs = ["state", "bit_valid", "bit_value", "drive_errors", "reset_errors"]
    got = play(
        body + wrapper,
        "mtj_dut",
        ["image", "reset", "write", "current", "sense"],
        [*outputs, "current_errors"],
        cycles,
        tmp_path,
        simulator,
    )
    states, image = [], 0
    for img, *drive in cycles:
        if img != image:
            model.begin_image(img)
            image = img
        states.append(model.step(*drive))
    assert [g[0] for g in got[1:]] == states
    assert [g[2] for g in got[1:] if g[1]] == model.bits
    assert len(model.bits) > 50 and 0 < np.mean(model.bits) < 1
    drive, reset, current = got[-1][3:]
    assert drive == sum("more than one" in e for e in model.errors)
    assert reset == sum("without a reset" in e for e in model.errors)
    assert current == sum("current changed" in e for e in model.errors)
    assert drive + reset + current == len(model.errors) > 0
