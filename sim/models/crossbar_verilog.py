"""A crossbar tile with its ADCs as a behavioural Verilog module, for simulation only.

:func:`crossbar_macro_verilog` writes one module per tile with the tile's cells baked in; it
plays exactly :class:`~sim.models.crossbar.MacroProtocol` (the reference, which the tests
compare it with cycle by cycle), on the ports of :func:`hdl.rtl.crossbar.crossbar_signature`
seen from the macro's side:

============== ========== ==================================================================
port           direction  meaning
============== ========== ==================================================================
``clk``        in         the accelerator's clock
``wl_en``      in         ``rows · d`` word-line bits: row ``r``'s enable (``d = 1``) or
                          ``d``-bit DAC digit at bits ``r·d ..`` (``dac_bits = d``)
``read``       in         read strobe
``codes``      out        ``lanes · adc_bits``: one conversion, ADC ``a`` at bits ``a·adc_bits``
``codes_valid`` out       ``codes`` hold a conversion
``reads``      out        32-bit count of the reads answered
``read_errors`` out       32-bit count of reads while the ADCs sampled a previous read
                          (ignored, as :class:`MacroProtocol` does)
``wl_errors``  out        32-bit count of (cycle, sampling read) pairs with ``wl_en`` changed
============== ========== ==================================================================

At every rising edge it takes the ``read`` and ``wl_en`` of the cycle that ends and registers
what :meth:`MacroProtocol.step` returns for them: on a read (no read sampling) the column sums
``clamp(Σ_r cell[r, c] · wl[r], 0, 2^adc_bits - 1)`` (one wide addition per raised word line
of the rows' packed cells, ``F`` bits per column, ``F`` the bits of the largest column sum; with
``d``-bit digits the packed row times its digit, ``F`` the bits of ``(2^d - 1)`` times the
largest column of cells, so no field carries into the next),
then conversion ``j`` (lanes ``a`` = column ``a + j·A``, 0 past the last column) valid
``latency + j · interval`` cycles after the read; outside the valid cycle ``codes`` is the
bitwise complement of the last answer. Reads in flight sit in a ring of ``ceil(cycles /
sampling)`` slots (reads come at least ``sampling = steps · interval`` cycles apart, each lives
``cycles = latency + (steps - 1) · interval`` cycles).
"""

from __future__ import annotations

import re

import numpy as np

from hdl.geometry import ceil_div
from sim.models.crossbar import CrossbarModelError, CrossbarTileModel, MacroProtocol

__all__ = ["crossbar_macro_verilog", "macro_module_name"]


