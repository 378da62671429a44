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

The text is unrolled for the simulator: one constant addition per row with a cell (rows of
zeros are left out), one constant clamp per column (none when ``F <= adc_bits``: the columns
are then packed ``adc_bits`` apart and the sums are the codes), one register set per ring slot
and a ``case`` on a slot's age for its conversions, with the same outputs as loops over
memories: Icarus interprets loops statement by statement, and the unrolled macros take the
digits MLP's simulation from about 2.1 to 1.75 CPU seconds (docs/cosim.md, Speed).
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
    top = 2**bits - 1
    d = model.dac_bits
    wl_w = rows * d
    # F bits per column of the packed sums (the largest column of cells times the largest
    # digit); when F <= adc_bits no sum exceeds the ADC range, so the columns are packed
    # adc_bits apart and the sums are the codes (no clamping)
    field = max(1, (int(model.cells.sum(axis=0).max()) * (2**d - 1)).bit_length())
    clamps = field > bits
    field = field if clamps else bits
    row_w, lane_w, all_w = cols * field, lanes * bits, steps * lanes * bits
    slots = max(1, ceil_div(proto.cycles, proto.sampling_cycles))
    add_rows = []
    for r in range(rows):
        value = 0
        for c in range(cols):
            value |= int(model.cells[r, c]) << (c * field)
        if not value:  # a row of zeros adds nothing
            continue
        if d == 1:
            add_rows.append(f"        if (wl_en[{r}]) sum = sum + {_hex(value, row_w)};")
        else:  # the packed row times the row's digit
            digit = f"wl_en[{r * d + d - 1}:{r * d}]"
            add_rows.append(f"        sum = sum + {_hex(value, row_w)} * {digit};")
    if clamps:
        clamp = [f"        clamped = {all_w}'h0;"]
        for c in range(cols):
            col = f"sum[{c * field + field - 1}:{c * field}]"
            low = f"sum[{c * field + bits - 1}:{c * field}]"
            clamp.append(
                f"        clamped[{c * bits + bits - 1}:{c * bits}] = "
                f"({col} > {field}'d{top}) ? {bits}'d{top} : {low};"
            )
    else:
        pad = all_w - row_w
        clamp = [f"        clamped = {{{pad}'h0, sum}};" if pad else "        clamped = sum;"]
    decl, init, age, store, convert = [], [], [], [], []
    for k in range(slots):
        decl += [
            f"  reg [{all_w - 1}:0] slot_codes_{k};",
            f"  reg [{wl_w - 1}:0] slot_wl_{k};",
            f"  integer slot_age_{k};",
            f"  reg slot_on_{k};",
        ]
        init += [
            f"    slot_on_{k} = 1'b0;",
            f"    slot_age_{k} = 0;",
            f"    slot_wl_{k} = {wl_w}'h0;",
            f"    slot_codes_{k} = {all_w}'h0;",
        ]
        age += [
            f"    if (slot_on_{k}) begin",
            f"      slot_age_{k} = slot_age_{k} + 1;",
            f"      if (slot_age_{k} < {proto.sampling_cycles}) begin",
            "        sampling = 1'b1;",
            f"        if (wl_en != slot_wl_{k}) wl_errors = wl_errors + 32'h1;",
            "      end",
            f"      if (slot_age_{k} >= {proto.cycles}) slot_on_{k} = 1'b0;",
            "    end",
        ]
        store += [
            f"          {k}: begin",
            f"            slot_codes_{k} = clamped;",
            f"            slot_wl_{k} = wl_en;",
            f"            slot_age_{k} = 0;",
            f"            slot_on_{k} = 1'b1;",
            "          end",
        ]
        convert += [f"    if (slot_on_{k})", f"      case (slot_age_{k})"]
        for j in range(steps):  # conversion j leaves the ADCs latency + j * interval cycles on
            convert.append(
                f"        {proto.latency - 1 + j * proto.interval}: begin found = 1'b1; "
                f"last = slot_codes_{k}[{(j + 1) * lane_w - 1}:{j * lane_w}]; end"
            )
        convert += ["        default: ;", "      endcase"]
    nl = chr(10)
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
{nl.join(decl)}
  integer next_slot;
  reg [{lane_w - 1}:0] last;
  reg [{row_w - 1}:0] sum;
  reg [{all_w - 1}:0] clamped;
  reg sampling;
  reg found;
  initial begin
{nl.join(init)}
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
{nl.join(age)}
    if (read) begin
      if (sampling) read_errors = read_errors + 32'h1;
      else begin
        sum = {row_w}'h0;
{nl.join(add_rows)}
{nl.join(clamp)}
        case (next_slot)
{nl.join(store)}
          default: ;
        endcase
        next_slot = next_slot == {slots - 1} ? 0 : next_slot + 1;
        reads = reads + 32'h1;
      end
    end
    found = 1'b0;
{nl.join(convert)}
    codes_valid <= found;
    codes <= found ? last : ~last;
  end
endmodule
"""
