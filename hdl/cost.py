"""Cost model of a neurocim accelerator: memory, area, latency and energy of one inference.

``estimate(net, hw, preset, samples)`` prices a network (weights are not needed) in closed form,
fast enough to run inside an architecture search (tens of microseconds). Two presets:

* ``default``: the architecture neurocim generates. Latency is the schedule of
  :mod:`hdl.mapping` to the cycle (the RTL takes exactly that many cycles); energy is the
  schedule's event counts times energies per event from :class:`ComponentLibrary`, plus the
  MTJ dropout cycles priced by :func:`hdl.mtj.dropout_cycle_energy`, plus static (leakage)
  energy over the latency.
* ``spikesim``: SpikeSim's published energy / latency / area model (Moitra et al., TCAD 2023),
  with its known defects fixed; ``reproduce_defects=True`` reproduces the original behaviour.

Every constant lives in a frozen dataclass of :class:`Constant` values, each with its unit and
its source. docs/cost-model.md lists them all and writes out every formula.

Units: energy pJ (totals also in uJ), area um^2 (totals in mm^2), time in clock cycles and s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import cache, lru_cache
from typing import Any

from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import Network
from hdl.lfsr import jump_columns
from hdl.mapping import (
    LayerMap,
    Mapping,
    MTJDriver,
    Schedule,
    map_network,
    schedule_mapping,
)
from hdl.mtj import MTJDevice, dropout_cycle_energy

__all__ = [
    "PRESETS",
    "ADCTech",
    "ComponentLibrary",
    "Constant",
    "CostError",
    "CostReport",
    "CrossbarTech",
    "DigitalTech",
    "DropoutTech",
    "LayerCost",
    "SpikeSimLibrary",
    "SpikeSimRefusal",
    "StaticTech",
    "estimate",
    "lfsr_xor_gates",
]

PRESETS = ("default", "spikesim")

SPIKESIM = "SpikeSim ELA script ela_spikesim.py (Moitra et al., IEEE TCAD 2023, 65 nm)"
HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014 (45 nm, 0.9 V)"
ASSUMED = "neurocim assumption"

_PJ_PER_MW_S = 1e9
"""1 mW * 1 s = 1e-3 J = 1e9 pJ."""


class CostError(NeurocimError, ValueError):
    """A network or option the cost model cannot price; the message says why."""


class SpikeSimRefusal(CostError):
    """The original SpikeSim script refuses the network (``reproduce_defects=True`` only)."""


@dataclass(frozen=True, slots=True)
class Constant:
    """One constant of the component library.

    Attributes:
        value: the number, in ``unit``.
        unit: its unit (``pJ``, ``um^2``, ``pJ/bit`` ...).
        source: where it comes from: a publication, a derivation from one, or an explicit
            ``neurocim assumption`` a user should replace with the figures of their process.
    """

    value: float
    unit: str
    source: str


# --- the default preset's component library ----------------------------------------------------


@dataclass(frozen=True)
class CrossbarTech:
    """Crossbar cells.

    ``E_read = cell_read_energy * row_activity * (cells of the read)`` per read step of an edge,
    with ``rows * phys_cols`` cells over all its tiles.
    """

    cell_area: Constant = Constant(
        26.2144 / 4096, "um^2/cell", f"{SPIKESIM}: 64x64 RRAM crossbar 26.2144 um^2 / 4096 cells"
    )
    cell_read_energy: Constant = Constant(
        8 * 1.76423 / 4096,
        "pJ/cell",
        f"derived from {SPIKESIM}: crossbar term (X/8) * 1.76423 pJ per 64x64 crossbar and "
        "PE cycle, divided by its 4096 cells",
    )
    row_activity: Constant = Constant(
        1.0, "fraction", f"{ASSUMED}: worst case, every row of a read is driven"
    )


@dataclass(frozen=True)
class ADCTech:
    """Column ADCs and their analog multiplexers.

    ``E_conv(b) = energy_ref * 2**(b - ref_bits)`` and ``A_adc(b) = area_ref * 2**(b - ref_bits)``
    (energy and area double per bit, the Walden figure-of-merit law); the mux in front of an ADC
    costs ``mux_energy`` per conversion and ``mux_area * inputs / mux_ref_inputs``.
    """

    energy_ref: Constant = Constant(2.03084, "pJ/conversion", f"{SPIKESIM}: ADC")
    area_ref: Constant = Constant(693.633, "um^2/ADC", f"{SPIKESIM}: ADC")
    ref_bits: Constant = Constant(
        4, "bits", f"{ASSUMED}: resolution of the SpikeSim ADC (the ELA script does not state it)"
    )
    bit_scaling: Constant = Constant(
        2.0,
        "factor per bit",
        f"{ASSUMED}: energy and area double per ADC bit (Walden figure of merit, E ~ 2^bits)",
    )
    mux_energy: Constant = Constant(0.094245, "pJ/conversion", f"{SPIKESIM}: 8:1 column mux")
    mux_area: Constant = Constant(45.9, "um^2/mux", f"{SPIKESIM}: 8:1 column mux")
    mux_ref_inputs: Constant = Constant(8, "inputs", f"{SPIKESIM}: one ADC per 8 columns")

    def conversion_energy_pj(self, bits: int) -> float:
        """Energy of one conversion of a ``bits``-bit ADC, mux included [pJ]."""
        scale = self.bit_scaling.value ** (bits - self.ref_bits.value)
        return self.energy_ref.value * scale + self.mux_energy.value

    def area_um2(self, bits: int, inputs: int) -> float:
        """Area of one ``bits``-bit ADC with its ``inputs``:1 mux [um^2]."""
        scale = self.bit_scaling.value ** (bits - self.ref_bits.value)
        mux = self.mux_area.value * inputs / self.mux_ref_inputs.value
        return self.area_ref.value * scale + mux


@cache
def lfsr_xor_gates(width: int) -> int:
    """2-input XOR gates of the leap-forward network of one draw of a ``width``-bit LFSR.

    One draw computes ``state' = A**w state`` over GF(2) in one clock (docs/hardware-model.md
    section 4); bit ``i`` of ``state'`` is the XOR of the old bits ``j`` whose column
    ``jump_columns(w, w)[j]`` has bit ``i`` set. A row with ``n`` ones takes ``n - 1`` gates
    (a chain or tree of 2-input XORs; no sharing between rows is assumed), so the network has
    ``sum_i (ones_i - 1)`` gates: 473 for ``w = 32``, 110 for 16, 23 for 8. Cached per width.
    """
    cols = [int(c) for c in jump_columns(width, width)]
    return sum(max(sum((c >> i) & 1 for c in cols) - 1, 0) for i in range(width))


@dataclass(frozen=True)
class DigitalTech:
    """Digital periphery: adders (shift-add, LIF units), LFSRs and SRAM buffers.

    An LFSR of ``w`` bits is ``w`` flip-flops and the XOR network of its leap-forward draw
    (:func:`lfsr_xor_gates`); a draw clocks every flip-flop once and evaluates every gate once.
    """

    add_energy: Constant = Constant(
        0.1 / 32, "pJ/bit", f"{HOROWITZ}: 32-bit integer add 0.1 pJ, per bit"
    )
    add_area: Constant = Constant(
        137 / 32, "um^2/bit", f"{HOROWITZ}: 32-bit adder 137 um^2, per bit"
    )
    sram_energy: Constant = Constant(
        10 / 64, "pJ/bit", f"{HOROWITZ}: 64-bit access of an 8 KB SRAM 10 pJ, per bit"
    )
    sram_area: Constant = Constant(
        0.7391, "um^2/bit", f"{SPIKESIM}: buffer area per bit (tile buffer 0.7391 * 64 * 128)"
    )
    lif_adders: Constant = Constant(
        5,
        "adders/update",
        f"{ASSUMED}: z + bias, leak v - (v >> s), + I, - S_prev * threshold, compare",
    )
    lif_sram_words: Constant = Constant(
        4, "words/update", f"{ASSUMED}: read v, threshold, bias; write v (plus 2 spike bits)"
    )
    lfsr_bit_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/draw",
        f"{ASSUMED}: one LFSR flip-flop clocked once, priced as one adder bit ({HOROWITZ}: "
        "32-bit integer add 0.1 pJ, per bit)",
    )
    lfsr_bit_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one LFSR flip-flop, priced as one adder bit ({HOROWITZ}: 32-bit adder "
        "137 um^2, per bit)",
    )
    xor_energy: Constant = Constant(
        0.1 / 64,
        "pJ/gate/draw",
        f"{ASSUMED}: one 2-input XOR gate evaluated once, priced as half an adder bit (a "
        f"full-adder bit is two XOR2 gates plus carry logic; {HOROWITZ}: 32-bit add 0.1 pJ)",
    )
    xor_area: Constant = Constant(
        137 / 64,
        "um^2/gate",
        f"{ASSUMED}: one 2-input XOR gate, priced as half an adder bit (a full-adder bit is two "
        f"XOR2 gates plus carry logic; {HOROWITZ}: 32-bit adder 137 um^2)",
    )

    def lfsr_draw_energy_pj(self, width: int) -> float:
        """Energy of one leap-forward draw of a ``width``-bit LFSR [pJ]:
        ``width * lfsr_bit_energy + lfsr_xor_gates(width) * xor_energy``."""
        gates = lfsr_xor_gates(width)
        return width * self.lfsr_bit_energy.value + gates * self.xor_energy.value

    def lfsr_area_um2(self, width: int) -> float:
        """Area of one ``width``-bit LFSR with its leap-forward network [um^2]:
        ``width * lfsr_bit_area + lfsr_xor_gates(width) * xor_area``."""
        return width * self.lfsr_bit_area.value + lfsr_xor_gates(width) * self.xor_area.value


@dataclass(frozen=True)
class DropoutTech:
    """MTJ dropout modules (the energy of a dropout cycle comes from :mod:`hdl.mtj`)."""

    module_area: Constant = Constant(
        25.0,
        "um^2/module",
        f"{ASSUMED}: MTJ + write driver + sense amplifier + latch (order of magnitude; "
        "replace with the module's layout)",
    )


@dataclass(frozen=True)
class StaticTech:
    """Leakage: ``E_static = leakage_density * area * latency``."""

    leakage_density: Constant = Constant(
        1.0,
        "mW/mm^2",
        f"{ASSUMED}: order of magnitude of a 65 nm low-power process; 0 disables static energy",
    )


@dataclass(frozen=True)
class ComponentLibrary:
    """Every constant of the ``default`` preset."""

    crossbar: CrossbarTech = field(default_factory=CrossbarTech)
    adc: ADCTech = field(default_factory=ADCTech)
    digital: DigitalTech = field(default_factory=DigitalTech)
    dropout: DropoutTech = field(default_factory=DropoutTech)
    static: StaticTech = field(default_factory=StaticTech)

    def constants(self) -> dict[str, Constant]:
        """All constants by dotted name (``adc.energy_ref`` ...)."""
        return _constants(self)


def _constants(lib: object) -> dict[str, Constant]:
    out: dict[str, Constant] = {}
    for f in fields(lib):  # type: ignore[arg-type]
        value = getattr(lib, f.name)
        if isinstance(value, Constant):
            out[f.name] = value
        else:
            for name, c in _constants(value).items():
                out[f"{f.name}.{name}"] = c
    return out


# --- the spikesim preset's library ------------------------------------------------------------


@dataclass(frozen=True)
class SpikeSimLibrary:
    """SpikeSim ELA constants (Moitra et al., TCAD 2023; values exactly as in its script)."""

    xbar: Constant = Constant(64, "rows = columns", f"{SPIKESIM}: crossbar size X")
    kernel: Constant = Constant(3, "k", f"{SPIKESIM}: a PE holds k^2 crossbars")
    pes_per_tile: Constant = Constant(8, "PEs/tile", SPIKESIM)
    clock_mhz: Constant = Constant(250, "MHz", SPIKESIM)
    pe_cycle_clocks: Constant = Constant(26, "clock cycles/PE cycle", SPIKESIM)
    pipeline_start: Constant = Constant(
        0.75, "fraction", f"{SPIKESIM}: a layer starts when the previous one is 75% done"
    )
    e_htree: Constant = Constant(157.12, "pJ/PE cycle", f"{SPIKESIM}: H-tree 19.64 * 8")
    e_mem_fetch: Constant = Constant(4.64, "pJ/PE cycle", f"{SPIKESIM}: memory fetch")
    e_tile_buffer: Constant = Constant(397.0, "pJ/PE cycle", f"{SPIKESIM}: tile buffer")
    e_neuron: Constant = Constant(5.096, "pJ/PE cycle", f"{SPIKESIM}: neuron 1.274 * 4")
    e_subtractor: Constant = Constant(1.15e-6, "pJ/bit", f"{SPIKESIM}: subtractor")
    subtractor_bits: Constant = Constant(16, "bits", f"{SPIKESIM}: (X/8) * 16 * subtractor")
    e_temp_buffer: Constant = Constant(0.2, "pJ", f"{SPIKESIM}: temporary buffer, per X/8")
    e_crossbar: Constant = Constant(1.76423, "pJ", f"{SPIKESIM}: RRAM crossbar, per X/8")
    e_adc: Constant = Constant(2.03084, "pJ/conversion", f"{SPIKESIM}: ADC")
    e_mux: Constant = Constant(0.094245, "pJ/conversion", f"{SPIKESIM}: 8:1 mux")
    a_crossbar: Constant = Constant(26.2144, "um^2", f"{SPIKESIM}: 64x64 RRAM crossbar")
    a_adc: Constant = Constant(693.633, "um^2", f"{SPIKESIM}: ADC")
    a_mux: Constant = Constant(45.9, "um^2", f"{SPIKESIM}: mux")
    a_subtractor: Constant = Constant(13411.41498, "um^2", f"{SPIKESIM}: subtractor")
    a_temp_buffer: Constant = Constant(484.643999, "um^2", f"{SPIKESIM}: temporary buffer")
    a_buffer_bit: Constant = Constant(0.7391, "um^2/bit", f"{SPIKESIM}: buffer area per bit")
    tile_buffer_bits: Constant = Constant(64 * 128, "bits", f"{SPIKESIM}: tile buffer 64 * 128")
    a_htree: Constant = Constant(433660.0, "um^2", f"{SPIKESIM}: H-tree 216830 * 2")
    value_bits: Constant = Constant(
        22, "bits/value", f"{SPIKESIM}: input buffers and neuron memory, 0.7391 * 22 per value"
    )
    neuron_memory_layers: Constant = Constant(
        5, "layers", f"{SPIKESIM}: neuron memory of out_ch_list[0:5] only (a defect)"
    )

    def constants(self) -> dict[str, Constant]:
        return _constants(self)

    def pe_cycle_energy_pj(self) -> float:
        """``E_pe_cycle`` [pJ] (828.486 pJ at X = 64, k = 3)::

        H-tree + fetch + neuron + (X/8) * [k^2 * E_xbar + (X/8) * (E_adc + E_mux)]
        + (X/8) * bits * E_sub + (X/8) * E_temp + tile buffer

        summed in the order of the script's line ``PE_cycle_energy = ...``, so the floating-point
        result is the script's to the last bit.
        """
        g = self.xbar.value / 8
        k2 = self.kernel.value * self.kernel.value
        pe = k2 * self.e_crossbar.value + g * (self.e_adc.value + self.e_mux.value)
        return (
            self.e_htree.value
            + self.e_mem_fetch.value
            + self.e_neuron.value
            + g * pe
            + g * self.subtractor_bits.value * self.e_subtractor.value
            + g * self.e_temp_buffer.value
            + self.e_tile_buffer.value
        )

    def pe_area_um2(self) -> float:
        """``A_PE = k^2 * A_xbar + (X/8) * (A_adc + A_mux)`` [um^2]."""
        g = self.xbar.value / 8
        return self.kernel.value**2 * self.a_crossbar.value + g * (
            self.a_adc.value + self.a_mux.value
        )

    def tile_area_um2(self) -> float:
        """``A_tile = (X/8) A_sub + A_temp + A_buf_bit * bits + PEs * A_PE + A_htree`` [um^2]."""
        g = self.xbar.value / 8
        return (
            g * self.a_subtractor.value
            + self.a_temp_buffer.value
            + self.a_buffer_bit.value * self.tile_buffer_bits.value
            + self.pes_per_tile.value * self.pe_area_um2()
            + self.a_htree.value
        )

    @property
    def pe_cycle_ns(self) -> float:
        """One PE cycle [ns]: ``pe_cycle_clocks * 1000 / clock_mhz`` (104 ns)."""
        return self.pe_cycle_clocks.value * 1000.0 / self.clock_mhz.value


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerCost:
    """One row of a :class:`CostReport`.

    Attributes:
        name: the layer (``spikesim``: ``layer[edge]`` when a layer has several weighted edges).
        tiles: crossbar tiles (``spikesim``: its own tiles, ``ceil(PEs / 8)``).
        cycles: clock cycles spent in the layer over the inference (``spikesim``: the layer's
            busy time; pipelined layers overlap, so the rows do not add up to the total).
        energy_pj: energy of the layer [pJ].
        area_mm2: area of the layer's own hardware [mm^2].
        weight_bits: bits of weights stored by the layer.
        state_bits: bits of state of the layer (membranes, spikes, partial sums, masks).
        detail: preset-specific numbers (event counts, breakdowns).
    """

    name: str
    tiles: int
    cycles: int
    energy_pj: float
    area_mm2: float
    weight_bits: int
    state_bits: int
    detail: dict[str, Any]


@dataclass(frozen=True)
class CostReport:
    """The cost of one inference (``samples`` Monte-Carlo samples) of a network.

    Attributes:
        network, preset, samples, timesteps: what was priced.
        clock_mhz: the clock of the latency figures.
        cycles: latency in clock cycles (``default``: exactly the schedule's cycles).
        seconds: latency [s].
        energy_pj: energy by component [pJ]; ``energy_pj["total"]`` is the sum.
        area_um2: area by component [um^2]; ``area_um2["total"]`` is the sum.
        memory_bits: memory by kind [bit]: ``weights`` (stored weight values), ``crossbar``
            (cells provided x cell_bits), ``parameters`` (thresholds, biases) and state
            (``membranes``, ``spikes``, ``input``, ``partial_sums``, ``output``, ``masks``).
        events: event counts (``default``: docs/hardware-model.md section 5 and derived ones).
        layers: per-layer rows.
        notes: warnings (possible ADC saturation, reproduced SpikeSim defects ...).
        options: the options the report was made with (``reproduce_defects`` ...).
    """

    network: str
    preset: str
    samples: int
    timesteps: int
    clock_mhz: float
    cycles: int
    seconds: float
    energy_pj: dict[str, float]
    area_um2: dict[str, float]
    memory_bits: dict[str, int]
    events: dict[str, int | float]
    layers: tuple[LayerCost, ...]
    notes: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def energy_uj(self) -> float:
        """Total energy of the inference [uJ]."""
        return self.energy_pj["total"] * 1e-6

    @property
    def area_mm2(self) -> float:
        """Total area [mm^2]."""
        return self.area_um2["total"] * 1e-6

    @property
    def weight_bits(self) -> int:
        return self.memory_bits["weights"]

    @property
    def state_bits(self) -> int:
        return sum(self.memory_bits[k] for k in _STATE_KINDS)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of everything in the report."""
        return {
            "network": self.network,
            "preset": self.preset,
            "samples": self.samples,
            "timesteps": self.timesteps,
            "options": dict(self.options),
            "latency": {
                "cycles": self.cycles,
                "seconds": self.seconds,
                "clock_mhz": self.clock_mhz,
            },
            "energy": {
                "uj": self.energy_uj,
                "pj": dict(self.energy_pj),
            },
            "area": {"mm2": self.area_mm2, "um2": dict(self.area_um2)},
            "memory_bits": {
                **self.memory_bits,
                "state_total": self.state_bits,
            },
            "events": dict(self.events),
            "layers": [
                {
                    "name": r.name,
                    "tiles": r.tiles,
                    "cycles": r.cycles,
                    "energy_pj": r.energy_pj,
                    "area_mm2": r.area_mm2,
                    "weight_bits": r.weight_bits,
                    "state_bits": r.state_bits,
                    **r.detail,
                }
                for r in self.layers
            ],
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """A readable text table: one row per layer, totals and breakdowns."""
        head = (
            f"{self.network}: preset {self.preset}, {self.samples} sample(s) x "
            f"{self.timesteps} timestep(s)"
        )
        if self.options.get("reproduce_defects"):
            head += " (SpikeSim defects reproduced)"
        cols = ("layer", "tiles", "cycles", "energy uJ", "area mm2", "weights kbit", "state kbit")
        rows = [
            (
                r.name,
                str(r.tiles),
                str(r.cycles),
                f"{r.energy_pj * 1e-6:.4g}",
                f"{r.area_mm2:.4g}",
                f"{r.weight_bits / 1000:.4g}",
                f"{r.state_bits / 1000:.4g}",
            )
            for r in self.layers
        ]
        total_tiles = self.events.get("tiles", sum(r.tiles for r in self.layers))
        rows.append(
            (
                "total",
                str(total_tiles),
                str(self.cycles),
                f"{self.energy_uj:.4g}",
                f"{self.area_mm2:.4g}",
                f"{self.weight_bits / 1000:.4g}",
                f"{self.state_bits / 1000:.4g}",
            )
        )
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        rule = "  ".join("-" * w for w in widths)
        out = [head, line(cols), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])]
        out.append(
            f"latency: {self.cycles} cycles = {self.seconds * 1e6:.6g} us at {self.clock_mhz:g} MHz"
        )
        parts = ", ".join(
            f"{k} {v * 1e-6:.4g}" for k, v in self.energy_pj.items() if k != "total" and v
        )
        out.append(f"energy:  {self.energy_uj:.6g} uJ ({parts})")
        parts = ", ".join(
            f"{k} {v * 1e-6:.4g}" for k, v in self.area_um2.items() if k != "total" and v
        )
        out.append(f"area:    {self.area_mm2:.6g} mm^2 ({parts})")
        mem = ", ".join(f"{k} {v}" for k, v in self.memory_bits.items())
        out.append(f"memory:  bits: {mem}")
        ev = ", ".join(f"{k} {v}" for k, v in self.events.items())
        out.append(f"events:  {ev}")
        out.extend(f"note: {n}" for n in self.notes)
        return "\n".join(out)


