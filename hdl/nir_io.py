"""NIR interchange: write a neurocim network as a NIR graph that other tools run, and read NIR.

NIR (the neuromorphic intermediate representation, read and written by snntorch, Norse, Sinabs,
SpikingJelly, Lava) describes a graph of continuous-time neurons. A tool runs it in steps of
``dt``; snntorch (and this module) take ``dt = 1e-4`` s, so that a ``LIF`` node of time constant
``tau`` and resistance ``r`` is, per step,

    v ← β·v + g·I,   β = 1 - dt/tau,   g = r·dt/tau;   S = [v > v_threshold];   v ← v_reset if S

Written graphs (:func:`to_nir`), float semantics per timestep ``t``:

* the graph's input at every step is the integer pixel ``x`` (``direct`` encoding: the chip's
  bit-serial sum ``Σ_b 2^b · z(s_b)`` equals ``z(x)``) or the input spikes (``rate``: the LFSR
  spikes of :func:`hdl.lfsr.rate_spikes`, which NIR cannot describe);
* a weighted edge -> ``Conv2d`` or ``Affine`` (preceded by a ``Flatten`` with ``start_dim = 0``
  when a linear edge reads a ``(C, H, W)`` source); a skip edge -> a direct NIR edge (inputs of a
  node add up); zero edges appear only in the metadata;
* a layer with neurons -> ``LIF`` with ``tau = dt·2^leak_shift``, ``r = tau/dt`` (so
  ``β = 1 - 2^-leak_shift`` and ``g = 1``), ``v_leak = 0``, ``v_reset = 0``; a layer without
  leak -> the same with ``leak_shift = 40`` (``β = 1 - 2^-40``, which is 1 in float32): a ``LIF``
  and not an ``IF`` node, because snntorch 1.0's importer builds an ``IF`` node into a module
  that returns a tuple and cannot run in a graph;
* thresholds: the chip fires at ``v >= θ`` on an integer membrane, NIR at ``v > v_threshold``,
  so ``v_threshold = θ - ½`` (½ away from every integer ``v``, a margin for float rounding).
  snntorch's importer needs one threshold per node; a layer whose channels have different
  ``θ_o`` therefore has channel ``o``'s currents scaled by ``k_o = 1/(θ_o - ½)`` (its weights
  and its bias; a skip edge into it goes through a diagonal ``Affine``/1x1 ``Conv2d`` of ``k``)
  and ``v_threshold = 1``: the same spikes, since leak and reset are linear in ``v``;
* the bias ``b`` (``k·b``) rides on the bias of the layer's first weighted edge node, or, with
  no weighted edge, on a diagonal node that its first skip edge goes through; so
  ``I = Σ_edges z + b`` exactly as on the chip;
* the output accumulator (decoding ``membrane``) -> the node of its one weighted edge, or an
  identity ``Affine`` (a 1x1 ``Conv2d`` for a ``(C, H, W)`` layer) that sums several edges: the
  graph's output at step ``t`` is ``I[t]``, and the chip's ``y = Σ_t I[t]``; with decoding
  ``count`` the output layer is a ``LIF`` node and ``y`` the sum of its spikes over the steps.

The float run then gives the chip's spikes exactly where nothing is rounded: ``T = 1``, or
currents that keep the membrane a multiple of ``2^leak_shift`` (the chip's leak
``v - (v >> s)`` rounds, ``β·v`` does not), no ADC saturation, no membrane clamp
(``membrane_bits``), no dropout (NIR has no masks: the graph is the network with every row kept),
and reset ``zero``: NIR resets to ``v_reset``; the chip's reset by subtraction (``v - S·θ`` at the
next step) has no NIR form, so a tool resets to zero there instead (the two agree for ``T = 1``).
snntorch 1.0 loads every ``LIF`` node as ``snn.Leaky(reset_mechanism="zero",
reset_delay=False)`` and every ``Flatten`` with its ``start_dim`` unchanged, which for batched
``(B, C, H, W)`` input flattens the batch too: feed it one unbatched image at a time.

What NIR lacks — bit widths, dropout, the reset by subtraction, the exact thresholds, biases and
leak, the output decoding — travels as JSON in node metadata under the key ``"neurocim"``, so
``from_nir(to_nir(net))`` is ``net`` exactly.

Graphs from other tools (no ``"neurocim"`` metadata; e.g. ``snntorch.export_to_nir`` of
``nn.Linear`` + ``snn.Leaky``) import when the hardware can hold them: ``Affine``/``Linear``/
``Conv2d`` (square kernel, dilation 1, groups 1) with integer weights and biases, ``Flatten``
before a linear node, ``LIF`` with ``β = 1 - 2^-s`` (``s`` in 1..16, or ``β = 1`` within
``2^-30``: no leak), ``v_leak = 0`` and ``v_reset = 0`` (reset ``zero``; snntorch's exporter
writes every ``snn.Leaky`` so, whatever its ``reset_mechanism``: a network trained with reset
by subtraction imports with reset to zero), or ``IF`` (``g = r``);
one leak per layer and one threshold per channel. The input gain ``g > 0`` is folded into the
threshold, ``θ = floor(v_threshold / g) + 1`` (``v > u ⇔ v >= floor(u) + 1`` for an integer
``v``). What feeds ``Output`` is the output layer: a single neuron node gives decoding ``count``
(``y`` = its spike count), weighted nodes the accumulator of their summed current (decoding
``membrane``). A flat input ``(N,)`` becomes ``(1, 1, N)``. Anything else raises an
:class:`hdl.ir.IRError` naming the node and the fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import nir
import numpy as np

from hdl.ir import Edge, InputSpec, IRError, Layer, Network, Neuron, _from_json, _to_json

__all__ = ["DT", "NO_LEAK_SHIFT", "channel_scale", "from_nir", "read_nir", "to_nir", "write_nir"]

KEY = "neurocim"
DT = 1e-4
"""The time step [s] a NIR graph is run with (snntorch's convention)."""
NO_LEAK_SHIFT = 40
"""``tau = dt·2^40`` stands for a neuron without leak (``β = 1 - 2^-40``, 1 in float32)."""

_NO_LEAK_BELOW = 2.0**-30  # dt/tau at or below this reads as "no leak"
_RTOL = 1e-6  # float32 parameters (snntorch writes float32) match exact values to this


def _meta(obj: dict) -> dict:
    return {KEY: json.dumps(obj, sort_keys=True)}


def _read_meta(node: Any) -> dict | None:
    raw = (getattr(node, "metadata", None) or {}).get(KEY)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(str(raw))


def channel_scale(threshold: np.ndarray) -> np.ndarray:
    """The factor ``k_o`` of channel ``o``'s currents in the NIR graph: 1 when the layer has one
    threshold, else ``1/(θ_o - ½)`` (which makes every ``v_threshold`` 1)."""
    theta = np.asarray(threshold, dtype=np.float64)
    if np.all(theta == theta[0]):
        return np.ones_like(theta)
    return 1.0 / (theta - 0.5)


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """``values`` of shape ``(C,)`` reshaped to broadcast over a ``(C, ...)`` array."""
    return np.asarray(values, dtype=np.float64).reshape(-1, *([1] * (ndim - 1)))


def _full(per_channel: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """NIR neuron parameters have the layer's full shape: broadcast per channel."""
    return np.broadcast_to(_per_channel(per_channel, len(shape)), shape).copy()


def _diagonal(
    shape: tuple[int, ...], scale: np.ndarray, bias: np.ndarray, meta: dict | None
) -> nir.NIRNode:
    """A node computing ``k_o · s + b_o`` per channel: ``Affine`` for ``(N,)``, 1x1 ``Conv2d``
    for ``(C, H, W)``."""
    weight = np.diag(np.asarray(scale, dtype=np.float64))
    if len(shape) == 1:
        return nir.Affine(weight=weight, bias=bias, metadata=meta or {})
    return nir.Conv2d(
        input_shape=(shape[1], shape[2]),
        weight=weight[:, :, None, None],
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=bias,
        metadata=meta or {},
    )


def to_nir(net: Network) -> nir.NIRGraph:
    """The NIR graph of ``net`` (which must carry weights); see the module doc for its float
    semantics and for what the ``"neurocim"`` metadata adds."""
    if not net.has_weights:
        raise IRError("an architecture has no weights to write to NIR: export a trained network")
    net = net.validate()
    doc, _ = _to_json(net)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input({"input": np.array(net.input.shape)})}
    edges: list[tuple[str, str]] = []
    for layer, layer_doc in zip(net.layers, doc["layers"], strict=True):
        target, shape, channels = layer.name, layer.out_shape, layer.channels
        bias = np.zeros(channels) if layer.bias is None else layer.bias.astype(np.float64)
        neuron = layer.neuron
        threshold = None if neuron is None else neuron.threshold
        scale = np.ones(channels) if threshold is None else channel_scale(threshold)
        layer_meta = {
            "layer": layer_doc,
            "bias": None if layer.bias is None else layer.bias.tolist(),
            "threshold": None if threshold is None else threshold.tolist(),
        }
        meta = _meta(layer_meta)
        # an accumulator of one weighted edge is that edge's node; other layers get their own
        direct = neuron is None and len(layer.edges) == 1 and layer.edges[0].weighted
        if neuron is None:
            if not direct:
                nodes[target] = _diagonal(shape, np.ones(channels), np.zeros(channels), meta)
        else:
            assert threshold is not None  # a network with weights has every threshold
            shift = NO_LEAK_SHIFT if neuron.leak_shift is None else neuron.leak_shift
            gain = _full(np.full(channels, 2.0**shift), shape)
            nodes[target] = nir.LIF(
                tau=gain * DT,
                r=gain,
                v_leak=np.zeros(shape),
                v_threshold=_full(np.where(scale == 1.0, threshold - 0.5, 1.0), shape),
                v_reset=np.zeros(shape),
                metadata=meta,
            )
        scaled = bool(np.any(scale != 1.0))
        kinds = [e.kind for e in layer.edges]
        weighted = [i for i, k in enumerate(kinds) if k in ("linear", "conv2d")]
        skips = [i for i, k in enumerate(kinds) if k == "skip"]
        carrier = (weighted or skips)[0]  # a layer has a weighted or a skip edge
        has_bias = bool(np.any(bias != 0))
        for i, edge in enumerate(layer.edges):
            source = edge.source
            name = target if direct else f"{target}.edge{i}"
            edge_bias = bias * scale if i == carrier else np.zeros(channels)
            if edge.kind == "zero":
                continue
            if edge.kind == "skip":
                if scaled or (i == carrier and has_bias):
                    nodes[name] = _diagonal(shape, scale, edge_bias, None)
                    edges += [(source, name), (name, target)]
                else:
                    edges.append((source, target))
                continue
            assert edge.weight is not None
            weight = edge.weight.astype(np.float64) * _per_channel(scale, edge.weight.ndim)
            edge_meta = _meta({**(layer_meta if direct else {}), "edge": layer_doc["edges"][i]})
            if edge.kind == "conv2d":
                in_shape = net.shape_of(source)
                nodes[name] = nir.Conv2d(
                    input_shape=(in_shape[1], in_shape[2]),
                    weight=weight,
                    stride=edge.stride,
                    padding=edge.padding,
                    dilation=1,
                    groups=1,
                    bias=edge_bias,
                    metadata=edge_meta,
                )
            else:
                if len(net.shape_of(source)) == 3:
                    flat = f"{target}.edge{i}.flatten"
                    nodes[flat] = nir.Flatten(
                        {"input": np.array(net.shape_of(source))}, start_dim=0
                    )
                    edges.append((source, flat))
                    source = flat
                nodes[name] = nir.Affine(weight=weight, bias=edge_bias, metadata=edge_meta)
            edges += [(source, name)] if direct else [(source, name), (name, target)]
    nodes["output"] = nir.Output({"output": np.array(net.output.out_shape)})
    edges.append((net.output.name, "output"))
    network_doc = {k: v for k, v in doc.items() if k != "layers"}
    network_doc["layer_order"] = [layer.name for layer in net.layers]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=_meta(network_doc), type_check=False)


