"""What each schedule option of :class:`~hdl.hwconfig.HardwareConfig` buys and costs.

For the benchmark networks of ``benchmarks/accelerator.py`` and VGG-9 (CIFAR-10 shapes,
architecture only, ``benchmarks/cost_model.py``), with ``SAMPLES`` Monte-Carlo samples per
inference, it lists per hardware variant (the serial chip of the first generator: every
boolean option off, one pixel per transfer, 1-bit word-line drivers; each option alone on it;
every option at its default: the default hardware; and the default with 2- and 4-bit
word-line DACs) the input transfers and busy cycles of one inference
(:attr:`hdl.mapping.Mapping.input_transfer_cycles`, :func:`hdl.mapping.schedule`), the period
of back-to-back inferences (:func:`hdl.mapping.image_period_cycles`), the busy cycles' ratio to
the ADC bound (:func:`hdl.mapping.adc_bound`) and to the read-step bound (``samples · T · Σ_l
P_l · B_l``, the ratio docs/benchmarks-rtl.md gave before the options existed), inferences per
second at the clock (back to back), and the area and energy of one inference from the default
cost model (:func:`hdl.cost.estimate`) with what the variant adds to the serial chip. A second
table gives what pipelining the Monte-Carlo samples (``pipeline_samples``) saves, against its
ideal (:func:`hdl.mapping.sample_pipeline_bound`).

Nothing here is simulated: the other sections of docs/benchmarks-rtl.md check in Amaranth's
simulator, network by network and option by option, that the RTL's busy cycles equal these
closed forms; VGG-9 is far too large to simulate, so its rows are the schedule's word.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from hdl.cost import estimate
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import (
    adc_bound,
    image_period_cycles,
    map_network,
    sample_pipeline_bound,
    schedule,
)

__all__ = [
    "OPTIONS",
    "OPTIONS_HEADING",
    "SAMPLES",
    "OptionRow",
    "option_rows",
    "options_section",
    "sample_pipeline_section",
]

SAMPLES = 10
"""Monte-Carlo samples per inference of the table (the issue's operating point)."""

OPTIONS_HEADING = "## Schedule options: cycles, area and energy"

OPTIONS = tuple(f.name for f in fields(HardwareConfig) if isinstance(f.default, bool))
"""The boolean schedule options of :class:`HardwareConfig` (all on by default)."""

DAC_BITS = (2, 4)
"""Word-line DAC resolutions priced on the default chip (``input_dac_bits``; the default is 1
because wider digits can saturate the ADCs: an accuracy trade-off the table cannot show)."""


@dataclass(frozen=True)
class OptionRow:
    """One network on one hardware variant (``SAMPLES`` samples per inference).

    Attributes:
        network, variant: what was priced (``serial``, ``+<option>``, ``all (default)`` or
            ``default, input_dac_bits=<d>``).
        transfers: the image's ``pixels`` transfers [cycles].
        cycles: busy cycles, :attr:`hdl.mapping.Schedule.cycles`.
        period: cycles per image of back-to-back inferences.
        adc_bound, read_bound: the two lower bounds of the busy cycles [cycles].
        inferences_per_s: ``clock / period``.
        area_mm2, energy_uj: the default cost model's totals.
    """

    network: str
    variant: str
    transfers: int
    cycles: int
    period: int
    adc_bound: int
    read_bound: int
    inferences_per_s: float
    area_mm2: float
    energy_uj: float


def _variants(base: HardwareConfig) -> list[tuple[str, HardwareConfig]]:
    serial = replace(base, **{o: False for o in OPTIONS}, pixels_per_transfer=1, input_dac_bits=1)
    out = [("serial", serial)]
    out += [(f"+{o}", replace(serial, **{o: True})) for o in OPTIONS]
    out.append(
        (
            f"+pixels_per_transfer={base.pixels_per_transfer}",
            replace(serial, pixels_per_transfer=base.pixels_per_transfer),
        )
    )
    out.append(("all (default)", base))
    out += [(f"default, input_dac_bits={d}", replace(base, input_dac_bits=d)) for d in DAC_BITS]
    return out


def option_rows(net: Network, base: HardwareConfig | None = None) -> list[OptionRow]:
    """The rows of ``net`` (module doc); ``base`` the default chip (``HardwareConfig()``)."""
    rows = []
    for variant, hw in _variants(HardwareConfig() if base is None else base):
        mapping = map_network(net, hw)
        cycles = schedule(net, hw, SAMPLES).cycles
        period = image_period_cycles(mapping, SAMPLES)
        reads = mapping.timesteps * sum(
            lm.positions * len(lm.plane_cycles) for lm in mapping.layers
        )
        cost = estimate(net, hw, samples=SAMPLES)
        rows.append(
            OptionRow(
                network=net.name,
                variant=variant,
                transfers=mapping.input_transfer_cycles,
                cycles=cycles,
                period=period,
                adc_bound=adc_bound(mapping, SAMPLES),
                read_bound=SAMPLES * reads,
                inferences_per_s=hw.clock_mhz * 1e6 / period,
                area_mm2=cost.area_um2["total"] / 1e6,
                energy_uj=cost.energy_pj["total"] / 1e6,
            )
        )
    return rows


def options_section(rows: list[OptionRow], where: str) -> list[str]:
    """The markdown section of :data:`OPTIONS_HEADING` (``where``: the machine line)."""
    names = ", ".join(f"`{o}`" for o in OPTIONS)
    dacs = " and ".join(str(d) for d in DAC_BITS)
    out = [
        "",
        OPTIONS_HEADING,
        "",
        f"Computed with `scripts/run python benchmarks/accelerator.py --options` on: {where}. "
        f"One inference of {SAMPLES} Monte-Carlo samples in closed form on the default "
        "128 x 128 tiles, for the serial chip of the first generator (every option of "
        f"{names} off, `pixels_per_transfer=1`, `input_dac_bits=1`), each option alone on "
        "it, all of them at their defaults (`HardwareConfig()`), and the default with "
        f"{dacs}-bit word-line DACs (`input_dac_bits`; not the default because wider digits "
        "can saturate the ADCs, an accuracy trade-off this table cannot show). Transfers: "
        "the image's `pixels` transfers (`Mapping.input_transfer_cycles`); busy: "
        "`hdl.mapping.schedule`'s cycles, the ones the RTL is checked against; one "
        "inference takes transfers + busy; back to back: cycles per image of back-to-back "
        "inferences (`hdl.mapping.image_period_cycles`: `max(transfers, busy)` with "
        "`stream_while_busy`). ADC bound: `hdl.mapping.adc_bound`, every ADC converting one "
        "column every cycle and nothing else costing a cycle (docs/cost-model.md). Read-step "
        "bound: one cycle per crossbar read step (`samples · T · Σ_l P_l · B_l`), the ratio "
        "this document gave before the options existed. Both ratios are of the busy cycles. "
        "Inferences per second at the clock (200 MHz), back to back. Area and energy of one "
        "inference from the default cost model (`hdl.cost.estimate`), with what the variant "
        "adds to the serial chip. The other sections check in Amaranth's simulator that the "
        "RTL's busy cycles equal these closed forms for the three smaller networks; VGG-9 "
        "(architecture only) is too large to simulate, so its rows are the schedule's.",
        "",
        "| network | variant | transfers | busy | back to back | busy / ADC bound "
        "| busy / read-step bound | inferences/s | area [mm^2] | added area | energy [uJ] "
        "| added energy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    serial: dict[str, OptionRow] = {}
    for r in rows:
        base = serial.setdefault(r.network, r)
        out.append(
            f"| {r.network} | {r.variant} | {r.transfers:,} | {r.cycles:,} | {r.period:,} "
            f"| {r.cycles / r.adc_bound:.2f} | {r.cycles / r.read_bound:.2f} "
            f"| {r.inferences_per_s:,.0f} | {r.area_mm2:.4f} "
            f"| {100 * (r.area_mm2 / base.area_mm2 - 1):+.2f} % | {r.energy_uj:.4f} "
            f"| {100 * (r.energy_uj / base.energy_uj - 1):+.2f} % |"
        )
    return out


def sample_pipeline_section(nets: list[Network], base: HardwareConfig | None = None) -> list[str]:
    """A table of what pipelining the Monte-Carlo samples (``pipeline_samples``) saves on the
    default chip: the busy cycles with the samples in turn and pipelined, and the ideal
    :func:`hdl.mapping.sample_pipeline_bound`."""
    hw = HardwareConfig() if base is None else base
    out = [
        "",
        f"Monte-Carlo samples in turn and pipelined (`pipeline_samples`; {SAMPLES} samples, the "
        "default chip otherwise), busy cycles, against `hdl.mapping.sample_pipeline_bound`: "
        "the pipelined layers' recurrence over all samples' timesteps with the masks free but "
        "for each layer's fill cycles per sample and the outputs' handshake free. A network "
        "whose mask fill is longer than a sample's compute (the MNIST-size MLP with 16 MTJ "
        "modules) gains nothing; with 64 modules it does.",
        "",
        "| network | samples in turn | samples pipelined | bound | saved |",
        "|---|---:|---:|---:|---:|",
    ]
    for net in nets:
        in_turn = schedule(net, replace(hw, pipeline_samples=False), SAMPLES).cycles
        piped = schedule(net, replace(hw, pipeline_samples=True), SAMPLES)
        bound = sample_pipeline_bound(piped.mapping, SAMPLES)
        out.append(
            f"| {net.name} | {in_turn:,} | {piped.cycles:,} | {bound:,} "
            f"| {100 * (1 - piped.cycles / in_turn):.1f} % |"
        )
    return out
