"""What each schedule option of :class:`~hdl.hwconfig.HardwareConfig` buys and costs.

For the benchmark networks of ``benchmarks/accelerator.py`` and VGG-9 (CIFAR-10 shapes,
architecture only, ``benchmarks/cost_model.py``), with ``SAMPLES`` Monte-Carlo samples per
inference, it lists per hardware variant (the serial schedule with every option off, each
option alone, and every option on: the default hardware) the closed-form cycles of
:func:`hdl.mapping.schedule`, their ratio to the ADC bound (:func:`hdl.mapping.adc_bound`)
and to the read-step bound (``samples · T · Σ_l P_l · B_l``, the ratio docs/benchmarks-rtl.md
gave before the options existed), inferences per second at the clock, and the area and energy
of one inference from the default cost model (:func:`hdl.cost.estimate`) with what the option
adds to the serial chip.

Nothing here is simulated: the other sections of docs/benchmarks-rtl.md check in Amaranth's
simulator, network by network and option by option, that the RTL's busy cycles equal these
closed forms; VGG-9 is far too large to simulate, so its rows are the schedule's word.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from hdl.cost import estimate
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import adc_bound, map_network, schedule

__all__ = [
    "OPTIONS",
    "OPTIONS_HEADING",
    "SAMPLES",
    "OptionRow",
    "option_rows",
    "options_section",
]

SAMPLES = 10
"""Monte-Carlo samples per inference of the table (the issue's operating point)."""

OPTIONS_HEADING = "## Schedule options: cycles, area and energy"

OPTIONS = tuple(f.name for f in fields(HardwareConfig) if isinstance(f.default, bool))
"""The boolean schedule options of :class:`HardwareConfig` (all on by default)."""


@dataclass(frozen=True)
class OptionRow:
    """One network on one hardware variant (``SAMPLES`` samples per inference).

    Attributes:
        network, variant: what was priced (``variant``: ``serial``, ``+<option>`` or ``all``).
        cycles: :attr:`hdl.mapping.Schedule.cycles`.
        adc_bound, read_bound: the two lower bounds [cycles].
        inferences_per_s: ``clock / cycles``.
        area_mm2, energy_uj: the default cost model's totals.
    """

    network: str
    variant: str
    cycles: int
    adc_bound: int
    read_bound: int
    inferences_per_s: float
    area_mm2: float
    energy_uj: float


def _variants(base: HardwareConfig) -> list[tuple[str, HardwareConfig]]:
    serial = replace(base, **{o: False for o in OPTIONS})
    out = [("serial", serial)]
    out += [(f"+{o}", replace(serial, **{o: True})) for o in OPTIONS]
    out.append(("all (default)", replace(serial, **{o: True for o in OPTIONS})))
    return out


def option_rows(net: Network, base: HardwareConfig | None = None) -> list[OptionRow]:
    """The rows of ``net``: serial, each option alone, every option on."""
    rows = []
    for variant, hw in _variants(HardwareConfig() if base is None else base):
        mapping = map_network(net, hw)
        cycles = schedule(net, hw, SAMPLES).cycles
        reads = mapping.timesteps * sum(
            lm.positions * len(lm.plane_cycles) for lm in mapping.layers
        )
        cost = estimate(net, hw, samples=SAMPLES)
        rows.append(
            OptionRow(
                network=net.name,
                variant=variant,
                cycles=cycles,
                adc_bound=adc_bound(mapping, SAMPLES),
                read_bound=SAMPLES * reads,
                inferences_per_s=hw.clock_mhz * 1e6 / cycles,
                area_mm2=cost.area_um2["total"] / 1e6,
                energy_uj=cost.energy_pj["total"] / 1e6,
            )
        )
    return rows


def options_section(rows: list[OptionRow], where: str) -> list[str]:
    """The markdown section of :data:`OPTIONS_HEADING` (``where``: the machine line)."""
    names = ", ".join(f"`{o}`" for o in OPTIONS)
    out = [
        "",
        OPTIONS_HEADING,
        "",
        f"Computed with `scripts/run python benchmarks/accelerator.py --options` on: {where}. "
        f"Cycles of one inference of {SAMPLES} Monte-Carlo samples in closed form "
        "(`hdl.mapping.schedule`) on the default 128 x 128 tiles, for the serial schedule "
        f"(every option of {names} off), each option alone, and all of them on (the default "
        "`HardwareConfig()`). ADC bound: `hdl.mapping.adc_bound`, every ADC converting one "
        "column every cycle and nothing else costing a cycle (docs/cost-model.md). Read-step "
        "bound: one cycle per crossbar read step (`samples · T · Σ_l P_l · B_l`), the ratio "
        "this document gave before the options existed. Inferences per second at the clock "
        "(200 MHz). Area and energy of one inference from the default cost model "
        "(`hdl.cost.estimate`), with what the variant adds to the serial chip. The other "
        "sections check in Amaranth's simulator that the RTL's busy cycles equal these closed "
        "forms for the three smaller networks; VGG-9 (architecture only) is too large to "
        "simulate, so its rows are the schedule's.",
        "",
        "| network | variant | cycles | cycles / ADC bound | cycles / read-step bound "
        "| inferences/s | area [mm^2] | added area | energy [uJ] | added energy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    serial: dict[str, OptionRow] = {}
    for r in rows:
        base = serial.setdefault(r.network, r)
        out.append(
            f"| {r.network} | {r.variant} | {r.cycles:,} | {r.cycles / r.adc_bound:.2f} "
            f"| {r.cycles / r.read_bound:.2f} | {r.inferences_per_s:,.0f} | {r.area_mm2:.4f} "
            f"| {100 * (r.area_mm2 / base.area_mm2 - 1):+.2f} % | {r.energy_uj:.4f} "
            f"| {100 * (r.energy_uj / base.energy_uj - 1):+.2f} % |"
        )
    return out
