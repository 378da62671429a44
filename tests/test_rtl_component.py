"""Components checked before they exist (hdl.rtl.component): a refusal leaves nothing behind."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path
from typing import Any

import pytest
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.lib.wiring import Out

from hdl.ir import DropoutSpec
from hdl.rtl import RTLError
from hdl.rtl.accumulate import EdgeAccumulator
from hdl.rtl.component import CheckedComponent
from hdl.rtl.controller import ScheduleController
from hdl.rtl.dropout import DropoutModuleController, LFSRDropoutSource
from hdl.rtl.lfsr import LeapLFSR
from hdl.rtl.lif import LIFUnit, emit_verilog
from hdl.rtl.lif_array import LIFArray
from hdl.rtl.mask_fill import MaskFill
from hdl.rtl.window import ConvWindow


class _Counter(CheckedComponent):
    @classmethod
    def _check(cls, bits: int) -> dict[str, Any]:
        if bits < 1:
            raise RTLError(f"bits must be >= 1, got {bits}")
        return {"bits": bits}

    def __init__(self, bits: int) -> None:
        super().__init__({"count": Out(self.bits)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.d.sync += self.count.eq(self.count + 1)
        return m


REFUSED = [
    lambda: _Counter(0),
    lambda: LIFUnit(membrane_bits=1, current_bits=4, threshold_bits=1),
    lambda: LIFArray(
        neurons=0, units=1, thresholds=[], membrane_bits=8, current_bits=4, threshold_bits=7
    ),
    lambda: EdgeAccumulator(
        out_channels=1, slices=1, cell_bits=1, adc_bits=4, col_tiles=[], adcs=1, z_bits=8
    ),
    lambda: ConvWindow(in_shape=(1, 2, 2), kernel=5),
    lambda: MaskFill("spec", 4),
    lambda: LeapLFSR(3, 1),
    lambda: DropoutModuleController(reset_cycles=0, write_cycles=1, sense_cycles=1, current_code=1),
    lambda: LFSRDropoutSource(DropoutSpec(0.5, source="mtj")),
    lambda: ScheduleController("mapping"),
]


def test_checked_values_become_attributes() -> None:
    counter = _Counter(5)
    assert counter.bits == 5 and len(counter.count) == 5
    assert "count" in emit_verilog(counter, name="counter")


@pytest.mark.parametrize("build", REFUSED)
def test_a_refused_component_leaves_no_unused_one(build) -> None:
    emit_verilog(_Counter(2), name="counter")  # Amaranth warns once something was elaborated
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):  # RTLError, DropoutRTLError, LFSRError
            build()
        gc.collect()
    ours = [w for w in caught if w.filename == __file__]
    assert not [w for w in ours if issubclass(w.category, UnusedElaboratable)]


def test_no_generator_silences_the_unused_warning_by_hand() -> None:
    root = Path(__file__).resolve().parent.parent
    found = [p.name for p in (root / "hdl" / "rtl").glob("*.py") if "_MustUse" in p.read_text()]
    assert not found, found
