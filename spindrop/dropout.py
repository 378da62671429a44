"""MTJ dropout: Monte-Carlo dropout masks gating a layer's crossbar rows (SpinDrop).

A weighted layer of ``R`` crossbar rows (``in_features`` for Linear, ``C_in * k * k`` for an
unrolled convolution) has its inputs gated by a keep mask per Monte-Carlo sample:

* granularity ``row`` (SpinDrop): one mask bit per crossbar row, ``units = R``;
* granularity ``channel`` (Spatial-SpinDrop): one bit per input channel, shared by that
  channel's ``k * k`` rows, ``units = C_in`` (for Linear layers equal to ``row``).

The bits come from a :class:`hdl.MTJDropoutBank` of physical STT-MTJ modules (each with its own
varied switching probability, shared across the units), from a recording (exact replay), or
from nothing when ``p = 0``. A mask is drawn once per forward pass of the model and held over
all T timesteps. Masks are *not* rescaled by ``1 / (1 - p)``: the crossbar only gates word lines
and the batch-norm that follows absorbs the mean shift.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing_extensions import Self

import numpy as np
import torch
from torch import Tensor, nn

from hdl import MTJDevice, MTJDropoutBank, Variation

__all__ = [
    "GRANULARITIES",
    "PLACEMENTS",
    "DropoutConfig",
    "MTJDropout",
    "MaskSource",
    "MonteCarloDropout",
    "ReplayMaskSource",
]

GRANULARITIES = ("row", "channel")
PLACEMENTS = ("all", "hidden", "input", "last")


@dataclass(frozen=True)
class DropoutConfig:
    """Where and how MTJ dropout gates the network's crossbar rows.

    Attributes:
        p: dropout (drop) probability per mask bit, in [0, 1); 0 makes a deterministic BNN.
        granularity: ``row`` (a bit per crossbar row) or ``channel`` (a bit per input channel).
        placement: which weighted layers get masks on their inputs: ``all``, ``hidden`` (every
            layer but the first, whose inputs are pixels), ``input`` (first layer only) or
            ``last`` (the classifier only).
        n_modules: physical dropout modules per layer, shared round-robin over its units;
            ``None`` means one module per unit.
        pulse_ns: write-pulse width of the dropout driver [ns].
        device: the nominal STT-MTJ the driver is calibrated for.
    """

    p: float = 0.0
    granularity: str = "row"
    placement: str = "hidden"
    n_modules: int | None = None
    pulse_ns: float = 10.0
    device: MTJDevice = field(default_factory=MTJDevice)

    def __post_init__(self) -> None:
        if not 0.0 <= self.p < 1.0:
            raise ValueError(
                f"dropout.p must be in [0, 1) (0 = deterministic BNN), got {self.p}; "
                "set e.g. dropout.p = 0.2"
            )
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"dropout.granularity must be one of {GRANULARITIES}, got {self.granularity!r}"
            )
        if self.placement not in PLACEMENTS:
            raise ValueError(
                f"dropout.placement must be one of {PLACEMENTS}, got {self.placement!r}"
            )
        if self.n_modules is not None and (
            not isinstance(self.n_modules, int) or self.n_modules < 1
        ):
            raise ValueError(
                f"dropout.n_modules must be a positive integer or unset, got {self.n_modules!r}"
            )

    @property
    def enabled(self) -> bool:
        return self.p > 0.0

    def with_p(self, p: float) -> DropoutConfig:
        return replace(self, p=p)


class MaskSource(Protocol):
    """Anything that yields drop bits: ``draw(n_samples, n_units) -> bool (n_samples, n_units)``."""

    def draw(self, n_samples: int, n_units: int) -> np.ndarray: ...


class ReplayMaskSource:
    """Replays recorded drop masks in order, exactly; fails loudly when they run out or misfit."""

    def __init__(self, masks: Sequence[np.ndarray]) -> None:
        self._masks = [np.asarray(m, dtype=bool) for m in masks]
        self._next = 0

    def draw(self, n_samples: int, n_units: int) -> np.ndarray:
        if self._next >= len(self._masks):
            raise RuntimeError(
                f"mask replay exhausted after {len(self._masks)} masks: record as many forward "
                "passes as you replay"
            )
        mask = self._masks[self._next]
        if mask.shape != (n_samples, n_units):
            raise ValueError(
                f"replayed mask {self._next} has shape {mask.shape}, the layer needs "
                f"{(n_samples, n_units)}: replay with the same batch sizes as recorded"
            )
        self._next += 1
        return mask


class MTJDropout(nn.Module):
    """Draws keep masks of shape ``(B, units)`` for one weighted layer.

    The mask is active in training mode and when Monte-Carlo inference is on (:attr:`mc`);
    otherwise :meth:`keep_mask` returns ``None`` (no gating). Set :attr:`recording` to a list to
    record every drawn drop mask (numpy bool arrays, True = dropped).
    """

    def __init__(self, units: int, config: DropoutConfig, seed: int = 0) -> None:
        super().__init__()
        self.units = units
        self.config = config
        self.mc = False
        self.recording: list[np.ndarray] | None = None
        self.source: MaskSource = self.device_source(Variation(), seed)

    def device_source(
        self, variation: Variation, seed: int, track_temperature: bool = False
    ) -> MTJDropoutBank:
        """A bank of physical modules for this layer with the given variation and seed.

        With ``track_temperature`` the write driver is calibrated at the operating temperature
        (a temperature-tracking driver); otherwise at the device's reference temperature.
        """
        n_modules = self.config.n_modules or self.units
        return MTJDropoutBank(
            p=self.config.p,
            n_modules=min(n_modules, self.units),
            device=self.config.device,
            pulse_ns=self.config.pulse_ns,
            variation=variation,
            seed=seed,
            calibration_temperature_k=variation.temperature_k if track_temperature else None,
        )

    def keep_mask(self, batch: int, like: Tensor) -> Tensor | None:
        """A float keep mask (1 keeps, 0 drops) of shape ``(batch, units)``, or ``None``."""
        if not (self.training or self.mc):
            return None
        dropped = self.source.draw(batch, self.units)
        if self.recording is not None:
            self.recording.append(dropped.copy())
        return torch.from_numpy(~dropped).to(dtype=like.dtype, device=like.device)

    def extra_repr(self) -> str:
        c = self.config
        return f"units={self.units}, p={c.p}, granularity={c.granularity}, n_modules={c.n_modules}"


class MonteCarloDropout:
    """Monte-Carlo control of a model's MTJ dropout layers, shared by every model class.

    The model provides :meth:`dropout_layers` (its :class:`MTJDropout` layers in a fixed
    order); this mixin turns Monte-Carlo sampling on and off, swaps the physical modules for
    varied ones, and records or replays the drawn masks (for the export check and the RTL).
    """

    def dropout_layers(self) -> Iterator[MTJDropout]:  # pragma: no cover - provided by models
        raise NotImplementedError

    def set_mc(self, enabled: bool) -> Self:
        """Keep dropout on in evaluation mode (Monte-Carlo inference)."""
        for d in self.dropout_layers():
            d.mc = enabled
        return self

    def set_variation(
        self, variation: Variation, seed: int = 0, track_temperature: bool = False
    ) -> Self:
        """Re-create every dropout layer's physical modules with process/thermal ``variation``
        (layer ``i`` seeded ``seed * 1000 + i``); ``track_temperature`` calibrates the write
        drivers at the operating temperature."""
        for i, d in enumerate(self.dropout_layers()):
            d.source = d.device_source(variation, seed * 1000 + i, track_temperature)
        return self

    def record_masks(self) -> list[list]:
        """Start recording drawn masks; returns one list per dropout layer that fills up."""
        records: list[list] = []
        for d in self.dropout_layers():
            d.recording = []
            records.append(d.recording)
        return records

    def replay_masks(self, records: list[list]) -> Self:
        """Replay masks recorded by :meth:`record_masks`, in the same order."""
        layers = list(self.dropout_layers())
        if len(records) != len(layers):
            raise ValueError(
                f"got masks for {len(records)} dropout layers, the model has {len(layers)}"
            )
        for d, masks in zip(layers, records, strict=True):
            d.recording = None
            d.source = ReplayMaskSource(masks)
        return self
