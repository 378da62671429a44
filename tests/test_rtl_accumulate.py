from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module
from amaranth.sim import Simulator

from hdl.golden import run
from hdl.hwconfig import HardwareConfig
from hdl.ir import Edge, InputSpec, Layer, Network
from hdl.rtl import RTLError
from hdl.rtl.accumulate import PartialSumAccumulator, accumulator_bits, accumulator_verilog


@dataclass
class Step:
    """The inputs of one cycle; ``codes`` is ``(outputs, 2, slices)`` (polarity 0 = +)."""

    codes: np.ndarray
    valid: int = 1
    clear: int = 0
    last: int = 0
    plane: int = 0


# --- the contract, restated with Python integers ------------------------------------------------


def pack(codes: np.ndarray, adc_bits: int) -> int:
    """Columns output-major: o, then + before -, then slice j; column 0 in the low bits."""
    value = 0
    for c, code in enumerate(np.asarray(codes).reshape(-1)):
        value |= int(code) << (c * adc_bits)
    return value


def unpack(value: int, outputs: int, acc_bits: int) -> list[int]:
    fields = [(value >> (o * acc_bits)) & (2**acc_bits - 1) for o in range(outputs)]
    return [f - 2**acc_bits if f >= 2 ** (acc_bits - 1) else f for f in fields]


def step_value(codes: np.ndarray, plane: int, cell_bits: int) -> list[int]:
    """``2**plane · Σ_j 2**(j·cell_bits) · (code[o, +, j] - code[o, -, j])`` per output."""
    return [
        2**plane
        * sum(
            2 ** (j * cell_bits) * (int(codes[o, 0, j]) - int(codes[o, 1, j]))
            for j in range(codes.shape[2])
        )
        for o in range(codes.shape[0])
    ]


def wrap(value: int, bits: int) -> int:
    return (value + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)


def reference(p: dict, steps: Sequence[Step]) -> list[tuple[list[int], int]]:
    """``(z, z_valid)`` after each rising edge (the module doc's timing)."""
    z = [0] * p["outputs"]
    out = []
    for s in steps:
        add = step_value(s.codes, s.plane, p["cell_bits"])
        if s.valid:
            base = [0] * len(z) if s.clear else z
            z = [wrap(b + a, p["acc_bits"]) for b, a in zip(base, add, strict=True)]
        elif s.clear:
            z = [0] * len(z)
        out.append((z, int(s.valid and s.last)))
    return out


