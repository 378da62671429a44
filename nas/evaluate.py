"""Pricing and scoring of candidates, each done once per canonical form.

:class:`Evaluator` builds a candidate's IR network, prices it with :func:`hdl.cost.estimate`
(memoized by :attr:`nas.space.Candidate.key`) and scores it with the injected score function
``score(candidate, network) -> float`` (memoized likewise). Results already in a study (a
resumed run, other workers) can be loaded first with :meth:`Evaluator.remember`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hdl.cost import estimate
from hdl.ir import Network
from nas.budget import cost_metrics
from nas.errors import NASError
from nas.space import Candidate

__all__ = ["Evaluator", "Priced", "ScoreFn"]

ScoreFn = Callable[[Candidate, Network], float]
"""A training-free score: higher is better; finite, or ``-inf`` for the worst."""


@dataclass(frozen=True)
class Priced:
    """A priced candidate: its key, the budget metrics and breakdown
    (:func:`nas.budget.cost_metrics`), the seconds spent (0 when remembered) and whether
    the result came from the memo."""

    key: str
    metrics: dict[str, Any]
    seconds: float
    cached: bool


class Evaluator:
    """Prices and scores candidates on the input shape, classes and input bits of a task.

    Args:
        score: the score function.
        input_shape: ``(C, H, W)`` of the input.
        classes: output classes.
        input_bits: bits of an input pixel.
        preset: the cost model's preset (``default`` or ``spikesim``).
        samples: Monte-Carlo samples per priced inference.
    """

    def __init__(
        self,
        score: ScoreFn,
        input_shape: tuple[int, int, int],
        classes: int,
        input_bits: int = 8,
        preset: str = "default",
        samples: int = 1,
    ) -> None:
        self._score_fn = score
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.input_bits = input_bits
        self.preset = preset
        self.samples = samples
        self._costs: dict[str, dict[str, Any]] = {}
        self._scores: dict[str, float] = {}
        self._networks: dict[str, Network] = {}

    def network(self, candidate: Candidate) -> Network:
        """The candidate's IR architecture (built once per key)."""
        key = candidate.key
        net = self._networks.get(key)
        if net is None:
            net = candidate.canonical().network(self.input_shape, self.classes, self.input_bits)
            self._networks[key] = net
        return net

    def price(self, candidate: Candidate) -> Priced:
        """The cost of one inference of ``candidate`` (memoized by key)."""
        key = candidate.key
        if key in self._costs:
            return Priced(key, self._costs[key], 0.0, True)
        start = time.perf_counter()
        net = self.network(candidate)
        report = estimate(net, candidate.hardware(), preset=self.preset, samples=self.samples)
        metrics = cost_metrics(report, net)
        self._costs[key] = metrics
        return Priced(key, metrics, time.perf_counter() - start, False)

    def score(self, candidate: Candidate) -> tuple[float, float, bool]:
        """``(score, seconds, cached)`` of ``candidate`` (memoized by key)."""
        key = candidate.key
        if key in self._scores:
            return self._scores[key], 0.0, True
        start = time.perf_counter()
        value = float(self._score_fn(candidate.canonical(), self.network(candidate)))
        if math.isnan(value) or value == math.inf:
            raise NASError(
                f"the score of candidate {key} is {value}: a score must be finite or -inf"
            )
        self._scores[key] = value
        return value, time.perf_counter() - start, False

    def remember(self, key: str, metrics: dict[str, Any] | None, score: float | None) -> None:
        """Take a result found earlier (a stored trial) into the memo."""
        if metrics is not None:
            self._costs.setdefault(key, metrics)
        if score is not None:
            self._scores.setdefault(key, float(score))

    @property
    def scored(self) -> int:
        """Distinct candidates scored or remembered."""
        return len(self._scores)