def write_nir(net: Network, path: str | Path) -> Path:
    """Write ``net`` as a NIR (HDF5) file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, to_nir(net))
    return path


def _integers(values: Any, where: str, fix: str, rtol: float = 0.0) -> np.ndarray:
    """``values`` as int64 when every one is an integer (to ``rtol``), else an error."""
    arr = np.asarray(values, dtype=np.float64)
    rounded = np.round(arr)
    bad = ~np.isfinite(arr) | (np.abs(arr - rounded) > rtol * np.maximum(1.0, np.abs(rounded)))
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IRError(
            f"NIR node {where} holds non-integer values ({int(bad.sum())} of {arr.size}, first "
            f"{arr[index]!r} at {index}): the hardware stores integers; {fix}"
        )
    return rounded.astype(np.int64)


def from_nir(
    graph: nir.NIRGraph,
    *,
    name: str = "nir",
    timesteps: int = 1,
    input_bits: int = 8,
    membrane_bits: int = 16,
    dt: float = DT,
) -> Network:
    """A neurocim network from a NIR graph.

    A graph written by :func:`to_nir` comes back exactly from its ``"neurocim"`` metadata (the
    keyword arguments are then unused). Any other graph is mapped as the module doc describes;
    what NIR does not say is given here: the network's ``name``, its ``timesteps``, the
    ``input_bits`` of the (direct-encoded) input, the neurons' ``membrane_bits``, and the step
    ``dt`` [s] that turns ``tau`` into ``β = 1 - dt/tau``.
    """
    network_doc = _read_meta(graph)
    if network_doc is None:
        return _from_foreign(graph, name, timesteps, input_bits, membrane_bits, dt)
    return _from_own(graph, network_doc)


def _from_own(graph: nir.NIRGraph, network_doc: dict) -> Network:
    """Read back a graph written by :func:`to_nir` (exactly, from its metadata and weights)."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    changed = "the graph was changed after neurocim wrote it; export the network again"
    for name in network_doc.pop("layer_order"):
        node = graph.nodes.get(name)
        if node is None:
            raise IRError(f"NIR graph lacks the node {name!r} of layer {name!r}")
        meta = _read_meta(node)
        if meta is None or "layer" not in meta:
            raise IRError(f"NIR node {name!r} has no neurocim layer metadata")
        layer_doc = meta["layer"]
        channels = layer_doc["out_shape"][0]
        if meta.get("bias") is not None:
            arrays[f"{name}.bias"] = _integers(meta["bias"], f"{name}.bias", changed)
        scale = np.ones(channels)
        if meta.get("threshold") is not None:
            threshold = _integers(meta["threshold"], f"{name}.threshold", changed)
            arrays[f"{name}.threshold"] = threshold
            scale = channel_scale(threshold)
        for i, edge in enumerate(layer_doc["edges"]):
            if edge["kind"] in ("linear", "conv2d"):
                edge_node = graph.nodes.get(f"{name}.edge{i}")
                if edge_node is None and len(layer_doc["edges"]) == 1:
                    edge_node = node  # an accumulator of one weighted edge is that edge's node
                if edge_node is None:
                    raise IRError(f"NIR graph lacks the weighted edge node {name}.edge{i}")
                weight = np.asarray(edge_node.weight, dtype=np.float64)
                weight = weight / _per_channel(scale, weight.ndim)
                arrays[f"{name}.{i}.weight"] = _integers(
                    weight, f"{name}.edge{i}.weight", changed, rtol=1e-9
                )
        layers.append(layer_doc)
    network_doc["layers"] = layers
    return _from_json(network_doc, arrays, "NIR graph")


