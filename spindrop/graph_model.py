"""A trainable torch model for any feed-forward IR architecture (:class:`hdl.ir.Network`).

:class:`GraphNet` builds, for every layer of an architecture (a network without weights, e.g. a
candidate of the architecture search), one quantized weight layer per weighted edge
(:class:`~spindrop.quant.QuantLinear` / :class:`~spindrop.quant.QuantConv2d`, with the edge's
``weight_bits``), an :class:`~spindrop.dropout.MTJDropout` per edge with dropout, and one
batch-norm per hidden layer, followed by the same activation as
:class:`spindrop.models.BayesianBinaryNet`:

* ``T = 1``: ``s = H(BN(z))`` (Heaviside, snntorch's arc-tangent surrogate gradient);
* ``T > 1``: snntorch ``Leaky``, ``U[t] = β U[t-1] + BN(z[t]) - S[t-1] θ``, θ = 1, reset by
  subtraction, pixels presented at every timestep.

The output layer has no batch-norm: ``logits = α (1/T) Σ_t z_out[t]`` with a learnable α > 0.

**Integer currents, one batch-norm per layer.** A layer's current is computed in the integer
units the crossbar sums, not with scaled float weights::

    z = Σ_weighted edges e  q_e ⊛ (keep_e · x_src(e))  +  Σ_skip edges x_src

``q_e`` are the edge's integer weights (forward pass: ``±1`` for ``weight_bits = 1``, else
``clamp(round(w / s), -Q, Q)`` with ``s = max|w| / Q``, ``Q = 2^(k-1) - 1``; straight-through
gradient ``∂q/∂w = 1/s`` where ``|w| <= 1``, 0 elsewhere), ``⊛`` the edge's linear map or
convolution, ``x_src`` the source's spikes in {0, 1} or, for edges reading the input, the pixel
values ``x ∈ [0, 1]``. Every term is then an integer multiple of one unit (1 for spikes,
``1 / (2^b - 1)`` for ``b``-bit input pixels), whatever the edges' bit widths, so
``BN(z) = A z_int + C`` with one ``(A, C)`` per output channel and the layer folds exactly into
the IR's integer threshold and bias (:func:`spindrop.export.export_graph`).

This departs from SNASNet, which normalizes every operation of a cell separately
(``BN(conv_1(x)) + BN(conv_3(x)) + x``): the chip sums the edges' currents in one membrane, so a
per-edge affine map ``A_e z_e + C_e`` with different ``A_e`` could only be folded by rescaling
each edge's integer weights, which is not exact. One batch-norm per layer on the integer sum
keeps the export exact (T = 1) and costs SNASNet's per-edge scales only.

Skip edges (``z += x``) and sum-pooling edges cannot be negated in the IR, so the batch-norm
scale γ of a layer holding any of them is kept at ``γ >= GAMMA_MIN`` (in :meth:`clip_latent`,
after every optimizer step): the folded ``A`` is then positive and no weight has to flip sign.

**Pooling edges.** ``arch.metadata["pool_edges"]`` lists ``"<layer>.<edge index>"`` of conv2d
edges that stand for SNASNet's 3x3 average pooling: their weights are fixed, ``W[o, c] = 1``
over the window where ``o = c`` and 0 elsewhere (a sum pooling per channel), they do not train
and export unchanged.

**Dropout** (``dropout``): ``network`` gives every edge with a :class:`hdl.ir.DropoutSpec` an
MTJ dropout of its ``p``, ``granularity`` and ``modules`` (the driver's ``pulse_ns`` and device
from ``config.dropout``); ``model`` puts ``config.dropout`` (p, granularity, placement,
n_modules) on the learned weighted edges as :class:`BayesianBinaryNet` does (``hidden``: edges
not reading the input; ``input``: edges reading it; ``last``: the output layer's edges);
``none`` trains a deterministic BNN. A mask is drawn once per forward pass and edge and held
over all T timesteps.

The trained neurons follow ``config`` (timesteps, beta), not the architecture's neuron fields;
the output layer must be an accumulator (decoding ``membrane``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hdl.errors import NeurocimError
from hdl.ir import DropoutSpec, Edge, IRError, Layer, Network, load_network
from spindrop.dropout import DropoutConfig, MonteCarloDropout, MTJDropout
from spindrop.models import ModelConfig, spiking_neurons
from spindrop.quant import QuantConv2d, QuantLinear, _SignSTE

__all__ = [
    "DROPOUT_MODES",
    "GAMMA_MIN",
    "ArchitectureError",
    "GraphNet",
    "architecture_digest",
    "check_fits",
    "integer_weights",
    "load_architecture",
    "pool_weight",
    "resolve_architecture",
]

DROPOUT_MODES = ("network", "model", "none")

#: Smallest batch-norm scale of a layer with skip or pooling edges (keeps the folded A > 0).
GAMMA_MIN = 1e-3


class ArchitectureError(NeurocimError, ValueError):
    """An architecture GraphNet cannot train or that does not fit the data; says what to change."""


# --- architecture files ------------------------------------------------------------------------


def resolve_architecture(path: str | Path) -> Path:
    """The ``network.json`` of ``path``: the file itself, ``<dir>/network.json``, or a search
    directory's ``<dir>/winner/network.json``."""
    p = Path(path)
    if p.is_file():
        return p.resolve()
    if p.is_dir():
        for candidate in (p / "network.json", p / "winner" / "network.json"):
            if candidate.is_file():
                return candidate.resolve()
        raise ArchitectureError(
            f"architecture {p} is a directory without network.json or winner/network.json: "
            "pass a network.json, a directory holding one, or a search directory"
        )
    raise ArchitectureError(
        f"architecture {p} does not exist: pass a network.json, a directory holding one, "
        "or a search directory (with winner/network.json)"
    )


