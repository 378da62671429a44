"""Training of binary / spiking networks with MTJ dropout, with checkpoints and exact resume.

Adam on the latent weights with a cosine learning-rate schedule, cross-entropy loss, latent
weights clipped to [-1, 1] after each step (BinaryConnect). Everything random is derived from
``(seed, epoch)``: the shuffling order and the dropout modules' bit streams are re-seeded at
the start of every epoch, so a run resumed from the checkpoint of epoch ``k`` continues exactly
as the uninterrupted run would have, and the same seed gives the same weights bit for bit.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hdl import Variation
from hdl._io import atomic_write
from hdl.errors import NeurocimError
from spindrop.data import ArrayDataset
from spindrop.graph_model import GraphNet
from spindrop.models import BayesianBinaryNet

__all__ = ["CheckpointError", "TrainConfig", "TrainResult", "resolve_device", "train"]


class CheckpointError(NeurocimError, ValueError):
    """A checkpoint that cannot resume this run; the message names the file and the fix."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: passes over the training set.
        batch_size: examples per step.
        lr: peak learning rate of Adam (decays to 0 on a cosine).
        seed: seed of shuffling and dropout streams (initialisation takes the model's seed).
        label_smoothing: cross-entropy target smoothing in [0, 1) (0 = plain cross-entropy).
    """

    epochs: int = 60
    batch_size: int = 64
    lr: float = 5e-3
    seed: int = 0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"train.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"train.seed must be an integer >= 0, got {self.seed!r}")


@dataclass
class TrainResult:
    """Per-epoch history: training loss, training accuracy and validation accuracy."""

    history: list[dict[str, float]]
    resumed_from_epoch: int = 0


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto``: CUDA when present, else the CPU; otherwise the device named (``cpu``,
    ``cuda``, ``cuda:1``); a device that does not exist here is a ``ValueError``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r} ({exc})"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device is {device!r} but CUDA is not available: use 'auto'")
    return dev


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _accuracy(
    model: BayesianBinaryNet | GraphNet, data: ArrayDataset, batch_size: int = 1024
) -> float:
    model.eval()
    device = _model_device(model)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            x = torch.from_numpy(data.x[start : start + batch_size]).to(device)
            y = torch.from_numpy(data.y[start : start + batch_size]).to(device)
            correct += int((model(x).argmax(1) == y).sum())
    return correct / max(len(data), 1)


def _save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _resume(
    checkpoint: Path,
    config: TrainConfig,
    model: BayesianBinaryNet | GraphNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[list[dict[str, float]], int]:
    """Load ``checkpoint`` into the model, optimizer and scheduler; returns (history, epoch).

    A file that cannot be read (truncated, empty, not a checkpoint, another model's) is a
    :class:`CheckpointError` naming it and the fix.
    """
    fix = "delete it to train this run from the start, or pass --overwrite"
    try:
        state = load_torch_file(checkpoint)
        if not isinstance(state, dict):
            raise ValueError(f"holds a {type(state).__name__}, not a checkpoint")
        stored_config = state["train_config"]
    except Exception as exc:  # any failure to read the file means it is unusable
        raise CheckpointError(
            f"checkpoint {checkpoint} cannot be read ({error_summary(exc)}): {fix}"
        ) from None
    if stored_config != asdict(config):
        raise CheckpointError(
            f"checkpoint {checkpoint} was written with training settings {stored_config}, "
            f"not {asdict(config)}: delete it or use a new run directory (--set name=<new>), "
            "or pass --overwrite"
        )
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, epoch = list(state["history"]), int(state["epoch"])
    except Exception as exc:  # a checkpoint of another model or a damaged one
        raise CheckpointError(
            f"checkpoint {checkpoint} does not fit this run's model ({error_summary(exc)}): {fix}"
        ) from None
    return history, epoch


def error_summary(exc: BaseException) -> str:
    """The gist of an exception's message in one line of at most 160 characters (the first
    line, with the next one when the first only introduces it)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else ""
    text = text or (lines[0] if lines else type(exc).__name__)
    if isinstance(exc, KeyError):
        text = f"no entry {text}"
    return text if len(text) <= 160 else text[:157] + "..."


def load_torch_file(path: Path) -> object:
    """``torch.load(path, weights_only=True)``; a file that is not a complete ``torch.save``
    archive raises ``ValueError`` saying so (empty, truncated or not written by torch)."""
    import zipfile

    if path.stat().st_size == 0:
        raise ValueError("the file is empty")
    if not zipfile.is_zipfile(path):
        raise ValueError("not a complete file written by torch.save: truncated or overwritten")
    return torch.load(path, weights_only=True, map_location="cpu")


def train(
    model: BayesianBinaryNet | GraphNet,
    train_data: ArrayDataset,
    config: TrainConfig,
    val_data: ArrayDataset | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    device: str | torch.device = "auto",
) -> TrainResult:
    """Train ``model`` in place; resume from ``checkpoint`` if it exists, save it every epoch.

    The model trains on ``device`` (:func:`resolve_device`: ``auto`` is CUDA when present)
    and is returned on the CPU, where export, evaluation and the hardware flow read it.
    The dropout masks are drawn on the CPU from seeded generators and moved to the device,
    so the masks are the same on every device (the arithmetic may round differently).
    """
    if tuple(train_data.shape) != model.input_shape:
        raise ValueError(
            f"training data has images of shape {train_data.shape}, the model expects "
            f"{model.input_shape}: build the model from the dataset's shape"
        )
    dev = resolve_device(device)
    model.to(dev)
    try:
        return _train(model, train_data, config, val_data, checkpoint, progress, dev)
    finally:
        model.to("cpu")


def _train(
    model: BayesianBinaryNet | GraphNet,
    train_data: ArrayDataset,
    config: TrainConfig,
    val_data: ArrayDataset | None,
    checkpoint: str | Path | None,
    progress: bool,
    dev: torch.device,
) -> TrainResult:
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = math.ceil(len(train_data) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)),
    )
    history: list[dict[str, float]] = []
    start_epoch = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.exists():
        history, start_epoch = _resume(checkpoint, config, model, optimizer, scheduler)

    bar = tqdm(
        range(start_epoch, config.epochs),
        desc="train",
        unit="epoch",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        model.train()
        model.set_variation(Variation(), seed=config.seed * 100_003 + epoch)
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train_data))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            x = torch.from_numpy(train_data.x[index]).to(dev)
            y = torch.from_numpy(train_data.y[index]).to(dev)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            model.clip_latent()
            loss_sum += loss.item() * len(index)
            correct += int((logits.argmax(1) == y).sum())
        entry = {
            "epoch": epoch + 1,
            "loss": loss_sum / len(order),
            "train_accuracy": correct / len(order),
        }
        if val_data is not None:
            entry["val_accuracy"] = _accuracy(model, val_data)
        history.append(entry)
        bar.set_postfix(loss=f"{entry['loss']:.3f}", acc=f"{entry['train_accuracy']:.3f}")
        if checkpoint is not None:
            _save_checkpoint(
                checkpoint,
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                    "train_config": asdict(config),
                },
            )
    model.eval()
    return TrainResult(history=history, resumed_from_epoch=start_epoch)
