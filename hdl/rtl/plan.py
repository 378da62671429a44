"""The accelerator's plan: every tile, lane, width and port of the generated RTL, and all the
checks, computed in plain Python before any Amaranth component exists.

:func:`plan_accelerator` validates a trained network for a hardware configuration and returns
an :class:`AcceleratorPlan` (frozen): the mapping and schedule (:mod:`hdl.mapping`), the macro
port of every crossbar tile (:class:`TilePort`) and MTJ dropout module (:class:`MTJModulePort`),
per weighted edge the accumulator width ``z_bits = signed_bits(z_bound)`` and per layer the
current register width :func:`hdl.mapping.current_bits`, the width of the ``counts``
outputs (:func:`hdl.mapping.output_bits`) and the ports of the whole design
(:meth:`AcceleratorPlan.members`).
Everything that can refuse a network refuses it here, with an :class:`~hdl.rtl.lif.RTLError`
naming the layer or edge; :class:`~hdl.rtl.accelerator.Accelerator` only turns a plan into
logic. A tool that needs the geometry but no logic (a design check, a co-simulation reading
given Verilog) uses the plan alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from hdl import geometry
from hdl.cells import crossbar_cells
from hdl.driver import MTJDriver, driver_for
from hdl.errors import NeurocimError
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.lifparams import CURRENT_BITS, LIFParams
from hdl.mapping import (
    EVENTS,
    EdgeMap,
    LayerMap,
    Mapping,
    current_bits,
    current_bound,
    map_network,
    output_bits,
    schedule_mapping,
    signed_bits,
    z_bound,
)
from hdl.rtl.accumulate import Z_BITS
from hdl.rtl.controller import SAMPLES_BITS
from hdl.rtl.crossbar import crossbar_signature
from hdl.rtl.dropout import DACSetting, dac_setting
from hdl.rtl.lif import RTLError, lif_params
from hdl.rtl.mask_fill import mtj_signature

__all__ = [
    "DAC_BITS",
    "EVENT_BITS",
    "AcceleratorPlan",
    "EdgePlan",
    "LayerPlan",
    "MTJModulePort",
    "TilePort",
    "plan_accelerator",
    "tile_cells",
]

EVENT_BITS = 32
"""Width of the event counters (they wrap)."""

DAC_BITS = 8
"""Resolution of the MTJ write driver's current DAC."""


@dataclass(frozen=True)
class TilePort:
    """One crossbar tile's macro port and what the macro must hold and do.

    Attributes:
        name: the port's name (Verilog ``<name>__wl_en`` etc.).
        layer, edge: indices of the layer (file order) and of the edge in its edge list.
        key: ``"<layer name>.<edge index>"`` (the golden model's mask key).
        row_tile, col_tile: the tile's position in the edge's tile grid.
        rows: ``(start, stop)`` of the edge's rows on the tile's word lines ``0 .. stop-start``.
        cols: ``(start, stop)`` of the edge's physical columns on the tile's bit lines.
        lanes: codes per conversion, ``min(columns, A)`` of the tile's ``A`` ADCs; lane ``a``
            of conversion ``s`` is the tile's column ``a + s·A``.
        conversions: conversions per read, ``ceil(columns / A)``.
        first_cycles: cycles from ``read`` to conversion 0, ``1 + adc_latency_cycles``.
        conversion_cycles: cycles from one conversion to the next: ``1 + adc_latency_cycles``
            (serial ADCs) or 1 (``hw.adc_pipelined``); conversion ``s`` is valid
            ``first_cycles + s · conversion_cycles`` cycles after ``read``
            (:attr:`~hdl.hwconfig.HardwareConfig.conversion_timing`).
        latency: cycles from ``read`` to the last conversion, ``first_cycles + (conversions -
            1) · conversion_cycles`` (:func:`hdl.geometry.conversion_cycles`; at most the
            edge's step minus its read and accumulate cycles).
        dac_bits: bits per word line, ``d``: ``hw.input_dac_bits`` on the tiles of an edge
            reading the direct input (``wl_en`` carries row ``r``'s digit at bits ``r·d ..``),
            else 1.
    """

    name: str
    layer: int
    edge: int
    key: str
    row_tile: int
    col_tile: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    lanes: int
    conversions: int
    first_cycles: int
    conversion_cycles: int
    latency: int
    dac_bits: int = 1


@dataclass(frozen=True)
class MTJModulePort:
    """One physical MTJ dropout module's port.

    Attributes:
        name: the port's name (Verilog ``<name>__reset`` etc.).
        layer, edge, key: as :class:`TilePort`.
        module: index ``m`` among the edge's modules; it fills units ``m, m + M, m + 2M, ...``.
        modules: ``M``, the edge's modules.
        units: mask bits of the edge per sample.
        p: the edge's drop probability.
        setting: the write driver's DAC code and pulse (:func:`~hdl.rtl.dropout.dac_setting`).
    """

    name: str
    layer: int
    edge: int
    key: str
    module: int
    modules: int
    units: int
    p: float
    setting: DACSetting


