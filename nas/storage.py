"""Where a search's study lives, and how a killed worker's trial is failed and retried.

* Default: a journal file, ``JournalStorage(JournalFileBackend(path))``, for any number of
  worker processes on one host. Every append is flushed and ``fsync``-ed under a lock, so a
  finished trial survives ``kill -9`` of its worker.
* A URL (``postgresql://...``, ``sqlite:///...``): ``RDBStorage`` with Optuna's heartbeat
  (``heartbeat_s``, ``grace_s``): a trial whose worker stopped beating for ``grace_s`` seconds
  is failed before the next trial is asked for, and :class:`RetryStaleTrial` queues it again.

Optuna 5's journal storage has no heartbeat, so for the journal the equivalent is
:func:`fail_dead_workers`: each trial records its worker (host, process id, process start
time) as the system attribute :data:`WORKER`; a RUNNING trial whose worker on this host no
longer exists (or whose process id now belongs to another process) is failed and queued
again, when a worker starts and after each trial. A RUNNING trial that records no worker
(killed between its creation and its first line) is failed once it is older than ``grace_s``.
"""

from __future__ import annotations

import datetime
import os
import socket
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from nas.sampler import STREAM_INDEX

__all__ = [
    "WORKER",
    "RetryStaleTrial",
    "fail_dead_workers",
    "mark_worker",
    "open_storage",
]

WORKER = "neurocim:worker"
"""System attribute of a trial: ``{"host", "pid", "start"}`` of the process running it."""


def _start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field
    22), ``None`` when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_ticks(os.getpid())}


def mark_worker(trial: optuna.Trial) -> None:
    """Record this process as the worker of ``trial``."""
    trial.storage.set_trial_system_attr(trial._trial_id, WORKER, _me())


def _dead(worker: dict[str, Any]) -> bool:
    """Whether the recorded worker is a process of this host that no longer runs."""
    if worker.get("host") != socket.gethostname():
        return False  # another host: not ours to judge
    start = _start_ticks(int(worker["pid"]))
    return start is None or start != worker.get("start")


class RetryStaleTrial:
    """Queue a failed stale trial again with the same parameters (as Optuna's
    ``RetryHeartbeatStaleTrialCallback``, without its inherited constraints, worker and
    results: only the parameters, the stream index and the retry history travel)."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        system_attrs = {
            "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
            "retry_history": history,
        }
        user_attrs = {k: v for k, v in trial.user_attrs.items() if k == STREAM_INDEX}
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )


def fail_dead_workers(study: optuna.Study, grace_s: float) -> list[int]:
    """Fail and queue again every RUNNING trial of ``study`` whose worker died (module
    docstring); return the failed trials' numbers. Another worker failing the same trial at
    the same time is not an error (only one of them queues the retry)."""
    storage = study._storage
    now = datetime.datetime.now()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.system_attrs.get(WORKER)
        if worker is None:
            started = trial.datetime_start
            if started is None or (now - started).total_seconds() < grace_s:
                continue
        elif not _dead(worker):
            continue
        try:
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        RetryStaleTrial()(study, storage.get_trial(trial._trial_id))
        failed.append(trial.number)
    return failed


def open_storage(
    url: str | None, journal: Path, heartbeat_s: int = 10, grace_s: int = 30
) -> BaseStorage:
    """The storage at ``url`` (an RDB URL with a heartbeat of ``heartbeat_s`` seconds and a
    grace period of ``grace_s`` seconds), else the journal file ``journal``."""
    if url is None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(journal)))
    if "://" not in url:  # a path: a journal file there
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            heartbeat_interval=heartbeat_s,
            grace_period=grace_s,
            heartbeat_stale_trial_callback=RetryStaleTrial(),
            engine_kwargs={"pool_pre_ping": True} if url.startswith("postgresql") else None,
        )
