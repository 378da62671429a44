"""HardwareConfig.input_dac_bits: d-bit word-line DACs on the edges that read the direct input.

A pixel of ``bits`` bits is read in ``P = ceil(bits / d)`` digit-planes ``D_p = (x >> (p d)) &
(2**d - 1)``; each column sum ``Σ_r slice_j(W±)[o, r] * D_p[r]`` saturates in the ADC and
``z = Σ_p 2**(p d) z_p``. The golden model is checked against a brute-force reference written
here from those equations (loops over positions, digits, row tiles, polarities and slices, none
of the golden model's helpers), the mapping against ``ceil(bits / d)``, the RTL bit-exact in
Amaranth's simulator and once on Icarus, the cost model's DAC terms against their formulas.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hdl.cost import estimate
from hdl.cost.constants import ComponentLibrary, CrossbarTech
from hdl.golden import run
from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron
from hdl.mapping import map_network, schedule, signed_bits, z_bound
from hdl.rtl.accelerator import Accelerator, accelerator_verilog
from hdl.rtl.accumulate import EdgeAccumulator, accumulator_bits
from hdl.rtl.plan import plan_accelerator
from nas.errors import NASError
from nas.space import HardwareSpace, SearchSpace, SpaceConfig
from sim.amaranth_accel import simulate_amaranth
from sim.compare import compare_run
from spindrop.integer_model import run_integer

DACS = (1, 2, 3, 4)


def _weights(rng: np.random.Generator, shape: tuple[int, ...], bits: int) -> np.ndarray:
    top = 2 ** (bits - 1) - 1
    return rng.integers(-top, top + 1, shape)


def linear_net(bits: int = 6, dropout: DropoutSpec | None = None, seed: int = 1) -> Network:
    """(1, 4, 5) pixels of ``bits`` bits -> linear 6 (4-bit weights, LIF) -> linear 3."""
    rng = np.random.default_rng(seed)
    return Network(
        "dac_linear",
        InputSpec((1, 4, 5), bits=bits),
        (
            Layer(
                "fc",
                (Edge("linear", "input", 4, weight=_weights(rng, (6, 20), 4), dropout=dropout),),
                (6,),
                neuron=Neuron(threshold=rng.integers(20, 200, 6)),
                bias=rng.integers(-3, 4, 6),
            ),
            Layer("out", (Edge("linear", "fc", 2, weight=_weights(rng, (3, 6), 2)),), (3,)),
        ),
        timesteps=2,
    ).validate()


def conv_net(bits: int = 5, dropout: DropoutSpec | None = None, seed: int = 2) -> Network:
    """(2, 4, 4) pixels -> conv 3x3 stride 1 padding 1, 3 channels (3-bit weights, LIF) ->
    linear 4."""
    rng = np.random.default_rng(seed)
    return Network(
        "dac_conv",
        InputSpec((2, 4, 4), bits=bits),
        (
            Layer(
                "c1",
                (
                    Edge(
                        "conv2d",
                        "input",
                        3,
                        kernel=3,
                        padding=1,
                        weight=_weights(rng, (3, 2, 3, 3), 3),
                        dropout=dropout,
                    ),
                ),
                (3, 4, 4),
                neuron=Neuron(threshold=rng.integers(10, 80, 3)),
            ),
            Layer("out", (Edge("linear", "c1", 2, weight=_weights(rng, (4, 48), 2)),), (4,)),
        ),
        timesteps=2,
    ).validate()


#: small tiles (the 20 and 18 rows span several row tiles), 2-bit cells (two slices), 4-bit
#: ADCs that a digit input saturates
SMALL_HW = HardwareConfig(
    tile_rows=8, tile_cols=8, cell_bits=2, adc_bits=4, columns_per_adc=2, lif_units=2
)
#: the same chip with 12-bit ADCs: no column sum of these networks reaches 4095
WIDE_HW = replace(SMALL_HW, adc_bits=12)


# --- the brute-force reference ------------------------------------------------------------------


def _patches(x: np.ndarray, edge: Edge) -> np.ndarray:
    """``(positions, rows)`` int64 rows of one image ``x`` ``(C, H, W)``: the whole image for
    ``linear``, the ``(c, ky, kx)`` windows (zero outside) for ``conv2d``, by loops."""
    if edge.kind == "linear":
        return x.reshape(1, -1).astype(np.int64)
    c_in, h, w = x.shape
    k, s, pad = edge.kernel, edge.stride, edge.padding
    out = []
    for oy in range((h + 2 * pad - k) // s + 1):
        for ox in range((w + 2 * pad - k) // s + 1):
            row = []
            for c in range(c_in):
                for ky in range(k):
                    for kx in range(k):
                        y, xx = oy * s - pad + ky, ox * s - pad + kx
                        row.append(int(x[c, y, xx]) if 0 <= y < h and 0 <= xx < w else 0)
            out.append(row)
    return np.array(out, dtype=np.int64)


def reference_current(
    edge: Edge, x: np.ndarray, bits: int, hw: HardwareConfig, keep: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """``z`` ``(C_out, positions)`` of a weighted edge on the direct input ``x`` ``(C, H, W)``
    from the equations of the module doc, and the largest column sum before the ADC.

    ``keep``: ``(rows,)`` 0/1 row gates (a dropped row drives no digit)."""
    d, cb, rt = hw.input_dac_bits, hw.cell_bits, hw.tile_rows
    w = edge.weight.reshape(edge.weight.shape[0], -1).astype(np.int64)
    c_out, rows = w.shape
    mag_bits = 1 if edge.weight_bits == 1 else edge.weight_bits - 1
    n_slices = math.ceil(mag_bits / cb)
    planes = math.ceil(bits / d)
    patches = _patches(x, edge)
    z = np.zeros((c_out, len(patches)), dtype=np.int64)
    peak = 0
    for pos, values in enumerate(patches):
        if keep is not None:
            values = values * keep
        for p in range(planes):
            digits = (values >> (p * d)) & (2**d - 1)
            for k in range(math.ceil(rows / rt)):
                tile = slice(k * rt, min(rows, (k + 1) * rt))
                for o in range(c_out):
                    for sign in (1, -1):
                        mags = np.maximum(sign * w[o, tile], 0)
                        for j in range(n_slices):
                            cells = (mags >> (j * cb)) & (2**cb - 1)
                            a = int((cells * digits[tile]).sum())
                            peak = max(peak, a)
                            code = min(a, hw.adc_max)
                            z[o, pos] += sign * 2 ** (p * d) * 2 ** (j * cb) * code
    return z, peak


def _first_layer_z(net: Network, x: np.ndarray, hw: HardwareConfig, masks=None) -> np.ndarray:
    """The golden model's current of the first layer minus its bias, ``(M, N, C_out, P)``."""
    res = run(net, x, hw, samples=1 if masks is None else 2, masks=masks, trace=True)
    layer = net.layers[0]
    cur = res.currents[layer.name][:, :, 0]  # the same every timestep
    if layer.bias is not None:
        cur = cur - layer.bias.reshape(-1, *([1] * (cur.ndim - 3)))
    return cur.reshape(*cur.shape[:2], layer.out_shape[0], -1)


