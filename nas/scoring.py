"""The score functions a search can use, by name.

* ``params``: ``log10(1 + trained weights)``, the parameter-count baseline that zero-cost
  proxy studies report beside every proxy (ZiCo, ICLR 2023: no earlier proxy beats it
  consistently). Microseconds per candidate, no torch. Fixed pool weights are not counted.
* ``snasnet``: SNASNet's sparsity-aware Hamming-distance score (``nas.score``) of the spiking
  model built from the IR (``spindrop.graph_model.GraphNet``) at initialisation on one batch
  of the task's data, imported on first use.
* ``default``: ``snasnet`` when ``nas.score`` and ``spindrop.graph_model`` are installed,
  else ``params``.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from hdl.ir import Network
from nas.errors import NASError
from nas.evaluate import ScoreFn
from nas.space import Candidate

__all__ = [
    "SCORES",
    "params_score",
    "resolve_score",
    "snasnet_score_fn",
    "trained_weights",
]

SCORES = ("default", "params", "snasnet")


def trained_weights(network: Network) -> int:
    """Weights of the network's weighted edges, the fixed pool edges excepted."""
    pools = set(network.metadata.get("pool_edges", ()))
    return sum(
        int(np.prod(e.weight_shape))
        for layer in network.layers
        for i, e in enumerate(layer.edges)
        if e.weighted and f"{layer.name}.{i}" not in pools
    )


def params_score(candidate: Candidate, network: Network) -> float:
    """``log10(1 + trained weights)``."""
    return math.log10(1 + trained_weights(network))


def _snasnet_available() -> bool:
    return all(
        importlib.util.find_spec(m) is not None for m in ("nas.score", "spindrop.graph_model")
    )


def snasnet_score_fn(
    dataset: str = "digits",
    root: str | None = None,
    form: str = "project",
    seed: int = 0,
    batch_size: int = 256,
) -> ScoreFn:
    """SNASNet's kernel score (:func:`nas.score.snasnet_score` in ``form``, seeded) of the
    candidate's :class:`spindrop.graph_model.GraphNet` at initialisation (model seed ``seed``,
    dropout off, beta = 1 - 2^-leak_shift) on the training split of ``dataset``. A singular
    kernel scores ``-inf`` (the worst). torch is imported and the data loaded on first use, or
    by the function's ``prepare()``, which :func:`nas.search.run_search` calls before it times
    anything."""
    cache: dict[str, object] = {}

    def prepare() -> None:
        """Import torch and load the data (once), so that no score's time includes them."""
        if "x" not in cache:
            from nas.score import ScoreConfig
            from spindrop.data import load_dataset

            cache["x"] = load_dataset(dataset, root, "train").x
            cache["config"] = ScoreConfig.of(form, seed=seed, batch_size=batch_size)

    def score(candidate: Candidate, network: Network) -> float:
        from nas.score import snasnet_score
        from spindrop.graph_model import GraphNet
        from spindrop.models import ModelConfig

        prepare()
        leak = candidate.leak_shift
        beta = 1.0 if leak is None else 1.0 - 2.0**-leak
        model = GraphNet(
            network,
            ModelConfig(timesteps=candidate.timesteps, beta=beta),
            seed=seed,
            dropout="none",
        )
        return float(snasnet_score(model, cache["x"], cache["config"]).score)

    score.prepare = prepare  # type: ignore[attr-defined]
    return score


def resolve_score(name: str, **options: object) -> tuple[str, ScoreFn]:
    """The score function called ``name`` (:data:`SCORES`), the name it resolved to;
    ``options`` go to :func:`snasnet_score_fn`."""
    if name not in SCORES:
        raise NASError(f"score must be one of {list(SCORES)}, got {name!r}")
    if name == "default":
        name = "snasnet" if _snasnet_available() else "params"
    if name == "params":
        return name, params_score
    if not _snasnet_available():
        raise NASError(
            "score 'snasnet' needs nas.score and spindrop.graph_model, which are not installed: "
            "use score 'params'"
        )
    return name, snasnet_score_fn(**options)  # type: ignore[arg-type]
