"""The cost report: what a preset priced, as one frozen object, a JSON-ready dict and a table.

:class:`PresetCost` is what a preset computes (latency, energy, area, events, rows);
:func:`hdl.cost.estimate` adds what was priced (network, preset, samples, memory, options) and
builds the :class:`CostReport` once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hdl.cost.constants import ComponentLibrary, SpikeSimLibrary
from hdl.cost.memory import STATE_KINDS
from hdl.driver import MTJDriver
from hdl.hwconfig import HardwareConfig

__all__ = ["CostReport", "LayerCost", "PresetCost"]


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
class PresetCost:
    """What a preset prices: the preset's part of a :class:`CostReport`.

    Attributes:
        clock_mhz: the clock of the latency figures [MHz].
        cycles: latency [clock cycles].
        seconds: latency [s].
        energy_pj: energy by component [pJ], ``"total"`` the sum.
        area_um2: area by component [um^2], ``"total"`` the sum.
        events: event counts.
        layers: per-layer rows, memory included.
        notes: warnings and reproduced defects.
    """

    clock_mhz: float
    cycles: int
    seconds: float
    energy_pj: dict[str, float]
    area_um2: dict[str, float]
    events: dict[str, int | float]
    layers: tuple[LayerCost, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CostReport:
    """The cost of one inference (``samples`` Monte-Carlo samples) of a network.

    Attributes:
        network, preset, samples, timesteps: what was priced.
        clock_mhz: the clock of the latency figures.
        cycles: latency in clock cycles (``default``: the image's ``pixels`` transfers and
            the schedule, ``Mapping.input_transfer_cycles + Schedule.cycles``).
        seconds: latency [s].
        energy_pj: energy by component [pJ]; ``energy_pj["total"]`` is the sum.
        area_um2: area by component [um^2]; ``area_um2["total"]`` is the sum.
        memory_bits: memory by kind [bit]: ``weights`` (stored weight values), ``crossbar``
            (cells provided x cell_bits), ``parameters`` (thresholds, biases) and state
            (``membranes``, ``spikes``, ``input``, ``partial_sums``, ``output``, ``masks``).
        events: event counts (``default``: docs/hardware-model.md section 5 and derived ones).
        layers: per-layer rows.
        hardware: the hardware configuration the network was mapped on (``spikesim`` prices its
            own hardware from ``library`` and uses this one for the memory figures only).
        mtj_driver: the MTJ dropout drive (device and write pulse) of the mapping; the
            ``default`` preset prices its dropout cycles with it.
        library: the constants the preset priced with.
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
    hardware: HardwareConfig
    mtj_driver: MTJDriver
    library: ComponentLibrary | SpikeSimLibrary
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
        return sum(self.memory_bits[k] for k in STATE_KINDS)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of everything in the report."""
        return {
            "network": self.network,
            "preset": self.preset,
            "samples": self.samples,
            "timesteps": self.timesteps,
            "options": dict(self.options),
            "hardware": asdict(self.hardware),
            "mtj_driver": {
                "pulse_ns": self.mtj_driver.pulse_ns,
                "device": asdict(self.mtj_driver.device),
            },
            "library": {name: c.value for name, c in self.library.constants().items()},
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