def tile_cells(net: Network, tile: TilePort, hw: HardwareConfig) -> np.ndarray:
    """int64 ``(rows, cols)`` cell values of ``tile``'s macro (its used word and bit lines).

    The slice of :func:`hdl.cells.crossbar_cells` for the tile: what the macro is programmed
    with, and what its behavioural model (:mod:`sim.models.crossbar`) reads.
    """
    edge = net.layers[tile.layer].edges[tile.edge]
    cells = crossbar_cells(edge, hw)
    r0, r1 = tile.rows
    c0, c1 = tile.cols
    return cells[tile.row_tile, : r1 - r0, c0:c1]


@dataclass(frozen=True)
class EdgePlan:
    """One weighted edge of the design.

    Attributes:
        index: the edge's index in its layer's edge list.
        emap: its mapping (:class:`hdl.mapping.EdgeMap`).
        tiles: its macro ports, row tile by row tile, column tile by column tile.
        z_bound, z_bits: :func:`hdl.mapping.z_bound` and its signed width (the accumulator's).
        dropout_index: its index among the network's edges with dropout (file order), -1
            without dropout.
    """

    index: int
    emap: EdgeMap
    tiles: tuple[TilePort, ...]
    z_bound: int
    z_bits: int
    dropout_index: int


@dataclass(frozen=True)
class LayerPlan:
    """One layer of the design.

    Attributes:
        index, name: the layer's position in the file and its name.
        lmap: its mapping (:class:`hdl.mapping.LayerMap`).
        edges: its weighted edges.
        skips: sources of its skip edges.
        bias: per channel (0 without biases).
        thresholds: per channel (empty without neurons).
        current_bound, current_bits: :func:`hdl.mapping.current_bound` and
            :func:`hdl.mapping.current_bits` (the current register's width).
        lif: the parameters of its LIF units (``None`` without neurons); the threshold
            register holds the largest threshold.
    """

    index: int
    name: str
    lmap: LayerMap
    edges: tuple[EdgePlan, ...]
    skips: tuple[str, ...]
    bias: tuple[int, ...]
    thresholds: tuple[int, ...]
    current_bound: int
    current_bits: int
    lif: LIFParams | None


@dataclass(frozen=True, eq=False)
class AcceleratorPlan:
    """Everything :class:`~hdl.rtl.accelerator.Accelerator` builds, as data (see the module doc).

    Attributes:
        net: the validated network; hw, driver: the hardware and MTJ drive sequence.
        mapping: :func:`hdl.mapping.map_network` of them (the schedule's source).
        timesteps, in_bits, in_neurons, rate: ``T``, the input's pixel bits and pixels, and
            whether it is rate coded.
        layers: per layer its :class:`LayerPlan`.
        tiles, mtj_modules: every macro port and MTJ module port, in file order.
        dropout_edges: ``(layer, edge)`` indices of the edges with dropout, file order.
        out_neurons, out_bits, out_signed: the ``counts`` outputs (one field of ``out_bits``
            per output neuron, signed for decoding ``membrane``).
    """

    net: Network
    hw: HardwareConfig
    driver: MTJDriver
    mapping: Mapping
    timesteps: int
    in_bits: int
    in_neurons: int
    rate: bool
    layers: tuple[LayerPlan, ...]
    tiles: tuple[TilePort, ...]
    mtj_modules: tuple[MTJModulePort, ...]
    dropout_edges: tuple[tuple[int, int], ...]
    out_neurons: int
    out_bits: int
    out_signed: bool

    @property
    def notes(self) -> tuple[str, ...]:
        """The mapping's notes (possible ADC saturation, idle modules, unread layers)."""
        return self.mapping.notes

    def cycles(self, samples: int = 1) -> int:
        """``busy`` cycles of one ``start`` with ``samples`` samples: the schedule's cycles."""
        return schedule_mapping(self.mapping, samples).cycles

    @property
    def pixels_per_transfer(self) -> int:
        """``K = hw.pixels_per_transfer``: pixels per ``pixels`` transfer, the payload
        ``K * in_bits`` bits (pixel ``j * K + i`` of the image in lane ``i`` of transfer
        ``j``)."""
        return self.hw.pixels_per_transfer

    @property
    def input_transfers(self) -> int:
        """``pixels`` transfers per image, ``ceil(in_neurons / K)``
        (:attr:`hdl.mapping.Mapping.input_transfer_cycles`)."""
        return self.mapping.input_transfer_cycles

    def members(self) -> dict[str, Any]:
        """The design's ports (an :class:`amaranth.lib.wiring.Signature`'s members)."""
        ports: dict[str, Any] = {
            "pixels": In(stream.Signature(self.pixels_per_transfer * self.in_bits)),
            "start": In(1),
            "samples": In(SAMPLES_BITS),
            "busy": Out(1),
            "done": Out(1),
            "counts": Out(stream.Signature(self.out_neurons * self.out_bits)),
        }
        for ev in EVENTS:
            ports[f"ev_{ev}"] = Out(EVENT_BITS)
        for t in self.tiles:
            rows = t.rows[1] - t.rows[0]
            ports[t.name] = Out(crossbar_signature(rows, t.lanes, self.hw.adc_bits, t.dac_bits))
        for mod in self.mtj_modules:
            ports[mod.name] = Out(mtj_signature(DAC_BITS))
        return ports

    def manifest(self) -> dict[str, Any]:
        """The ports and their geometry as JSON-ready data (for testbenches and tools)."""
        return {
            "network": self.net.name,
            "timesteps": self.timesteps,
            "input_bits": self.in_bits,
            "input_neurons": self.in_neurons,
            "pixels_per_transfer": self.pixels_per_transfer,
            "input_transfers": self.input_transfers,
            "stream_while_busy": self.hw.stream_while_busy,
            "output_neurons": self.out_neurons,
            "output_bits": self.out_bits,
            "output_signed": self.out_signed,
            "samples_bits": SAMPLES_BITS,
            "event_bits": EVENT_BITS,
            "cycles_per_sample": self.mapping.cycles_per_sample,
            "tiles": [asdict(t) for t in self.tiles],
            "mtj_modules": [
                {**{k: v for k, v in asdict(m).items() if k != "setting"}, **_setting(m.setting)}
                for m in self.mtj_modules
            ],
        }