def simulate(p: dict, steps: Sequence[Step]) -> list[tuple[list[int], int]]:
    """Drive one step per cycle; ``(z, z_valid)`` sampled after each rising edge."""
    dut = PartialSumAccumulator(**p)
    got: list[tuple[list[int], int]] = []

    async def bench(ctx) -> None:
        for s in steps:
            ctx.set(dut.codes, pack(s.codes, p["adc_bits"]))
            ctx.set(dut.valid, s.valid)
            ctx.set(dut.clear, s.clear)
            ctx.set(dut.last, s.last)
            if p.get("bit_planes", 1) > 1:
                ctx.set(dut.plane, s.plane)
            await ctx.tick()
            z = unpack(ctx.get(dut.z), p["outputs"], p["acc_bits"])
            got.append((z, ctx.get(dut.z_valid)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def random_codes(rng, p: dict, n: int) -> np.ndarray:
    """Uniform codes, with whole steps at the extremes (0 or full scale) mixed in."""
    top = 2 ** p["adc_bits"] - 1
    shape = (n, p["outputs"], 2, p["slices"])
    codes = rng.integers(0, top + 1, shape)
    extreme = rng.random(n) < 0.25
    codes[extreme] = rng.choice([0, top], size=(int(extreme.sum()), *shape[1:]))
    return codes


PARAM_SETS = [
    dict(outputs=1, slices=1, cell_bits=1, adc_bits=1, bit_planes=1),
    dict(outputs=3, slices=2, cell_bits=2, adc_bits=4, bit_planes=4),
    dict(outputs=2, slices=4, cell_bits=1, adc_bits=5, bit_planes=8),
    dict(outputs=4, slices=1, cell_bits=8, adc_bits=8, bit_planes=1),
    dict(outputs=2, slices=3, cell_bits=3, adc_bits=7, bit_planes=3),
    dict(outputs=1, slices=2, cell_bits=8, adc_bits=16, bit_planes=16),
]
IDS = [
    "o{outputs}-s{slices}-c{cell_bits}-a{adc_bits}-p{bit_planes}".format(**p) for p in PARAM_SETS
]


def shape_params(p: dict) -> dict:
    return {k: p[k] for k in ("slices", "cell_bits", "adc_bits")}


def least_acc_bits(p: dict) -> int:
    """One full-scale step at the highest plane, as a signed width."""
    m = (2 ** p["adc_bits"] - 1) * sum(2 ** (j * p["cell_bits"]) for j in range(p["slices"]))
    return 1 + (m * 2 ** (p.get("bit_planes", 1) - 1)).bit_length()


@pytest.mark.parametrize("p", PARAM_SETS, ids=IDS)
@pytest.mark.parametrize("width", ["free", "tight"])
def test_random_steps_match_reference(p: dict, width: str) -> None:
    """Random valid / clear / last / plane / codes, cycle by cycle. ``free``: wide enough for 6
    row tiles of every plane; ``tight``: the smallest accepted width, where sums wrap."""
    if width == "free":
        acc_bits = accumulator_bits(**shape_params(p), row_tiles=6, bit_planes=p["bit_planes"])
    else:
        acc_bits = least_acc_bits(p)
    p = dict(p, acc_bits=acc_bits)
    rng = np.random.default_rng(p["outputs"] * 100 + p["adc_bits"])
    n = 400
    codes = random_codes(rng, p, n)
    flags = rng.random((n, 3))
    steps = [
        Step(
            codes[i],
            valid=int(flags[i, 0] < 0.85),
            clear=int(flags[i, 1] < 0.12),
            last=int(flags[i, 2] < 0.15),
            plane=int(rng.integers(0, p["bit_planes"])),
        )
        for i in range(n)
    ]
    got, want = simulate(p, steps), reference(p, steps)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"cycle {i} {steps[i]}"
    if width == "tight" and acc_bits < 64:  # the test did exercise the wrap
        free = reference(dict(p, acc_bits=64), steps)
        assert any(f != w for f, w in zip(free, want, strict=True))


@pytest.mark.parametrize("p", PARAM_SETS, ids=IDS)
def test_accumulator_bits_is_saturation_free_and_tight(p: dict) -> None:
    """Full-scale steps of one sign over every row tile and plane reach exactly the bound;
    one bit less wraps (or is refused when it is below one step)."""
    tiles = 3
    bits = accumulator_bits(**shape_params(p), row_tiles=tiles, bit_planes=p["bit_planes"])
    top = 2 ** p["adc_bits"] - 1
    m = top * sum(2 ** (j * p["cell_bits"]) for j in range(p["slices"]))
    bound = tiles * m * (2 ** p["bit_planes"] - 1)
    assert 2 ** (bits - 2) <= bound <= 2 ** (bits - 1) - 1
    shape = (p["outputs"], 2, p["slices"])
    pos = np.zeros(shape, dtype=np.int64)
    pos[:, 0] = top
    neg = pos[:, ::-1].copy()  # + columns 0, - columns full scale
    mixed = np.where(np.arange(p["outputs"])[:, None, None] % 2 == 0, pos, neg)
    sign = [1 if o % 2 == 0 else -1 for o in range(p["outputs"])]
    order = [(k, b) for k in range(tiles) for b in range(p["bit_planes"])]
    steps = [
        Step(mixed, clear=int(i == 0), last=int(i == len(order) - 1), plane=b)
        for i, (_, b) in enumerate(order)
    ]
    got = simulate(dict(p, acc_bits=bits), steps)
    assert got[-1] == ([s * bound for s in sign], 1)
    narrow = dict(p, acc_bits=bits - 1)
    if bits - 1 >= least_acc_bits(p):
        assert simulate(narrow, steps)[-1][0][0] != bound
    else:
        with pytest.raises(RTLError, match="acc_bits"):
            PartialSumAccumulator(**narrow)


def test_timing_and_clear_semantics_of_the_module_doc() -> None:
    """The diagram of the module doc, then clear alone, and clear with valid mid-sum."""
    p = dict(outputs=2, slices=2, cell_bits=1, adc_bits=3, acc_bits=12, bit_planes=2)
    rng = np.random.default_rng(5)
    c = random_codes(rng, p, 10)
    t = [step_value(c[i], 0, 1) for i in range(10)]
    steps = [
        Step(c[0], valid=1, clear=1),
        Step(c[1], valid=1),
        Step(c[2], valid=0),
        Step(c[3], valid=1, last=1),
        Step(c[4], valid=0, clear=1),
        Step(c[5], valid=0),
        Step(c[6], valid=1, plane=1),  # after a clear alone the sum starts from 0
        Step(c[7], valid=1, clear=1, last=1),  # clear with valid: the sum becomes this step
        Step(c[8], valid=0, last=1),  # last without valid: no strobe, z holds
        Step(c[9], valid=0, clear=0),
    ]
    got = simulate(p, steps)

    def add(*vs):
        return [sum(x) for x in zip(*vs, strict=True)]

    s = add(t[0], t[1], t[3])
    want = [
        (t[0], 0),
        (add(t[0], t[1]), 0),
        (add(t[0], t[1]), 0),
        (s, 1),
        ([0, 0], 0),
        ([0, 0], 0),
        ([2 * x for x in t[6]], 0),
        (t[7], 1),
        (t[7], 0),
        (t[7], 0),
    ]
    assert got == want
    assert got == reference(p, steps)


def test_synchronous_reset_clears_sums_and_strobe() -> None:
    p = dict(outputs=2, slices=1, cell_bits=1, adc_bits=4, acc_bits=8)
    dut = PartialSumAccumulator(**p)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    codes = np.array([[[9], [2]], [[1], [7]]])  # (outputs, polarity, slices)
    seen = []

    async def bench(ctx) -> None:
        seen.append((dut.unpack_z(ctx.get(dut.z)), ctx.get(dut.z_valid)))
        ctx.set(dut.codes, dut.pack_codes(codes))
        ctx.set(dut.valid, 1)
        ctx.set(dut.last, 1)
        await ctx.tick()
        seen.append((dut.unpack_z(ctx.get(dut.z)), ctx.get(dut.z_valid)))
        ctx.set(sync.rst, 1)
        await ctx.tick()
        seen.append((dut.unpack_z(ctx.get(dut.z)), ctx.get(dut.z_valid)))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [([0, 0], 0), ([7, -6], 1), ([0, 0], 0)]


# --- end to end against the golden model --------------------------------------------------------


def tile_codes(w: np.ndarray, x: np.ndarray, bits: int, hw: HardwareConfig, weight_bits: int):
    """ADC codes ``(planes, row_tiles, phys_cols)`` of one image ``x`` (rows,) for a linear edge
    with weights ``w`` (C_out, rows), computed here from the crossbar definition."""
    c_out, rows = w.shape
    magnitude_bits = 1 if weight_bits == 1 else weight_bits - 1
    slices = -(-magnitude_bits // hw.cell_bits)
    mags = np.stack([np.maximum(w, 0), np.maximum(-w, 0)], axis=1)  # (C_out, 2, rows)
    cells = np.stack(
        [(mags >> (j * hw.cell_bits)) & (2**hw.cell_bits - 1) for j in range(slices)], axis=2
    )  # (C_out, 2, slices, rows): column order o, polarity, slice
    cells = cells.reshape(c_out * 2 * slices, rows)
    tiles = -(-rows // hw.tile_rows)
    out = np.zeros((bits, tiles, cells.shape[0]), dtype=np.int64)
    for b in range(bits):
        s = (x >> b) & 1
        for k in range(tiles):
            r = slice(k * hw.tile_rows, (k + 1) * hw.tile_rows)
            out[b, k] = np.clip(cells[:, r] @ s[r], 0, hw.adc_max)
    return out, slices


GOLDEN_CASES = [
    # (in_bits, weight_bits, cell_bits, adc_bits, tile_rows, rows, c_out, outputs)
    (1, 1, 1, 2, 4, 13, 5, 2),
    (3, 4, 1, 2, 5, 17, 4, 2),
    (4, 6, 2, 3, 6, 20, 3, 3),
    (2, 8, 3, 8, 7, 15, 3, 1),
    (3, 5, 4, 4, 3, 10, 6, 4),
]


@pytest.mark.parametrize(
    "case", GOLDEN_CASES, ids=["i{}-w{}-c{}-a{}-r{}-n{}-co{}-o{}".format(*c) for c in GOLDEN_CASES]
)
def test_end_to_end_linear_edge_matches_golden(case: tuple) -> None:
    """Codes of every row tile and plane fed group by group; z equals the golden layer current
    (ADC saturation included: the small ADCs clip some column sums)."""
    in_bits, weight_bits, cell_bits, adc_bits, tile_rows, rows, c_out, outputs = case
    rng = np.random.default_rng(sum(case))
    top = 1 if weight_bits == 1 else 2 ** (weight_bits - 1) - 1
    if weight_bits == 1:
        w = rng.choice([-1, 1], size=(c_out, rows))
    else:
        w = rng.integers(-top, top + 1, (c_out, rows))
    net = Network(
        "edge",
        InputSpec((1, 1, rows), bits=in_bits),
        (Layer("out", (Edge("linear", "input", weight_bits, weight=w),), (c_out,)),),
    ).validate()
    hw = HardwareConfig(
        tile_rows=tile_rows,
        tile_cols=8,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        columns_per_adc=1,
    )
    images = 6
    x = rng.integers(0, 2**in_bits, (images, 1, 1, rows))
    x[0] = 2**in_bits - 1  # all rows on: the largest column sums
    want = run(net, x, hw, trace=True).currents["out"][0, :, 0]  # (images, C_out)

    groups = -(-c_out // outputs)
    steps: list[Step] = []
    index: list[tuple[int, int]] = []  # (image, group) of each finished sum, in order
    clipped = False
    for n in range(images):
        codes, slices = tile_codes(w, x[n].reshape(-1), in_bits, hw, weight_bits)
        clipped |= bool(np.any(codes == hw.adc_max))
        per_group = outputs * 2 * slices
        padded = np.zeros((in_bits, codes.shape[1], groups * per_group), dtype=np.int64)
        padded[..., : codes.shape[2]] = codes  # columns of missing outputs read 0
        for g in range(groups):
            order = [(b, k) for k in range(codes.shape[1]) for b in range(in_bits)]
            for i, (b, k) in enumerate(order):
                group_codes = padded[b, k, g * per_group : (g + 1) * per_group]
                steps.append(
                    Step(
                        group_codes.reshape(outputs, 2, slices),
                        clear=int(i == 0),
                        last=int(i == len(order) - 1),
                        plane=b,
                    )
                )
            index.append((n, g))
    assert clipped or adc_bits == 8
    acc_bits = accumulator_bits(
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        row_tiles=codes.shape[1],
        bit_planes=in_bits,
    )
    p = dict(
        outputs=outputs,
        slices=slices,
        cell_bits=cell_bits,
        adc_bits=adc_bits,
        acc_bits=acc_bits,
        bit_planes=in_bits,
    )
    finished = [z for z, z_valid in simulate(p, steps) if z_valid]
    got = np.zeros((images, groups * outputs), dtype=np.int64)
    assert len(finished) == len(index)
    for (n, g), z in zip(index, finished, strict=True):
        got[n, g * outputs : (g + 1) * outputs] = z
    np.testing.assert_array_equal(got[:, :c_out], want)


# --- helpers, Verilog and parameters ------------------------------------------------------------


def built(**p) -> PartialSumAccumulator:
    """A unit used for its Python helpers and widths: elaborated once, so it counts as used."""
    dut = PartialSumAccumulator(**p)
    Fragment.get(dut, None)
    return dut


def test_pack_and_unpack_helpers_follow_the_column_order() -> None:
    p = dict(outputs=3, slices=2, cell_bits=2, adc_bits=5, acc_bits=16, bit_planes=4)
    dut = built(**p)
    codes = np.random.default_rng(1).integers(0, 32, (3, 2, 2))
    assert dut.pack_codes(codes) == pack(codes, 5)
    assert dut.column(1, 1, 0) == 6  # (o * 2 + polarity) * slices + j
    assert dut.columns == 12 and len(dut.codes) == 60 and len(dut.z) == 48
    value = (5 & 0xFFFF) | ((-3 & 0xFFFF) << 16) | ((-(2**15)) & 0xFFFF) << 32
    assert dut.unpack_z(value) == [5, -3, -(2**15)] == unpack(value, 3, 16)
    with pytest.raises(RTLError) as info:
        dut.pack_codes(np.full((3, 2, 2), 32))
    assert str(info.value) == "ADC code must be in 0..31, not 32"


def test_accumulator_bits_by_hand() -> None:
    # one 1-bit slice, 1-bit ADC: a step is -1..1 -> 2 bits; 128 tiles -> ±128 -> 9 bits
    assert accumulator_bits(slices=1, cell_bits=1, adc_bits=1) == 2
    assert accumulator_bits(slices=1, cell_bits=1, adc_bits=1, row_tiles=128) == 9
    # 255 · (1 + 16) = 4335 per step, 8 planes: 4335 · 255 = 1 105 425 < 2**21
    assert accumulator_bits(slices=2, cell_bits=4, adc_bits=8, bit_planes=8) == 22
    dut = built(slices=2, cell_bits=4, adc_bits=8, outputs=1, acc_bits=22)
    assert (dut.step_bits, dut.min_acc_bits) == (14, 14)
    wide = built(**{**GOOD, "bit_planes": 8})
    assert wide.min_acc_bits == 14 + 7 == least_acc_bits(wide.params)


def test_verilog_is_deterministic_and_declares_the_ports() -> None:
    p = dict(outputs=3, slices=2, cell_bits=2, adc_bits=5, acc_bits=16, bit_planes=4)
    a, b = accumulator_verilog(**p), accumulator_verilog(**p)
    assert a == b
    assert "module partial_sum_accumulator(" in a
    for port, width in [("codes", 60), ("plane", 2), ("z", 48)]:
        assert f"[{width - 1}:0] {port};" in a
    for port in ("clear", "valid", "last", "z_valid"):
        assert f"input {port};" in a or f"output {port};" in a
    assert "src =" not in a
    one_plane = accumulator_verilog(name="psum", **dict(p, bit_planes=1))
    assert one_plane.count("module psum(") == 1 and "plane" not in one_plane
    assert accumulator_verilog(**dict(p, cell_bits=1)) != a


GOOD = dict(outputs=2, slices=2, cell_bits=4, adc_bits=8, acc_bits=32)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(outputs=0), "outputs must be an integer in 1..4096, not 0"),
        (dict(outputs=2.0), "outputs must be an integer in 1..4096, not 2.0"),
        (dict(cell_bits=9), "cell_bits must be an integer in 1..8, not 9"),
        (dict(adc_bits=0), "adc_bits must be an integer in 1..16, not 0"),
        (dict(adc_bits=True), "adc_bits must be an integer in 1..16, not True"),
        (dict(slices=5), "slices must be an integer in 1..4, not 5"),  # ceil(15 / 4)
        (dict(slices=0), "slices must be an integer in 1..4, not 0"),
        (dict(bit_planes=17), "bit_planes must be an integer in 1..16, not 17"),
        (dict(acc_bits=13), "acc_bits must be an integer in 14..64, not 13"),
        (dict(acc_bits=65), "acc_bits must be an integer in 14..64, not 65"),
        (dict(acc_bits=20, bit_planes=8), "acc_bits must be an integer in 21..64, not 20"),
        (dict(acc_bits="32"), "acc_bits must be an integer in 14..64, not '32'"),
    ],
)
def test_bad_parameters_are_refused(change: dict, message: str) -> None:
    with pytest.raises(RTLError) as info:
        PartialSumAccumulator(**{**GOOD, **change})
    assert str(info.value) == f"PartialSumAccumulator {message}"
    with pytest.raises(RTLError, match=next(iter(change))):
        accumulator_verilog(**{**GOOD, **change})


def test_bad_accumulator_bits_arguments_and_module_name_are_refused() -> None:
    with pytest.raises(RTLError, match="row_tiles must be an integer"):
        accumulator_bits(slices=1, cell_bits=1, adc_bits=1, row_tiles=0)
    with pytest.raises(RTLError) as info:
        accumulator_bits(slices=16, cell_bits=1, adc_bits=1)
    assert str(info.value) == "PartialSumAccumulator slices must be an integer in 1..15, not 16"
    with pytest.raises(RTLError, match="module name must be an identifier"):
        accumulator_verilog(name="psum 0", **GOOD)
