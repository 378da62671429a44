"""The ``spikesim`` preset: SpikeSim's published ELA model (Moitra et al., IEEE TCAD 2023).

Each weighted edge is one SpikeSim layer ``i`` with ``C_in`` (source channels, or
``in_features``), ``C_out``, ``H_in^2`` and ``H_out^2`` (generalised to ``H * W``, 1 for a flat
layer). With crossbar size ``X`` and ``E_pe_cycle``, ``A_tile`` of
:class:`~hdl.cost.constants.SpikeSimLibrary`:

* PEs ``P_i = ceil(C_in / X) * ceil(C_out / X)``; tiles ``sum_i ceil(P_i / 8)`` (fixed) or
  ``ceil(sum_i P_i / 8)`` (the script);
* energy ``E_i = P_i * H_out^2 * E_pe_cycle * T`` [pJ];
* area ``tiles * A_tile + (sum_i C_in H_in^2 + sum_i C_out H_out^2) * 0.7391 * 22`` [um^2];
* latency [PE cycles of 104 ns]: layer ``i`` busy ``b_i = H_out^2 * C_out * T``, starting when
  the previous one is 75 % done; ``max_i (sum_{j<i} 0.75 b_j + b_i)`` (fixed) or
  ``sum_{i<L} int(0.75 H_i^2 C_i) T + b_L`` (the script).

``reproduce=True`` follows the released script ``ela_spikesim.py`` line by line;
docs/cost-model.md section 5 lists each defect with the line it comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hdl.cost.constants import SpikeSimLibrary
from hdl.cost.errors import CostError, SpikeSimRefusal
from hdl.cost.memory import Memory
from hdl.cost.report import LayerCost, PresetCost
from hdl.mapping import Mapping

__all__ = ["SpikeSimLayer", "price_spikesim", "spikesim_layers", "spikesim_refusal"]


@dataclass(frozen=True)
class SpikeSimLayer:
    """One weighted edge as SpikeSim's lists hold it, with the memory of its row.

    Attributes:
        name: the layer (``layer[edge]`` when a layer has several weighted edges).
        c_in, c_out: ``in_ch_list[i]``, ``out_ch_list[i]``.
        h_in, h_out: ``in_dim_list[i]**2``, ``out_dim_list[i]**2`` (``H * W``; 1 when flat).
        weight_bits: bits of the edge's weight values.
        state_bits: the layer's state bits on its first edge's row, else 0.
    """

    name: str
    c_in: int
    c_out: int
    h_in: int
    h_out: int
    weight_bits: int
    state_bits: int


def spikesim_layers(mapping: Mapping, mem: Memory) -> list[SpikeSimLayer]:
    """The SpikeSim layers of a mapped network, one per weighted edge, in file order."""
    out = []
    for layer, state in zip(mapping.layers, mem.layer_state_bits, strict=True):
        many = len(layer.edges) > 1
        for j, e in enumerate(layer.edges):
            if e.kind == "conv2d":
                c_in, h_in = e.in_shape[0], e.in_shape[1] * e.in_shape[2]
            else:
                c_in, h_in = e.in_channels, 1
            out.append(
                SpikeSimLayer(
                    name=f"{layer.name}[{e.index}]" if many else layer.name,
                    c_in=c_in,
                    c_out=e.out_channels,
                    h_in=h_in,
                    h_out=e.positions,
                    weight_bits=e.weights * e.weight_bits,
                    state_bits=state if j == 0 else 0,
                )
            )
    return out


def spikesim_refusal(pes: list[int], raw: list[float]) -> str | None:
    """Why the released SpikeSim script would not price these layers, or ``None``.

    ``pes`` are the PEs per layer with ``ceil`` (``pe_tile_count``, line 10), ``raw`` the uncapped
    ``(C_in/X) * (C_out/X)`` of ``latency_gen`` (line 114). Lines 14-21 and 118-125 print "Check
    layer order" and return ``None`` unless the list is sorted (``compute_area`` then fails on
    ``n_tiles = None``); lines 137-140 loop forever when every ``int(raw_i)`` is 0.
    """
    if pes != sorted(pes) or raw != sorted(raw):
        return (
            "SpikeSim refuses this network ('Check layer order'): its PEs per layer "
            f"{pes} (uncapped {[round(r, 4) for r in raw]}) do not grow layer by layer"
        )
    if all(int(r) == 0 for r in raw):
        return (
            "SpikeSim never finishes on this network: every layer has less than one uncapped PE "
            f"({[round(r, 4) for r in raw]}), so its tile-filling loop does not advance"
        )
    return None


def _latency_pe_cycles(
    spec: list[SpikeSimLayer], t: int, frac: float, reproduce: bool
) -> float | int:
    """Pipelined latency of one sample [PE cycles]; layer ``i`` is busy ``H_out^2 C_out T``."""
    if reproduce:
        # lines 164, 179, 185, 194: halts[-1] = sum_{i<L} int(0.75 * H_i^2 * C_i) * T
        # + H_L^2 * C_L * T, the last layer's end (T counted once)
        head = sum(int(frac * s.h_out * s.c_out) * t for s in spec[:-1])
        return head + spec[-1].h_out * spec[-1].c_out * t
    # start_i = sum_{j<i} 0.75 * busy_j; the inference ends when the last layer to finish does:
    # max_i(start_i + busy_i) (= start_L + busy_L when the last layer finishes last, the
    # published formula)
    start = end = 0.0
    for s in spec:
        busy = s.h_out * s.c_out * t
        end = max(end, start + busy)
        start += frac * busy
    return end


def price_spikesim(
    mapping: Mapping, samples: int, lib: SpikeSimLibrary, reproduce: bool, mem: Memory
) -> PresetCost:
    """Latency, energy [pJ], area [um^2], rows and events of the ``spikesim`` preset.

    Fixed (``reproduce=False``): one layer per tile, neuron memory of every layer, latency the
    end of the last layer to finish. ``reproduce=True``: the released script; the totals are
    summed in its order, so its printed figures come out to the last digit.

    Raises:
        CostError: the network has no weighted edge.
        SpikeSimRefusal: ``reproduce`` and the script would refuse (or never finish) it.
    """
    x = lib.xbar.value
    per_tile = int(lib.pes_per_tile.value)
    t = mapping.timesteps
    spec = spikesim_layers(mapping, mem)
    if not spec:
        raise CostError("the spikesim preset needs at least one weighted (linear/conv2d) edge")
    pes = [math.ceil(s.c_in / x) * math.ceil(s.c_out / x) for s in spec]
    notes: list[str] = []
    if reproduce:
        why = spikesim_refusal(pes, [(s.c_in / x) * (s.c_out / x) for s in spec])
        if why is not None:
            raise SpikeSimRefusal(f"{why}; pass reproduce_defects=False to price it")
        tiles_total = math.ceil(sum(pes) / per_tile)  # lines 27-30: layers share tiles
        notes.append(
            f"reproduced defect: layers share tiles (ceil({sum(pes)} PEs / {per_tile}) = "
            f"{tiles_total} tiles)"
        )
        notes.append(
            "reproduced defect: the latency is the last layer's end, whether or not an earlier "
            "layer ends later, with each start truncated to whole PE cycles per timestep"
        )
    else:
        tiles_total = sum(math.ceil(p / per_tile) for p in pes)
    n_mem = min(int(lib.neuron_memory_layers.value), len(spec)) if reproduce else len(spec)
    if n_mem < len(spec):
        notes.append(
            f"reproduced defect: neuron memory of the first {n_mem} of {len(spec)} layers only"
        )
    e_pe = lib.pe_cycle_energy_pj()
    a_tile = lib.tile_area_um2()
    a_bit, v_bits = lib.a_buffer_bit.value, lib.value_bits.value

    rows: list[LayerCost] = []
    e_total = 0.0
    in_values = neuron_values = 0  # values held by the input buffers and the neuron memory
    for i, (s, p) in enumerate(zip(spec, pes, strict=True)):
        pe_cycles = p * s.h_out  # PE cycles of one timestep
        energy = samples * pe_cycles * e_pe * t
        e_total += energy
        n_in, n_out = s.c_in * s.h_in, (s.c_out * s.h_out if i < n_mem else 0)
        in_values += n_in
        neuron_values += n_out
        own_tiles = math.ceil(p / per_tile)
        a_tiles = (p / per_tile if reproduce else own_tiles) * a_tile
        busy = s.h_out * s.c_out * t  # PE cycles the layer is busy (halts_i - starts_i + 1)
        rows.append(
            LayerCost(
                name=s.name,
                tiles=own_tiles,
                cycles=math.ceil(samples * busy * lib.pe_cycle_clocks.value),
                energy_pj=energy,
                area_mm2=(a_tiles + (n_in + n_out) * a_bit * v_bits) * 1e-6,
                weight_bits=s.weight_bits,
                state_bits=s.state_bits,
                detail={
                    "pes": p,
                    "pe_cycles_per_timestep": pe_cycles,
                    "in_ch": s.c_in,
                    "out_ch": s.c_out,
                },
            )
        )
    latency_pe = samples * _latency_pe_cycles(spec, t, lib.pipeline_start.value, reproduce)
    # totals in the script's order (lines 91-98): tiles, then sum of values * bit area * bits
    area = {
        "tiles": tiles_total * a_tile,
        "input_buffers": in_values * a_bit * v_bits,
        "neuron_memory": neuron_values * a_bit * v_bits,
    }
    area["total"] = sum(area.values())
    return PresetCost(
        clock_mhz=float(lib.clock_mhz.value),
        cycles=math.ceil(latency_pe * lib.pe_cycle_clocks.value),
        seconds=latency_pe * lib.pe_cycle_ns * 1e-9,
        energy_pj={"pe_cycles": e_total, "total": e_total},
        area_um2=area,
        events={
            "pes": sum(pes),
            "tiles": tiles_total,
            "pe_cycles": samples * t * sum(p * s.h_out for p, s in zip(pes, spec, strict=True)),
            "latency_pe_cycles": latency_pe,
        },
        layers=tuple(rows),
        notes=tuple(notes),
    )
