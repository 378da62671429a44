"""A whole accelerator for a binary multilayer perceptron: crossbar drivers, shift-add, LIF
arrays and a controller FSM running one inference of one image (one Monte-Carlo sample).

**Networks accepted** (anything else is refused with an :class:`~hdl.rtl.lif.RTLError` that
names the cause):

* every layer has exactly one ``linear`` edge reading the previous layer (the first reads the
  ``direct``-encoded input, flattened in C order), with binary weights (``weight_bits = 1``,
  ``W ∈ {-1, +1}``), so one slice per polarity whatever ``hw.cell_bits``;
* the hidden layers have LIF neurons (any leak, reset, membrane width); the last layer is the
  output accumulator (decoding ``membrane``, no neurons); biases are allowed;
* ``T >= 1`` timesteps, ``input.bits`` bit-planes of the first layer;
* **limit: one crossbar tile per layer**: ``in_features <= hw.tile_rows`` and ``2 · C_out <=
  hw.tile_cols`` (no row or column tiling yet);
* dropout: edges with dropout of granularity ``row`` (any source) take their keep masks from a
  port (``keep<l>``), sampled with ``start`` and held for the ``T`` timesteps. The mask fill
  itself (MTJ modules or LFSRs) is not part of this block: the masks come from outside.

**Ports** (``l`` is the layer index in file order):

================ ======================================= =====================================
port             direction                                meaning
================ ======================================= =====================================
``start``        ``In(1)``                                begin one inference (taken when idle)
``pixels``       ``In(N_in · bits)``                      pixel ``i`` (C order) at bits
                                                          ``i·bits ..``, sampled with ``start``
``keep<l>``      ``In(in_features_l)``                    keep mask of layer ``l``'s edge (only
                                                          for edges with dropout), bit ``r`` =
                                                          row ``r``, sampled with ``start``
``busy``         ``Out(1)``                               an inference runs
``done``         ``Out(1)``                               one cycle: ``outputs`` hold the result
``outputs``      ``Out(C_out · out_bits)``                ``y[o]`` signed at bits ``o·out_bits``
                                                          (held until the next ``start``)
``xbar<l>``      ``Out(crossbar_signature(in_l,           the macro of layer ``l``
                 2·C_out_l, hw.adc_bits))``
================ ======================================= =====================================

The macro of layer ``l`` has ``in_features_l`` word lines (the used rows of its tile) and
``2 · C_out_l`` columns, column ``2·o`` holding ``W⁺[o, :]`` and ``2·o + 1`` holding
``W⁻[o, :]`` (docs/hardware-model.md section 5); :func:`tile_cells` gives those cell values for
programming (and for the behavioural macro of ``sim.models.crossbar`` in simulation).

**Schedule.** For each timestep ``t``, for each layer ``l``: for each bit-plane ``b`` (first
layer: ``input.bits`` planes, else 1) one read of the tile with the word lines ``bits_b & keep``
(a :class:`~hdl.rtl.crossbar.CrossbarTileDriver`, ``latency + 2`` cycles), whose codes go into a
:class:`~hdl.rtl.accumulate.PartialSumAccumulator` (weight ``2^b``); the next read starts in the
cycle the previous one is done. Then, for a hidden layer, the ``ceil(C_out / hw.lif_units)``
groups of a :class:`~hdl.rtl.lif_array.LIFArray` with currents ``z + bias`` (``first`` at
``t = 0``) and one cycle more for the last group's spikes, which are stored in the layer's spike
register (the next layer's word lines); for the output layer one cycle ``y += z + bias``
(``y = z + bias`` at ``t = 0``). After the last timestep ``done`` is high for one cycle.

Cycles per inference (:meth:`MLPAccelerator.cycles` for macros answering ``latency`` cycles
after ``read``): with ``start`` high in cycle ``c`` (idle), ``done`` is high in cycle ``c +
cycles``::

    cycles = 1 + T · Σ_l ( B_l · (latency + 3) + u_l )      u_l = groups_l + 1 (hidden), 1 (out)

(a read: one cycle to issue ``start`` to the driver, the driver's ``latency + 2``; ``groups_l =
ceil(C_out_l / hw.lif_units)`` update cycles plus one for the LIF array's latency). It differs
from ``hdl.mapping.schedule(net, hw).cycles``: the schedule converts a tile's columns on
``tile_cols / columns_per_adc`` multiplexed ADCs, ``2 + mux_steps · (1 + adc_latency_cycles)``
cycles per read, while the macro here answers all columns at once after ``latency`` cycles
(``latency + 3`` per read); the controller spends one cycle more per hidden layer (no spike
forwarding from the LIF array yet), one cycle (not ``ceil(C_out / U)``) on the output
accumulator, and does not include the mask fill (masks come from the ``keep`` ports).

Example::

    >>> import numpy as np
    >>> from hdl.ir import Edge, InputSpec, Layer, Network, Neuron
    >>> rng = np.random.default_rng(0)
    >>> net = Network("t", InputSpec((1, 1, 6), bits=2), (
    ...     Layer("h", (Edge("linear", "input", weight=rng.choice([-1, 1], (4, 6))),), (4,),
    ...           neuron=Neuron(threshold=np.full(4, 2))),
    ...     Layer("o", (Edge("linear", "h", weight=rng.choice([-1, 1], (3, 4))),), (3,)),
    ... )).validate()
    >>> acc = MLPAccelerator(net)
    >>> len(acc.pixels), len(acc.xbar0.codes), acc.cycles(latency=1)
    (12, 64, 16)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.rtl.accumulate import PartialSumAccumulator, accumulator_bits
from hdl.rtl.crossbar import CrossbarTileDriver, crossbar_signature
from hdl.rtl.lif import RTLError, _check_name, emit_verilog
from hdl.rtl.lif_array import LIFArray

__all__ = ["MLPAccelerator", "mlp_verilog", "tile_cells"]


def _check_net(net: Any, hw: HardwareConfig) -> Network:
    if not isinstance(net, Network):
        raise RTLError(f"MLPAccelerator needs an hdl.ir.Network, not {type(net).__name__}")
    if not isinstance(hw, HardwareConfig):
        raise RTLError(f"hw must be an hdl.hwconfig.HardwareConfig, not {type(hw).__name__}")
    net = net.validate()
    if net.input.encoding != "direct":
        raise RTLError(f"MLPAccelerator supports direct input encoding, not {net.input.encoding!r}")
    if net.output_decoding != "membrane":
        raise RTLError(
            f"MLPAccelerator supports output decoding 'membrane', not {net.output_decoding!r}"
        )
    if len(net.layers) < 1:
        raise RTLError("MLPAccelerator needs at least one layer")
    prev = "input"
    for i, layer in enumerate(net.layers):
        where = f"layer {layer.name!r}"
        if len(layer.edges) != 1 or layer.edges[0].kind != "linear":
            raise RTLError(f"{where}: MLPAccelerator needs exactly one linear edge per layer")
        edge = layer.edges[0]
        if edge.source != prev:
            raise RTLError(f"{where}: the edge must read {prev!r}, not {edge.source!r}")
        if edge.weight_bits != 1 or edge.weight is None:
            raise RTLError(f"{where}: MLPAccelerator needs binary weights (weight_bits 1) given")
        if edge.dropout is not None and edge.dropout.granularity != "row":
            raise RTLError(f"{where}: only row-granularity dropout is supported")
        last = i == len(net.layers) - 1
        if last and layer.neuron is not None:
            raise RTLError(f"{where}: the output layer must be an accumulator (no neurons)")
        if not last and layer.neuron is None:
            raise RTLError(f"{where}: hidden layers need LIF neurons")
        if not last and layer.neuron.threshold is None:
            raise RTLError(f"{where}: thresholds are missing")
        rows, cout = edge.weight.shape[1], edge.weight.shape[0]
        if rows > hw.tile_rows:
            raise RTLError(
                f"{where}: {rows} inputs exceed one tile ({hw.tile_rows} rows); row tiling is "
                "not supported yet"
            )
        if 2 * cout > hw.tile_cols:
            raise RTLError(
                f"{where}: {2 * cout} physical columns exceed one tile ({hw.tile_cols}); column "
                "tiling is not supported yet"
            )
        prev = layer.name
    return net


def tile_cells(net: Network, layer: int) -> np.ndarray:
    """The ``(in_features, 2 · C_out)`` cell values of layer ``layer``'s tile: column ``2·o`` is
    ``W⁺[o, :] = max(W, 0)``, column ``2·o + 1`` is ``W⁻[o, :] = max(-W, 0)``."""
    w = np.asarray(net.layers[layer].edges[0].weight, dtype=np.int64)  # (C_out, in)
    cells = np.empty((w.shape[1], 2 * w.shape[0]), dtype=np.int64)
    cells[:, 0::2] = np.maximum(w, 0).T
    cells[:, 1::2] = np.maximum(-w, 0).T
    return cells


class MLPAccelerator(wiring.Component):
    """One inference (one image, one sample) of a binary MLP per ``start`` (see module doc).

    Parameters
    ----------
    net:
        A validated (or validatable) :class:`hdl.ir.Network` within the limits of the module doc.
    hw:
        ``tile_rows``, ``tile_cols`` (one tile per layer must suffice), ``adc_bits``,
        ``cell_bits`` and ``lif_units``.
    """

    def __init__(self, net: Network, hw: HardwareConfig | None = None) -> None:
        self._MustUse__silence = True
        hw = HardwareConfig() if hw is None else hw
        self.net = _check_net(net, hw)
        self.hw = hw
        self.timesteps = int(self.net.timesteps)
        self.bits = int(self.net.input.bits)
        layers = self.net.layers
        self.in_features = [int(la.edges[0].weight.shape[1]) for la in layers]
        self.out_features = [int(la.edges[0].weight.shape[0]) for la in layers]
        self.planes = [self.bits] + [1] * (len(layers) - 1)
        self.biases = [
            [0] * c if la.bias is None else [int(b) for b in np.asarray(la.bias).ravel()]
            for la, c in zip(layers, self.out_features, strict=True)
        ]
        self.dropout = [la.edges[0].dropout is not None for la in layers]
        self.drivers: list[CrossbarTileDriver] = []
        self.accs: list[PartialSumAccumulator] = []
        self.lifs: list[LIFArray | None] = []
        self.current_bits: list[int] = []
        adc_max = 2**hw.adc_bits - 1
        for i, layer in enumerate(layers):
            rows, cout, planes = self.in_features[i], self.out_features[i], self.planes[i]
            self.drivers.append(CrossbarTileDriver(rows=rows, cols=2 * cout, adc_bits=hw.adc_bits))
            acc_bits = accumulator_bits(
                slices=1, cell_bits=hw.cell_bits, adc_bits=hw.adc_bits, bit_planes=planes
            )
            self.accs.append(
                PartialSumAccumulator(
                    outputs=cout,
                    slices=1,
                    cell_bits=hw.cell_bits,
                    adc_bits=hw.adc_bits,
                    acc_bits=acc_bits,
                    bit_planes=planes,
                )
            )
            zmax = min(adc_max, rows) * (2**planes - 1)
            bmax = max(abs(b) for b in self.biases[i])
            cb = 1 + (zmax + bmax).bit_length()
            self.current_bits.append(cb)
            if layer.neuron is None:
                self.lifs.append(None)
                self.out_bits = 1 + (self.timesteps * (zmax + bmax)).bit_length()
                continue
            nr = layer.neuron
            th = [int(v) for v in np.broadcast_to(np.asarray(nr.threshold), (cout,))]
            tb = max(1, max(th).bit_length())
            if tb > nr.membrane_bits - 1:
                raise RTLError(f"layer {layer.name!r}: thresholds do not fit the membrane")
            self.lifs.append(
                LIFArray(
                    neurons=cout,
                    units=hw.lif_units,
                    thresholds=th,
                    membrane_bits=nr.membrane_bits,
                    current_bits=cb,
                    threshold_bits=tb,
                    leak_shift=nr.leak_shift,
                    reset=nr.reset,
                )
            )
        self._MustUse__silence = False
        ports: dict[str, Any] = {
            "start": In(1),
            "pixels": In(self.in_features[0] * self.bits),
        }
        for i, drop in enumerate(self.dropout):
            if drop:
                ports[f"keep{i}"] = In(self.in_features[i])
        ports["busy"] = Out(1)
        ports["done"] = Out(1)
        ports["outputs"] = Out(self.out_features[-1] * self.out_bits)
        for i in range(len(layers)):
            ports[f"xbar{i}"] = Out(
                crossbar_signature(self.in_features[i], 2 * self.out_features[i], hw.adc_bits)
            )
        super().__init__(ports)
        #: Spike registers of the hidden layers (the next layer's word lines), for inspection.
        self.spike_regs = [
            Signal(c, name=f"spikes{i}") for i, c in enumerate(self.out_features[:-1])
        ]

    def cycles(self, latency: int) -> int:
        """Cycles from the ``start`` cycle to the ``done`` cycle inclusive with macros answering
        ``latency`` cycles after ``read`` (module doc)."""
        per_t = 0
        for i, lif in enumerate(self.lifs):
            update = 1 if lif is None else lif.groups + 1
            per_t += self.planes[i] * (latency + 3) + update
        return 1 + self.timesteps * per_t

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        n_layers = len(self.net.layers)
        bits, T = self.bits, self.timesteps
        units = self.hw.lif_units
        for i in range(n_layers):
            m.submodules[f"driver{i}"] = self.drivers[i]
            m.submodules[f"acc{i}"] = self.accs[i]
            wiring.connect(m, wiring.flipped(getattr(self, f"xbar{i}")), self.drivers[i].xbar)
            m.d.comb += self.accs[i].codes.eq(self.drivers[i].codes)
            if self.lifs[i] is not None:
                m.submodules[f"lif{i}"] = self.lifs[i]

        pixels = Signal(len(self.pixels))
        keeps = []
        for i in range(n_layers):
            if self.dropout[i]:
                keeps.append(Signal(self.in_features[i], name=f"keep_reg{i}"))
            else:
                keeps.append(Const((1 << self.in_features[i]) - 1, self.in_features[i]))
        t = Signal(range(max(2, T)))
        plane = Signal(range(max(2, bits)))
        group = Signal(range(max(2, max((a.groups for a in self.lifs if a), default=1))))
        first = Signal()
        m.d.comb += first.eq(t == 0)

        # Word lines: bit-plane `plane` of the pixels (first layer), spikes otherwise; & keep.
        wl0 = Signal(self.in_features[0])
        with m.Switch(plane):  # constant slices per plane (no variable shift in the Verilog)
            for b in range(bits):
                with m.Case(b):
                    m.d.comb += wl0.eq(Cat(pixels[i * bits + b] for i in range(len(wl0))))
        for i in range(n_layers):
            src = wl0 if i == 0 else self.spike_regs[i - 1]
            m.d.comb += self.drivers[i].rows_in.eq(src & keeps[i])

        # Spike capture: the LIF array's results go to the layer's spike register.
        for i, lif in enumerate(self.lifs):
            if lif is None:
                continue
            reg, cout = self.spike_regs[i], self.out_features[i]
            with m.If(lif.out_valid):
                with m.Switch(lif.out_group):
                    for g in range(lif.groups):
                        with m.Case(g):
                            w = min(units, cout - g * units)
                            m.d.sync += reg[g * units : g * units + w].eq(lif.spikes[:w])

        # Currents z + bias per lane, selected by group.
        for i, lif in enumerate(self.lifs):
            if lif is None:
                continue
            acc, cb = self.accs[i], self.current_bits[i]
            z = [
                acc.z[o * acc.acc_bits : (o + 1) * acc.acc_bits].as_signed()
                for o in range(acc.outputs)
            ]
            cur = [Signal(signed(cb), name=f"current{i}_{o}") for o in range(acc.outputs)]
            for o in range(acc.outputs):
                m.d.comb += cur[o].eq(z[o] + self.biases[i][o])
            with m.Switch(group):
                for g in range(lif.groups):
                    with m.Case(g):
                        lanes = cur[g * units : (g + 1) * units]
                        m.d.comb += lif.currents.eq(Cat(*(c.as_unsigned() for c in lanes)))
            m.d.comb += [lif.group.eq(group), lif.first.eq(first)]

        # The output accumulator y.
        out_acc, ob = self.accs[-1], self.out_bits
        ys = [Signal(signed(ob), name=f"y{o}") for o in range(out_acc.outputs)]
        m.d.comb += self.outputs.eq(Cat(*(y.as_unsigned() for y in ys)))

        m.d.sync += self.done.eq(0)
        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [pixels.eq(self.pixels), t.eq(0), plane.eq(0), group.eq(0)]
                    m.d.sync += self.busy.eq(1)
                    for i in range(n_layers):
                        if self.dropout[i]:
                            m.d.sync += keeps[i].eq(getattr(self, f"keep{i}"))
                    m.next = "L0_READ"
            for i in range(n_layers):
                drv, acc, lif = self.drivers[i], self.accs[i], self.lifs[i]
                planes = self.planes[i]
                with m.State(f"L{i}_READ"):
                    m.d.comb += drv.start.eq(1)
                    m.next = f"L{i}_WAIT"
                with m.State(f"L{i}_WAIT"):
                    with m.If(drv.done):
                        is_last = plane == planes - 1
                        m.d.comb += [
                            acc.valid.eq(1),
                            acc.clear.eq(plane == 0),
                            acc.last.eq(is_last),
                        ]
                        if planes > 1:
                            m.d.comb += acc.plane.eq(plane)
                        with m.If(is_last):
                            m.d.sync += plane.eq(0)
                            m.next = f"L{i}_UPDATE"
                        with m.Else():
                            m.d.sync += plane.eq(plane + 1)
                            m.next = f"L{i}_READ"
                with m.State(f"L{i}_UPDATE"):  # the accumulator's sum is on z now
                    nxt = f"L{i + 1}_READ" if i + 1 < n_layers else None
                    if lif is not None:
                        m.d.comb += lif.valid.eq(1)
                        with m.If(group == lif.groups - 1):
                            m.d.sync += group.eq(0)
                            m.next = f"L{i}_FLUSH"
                        with m.Else():
                            m.d.sync += group.eq(group + 1)
                    else:
                        zs = [
                            acc.z[o * acc.acc_bits : (o + 1) * acc.acc_bits].as_signed()
                            for o in range(acc.outputs)
                        ]
                        for o, y in enumerate(ys):
                            add = zs[o] + self.biases[i][o]
                            m.d.sync += y.eq(Mux(first, 0, y) + add)
                        with m.If(t == T - 1):
                            m.d.sync += [self.done.eq(1), self.busy.eq(0)]
                            m.next = "IDLE"
                        with m.Else():
                            m.d.sync += t.eq(t + 1)
                            m.next = "L0_READ"
                if lif is not None:
                    with m.State(f"L{i}_FLUSH"):  # last group's spikes are stored this cycle
                        m.next = nxt
        return m


def mlp_verilog(net: Network, hw: HardwareConfig | None = None, name: str = "mlp") -> str:
    """Verilog of an :class:`MLPAccelerator` for ``net`` on ``hw``."""
    _check_name(name)
    return emit_verilog(MLPAccelerator(net, hw), name=name)