def architecture_digest(path: str | Path) -> str:
    """SHA-256 (hex) of the architecture file's bytes: a changed file is a changed setting."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ArchitectureError(f"architecture file {path} cannot be read ({exc})") from None


def load_architecture(path: str | Path, digest: str | None = None) -> Network:
    """The architecture at ``path`` (see :func:`resolve_architecture`), checked against
    ``digest`` when given (the file must not have changed since the run was configured)."""
    json_path = resolve_architecture(path)
    if digest is not None:
        now = architecture_digest(json_path)
        if now != digest:
            raise ArchitectureError(
                f"architecture file {json_path} changed since the run was configured (sha256 "
                f"{digest[:12]}... -> {now[:12]}...): restore it, or train a new run with it"
            )
    try:
        return load_network(json_path)
    except IRError as exc:
        raise ArchitectureError(f"architecture {json_path}: {exc}") from None


# --- integer weights -----------------------------------------------------------------------------


class _IntegerSTE(torch.autograd.Function):
    """``q = clamp(round(w / s), -Q, Q)``, ``s = max|w| / Q``; gradient ``1/s`` where |w| <= 1."""

    @staticmethod
    def forward(ctx, w: Tensor, bits: int) -> Tensor:  # type: ignore[override]
        q, scale = _integer(w.detach(), bits)
        ctx.save_for_backward(w)
        ctx.scale = scale
        return q

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype) / ctx.scale, None


def _integer(w: Tensor, bits: int) -> tuple[Tensor, float]:
    q_max = 2 ** (bits - 1) - 1
    scale = float(w.abs().max().clamp_min(1e-8)) / q_max
    return torch.clamp(torch.round(w / scale), -q_max, q_max), scale


def integer_weights(w: Tensor, bits: int, ste: bool = True) -> Tensor:
    """The integer weights of latent ``w`` as a float tensor (``±1`` for ``bits = 1``);
    with ``ste`` differentiable (straight-through), else detached. The forward pass and the
    export use this one function, so they hold the same integers."""
    if not ste:
        w = w.detach()
    if bits == 1:
        return _SignSTE.apply(w) if ste else torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
    if ste:
        return _IntegerSTE.apply(w, bits)
    return _integer(w, bits)[0]


def pool_weight(channels: int, kernel: int) -> np.ndarray:
    """Sum pooling as a convolution: ``W[o, c, :, :] = [o == c]`` (int64)."""
    w = np.zeros((channels, channels, kernel, kernel), dtype=np.int64)
    w[np.arange(channels), np.arange(channels)] = 1
    return w


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EdgeInfo:
    layer: str
    index: int
    edge: Edge
    pool: bool


class _GraphEdge(nn.Module):
    """One incoming edge: a quantized weight layer (or fixed pooling weights), optional MTJ
    dropout on its crossbar rows (``row``) or input channels (``channel``)."""

    def __init__(self, info: _EdgeInfo, dropout: MTJDropout | None) -> None:
        super().__init__()
        edge = info.edge
        self.kind = edge.kind
        self.source = edge.source
        self.pool = info.pool
        self.weight_bits = edge.weight_bits
        self.dropout = dropout
        self.op: QuantLinear | QuantConv2d | None = None
        self.kernel, self.stride, self.padding = edge.kernel, edge.stride, edge.padding
        self.granularity = "row" if dropout is None else dropout.config.granularity
        if edge.kind == "linear":
            out_n, in_n = edge.weight_shape
            self.op = QuantLinear(in_n, out_n, edge.weight_bits)
        elif edge.kind == "conv2d":
            c_out, c_in = edge.weight_shape[:2]
            if info.pool:
                self.register_buffer(
                    "fixed", torch.from_numpy(pool_weight(c_in, edge.kernel).astype(np.float32))
                )
            else:
                self.op = QuantConv2d(
                    c_in, c_out, edge.kernel, edge.stride, edge.padding, edge.weight_bits
                )

    @property
    def weighted(self) -> bool:
        return self.kind in ("linear", "conv2d")

    def q(self) -> Tensor:
        """The integer weights used in the forward pass (straight-through)."""
        if self.pool:
            return self.fixed
        assert self.op is not None
        return integer_weights(self.op.weight, self.weight_bits)

    def integer_weight(self) -> np.ndarray:
        """The weights the crossbar holds (int64), equal to the forward pass's."""
        if self.pool:
            return self.fixed.numpy().astype(np.int64)
        assert self.op is not None
        return integer_weights(self.op.weight, self.weight_bits, ste=False).numpy().astype(np.int64)

    def forward(self, x: Tensor, keep: Tensor | None) -> Tensor:
        if self.kind == "skip":
            return x
        q = self.q()
        if self.kind == "linear":
            flat = x.flatten(1)
            return F.linear(flat if keep is None else flat * keep, q)
        if keep is None:
            return F.conv2d(x, q, None, self.stride, self.padding)
        if self.granularity == "channel":
            return F.conv2d(x * keep[:, :, None, None], q, None, self.stride, self.padding)
        b, _, h, wd = x.shape
        k, s, p = self.kernel, self.stride, self.padding
        cols = F.unfold(x, k, padding=p, stride=s) * keep.unsqueeze(-1)
        h_out = (h + 2 * p - k) // s + 1
        w_out = (wd + 2 * p - k) // s + 1
        return (q.flatten(1) @ cols).view(b, q.shape[0], h_out, w_out)


