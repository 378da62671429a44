"""Export of a trained :class:`spindrop.models.BayesianBinaryNet` to the deployable IR.

Each hidden block ``z -> BatchNorm -> activation`` is folded into integer LIF parameters.
With the block's integer current ``z_int = q · s`` (``q`` the integer weights; the first layer
reads integer pixels ``x_q = round(x (2^b - 1))``), the float pre-activation is
``y = A z_int + C`` with

    A = γ · w_scale · s_in / sqrt(σ² + ε),      C = β - γ μ / sqrt(σ² + ε),

``s_in = 1 / (2^b - 1)`` for the first layer and 1 for spikes. Where ``A < 0`` the neuron's
weights are negated (``z → -z``), so ``A > 0`` below.

* ``T = 1`` (binary): ``S = [y > 0] = [z_int >= ⌊-C/A⌋ + 1]``; exported as threshold 1 and
  bias ``-⌊-C/A⌋``, which is exact up to float rounding at the boundary.
* ``T > 1`` (snntorch ``Leaky``, θ = 1, ``β = 1 - 2^-s``): dividing the membrane by ``A`` gives
  threshold ``round(1/A)`` and bias ``round(C/A)`` in units of ``z_int``, and leak shift ``s``:
  an approximation (rounding of θ, bias and the leak) whose effect :func:`compare` measures.

The classifier ``α Σ_t q s[t]`` becomes the output accumulator (its arg-max is unchanged).
Dropout: every dropout layer's spec (p, granularity, modules) goes to its edge, source ``mtj``.

A :class:`spindrop.graph_model.GraphNet` (any IR architecture: cells, skip, zero and pooling
edges) is exported by :func:`export_graph` with the same algebra per layer: its forward pass
already sums integer weights, so ``w_scale = 1`` and ``z_int`` is the sum over all the layer's
edges; pooling edges keep their fixed weights, and each membrane is sized to hold the folded
layer (:func:`_sized_neuron`). :func:`compare` takes either model.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from hdl.driver import MTJDriver
from hdl.errors import NeurocimError
from hdl.golden import run as golden_run
from hdl.hwconfig import HardwareConfig
from hdl.ir import DataSource, DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from spindrop.graph_model import GraphNet
from spindrop.integer_model import run_integer
from spindrop.models import BayesianBinaryNet
from spindrop.quant import QuantConv2d

__all__ = [
    "ExportError",
    "compare",
    "export_graph",
    "export_network",
    "masks_from_records",
    "quantize_pixels",
]

MEMBRANE_BITS = 24


class ExportError(NeurocimError, ValueError):
    """The model cannot be expressed in the IR; the message says what to change."""


def _leak_shift(beta: float) -> int | None:
    if beta == 1.0:
        return None
    s = -math.log2(1.0 - beta)
    if abs(s - round(s)) > 1e-9 or round(s) < 1:
        raise ExportError(
            f"model.beta = {beta} has no integer leak: use beta = 1 - 2**-s "
            "(0.5, 0.75, 0.875, ...) or 1.0 (no leak)"
        )
    return round(s)


def _fold(block, scale_in: float, w_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, C) per output channel of ``y = A z_int + C`` for a block with batch-norm."""
    bn = block.norm
    inv = 1.0 / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    gamma = bn.weight.detach().double().numpy()
    a = gamma * w_scale * scale_in * inv
    c = bn.bias.detach().double().numpy() - gamma * bn.running_mean.double().numpy() * inv
    return a, c


def _edge(block, name_source: str, q: np.ndarray, bits: int, dropout) -> Edge:
    layer = block.layer
    spec = None
    if dropout is not None:
        cfg = dropout.config
        # a linear layer's channels are its rows: its mask is a row mask whatever the setting
        granularity = cfg.granularity if isinstance(layer, QuantConv2d) else "row"
        spec = DropoutSpec(
            p=cfg.p,
            granularity=granularity,
            source="mtj",
            modules=min(cfg.n_modules or dropout.units, dropout.units),
        )
    if isinstance(layer, QuantConv2d):
        return Edge(
            "conv2d",
            name_source,
            weight_bits=bits,
            kernel=layer.kernel_size[0],
            stride=layer.stride[0],
            padding=layer.padding[0],
            weight=q,
            dropout=spec,
        )
    return Edge("linear", name_source, weight_bits=bits, weight=q, dropout=spec)


