"""MaskFill (hdl.rtl.mask_fill): the mask is complete exactly at the end of the fill step the
schedule counts, LFSR masks are hdl.lfsr.dropout_drop_bits, MTJ masks are what the modules
sensed (unit r from module r % M in dropout cycle r // M)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.ir import DropoutSpec, LFSRSpec
from hdl.lfsr import dropout_drop_bits
from hdl.mapping import MTJDriver
from hdl.mtj import MTJDevice
from hdl.rtl import RTLError
from hdl.rtl.mask_fill import MaskFill
from sim.models.mtj import MTJModuleModel, amaranth_mtj, masks_from_bits


def run_fills(fill: MaskFill, masks: int, processes=()) -> list[np.ndarray]:
    """Fill ``masks`` masks back to back (prefetch, fill_cycles, a few idle cycles)."""
    got: list[np.ndarray] = []
    drops = [0]

    async def bench(ctx) -> None:
        for _ in range(masks):
            ctx.set(fill.prefetch, 1)
            await ctx.tick()
            ctx.set(fill.prefetch, 0)
            ctx.set(fill.fill, 1)
            for _ in range(fill.fill_cycles):
                drops[0] += ctx.get(fill.drops)
                await ctx.tick()
            ctx.set(fill.fill, 0)
            keep = ctx.get(fill.keep)
            got.append(np.array([(keep >> r) & 1 for r in range(fill.units)], dtype=bool))
            for _ in range(3):  # idle: the mask must hold
                await ctx.tick()
                assert ctx.get(fill.keep) == keep

    sim = Simulator(fill)
    sim.add_clock(1e-6)
    for proc in processes:
        sim.add_process(proc)
    sim.add_testbench(bench)
    sim.run()
    assert drops[0] == masks * fill.units
    return got


@pytest.mark.parametrize(
    ("units", "modules", "edge", "edges"), [(10, 3, 0, 1), (7, 7, 1, 2), (5, 8, 0, 3)]
)
def test_lfsr_masks_are_the_golden_sequence(units, modules, edge, edges) -> None:
    spec = DropoutSpec(p=0.4, source="lfsr", modules=modules, lfsr=LFSRSpec(width=16, seed=77))
    fill = MaskFill(spec, units, edge=edge, edges=edges)
    assert fill.fill_cycles == -(-units // modules)
    got = np.array(run_fills(fill, 6))
    want = ~dropout_drop_bits(spec, units, 6, edge, edges)
    np.testing.assert_array_equal(got, want)
    assert got.any() and (~got).any()


@pytest.mark.parametrize(("units", "modules"), [(9, 2), (4, 4), (3, 5)])
def test_mtj_masks_are_the_sensed_bits(units, modules) -> None:
    driver = MTJDriver(MTJDevice(), pulse_ns=10.0)
    spec = DropoutSpec(p=0.5, source="mtj", modules=modules)
    fill = MaskFill(spec, units, driver=driver, clock_mhz=200.0)
    assert fill.fill_cycles == -(-units // modules) * driver.cycles_per_dropout_cycle(200.0)
    models = [MTJModuleModel(driver.device, 200.0, 8, 5, k) for k in range(modules)]
    procs = [amaranth_mtj(model, fill.mtj[k]) for k, model in enumerate(models)]
    got = np.array(run_fills(fill, 8, procs))
    want = masks_from_bits([mo.bits for mo in models], units, 1, 8)[0]
    np.testing.assert_array_equal(got, want)
    assert all(not mo.errors for mo in models), [mo.errors for mo in models]
    # modules without a unit never pulse; the others draw exactly their units per mask
    for k, mo in enumerate(models):
        assert len(mo.bits) == 8 * len(range(k, units, modules))
    assert 0.2 < 1 - got.mean() < 0.8


def run_double_buffered(fill: MaskFill, masks: int, processes=()) -> list[np.ndarray]:
    """Double buffer, fills back to back: fill ``k`` starts with ``prefetch`` in cycle
    ``k * F`` (``F = fill_cycles``), the cycle of fill ``k - 1``'s last bit, and ``swap`` in
    cycle ``(k + 1) * F`` loads it into ``keep``, which then holds while fill ``k + 1`` runs.
    ``fill`` stays low: the fills run on their own."""
    F = fill.fill_cycles
    got: list[np.ndarray] = []
    drops = [0]

    async def bench(ctx) -> None:
        held = None
        for c in range((masks + 1) * F + 1):
            k, phase = divmod(c, F)
            ctx.set(fill.prefetch, phase == 0 and k < masks)
            ctx.set(fill.swap, phase == 0 and 1 <= k <= masks)
            keep = ctx.get(fill.keep)
            if c <= F:  # every unit kept until the first swap
                assert keep == (1 << fill.units) - 1
            elif (c - 1) % F == 0:  # a swap's edge has just passed: mask (c - 1) / F - 1
                held = keep
                got.append(np.array([(keep >> r) & 1 for r in range(fill.units)], dtype=bool))
            else:  # holds while the next fill shifts in behind it
                assert keep == held, f"cycle {c}"
            drops[0] += ctx.get(fill.drops)
            await ctx.tick()

    sim = Simulator(fill)
    sim.add_clock(1e-6)
    for proc in processes:
        sim.add_process(proc)
    sim.add_testbench(bench)
    sim.run()
    assert drops[0] == masks * fill.units and len(got) == masks
    return got


@pytest.mark.parametrize(("units", "modules"), [(10, 3), (7, 7), (1, 1)])
def test_double_buffered_lfsr_masks_back_to_back_are_the_golden_sequence(units, modules) -> None:
    spec = DropoutSpec(p=0.4, source="lfsr", modules=modules, lfsr=LFSRSpec(width=16, seed=77))
    fill = MaskFill(spec, units, edge=1, edges=2, double_buffer=True)
    got = np.array(run_double_buffered(fill, 6))
    np.testing.assert_array_equal(got, ~dropout_drop_bits(spec, units, 6, 1, 2))
    assert got.any() and (~got).any()


@pytest.mark.parametrize(("units", "modules"), [(9, 2), (3, 5)])
def test_double_buffered_mtj_masks_back_to_back_are_the_sensed_bits(units, modules) -> None:
    driver = MTJDriver(MTJDevice(), pulse_ns=10.0)
    spec = DropoutSpec(p=0.5, source="mtj", modules=modules)
    fill = MaskFill(spec, units, driver=driver, clock_mhz=200.0, double_buffer=True)
    models = [MTJModuleModel(driver.device, 200.0, 8, 6, k) for k in range(modules)]
    procs = [amaranth_mtj(model, fill.mtj[k]) for k, model in enumerate(models)]
    got = np.array(run_double_buffered(fill, 8, procs))
    np.testing.assert_array_equal(got, masks_from_bits([mo.bits for mo in models], units, 1, 8)[0])
    assert all(not mo.errors for mo in models), [mo.errors for mo in models]
    for k, mo in enumerate(models):
        assert len(mo.bits) == 8 * len(range(k, units, modules))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(RTLError, match="DropoutSpec"):
        MaskFill({"p": 0.5}, 4)  # type: ignore[arg-type]
    with pytest.raises(RTLError, match="units"):
        MaskFill(DropoutSpec(p=0.5), 0)
    with pytest.raises(RTLError, match="double_buffer"):
        MaskFill(DropoutSpec(p=0.5), 4, double_buffer=1)  # type: ignore[arg-type]
