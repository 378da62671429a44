"""Bayesian binary (and spiking) networks built from a :class:`ModelConfig`.

Every hidden block is ``[MTJ dropout on inputs] -> quantized Linear/Conv2d -> BatchNorm ->
activation`` and the classifier is ``[MTJ dropout] -> quantized Linear -> alpha * sum``:

* ``timesteps = 1``: the activation is a Heaviside step ``s = H(BN(z))`` in {0, 1} with snntorch's
  arc-tangent surrogate gradient, i.e. a binary neural network is the T = 1 spiking network;
* ``timesteps = T > 1``: snntorch ``Leaky`` neurons, ``U[t] = beta * U[t-1] + BN(z[t]) - S[t-1]
  * theta`` (reset by subtraction, threshold ``theta = 1``), ``S[t] = H(U[t] - theta)``, with the
  input pixels presented at every timestep (direct encoding).

The classifier output is ``logits = alpha * (1/T) sum_t W_q s[t]`` with one learnable positive
scale ``alpha``: its arg-max equals the arg-max of the integer column sums the hardware
accumulates. A dropout mask is drawn once per forward pass and held over all T timesteps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import snntorch as snn
import torch
from snntorch import surrogate
from torch import Tensor, nn

from spindrop.dropout import DropoutConfig, MonteCarloDropout, MTJDropout
from spindrop.quant import QuantConv2d, QuantLinear

__all__ = ["ARCHITECTURES", "BayesianBinaryNet", "ModelConfig"]

ARCHITECTURES = ("mlp", "cnn")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a binary / spiking network.

    Attributes:
        arch: ``mlp`` (flatten, then ``hidden`` Linear layers) or ``cnn`` (3x3 convolutions with
            ``conv_channels`` and ``conv_strides``, padding 1, then ``hidden`` Linear layers).
        hidden: widths of the hidden Linear layers.
        conv_channels: output channels of the convolutions (``cnn`` only).
        conv_strides: stride of each convolution (``cnn`` only; 2 halves the feature map).
        weight_bits: bits per weight; 1 = binary +-1.
        timesteps: T; 1 = binary network, > 1 = spiking network with LIF neurons.
        beta: membrane decay per timestep of the LIF neurons (T > 1), in (0, 1].
        latent_init: latent weights start as U(-s, s) with this ``s``; ``None`` takes
            PyTorch's default U(+-1/sqrt(fan_in)). Large ``s`` (1.0) makes sign flips rare, so
            the first layers stay close to random binary projections (see docs/results.md).
        frozen_layers: indices of weighted layers (0 = first) whose binary weights keep their
            random initial values (a fixed random projection; its batch-norm still learns).
        dropout: MTJ dropout placement, rate and granularity.
    """

    arch: str = "mlp"
    hidden: tuple[int, ...] = (256,)
    conv_channels: tuple[int, ...] = (16, 32)
    conv_strides: tuple[int, ...] = (1, 2)
    weight_bits: int = 1
    timesteps: int = 1
    beta: float = 0.5
    latent_init: float | None = None
    frozen_layers: tuple[int, ...] = ()
    dropout: DropoutConfig = field(default_factory=DropoutConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        object.__setattr__(self, "conv_strides", tuple(self.conv_strides))
        object.__setattr__(self, "frozen_layers", tuple(self.frozen_layers))
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"model.arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ValueError(f"model.hidden must be positive integers, got {self.hidden}")
        if (
            isinstance(self.weight_bits, bool)
            or not isinstance(self.weight_bits, int)
            or not (1 <= self.weight_bits <= 16)
        ):
            raise ValueError(
                f"model.weight_bits must be an integer in 1..16 (1 = binary +-1), "
                f"got {self.weight_bits!r}"
            )
        if any(not isinstance(c, int) or c < 1 for c in self.conv_channels):
            raise ValueError(
                f"model.conv_channels must be positive integers, got {list(self.conv_channels)}"
            )
        if any(not isinstance(s, int) or s < 1 for s in self.conv_strides):
            raise ValueError(
                f"model.conv_strides must be positive integers (1 keeps the feature map, "
                f"2 halves it), got {list(self.conv_strides)}"
            )
        if self.arch == "cnn":
            if not self.conv_channels:
                raise ValueError(
                    "model.conv_channels must list at least one convolution for arch 'cnn'"
                )
            if len(self.conv_strides) != len(self.conv_channels):
                raise ValueError(
                    f"model.conv_strides has {len(self.conv_strides)} entries but "
                    f"model.conv_channels has {len(self.conv_channels)}: "
                    "give one stride per convolution"
                )
        n_layers = len(self.hidden) + 1 + (len(self.conv_channels) if self.arch == "cnn" else 0)
        bad = [i for i in self.frozen_layers if not 0 <= i < n_layers - 1]
        if bad:
            raise ValueError(
                f"model.frozen_layers {bad} are not hidden weighted layers (0..{n_layers - 2}); "
                "the classifier always trains"
            )
        if self.dropout.enabled and not any(
            _layer_uses_dropout(i, n_layers, self.dropout.placement) for i in range(n_layers)
        ):
            raise ValueError(
                f"model.dropout.placement {self.dropout.placement!r} puts MTJ dropout on no layer "
                f"of a network with {n_layers} weighted layer(s): add a hidden layer "
                "(model.hidden) or choose placement 'all', 'input' or 'last'"
            )
        if not isinstance(self.timesteps, int) or self.timesteps < 1:
            raise ValueError(f"model.timesteps must be an integer >= 1, got {self.timesteps!r}")
        if self.latent_init is not None and not 0.0 < self.latent_init <= 1.0:
            raise ValueError(
                f"model.latent_init must be in (0, 1] or unset, got {self.latent_init}"
            )
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"model.beta must be in (0, 1], got {self.beta}")

    @property
    def bayesian(self) -> bool:
        return self.dropout.enabled