# --- graphs from other tools ---------------------------------------------------------------

_WEIGHTED = (nir.Affine, nir.Linear, nir.Conv2d)
_NEURONS = (nir.LIF, nir.IF)
_QUANTIZE = (
    "quantize the weights and biases to integers before export (and scale the threshold with them)"
)


def _kind(node: Any) -> str:
    return type(node).__name__


def _refuse(key: str, node: Any) -> IRError:
    """The error for a node kind the hardware has no counterpart for."""
    kind = _kind(node)
    if isinstance(node, nir.NIRGraph):
        why = "a subgraph (a recurrent layer such as snn.RLeaky): the hardware is feed-forward"
        fix = "use feed-forward layers"
    elif isinstance(node, nir.CubaLIF):
        why = "a current-based LIF (snn.Synaptic): the hardware's neurons have no synaptic current"
        fix = "use snn.Leaky (nir.LIF) neurons"
    else:
        why = "a node kind the hardware has no counterpart for"
        fix = "use Affine/Linear/Conv2d (with Flatten) edges and LIF/IF neurons"
    return IRError(f"NIR node {key!r} is {kind}, {why}; {fix}")


def _uniform(values: np.ndarray, shape: tuple[int, ...], key: str, what: str) -> np.ndarray:
    """The per-channel values of a neuron parameter that must not vary within a channel."""
    try:
        full = np.broadcast_to(np.asarray(values, dtype=np.float64), shape)
    except ValueError:
        raise IRError(
            f"NIR node {key!r}: {what} has shape {np.shape(values)}, which does not fit the "
            f"layer's shape {shape}"
        ) from None
    per_channel = full.reshape(shape[0], -1)
    if not np.allclose(per_channel, per_channel[:, :1], rtol=_RTOL, atol=0.0):
        raise IRError(
            f"NIR node {key!r}: {what} varies within a channel; the hardware holds one value "
            "per channel (per output of a linear layer): make it equal across each channel"
        )
    return per_channel[:, 0]


