"""The deployable network format (IR), version 1: the network as the chip runs it.

A :class:`Network` is a feed-forward graph of :class:`Layer` objects over ``T`` timesteps; each
layer sums the currents of its incoming :class:`Edge` objects and feeds LIF neurons
(:class:`Neuron`) or, for the output layer, an accumulator. Every number is an integer as the
hardware holds it. The semantics are written once in docs/hardware-model.md.

Files: ``network.json`` (structure and scalars) and ``weights.npz`` (integer arrays). Without
weights a network is an *architecture*, enough for mapping and cost estimates. Loading validates
everything and names the layer, the field and the allowed range of anything wrong.
"""

from __future__ import annotations

import io
import json
import numbers
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hdl._io import atomic_write_bytes
from hdl.checks import check_int
from hdl.driver import MTJDriver
from hdl.errors import NeurocimError
from hdl.lifparams import LEAK_SHIFT, MEMBRANE_BITS, RESETS
from hdl.mtj import MTJDevice

__all__ = [
    "EDGE_KINDS",
    "FORMAT",
    "LFSR_TAPS",
    "VERSION",
    "DataSource",
    "DropoutSpec",
    "Edge",
    "IRError",
    "InputSpec",
    "LFSRSpec",
    "Layer",
    "Network",
    "Neuron",
    "load_network",
    "network_from_bytes",
    "network_to_bytes",
    "save_network",
]

FORMAT = "neurocim-ir"
VERSION = 1
EDGE_KINDS = ("linear", "conv2d", "skip", "zero")
WEIGHTED = ("linear", "conv2d")

# Maximal-length Fibonacci LFSR taps (bit positions, 1 = least significant), from the standard
# tables (Xilinx XAPP 052).
LFSR_TAPS: dict[int, tuple[int, ...]] = {
    4: (4, 3),
    5: (5, 3),
    6: (6, 5),
    7: (7, 6),
    8: (8, 6, 5, 4),
    9: (9, 5),
    10: (10, 7),
    11: (11, 9),
    12: (12, 6, 4, 1),
    13: (13, 4, 3, 1),
    14: (14, 5, 3, 1),
    15: (15, 14),
    16: (16, 15, 13, 4),
    24: (24, 23, 22, 17),
    32: (32, 22, 2, 1),
}


class IRError(NeurocimError, ValueError):
    """An invalid network: the message names the layer, the field and the allowed values."""