def _images(net: Network, n: int, seed: int, high: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = 2**net.input.bits
    lo = top // 2 if high else 0  # high pixels: large digits, saturating column sums
    return rng.integers(lo, top, (n, *net.input.shape))


# --- golden ---------------------------------------------------------------------------------


@pytest.mark.parametrize("d", DACS)
@pytest.mark.parametrize("make", [linear_net, conv_net], ids=["linear", "conv"])
def test_golden_saturating_digits_equal_the_brute_force_reference(make, d: int) -> None:
    net = make()
    hw = replace(SMALL_HW, input_dac_bits=d)
    x = _images(net, 3, d, high=True)
    got = _first_layer_z(net, x, hw)
    edge = net.layers[0].edges[0]
    peaks = []
    for n in range(len(x)):
        want, peak = reference_current(edge, x[n], net.input.bits, hw)
        peaks.append(peak)
        np.testing.assert_array_equal(got[0, n], want)
    if d > 1:  # the case really saturates: a column sum beyond the ADC's full scale
        assert max(peaks) > hw.adc_max


@pytest.mark.parametrize("d", DACS)
@pytest.mark.parametrize("make", [linear_net, conv_net], ids=["linear", "conv"])
def test_golden_without_saturation_is_the_exact_dot_product(make, d: int) -> None:
    net = make()
    hw = replace(WIDE_HW, input_dac_bits=d)
    x = _images(net, 3, 10 + d)
    edge = net.layers[0].edges[0]
    got = _first_layer_z(net, x, hw)
    w = edge.weight.reshape(edge.weight.shape[0], -1)
    for n in range(len(x)):
        want, peak = reference_current(edge, x[n], net.input.bits, hw)
        assert peak <= hw.adc_max
        exact = w @ _patches(x[n], edge).T  # Σ_r w[o, r] x[r] per position
        np.testing.assert_array_equal(want, exact)
        np.testing.assert_array_equal(got[0, n], exact)
    # and the integer torch model (no ADCs) agrees on the whole network
    np.testing.assert_array_equal(run(net, x, hw).outputs, run_integer(net, x).outputs)


@pytest.mark.parametrize("d", (2, 4))
def test_golden_with_dropout_gates_every_digit_of_a_dropped_row(d: int) -> None:
    net = linear_net(dropout=DropoutSpec(p=0.4, modules=2, source="lfsr"))
    hw = replace(SMALL_HW, input_dac_bits=d)
    x = _images(net, 2, 5, high=True)
    rng = np.random.default_rng(d)
    keep = rng.random((2, 2, 20)) < 0.6
    got = _first_layer_z(net, x, hw, masks={"fc.0": keep})
    edge = net.layers[0].edges[0]
    for m in range(2):
        for n in range(2):
            want, _ = reference_current(edge, x[n], net.input.bits, hw, keep[m, n].astype(int))
            np.testing.assert_array_equal(got[m, n], want)


def test_golden_float64_path_where_a_column_sum_may_reach_2_24() -> None:
    """4096-row tiles of 8-bit cells with 8-bit digits: a column sum may reach 4096 * 255 *
    255 > 2**24, where float32 sums would round; the sums run in float64 and stay exact."""
    rng = np.random.default_rng(7)
    w = rng.integers(100, 128, (2, 4096))
    net = Network(
        "wide",
        InputSpec((1, 64, 64), bits=8),
        (Layer("out", (Edge("linear", "input", 8, weight=w),), (2,)),),
    ).validate()
    hw = HardwareConfig(tile_rows=4096, tile_cols=8, cell_bits=8, adc_bits=16, input_dac_bits=8)
    x = rng.integers(200, 256, (1, 1, 64, 64))
    got = run(net, x, hw).outputs[0, 0]
    assert int(x.max()) * 4096 * 127 > 2**24
    want, _ = reference_current(net.layers[0].edges[0], x[0], 8, hw)
    np.testing.assert_array_equal(got, want[:, 0])


def test_d1_is_the_bit_serial_chip() -> None:
    """input_dac_bits = 1 is the default chip: the same golden outputs and events, schedule,
    Verilog text (no digit signals, 1-bit word lines), and equal to the bit-plane reference."""
    net, x = conv_net(), _images(conv_net(), 2, 3, high=True)
    plain, one = SMALL_HW, replace(SMALL_HW, input_dac_bits=1)
    assert HardwareConfig() == HardwareConfig(input_dac_bits=1)
    a, b = run(net, x, plain, trace=True), run(net, x, one, trace=True)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert a.events == b.events
    assert schedule(net, plain, 2).as_dict() == schedule(net, one, 2).as_dict()
    text = accelerator_verilog(net, HardwareConfig())
    assert text == accelerator_verilog(net, HardwareConfig(input_dac_bits=1))
    assert "input_digits" not in text and "input_plane" in text
    for tile in plan_accelerator(net, one).tiles:
        assert tile.dac_bits == 1
    for n in range(2):
        want, _ = reference_current(net.layers[0].edges[0], x[n], net.input.bits, one)
        np.testing.assert_array_equal(_first_layer_z(net, x[n : n + 1], one)[0, 0], want)


# --- mapping, schedule and events ----------------------------------------------------------------


@pytest.mark.parametrize("d", DACS)
def test_planes_cycles_and_events_follow_ceil_bits_over_d(d: int) -> None:
    net = linear_net(bits=6)
    hw = replace(SMALL_HW, input_dac_bits=d, overlap_reads=False, pipeline_layers=False)
    mapping = map_network(net, hw)
    fc, out = mapping.layers[0].edges[0], mapping.layers[1].edges[0]
    planes = math.ceil(6 / d)
    assert (fc.planes, fc.digit_bits, out.planes, out.digit_bits) == (planes, d, 1, 1)
    assert len(mapping.layers[0].plane_cycles) == planes
    # reads in turn: the first layer's timestep is P read steps and its update
    step = fc.step_cycles
    assert mapping.layers[0].timestep_cycles == planes * step + mapping.layers[0].update_cycles
    sched = schedule(net, hw, samples=2)
    runs = 2 * net.timesteps
    reads = runs * (planes * fc.row_tiles * fc.col_tiles + out.row_tiles * out.col_tiles)
    assert sched.events["crossbar_reads"] == reads
    convs = runs * (planes * fc.row_tiles * fc.phys_cols + out.row_tiles * out.phys_cols)
    assert sched.events["adc_conversions"] == convs
    assert sched.layers[0].buffer_bits_read == runs * planes * d * 20
    x = _images(net, 1, 0)
    golden = run(net, x, hw, samples=2)
    for name in ("crossbar_reads", "adc_conversions", "lif_updates", "dropout_samples"):
        assert golden.events[name] == sched.events[name], name


@pytest.mark.parametrize("d", DACS)
def test_z_bound_is_the_pixel_range_without_saturation_and_fits_the_accumulator(d: int) -> None:
    """Unsaturated, the digit-planes' bound is the bit-serial one, ``x_max * rows * w_max``
    (``Σ_p 2**(p d) D_p = 2**bits - 1``); saturating, it is smaller; the accumulator's generic
    width ``accumulator_bits(..., digit_bits=d)`` holds it either way."""
    net = linear_net(bits=6)
    for hw in (replace(WIDE_HW, input_dac_bits=d), replace(SMALL_HW, input_dac_bits=d)):
        em = map_network(net, hw).edges[0]
        bound = z_bound(em, hw)
        if hw.adc_bits == WIDE_HW.adc_bits:
            assert bound == (2**6 - 1) * 20 * 7
        else:
            assert bound <= (2**6 - 1) * 20 * 7
        width = accumulator_bits(
            slices=em.slices,
            cell_bits=hw.cell_bits,
            adc_bits=hw.adc_bits,
            row_tiles=em.row_tiles,
            bit_planes=em.planes,
            digit_bits=d,
        )
        assert signed_bits(bound) <= width


def test_fewer_planes_fewer_cycles_on_the_fast_chip() -> None:
    net = conv_net(bits=6)
    cycles = [schedule(net, replace(SMALL_HW, input_dac_bits=d)).cycles for d in (1, 2, 3, 6)]
    assert cycles == sorted(cycles, reverse=True) and cycles[0] > cycles[-1]


# --- RTL -----------------------------------------------------------------------------------------

RTL_CASES = {
    "linear": (linear_net, None),
    "linear-dropout": (linear_net, DropoutSpec(p=0.3, modules=3, source="lfsr")),
    "conv": (conv_net, None),
    "conv-channel-dropout": (
        conv_net,
        DropoutSpec(p=0.3, modules=2, granularity="channel", source="lfsr"),
    ),
}


def _rtl_check(net: Network, hw: HardwareConfig, images: int = 2, seed: int = 0):
    acc = Accelerator(net, hw)
    x = _images(net, images, seed, high=True)
    observed = simulate_amaranth(acc, x, samples=2, mtj_seed=seed)
    verdict = compare_run(net, hw, x, 2, observed)
    return acc, observed, verdict


@pytest.mark.parametrize("d", (2, 4))
@pytest.mark.parametrize("case", sorted(RTL_CASES))
def test_rtl_with_digit_word_lines_is_bit_exact(case: str, d: int) -> None:
    make, dropout = RTL_CASES[case]
    net = make(dropout=dropout)
    hw = replace(SMALL_HW, input_dac_bits=d, overlap_reads=(d == 2))
    acc, observed, verdict = _rtl_check(net, hw)
    assert verdict.ok, "\n".join(verdict.findings)
    assert observed.errors == []
    assert observed.cycles == [schedule(net, hw, 2).cycles] * 2
    assert observed.macro_reads == verdict.golden.events["crossbar_reads"]
    assert {t.dac_bits for t in acc.tiles if t.layer == 0} == {d}
    assert {t.dac_bits for t in acc.tiles if t.layer == 1} == {1}
    # saturating: some column sum of the input edge exceeds the ADC range
    x = _images(net, 2, 0, high=True)
    peaks = [reference_current(net.layers[0].edges[0], img, net.input.bits, hw)[1] for img in x]
    assert max(peaks) > hw.adc_max
    assert len(np.unique(verdict.golden.outputs)) > 1


def test_rtl_shifting_digit_planes_as_bit_planes_is_caught(monkeypatch) -> None:
    """An accumulator that shifts plane p's codes by p (the bit-serial rule) instead of p * d:
    the first layer's currents, and so its spikes, differ from the golden model's."""
    net, hw = linear_net(), replace(SMALL_HW, input_dac_bits=2)
    monkeypatch.setattr(EdgeAccumulator, "_plane_shift", lambda self, step, plane: step << plane)
    _, observed, verdict = _rtl_check(net, hw)
    assert observed.errors == []
    assert not verdict.ok
    assert verdict.first.startswith("layer 'fc' differs first")


def test_icarus_runs_digit_word_lines_bit_exact(tmp_path: Path) -> None:
    """The Verilog on Icarus (behavioural Verilog macros taking d-bit digits) equals the golden
    model and Amaranth's simulator: a convolution with channel dropout on 3-bit DACs."""
    from test_sim_accelerator import check

    net = conv_net(dropout=DropoutSpec(p=0.3, modules=2, granularity="channel", source="lfsr"))
    hw = replace(SMALL_HW, input_dac_bits=3)
    x = _images(net, 2, 4, high=True)
    result, _ = check(net, hw, x, 2, tmp_path)
    assert result.cycles == [schedule(net, hw, 2).cycles] * 2
    assert result.errors == []


# --- cost ----------------------------------------------------------------------------------------


def test_cost_prices_the_dacs_and_counts_fewer_reads() -> None:
    net = conv_net(bits=6)
    base = replace(SMALL_HW, input_dac_bits=1)
    lib = ComponentLibrary()
    xb = lib.crossbar
    one = estimate(net, base)
    em = map_network(net, base).layers[0].edges[0]
    drivers = em.rows * em.col_tiles
    for d in (2, 3):
        hw = replace(base, input_dac_bits=d)
        got = estimate(net, hw)
        area = drivers * (2**d - 2) * xb.dac_unit_area.value
        assert got.area_um2["crossbar"] == pytest.approx(one.area_um2["crossbar"] + area)
        planes = math.ceil(6 / d)
        assert got.events["crossbar_reads"] < one.events["crossbar_reads"]
        assert got.layers[0].detail["adc_conversions"] * 6 == (
            one.layers[0].detail["adc_conversions"] * planes
        )
        # without the DAC's own energy the crossbar energy of the layer scales with the planes
        free = ComponentLibrary(
            crossbar=CrossbarTech(
                dac_unit_energy=replace(xb.dac_unit_energy, value=0.0),
            )
        )
        e1 = estimate(net, base, library=free).layers[0].detail["energy_pj_by_component"]
        ed = estimate(net, hw, library=free).layers[0].detail["energy_pj_by_component"]
        assert ed["crossbar"] * 6 == pytest.approx(e1["crossbar"] * planes)
        ed_full = got.layers[0].detail["energy_pj_by_component"]["crossbar"]
        steps = net.timesteps * planes * em.positions
        dac = steps * drivers * (2**d - 2) * xb.row_activity.value * xb.dac_unit_energy.value
        assert ed_full == pytest.approx(ed["crossbar"] + dac)
    assert xb.dac_energy_pj(1) == 0 and xb.dac_area_um2(1) == 0


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, 9, "2", 2.0, True])
def test_bad_input_dac_bits_name_the_key_and_range(bad: object) -> None:
    message = r"hardware\.input_dac_bits must be an integer in 1\.\.8"
    with pytest.raises(HardwareError, match=message):
        HardwareConfig(input_dac_bits=bad)  # type: ignore[arg-type]


