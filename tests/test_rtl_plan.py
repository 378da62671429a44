"""The accelerator's plan (hdl.rtl.plan): all checks and geometry before any component exists."""

from __future__ import annotations

import gc
import subprocess
import sys
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable

from hdl.cells import crossbar_cells
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron
from hdl.mapping import current_bits, map_network
from hdl.rtl import RTLError
from hdl.rtl.accelerator import Accelerator, accelerator_verilog
from hdl.rtl.lif import LIFUnit, emit_verilog
from hdl.rtl.plan import AcceleratorPlan, plan_accelerator, tile_cells
from sim.netgen import example_networks, random_network

EXAMPLES = example_networks()


def _narrow_lfsr() -> Network:
    """Dropout from 16 LFSR modules of 8 bits: 255 // 16 // 2 = 7 < 8 steps between starts."""
    spec = DropoutSpec(0.2, source="lfsr", modules=16, lfsr=LFSRSpec(8, 3))
    edge = Edge("linear", "input", weight=np.ones((2, 16)), dropout=spec)
    return Network("narrow", InputSpec((1, 4, 4), bits=2), (Layer("out", (edge,), (2,)),))


def _refusals() -> list[tuple[object, str]]:
    net = EXAMPLES["mlp"][0]
    conv_out = Network(
        "conv_out",
        InputSpec((1, 4, 4), bits=1),
        (
            Layer(
                "c",
                (Edge("conv2d", "input", kernel=3, weight=np.ones((2, 1, 3, 3))),),
                (2, 2, 2),
                Neuron(threshold=np.ones(2)),
            ),
        ),
        output_decoding="count",
    )
    return [
        (net.architecture(), "no weights"),
        ("net.json", r"needs an hdl\.ir\.Network"),
        (conv_out, "flat layer"),
        (_narrow_lfsr(), r"'out'.edges\[0\].dropout.lfsr.width 8 is too narrow: .*width >= 9"),
    ]


@pytest.mark.parametrize(("net", "match"), _refusals(), ids=["arch", "type", "conv_out", "lfsr"])
def test_refusals_come_from_the_plan_and_leave_no_component(net: object, match: str) -> None:
    hw = EXAMPLES["mlp"][1]
    with pytest.raises(RTLError, match=match):
        plan_accelerator(net, hw)  # type: ignore[arg-type]
    # Amaranth reports unused components only once something has been elaborated
    emit_verilog(LIFUnit(membrane_bits=4, current_bits=4, threshold_bits=3))
    gc.collect()  # only what this test leaves behind counts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # an unused Elaboratable warns when it is collected
        with pytest.raises(RTLError, match=match):
            Accelerator(net, hw)  # type: ignore[arg-type]
        gc.collect()
    ours = [w for w in caught if w.filename == __file__]  # the warning names the creation site
    assert not [w for w in ours if issubclass(w.category, UnusedElaboratable)]


@pytest.mark.parametrize("seed", range(6))
def test_the_plan_is_the_design(seed: int) -> None:
    net, hw = random_network(seed)
    plan = plan_accelerator(net, hw)
    assert isinstance(plan, AcceleratorPlan)
    acc = Accelerator(plan)
    assert set(acc.signature.members) == set(plan.members())
    assert acc.manifest() == plan.manifest()
    assert emit_verilog(acc, name="accelerator") == accelerator_verilog(net, hw)
    mapping = map_network(net, hw)
    assert [lp.current_bits for lp in plan.layers] == [
        current_bits(lm, mapping) for lm in mapping.layers
    ]
    assert plan.cycles(3) == acc.cycles(3)
    with pytest.raises(RTLError, match="already holds its hw"):
        Accelerator(plan, hw)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_tile_cells_cover_the_edge_cells(name: str) -> None:
    """The tiles' cells put together are the edge's cells (hdl.cells), each exactly once."""
    net, hw = EXAMPLES[name]
    plan = plan_accelerator(net, hw)
    for lp in plan.layers:
        for ep in lp.edges:
            edge = plan.net.layers[lp.index].edges[ep.index]
            cells = crossbar_cells(edge, hw)
            rebuilt = np.zeros_like(cells)
            for tile in ep.tiles:
                (r0, r1), (c0, c1) = tile.rows, tile.cols
                rebuilt[tile.row_tile, : r1 - r0, c0:c1] += tile_cells(plan.net, tile, hw)
            np.testing.assert_array_equal(rebuilt, cells)


def test_cells_by_hand() -> None:
    """Weight 5 (4 bits: magnitude 3 bits) on 2-bit cells: slices 01, 01 on the + column."""
    from hdl.hwconfig import HardwareConfig

    hw = HardwareConfig(tile_rows=2, tile_cols=8, cell_bits=2, columns_per_adc=1)
    edge = (
        Network(
            "one",
            InputSpec((1, 1, 3), bits=1),
            (Layer("out", (Edge("linear", "input", 4, weight=np.array([[5, -2, 0]])),), (1,)),),
        )
        .validate()
        .layers[0]
        .edges[0]
    )
    cells = crossbar_cells(edge, hw)
    # columns (+, slice 0), (+, slice 1), (-, slice 0), (-, slice 1); rows in two tiles of 2
    expected = np.array([[[1, 1, 0, 0], [0, 0, 2, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]])
    np.testing.assert_array_equal(cells, expected)


def test_the_rtl_does_not_import_the_golden_model() -> None:
    code = "import sys, hdl.rtl.accelerator, hdl.rtl.plan; print('hdl.golden' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