class _GraphLayer(nn.Module):
    def __init__(self, layer: Layer, edges: list[_GraphEdge], hidden: bool) -> None:
        super().__init__()
        self.name = layer.name
        self.out_shape = tuple(layer.out_shape)
        self.edges = nn.ModuleList(edges)
        self.fixed_sign = any(e.kind == "skip" or e.pool for e in edges)
        self.norm: nn.Module | None = None
        if hidden:
            c = self.out_shape[0]
            self.norm = nn.BatchNorm1d(c) if len(self.out_shape) == 1 else nn.BatchNorm2d(c)

    def current(self, values: dict[str, Tensor], keeps: list[Tensor | None]) -> Tensor:
        """``z = Σ_e q_e ⊛ (keep_e x_src) + Σ_skip x_src`` (integer units), shape (B, *out)."""
        total: Tensor | None = None
        for edge, keep in zip(self.edges, keeps, strict=True):
            if edge.kind == "zero":
                continue
            x = values[edge.source]
            z = edge(x, keep).reshape(x.shape[0], *self.out_shape)
            total = z if total is None else total + z
        assert total is not None  # the IR refuses a layer of zero edges only
        return total


def _units(edge: Edge, conv: bool, granularity: str) -> int:
    if granularity == "channel" and conv:
        return edge.weight_shape[1]
    return int(np.prod(edge.weight_shape[1:]))


