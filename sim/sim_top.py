"""The simulation top of the accelerator: its Verilog with behavioural macros, MTJ modules and
a trace writer around it, for Icarus and Verilator (simulation only, never synthesised).

:func:`sim_top_verilog` returns the Verilog of the module :data:`SIM_TOP` (plus the models it
instantiates): the accelerator (top module ``top`` of the given Verilog) with

* one :mod:`sim.models.crossbar_verilog` macro per tile (its cells baked in), on the tile's
  ports ``<tile>__wl_en``, ``__read``, ``__codes``, ``__codes_valid``;
* one :mod:`sim.models.mtj_verilog` module per MTJ port (``SEED_KEY`` from the run's seed,
  ``MODULE`` = its index in :attr:`~hdl.rtl.plan.AcceleratorPlan.mtj_modules`), every one
  on the input ``image``;
* every other port of the accelerator (clock, reset, pixels, start, samples, counts, busy,
  done, event counters) passed through, and the inputs ``image`` (32 bits: the image being
  simulated, it seeds the MTJ draws) and ``flush``, the outputs ``cycle`` (64 bits: rising
  edges so far) and ``busy_seen`` (cycles with ``busy`` high so far, the current one
  included).

At every rising edge it appends to :data:`TRACE_FILE` (in the simulator's working directory)
one line per observation of the cycle that ends, stamped with that cycle's ``cycle`` value
``c`` (the value a testbench reads in the middle of the cycle):

=============================== ============================================================
``c S <i> <hex>``               ``spikes_l<i>`` in the cycle after ``layer_done_l<i>``
``c O <hex>``                   a ``counts`` transfer (``valid`` and ``ready``): its payload
``c M <k> <bit>``               MTJ module ``k`` drew ``bit`` (1 = drop)
=============================== ============================================================

and in a cycle with ``flush`` high the counters, then ``F``, and flushes the file:
``R <tile index> <reads> <read errors> <wl_en errors>`` per tile, ``P <k> <drive> <reset>
<current errors>`` per MTJ module, ``E <event> <value>`` per event counter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hdl.mtj import MTJDevice
from sim.models.crossbar_verilog import crossbar_macro_verilog, macro_module_name
from sim.models.mtj import seed_key, threshold_table
from sim.models.mtj_verilog import mtj_module_verilog

__all__ = ["SIM_TOP", "TRACE_FILE", "Port", "sim_top_verilog", "top_ports"]

#: Name of the simulation top module.
SIM_TOP = "accelerator_sim_top"
#: The trace file the simulation top writes, in the simulator's working directory.
TRACE_FILE = "trace.txt"

_PORT = re.compile(r"^\s*(input|output)\s+(?:reg\s+|wire\s+)?(?:\[(\d+):0\]\s*)?(\w+)\s*;")


@dataclass(frozen=True)
class Port:
    """One port of a Verilog module: ``direction`` (``"input"`` / ``"output"``), name, width."""

    direction: str
    name: str
    width: int


def top_ports(verilog: str, top: str) -> list[Port]:
    """The ports of module ``top`` in ``verilog`` (non-ANSI declarations, as Amaranth writes
    them), in declaration order."""
    start = re.search(rf"^module\s+{re.escape(top)}\s*\(", verilog, flags=re.M)
    if start is None:
        raise ValueError(f"the Verilog has no module {top!r}")
    end = verilog.find("endmodule", start.end())
    ports = []
    for line in verilog[start.end() : end].splitlines():
        m = _PORT.match(line)
        if m:
            width = int(m.group(2)) + 1 if m.group(2) is not None else 1
            ports.append(Port(m.group(1), m.group(3), width))
    return ports


def _decl(direction: str, name: str, width: int) -> str:
    return f"  {direction} {f'[{width - 1}:0] ' if width > 1 else ''}{name};"


def sim_top_verilog(
    verilog: str,
    top: str,
    manifest: Mapping[str, Any],
    layers: Sequence[Mapping[str, Any]],
    cells: Mapping[str, np.ndarray],
    adc_bits: int,
    device: MTJDevice,
    clock_mhz: float,
    mtj_seed: int,
    events: Sequence[str],
) -> str:
    """Verilog of :data:`SIM_TOP` and its models around the accelerator ``top`` of ``verilog``
    (module doc). ``manifest``: :meth:`~hdl.rtl.plan.AcceleratorPlan.manifest`; ``layers``:
    :func:`sim.cosim.traced_layers`; ``cells``: tile name -> its cells; ``events``: the
    ``ev_*`` counter names. The text depends only on the arguments."""
    ports = top_ports(verilog, top)
    by_name = {p.name: p for p in ports}
    tiles, mods = manifest["tiles"], manifest["mtj_modules"]
    inner = {f"{t['name']}__{s}" for t in tiles for s in ("wl_en", "read", "codes", "codes_valid")}
    inner |= {f"{m['name']}__{s}" for m in mods for s in ("reset", "write", "current", "sense")}
    inner |= {f"{m['name']}__state" for m in mods}
    missing = sorted(inner - set(by_name))
    if missing:
        raise ValueError(f"the accelerator {top!r} has no port(s) {missing}")
    outer = [p for p in ports if p.name not in inner]
    names = [p.name for p in outer] + ["image", "flush", "cycle", "busy_seen"]
    body: list[str] = [f"module {SIM_TOP}({', '.join(names)});"]
    body += [_decl(p.direction, p.name, p.width) for p in outer]
    body += [
        _decl("input", "image", 32),
        _decl("input", "flush", 1),
        _decl("output", "cycle", 64),
        _decl("output", "busy_seen", 32),
    ]
    body += [_decl("wire", p.name, p.width) for p in ports if p.name in inner]
    conns = ", ".join(f".{p.name}({p.name})" for p in ports)
    body.append(f"  {top} accel ({conns});")

    models: list[str] = []
    for k, t in enumerate(tiles):
        name = t["name"]
        models.append(
            crossbar_macro_verilog(
                macro_module_name(name),
                np.asarray(cells[name]),
                adc_bits,
                int(t["first_cycles"]),
                int(t["lanes"]),
                int(t["conversion_cycles"]),
                dac_bits=int(t.get("dac_bits", 1)),
            )
        )
        body += [_decl("wire", f"x{k}_{s}", 32) for s in ("reads", "rerr", "werr")]
        p = f"{name}__"
        body.append(
            f"  {macro_module_name(name)} u_{name} (.clk(clk), .wl_en({p}wl_en), .read({p}read), "
            f".codes({p}codes), .codes_valid({p}codes_valid), .reads(x{k}_reads), "
            f".read_errors(x{k}_rerr), .wl_errors(x{k}_werr));"
        )
    tables: dict[tuple[int, tuple[int, ...]], str] = {}
    for k, m in enumerate(mods):
        code_bits = int(m["code_bits"])
        width = by_name[f"{m['name']}__current"].width
        if width != code_bits:
            raise ValueError(
                f"MTJ module {m['name']!r}: the current port has {width} bits, the DAC {code_bits}"
            )
        table = tuple(threshold_table(device, clock_mhz, code_bits))
        if (code_bits, table) not in tables:
            tables[(code_bits, table)] = f"mtj_model_{len(tables)}"
            models.append(mtj_module_verilog(tables[(code_bits, table)], list(table), code_bits))
        body += [_decl("wire", f"m{k}_{s}", 1) for s in ("valid", "bit")]
        body += [_decl("wire", f"m{k}_{s}", 32) for s in ("derr", "rerr", "cerr")]
        p = f"{m['name']}__"
        body.append(
            f"  {tables[(code_bits, table)]} #(.SEED_KEY(64'h{seed_key(mtj_seed):x}), "
            f".MODULE(32'd{k})) u_{m['name']} (.clk(clk), .image(image), .reset({p}reset), "
            f".write({p}write), .current({p}current), .sense({p}sense), .state({p}state), "
            f".bit_valid(m{k}_valid), .bit_value(m{k}_bit), .drive_errors(m{k}_derr), "
            f".reset_errors(m{k}_rerr), .current_errors(m{k}_cerr));"
        )

    body += [
        "  integer trace;",
        "  reg [63:0] cycle_count;",
        "  reg [31:0] busy_count;",
    ]
    body += [f"  reg strobe_{int(layer['index'])};" for layer in layers]
    body.append("  initial begin")
    body.append(f'    trace = $fopen("{TRACE_FILE}", "w");')
    body += ["    cycle_count = 64'h0;", "    busy_count = 32'h0;"]
    body += [f"    strobe_{int(layer['index'])} = 1'b0;" for layer in layers]
    body.append("  end")
    body += ["  assign cycle = cycle_count;", "  assign busy_seen = busy_count + busy;"]
    body.append("  always @(posedge clk) begin")
    for layer in layers:
        i = int(layer["index"])
        body.append(
            f'    if (strobe_{i}) $fwrite(trace, "%0d S {i} %0h\\n", cycle_count, '
            f"accel.{layer['buffer']});"
        )
        body.append(f"    strobe_{i} <= accel.{layer['strobe']};")
    body.append(
        '    if (counts__valid && counts__ready) $fwrite(trace, "%0d O %0h\\n", cycle_count, '
        "counts__payload);"
    )
    for k in range(len(mods)):
        body.append(
            f'    if (m{k}_valid) $fwrite(trace, "%0d M {k} %0d\\n", cycle_count, m{k}_bit);'
        )
    body.append("    if (busy) busy_count <= busy_count + 32'h1;")
    body.append("    if (flush) begin")
    for k in range(len(tiles)):
        body.append(
            f'      $fwrite(trace, "R {k} %0d %0d %0d\\n", x{k}_reads, x{k}_rerr, x{k}_werr);'
        )
    for k in range(len(mods)):
        body.append(
            f'      $fwrite(trace, "P {k} %0d %0d %0d\\n", m{k}_derr, m{k}_rerr, m{k}_cerr);'
        )
    for ev in events:
        body.append(f'      $fwrite(trace, "E {ev} %0d\\n", ev_{ev});')
    body += ['      $fwrite(trace, "F\\n");', "      $fflush(trace);", "    end"]
    body += ["    cycle_count <= cycle_count + 64'h1;", "  end", "endmodule", ""]
    header = "// simulation top (sim.sim_top): not for synthesis\n"
    return header + "\n".join(models) + "\n".join(body)