_STATE_KINDS = ("membranes", "spikes", "input", "partial_sums", "output", "masks")


# --- shared: memory ----------------------------------------------------------------------------


def _current_bits(layer: LayerMap, mapping: Mapping) -> int:
    """Width of the layer's current register: signed bits of the largest ``|z|``, >= membrane.

    ``|z| <= sum_e rows_e * w_max_e * (2**planes_e - 1) + sum_skips s_max``, ``w_max = 1``
    (binary) or ``2**(weight_bits - 1) - 1``; ``s_max = 1`` for spikes, ``2**bits - 1`` for a
    skip from the direct-encoded input (it adds the pixel values).
    """
    pixel_max = 2**mapping.input_bits - 1 if mapping.encoding == "direct" else 1
    bound = sum(pixel_max if src == "input" else 1 for src in layer.skip_sources)
    for e in layer.edges:
        w_max = 1 if e.weight_bits == 1 else 2 ** (e.weight_bits - 1) - 1
        bound += e.rows * w_max * (2**e.planes - 1)
    return max(bound.bit_length() + 1, layer.membrane_bits)


def _memory(mapping: Mapping) -> tuple[dict[str, int], list[tuple[int, int]], list[int]]:
    """Memory by kind [bit], per-layer (weight bits, state bits), per-layer current widths."""
    hw = mapping.hw
    t_bits = max(1, mapping.timesteps.bit_length())  # counts 0..T
    mem = dict.fromkeys(
        ("weights", "crossbar", "parameters", *_STATE_KINDS),
        0,
    )
    per_layer: list[tuple[int, int]] = []
    widths: list[int] = []
    last = len(mapping.layers) - 1
    for i, layer in enumerate(mapping.layers):
        acc = _current_bits(layer, mapping)
        widths.append(acc)
        w = sum(e.weights * e.weight_bits for e in layer.edges)
        cells = sum(e.tiles for e in layer.edges) * hw.tile_rows * hw.tile_cols * hw.cell_bits
        state = 0
        if layer.has_neurons:
            mem["parameters"] += 2 * layer.channels * layer.membrane_bits  # threshold, bias
            state += layer.neurons * layer.membrane_bits + layer.neurons  # membranes, spikes
            mem["membranes"] += layer.neurons * layer.membrane_bits
            mem["spikes"] += layer.neurons
        else:
            mem["parameters"] += layer.channels * acc  # bias
        if layer.edges:
            state += layer.channels * acc
            mem["partial_sums"] += layer.channels * acc
        if i == last:
            out = layer.neurons * (acc + t_bits if not layer.has_neurons else t_bits)
            state += out
            mem["output"] += out
        masks = sum(e.dropout.units for e in layer.edges if e.dropout is not None)
        state += masks
        mem["masks"] += masks
        mem["weights"] += w
        mem["crossbar"] += cells
        per_layer.append((w, state))
    n_in = mapping.input_neurons
    mem["input"] = n_in * mapping.input_bits + (n_in if mapping.encoding == "rate" else 0)
    return mem, per_layer, widths