def export_network(
    model: BayesianBinaryNet | GraphNet,
    input_bits: int = 8,
    name: str = "network",
    dataset: DataSource | None = None,
) -> Network:
    """The integer network the chip runs for ``model`` (see the module docstring).

    A model with MTJ dropout carries its training's drive into the network
    (``Network.mtj_driver``: the dropout's ``pulse_ns`` and ``device``), so the cost model, the
    RTL's write-driver DAC and the simulation use the pulse and device it was trained with;
    ``dataset`` records the data it was trained on.
    """
    if isinstance(model, GraphNet):
        return export_graph(model, input_bits, name, dataset)
    config = model.config
    leak = _leak_shift(config.beta) if config.timesteps > 1 else None
    layers: list[Layer] = []
    source = "input"
    scale_in = 1.0 / (2**input_bits - 1)
    shape: tuple[int, ...] = model.input_shape
    n_blocks = len(model.blocks)
    for index, block in enumerate(model.blocks):
        q_t, w_scale = block.layer.integer_weight()
        q = q_t.numpy().astype(np.int64)
        is_conv = isinstance(block.layer, QuantConv2d)
        if is_conv:
            c_out = block.layer.out_channels
            k, st, pad = block.layer.kernel_size[0], block.layer.stride[0], block.layer.padding[0]
            out_shape: tuple[int, ...] = (
                c_out,
                (shape[1] + 2 * pad - k) // st + 1,
                (shape[2] + 2 * pad - k) // st + 1,
            )
        else:
            out_shape = (block.layer.out_features,)
        name_i = f"{'conv' if is_conv else 'fc'}{index}" if index < n_blocks - 1 else "out"
        if index == n_blocks - 1:
            layers.append(
                Layer(
                    name_i,
                    (_edge(block, source, q, block.layer.weight_bits, block.dropout),),
                    out_shape,
                )
            )
            break
        a, c = _fold(block, scale_in, w_scale)
        flip = a < 0
        q = np.where(flip.reshape(-1, *([1] * (q.ndim - 1))), -q, q)
        a = np.abs(a)
        bound = (
            int(np.abs(q).reshape(q.shape[0], -1).sum(axis=1).max())
            * (2**input_bits if index == 0 else 1)
            + 1
        )
        neuron, bias = _folded_neuron(a, c, bound, config.timesteps, leak, name_i)
        edge = _edge(block, source, q, block.layer.weight_bits, block.dropout)
        layers.append(Layer(name_i, (edge,), out_shape, neuron=neuron, bias=bias))
        source, shape, scale_in = name_i, out_shape, 1.0
    net = Network(
        name=name,
        input=InputSpec(shape=model.input_shape, bits=input_bits, encoding="direct"),
        layers=tuple(layers),
        timesteps=config.timesteps,
        output_decoding="membrane",
        metadata={
            "exported_from": "spindrop.BayesianBinaryNet",
            "arch": config.arch,
            "weight_bits": config.weight_bits,
        },
        mtj_driver=_trained_driver(model),
        dataset=dataset,
    )
    return net.validate()


def _folded_neuron(
    a: np.ndarray, c: np.ndarray, bound: int, timesteps: int, leak: int | None, name: str
) -> tuple[Neuron, np.ndarray]:
    """LIF neurons and bias of ``y = A z_int + C`` with ``A >= 0`` (module docstring).

    T = 1: threshold 1, bias ``-floor(-C/A)`` (``S = [y > 0]``); a channel with ``A = 0`` fires
    always (``C > 0``) or never, by a bias of ``±bound`` (``bound`` > any ``|z_int|``).
    T > 1: threshold ``round(1/A)`` (at least 1), bias ``round(C/A)``."""
    if timesteps == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.floor(-c / a)
        bias = np.where(a > 0, -t_star, np.where(c > 0, bound, -bound))
        threshold = np.ones_like(bias)
    else:
        if np.any(a == 0):
            raise ExportError(
                f"layer {name}: a batch-norm scale of 0 cannot be folded into a spiking neuron"
            )
        threshold = np.maximum(np.round(1.0 / a), 1)
        bias = np.round(c / a)
    bias = np.clip(bias, -(2 ** (MEMBRANE_BITS - 2)), 2 ** (MEMBRANE_BITS - 2)).astype(np.int64)
    threshold = np.clip(threshold, 1, 2 ** (MEMBRANE_BITS - 1) - 1).astype(np.int64)
    neuron = Neuron(
        threshold=threshold, leak_shift=leak, reset="subtract", membrane_bits=MEMBRANE_BITS
    )
    return neuron, bias