def _int(value: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
    return check_int(value, where, lo, hi, error=IRError)


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise IRError(f"{where} must be one of {list(choices)}, got {value!r}")
    return value


def _int_array(value: Any, where: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(value)
    exact_float = (
        arr.dtype.kind == "f"
        and bool(np.all(np.isfinite(arr)))
        and bool(np.all(arr == np.round(arr)))
        and bool(np.all(np.abs(arr) < 2**53))
    )
    if arr.dtype.kind not in "iu" and not exact_float:
        raise IRError(f"{where} must hold (finite) integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if shape is not None and arr.shape != shape:
        raise IRError(f"{where} must have shape {shape}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


def _check_lfsr(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, LFSRSpec):
        raise IRError(f"{where} must be an LFSRSpec or None, got {type(value).__name__}")


@dataclass(frozen=True)
class LFSRSpec:
    """A Fibonacci LFSR: ``width`` bits, maximal-length ``taps``, non-zero ``seed``.

    The default width is 32: one m-sequence holds about ``(2^w - 1) / w`` non-overlapping
    leap-forward draws shared by all streams of that width (4,096 at w = 16, too few for the
    rate coding of one 28x28 image over a few timesteps and samples; 134 million at w = 32).
    """

    width: int = 32
    seed: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or self.width not in LFSR_TAPS:
            raise IRError(f"lfsr.width must be one of {sorted(LFSR_TAPS)}, got {self.width!r}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "seed", _int(self.seed, "lfsr.seed", 1, 2**self.width - 1))

    @property
    def taps(self) -> tuple[int, ...]:
        return LFSR_TAPS[self.width]


@dataclass(frozen=True)
class InputSpec:
    """Input shape ``(C, H, W)`` and encoding (``direct`` bit-serial or ``rate`` from an LFSR)."""

    shape: tuple[int, int, int]
    bits: int = 8
    encoding: str = "direct"
    lfsr: LFSRSpec | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.shape)
        if len(shape) != 3 or any(_int(s, "input.shape", 1) < 1 for s in shape):
            raise IRError(f"input.shape must be (C, H, W) of positive integers, got {self.shape!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        object.__setattr__(self, "bits", _int(self.bits, "input.bits", 1, 16))
        _choice(self.encoding, "input.encoding", ("direct", "rate"))
        _check_lfsr(self.lfsr, "input.lfsr")
        if self.encoding == "rate":
            lfsr = self.lfsr or LFSRSpec()
            if lfsr.width < self.bits:
                raise IRError(
                    f"input.lfsr.width ({lfsr.width}) must be >= input.bits ({self.bits})"
                )
            object.__setattr__(self, "lfsr", lfsr)


@dataclass(frozen=True)
class DropoutSpec:
    """MTJ (or LFSR) dropout gating a weighted edge's crossbar rows.

    Attributes:
        p: drop probability in (0, 1).
        granularity: ``row`` (one bit per crossbar row) or ``channel`` (one per input channel).
        source: ``mtj`` (analog modules; bits supplied to the golden model) or ``lfsr``.
        modules: physical dropout modules shared round-robin by the mask's units.
        lfsr: the generator for source ``lfsr``; its modules start at states spread along
            the sequence from ``seed`` (docs/hardware-model.md section 3).
    """

    p: float
    granularity: str = "row"
    source: str = "mtj"
    modules: int = 1
    lfsr: LFSRSpec | None = None

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 < float(p) < 1.0:
            raise IRError(f"dropout.p must be a number in (0, 1), got {p!r}")
        object.__setattr__(self, "p", float(p))
        _choice(self.granularity, "dropout.granularity", ("row", "channel"))
        _choice(self.source, "dropout.source", ("mtj", "lfsr"))
        object.__setattr__(self, "modules", _int(self.modules, "dropout.modules", 1))
        _check_lfsr(self.lfsr, "dropout.lfsr")
        if self.source == "lfsr" and self.lfsr is None:
            object.__setattr__(self, "lfsr", LFSRSpec())


@dataclass(frozen=True)
class Edge:
    """One incoming edge of a layer (see the table in docs/hardware-model.md)."""

    kind: str
    source: str
    weight_bits: int = 1
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    weight: np.ndarray | None = None
    weight_shape: tuple[int, ...] = ()
    dropout: DropoutSpec | None = None

    @property
    def weighted(self) -> bool:
        return self.kind in WEIGHTED


@dataclass(frozen=True)
class Neuron:
    """Integer LIF neurons of a layer (one threshold and bias per output channel / neuron)."""

    threshold: np.ndarray | None = None
    leak_shift: int | None = None
    reset: str = "subtract"
    membrane_bits: int = 16


@dataclass(frozen=True)
class Layer:
    """A node of the graph: summed edges, bias, then LIF neurons (or the output accumulator)."""

    name: str
    edges: tuple[Edge, ...]
    out_shape: tuple[int, ...]
    neuron: Neuron | None = None
    bias: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return self.out_shape[0]


@dataclass(frozen=True)
class DataSource:
    """The data set a network was trained on, so that its test images can be found again.

    Attributes:
        name: the data set's name as :func:`spindrop.data.load_dataset` knows it (``digits``,
            ``mnist``, ``fashion-mnist``, ...).
        root: directory (or file) of its standard files; ``None`` for embedded data.
    """

    name: str
    root: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise IRError(f"dataset.name must be a non-empty string, got {self.name!r}")
        if self.root is not None and not isinstance(self.root, str):
            raise IRError(f"dataset.root must be a path string or null, got {self.root!r}")


@dataclass(frozen=True)
class Network:
    """A validated network (see :func:`Network.validate`); build it, then call ``validate()``.

    ``mtj_driver`` is the MTJ dropout drive (device and write pulse) the network was trained
    with, ``None`` for the default driver; the mapping, cost model, RTL and simulation use it
    unless they are handed another (:func:`hdl.driver.driver_for`). ``dataset`` names the data it
    was trained on (for test images), ``None`` when unknown.
    """

    name: str
    input: InputSpec
    layers: tuple[Layer, ...]
    timesteps: int = 1
    output_decoding: str = "membrane"
    metadata: dict = field(default_factory=dict)
    mtj_driver: MTJDriver | None = None
    dataset: DataSource | None = None

    @property
    def has_weights(self) -> bool:
        return all(e.weight is not None for layer in self.layers for e in layer.edges if e.weighted)

    def architecture(self) -> Network:
        """The same network without its weights (thresholds and biases stay): what the
        mapping and cost model need, and what a search prices before anything is trained."""
        layers = tuple(
            replace(layer, edges=tuple(replace(e, weight=None) for e in layer.edges))
            for layer in self.layers
        )
        return replace(self, layers=layers).validate()

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def shape_of(self, source: str) -> tuple[int, ...]:
        return self.input.shape if source == "input" else self.layer(source).out_shape

    def validate(self) -> Network:
        """Check every field; return a copy with arrays frozen, integers as ``int`` and shapes
        filled in. Errors name the layer, the field and the allowed values."""
        if not isinstance(self.name, str) or not self.name:
            raise IRError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.input, InputSpec):
            raise IRError(f"input must be an InputSpec, got {type(self.input).__name__}")
        timesteps = _int(self.timesteps, "timesteps", 1, 4096)
        _choice(self.output_decoding, "output_decoding", ("membrane", "count"))
        if not isinstance(self.metadata, dict):
            raise IRError(f"metadata must be a dict (a JSON object), got {self.metadata!r}")
        if self.mtj_driver is not None and not isinstance(self.mtj_driver, MTJDriver):
            raise IRError(
                f"mtj_driver must be an hdl.driver.MTJDriver or None, got {self.mtj_driver!r}"
            )
        if self.dataset is not None and not isinstance(self.dataset, DataSource):
            raise IRError(f"dataset must be an hdl.ir.DataSource or None, got {self.dataset!r}")
        if not self.layers:
            raise IRError("a network needs at least one layer")
        seen: dict[str, tuple[int, ...]] = {"input": self.input.shape}
        layers = []
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise IRError(f"layers[{index}] must be a Layer, got {type(layer).__name__}")
            is_output = index == len(self.layers) - 1
            layers.append(_validate_layer(layer, seen, is_output, self.output_decoding))
            seen[layer.name] = layers[-1].out_shape
        _check_complete(layers)
        return replace(self, layers=tuple(layers), timesteps=timesteps)


def _check_complete(layers: list[Layer]) -> None:
    """Weights are all given (a trained network, which then needs every threshold too) or none
    (an architecture; thresholds and biases may then be present or not)."""
    given, missing = [], []
    for layer in layers:
        for i, edge in enumerate(layer.edges):
            if edge.weighted:
                field_name = f"layer {layer.name!r}.edges[{i}].weight"
                (given if edge.weight is not None else missing).append(field_name)
    if not given:
        return
    for layer in layers:
        if layer.neuron is not None and layer.neuron.threshold is None:
            missing.append(f"layer {layer.name!r}.neuron.threshold")
    if missing:
        raise IRError(
            f"{missing[0]} is missing while {given[0]} is given: a trained network has all its "
            "weights and thresholds, an architecture has no weights"
        )


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _validate_edge(
    edge: Edge, where: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Edge:
    if not isinstance(edge, Edge):
        raise IRError(f"{where} must be an Edge, got {type(edge).__name__}")
    _choice(edge.kind, f"{where}.kind", EDGE_KINDS)
    if edge.kind != "conv2d":
        _check_no_window(edge, where)
    if edge.kind in ("skip", "zero"):
        if edge.kind == "skip" and tuple(in_shape) != tuple(out_shape):
            raise IRError(
                f"{where}: a skip edge needs equal shapes, source {in_shape} vs layer {out_shape}"
            )
        if edge.weight is not None or edge.dropout is not None:
            raise IRError(
                f"{where}: a {edge.kind} edge has no crossbar, so no weight and no dropout; "
                "remove them or make it a linear or conv2d edge"
            )
        return replace(edge, weight_shape=())
    bits = _int(edge.weight_bits, f"{where}.weight_bits", 1, 16)
    if edge.dropout is not None and not isinstance(edge.dropout, DropoutSpec):
        raise IRError(
            f"{where}.dropout must be a DropoutSpec or None, got {type(edge.dropout).__name__}"
        )
    if edge.kind == "linear":
        n_in = int(np.prod(in_shape))
        if len(out_shape) != 1:
            raise IRError(f"{where}: a linear edge needs a flat layer shape (N,), got {out_shape}")
        shape: tuple[int, ...] = (out_shape[0], n_in)
    else:
        if len(in_shape) != 3 or len(out_shape) != 3:
            raise IRError(f"{where}: conv2d needs (C, H, W) shapes, got {in_shape} -> {out_shape}")
        k = _int(edge.kernel, f"{where}.kernel", 1, 15)
        st = _int(edge.stride, f"{where}.stride", 1, 8)
        pad = _int(edge.padding, f"{where}.padding", 0, k - 1)
        edge = replace(edge, kernel=k, stride=st, padding=pad)
        expected = (
            out_shape[0],
            _conv_out(in_shape[1], k, st, pad),
            _conv_out(in_shape[2], k, st, pad),
        )
        if tuple(out_shape) != expected:
            raise IRError(
                f"{where}: a {k}x{k} stride {st} padding {pad} convolution of {in_shape} gives "
                f"{expected}, but the layer's out_shape is {out_shape}"
            )
        shape = (out_shape[0], in_shape[0], k, k)
    weight = edge.weight
    if weight is not None:
        weight = _int_array(weight, f"{where}.weight", shape)
        limit = 1 if bits == 1 else 2 ** (bits - 1) - 1
        bad = (np.abs(weight) != 1) if bits == 1 else (np.abs(weight) > limit)
        if np.any(bad):
            allowed = "-1 or +1" if bits == 1 else f"in -{limit}..{limit}"
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise IRError(
                f"{where}.weight must be {allowed} for weight_bits {bits}; {int(bad.sum())} "
                f"values are not (first: {int(weight[index])} at {index})"
            )
    dropout = edge.dropout
    if dropout is not None and dropout.granularity == "channel" and edge.kind == "linear":
        raise IRError(
            f"{where}.dropout.granularity 'channel' needs a conv2d edge: a linear edge has no "
            "input channels, one mask bit per input is its 'row' granularity; use "
            "granularity 'row'"
        )
    return replace(edge, weight=weight, weight_shape=shape, weight_bits=bits)


def _check_no_window(edge: Edge, where: str) -> None:
    """Refuse a convolution window (kernel, stride, padding) on an edge that has none."""
    given = {
        name: value
        for name, value, default in (
            ("kernel", edge.kernel, 1),
            ("stride", edge.stride, 1),
            ("padding", edge.padding, 0),
        )
        if value != default
    }
    if given:
        listed = ", ".join(f"{k} {v!r}" for k, v in given.items())
        raise IRError(
            f"{where}: a {edge.kind} edge has no convolution window, but it has {listed}; "
            "remove them (kernel 1, stride 1, padding 0) or make it a conv2d edge"
        )


def _validate_layer(layer: Layer, seen: dict, is_output: bool, decoding: str) -> Layer:
    where = f"layer {layer.name!r}"
    if not isinstance(layer.name, str) or not layer.name or layer.name == "input":
        raise IRError(f"{where}: a layer needs a unique non-empty name other than 'input'")
    if layer.name in seen:
        raise IRError(f"{where}: the name is used twice")
    out_shape = tuple(int(_int(s, f"{where}.out_shape", 1)) for s in layer.out_shape)
    if len(out_shape) not in (1, 3):
        raise IRError(f"{where}.out_shape must be (N,) or (C, H, W), got {layer.out_shape}")
    if not layer.edges:
        raise IRError(f"{where} needs at least one edge")
    edges = []
    for i, edge in enumerate(layer.edges):
        if edge.source not in seen:
            raise IRError(
                f"{where}.edges[{i}].source {edge.source!r} is not 'input' or an earlier layer "
                f"({sorted(seen)})"
            )
        edges.append(_validate_edge(edge, f"{where}.edges[{i}]", seen[edge.source], out_shape))
    if not any(e.weighted for e in edges) and not any(e.kind == "skip" for e in edges):
        raise IRError(f"{where} has only zero edges: it would never receive a current")
    channels = out_shape[0]
    bias = None if layer.bias is None else _int_array(layer.bias, f"{where}.bias", (channels,))
    neuron = layer.neuron
    accumulator = is_output and decoding == "membrane"
    if neuron is None and not accumulator:
        raise IRError(
            f"{where} needs LIF neurons (only the output layer with decoding 'membrane' "
            "may omit them)"
        )
    if neuron is not None and accumulator:
        raise IRError(
            f"{where}.neuron: the output layer with decoding 'membrane' is an accumulator "
            "without neurons; remove its neuron or use output_decoding 'count'"
        )
    if neuron is not None:
        neuron = _validate_neuron(neuron, f"{where}.neuron", channels)
    return replace(layer, edges=tuple(edges), out_shape=out_shape, neuron=neuron, bias=bias)


def _validate_neuron(neuron: Neuron, where: str, channels: int) -> Neuron:
    if not isinstance(neuron, Neuron):
        raise IRError(f"{where} must be a Neuron or None, got {type(neuron).__name__}")
    leak = neuron.leak_shift
    if leak is not None:
        leak = _int(leak, f"{where}.leak_shift", *LEAK_SHIFT)
    _choice(neuron.reset, f"{where}.reset", RESETS)
    bits = _int(neuron.membrane_bits, f"{where}.membrane_bits", *MEMBRANE_BITS)
    threshold = neuron.threshold
    if threshold is not None:
        threshold = _int_array(threshold, f"{where}.threshold", (channels,))
        bad = (threshold < 1) | (threshold >= 2 ** (bits - 1))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise IRError(
                f"{where}.threshold must be in 1..{2 ** (bits - 1) - 1} (membrane_bits {bits}); "
                f"channel {i} has {int(threshold[i])}"
            )
    return replace(neuron, threshold=threshold, leak_shift=leak, membrane_bits=bits)


# --- files -------------------------------------------------------------------------------------


def _lfsr_dict(lfsr: LFSRSpec | None) -> dict | None:
    return None if lfsr is None else {"width": lfsr.width, "seed": lfsr.seed}


def _to_json(net: Network) -> tuple[dict, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for layer in net.layers:
        edges = []
        for i, e in enumerate(layer.edges):
            d: dict[str, Any] = {"kind": e.kind, "source": e.source}
            if e.weighted:
                d.update(
                    weight_bits=e.weight_bits, kernel=e.kernel, stride=e.stride, padding=e.padding
                )
                if e.weight is not None:
                    arrays[f"{layer.name}.{i}.weight"] = e.weight
                if e.dropout is not None:
                    dp = e.dropout
                    d["dropout"] = {
                        "p": dp.p,
                        "granularity": dp.granularity,
                        "source": dp.source,
                        "modules": dp.modules,
                        "lfsr": _lfsr_dict(dp.lfsr),
                    }
            edges.append(d)
        entry: dict[str, Any] = {
            "name": layer.name,
            "out_shape": list(layer.out_shape),
            "edges": edges,
        }
        if layer.bias is not None:
            arrays[f"{layer.name}.bias"] = layer.bias
        if layer.neuron is not None:
            n = layer.neuron
            entry["neuron"] = {
                "leak_shift": n.leak_shift,
                "reset": n.reset,
                "membrane_bits": n.membrane_bits,
            }
            if n.threshold is not None:
                arrays[f"{layer.name}.threshold"] = n.threshold
        layers.append(entry)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "name": net.name,
        "timesteps": net.timesteps,
        "output_decoding": net.output_decoding,
        "input": {
            "shape": list(net.input.shape),
            "bits": net.input.bits,
            "encoding": net.input.encoding,
            "lfsr": _lfsr_dict(net.input.lfsr),
        },
        "layers": layers,
        "metadata": net.metadata,
    }
    if net.mtj_driver is not None:
        doc["mtj_driver"] = {
            "pulse_ns": net.mtj_driver.pulse_ns,
            "device": asdict(net.mtj_driver.device),
        }
    if net.dataset is not None:
        doc["dataset"] = {"name": net.dataset.name, "root": net.dataset.root}
    return doc, arrays


def save_network(net: Network, directory: str | Path) -> Path:
    """Write ``network.json`` (and ``weights.npz`` when the network has weights) atomically.

    The bytes are reproducible: same network, same files.
    """
    directory = Path(directory)
    text, npz = network_to_bytes(net.validate())
    if npz is not None:
        atomic_write_bytes(directory / "weights.npz", npz)
    else:
        (directory / "weights.npz").unlink(missing_ok=True)
    return atomic_write_bytes(directory / "network.json", text)


_T = TypeVar("_T")

_TOP_FIELDS = {
    "format",
    "version",
    "name",
    "timesteps",
    "output_decoding",
    "input",
    "layers",
    "metadata",
    "mtj_driver",
    "dataset",
}
_INPUT_FIELDS = {"shape", "bits", "encoding", "lfsr"}
_LAYER_FIELDS = {"name", "out_shape", "edges", "neuron"}
_EDGE_FIELDS = {"kind", "source", "weight_bits", "kernel", "stride", "padding", "dropout"}
_NEURON_FIELDS = {"leak_shift", "reset", "membrane_bits"}
_DROPOUT_FIELDS = {"p", "granularity", "source", "modules", "lfsr"}
_LFSR_FIELDS = {"width", "seed"}
_DRIVER_FIELDS = {"pulse_ns", "device"}
_DATASET_FIELDS = {"name", "root"}


def _parse_driver(d: Any) -> MTJDriver | None:
    """``{"pulse_ns": ns, "device": {MTJDevice fields}}`` (both optional) or ``None``."""
    if d is None:
        return None
    d = _fields(d, _DRIVER_FIELDS, "mtj_driver")
    device = _fields(d.get("device", {}), {f.name for f in fields(MTJDevice)}, "mtj_driver.device")
    try:
        return MTJDriver(device=MTJDevice(**device), pulse_ns=d.get("pulse_ns", 10.0))
    except NeurocimError as exc:
        raise IRError(f"mtj_driver: {exc}") from None


def _parse_dataset(d: Any) -> DataSource | None:
    if d is None:
        return None
    d = _fields(d, _DATASET_FIELDS, "dataset")
    if "name" not in d:
        raise IRError("dataset lacks the required field 'name'")
    return DataSource(name=d["name"], root=d.get("root"))


def _parsed(where: str, build: Callable[[], _T]) -> _T:
    """``build()`` with its errors (missing fields, bad values) prefixed by ``where``."""
    try:
        return build()
    except KeyError as exc:
        raise IRError(f"{where} lacks the required field {exc}") from None
    except IRError as exc:
        raise IRError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise IRError(f"{where} has a malformed field: {exc}") from None


def _fields(d: Any, known: set[str], part: str = "") -> dict:
    """``d`` as a dict holding only ``known`` keys (messages relative to ``part``)."""
    prefix = f"{part}: " if part else ""
    if not isinstance(d, dict):
        raise IRError(f"{prefix}expected a JSON object, got {d!r}")
    unknown = sorted(set(d) - known)
    if unknown:
        raise IRError(f"{prefix}unknown fields {unknown}; known fields: {sorted(known)}")
    return d


def _parse_lfsr(d: Any) -> LFSRSpec | None:
    if d is None:
        return None
    d = _fields(d, _LFSR_FIELDS, "lfsr")
    default = LFSRSpec()
    return LFSRSpec(width=d.get("width", default.width), seed=d.get("seed", default.seed))


def _parse_dropout(d: Any) -> DropoutSpec | None:
    if d is None:
        return None
    d = _fields(d, _DROPOUT_FIELDS, "dropout")
    if "p" not in d:
        raise IRError("dropout lacks the required field 'p'")
    return DropoutSpec(
        p=d["p"],
        granularity=d.get("granularity", "row"),
        source=d.get("source", "mtj"),
        modules=d.get("modules", 1),
        lfsr=_parse_lfsr(d.get("lfsr")),
    )


def _parse_edge(ed: Any, weight: np.ndarray | None) -> Edge:
    ed = _fields(ed, _EDGE_FIELDS)
    return Edge(
        kind=ed["kind"],
        source=ed["source"],
        weight_bits=ed.get("weight_bits", 1),
        kernel=ed.get("kernel", 1),
        stride=ed.get("stride", 1),
        padding=ed.get("padding", 0),
        weight=weight,
        dropout=_parse_dropout(ed.get("dropout")),
    )


def _parse_neuron(nd: Any, threshold: np.ndarray | None) -> Neuron | None:
    if nd is None:
        return None
    nd = _fields(nd, _NEURON_FIELDS, "neuron")
    return Neuron(
        threshold=threshold,
        leak_shift=nd.get("leak_shift"),
        reset=nd.get("reset", "subtract"),
        membrane_bits=nd.get("membrane_bits", 16),
    )


def _parse_layer(ld: Any, index: int, arrays: dict[str, np.ndarray], where: str) -> Layer:
    ld = _parsed(f"{where}: layers[{index}]", lambda: _fields(ld, _LAYER_FIELDS))
    if "name" not in ld:
        raise IRError(f"{where}: layers[{index}] lacks the required field 'name'")
    name = ld["name"]
    here = f"{where}: layer {name!r}"
    edge_docs = _parsed(here, lambda: ld["edges"])
    if not isinstance(edge_docs, list):
        raise IRError(f"{here}.edges must be a JSON list, got {edge_docs!r}")
    edges = tuple(
        _parsed(
            f"{here}.edges[{i}]",
            lambda ed=ed, i=i: _parse_edge(ed, arrays.get(f"{name}.{i}.weight")),
        )
        for i, ed in enumerate(edge_docs)
    )
    neuron = _parsed(here, lambda: _parse_neuron(ld.get("neuron"), arrays.get(f"{name}.threshold")))
    return _parsed(
        here,
        lambda: Layer(
            name=name,
            edges=edges,
            out_shape=tuple(ld["out_shape"]),
            neuron=neuron,
            bias=arrays.get(f"{name}.bias"),
        ),
    )


def _array_keys(net: Network) -> set[str]:
    """The ``weights.npz`` keys the network's fields can hold."""
    keys = set()
    for layer in net.layers:
        keys |= {f"{layer.name}.{i}.weight" for i, e in enumerate(layer.edges) if e.weighted}
        keys |= {f"{layer.name}.bias", f"{layer.name}.threshold"}
    return keys


def _from_json(doc: Any, arrays: dict[str, np.ndarray] | None, where: str) -> Network:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise IRError(f"{where} is not a neurocim network (format {found!r}, expected {FORMAT!r})")
    version = doc.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise IRError(
            f"{where} has format version {version!r}; this neurocim reads version {VERSION}"
        )
    doc = _parsed(where, lambda: _fields(doc, _TOP_FIELDS))
    arrays = arrays or {}
    inp = _parsed(where, lambda: _fields(doc["input"], _INPUT_FIELDS, "input"))
    input_spec = _parsed(
        f"{where}: input",
        lambda: InputSpec(
            shape=tuple(inp["shape"]),
            bits=inp.get("bits", 8),
            encoding=inp.get("encoding", "direct"),
            lfsr=_parse_lfsr(inp.get("lfsr")),
        ),
    )
    layer_docs = _parsed(where, lambda: doc["layers"])
    if not isinstance(layer_docs, list):
        raise IRError(f"{where}: layers must be a JSON list, got {layer_docs!r}")
    layers = tuple(_parse_layer(ld, i, arrays, where) for i, ld in enumerate(layer_docs))
    net = _parsed(
        where,
        lambda: Network(
            name=doc["name"],
            input=input_spec,
            layers=layers,
            timesteps=doc.get("timesteps", 1),
            output_decoding=doc.get("output_decoding", "membrane"),
            metadata=doc.get("metadata", {}),
            mtj_driver=_parse_driver(doc.get("mtj_driver")),
            dataset=_parse_dataset(doc.get("dataset")),
        ),
    )
    unused = sorted(set(arrays) - _array_keys(net))
    if unused:
        raise IRError(
            f"{where}: weights.npz holds arrays no field of the network uses: {unused} "
            "(keys are '<layer>.<edge index>.weight', '<layer>.threshold', '<layer>.bias')"
        )
    return _parsed(where, net.validate)


def network_to_bytes(net: Network) -> tuple[bytes, bytes | None]:
    """The two files' bytes: JSON text (sorted keys) and the npz archive (or ``None``)."""
    doc, arrays = _to_json(net)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if not arrays:
        return text.encode(), None
    buffer = io.BytesIO()
    np.savez(buffer, **{k: arrays[k] for k in sorted(arrays)})
    return text.encode(), buffer.getvalue()


def network_from_bytes(text: bytes, npz: bytes | None = None, where: str = "network") -> Network:
    """The inverse of :func:`network_to_bytes`: a network from its JSON text and npz bytes."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IRError(f"{where} is not valid JSON: {exc}") from None
    arrays = None
    if npz is not None:
        with np.load(io.BytesIO(npz)) as data:
            arrays = {k: data[k] for k in data.files}
    return _from_json(doc, arrays, where)


def load_network(path: str | Path) -> Network:
    """Read a network from a directory (``network.json`` [+ ``weights.npz``]) or a JSON file."""
    path = Path(path)
    json_path = path / "network.json" if path.is_dir() else path
    if not json_path.is_file():
        raise IRError(
            f"no network at {path}: expected a directory with network.json or a .json file"
        )
    try:
        doc = json.loads(json_path.read_text())
    except json.JSONDecodeError as exc:
        raise IRError(f"{json_path} is not valid JSON: {exc}") from None
    npz = json_path.with_name("weights.npz")
    arrays = None
    if npz.is_file():
        try:
            with np.load(npz) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise IRError(f"{npz} is not a readable npz archive of integer arrays: {exc}") from None
    return _from_json(doc, arrays, str(json_path))