def _setting(s: DACSetting) -> dict[str, Any]:
    return {
        "code": s.code,
        "code_bits": s.code_bits,
        "write_cycles": s.write_cycles,
        "pulse_ns": s.pulse_ns,
        "realised_p": s.realised_p,
        "realised_current_ua": s.realised_current_ua,
    }


def plan_accelerator(
    net: Network, hw: HardwareConfig | None = None, driver: MTJDriver | None = None
) -> AcceleratorPlan:
    """Validate ``net`` for ``hw`` and plan its accelerator (pure: no Amaranth component).

    Args:
        net: a trained network (weights and thresholds), validated here.
        hw: the hardware configuration; default :class:`HardwareConfig` ``()``.
        driver: the MTJ drive sequence; default: the network's own (``net.mtj_driver``), else
            :class:`MTJDriver` ``()``.

    Raises:
        RTLError: the network cannot be generated; the message names the layer or edge and why.
    """
    hw = HardwareConfig() if hw is None else hw
    if not isinstance(net, Network):
        raise RTLError(f"Accelerator needs an hdl.ir.Network, not {type(net).__name__}")
    if not isinstance(hw, HardwareConfig):
        raise RTLError(f"hw must be an hdl.hwconfig.HardwareConfig, not {type(hw).__name__}")
    try:
        net = net.validate()
    except ValueError as err:
        raise RTLError(f"invalid network: {err}") from err
    if not net.has_weights:
        raise RTLError(
            "the network has no weights (an architecture): train and export it first "
            "(neurocim train / neurocim export), the crossbars need its cells"
        )
    driver = driver_for(net, driver)
    try:
        mapping = map_network(net, hw, driver)
    except NeurocimError as err:
        raise RTLError(f"the network cannot be mapped: {err}") from err
    dropout_edges = tuple(
        (li, ei)
        for li, layer in enumerate(net.layers)
        for ei, e in enumerate(layer.edges)
        if e.weighted and e.dropout is not None
    )
    layers: list[LayerPlan] = []
    tiles: list[TilePort] = []
    modules: list[MTJModulePort] = []
    for li, lmap in enumerate(mapping.layers):
        edges = tuple(_plan_edge(net, hw, li, em, dropout_edges) for em in lmap.edges)
        for ep in edges:
            tiles.extend(ep.tiles)
            modules.extend(_mtj_modules(net, hw, driver, li, ep))
        layers.append(_plan_layer(net, mapping, li, edges))
    last = layers[-1]
    if last.lmap.positions > 1:
        raise RTLError(
            f"layer {last.name!r}: an output layer with positions (a (C, H, W) output) is not "
            "supported; end the network with a flat layer"
        )
    return AcceleratorPlan(
        net=net,
        hw=hw,
        driver=driver,
        mapping=mapping,
        timesteps=int(net.timesteps),
        in_bits=int(net.input.bits),
        in_neurons=int(np.prod(net.input.shape)),
        rate=net.input.encoding == "rate",
        layers=tuple(layers),
        tiles=tuple(tiles),
        mtj_modules=tuple(modules),
        dropout_edges=dropout_edges,
        out_neurons=last.lmap.neurons,
        out_bits=output_bits(mapping),
        out_signed=not last.lmap.has_neurons,
    )