# --- default preset ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _mtj_cycle_energy_pj(device: MTJDevice, p: float, pulse_ns: float) -> float:
    """Expected energy of one dropout cycle for drop probability ``p`` [pJ] (cached)."""
    current = device.current_for_probability(p, pulse_ns)
    return dropout_cycle_energy(device, current, pulse_ns).total_pj


def _estimate_default(
    mapping: Mapping, sched: Schedule, lib: ComponentLibrary
) -> tuple[dict, dict, dict, list[LayerCost], dict]:
    """Energy [pJ], area [um^2], memory [bit], rows and events of the ``default`` preset.

    Energy = schedule events x energies per event (docs/cost-model.md section 4), plus
    ``E_static = leakage_density [mW/mm^2] * area [mm^2] * latency [s] * 1e9`` [pJ].
    """
    hw = mapping.hw
    xb, adc, dig = lib.crossbar, lib.adc, lib.digital
    e_cell = xb.cell_read_energy.value * xb.row_activity.value
    e_conv = adc.conversion_energy_pj(hw.adc_bits)
    e_add, e_sram = dig.add_energy.value, dig.sram_energy.value
    adcs_per_tile = hw.tile_cols // hw.columns_per_adc
    a_adc = adc.area_um2(hw.adc_bits, hw.columns_per_adc)
    a_tile_cells = hw.tile_rows * hw.tile_cols * xb.cell_area.value
    mem, per_layer_mem, widths = _memory(mapping)
    runs = sched.samples * mapping.timesteps
    driver = mapping.driver

    energy = dict.fromkeys(
        ("crossbar", "adc", "shift_add", "buffers", "lif", "accumulator", "dropout", "encode"),
        0.0,
    )
    area = dict.fromkeys(("crossbar", "adc", "shift_add", "lif", "sram", "dropout"), 0.0)
    rows: list[LayerCost] = []
    mb_max = 0
    lfsrs = lfsr_draws = 0
    for layer, ls, (w_bits, s_bits), acc in zip(
        mapping.layers, sched.layers, per_layer_mem, widths, strict=True
    ):
        e = dict.fromkeys(energy, 0.0)
        a = dict.fromkeys(area, 0.0)
        layer_draws = 0
        for em in layer.edges:
            steps = runs * em.planes * em.positions
            e["crossbar"] += steps * em.rows * em.phys_cols * e_cell
            conversions = steps * em.conversions_per_step
            e["adc"] += conversions * e_conv
            e["shift_add"] += conversions * acc * e_add
            a["crossbar"] += em.tiles * a_tile_cells
            a["adc"] += em.tiles * adcs_per_tile * a_adc
            a["shift_add"] += em.tiles * adcs_per_tile * acc * dig.add_area.value
            d = em.dropout
            if d is not None:
                if d.source == "mtj":
                    per = _mtj_cycle_energy_pj(driver.device, d.p, driver.pulse_ns)
                    a["dropout"] += d.modules * lib.dropout.module_area.value
                    e["dropout"] += sched.samples * d.units * (per + e_sram)
                else:
                    # every module draws in each of a mask's ceil(units / modules) cycles,
                    # the unused slots of the last cycle included (docs/hardware-model.md 3)
                    draws = sched.samples * d.modules * -(-d.units // d.modules)
                    e["dropout"] += draws * dig.lfsr_draw_energy_pj(d.lfsr_width)
                    e["dropout"] += sched.samples * d.units * e_sram  # mask bits written
                    a["dropout"] += d.modules * dig.lfsr_area_um2(d.lfsr_width)
                    lfsrs += d.modules
                    layer_draws += draws
        e["buffers"] += ls.buffer_bits_read * e_sram
        if layer.has_neurons:
            mb = layer.membrane_bits
            mb_max = max(mb_max, mb)
            per_update = dig.lif_adders.value * mb * e_add
            per_update += (dig.lif_sram_words.value * mb + 2) * e_sram
            e["lif"] += ls.lif_updates * per_update
        else:
            e["accumulator"] += ls.accumulator_updates * (2 * acc * e_add + 3 * acc * e_sram)
        a["sram"] += s_bits * dig.sram_area.value
        for k in energy:
            energy[k] += e[k]
        for k in area:
            area[k] += a[k]
        rows.append(
            LayerCost(
                name=layer.name,
                tiles=layer.tiles,
                cycles=ls.cycles,
                energy_pj=sum(e.values()),
                area_mm2=sum(a.values()) * 1e-6,
                weight_bits=w_bits,
                state_bits=s_bits,
                detail={
                    "adcs": layer.adcs,
                    "dropout_modules": layer.dropout_modules,
                    "crossbar_reads": ls.crossbar_reads,
                    "adc_conversions": ls.adc_conversions,
                    "lif_updates": ls.lif_updates,
                    "dropout_samples": ls.dropout_samples,
                    "lfsr_draws": layer_draws,
                    "energy_pj_by_component": {k: v for k, v in e.items() if v},
                },
            )
        )
        lfsr_draws += layer_draws
    # LIF units (shared by all layers), parameters and input buffer, input encoder
    mb_units = mb_max or max(widths, default=1)
    area["lif"] += hw.lif_units * dig.lif_adders.value * mb_units * dig.add_area.value
    area["sram"] += (mem["parameters"] + mem["input"]) * dig.sram_area.value
    if mapping.encoding == "rate":
        width = mapping.input_lfsr_width
        # one leap-forward draw per input and timestep (sched.lfsr_steps counts the draws)
        per = dig.lfsr_draw_energy_pj(width) + mapping.input_bits * e_add
        per += (mapping.input_bits + 1) * e_sram
        energy["encode"] += sched.lfsr_steps * per
        area["lif"] += dig.lfsr_area_um2(width)  # the input LFSR sits with the units
        lfsrs += 1
        lfsr_draws += sched.lfsr_steps
    area["total"] = sum(area.values())
    seconds = sched.seconds
    energy["static"] = (
        lib.static.leakage_density.value * area["total"] * 1e-6 * seconds * _PJ_PER_MW_S
    )
    energy["total"] = sum(energy.values())
    events: dict[str, int | float] = {
        **sched.events,
        "accumulator_updates": sum(r.accumulator_updates for r in sched.layers),
        "buffer_bits_read": sum(r.buffer_bits_read for r in sched.layers),
        "lfsr_steps": sched.lfsr_steps,
        "tiles": mapping.tiles,
        "adcs": mapping.adcs,
        "dropout_modules": mapping.dropout_modules,
        "lfsrs": lfsrs,
        "lfsr_draws": lfsr_draws,
    }
    return energy, area, mem, rows, events


# --- spikesim preset ---------------------------------------------------------------------------


def _spikesim_layers(mapping: Mapping) -> list[tuple[str, int, int, int, int]]:
    """(name, C_in, C_out, H_in^2, H_out^2) per weighted edge, as SpikeSim's lists hold them.

    ``C_in`` is the source's channels (conv2d) or ``in_features`` (linear); ``H^2`` is
    generalised to ``H * W`` (1 for a flat layer).
    """
    out = []
    for layer in mapping.layers:
        many = len(layer.edges) > 1
        for e in layer.edges:
            name = f"{layer.name}[{e.index}]" if many else layer.name
            if e.kind == "conv2d":
                c_in, h_in = e.in_shape[0], e.in_shape[1] * e.in_shape[2]
            else:
                c_in, h_in = e.in_channels, 1
            out.append((name, c_in, e.out_channels, h_in, e.positions))
    return out


def _spikesim_refusal(pes: list[int], raw: list[float]) -> str | None:
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


def _estimate_spikesim(
    mapping: Mapping, samples: int, lib: SpikeSimLibrary, reproduce: bool
) -> tuple[dict, dict, int, float, list[LayerCost], dict, list[str]]:
    """Energy, area, cycles, seconds, rows, events and notes of the ``spikesim`` preset.

    Fixed (``reproduce=False``): one layer per tile, neuron memory of every layer, latency the
    end of the last layer to finish. ``reproduce=True`` follows the released script line by line
    (docs/cost-model.md section 5 lists each defect with its line).
    """
    x = lib.xbar.value
    per_tile = int(lib.pes_per_tile.value)
    t = mapping.timesteps
    spec = _spikesim_layers(mapping)
    if not spec:
        raise CostError("the spikesim preset needs at least one weighted (linear/conv2d) edge")
    pes = [math.ceil(ci / x) * math.ceil(co / x) for _, ci, co, _, _ in spec]
    notes: list[str] = []
    if reproduce:
        why = _spikesim_refusal(pes, [(ci / x) * (co / x) for _, ci, co, _, _ in spec])
        if why is not None:
            raise SpikeSimRefusal(f"{why}; pass reproduce_defects=False to price it")
        tiles_total = math.ceil(sum(pes) / per_tile)  # lines 27-30: layers share tiles
        notes.append(
            f"reproduced defect: layers share tiles (ceil({sum(pes)} PEs / {per_tile}) = "
            f"{tiles_total} tiles)"
        )
    else:
        tiles_total = sum(math.ceil(p / per_tile) for p in pes)
    e_pe = lib.pe_cycle_energy_pj()
    a_tile = lib.tile_area_um2()
    a_bit, v_bits = lib.a_buffer_bit.value, lib.value_bits.value
    n_mem = min(int(lib.neuron_memory_layers.value), len(spec)) if reproduce else len(spec)
    frac = lib.pipeline_start.value

    rows: list[LayerCost] = []
    e_total = 0.0
    in_values = neuron_values = 0  # values held by the input buffers and the neuron memory
    for i, ((name, ci, co, h_in, h_out), p) in enumerate(zip(spec, pes, strict=True)):
        pe_cycles = p * h_out  # PE cycles of one timestep
        energy = samples * pe_cycles * e_pe * t
        e_total += energy
        n_in, n_out = ci * h_in, (co * h_out if i < n_mem else 0)
        in_values += n_in
        neuron_values += n_out
        own_tiles = math.ceil(p / per_tile)
        a_tiles = (p / per_tile if reproduce else own_tiles) * a_tile
        busy = h_out * co * t  # PE cycles the layer is busy: H^2 * C_out * T
        rows.append(
            LayerCost(
                name=name,
                tiles=own_tiles,
                cycles=math.ceil(samples * busy * lib.pe_cycle_clocks.value),
                energy_pj=energy,
                area_mm2=(a_tiles + (n_in + n_out) * a_bit * v_bits) * 1e-6,
                weight_bits=0,
                state_bits=0,
                detail={"pes": p, "pe_cycles_per_timestep": pe_cycles, "in_ch": ci, "out_ch": co},
            )
        )
    # pipelined latency [PE cycles]
    if reproduce:
        # lines 164, 179, 185, 194: halts[-1] = sum_{i<L} int(0.75 * H_i^2 * C_i) * T
        # + H_L^2 * C_L * T, the last layer's end (T counted once)
        latency_pe: float = sum(int(frac * h * c) * t for _, _, c, _, h in spec[:-1])
        latency_pe += spec[-1][4] * spec[-1][2] * t
        notes.append(
            "reproduced defect: the latency is the last layer's end, whether or not an earlier "
            "layer ends later, with each start truncated to whole PE cycles per timestep"
        )
        if n_mem < len(spec):
            notes.append(
                f"reproduced defect: neuron memory of the first {n_mem} of {len(spec)} layers only"
            )
    else:
        # start_i = sum_{j<i} 0.75 * busy_j; the inference ends when the last layer to finish
        # does: max_i(start_i + busy_i) (= start_L + busy_L when the last layer finishes last,
        # the published formula).
        start = latency_pe = 0.0
        for _, _, c, _, h in spec:
            latency_pe = max(latency_pe, start + h * c * t)
            start += frac * h * c * t
    latency_pe *= samples
    # totals in the script's order (lines 91-98): tiles, then sum of values * bit area * bits
    area = {
        "tiles": tiles_total * a_tile,
        "input_buffers": in_values * a_bit * v_bits,
        "neuron_memory": neuron_values * a_bit * v_bits,
    }
    area["total"] = sum(area.values())
    energy = {"pe_cycles": e_total, "total": e_total}
    cycles = math.ceil(latency_pe * lib.pe_cycle_clocks.value)
    seconds = latency_pe * lib.pe_cycle_ns * 1e-9
    events: dict[str, int | float] = {
        "pes": sum(pes),
        "tiles": tiles_total,
        "pe_cycles": samples * t * sum(p * h for p, (_, _, _, _, h) in zip(pes, spec, strict=True)),
        "latency_pe_cycles": latency_pe,
    }
    return energy, area, cycles, seconds, rows, events, notes


# --- entry point -------------------------------------------------------------------------------

_DEFAULT_LIBRARY = ComponentLibrary()
_DEFAULT_SPIKESIM = SpikeSimLibrary()


def estimate(
    net: Network,
    hw: HardwareConfig | None = None,
    preset: str = "default",
    samples: int = 1,
    *,
    library: ComponentLibrary | SpikeSimLibrary | None = None,
    driver: MTJDriver | None = None,
    reproduce_defects: bool = False,
) -> CostReport:
    """Price one inference (``samples`` Monte-Carlo samples) of ``net`` on ``hw``.

    Args:
        net: a validated network; an architecture without weights is enough.
        hw: the hardware configuration (default ``HardwareConfig()``).
        preset: ``default`` (neurocim's architecture, latency = the schedule) or ``spikesim``
            (SpikeSim's published model with its defects fixed; it uses its own constants in
            :class:`SpikeSimLibrary` and not ``hw``'s tiles or clock).
        samples: Monte-Carlo samples per inference, >= 1.
        library: the constants (:class:`ComponentLibrary` for ``default``,
            :class:`SpikeSimLibrary` for ``spikesim``); default: the documented ones.
        driver: the MTJ dropout drive sequence (default ``MTJDriver()``).
        reproduce_defects: ``spikesim`` only: reproduce the original script's behaviour.

    Raises:
        HardwareError: ``hw`` is not a valid :class:`~hdl.hwconfig.HardwareConfig`.
        CostError: unknown preset or wrong library type; :class:`SpikeSimRefusal` when
            ``reproduce_defects`` and the original script would refuse the network.
    """
    hw = HardwareConfig() if hw is None else hw
    if not isinstance(hw, HardwareConfig):
        raise HardwareError(f"hardware must be an hdl.hwconfig.HardwareConfig, got {hw!r}")
    if preset not in PRESETS:
        raise CostError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise CostError(f"samples must be an integer >= 1, got {samples!r}")
    mapping = map_network(net, hw, driver)
    if preset == "default":
        lib = _DEFAULT_LIBRARY if library is None else library
        if not isinstance(lib, ComponentLibrary):
            raise CostError(f"preset 'default' needs a ComponentLibrary, got {type(lib).__name__}")
        if reproduce_defects:
            raise CostError("reproduce_defects applies to preset 'spikesim' only")
        sched = schedule_mapping(mapping, samples)
        energy, area, mem, rows, events = _estimate_default(mapping, sched, lib)
        return CostReport(
            network=mapping.network,
            preset=preset,
            samples=samples,
            timesteps=mapping.timesteps,
            clock_mhz=float(hw.clock_mhz),
            cycles=sched.cycles,
            seconds=sched.seconds,
            energy_pj=energy,
            area_um2=area,
            memory_bits=mem,
            events=events,
            layers=tuple(rows),
            notes=mapping.notes,
            options={"reproduce_defects": False},
        )
    slib = _DEFAULT_SPIKESIM if library is None else library
    if not isinstance(slib, SpikeSimLibrary):
        raise CostError(f"preset 'spikesim' needs a SpikeSimLibrary, got {type(slib).__name__}")
    energy, area, cycles, seconds, rows, events, notes = _estimate_spikesim(
        mapping, samples, slib, bool(reproduce_defects)
    )
    mem, per_layer, _ = _memory(mapping)
    rows = _with_memory(rows, mapping, per_layer)
    return CostReport(
        network=mapping.network,
        preset=preset,
        samples=samples,
        timesteps=mapping.timesteps,
        clock_mhz=float(slib.clock_mhz.value),
        cycles=cycles,
        seconds=seconds,
        energy_pj=energy,
        area_um2=area,
        memory_bits=mem,
        events=events,
        layers=tuple(rows),
        notes=tuple(notes),
        options={"reproduce_defects": bool(reproduce_defects)},
    )


def _with_memory(
    rows: list[LayerCost], mapping: Mapping, per_layer: list[tuple[int, int]]
) -> list[LayerCost]:
    """Attach memory to the SpikeSim rows (one per weighted edge): each row its edge's weight
    bits, the first row of a layer the layer's state bits."""
    out = []
    it = iter(rows)
    for layer, (_, state) in zip(mapping.layers, per_layer, strict=True):
        for j, e in enumerate(layer.edges):
            r = next(it)
            out.append(
                LayerCost(
                    r.name,
                    r.tiles,
                    r.cycles,
                    r.energy_pj,
                    r.area_mm2,
                    e.weights * e.weight_bits,
                    state if j == 0 else 0,
                    r.detail,
                )
            )
    return out