class GraphNet(MonteCarloDropout, nn.Module):
    """A binary (T = 1) or spiking (T > 1) network of any feed-forward IR architecture, with
    the interface of :class:`spindrop.models.BayesianBinaryNet` (see the module docstring).

    Args:
        arch: the architecture (weights, thresholds and biases, if present, are ignored).
        config: timesteps, beta, latent_init and the MTJ dropout settings (``dropout``).
        seed: initial weights and the dropout modules' bit streams.
        dropout: ``network``, ``model`` or ``none`` (module docstring).
    """

    def __init__(
        self, arch: Network, config: ModelConfig, seed: int = 0, dropout: str = "network"
    ) -> None:
        super().__init__()
        if dropout not in DROPOUT_MODES:
            raise ArchitectureError(
                f"dropout must be one of {list(DROPOUT_MODES)}, got {dropout!r}"
            )
        arch = arch.validate()
        if arch.output_decoding != "membrane":
            raise ArchitectureError(
                f"architecture {arch.name!r} decodes its output by spike count; GraphNet trains "
                "an accumulating output layer: use output_decoding 'membrane'"
            )
        self.arch = arch
        self.config = config
        self.dropout_mode = dropout
        self.input_shape = tuple(arch.input.shape)
        self.num_classes = int(np.prod(arch.output.out_shape))
        torch.manual_seed(seed)
        pools = _pool_edges(arch)
        layers = []
        self.dropout_keys: list[str] = []
        n_dropout = 0
        for li, layer in enumerate(arch.layers):
            is_out = li == len(arch.layers) - 1
            sources = {e.source == "input" for e in layer.edges if e.kind != "zero"}
            if len(sources) > 1:
                raise ArchitectureError(
                    f"layer {layer.name!r} sums edges from the input and from other layers: "
                    "pixel and spike currents are in different units and cannot share one "
                    "batch-norm fold; read the input from a layer of its own"
                )
            edges = []
            for ei, edge in enumerate(layer.edges):
                key = f"{layer.name}.{ei}"
                info = _EdgeInfo(layer.name, ei, edge, key in pools)
                spec = self._dropout_config(edge, info.pool, is_out, config.dropout)
                mtj = None
                if spec is not None:
                    units = _units(edge, edge.kind == "conv2d", spec.granularity)
                    mtj = MTJDropout(units, spec, seed=seed * 1000 + n_dropout)
                    n_dropout += 1
                    self.dropout_keys.append(key)
                edges.append(_GraphEdge(info, mtj))
            layers.append(_GraphLayer(layer, edges, hidden=not is_out))
        self.layers = nn.ModuleList(layers)
        learned = [e for layer in layers for e in layer.edges if e.op is not None]
        if config.latent_init is not None:
            for e in learned:
                nn.init.uniform_(e.op.weight, -config.latent_init, config.latent_init)
        out_edges = [e for e in layers[-1].edges if e.weighted]
        rows = sum(_units(e_.edge, False, "row") for e_ in _infos(arch, len(layers) - 1))
        q_top = max([1] + [2 ** (e.weight_bits - 1) - 1 for e in out_edges if e.weight_bits > 1])
        self.log_alpha = nn.Parameter(
            torch.tensor(math.log(1.0 / (math.sqrt(max(rows, 1)) * q_top)))
        )
        self.neurons, self._spike = spiking_neurons(config, len(layers) - 1)

    def _dropout_config(
        self, edge: Edge, pool: bool, is_out: bool, model: DropoutConfig
    ) -> DropoutConfig | None:
        if not edge.weighted or self.dropout_mode == "none":
            return None
        if self.dropout_mode == "network":
            spec: DropoutSpec | None = edge.dropout
            if spec is None:
                return None
            return replace(
                model,
                p=spec.p,
                granularity=spec.granularity,
                placement="all",
                n_modules=spec.modules,
            )
        if not model.enabled or pool:
            return None
        reads_input = edge.source == "input"
        chosen = {
            "all": True,
            "hidden": not reads_input,
            "input": reads_input,
            "last": is_out,
        }[model.placement]
        if not chosen:
            return None
        granularity = model.granularity if edge.kind == "conv2d" else "row"
        return replace(model, granularity=granularity)

    # --- the BayesianBinaryNet interface ---------------------------------------------------
    def edges(self) -> Iterator[tuple[str, _GraphEdge]]:
        """``("<layer>.<edge index>", edge)`` of every edge, in file order."""
        for layer in self.layers:
            for i, edge in enumerate(layer.edges):
                yield f"{layer.name}.{i}", edge

    def dropout_layers(self) -> Iterator[MTJDropout]:
        for _, edge in self.edges():
            if edge.dropout is not None:
                yield edge.dropout

    def clip_latent(self) -> None:
        """Latent weights into [-1, 1]; γ >= :data:`GAMMA_MIN` in layers with skip or pooling
        edges (their fold must not flip signs)."""
        for layer in self.layers:
            for edge in layer.edges:
                if edge.op is not None:
                    edge.op.clip_latent()
            if layer.fixed_sign and layer.norm is not None:
                with torch.no_grad():
                    layer.norm.weight.clamp_(min=GAMMA_MIN)

    @property
    def hidden_names(self) -> list[str]:
        return [layer.name for layer in self.layers[:-1]]

    def input_units(self, layer_index: int, input_bits: int) -> float:
        """Float value of one integer current unit of a layer: ``1 / (2^b - 1)`` when it reads
        the input's ``b``-bit pixels, else 1 (spikes)."""
        reads = any(e.source == "input" for e in self.layers[layer_index].edges)
        return 1.0 / (2**input_bits - 1) if reads else 1.0

    # --- forward ---------------------------------------------------------------------------
    def _run(
        self, x: Tensor, draw: bool = True, trace: bool = False
    ) -> tuple[Tensor, list[list[Tensor]], list[list[Tensor]]]:
        """Logits and, with ``trace``, per hidden layer and timestep the spikes and the signed
        distance to firing (``BN(z)`` for T = 1, ``U - θ`` for T > 1)."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not match the model's "
                f"(B, {self.input_shape})"
            )
        batch = x.shape[0]
        keeps = [
            [
                e.dropout.keep_mask(batch, x) if (draw and e.dropout is not None) else None
                for e in layer.edges
            ]
            for layer in self.layers
        ]
        hidden = self.layers[:-1]
        spikes: list[list[Tensor]] = [[] for _ in hidden]
        distance: list[list[Tensor]] = [[] for _ in hidden]
        mems: list[Tensor | None] = [None] * len(hidden)
        total: Tensor | float = 0.0
        for _ in range(self.config.timesteps):
            values = {"input": x}
            for i, layer in enumerate(hidden):
                y = layer.norm(layer.current(values, keeps[i]))
                if self.neurons is None:
                    s = self._spike(y)
                    d = y
                else:
                    if mems[i] is None:
                        mems[i] = torch.zeros_like(y)
                    s, mems[i] = self.neurons[i](y, mems[i])
                    d = mems[i] - self.neurons[i].threshold
                if trace:
                    spikes[i].append((s > 0).detach().float())
                    distance[i].append(d.detach().clone())
                values[layer.name] = s
            total = total + self.layers[-1].current(values, keeps[-1]).flatten(1)
        logits = self.log_alpha.exp() * total / self.config.timesteps
        return logits, spikes, distance  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (B, classes) for inputs of shape (B, C, H, W)."""
        return self._run(x)[0]

    def traces(self, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """One forward pass (masks drawn as :meth:`forward` draws them): logits and, per hidden
        layer, spikes and distance to firing, each ``(T, N, *shape)``."""
        logits, spikes, distance = self._run(x, trace=True)
        return logits, [torch.stack(s) for s in spikes], [torch.stack(d) for d in distance]

    def spike_trace(self, x: Tensor) -> dict[str, Tensor]:
        """Each hidden layer's spikes, ``(T, N, *layer shape)``, float 0/1, from one forward
        pass that changes no state: no dropout mask is drawn (no bit stream advances) and the
        batch-norms' running statistics are left as they were (in training mode the pass
        normalizes with the batch's statistics, in evaluation mode with the running ones)."""
        saved = [
            {k: v.clone() for k, v in layer.norm.state_dict().items()} for layer in self.layers[:-1]
        ]
        try:
            with torch.no_grad():
                _, spikes, _ = self._run(x, draw=False, trace=True)
        finally:
            for layer, state in zip(self.layers[:-1], saved, strict=True):
                layer.norm.load_state_dict(state)
        return {
            layer.name: torch.stack(s) for layer, s in zip(self.layers[:-1], spikes, strict=True)
        }


def _infos(arch: Network, layer_index: int) -> list[_EdgeInfo]:
    layer = arch.layers[layer_index]
    return [_EdgeInfo(layer.name, i, e, False) for i, e in enumerate(layer.edges) if e.weighted]


def _pool_edges(arch: Network) -> set[str]:
    """The checked ``metadata["pool_edges"]``: conv2d edges with as many output as input
    channels and at least 2-bit weights (a 0 weight needs them)."""
    listed = arch.metadata.get("pool_edges", [])
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        raise ArchitectureError(
            f"architecture {arch.name!r}: metadata.pool_edges must be a list of "
            f"'<layer>.<edge index>' strings, got {listed!r}"
        )
    edges = {
        f"{layer.name}.{i}": (layer, e) for layer in arch.layers for i, e in enumerate(layer.edges)
    }
    for key in listed:
        if key not in edges:
            raise ArchitectureError(
                f"architecture {arch.name!r}: metadata.pool_edges names {key!r}, which is no "
                f"edge of the network (edges: {sorted(edges)[:8]}...)"
            )
        _, e = edges[key]
        if e.kind != "conv2d" or e.weight_shape[0] != e.weight_shape[1] or e.weight_bits < 2:
            raise ArchitectureError(
                f"architecture {arch.name!r}: pool edge {key!r} must be a conv2d edge with as "
                f"many output as input channels and weight_bits >= 2, got {e.kind} "
                f"{e.weight_shape} with {e.weight_bits} bit(s)"
            )
    return set(listed)


def check_fits(
    arch: Network,
    shape: tuple[int, ...],
    num_classes: int,
    dataset: str,
    config: ModelConfig | None = None,
) -> None:
    """Refuse an architecture whose input shape or number of outputs differs from the data's
    and, with ``config``, whose neurons the model would not train: other timesteps, another
    leak than ``beta = 1 - 2^-leak_shift`` (T > 1), or reset to zero (T > 1)."""
    if tuple(arch.input.shape) != tuple(shape):
        raise ArchitectureError(
            f"architecture {arch.name!r} takes inputs of shape {tuple(arch.input.shape)}, "
            f"data set {dataset!r} has images of shape {tuple(shape)}: use an architecture "
            "searched for this data set"
        )
    outputs = int(np.prod(arch.output.out_shape))
    if outputs != num_classes:
        raise ArchitectureError(
            f"architecture {arch.name!r} has {outputs} outputs, data set {dataset!r} has "
            f"{num_classes} classes: use an architecture searched for this data set"
        )
    if config is None:
        return
    if arch.timesteps != config.timesteps:
        raise ArchitectureError(
            f"architecture {arch.name!r} runs {arch.timesteps} timestep(s), model.timesteps is "
            f"{config.timesteps}: set model.timesteps = {arch.timesteps}"
        )
    if config.timesteps == 1:
        return
    neurons = [layer.neuron for layer in arch.layers[:-1] if layer.neuron is not None]
    for neuron in neurons:
        beta = 1.0 if neuron.leak_shift is None else 1.0 - 2.0**-neuron.leak_shift
        if beta != config.beta:
            raise ArchitectureError(
                f"architecture {arch.name!r} has neurons with leak_shift {neuron.leak_shift} "
                f"(beta {beta}), model.beta is {config.beta}: set model.beta = {beta}"
            )
        if neuron.reset != "subtract":
            raise ArchitectureError(
                f"architecture {arch.name!r} resets its neurons to {neuron.reset!r}; the model "
                "trains snntorch neurons that reset by subtraction: use reset 'subtract'"
            )