def test_cli_hw_input_dac_bits(tmp_path: Path, capsys) -> None:
    from hdl.ir import save_network
    from neurocim.cli import main

    save_network(linear_net(), tmp_path / "net")
    assert main(["estimate", str(tmp_path / "net"), "--hw", "input_dac_bits=2"]) == 0
    report = json.loads((tmp_path / "net" / "cost_default.json").read_text())
    assert report["hardware"]["input_dac_bits"] == 2
    assert main(["estimate", str(tmp_path / "net"), "--hw", "input_dac_bits=9"]) == 2
    assert "hardware.input_dac_bits must be an integer in 1..8" in capsys.readouterr().err


def test_input_dac_bits_is_searchable() -> None:
    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(input_dac_bits=(1, 2, 4))))
    assert space.distributions()["hw.input_dac_bits"] == (1, 2, 4)
    drawn = {space.stream(seed, 1).hardware().input_dac_bits for seed in range(40)}
    assert drawn == {1, 2, 4}
    assert "hw.input_dac_bits" not in SearchSpace().distributions()
    with pytest.raises(NASError, match="input_dac_bits"):
        HardwareSpace(input_dac_bits=(1, 9))


def test_rate_coded_input_is_unaffected() -> None:
    """Spikes (rate coding) drive 0/1 word lines whatever the DACs: one plane, same outputs."""
    net = linear_net()
    rate = replace(net, input=InputSpec((1, 4, 5), bits=6, encoding="rate", lfsr=LFSRSpec(16, 5)))
    rate = rate.validate()
    x = _images(rate, 2, 1)
    a, b = run(rate, x, SMALL_HW), run(rate, x, replace(SMALL_HW, input_dac_bits=4))
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert map_network(rate, replace(SMALL_HW, input_dac_bits=4)).edges[0].planes == 1
