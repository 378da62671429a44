"""The constants of the cost model: every number with its unit and its source.

Two libraries, one per preset: :class:`ComponentLibrary` (``default``: crossbar, ADC, digital,
dropout and leakage figures) and :class:`SpikeSimLibrary` (``spikesim``: the constants of
SpikeSim's ELA script, exactly as it writes them). Each constant is a :class:`Constant` (value,
unit, source) in a frozen dataclass; replace one with ``dataclasses.replace``. docs/cost-model.md
lists every constant and writes out every formula.

Units: energy pJ, area um^2, time ns, clock MHz, unless a constant's ``unit`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache

from hdl.lfsr import jump_columns

__all__ = [
    "ASSUMED",
    "HOROWITZ",
    "ISAAC",
    "PJ_PER_MW_S",
    "SPIKESIM",
    "ADCTech",
    "ComponentLibrary",
    "Constant",
    "CrossbarTech",
    "DigitalTech",
    "DropoutTech",
    "SpikeSimLibrary",
    "StaticTech",
    "constants_of",
    "lfsr_xor_gates",
]

SPIKESIM = "SpikeSim ELA script ela_spikesim.py (Moitra et al., IEEE TCAD 2023, 65 nm)"
HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014 (45 nm, 0.9 V)"
ASSUMED = "neurocim assumption"
ISAAC = "Shafiee et al., 'ISAAC', ISCA 2016 (32 nm; 8 x 128 1-bit DACs, 4 mW, 0.00017 mm^2)"

PJ_PER_MW_S = 1e9
"""Energy of 1 mW over 1 s in pJ: 1e-3 J = 1e9 pJ (static energy = power [mW] * time [s] * this)."""


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

    Word-line DACs (``HardwareConfig.input_dac_bits = d > 1``, the edges reading the
    direct-encoded input): a ``d``-bit DAC is taken as ``2**d - 1`` unit drivers (a
    thermometer-coded current-steering DAC), the first of them the plain word-line driver
    of a 1-bit read, already in ``cell_read_energy``; the other ``2**d - 2`` cost
    ``dac_unit_energy`` per read and ``dac_unit_area`` each. Per such edge, with one DAC per
    used word line of every tile (``rows * col_tiles``)::

        A_dac = rows * col_tiles * (2**d - 2) * dac_unit_area                         [um^2]
        E_dac = steps * rows * col_tiles * row_activity * (2**d - 2) * dac_unit_energy  [pJ]

    (``steps`` the edge's read steps, ``planes * positions`` per timestep); 0 for ``d = 1``.
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
    dac_unit_energy: Constant = Constant(
        4e-3 / 1024 * 100e-9 * 1e12,
        "pJ/unit driver/read",
        f"{ASSUMED}, derived from {ISAAC}: one 1-bit DAC 4 mW / 1024 = 3.9 uW over ISAAC's "
        "100 ns crossbar read, 0.39 pJ per read; a unit driver of a d-bit DAC priced as one",
    )
    dac_unit_area: Constant = Constant(
        0.00017e6 / 1024,
        "um^2/unit driver",
        f"{ASSUMED}, derived from {ISAAC}: 0.00017 mm^2 / 1024 DACs = 0.166 um^2 per 1-bit "
        "DAC; a unit driver of a d-bit DAC priced as one",
    )

    def dac_units(self, bits: int) -> int:
        """Unit drivers a ``bits``-bit word-line DAC adds to a 1-bit driver: ``2**bits - 2``."""
        return 2**bits - 2

    def dac_energy_pj(self, bits: int) -> float:
        """Extra energy of one ``bits``-bit word-line DAC per read [pJ]: ``(2**bits - 2) *
        row_activity * dac_unit_energy`` (0 for 1 bit)."""
        return self.dac_units(bits) * self.row_activity.value * self.dac_unit_energy.value

    def dac_area_um2(self, bits: int) -> float:
        """Extra area of one ``bits``-bit word-line DAC [um^2]: ``(2**bits - 2) *
        dac_unit_area`` (0 for 1 bit)."""
        return self.dac_units(bits) * self.dac_unit_area.value


@dataclass(frozen=True)
class ADCTech:
    """Column ADCs and their analog multiplexers.

    ``E_conv(b) = energy_ref * 2**(b - ref_bits)`` and ``A_adc(b) = area_ref * 2**(b - ref_bits)``
    (energy and area double per bit, the Walden figure-of-merit law); the mux in front of an ADC
    costs ``mux_energy`` per conversion and ``mux_area * inputs / mux_ref_inputs``.

    A pipelined ADC (``HardwareConfig.adc_pipelined``: a new conversion every cycle) adds a
    pipeline register of ``b`` flip-flops per ADC, holding one code while the next conversion
    runs: ``A_pipe(b) = b * pipeline_ff_area`` and ``E_pipe(b) = b * pipeline_ff_energy`` per
    conversion (every flip-flop clocked once). The input sample-and-hold of the pipeline is
    taken to be part of the reference ADC's own figures (a SAR ADC samples its input anyway).
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
    pipeline_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/conversion",
        f"{ASSUMED}: one flip-flop of a pipelined ADC's code register clocked once per "
        f"conversion, priced as one adder bit ({HOROWITZ}: 32-bit integer add 0.1 pJ, per bit)",
    )
    pipeline_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of a pipelined ADC's code register, priced as one adder bit "
        f"({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    def pipeline_energy_pj(self, bits: int) -> float:
        """Energy of the pipeline register of a ``bits``-bit pipelined ADC per conversion [pJ]:
        ``bits * pipeline_ff_energy``."""
        return bits * self.pipeline_ff_energy.value

    def pipeline_area_um2(self, bits: int) -> float:
        """Area of the pipeline register of one ``bits``-bit pipelined ADC [um^2]:
        ``bits * pipeline_ff_area``."""
        return bits * self.pipeline_ff_area.value

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

    With overlapped reads (``HardwareConfig.overlap_reads``) the accumulator of an edge read in
    ``B > 1`` bit-planes counts the planes of its codes itself (the next plane's read is issued
    while this one's codes arrive): ``n = bit_length(B - 1)`` flip-flops per such edge,
    ``A_plane = n * plane_ff_area`` [um^2] and ``E_plane = n * plane_ff_energy`` per read step
    of the edge (the counter steps once per plane, every flip-flop clocked once). A layer of
    ``P > 1`` output positions also gets a current register, ``C`` words of ``w`` bits
    (``w = hdl.mapping.current_bits``) holding the latched currents of the position being
    updated while the next ones are read: ``A_latch = C * w * latch_ff_area`` and
    ``E_latch = C * w * latch_ff_energy`` per position (written once each).

    With pipelined layers (``HardwareConfig.pipeline_layers``) every layer with neurons (and,
    for rate coding, the input spike buffer) has a second spike bank of ``neurons`` flip-flops,
    ``A_bank = neurons * spike_bank_ff_area``, and every stage its own sequencer of ``n``
    flip-flops (:func:`hdl.cost.default.sequencer_bits`), ``A_seq = n * sequencer_ff_area`` and
    ``E_seq = n * sequencer_ff_energy`` per item (the single shared controller's counters are
    not subtracted: an upper estimate). With overlapped reads too, a layer whose timesteps
    stream (:meth:`hdl.mapping.Mapping.streams`) latches its currents even with one position
    (``A_latch``, ``E_latch`` as above): its next timestep's reads restart its accumulators.
    With pipelined samples (``HardwareConfig.pipeline_samples``) the controller adds ``n``
    flip-flops more (:func:`hdl.cost.default.sample_pipeline_bits`: item counters over the
    samples, ``16 + bits(T)`` bits per stage, two for a streamed layer, the item total, a fill
    counter per layer with dropout, the owed-emit flag), priced like the sequencers' (``A = n *
    sequencer_ff_area``, ``E = n * sequencer_ff_energy`` per item).

    The ``pixels`` input port (``HardwareConfig.pixels_per_transfer = K`` pixels of ``b =
    input.bits`` bits per transfer, ``J = ceil(n_in / K)`` transfers per image) is ``K * b``
    lanes, each driving the pixel-buffer bits it writes, and the buffer's write decode, a
    comparator ``loaded == j`` of ``g = bit_length(J)`` gates for each transfer ``j`` (the
    ``K * b`` buffer bits of a transfer share one)::

        A_port = K * b * input_lane_area + J * g * input_decode_area            [um^2]
        E_port = J * (K * b * input_lane_energy + g * input_decode_energy)      [pJ / image]

    a wider port is more lanes and fewer decode ways (the buffer's ``n_in * b`` bits are
    priced with the SRAM either way), and ``J`` cycles fewer per image. With
    ``HardwareConfig.stream_while_busy`` a second pixel buffer (the load buffer, copied into
    the compute buffer at every ``start``) adds ``A_load = n_in * b * pixel_bank_ff_area`` and
    ``E_load = n_in * b * pixel_bank_ff_energy`` per image (the copy).
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

    plane_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/step",
        f"{ASSUMED}: one flip-flop of an accumulator's plane counter (overlapped reads) "
        f"clocked once per read step, priced as one adder bit ({HOROWITZ}: 32-bit integer add "
        "0.1 pJ, per bit)",
    )
    plane_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of an accumulator's plane counter (overlapped reads), priced "
        f"as one adder bit ({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    latch_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/position",
        f"{ASSUMED}: one flip-flop of a layer's latched current register (overlapped reads) "
        f"written once per output position, priced as one adder bit ({HOROWITZ}: 32-bit "
        "integer add 0.1 pJ, per bit)",
    )
    latch_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of a layer's latched current register (overlapped reads), "
        f"priced as one adder bit ({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    spike_bank_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of a layer's second spike bank (pipelined layers), priced as "
        f"one adder bit ({HOROWITZ}: 32-bit adder 137 um^2, per bit); a spike is written into "
        "one bank only, so the second bank adds no write energy",
    )
    sequencer_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/item",
        f"{ASSUMED}: one flip-flop of a layer's own sequencer (pipelined layers) written once "
        f"per item (layer and timestep), priced as one adder bit ({HOROWITZ}: 32-bit integer "
        "add 0.1 pJ, per bit)",
    )
    sequencer_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of a layer's own sequencer (pipelined layers), priced as one "
        f"adder bit ({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    input_lane_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/transfer",
        f"{ASSUMED}: one payload bit of the pixels port driven into the pixel buffer per "
        f"transfer (unused lanes of the last one included), priced as one adder bit "
        f"({HOROWITZ}: 32-bit integer add 0.1 pJ, per bit)",
    )
    input_lane_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one payload bit of the pixels port (its input buffer and the wire fanning "
        f"out to the pixel-buffer bits it writes), priced as one adder bit ({HOROWITZ}: "
        "32-bit adder 137 um^2, per bit)",
    )
    input_decode_energy: Constant = Constant(
        0.1 / 64,
        "pJ/gate/transfer",
        f"{ASSUMED}: one gate of the pixel buffer's write decode evaluated per transfer, priced "
        f"as half an adder bit ({HOROWITZ}: 32-bit integer add 0.1 pJ)",
    )
    input_decode_area: Constant = Constant(
        137 / 64,
        "um^2/gate",
        f"{ASSUMED}: one gate of the pixel buffer's write decode (bit_length(J) per transfer "
        f"way), priced as half an adder bit ({HOROWITZ}: 32-bit adder 137 um^2)",
    )

    pixel_bank_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit/image",
        f"{ASSUMED}: one flip-flop of the compute pixel buffer written from the load buffer "
        f"once per image (stream_while_busy), priced as one adder bit ({HOROWITZ}: 32-bit "
        "integer add 0.1 pJ, per bit)",
    )
    pixel_bank_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of the second pixel buffer (stream_while_busy), priced as "
        f"one adder bit ({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    @staticmethod
    def input_decode_gates(transfers: int) -> int:
        """Gates of one way of the pixel buffer's write decode, ``g = bit_length(J)`` for
        ``J = transfers`` (the transfer counter over ``0 .. J``), at least 1."""
        return max(1, int(transfers).bit_length())

    def input_port_area_um2(self, lane_bits: int, transfers: int) -> float:
        """Area of the ``pixels`` port [um^2]: ``K * b * input_lane_area + J * g *
        input_decode_area`` (``lane_bits = K * b``, ``transfers = J``; class doc)."""
        gates = transfers * self.input_decode_gates(transfers)
        return lane_bits * self.input_lane_area.value + gates * self.input_decode_area.value

    def input_port_energy_pj(self, lane_bits: int, transfers: int) -> float:
        """Energy of streaming one image in [pJ]: ``J * (K * b * input_lane_energy + g *
        input_decode_energy)`` (``lane_bits = K * b``, ``transfers = J``; class doc)."""
        gates = self.input_decode_gates(transfers)
        per = lane_bits * self.input_lane_energy.value + gates * self.input_decode_energy.value
        return transfers * per

    def plane_counter_bits(self, planes: int) -> int:
        """Flip-flops of the plane counter of an edge read in ``planes`` bit-planes:
        ``bit_length(planes - 1)`` (0 for one plane)."""
        return (planes - 1).bit_length()

    def plane_counter_energy_pj(self, planes: int, steps: int) -> float:
        """Energy of an edge's plane counter over ``steps`` read steps [pJ]:
        ``steps * plane_counter_bits(planes) * plane_ff_energy``."""
        return steps * self.plane_counter_bits(planes) * self.plane_ff_energy.value

    def plane_counter_area_um2(self, planes: int) -> float:
        """Area of an edge's plane counter [um^2]: ``plane_counter_bits(planes) *
        plane_ff_area``."""
        return self.plane_counter_bits(planes) * self.plane_ff_area.value

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
    """MTJ dropout modules (the energy of a dropout cycle comes from :mod:`hdl.mtj`), and the
    second mask bank of double-buffered masks (``HardwareConfig.mask_double_buffer``).

    The second bank is a keep register of ``units`` flip-flops per edge with dropout, loaded
    from the fill register once per sample: ``A_bank = units * bank_ff_area`` [um^2] and
    ``E_bank = samples * units * bank_ff_energy`` [pJ] per inference (every flip-flop written
    once per sample).
    """

    module_area: Constant = Constant(
        25.0,
        "um^2/module",
        f"{ASSUMED}: MTJ + write driver + sense amplifier + latch (order of magnitude; "
        "replace with the module's layout)",
    )
    bank_ff_energy: Constant = Constant(
        0.1 / 32,
        "pJ/bit",
        f"{ASSUMED}: one flip-flop of the second mask bank written once per sample, priced as "
        f"one adder bit ({HOROWITZ}: 32-bit integer add 0.1 pJ, per bit)",
    )
    bank_ff_area: Constant = Constant(
        137 / 32,
        "um^2/bit",
        f"{ASSUMED}: one flip-flop of the second mask bank, priced as one adder bit "
        f"({HOROWITZ}: 32-bit adder 137 um^2, per bit)",
    )

    def bank_energy_pj(self, units: int, samples: int) -> float:
        """Energy of the second mask bank of an edge with ``units`` mask bits over ``samples``
        samples [pJ]: ``samples * units * bank_ff_energy``."""
        return samples * units * self.bank_ff_energy.value

    def bank_area_um2(self, units: int) -> float:
        """Area of the second mask bank of an edge with ``units`` mask bits [um^2]:
        ``units * bank_ff_area``."""
        return units * self.bank_ff_area.value


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
        return constants_of(self)


def constants_of(lib: object) -> dict[str, Constant]:
    """Every :class:`Constant` of a library dataclass by dotted name, nested ones included."""
    out: dict[str, Constant] = {}
    for f in fields(lib):  # type: ignore[arg-type]
        value = getattr(lib, f.name)
        if isinstance(value, Constant):
            out[f.name] = value
        else:
            for name, c in constants_of(value).items():
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
        """All constants by name (``xbar``, ``e_adc`` ...)."""
        return constants_of(self)

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