def spiking_neurons(config: ModelConfig, hidden: int) -> tuple[nn.ModuleList | None, Any]:
    """The activation of ``hidden`` layers: for T = 1 no neuron modules and the Heaviside step
    ``H(y)`` with snntorch's arc-tangent surrogate gradient; for T > 1 one snntorch ``Leaky``
    per layer (``beta``, threshold 1, reset by subtraction) with that surrogate."""
    spike = surrogate.atan()
    if config.timesteps == 1:
        return None, spike
    neurons = nn.ModuleList(
        snn.Leaky(beta=config.beta, threshold=1.0, spike_grad=spike, reset_mechanism="subtract")
        for _ in range(hidden)
    )
    return neurons, spike


def _layer_uses_dropout(index: int, n_layers: int, placement: str) -> bool:
    if placement == "all":
        return True
    if placement == "hidden":
        return index > 0
    if placement == "input":
        return index == 0
    return index == n_layers - 1  # "last"


class _Block(nn.Module):
    """One weighted layer with optional dropout on its inputs and an optional batch-norm."""

    def __init__(
        self, layer: QuantLinear | QuantConv2d, dropout: MTJDropout | None, norm: bool
    ) -> None:
        super().__init__()
        self.layer = layer
        self.dropout = dropout
        if norm:
            n = layer.out_features if isinstance(layer, QuantLinear) else layer.out_channels
            self.norm: nn.Module = (
                nn.BatchNorm1d(n) if isinstance(layer, QuantLinear) else nn.BatchNorm2d(n)
            )
        else:
            self.norm = nn.Identity()

    def draw_mask(self, batch: int, like: Tensor) -> Tensor | None:
        return None if self.dropout is None else self.dropout.keep_mask(batch, like)

    def forward(self, x: Tensor, keep: Tensor | None) -> Tensor:
        layer = self.layer
        if isinstance(layer, QuantConv2d):
            if keep is None:
                z = layer(x)
            elif keep.shape[1] == layer.in_channels and layer.rows != layer.in_channels:
                z = layer(x * keep[:, :, None, None])  # channel granularity
            else:
                z = layer(x, row_mask=keep)
        else:
            z = layer(x.flatten(1) if keep is None else x.flatten(1) * keep)
        return self.norm(z)