def macro_module_name(tile: str) -> str:
    """The Verilog module name of the macro of tile ``tile``: ``macro_<tile>``."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tile):
        raise CrossbarModelError(f"tile name {tile!r} is not a Verilog identifier")
    return f"macro_{tile}"


def _hex(value: int, width: int) -> str:
    return f"{width}'h{value:x}"


def crossbar_macro_verilog(
    name: str,
    cells: np.ndarray,
    adc_bits: int,
    latency: int,
    adcs: int | None = None,
    interval: int | None = None,
    dac_bits: int = 1,
) -> str:
    """Verilog text of the module ``name``: the macro of ``cells`` (see the module doc).

    ``cells`` ``(rows, cols)`` unsigned integers, ``adc_bits``, ``latency``, ``adcs`` and
    ``interval`` as :class:`~sim.models.crossbar.MacroProtocol` (validated by it), ``dac_bits``
    the word-line digits' bits (:class:`~sim.models.crossbar.CrossbarTileModel`). The text
    depends only on the arguments.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CrossbarModelError(f"module name {name!r} is not a Verilog identifier")
    proto = MacroProtocol(CrossbarTileModel(cells, adc_bits, dac_bits), latency, adcs, interval)
    model = proto.model
    rows, cols, bits = model.rows, model.cols, model.adc_bits
    lanes, steps = proto.adcs, proto.steps
    d = model.dac_bits
    top = int(model.cells.sum(axis=0).max()) * (2**d - 1)
    field = max(1, top.bit_length())
    wl_w = rows * d
    accumulate = (
        "if (wl_en[r]) sum = sum + row_cells[r];"
        if d == 1
        else f"sum = sum + row_cells[r] * wl_en[r * {d} +: {d}];"
    )
    row_w, lane_w, all_w = cols * field, lanes * bits, steps * lanes * bits
    slots = max(1, ceil_div(proto.cycles, proto.sampling_cycles))
    row_init = []
    for r in range(rows):
        value = 0
        for c in range(cols):
            value |= int(model.cells[r, c]) << (c * field)
        row_init.append(f"    row_cells[{r}] = {_hex(value, row_w)};")
    return f"""// crossbar macro model (sim.models.crossbar_verilog): {rows} rows x {cols} columns,
// {bits}-bit ADCs, {lanes} lanes, first code {proto.latency} cycles after read, then every
// {proto.interval}
module {name}(clk, wl_en, read, codes, codes_valid, reads, read_errors, wl_errors);
  input clk;
  input [{wl_w - 1}:0] wl_en;
  input read;
  output [{lane_w - 1}:0] codes;
  output codes_valid;
  output [31:0] reads;
  output [31:0] read_errors;
  output [31:0] wl_errors;
  reg [{lane_w - 1}:0] codes;
  reg codes_valid;
  reg [31:0] reads;
  reg [31:0] read_errors;
  reg [31:0] wl_errors;
  reg [{row_w - 1}:0] row_cells [0:{rows - 1}];
  reg [{all_w - 1}:0] slot_codes [0:{slots - 1}];
  reg [{wl_w - 1}:0] slot_wl [0:{slots - 1}];
  integer slot_age [0:{slots - 1}];
  reg slot_on [0:{slots - 1}];
  integer next_slot;
  reg [{lane_w - 1}:0] last;
  reg [{row_w - 1}:0] sum;
  reg [{all_w - 1}:0] clamped;
  reg [{field - 1}:0] column;
  reg sampling;
  reg found;
  integer k;
  integer r;
  integer since;
  initial begin
{chr(10).join(row_init)}
    for (k = 0; k < {slots}; k = k + 1) begin
      slot_on[k] = 1'b0;
      slot_age[k] = 0;
      slot_wl[k] = {wl_w}'h0;
      slot_codes[k] = {all_w}'h0;
    end
    next_slot = 0;
    last = {lane_w}'h0;
    codes = {lane_w}'h0;
    codes_valid = 1'b0;
    reads = 32'h0;
    read_errors = 32'h0;
    wl_errors = 32'h0;
  end
  always @(posedge clk) begin
    sampling = 1'b0;
    for (k = 0; k < {slots}; k = k + 1) begin
      if (slot_on[k]) begin
        slot_age[k] = slot_age[k] + 1;
        if (slot_age[k] < {proto.sampling_cycles}) begin
          sampling = 1'b1;
          if (wl_en != slot_wl[k]) wl_errors = wl_errors + 32'h1;
        end
        if (slot_age[k] >= {proto.cycles}) slot_on[k] = 1'b0;
      end
    end
    if (read) begin
      if (sampling) read_errors = read_errors + 32'h1;
      else begin
        sum = {row_w}'h0;
        for (r = 0; r < {rows}; r = r + 1)
          {accumulate}
        clamped = {all_w}'h0;
        for (r = 0; r < {cols}; r = r + 1) begin
          column = sum[r * {field} +: {field}];
          clamped[r * {bits} +: {bits}] = (column > {2**bits - 1}) ? {2**bits - 1} : column;
        end
        slot_codes[next_slot] = clamped;
        slot_wl[next_slot] = wl_en;
        slot_age[next_slot] = 0;
        slot_on[next_slot] = 1'b1;
        next_slot = (next_slot + 1) % {slots};
        reads = reads + 32'h1;
      end
    end
    found = 1'b0;
    for (k = 0; k < {slots}; k = k + 1) begin
      since = slot_age[k] + 1 - {proto.latency};
      if (slot_on[k] && since >= 0 && since % {proto.interval} == 0
          && since / {proto.interval} < {steps}) begin
        found = 1'b1;
        last = slot_codes[k] >> (since / {proto.interval} * {lane_w});
      end
    end
    codes_valid <= found;
    codes <= found ? last : ~last;
  end
endmodule
"""
