"""NIR interchange: write a neurocim network as a NIR graph and read it back.

NIR (the neuromorphic intermediate representation, read and written by snntorch, Norse, Sinabs,
SpikingJelly, Lava) describes the graph and the continuous-time neurons; what it lacks — bit
widths, dropout, reset by subtraction, the integer leak, the output decoding — travels as JSON in
node metadata under the key ``"neurocim"``, so a neurocim network round-trips exactly.

Mapping (unit time step ``dt = 1``):

* a weighted edge -> ``Conv2d`` (zero bias) or ``Affine`` (zero bias), preceded by a
  ``Flatten`` when a linear edge reads a ``(C, H, W)`` source; a skip edge -> a direct NIR edge;
  zero edges are only recorded in metadata;
* LIF neurons -> ``LIF`` with ``tau = 2**leak_shift`` (``β = 1 - dt/tau = 1 - 2**-s``),
  ``r = tau`` (so that ``dt/tau · r · I = I``), ``v_leak = bias · tau / r`` (the bias enters as a
  constant current), ``v_threshold = threshold``; a neuron without leak -> ``IF`` with ``r = 1``;
* the output accumulator -> ``I`` (integrator, ``r = 1``) fed by the output layer's edges.

Graphs from other tools import when they use those node kinds with integer-valued weights and
thresholds; anything else is refused with a message naming the node.
"""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np

from hdl.ir import IRError, Network, _from_json, _to_json

__all__ = ["from_nir", "read_nir", "to_nir", "write_nir"]

KEY = "neurocim"


def _meta(obj: dict) -> dict:
    return {KEY: json.dumps(obj, sort_keys=True)}


def _read_meta(node) -> dict | None:
    raw = (node.metadata or {}).get(KEY)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(str(raw))


def to_nir(net: Network) -> nir.NIRGraph:
    """The NIR graph of ``net`` (which must carry weights)."""
    if not net.has_weights:
        raise IRError("an architecture has no weights to write to NIR: export a trained network")
    doc, _ = _to_json(net.validate())
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input({"input": np.array(net.input.shape)}),
    }
    edges: list[tuple[str, str]] = []
    for layer, layer_doc in zip(net.layers, doc["layers"], strict=True):
        target = layer.name
        shape = layer.out_shape

        def full(per_channel: np.ndarray, shape=shape) -> np.ndarray:
            """NIR neuron parameters have the layer's full shape: broadcast per channel."""
            values = np.asarray(per_channel, dtype=np.float64).reshape(
                -1, *([1] * (len(shape) - 1))
            )
            return np.broadcast_to(values, shape).copy()

        channels = layer.channels
        bias = np.zeros(channels) if layer.bias is None else layer.bias.astype(np.float64)
        meta = _meta({"layer": layer_doc, "bias": None if layer.bias is None else bias.tolist()})
        ones = full(np.ones(channels))
        if layer.neuron is None:
            nodes[target] = nir.I(r=ones, metadata=meta)
        elif layer.neuron.leak_shift is None:
            nodes[target] = nir.IF(r=ones, v_threshold=full(layer.neuron.threshold), metadata=meta)
        else:
            tau = full(np.full(channels, float(2**layer.neuron.leak_shift)))
            nodes[target] = nir.LIF(
                tau=tau,
                r=tau,
                v_leak=full(bias),
                v_threshold=full(layer.neuron.threshold),
                metadata=meta,
            )
        for i, edge in enumerate(layer.edges):
            source = edge.source
            if edge.kind == "zero":
                continue
            if edge.kind == "skip":
                edges.append((source, target))
                continue
            name = f"{target}.edge{i}"
            weight = edge.weight.astype(np.float64)
            meta = _meta({"edge": layer_doc["edges"][i]})
            if edge.kind == "conv2d":
                in_shape = net.shape_of(source)
                nodes[name] = nir.Conv2d(
                    input_shape=(in_shape[1], in_shape[2]),
                    weight=weight,
                    stride=edge.stride,
                    padding=edge.padding,
                    dilation=1,
                    groups=1,
                    bias=np.zeros(weight.shape[0]),
                    metadata=meta,
                )
            else:
                if len(net.shape_of(source)) == 3:
                    flat = f"{name}.flatten"
                    nodes[flat] = nir.Flatten(
                        {"input": np.array(net.shape_of(source))}, start_dim=0
                    )
                    edges.append((source, flat))
                    source = flat
                nodes[name] = nir.Affine(
                    weight=weight, bias=np.zeros(weight.shape[0]), metadata=meta
                )
            edges.append((source, name))
            edges.append((name, target))
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


def _integers(values, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise IRError(f"NIR node {where} holds non-integer values: neurocim networks are integer")
    return np.round(arr).astype(np.int64)


def from_nir(graph: nir.NIRGraph) -> Network:
    """A neurocim network from a NIR graph written by :func:`to_nir`."""
    network_doc = _read_meta(graph)
    if network_doc is None:
        raise IRError(
            "this NIR graph carries no neurocim metadata (bit widths, dropout, reset, leak): "
            "only graphs written by neurocim can be read back exactly"
        )
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for name in network_doc.pop("layer_order"):
        node = graph.nodes.get(name)
        if node is None:
            raise IRError(f"NIR graph lacks the node {name!r} of layer {name!r}")
        meta = _read_meta(node)
        if meta is None or "layer" not in meta:
            raise IRError(f"NIR node {name!r} has no neurocim layer metadata")
        layer_doc = meta["layer"]
        if meta.get("bias") is not None:
            arrays[f"{name}.bias"] = _integers(meta["bias"], f"{name}.bias")
        if isinstance(node, (nir.LIF, nir.IF)):
            channels = layer_doc["out_shape"][0]
            per_channel = np.asarray(node.v_threshold).reshape(channels, -1)[:, 0]
            arrays[f"{name}.threshold"] = _integers(per_channel, f"{name}.v_threshold")
        for i, edge in enumerate(layer_doc["edges"]):
            if edge["kind"] in ("linear", "conv2d"):
                edge_node = graph.nodes.get(f"{name}.edge{i}")
                if edge_node is None:
                    raise IRError(f"NIR graph lacks the weighted edge node {name}.edge{i}")
                arrays[f"{name}.{i}.weight"] = _integers(edge_node.weight, f"{name}.edge{i}.weight")
        layers.append(layer_doc)
    network_doc["layers"] = layers
    return _from_json(network_doc, arrays, "NIR graph")


def read_nir(path: str | Path) -> Network:
    """Read a neurocim network from a NIR file written by :func:`write_nir`."""
    path = Path(path)
    if not path.is_file():
        raise IRError(f"no NIR file at {path}")
    return from_nir(nir.read(path))