def _leak_shift(node: nir.LIF, shape: tuple[int, ...], key: str, dt: float) -> int | None:
    """The leak shift ``s`` with ``dt/tau = 2^-s`` (``None``: no leak)."""
    rate = _uniform(dt / np.asarray(node.tau, dtype=np.float64), shape, key, "dt/tau")
    if not np.allclose(rate, rate[0], rtol=_RTOL, atol=0.0):
        raise IRError(
            f"NIR node {key!r}: tau differs between neurons; the hardware has one leak per "
            "layer: give the layer one tau"
        )
    r = float(rate[0])
    if 0.0 <= r <= _NO_LEAK_BELOW:
        return None
    shift = round(-math.log2(r)) if r > 0 else 0
    if not 1 <= shift <= 16 or abs(2.0**-shift - r) > _RTOL * r:
        raise IRError(
            f"NIR node {key!r}: beta = 1 - dt/tau = {1.0 - r:.6g} (dt = {dt:g} s, tau = "
            f"{float(np.ravel(node.tau)[0]):.6g} s) is not 1 - 2^-s for s in 1..16: the "
            "hardware's leak is a shift, v - (v >> s); train with beta in 0.5, 0.75, 0.875, ... "
            "(or beta = 1, no leak), or pass the dt the graph was written with"
        )
    return shift


