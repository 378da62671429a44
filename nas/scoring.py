"""The score functions a search can use, by name.

* ``params``: ``log10(1 + trained weights)``, the parameter-count baseline that zero-cost
  proxy studies report beside every proxy (ZiCo, ICLR 2023: no earlier proxy beats it
  consistently). Microseconds per candidate, no torch. Fixed pool weights are not counted.
* ``snasnet``: SNASNet's sparsity-aware Hamming-distance score of the spiking model built
  from the IR (``spindrop.graph_model.GraphNet``) at initialisation on batches of the task's
  training data, :func:`nas.score.search_score` (project form, seeded; a singular kernel
  scores the most negative float); torch and the data are loaded when it is resolved.
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


def resolve_score(name: str, **options: object) -> tuple[str, ScoreFn]:
    """The score function called ``name`` (:data:`SCORES`) and the name it resolved to;
    ``options`` (``dataset``, ``root``, ``form``, ``seed``) go to
    :func:`nas.score.search_score`."""
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
    from nas import score as snasnet  # loads torch and the data set now, before any timing

    return name, snasnet.search_score(**options)  # type: ignore[arg-type]