def _first_step_bias(a: np.ndarray, c: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """The T > 1 bias that makes the first timestep exact, given the rounded threshold θ.

    At ``t = 0`` the float neuron fires where ``A z + C > 1`` (snntorch: ``U - θ > 0``, θ = 1),
    i.e. ``z >= ⌊(1 - C)/A⌋ + 1``; the integer one where ``z + b >= θ``. So
    ``b = θ - ⌊(1 - C)/A⌋ - 1`` (about ``C/A``, like the rounded bias) gives the same first
    spikes up to float rounding; later timesteps still see the rounded ``θ ≈ 1/A`` and the
    integer leak (measured by :func:`compare`)."""
    return (threshold - np.floor((1.0 - c) / a) - 1).astype(np.int64)


def _sized_neuron(
    neuron: Neuron, bias: np.ndarray, bound: int, timesteps: int, layer: Layer
) -> tuple[Neuron, np.ndarray]:
    """The membrane width of a GraphNet layer: the architecture's ``membrane_bits`` (what the
    search priced), widened where the folded layer could saturate it (up to 32 bits).

    With ``|z_int| < bound``: for T = 1 a bias beyond ``±bound`` decides alone, so it is
    clipped to ``±bound`` (same spikes) and ``|v| < 2 bound``; for T > 1,
    ``|v| <= T (bound + max|bias| + max θ)``. The width holds that bound, so nothing saturates
    below 32 bits and the fold stays exact (T = 1)."""
    if timesteps == 1:
        bias = np.clip(bias, -bound, bound)
        peak = 2 * bound
    else:
        peak = timesteps * (bound + int(np.abs(bias).max()) + int(neuron.threshold.max()))
    wanted = layer.neuron.membrane_bits if layer.neuron is not None else MEMBRANE_BITS
    bits = min(32, max(wanted, 1 + int(peak).bit_length()))
    return replace(neuron, membrane_bits=bits), bias


def export_graph(
    model: GraphNet,
    input_bits: int = 8,
    name: str = "network",
    dataset: DataSource | None = None,
) -> Network:
    """The integer network of a :class:`spindrop.graph_model.GraphNet`: its architecture's
    layers, edges (skip, zero and pooling edges included) and metadata, with the trained
    integer weights and, per hidden layer, the batch-norm folded into thresholds and biases.

    A layer's float current is ``u · z_int`` (``u = 1 / (2^b - 1)`` when it reads the ``b``-bit
    input, else 1; ``z_int`` the integer sum of all its edges, as the chip sums them), so
    ``BN(u z_int) = A z_int + C`` with ``A = γ u / sqrt(σ² + ε)``, ``C = β - γ μ / sqrt(σ² + ε)``
    per output channel, folded as for :func:`export_network` (for T > 1 with the bias of
    :func:`_first_step_bias`, exact at the first timestep). Where ``A < 0`` the channel's
    weights of every weighted edge are negated; a layer with skip or pooling edges keeps
    ``γ > 0`` in training (``A > 0``), and refuses to export otherwise. Pooling edges keep their
    fixed weights. The output layer accumulates ``Σ_t z_int`` (no bias); its arg-max is the
    float model's, with ``logits = (α u / T) · outputs``.
    """
    config = model.config
    leak = _leak_shift(config.beta) if config.timesteps > 1 else None
    arch = model.arch
    layers: list[Layer] = []
    n_layers = len(model.layers)
    for index, (layer, g_layer) in enumerate(zip(arch.layers, model.layers, strict=True)):
        weights = [e.integer_weight() if e.weighted else None for e in g_layer.edges]
        is_out = index == n_layers - 1
        neuron, bias = None, None
        if not is_out:
            u = model.input_units(index, input_bits)
            a, c = _fold(g_layer, u, 1.0)
            flip = a < 0
            if np.any(flip) and g_layer.fixed_sign:
                raise ExportError(
                    f"layer {layer.name}: a negative batch-norm scale in a layer with skip or "
                    "pooling edges cannot be folded (their weights cannot flip sign); train "
                    "with GraphNet.clip_latent after every step"
                )
            weights = [
                None if q is None else np.where(flip.reshape(-1, *([1] * (q.ndim - 1))), -q, q)
                for q in weights
            ]
            a = np.abs(a)
            bound = 1
            for edge, q in zip(g_layer.edges, weights, strict=True):
                scale = 2**input_bits if edge.source == "input" else 1
                if q is not None:
                    bound += int(np.abs(q).reshape(q.shape[0], -1).sum(axis=1).max()) * scale
                elif edge.kind == "skip":
                    bound += scale
            neuron, bias = _folded_neuron(a, c, bound, config.timesteps, leak, layer.name)
            if config.timesteps > 1:
                bias = _first_step_bias(a, c, neuron.threshold)
            neuron, bias = _sized_neuron(neuron, bias, bound, config.timesteps, layer)
        edges = []
        for edge, g_edge, q in zip(layer.edges, g_layer.edges, weights, strict=True):
            if q is None:
                edges.append(replace(edge, weight=None, dropout=None))
                continue
            spec = None
            if g_edge.dropout is not None:
                cfg = g_edge.dropout.config
                spec = DropoutSpec(
                    p=cfg.p,
                    granularity=cfg.granularity if edge.kind == "conv2d" else "row",
                    source="mtj",
                    modules=min(cfg.n_modules or g_edge.dropout.units, g_edge.dropout.units),
                )
            edges.append(replace(edge, weight=q, dropout=spec))
        layers.append(
            Layer(layer.name, tuple(edges), tuple(layer.out_shape), neuron=neuron, bias=bias)
        )
    metadata = {
        **arch.metadata,
        "exported_from": "spindrop.GraphNet",
        "arch": "graph",
        "architecture": arch.name,
    }
    net = Network(
        name=name,
        input=InputSpec(shape=model.input_shape, bits=input_bits, encoding="direct"),
        layers=tuple(layers),
        timesteps=config.timesteps,
        output_decoding="membrane",
        metadata=metadata,
        mtj_driver=_trained_driver(model),
        dataset=dataset,
    )
    return net.validate()


def _trained_driver(model: BayesianBinaryNet) -> MTJDriver | None:
    """The MTJ drive (device, write pulse) the model's dropout layers were trained with;
    ``None`` for a model without dropout. One driver serves the chip, so the layers must agree."""
    drivers = {(layer.config.device, layer.config.pulse_ns) for layer in model.dropout_layers()}
    if not drivers:
        return None
    if len(drivers) > 1:
        raise ExportError(
            "the dropout layers were trained with different MTJ devices or write pulses "
            f"({sorted(p for _, p in drivers)} ns): the chip has one driver, so train with one "
            "model.dropout.device and model.dropout.pulse_ns"
        )
    device, pulse_ns = drivers.pop()
    return MTJDriver(device=device, pulse_ns=pulse_ns)


def masks_from_records(
    model: BayesianBinaryNet | GraphNet, net: Network, records: list[list]
) -> dict[str, np.ndarray]:
    """Keep masks for the IR (``"layer.0"`` -> (M, N, units)) from ``model.record_masks()``.

    ``records[j]`` holds one drop mask (N, units) per forward pass of the j-th dropout layer.
    """
    if isinstance(model, GraphNet):
        return {key: ~np.stack(rec) for key, rec in zip(model.dropout_keys, records, strict=True)}
    names = [
        layer.name
        for layer, block in zip(net.layers, model.blocks, strict=True)
        if block.dropout is not None
    ]
    return {f"{name}.0": ~np.stack(rec) for name, rec in zip(names, records, strict=True)}


def quantize_pixels(values: np.ndarray, bits: int) -> np.ndarray:
    """``round(v (2^bits - 1))`` for pixel values in [0, 1] (what the chip's input receives)."""
    return np.round(np.asarray(values, dtype=np.float64) * (2**bits - 1)).astype(np.int64)


def _golden_agreement(golden, result) -> dict:
    """Integer torch model against the golden model: equal outputs and spike trains, or where
    they first differ (layer, sample, image, timestep, neuron)."""
    for name, spikes in result.spikes.items():
        differ = np.argwhere(golden.spikes[name] != spikes)
        if len(differ):
            sample, image, t, *neuron = (int(v) for v in differ[0])
            return {
                "equal": False,
                "first_difference": {
                    "layer": name,
                    "sample": sample,
                    "image": image,
                    "timestep": t,
                    "neuron": neuron,
                },
            }
    equal = bool(np.array_equal(golden.outputs, result.outputs))
    return {"equal": equal, "first_difference": None if equal else {"layer": "output"}}


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


#: ``|logits / scale - outputs|`` below this is float rounding of the integer outputs: they are
#: integers, so rounding the scaled float logits recovers them exactly.
OUTPUT_ROUNDING = 0.5

#: A float pre-activation (T = 1) or membrane minus threshold (T > 1) closer to 0 than this may
#: round to either side in float32, whatever the summation order; a spike that differs there is
#: float rounding, anywhere else an export error.
SPIKE_ROUNDING = 1e-4


def _float_pass_traces(model: BayesianBinaryNet, x: Tensor) -> tuple[Tensor, list, list]:
    """One forward pass of the float model: logits and, per hidden block, the spikes and the
    signed distance to firing (``y`` for T = 1, ``U - θ`` for T > 1), each ``(T, N, *shape)``."""
    hidden = model.blocks[:-1]
    distance: list[list[Tensor]] = [[] for _ in hidden]
    spikes: list[list[Tensor]] = [[] for _ in hidden]
    handles = []
    if model.neurons is None:
        for i, block in enumerate(hidden):

            def hook(_module, _inputs, y, i=i):
                distance[i].append(y.detach().clone())
                spikes[i].append((y > 0).detach())  # the Heaviside of the atan surrogate

            handles.append(block.register_forward_hook(hook))
    else:
        for i, neuron in enumerate(model.neurons):

            def hook(module, _inputs, out, i=i):
                spk, mem = out
                distance[i].append((mem - module.threshold).detach().clone())
                spikes[i].append(spk.detach() > 0)

            handles.append(neuron.register_forward_hook(hook))
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return (
        logits,
        [torch.stack(s) for s in spikes],
        [torch.stack(d) for d in distance],
    )


def _classifier_scale(model: BayesianBinaryNet | GraphNet, input_bits: int = 8) -> float:
    """``logits = scale · outputs``: ``α · w_scale / T`` of the classifier ``α (1/T) Σ_t W_q s``
    with ``W_q = w_scale · q`` (the integer outputs are ``Σ_t q s[t]``)."""
    if isinstance(model, GraphNet):
        alpha = float(model.log_alpha.detach().exp())
        return alpha * model.input_units(len(model.layers) - 1, input_bits) / model.config.timesteps
    _, w_scale = model.blocks[-1].layer.integer_weight()
    alpha = float(model.log_alpha.detach().exp())
    return alpha * float(w_scale) / model.config.timesteps


def _spike_agreement(
    names: list[str], float_spikes: list[np.ndarray], float_distance: list[np.ndarray], result
) -> dict:
    """Hidden spikes of the float model against the integer model's, layer by layer.

    ``float_spikes[j]`` / ``float_distance[j]``: ``(M, T, N, *shape)``; the integer model's are
    ``(M, N, T, *shape)``. Returns the agreement, the first difference, how many differences lie
    beyond float rounding (:data:`SPIKE_ROUNDING`) and the smallest distance to firing.
    """
    total = differ_count = beyond = 0
    first = None
    margin = math.inf
    for name, fs, fd in zip(names, float_spikes, float_distance, strict=True):
        fs = np.swapaxes(fs, 1, 2)
        fd = np.swapaxes(fd, 1, 2)
        ints = result.spikes[name].astype(bool)
        differ = fs != ints
        total += differ.size
        differ_count += int(differ.sum())
        beyond += int((differ & (np.abs(fd) >= SPIKE_ROUNDING)).sum())
        if fd.size:
            margin = min(margin, float(np.abs(fd).min()))
        if first is None and differ.any():
            sample, image, t, *neuron = (int(v) for v in np.argwhere(differ)[0])
            first = {
                "layer": name,
                "sample": sample,
                "image": image,
                "timestep": t,
                "neuron": neuron,
                "float_distance": float(fd[(sample, image, t, *neuron)]),
            }
    return {
        "agreement": 1.0 if total == 0 else 1.0 - differ_count / total,
        "differences": differ_count,
        "differences_beyond_rounding": beyond,
        "first_difference": first,
        "min_distance_to_threshold": None if margin == math.inf else margin,
    }


def compare(
    model: BayesianBinaryNet | GraphNet,
    net: Network,
    x: np.ndarray,
    y: np.ndarray,
    samples: int = 1,
) -> dict:
    """Float torch model against the exported integer network on the same inputs and masks.

    Both see the quantized pixels; every Monte-Carlo pass's masks are recorded from the float
    model and replayed into the integer one. What is exact and what is measured
    (docs/hardware-model.md, "What the export guarantees"):

    * ``hidden_spikes``: every hidden layer's spikes, float against integer. For T = 1 the
      export is exact: a spike may differ only where the float pre-activation lies within
      float rounding of the threshold (``differences_beyond_rounding`` is 0), and
      ``min_distance_to_threshold`` says how close any neuron came (float units). For T > 1 the
      export rounds threshold, bias and leak, so the agreement is a measured figure.
    * ``output_max_error``: ``max |logits / scale - outputs|`` over the (sample, image) pairs whose
      hidden spikes all agree, with ``scale = α · w_scale / T``; below
      :data:`OUTPUT_ROUNDING` means the integer outputs are the float logits to float rounding.
    * ``prediction_agreement``: per (sample, image), the float arg-max is among the integer
      arg-maxes (predictions compared up to ties, which float breaks by rounding);
      ``exact_prediction_agreement`` compares the arg-maxes themselves, ``tie_rate`` is the
      fraction of pairs whose integer maximum is shared by several classes.
    * both accuracies: float (arg-max of the mean softmax, as evaluated after training) and
      integer (arg-max of the summed outputs, as the chip decides, ties to the lowest class).
    * ``golden``: whether the golden model (default hardware) gives the same spike trains and
      outputs as the integer torch model (exact, integers on both sides), or where they differ.
    """
    bits = net.input.bits
    x_q = quantize_pixels(x, bits)
    x_f = torch.from_numpy((x_q / (2**bits - 1)).astype(np.float32))
    bayesian = any(True for _ in model.dropout_layers())
    passes = samples if bayesian else 1
    model.eval().set_mc(bayesian)
    records = model.record_masks()
    try:
        with torch.no_grad():
            if isinstance(model, GraphNet):
                traces = [model.traces(x_f) for _ in range(passes)]
            else:
                traces = [_float_pass_traces(model, x_f) for _ in range(passes)]
    finally:
        for layer in model.dropout_layers():
            layer.recording = None
        model.set_mc(False)
    logits = torch.stack([t[0] for t in traces]).double().numpy()
    hidden_names = [layer.name for layer in net.layers if layer.neuron is not None]
    float_spikes = [np.stack([t[1][j].numpy() for t in traces]) for j in range(len(hidden_names))]
    float_distance = [
        np.stack([t[2][j].double().numpy() for t in traces]) for j in range(len(hidden_names))
    ]
    masks = masks_from_records(model, net, records) if bayesian else {}
    result = run_integer(net, x_q, passes, masks)
    golden = golden_run(net, x_q, HardwareConfig(), samples=passes, masks=masks, trace=True)

    spikes = _spike_agreement(hidden_names, float_spikes, float_distance, result)
    outputs = result.outputs
    agree_hidden = np.ones(outputs.shape[:2], dtype=bool)
    for name, fs in zip(hidden_names, float_spikes, strict=True):
        same = np.swapaxes(fs, 1, 2) == result.spikes[name].astype(bool)
        agree_hidden &= same.reshape(*same.shape[:2], -1).all(axis=-1)
    scaled = logits / _classifier_scale(model, bits)
    error = np.abs(scaled - outputs).max(axis=-1)
    float_pred = logits.argmax(-1)
    int_max = outputs.max(-1)
    among = np.take_along_axis(outputs, float_pred[..., None], -1)[..., 0] == int_max
    ties = (outputs == int_max[..., None]).sum(-1) > 1
    differ = np.argwhere(~among)
    return {
        "images": len(x),
        "samples": passes,
        "timesteps": net.timesteps,
        "prediction_agreement": float(np.mean(among)),
        "exact_prediction_agreement": float(np.mean(float_pred == outputs.argmax(-1))),
        "tie_rate": float(np.mean(ties)),
        "float_accuracy": float(np.mean(_softmax(logits).mean(0).argmax(-1) == y)),
        "integer_accuracy": float(np.mean(result.prediction == y)),
        "first_mismatch": None
        if len(differ) == 0
        else {"sample": int(differ[0][0]), "image": int(differ[0][1])},
        "hidden_spikes": spikes,
        "output_max_error": float(error[agree_hidden].max()) if agree_hidden.any() else None,
        "output_rounding": OUTPUT_ROUNDING,
        "golden": _golden_agreement(golden, result),
    }