class BayesianBinaryNet(MonteCarloDropout, nn.Module):
    """A binary (T = 1) or spiking (T > 1) network with MTJ Monte-Carlo dropout."""

    def __init__(
        self,
        config: ModelConfig,
        input_shape: tuple[int, int, int],
        num_classes: int,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        torch.manual_seed(seed)
        layers = self._weighted_layers(config, self.input_shape, num_classes)
        if config.latent_init is not None:
            for layer in layers:
                nn.init.uniform_(layer.weight, -config.latent_init, config.latent_init)
        for index in config.frozen_layers:
            layers[index].weight.requires_grad_(False)
        blocks = []
        for i, layer in enumerate(layers):
            dropout = None
            if config.dropout.enabled and _layer_uses_dropout(
                i, len(layers), config.dropout.placement
            ):
                units = layer.rows
                if isinstance(layer, QuantConv2d) and config.dropout.granularity == "channel":
                    units = layer.in_channels
                dropout = MTJDropout(units, config.dropout, seed=seed * 1000 + i)
            blocks.append(_Block(layer, dropout, norm=i < len(layers) - 1))
        self.blocks = nn.ModuleList(blocks)
        self.log_alpha = nn.Parameter(
            torch.tensor(math.log(1.0 / math.sqrt(layers[-1].in_features)))
        )
        self.neurons, self._spike = spiking_neurons(config, len(layers) - 1)

    @staticmethod
    def _weighted_layers(
        config: ModelConfig, shape: tuple[int, int, int], num_classes: int
    ) -> list:
        c, h, w = shape
        layers: list[QuantLinear | QuantConv2d] = []
        if config.arch == "cnn":
            for out_c, stride in zip(config.conv_channels, config.conv_strides, strict=True):
                layers.append(QuantConv2d(c, out_c, 3, stride, 1, config.weight_bits))
                c, h, w = out_c, (h - 1) // stride + 1, (w - 1) // stride + 1
        features = c * h * w
        for width in config.hidden:
            layers.append(QuantLinear(features, width, config.weight_bits))
            features = width
        layers.append(QuantLinear(features, num_classes, config.weight_bits))
        return layers

    # --- Monte-Carlo dropout control -------------------------------------------------------
    def dropout_layers(self) -> Iterator[MTJDropout]:
        for block in self.blocks:
            if block.dropout is not None:
                yield block.dropout

    def clip_latent(self) -> None:
        for block in self.blocks:
            block.layer.clip_latent()

    # --- forward ---------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (B, classes) for inputs of shape (B, C, H, W)."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not match the model's "
                f"(B, {self.input_shape})"
            )
        batch = x.shape[0]
        masks = [block.draw_mask(batch, x) for block in self.blocks]
        hidden, out = self.blocks[:-1], self.blocks[-1]
        alpha = self.log_alpha.exp()
        if self.neurons is None:
            h = x
            for block, keep in zip(hidden, masks, strict=False):
                h = self._spike(block(h, keep))
            return alpha * out(h, masks[-1])
        mems = [None] * len(hidden)
        total = 0.0
        for _ in range(self.config.timesteps):
            h = x
            for i, (block, keep) in enumerate(zip(hidden, masks, strict=False)):
                cur = block(h, keep)
                if mems[i] is None:
                    mems[i] = torch.zeros_like(cur)
                h, mems[i] = self.neurons[i](cur, mems[i])
            total = total + out(h, masks[-1])
        return alpha * total / self.config.timesteps

    def spike_trace(self, x: Tensor, carry: bool = False) -> dict[str, Tensor]:
        """Every hidden layer's spikes from one forward pass with dropout off (no gradient).

        Returns ``{"block<i>": S_i}`` in layer order, ``S_i`` of shape ``(T, B, *layer shape)``
        with values in {0, 1} (``T = 1`` for the binary network). Batch-norm runs in the
        module's current mode: ``train()`` normalises with the batch's statistics (and updates
        the running ones), ``eval()`` with the running statistics. ``carry`` starts the LIF
        membranes where the previous ``spike_trace`` call left them (same batch size) instead
        of at zero; the binary network (T = 1) has no state to carry.
        """
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not match the model's "
                f"(B, {self.input_shape})"
            )
        hidden = self.blocks[:-1]
        traces: dict[str, list[Tensor]] = {f"block{i}": [] for i in range(len(hidden))}
        with torch.no_grad():
            if self.neurons is None:
                h = x
                for i, block in enumerate(hidden):
                    h = self._spike(block(h, None))
                    traces[f"block{i}"].append(h)
            else:
                previous = getattr(self, "_trace_mems", None)
                if not carry or previous is None or previous[0].shape[0] != x.shape[0]:
                    previous = [None] * len(hidden)
                mems = list(previous)
                for _ in range(self.config.timesteps):
                    h = x
                    for i, block in enumerate(hidden):
                        cur = block(h, None)
                        if mems[i] is None:
                            mems[i] = torch.zeros_like(cur)
                        h, mems[i] = self.neurons[i](cur, mems[i])
                        traces[f"block{i}"].append(h)
                self._trace_mems = mems
        return {name: torch.stack(steps).float() for name, steps in traces.items()}