def _plan_edge(
    net: Network,
    hw: HardwareConfig,
    li: int,
    em: EdgeMap,
    dropout_edges: tuple[tuple[int, int], ...],
) -> EdgePlan:
    """The tiles (macro ports) and accumulator width of one weighted edge."""
    ei = em.index
    key = f"{net.layers[li].name}.{ei}"
    adcs = hw.adcs_per_tile
    first, interval = hw.conversion_timing
    tiles = []
    for rt in range(em.row_tiles):
        for ct in range(em.col_tiles):
            rows = (rt * hw.tile_rows, min(em.rows, (rt + 1) * hw.tile_rows))
            cols = (ct * hw.tile_cols, min(em.phys_cols, (ct + 1) * hw.tile_cols))
            n_cols = cols[1] - cols[0]
            steps = geometry.conversions(n_cols, adcs)
            tiles.append(
                TilePort(
                    name=f"xbar_l{li}_e{ei}_r{rt}_c{ct}",
                    layer=li,
                    edge=ei,
                    key=key,
                    row_tile=rt,
                    col_tile=ct,
                    rows=rows,
                    cols=cols,
                    lanes=geometry.lanes(n_cols, adcs),
                    conversions=steps,
                    first_cycles=first,
                    conversion_cycles=interval,
                    latency=geometry.conversion_cycles(steps, first, interval),
                    dac_bits=em.digit_bits,
                )
            )
    bound = z_bound(em, hw)
    bits = signed_bits(bound)
    if bits > Z_BITS[1]:
        raise RTLError(
            f"layer {em.layer!r}.edges[{ei}]: its sums need {bits} > {Z_BITS[1]} bits "
            f"(|z| <= {bound}); use fewer rows, narrower weights or a narrower ADC"
        )
    d_index = dropout_edges.index((li, ei)) if em.dropout is not None else -1
    return EdgePlan(ei, em, tuple(tiles), bound, bits, d_index)


def _mtj_modules(
    net: Network, hw: HardwareConfig, driver: MTJDriver, li: int, ep: EdgePlan
) -> list[MTJModulePort]:
    """The MTJ dropout module ports of one edge (none for an LFSR source or no dropout)."""
    spec = net.layers[li].edges[ep.index].dropout
    dmap = ep.emap.dropout
    if spec is None or dmap is None or spec.source != "mtj":
        return []
    try:
        setting = dac_setting(spec.p, driver, hw.clock_mhz, DAC_BITS)
    except ValueError as err:
        raise RTLError(f"layer {ep.emap.layer!r}.edges[{ep.index}] dropout: {err}") from err
    return [
        MTJModulePort(
            name=f"mtj_l{li}_e{ep.index}_m{m}",
            layer=li,
            edge=ep.index,
            key=f"{ep.emap.layer}.{ep.index}",
            module=m,
            modules=spec.modules,
            units=dmap.units,
            p=spec.p,
            setting=setting,
        )
        for m in range(spec.modules)
    ]


def _plan_layer(net: Network, mapping: Mapping, li: int, edges: tuple[EdgePlan, ...]) -> LayerPlan:
    """Bias, thresholds and the current register's width of one layer."""
    layer, lmap = net.layers[li], mapping.layers[li]
    channels = lmap.channels
    bias = (0,) * channels if layer.bias is None else tuple(int(b) for b in layer.bias)
    thresholds: tuple[int, ...] = ()
    if layer.neuron is not None:
        thresholds = tuple(int(v) for v in np.asarray(layer.neuron.threshold).reshape(-1))
    bound, bits = current_bound(lmap, mapping), current_bits(lmap, mapping)
    if bits > CURRENT_BITS[1]:
        raise RTLError(
            f"layer {layer.name!r}: its current needs {bits} > {CURRENT_BITS[1]} bits "
            f"(|I| <= {bound}); use smaller biases, fewer rows or narrower weights"
        )
    lif = None
    if layer.neuron is not None:
        nr = layer.neuron
        try:
            lif = lif_params(
                membrane_bits=nr.membrane_bits,
                current_bits=bits,
                threshold_bits=max(1, max(thresholds).bit_length()),
                leak_shift=nr.leak_shift,
                reset=nr.reset,
            )
        except RTLError as err:
            raise RTLError(f"layer {layer.name!r}: {err}") from err
    return LayerPlan(
        index=li,
        name=layer.name,
        lmap=lmap,
        edges=edges,
        skips=lmap.skip_sources,
        bias=bias,
        thresholds=thresholds,
        current_bound=bound,
        current_bits=bits,
        lif=lif,
    )