def _neuron(
    node: nir.LIF | nir.IF, shape: tuple[int, ...], key: str, dt: float, membrane_bits: int
) -> Neuron:
    """The hardware neuron of a ``LIF``/``IF`` node (see the module doc)."""
    for field in ("v_leak", "v_reset"):
        value = getattr(node, field, None)
        if value is None:
            continue
        if not np.allclose(value, 0.0, rtol=0.0, atol=1e-12):
            what = (
                "a leak towards a non-zero potential: put that constant current in the bias "
                "of the Affine node before it, and set v_leak = 0"
                if field == "v_leak"
                else "a reset to a non-zero potential: the hardware resets to 0 (or by "
                "subtraction, which NIR cannot express); set v_reset = 0"
            )
            raise IRError(f"NIR node {key!r} has {field} != 0, {what}")
    if isinstance(node, nir.LIF):
        leak = _leak_shift(node, shape, key, dt)
        r, tau = np.broadcast_arrays(
            np.asarray(node.r, dtype=np.float64), np.asarray(node.tau, dtype=np.float64)
        )
        # snntorch writes beta = 1 as tau = r = inf (r = tau/dt): gain 1 in the limit
        limit = np.isinf(r) & np.isinf(tau)
        with np.errstate(invalid="ignore"):
            gain = np.where(limit, 1.0, r * dt / np.where(limit, 1.0, tau))
    else:
        leak = None
        gain = np.asarray(node.r, dtype=np.float64)
    gain = _uniform(gain, shape, key, "the input gain r·dt/tau")
    if np.any(gain <= 0) or not np.all(np.isfinite(gain)):
        raise IRError(
            f"NIR node {key!r}: the input gain (r·dt/tau for LIF, r for IF) must be positive "
            f"and finite, got {gain.tolist()}"
        )
    level = _uniform(node.v_threshold, shape, key, "v_threshold") / gain
    nearest = np.round(level)
    close = np.abs(level - nearest) <= _RTOL * np.maximum(1.0, np.abs(level))
    level = np.where(close, nearest, level)
    threshold = np.floor(level) + 1  # v > u  <=>  v >= floor(u) + 1 for an integer v
    top = 2 ** (membrane_bits - 1) - 1
    if np.any(threshold < 1) or np.any(threshold > top):
        raise IRError(
            f"NIR node {key!r}: v_threshold / gain = {level.tolist()} gives integer thresholds "
            f"{threshold.astype(np.int64).tolist()}, outside 1..{top} (membrane_bits "
            f"{membrane_bits}): use a threshold >= 0, or more membrane_bits"
        )
    return Neuron(
        threshold=threshold.astype(np.int64),
        leak_shift=leak,
        reset="zero",
        membrane_bits=membrane_bits,
    )


