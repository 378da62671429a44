"""The hardware-aware search on Optuna: constraint-first, one trial per candidate.

Per trial (:func:`run_search`, docs/nas.md section 4):

1. the sampler draws a candidate (:meth:`nas.space.SearchSpace.sample`); a cell without an
   input->output path is rejected at once (constraint ``cell_path = 1``);
2. :class:`nas.evaluate.Evaluator` prices it with :func:`hdl.cost.estimate` (memoized by the
   canonical key) and the budget's constraints ``c_k = m_k / L_k - 1`` go to
   ``trial.set_constraint`` (feasible when every ``c_k <= 0``);
3. only a feasible candidate is scored; the trial's value is the score (or the score and the
   Pareto metrics), ``-inf`` for a candidate that was not scored (samplers ignore the values of
   infeasible trials). The candidate, its cost breakdown, score and feasibility are the trial's
   user attributes.

The winner is the best feasible score (ties: the lowest trial number), or the Pareto front of
the score against the metrics named in ``pareto``. The baseline (SNASNet's order: score every
candidate, filter by the budget afterwards) runs on the same candidate stream in the same
process, so the speed-up is a ratio of two measured times.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from hdl.checks import check_int
from hdl.cost import PRESETS
from nas.budget import METRICS, UNITS, Budget, infeasible_error
from nas.errors import InfeasibleError, NASError
from nas.evaluate import Evaluator, ScoreFn
from nas.sampler import STREAM_INDEX, StreamSampler, stream_index
from nas.space import Candidate, SearchSpace, SpaceConfig
from nas.storage import fail_dead_workers, mark_worker, open_storage

__all__ = [
    "SAMPLERS",
    "BaselineResult",
    "SearchConfig",
    "SearchResult",
    "check_budget",
    "pareto_front",
    "run_search",
    "select_winner",
]

SAMPLERS = ("random", "tpe", "nsga2")
SETTINGS = "neurocim:settings"
"""Study user attribute: the settings a study was created with (a joining worker must match)."""


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", value):
        raise NASError(
            f"{where} must be 1-100 letters, digits, '.', '_', '+' or '-' starting with a "
            f"letter or digit, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class SearchConfig:
    """The ``[search]`` section of a configuration (units in the names).

    Attributes:
        name: the run: artifacts go to ``<build>/<name>/search/``; the default study name.
        seed: seed of the sampler (and of the random stream).
        trials: finished (COMPLETE) trials the study should hold, all workers together.
        sampler: ``random`` (SNASNet's uniform stream, :class:`nas.sampler.StreamSampler`),
            ``tpe`` or ``nsga2`` (Optuna's, seeded).
        pareto: metrics (of :data:`nas.budget.METRICS`) minimized beside the maximized score;
            empty: a single objective.
        baseline: also run SNASNet's order (score everything, then filter) on the same stream.
        dataset: the task's data set (for the training configuration and the score's batch).
        input_shape: ``(C, H, W)`` of an input image.
        classes: output classes.
        input_bits: bits of an input pixel.
        preset: the cost model's preset (``default``, ``spikesim``).
        samples: Monte-Carlo samples per priced inference.
        score: the score function's name (:data:`nas.scoring.SCORES`).
        storage: an Optuna storage URL, or a journal file path; ``None``: the journal file
            ``<search dir>/study.journal``.
        study: the study's name (``None``: ``name``); workers with one name share one study.
        heartbeat_s: RDB storages: the trial heartbeat interval [s].
        grace_s: seconds without heartbeat (RDB) after which a RUNNING trial is failed and
            retried; the journal fails a dead worker's trial at once, one without a recorded
            worker after this long.
        space: the search space.
        budget: the hardware budget.
    """

    name: str = "search"
    seed: int = 0
    trials: int = 200
    sampler: str = "random"
    pareto: tuple[str, ...] = ()
    baseline: bool = False
    dataset: str = "digits"
    input_shape: tuple[int, ...] = (1, 8, 8)
    classes: int = 10
    input_bits: int = 8
    preset: str = "default"
    samples: int = 1
    score: str = "default"
    storage: str | None = None
    study: str | None = None
    heartbeat_s: int = 10
    grace_s: int = 30
    space: SpaceConfig = field(default_factory=SpaceConfig)
    budget: Budget = field(default_factory=Budget)

    def __post_init__(self) -> None:
        _name(self.name, "search.name")
        if self.study is not None:
            _name(self.study, "search.study")
        check_int(self.seed, "search.seed", 0, 2**32 - 1, error=NASError)
        check_int(self.trials, "search.trials", 1, 10**7, error=NASError)
        if self.sampler not in SAMPLERS:
            raise NASError(f"search.sampler must be one of {list(SAMPLERS)}, got {self.sampler!r}")
        pareto = tuple(self.pareto)
        bad = [m for m in pareto if m not in METRICS]
        if bad or len(set(pareto)) != len(pareto):
            raise NASError(
                f"search.pareto must list distinct metrics of {list(METRICS)}, got {list(pareto)}"
            )
        object.__setattr__(self, "pareto", pareto)
        shape = tuple(self.input_shape)
        if len(shape) != 3:
            raise NASError(f"search.input_shape must be [C, H, W], got {list(shape)}")
        for s in shape:
            check_int(s, "search.input_shape entries", 1, 4096, error=NASError)
        object.__setattr__(self, "input_shape", shape)
        check_int(self.classes, "search.classes", 2, 65536, error=NASError)
        check_int(self.input_bits, "search.input_bits", 1, 16, error=NASError)
        check_int(self.samples, "search.samples", 1, 4096, error=NASError)
        check_int(self.heartbeat_s, "search.heartbeat_s", 1, 3600, error=NASError)
        check_int(self.grace_s, "search.grace_s", 1, 86400, error=NASError)
        if self.grace_s <= self.heartbeat_s:
            raise NASError(
                f"search.grace_s ({self.grace_s}) must exceed search.heartbeat_s "
                f"({self.heartbeat_s}), else live trials are failed"
            )
        if self.preset not in PRESETS:
            raise NASError(f"search.preset must be one of {list(PRESETS)}, got {self.preset!r}")
        if not isinstance(self.baseline, bool):
            raise NASError(f"search.baseline must be true or false, got {self.baseline!r}")
        if not isinstance(self.space, SpaceConfig) or not isinstance(self.budget, Budget):
            raise NASError("search.space and search.budget must be a SpaceConfig and a Budget")

    @property
    def study_name(self) -> str:
        return self.study or self.name

    def settings(self) -> dict[str, Any]:
        """What the study's candidates depend on (a joining worker must agree)."""
        d = asdict(self)
        for k in ("trials", "baseline", "storage", "study", "heartbeat_s", "grace_s", "name"):
            d.pop(k)
        return _plain(d)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


@dataclass(frozen=True)
class BaselineResult:
    """SNASNet's order on the same stream: every candidate scored, then filtered."""

    seconds: float
    scored: int
    winner: int | None
    same_winner: bool
    scores: dict[str, float] = field(default_factory=dict)

    def unconstrained(self, records: tuple[dict[str, Any], ...]) -> int | None:
        """Index of the record of best score with the budget ignored (the first among
        equals): the accuracy-only winner."""
        best = None
        for i, r in enumerate(records):
            if r["valid"] and (
                best is None or self.scores[r["key"]] > self.scores[records[best]["key"]]
            ):
                best = i
        return best


@dataclass(frozen=True)
class SearchResult:
    """The study's finished trials as records (trial order) and what was chosen from them.

    ``records``: dicts with ``number``, ``stream_index``, ``valid``, ``key``, ``candidate``,
    ``cost``, ``constraints``, ``feasible``, ``score`` (``None`` when not scored) and
    ``seconds`` (``cost``, ``score``, ``total``). ``winner``: index into ``records`` of the best
    feasible score; ``pareto``: indices of the feasible Pareto front.
    """

    config: SearchConfig
    score_name: str
    records: tuple[dict[str, Any], ...]
    winner: int | None
    pareto: tuple[int, ...]
    seconds: float
    baseline: BaselineResult | None = None

    @property
    def winner_record(self) -> dict[str, Any] | None:
        return None if self.winner is None else self.records[self.winner]

    def winner_candidate(self) -> Candidate | None:
        rec = self.winner_record
        return None if rec is None else Candidate.from_dict(rec["candidate"])


def select_winner(records: tuple[dict[str, Any], ...]) -> int | None:
    """Index of the feasible record of highest score (the first among equals)."""
    best = None
    for i, r in enumerate(records):
        if r["feasible"] and r["score"] is not None:
            if best is None or r["score"] > records[best]["score"]:
                best = i
    return best


def pareto_front(records: tuple[dict[str, Any], ...], metrics: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of the feasible scored records that no other one dominates (score maximized,
    ``metrics`` minimized); of records with equal key only the first counts."""
    pts: list[tuple[int, tuple[float, ...]]] = []
    seen = set()
    for i, r in enumerate(records):
        if r["feasible"] and r["score"] is not None and r["key"] not in seen:
            seen.add(r["key"])
            pts.append((i, (-r["score"], *(r["cost"][m] for m in metrics))))

    def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and a != b

    return tuple(i for i, a in pts if not any(dominates(b, a) for _j, b in pts))


def _sampler(config: SearchConfig, space: SearchSpace) -> optuna.samplers.BaseSampler:
    if config.sampler == "random":
        return StreamSampler(space, config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if config.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=config.seed)
        return optuna.samplers.NSGAIISampler(seed=config.seed)


def _record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    u = trial.user_attrs
    return {
        "number": trial.number,
        "stream_index": u.get(STREAM_INDEX, trial.number),
        "valid": u.get("valid", False),
        "key": u.get("key"),
        "candidate": u.get("candidate"),
        "cost": u.get("cost"),
        "constraints": dict(trial.constraints),
        "feasible": bool(u.get("feasible", False)),
        "score": u.get("score"),
        "seconds": u.get("seconds", {}),
    }


class _Objective:
    """One trial: sample, reject or price, check the budget, score the feasible."""

    def __init__(self, config: SearchConfig, space: SearchSpace, evaluator: Evaluator) -> None:
        self.config = config
        self.space = space
        self.evaluator = evaluator
        self.limits = config.budget.limits()

    def _worst(self, metrics: dict[str, Any] | None) -> Any:
        if not self.config.pareto:
            return -math.inf
        return [
            -math.inf,
            *(math.inf if metrics is None else metrics[m] for m in self.config.pareto),
        ]

    def __call__(self, trial: optuna.Trial) -> Any:
        start = time.perf_counter()
        mark_worker(trial)
        frozen = trial.study._storage.get_trial(trial._trial_id)
        if isinstance(trial.study.sampler, StreamSampler):
            index = stream_index(trial.study, frozen)
        else:
            index = trial.number
        trial.set_user_attr(STREAM_INDEX, index)
        candidate = self.space.sample(trial)
        if not candidate.valid:
            trial.set_user_attr("valid", False)
            trial.set_constraint("cell_path", 1.0)
            for k in self.limits:
                trial.set_constraint(k, 0.0)
            trial.set_user_attr("seconds", {"total": time.perf_counter() - start})
            return self._worst(None)
        priced = self.evaluator.price(candidate)
        constraints = self.config.budget.constraints(priced.metrics)
        trial.set_constraint("cell_path", 0.0)
        for k, v in constraints.items():
            trial.set_constraint(k, v)
        feasible = all(v <= 0.0 for v in constraints.values())
        trial.set_user_attr("valid", True)
        trial.set_user_attr("key", priced.key)
        trial.set_user_attr("candidate", candidate.canonical().to_dict())
        trial.set_user_attr("cost", priced.metrics)
        trial.set_user_attr("feasible", feasible)
        seconds = {"cost": priced.seconds, "cost_cached": priced.cached, "score": 0.0}
        value: Any = self._worst(priced.metrics)
        if feasible:
            score, spent, cached = self.evaluator.score(candidate)
            seconds.update(score=spent, score_cached=cached)
            trial.set_user_attr("score", score)
            value = score
            if self.config.pareto:
                value = [score, *(priced.metrics[m] for m in self.config.pareto)]
        seconds["total"] = time.perf_counter() - start
        trial.set_user_attr("seconds", seconds)
        return value


def _check_settings(study: optuna.Study, config: SearchConfig) -> None:
    mine = config.settings()
    theirs = study.user_attrs.get(SETTINGS)
    if theirs is None:
        study.set_user_attr(SETTINGS, mine)
        return
    if theirs != mine:
        differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise NASError(
            f"study {config.study_name!r} was created with other settings ({', '.join(differ)} "
            "differ): use the same configuration to join it, or another study name"
        )


def _progress_callback(config: SearchConfig, done: int, enabled: bool) -> Callable | None:
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=config.trials, initial=done, unit="cand", desc="search", leave=True)
    best: list[float | None] = [None]

    def update(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        score = trial.user_attrs.get("score")
        if trial.user_attrs.get("feasible") and score is not None:
            if best[0] is None or score > best[0]:
                best[0] = score
        bar.set_postfix_str("best feasible " + ("-" if best[0] is None else f"{best[0]:.4g}"))
        bar.update(1)
        if bar.n >= config.trials:
            bar.close()

    update.bar = bar  # type: ignore[attr-defined]
    return update


def run_search(
    config: SearchConfig,
    out_dir: str | Path,
    score: ScoreFn | None = None,
    *,
    progress: bool = True,
    write: bool = True,
    storage: optuna.storages.BaseStorage | None = None,
) -> SearchResult:
    """Run (or join, or resume) the study of ``config`` until it holds ``config.trials``
    finished trials; write the artifacts into ``out_dir`` (:mod:`nas.report`).

    ``score`` is the score function (default: :func:`nas.scoring.resolve_score` of
    ``config.score``; its ``prepare()``, if it has one, runs before anything is timed);
    ``storage`` an Optuna storage object that replaces ``config.storage`` (e.g. an in-memory
    one). Raises :class:`~nas.errors.InfeasibleError` (after writing the
    artifacts) when no candidate meets the budget.
    """
    from nas.report import write_artifacts
    from nas.scoring import resolve_score

    out_dir = Path(out_dir)
    check_budget(config)
    score_name = "custom"
    if score is None:
        score_name, score = resolve_score(config.score, dataset=config.dataset)
    space = SearchSpace(config.space)
    if storage is None:
        storage = open_storage(
            config.storage, out_dir / "study.journal", config.heartbeat_s, config.grace_s
        )
    directions = ["maximize", *(["minimize"] * len(config.pareto))]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=config.study_name,
            sampler=_sampler(config, space),
            directions=directions,
            load_if_exists=True,
        )
    except ValueError as exc:
        raise NASError(f"study {config.study_name!r}: {exc}") from None
    _check_settings(study, config)
    evaluator = Evaluator(
        score, config.input_shape, config.classes, config.input_bits, config.preset, config.samples
    )
    journal = not isinstance(storage, optuna.storages.RDBStorage)

    def fail_dead(study: optuna.Study, _trial: object = None) -> None:
        if journal:
            fail_dead_workers(study, config.grace_s)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)

    fail_dead(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for t in complete:
        if t.user_attrs.get("key"):
            evaluator.remember(
                t.user_attrs["key"], t.user_attrs.get("cost"), t.user_attrs.get("score")
            )
    prepare = getattr(score, "prepare", None)
    if callable(prepare):  # imports and data loading are not part of any score's time
        prepare()
    start = time.perf_counter()
    if len(complete) < config.trials:
        callbacks: list[Callable] = [
            MaxTrialsCallback(config.trials, states=(TrialState.COMPLETE,))
        ]
        bar = _progress_callback(config, len(complete), progress)
        if bar is not None:
            callbacks.append(bar)
        if journal:
            callbacks.append(fail_dead)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(_Objective(config, space, evaluator), callbacks=callbacks)
        if bar is not None:
            bar.bar.close()  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    records = tuple(
        _record(t)
        for t in sorted(
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number
        )
    )
    winner = select_winner(records)
    front = pareto_front(records, config.pareto) if config.pareto else ()
    baseline = None
    if config.baseline:
        baseline = score_everything(records, score, config, winner)
    result = SearchResult(config, score_name, records, winner, front, seconds, baseline)
    if write:
        write_artifacts(result, out_dir)
    if winner is None:
        priced = [(f"trial {r['number']} ({r['key']})", r["cost"]) for r in records if r["valid"]]
        if not config.budget.limits():
            raise InfeasibleError("no valid candidate was drawn: draw more trials")
        raise infeasible_error(config.budget, priced)
    return result


def check_budget(config: SearchConfig) -> None:
    """Refuse a memory or parameter budget below the space's smallest candidate
    (:meth:`nas.space.SearchSpace.smallest`) before anything runs. The other limits depend on
    the chip and the schedule; a search that meets none of them ends with
    :func:`nas.budget.infeasible_error`."""
    limits = config.budget.limits()
    floor = SearchSpace(config.space).smallest(
        config.input_shape,
        config.classes,
        config.input_bits,  # type: ignore[arg-type]
    )
    for key in ("memory_bits", "params"):
        if key in limits and floor[key][0] > limits[key]:
            c = floor[key][1]
            raise NASError(
                f"search.budget.{key} = {limits[key]:.6g} {UNITS[key]} is below the smallest "
                f"candidate of the space, {floor[key][0]} {UNITS[key]} (C {c.channels}, C_down "
                f"{c.down_channels}, H {c.hidden}, {c.weight_bits}-bit weights, cells of one "
                f"edge): raise search.budget.{key} to at least {floor[key][0]} or add smaller "
                "choices to the space"
            )


def score_everything(
    records: tuple[dict[str, Any], ...],
    score: ScoreFn,
    config: SearchConfig,
    winner: int | None,
) -> BaselineResult:
    """SNASNet's order on the candidates of ``records`` (trial order): build and score every
    valid candidate (each key once), then price them and keep the best feasible one. Timed
    from the first network built to the winner chosen, with fresh memos."""
    evaluator = Evaluator(
        score, config.input_shape, config.classes, config.input_bits, config.preset, config.samples
    )
    start = time.perf_counter()
    candidates = [
        (i, Candidate.from_dict(r["candidate"])) for i, r in enumerate(records) if r["valid"]
    ]
    scores = {i: evaluator.score(c)[0] for i, c in candidates}
    by_key = {records[i]["key"]: v for i, v in scores.items()}
    best = None
    for i, c in candidates:
        if config.budget.feasible(evaluator.price(c).metrics):
            if best is None or scores[i] > scores[best]:
                best = i
    seconds = time.perf_counter() - start
    return BaselineResult(seconds, evaluator.scored, best, best == winner, by_key)
