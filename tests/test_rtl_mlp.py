"""MLPAccelerator (hdl.rtl.mlp) in Amaranth's simulator against hdl.golden, bit for bit.

Each crossbar macro is played by ``sim.models.crossbar.amaranth_macro`` on the layer's cells
(``tile_cells``: W+ and W- columns per output); several images run back to back through one
simulation, each with its own keep masks. The outputs must equal ``hdl.golden.run(...,
samples=1, masks=..., trace=True).outputs`` and the spikes of every hidden layer (recorded from
the LIF arrays' results) the golden traces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.golden import run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from hdl.mapping import schedule
from hdl.rtl import RTLError
from hdl.rtl.mlp import MLPAccelerator, mlp_verilog, tile_cells
from sim.models.crossbar import CrossbarTileModel, amaranth_macro


@dataclass(frozen=True)
class Config:
    name: str
    in_shape: tuple[int, int, int]
    widths: tuple[int, ...]  # hidden and output widths
    T: int
    bits: int
    dropout: bool
    hw: HardwareConfig
    latency: int
    leak: int | None
    reset: str
    bias: bool
    images: int
    seed: int


CONFIGS = [
    Config(
        "16-12-4_T1_b1",
        (1, 4, 4),
        (12, 4),
        1,
        1,
        False,
        HardwareConfig(lif_units=5),
        1,
        None,
        "subtract",
        False,
        10,
        1,
    ),
    Config(
        "20-8-8-3_T3_b4_drop_adc3",
        (1, 4, 5),
        (8, 8, 3),
        3,
        4,
        True,
        HardwareConfig(lif_units=3, adc_bits=3, tile_rows=32, tile_cols=16),
        2,
        2,
        "subtract",
        True,
        8,
        2,
    ),
    Config(
        "16-12-4_T3_b4_drop_zero",
        (1, 4, 4),
        (12, 4),
        3,
        4,
        True,
        HardwareConfig(lif_units=16, cell_bits=2),
        1,
        None,
        "zero",
        True,
        8,
        3,
    ),
]


def build(cfg: Config) -> Network:
    rng = np.random.default_rng(cfg.seed)
    layers = []
    src, n_in = "input", int(np.prod(cfg.in_shape))
    for k, width in enumerate(cfg.widths):
        hidden = k < len(cfg.widths) - 1
        drop = DropoutSpec(p=0.25, modules=4) if cfg.dropout else None
        edge = Edge("linear", src, weight=rng.choice([-1, 1], (width, n_in)), dropout=drop)
        scale = (2**cfg.bits - 1) if k == 0 else 1
        neuron = None
        if hidden:
            th = rng.integers(1, max(2, scale * n_in // 4), width)
            neuron = Neuron(threshold=th, leak_shift=cfg.leak, reset=cfg.reset, membrane_bits=10)
        bias = rng.integers(-3, 4, width) if cfg.bias else None
        name = f"fc{k}" if hidden else "out"
        layers.append(Layer(name, (edge,), (width,), neuron=neuron, bias=bias))
        src, n_in = name, width
    net = Network(
        name=cfg.name,
        input=InputSpec(shape=cfg.in_shape, bits=cfg.bits),
        layers=tuple(layers),
        timesteps=cfg.T,
    )
    return net.validate()


def pack(values, width: int) -> int:
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & ((1 << width) - 1)) << (i * width)
    return out


def unpack_signed(value: int, width: int, n: int) -> list[int]:
    mask, half = (1 << width) - 1, 1 << (width - 1)
    fields = [(value >> (i * width)) & mask for i in range(n)]
    return [f - 2 * half if f >= half else f for f in fields]


def simulate(
    dut: MLPAccelerator,
    cfg: Config,
    x: np.ndarray,
    masks: dict[str, np.ndarray],
    cells=tile_cells,
):
    """Run the images of ``x`` back to back; return outputs, spikes and cycles per image and
    the macros (``cells(net, layer)`` programs them)."""
    net = dut.net
    macros = []
    for i in range(len(net.layers)):
        model = CrossbarTileModel(cells(net, i), cfg.hw.adc_bits)
        macros.append(amaranth_macro(model, getattr(dut, f"xbar{i}"), cfg.latency))
    n_out = dut.out_features[-1]
    outputs: list[list[int]] = []
    spikes: list[dict[int, np.ndarray]] = []
    cycles: list[int] = []

    async def bench(ctx) -> None:
        for n in range(x.shape[0]):
            ctx.set(dut.pixels, pack(x[n].ravel(), dut.bits))
            for i, layer in enumerate(net.layers):
                if dut.dropout[i]:
                    ctx.set(getattr(dut, f"keep{i}"), pack(masks[f"{layer.name}.0"][0, n], 1))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.pixels, 0)  # sampled with start: later values must not matter
            seen = {i: [] for i, lif in enumerate(dut.lifs) if lif is not None}
            count = 1
            while True:
                for i in seen:
                    lif = dut.lifs[i]
                    if ctx.get(lif.out_valid):
                        seen[i].append((ctx.get(lif.out_group), ctx.get(lif.spikes)))
                if ctx.get(dut.done):
                    break
                await ctx.tick()
                count += 1
                assert count < 100_000, "no done"
            cycles.append(count)
            outputs.append(unpack_signed(ctx.get(dut.outputs), dut.out_bits, n_out))
            layer_spikes = {}
            for i, recs in seen.items():
                lif, cout = dut.lifs[i], dut.out_features[i]
                arr = np.zeros((len(recs) // lif.groups, cout), dtype=np.int64)
                for k, (g, word) in enumerate(recs):
                    assert g == k % lif.groups
                    for lane in range(min(lif.units, cout - g * lif.units)):
                        arr[k // lif.groups, g * lif.units + lane] = (word >> lane) & 1
                layer_spikes[i] = arr
            spikes.append(layer_spikes)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for proc in macros:
        sim.add_process(proc)
    sim.add_testbench(bench)
    sim.run()
    return outputs, spikes, cycles, macros


def first_spike_difference(got: np.ndarray, want: np.ndarray) -> str:
    for t in range(want.shape[0]):
        for o in range(want.shape[1]):
            if t >= got.shape[0] or got[t, o] != want[t, o]:
                g = "missing" if t >= got.shape[0] else int(got[t, o])
                return f"timestep {t}, neuron {o}: RTL {g}, golden {int(want[t, o])}"
    return "shapes differ"


def make_case(cfg: Config):
    net = build(cfg)
    rng = np.random.default_rng(100 + cfg.seed)
    x = rng.integers(0, 2**cfg.bits, (cfg.images, *cfg.in_shape))
    masks = {}
    if cfg.dropout:
        for layer in net.layers:
            rows = layer.edges[0].weight.shape[1]
            masks[f"{layer.name}.0"] = (rng.random((1, cfg.images, rows)) >= 0.25).astype(np.uint8)
    return net, x, masks


def first_difference(cfg, net, x, masks, dut, outputs, spikes) -> str | None:
    """Where the RTL first differs from the golden model (image, layer, timestep, neuron)."""
    gold = run(net, x, cfg.hw, samples=1, masks=masks or None, trace=True)
    for n in range(cfg.images):
        for i, layer in enumerate(net.layers[:-1]):
            want = gold.spikes[layer.name][0, n]
            got = spikes[n][i]
            if got.shape != want.shape or not np.array_equal(got, want):
                where = first_spike_difference(got, want)
                return f"image {n}: spikes of layer {i} ({layer.name}) differ at {where}"
        want_y = [int(v) for v in gold.outputs[0, n]]
        if outputs[n] != want_y:
            return f"image {n}: outputs {outputs[n]}, golden {want_y}"
    return None


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.name for c in CONFIGS])
def test_mlp_matches_golden(cfg: Config) -> None:
    net, x, masks = make_case(cfg)
    dut = MLPAccelerator(net, cfg.hw)
    outputs, spikes, cycles, macros = simulate(dut, cfg, x, masks)

    for i, proc in enumerate(macros):
        assert proc.protocol.errors == [], f"layer {i} macro protocol: {proc.protocol.errors}"
        assert len(proc.protocol.reads) == cfg.images * cfg.T * dut.planes[i]
    diff = first_difference(cfg, net, x, masks, dut, outputs, spikes)
    assert diff is None, diff
    for i in range(len(net.layers) - 1):  # not a trivial case: some spikes, not all
        fired = np.concatenate([sp[i].ravel() for sp in spikes])
        assert 0 < fired.mean() < 1, f"layer {i} spike rate {fired.mean()}"
    assert len({tuple(y) for y in outputs}) > 1
    if cfg.hw.adc_bits == 3:  # this configuration exercises ADC saturation
        model = macros[0].protocol.model
        assert any(
            model.column_sums(wl).max() > model.adc_max for wl, _ in macros[0].protocol.reads
        )
    assert len(set(cycles)) == 1
    measured = cycles[0]
    assert measured == dut.cycles(cfg.latency)
    planned = schedule(net, cfg.hw).cycles
    print(f"{cfg.name}: RTL {measured} cycles, schedule {planned} ({measured - planned:+d})")


@pytest.mark.parametrize("broken", ["negated_macro", "other_masks"])
def test_broken_variants_are_caught(broken: str) -> None:
    """The bench must see a macro programmed with wrong cells and keep masks not applied."""
    cfg = CONFIGS[1]
    net, x, masks = make_case(cfg)
    dut = MLPAccelerator(net, cfg.hw)
    if broken == "negated_macro":  # layer 1's macro holds -W: W+ and W- columns swapped

        def swapped(net_, i):
            cells = tile_cells(net_, i)
            return cells[:, [c ^ 1 for c in range(cells.shape[1])]] if i == 1 else cells

        outputs, spikes, _, _ = simulate(dut, cfg, x, masks, cells=swapped)
    else:  # the DUT gets all-ones masks, the golden model the drawn ones
        ones = {k: np.ones_like(v) for k, v in masks.items()}
        outputs, spikes, _, _ = simulate(dut, cfg, x, ones)
    diff = first_difference(cfg, net, x, masks, dut, outputs, spikes)
    assert diff is not None
    print(f"{broken}: caught, {diff}")


def test_spikes_happen_and_masks_matter() -> None:
    """The random networks are not trivial: spikes fire and the masks change results."""
    cfg = CONFIGS[2]
    net = build(cfg)
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**cfg.bits, (4, *cfg.in_shape))
    keep_all = {
        f"{la.name}.0": np.ones((1, 4, la.edges[0].weight.shape[1]), np.uint8) for la in net.layers
    }
    drop = {k: (rng.random(v.shape) >= 0.5).astype(np.uint8) for k, v in keep_all.items()}
    a = run(net, x, cfg.hw, masks=keep_all, trace=True)
    b = run(net, x, cfg.hw, masks=drop, trace=True)
    assert 0 < a.spikes["fc0"].mean() < 1
    assert not np.array_equal(a.outputs, b.outputs)


def test_refuses_unsupported() -> None:
    cfg = CONFIGS[0]
    net = build(cfg)
    with pytest.raises(RTLError, match="row tiling"):
        MLPAccelerator(net, HardwareConfig(tile_rows=8))
    with pytest.raises(RTLError, match="column"):
        MLPAccelerator(net, HardwareConfig(tile_cols=16, columns_per_adc=8))


def test_verilog() -> None:
    text = mlp_verilog(build(CONFIGS[0]), CONFIGS[0].hw)
    assert "module mlp" in text and "xbar0__wl_en" in text and "xbar1__codes" in text