def _weight_bits(weight: np.ndarray, key: str) -> int:
    """The fewest weight bits that hold ``weight`` (1 bit: every weight is -1 or +1)."""
    top = int(np.max(np.abs(weight))) if weight.size else 0
    if top == 1 and np.all(np.abs(weight) == 1):
        return 1
    bits = max(2, top.bit_length() + 1)
    if bits > 16:
        raise IRError(
            f"NIR node {key!r}: weights up to {top} need {bits} bits, the hardware holds at most "
            f"16 (|w| <= {2**15 - 1}); quantize the weights to fewer levels"
        )
    return bits


def _square(value: Any, key: str, what: str) -> int:
    """One integer from a NIR ``stride``/``padding`` (an int or an equal pair)."""
    values = np.ravel(np.asarray(value))
    if values.size == 0 or not np.all(values == values[0]) or values.dtype.kind not in "iuf":
        raise IRError(
            f"NIR node {key!r}: {what} {value!r} differs between height and width; the hardware "
            f"convolves with one {what} for both"
        )
    return int(values[0])


def _from_foreign(
    graph: nir.NIRGraph, name: str, timesteps: int, input_bits: int, membrane_bits: int, dt: float
) -> Network:
    """Map a NIR graph without neurocim metadata onto the hardware (see the module doc)."""
    nodes = graph.nodes
    preds: dict[str, list[str]] = {key: [] for key in nodes}
    succs: dict[str, list[str]] = {key: [] for key in nodes}
    for src, dst in graph.edges:
        for key in (src, dst):
            if key not in nodes:
                raise IRError(f"NIR graph has an edge {src!r} -> {dst!r} to a missing node {key!r}")
        preds[dst].append(src)
        succs[src].append(dst)
    allowed = (nir.Input, nir.Output, nir.Flatten, *_WEIGHTED, *_NEURONS)
    for key, node in nodes.items():
        if not isinstance(node, allowed):
            raise _refuse(key, node)
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise IRError(
            f"a NIR graph for the hardware has one Input and one Output node, this one has "
            f"{len(inputs)} and {len(outputs)}"
        )
    in_key, out_key = inputs[0], outputs[0]
    declared = next(iter(nodes[in_key].input_type.values()), None)
    if declared is None:
        raise IRError(f"NIR input {in_key!r} declares no shape: give the Input node its shape")
    in_shape = tuple(int(s) for s in np.ravel(declared))
    if len(in_shape) == 1:
        in_shape = (1, 1, in_shape[0])
    if len(in_shape) != 3:
        raise IRError(
            f"NIR input {in_key!r} has shape {in_shape}; the hardware reads (N,) or (C, H, W)"
        )
    shapes: dict[str, tuple[int, ...]] = {"input": in_shape}
    layers: dict[str, Layer] = {}

    def source_of(key: str) -> tuple[str, Any]:
        """The layer (or input) a weighted node reads, and the Flatten between them (or None)."""
        (pred,) = _single(preds[key], key)
        flatten = None
        if isinstance(nodes[pred], nir.Flatten):
            flatten = nodes[pred]
            if not isinstance(nodes[key], (nir.Affine, nir.Linear)):
                raise IRError(
                    f"NIR node {pred!r} (Flatten) feeds {key!r}, a {_kind(nodes[key])}; the "
                    "hardware flattens only in front of a linear (Affine/Linear) node"
                )
            (pred,) = _single(preds[pred], pred)
        if not (pred == in_key or isinstance(nodes[pred], _NEURONS)):
            raise IRError(
                f"NIR node {key!r} ({_kind(nodes[key])}) reads {pred!r} "
                f"({_kind(nodes[pred])}); on the hardware a weighted node reads the input or "
                "a layer of neurons: merge consecutive weighted nodes into one"
            )
        return pred, flatten

    def layer_of(key: str, neuron_node: Any) -> Layer:
        """The layer whose current is the sum of ``key``'s inputs."""
        edge_list: list[Edge] = []
        bias = None
        out_shape: tuple[int, ...] | None = None
        for pred in preds[key]:
            node = nodes[pred]
            if pred == in_key or isinstance(node, _NEURONS):
                src = build(pred)
                edge_list.append(Edge("skip", src))
                shape = shapes[src]
            elif isinstance(node, _WEIGHTED):
                src, flatten = source_of(pred)
                src = build(src)
                ndim = len(shapes[src])
                if flatten is not None and (
                    flatten.start_dim not in (0, -ndim) or flatten.end_dim not in (-1, ndim - 1)
                ):
                    raise IRError(
                        f"the Flatten in front of NIR node {pred!r} flattens dims "
                        f"{flatten.start_dim}..{flatten.end_dim} of a {shapes[src]} layer; the "
                        "hardware flattens whole layers (start_dim 0, end_dim -1)"
                    )
                edge, shape = _edge(pred, node, src, shapes[src])
                edge_list.append(edge)
                node_bias = getattr(node, "bias", None)
                if node_bias is not None:
                    b = _integers(node_bias, f"{pred!r} bias", _QUANTIZE)
                    bias = b if bias is None else bias + b
            else:
                raise IRError(
                    f"NIR node {key!r} reads {pred!r}, a {_kind(node)}; a layer reads weighted "
                    "nodes, the input or other layers"
                )
            if out_shape is not None and shape != out_shape:
                raise IRError(
                    f"NIR node {key!r} sums inputs of shapes {out_shape} and {shape}: they "
                    "must be equal"
                )
            out_shape = shape
        if out_shape is None:
            raise IRError(f"NIR node {key!r} has no inputs")
        neuron = None
        if neuron_node is not None:
            neuron = _neuron(neuron_node, out_shape, key, dt, membrane_bits)
        return Layer(key, tuple(edge_list), out_shape, neuron=neuron, bias=bias)

    def build(key: str) -> str:
        """Build the layer of neuron node ``key`` (and the layers it reads); its name."""
        if key == in_key:
            return "input"
        if key not in layers:
            if key in building:
                raise IRError(f"NIR node {key!r} is part of a cycle: the hardware is feed-forward")
            building.add(key)
            layers[key] = layer_of(key, nodes[key])
            shapes[key] = layers[key].out_shape
            order.append(key)
        return key

    building: set[str] = set()
    order: list[str] = []
    feeds = preds[out_key]
    if not feeds:
        raise IRError(f"NIR output {out_key!r} is fed by no node: the graph computes nothing")
    if len(feeds) == 1 and isinstance(nodes[feeds[0]], _NEURONS):
        decoding = "count"
        last = build(feeds[0])
        others = [k for k in succs[last] if k != out_key]
        if others:
            raise IRError(
                f"NIR node {last!r} feeds the output and also {others}: the hardware's output "
                "layer feeds nothing else"
            )
    else:  # the output accumulator: the sum of what feeds Output
        decoding = "membrane"
        last = next((k for k in feeds if isinstance(nodes[k], _WEIGHTED)), out_key)
        layers[last] = replace(layer_of(out_key, None), name=last)
        order.append(last)
    ancestors, todo = set(), [out_key]
    while todo:
        key = todo.pop()
        if key not in ancestors:
            ancestors.add(key)
            todo += preds[key]
    unused = [k for k in nodes if k not in ancestors]
    if unused:
        raise IRError(
            f"NIR nodes {unused} do not lead to the output {out_key!r}: the hardware runs what "
            "feeds its output; remove them"
        )
    net = Network(
        name=name,
        input=InputSpec(in_shape, bits=input_bits),
        layers=tuple(layers[k] for k in order),
        timesteps=timesteps,
        output_decoding=decoding,
        metadata={"source": "NIR graph"},
    )
    return net.validate()


