"""Trained accuracy of a candidate under one fixed short budget: the ground truth against which
training-free scores are validated and operation sets compared.

A candidate's IR architecture is built as :class:`spindrop.graph_model.GraphNet` without
dropout (:func:`nas.score.graph_model`: ``T`` and ``beta = 1 - 2^-leak_shift`` from the
network), trained with Adam on a cosine schedule for ``epochs`` passes over the training
split, once per seed (initialisation and shuffling), and evaluated on the test split. The
budget is the same for every candidate, so the accuracies rank architectures, they do not
report what each one reaches when trained to convergence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hdl.ir import Network
from nas.errors import NASError

__all__ = ["ShortTraining", "train_candidates", "trained_accuracy"]


@dataclass(frozen=True)
class ShortTraining:
    """The fixed short training budget.

    Attributes:
        epochs: passes over the training split (>= 1).
        seeds: one training per seed; the accuracy is their mean.
        lr: peak learning rate of Adam (cosine decay to 0).
        batch_size: images per step.
        dataset: name of the data set (``spindrop.data.DATASETS``).
        root: its directory (``None`` for the embedded digits).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    """

    epochs: int = 4
    seeds: tuple[int, ...] = (0,)
    lr: float = 5e-3
    batch_size: int = 64
    dataset: str = "digits"
    root: str | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise NASError(f"training epochs must be an integer >= 1, got {self.epochs!r}")
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise NASError(
                f"training seeds must be integers >= 0, at least one, got {self.seeds!r}"
            )
        object.__setattr__(self, "seeds", seeds)

    def key(self) -> dict[str, Any]:
        """What the accuracy depends on (the device aside), for caches."""
        out = asdict(self)
        out.pop("device")
        out["seeds"] = list(self.seeds)
        return out


def trained_accuracy(network: Network, budget: ShortTraining) -> list[float]:
    """Test accuracy of ``network`` after ``budget``'s training, one value per seed."""
    import numpy as np
    import torch

    from nas.score import graph_model
    from spindrop.data import load_dataset
    from spindrop.training import TrainConfig, train

    train_split = load_dataset(budget.dataset, budget.root, "train")
    test_split = load_dataset(budget.dataset, budget.root, "test")
    out = []
    for seed in budget.seeds:
        model = graph_model(network, seed=seed)
        config = TrainConfig(
            epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr, seed=seed
        )
        train(model, train_split, config, progress=False, device=budget.device)
        model.eval()
        with torch.no_grad():
            pred = model(torch.from_numpy(test_split.x)).argmax(1).numpy()
        out.append(float(np.mean(pred == test_split.y)))
    return out


def train_candidates(
    jobs: dict[str, Network],
    budget: ShortTraining,
    workers: int = 1,
    on_done: Callable[[str, list[float]], None] | None = None,
) -> dict[str, list[float]]:
    """:func:`trained_accuracy` of every network of ``jobs`` (by key), on ``workers``
    processes (one torch thread each); ``on_done(key, accuracies)`` after each one, in the
    order they finish (a caller's checkpoint)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise NASError(f"workers must be an integer >= 1, got {workers!r}")
    out: dict[str, list[float]] = {}
    if workers == 1 or len(jobs) <= 1:
        for key, network in jobs.items():
            out[key] = trained_accuracy(network, budget)
            if on_done is not None:
                on_done(key, out[key])
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from hdl.ir import network_to_bytes

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {
            pool.submit(_worker, (network_to_bytes(net)[0], budget)): key
            for key, net in jobs.items()
        }
        for future in as_completed(futures):
            key = futures[future]
            out[key] = future.result()
            if on_done is not None:
                on_done(key, out[key])
    return {key: out[key] for key in jobs}


def _worker(job: tuple[bytes, ShortTraining]) -> list[float]:
    """Process-pool entry: one torch thread per process (erratic with more on small hosts)."""
    import torch

    from hdl.ir import network_from_bytes

    torch.set_num_threads(1)
    text, budget = job
    return trained_accuracy(network_from_bytes(text), budget)
