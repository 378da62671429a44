"""The seeded random stream of the papers' method as an Optuna sampler.

SNASNet draws candidates uniformly at random. Optuna's ``RandomSampler(seed)`` keeps one
generator per process: a worker restarted after a crash starts its generator again and
re-proposes the candidates already evaluated, and two workers with one seed propose the same
ones. :class:`StreamSampler` instead gives every trial a *stream index* and draws candidate
``i`` from its own generator ``numpy.random.default_rng([seed, i])``
(:meth:`nas.space.SearchSpace.draw_values`: uniform choices, resampled until both cells are
valid). So a study holds the stream's first candidates whatever the number of workers, crashes
and restarts.

Stream index of a trial numbered ``n``: a retry of a failed trial (system attribute
``failed_trial``, the number of the first trial of the retry chain) keeps the index of the
trial it retries (its user attribute ``stream_index``, or, if that trial was killed before it
recorded one, the index of trial ``failed_trial`` computed as below); any other trial takes
``n - r(n)``, with ``r(n)`` the retries numbered below ``n``. Trial numbers are unique and
given in creation order, so the indices of fresh trials are distinct and consecutive.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial

from nas.space import SearchSpace

__all__ = ["STREAM_INDEX", "StreamSampler", "stream_index"]

STREAM_INDEX = "stream_index"
"""User attribute of a trial holding its stream index."""


def stream_index(study: optuna.Study, trial: FrozenTrial) -> int:
    """The stream index of ``trial`` (module docstring)."""
    number = trial.number
    if "failed_trial" in trial.system_attrs:
        if STREAM_INDEX in trial.user_attrs:
            return int(trial.user_attrs[STREAM_INDEX])
        # the original was killed before it recorded its index: compute the original's
        number = int(trial.system_attrs["failed_trial"])
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    retries = sum(1 for t in trials if t.number < number and "failed_trial" in t.system_attrs)
    return number - retries


class StreamSampler(optuna.samplers.BaseSampler):
    """Candidate ``stream_index`` of ``space``'s seeded random stream for every trial."""

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self._space = space
        self._seed = int(seed)
        self._choices = space.distributions()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {name: CategoricalDistribution(c) for name, c in self._choices.items()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        rng = np.random.default_rng([self._seed, stream_index(study, trial)])
        values = self._space.draw_values(rng)
        return {k: v for k, v in values.items() if k in search_space}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """A parameter outside the space's walk (none in practice): drawn from its own
        generator ``[seed, stream index, crc32(name)]``, uniformly over its choices."""
        if not isinstance(param_distribution, CategoricalDistribution):
            raise TypeError(f"StreamSampler draws categorical parameters only, not {param_name}")
        key = [self._seed, stream_index(study, trial), zlib.crc32(param_name.encode())]
        choices = param_distribution.choices
        return choices[int(np.random.default_rng(key).integers(len(choices)))]
