"""Shared by the training tests: train once straight, and once crashed after epoch 2 and
resumed from its checkpoint (not a test module)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import spindrop.training as training
from spindrop.training import TrainConfig, TrainResult, train


class _Crash(Exception):
    pass


def straight_and_resumed(
    make_model: Callable[[], Any],
    data: Any,
    config: TrainConfig,
    checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Any, Any, TrainResult]:
    """``(straight model, resumed model, the resumed run's result)``: the crashed run saves
    its checkpoint after epoch 2 and stops there, as a killed process would."""
    straight = make_model()
    train(straight, data, config, progress=False)
    save = training._save_checkpoint

    def crash_after_epoch_2(path, state):
        save(path, state)
        if state["epoch"] == 2:
            raise _Crash

    monkeypatch.setattr(training, "_save_checkpoint", crash_after_epoch_2)
    with pytest.raises(_Crash):
        train(make_model(), data, config, checkpoint=checkpoint, progress=False)
    monkeypatch.setattr(training, "_save_checkpoint", save)
    resumed = make_model()
    result = train(resumed, data, config, checkpoint=checkpoint, progress=False)
    return straight, resumed, result