def _single(keys: Sequence[str], key: str) -> tuple[str]:
    if len(keys) != 1:
        raise IRError(
            f"NIR node {key!r} has {len(keys)} inputs {list(keys)}; it needs exactly one here"
        )
    return (keys[0],)


def _edge(
    key: str, node: Any, source: str, in_shape: tuple[int, ...]
) -> tuple[Edge, tuple[int, ...]]:
    """The hardware edge of a weighted node reading ``source`` (of ``in_shape``), and the shape
    of its current."""
    weight = _integers(node.weight, f"{key!r} weight", _QUANTIZE)
    bits = _weight_bits(weight, key)
    if isinstance(node, nir.Conv2d):
        if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
            raise IRError(
                f"NIR node {key!r}: kernel {weight.shape[2:]} is not square; the hardware "
                "convolves with k x k kernels"
            )
        if len(in_shape) != 3 or in_shape[0] != weight.shape[1]:
            raise IRError(
                f"NIR node {key!r}: a convolution of {weight.shape[1]} input channels reads "
                f"{source!r} of shape {in_shape}"
            )
        if _square(node.dilation, key, "dilation") != 1 or int(node.groups) != 1:
            raise IRError(
                f"NIR node {key!r}: dilation {node.dilation!r} and groups {node.groups!r}; the "
                "hardware convolves with dilation 1 and groups 1"
            )
        k = weight.shape[2]
        stride = _square(node.stride, key, "stride")
        if isinstance(node.padding, str):
            if node.padding == "valid":
                padding = 0
            elif stride == 1 and k % 2 == 1:
                padding = (k - 1) // 2
            else:
                raise IRError(
                    f"NIR node {key!r}: padding 'same' with kernel {k} and stride {stride} "
                    "is not symmetric; give explicit padding"
                )
        else:
            padding = _square(node.padding, key, "padding")
        out = tuple((size + 2 * padding - k) // stride + 1 for size in (in_shape[1], in_shape[2]))
        shape = (weight.shape[0], *out)
        edge = Edge(
            "conv2d",
            source,
            weight_bits=bits,
            kernel=k,
            stride=stride,
            padding=padding,
            weight=weight,
        )
        return edge, shape
    n_in = int(np.prod(in_shape))
    if weight.ndim != 2 or weight.shape[1] != n_in:
        raise IRError(
            f"NIR node {key!r}: weight of shape {weight.shape} reads {source!r} of {n_in} values"
        )
    return Edge("linear", source, weight_bits=bits, weight=weight), (weight.shape[0],)


def read_nir(path: str | Path, **options: Any) -> Network:
    """Read a network from a NIR file (``options``: see :func:`from_nir`)."""
    path = Path(path)
    if not path.is_file():
        raise IRError(f"no NIR file at {path}")
    return from_nir(nir.read(path), **options)
