"""An STT-MTJ dropout module as a behavioural Verilog module, for simulation only.

:func:`mtj_module_verilog` writes the module of one DAC table; it plays exactly
:meth:`sim.models.mtj.MTJModuleModel.step` (the reference, which the tests compare it with
cycle by cycle and the Amaranth simulator runs), on the ports of
:func:`hdl.rtl.mask_fill.mtj_signature` seen from the module's side, plus:

* ``image`` (in, 32 bits): the image being simulated; when it changes, the draw counter
  restarts at 0 and the draws come from ``key = mix64(mix64(SEED_KEY + image + γ) + MODULE +
  γ)`` (:func:`sim.models.mtj.module_key`, ``SEED_KEY = mix64(seed + γ)`` and ``MODULE`` the
  instance's parameters);
* ``bit_valid`` / ``bit_value`` (out): in the cycle after a write pulse's first cycle without
  ``write``, the drawn bit (1 = AP = drop), which the simulation top logs;
* ``drive_errors``, ``reset_errors``, ``current_errors`` (out, 32 bits): counts of cycles with
  more than one of reset/write/sense, of write pulses without a reset before them, of cycles
  whose current changed during a pulse.

Per write cycle ``j`` of the image (counted whatever the state): ``u = mix64(key + (j + 1) ·
γ) >> 32`` (:func:`sim.models.mtj.draw_u32`); a junction in P switches to AP when ``u <
threshold[current]``, the table of :func:`sim.models.mtj.threshold_table` (33 bits: ``2^32``
switches always). 64-bit products wrap modulo ``2^64`` as in SplitMix64.
"""

from __future__ import annotations

import re

from sim.models.mtj import GAMMA

__all__ = ["mtj_module_verilog"]


def mtj_module_verilog(name: str, thresholds: list[int], code_bits: int) -> str:
    """Verilog text of the module ``name`` with the switching thresholds ``thresholds``
    (``2^code_bits`` integers in ``0 .. 2^32``, index = DAC code); parameters ``SEED_KEY``
    (64 bits) and ``MODULE`` (32 bits). The text depends only on the arguments."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"module name {name!r} is not a Verilog identifier")
    codes = 2**code_bits
    if len(thresholds) != codes or any(not 0 <= int(t) <= 2**32 for t in thresholds):
        raise ValueError(f"thresholds must be {codes} integers in 0..2^32")
    table = "\n".join(f"    threshold[{k}] = 33'h{int(t):x};" for k, t in enumerate(thresholds))
    g = f"64'h{GAMMA:x}"
    return f"""// MTJ dropout module model, {code_bits}-bit DAC (sim.models.mtj_verilog)
module {name}(clk, image, reset, write, current, sense, state, bit_valid, bit_value,
    drive_errors, reset_errors, current_errors);
  parameter [63:0] SEED_KEY = 64'h0;
  parameter [31:0] MODULE = 32'h0;
  input clk;
  input [31:0] image;
  input reset;
  input write;
  input [{code_bits - 1}:0] current;
  input sense;
  output state;
  output bit_valid;
  output bit_value;
  output [31:0] drive_errors;
  output [31:0] reset_errors;
  output [31:0] current_errors;
  reg state;
  reg bit_valid;
  reg bit_value;
  reg [31:0] drive_errors;
  reg [31:0] reset_errors;
  reg [31:0] current_errors;
  reg [32:0] threshold [0:{codes - 1}];
  reg [31:0] cur_image;
  reg [63:0] key;
  reg [63:0] draws;
  reg [31:0] u;
  reg junction;
  reg pulse;
  reg [{code_bits - 1}:0] code;
  reg got_bit;
  function [63:0] mix64;
    input [63:0] z0;
    reg [63:0] z;
    begin
      z = (z0 ^ (z0 >> 30)) * 64'hbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 64'h94d049bb133111eb;
      mix64 = z ^ (z >> 31);
    end
  endfunction
  initial begin
{table}
    cur_image = 32'h0;
    key = mix64(mix64(SEED_KEY + {g}) + {{32'h0, MODULE}} + {g});
    draws = 64'h0;
    junction = 1'b0;
    pulse = 1'b0;
    code = {code_bits}'h0;
    state = 1'b0;
    bit_valid = 1'b0;
    bit_value = 1'b0;
    drive_errors = 32'h0;
    reset_errors = 32'h0;
    current_errors = 32'h0;
  end
  always @(posedge clk) begin
    if (image != cur_image) begin
      cur_image = image;
      key = mix64(mix64(SEED_KEY + {{32'h0, image}} + {g}) + {{32'h0, MODULE}} + {g});
      draws = 64'h0;
    end
    if ({{1'b0, reset}} + {{1'b0, write}} + {{1'b0, sense}} > 2'd1)
      drive_errors = drive_errors + 32'h1;
    got_bit = 1'b0;
    if (write) begin
      if (!pulse) begin
        if (junction) reset_errors = reset_errors + 32'h1;
        pulse = 1'b1;
        code = current;
      end else if (current != code) current_errors = current_errors + 32'h1;
      u = mix64(key + (draws + 64'h1) * {g}) >> 32;
      draws = draws + 64'h1;
      if (!junction && {{1'b0, u}} < threshold[current]) junction = 1'b1;
    end else if (pulse) begin
      got_bit = 1'b1;
      pulse = 1'b0;
    end
    bit_value <= junction;
    bit_valid <= got_bit;
    if (reset) junction = 1'b0;
    state <= junction;
  end
endmodule
"""
