"""The operation study's accuracy side: every architecture trained once with the short budget
(checked against training it directly), the choice rule on rows whose answer is known, the
accuracy cache that makes a killed study resume, and the command line."""

from __future__ import annotations

import json

import pytest

from nas.accuracy import ShortTraining, trained_accuracy
from nas.budget import Budget
from nas.errors import NASError
from nas.ops_study import choose_ops, operation_study, training_key
from nas.scoring import params_score
from nas.search import SearchConfig
from nas.space import SearchSpace, SpaceConfig

TINY = SpaceConfig(
    ops=("zero", "skip", "conv1x1", "conv3x3"),
    channels=(4,),
    hidden=(16,),
    timesteps=(1,),
    weight_bits=(1, 2),
    dropout_p=(0.0, 0.1),
    modules=(1,),
)
ONE_EPOCH = ShortTraining(epochs=1, seeds=(0,), device="cpu")


def _config(**kw):
    base = dict(name="o", seed=1, space=TINY, score="params", budget=Budget(energy_uj=0.6))
    base.update(kw)
    return SearchConfig(**base)


def _row(removed, winner, best, energy, ops=("zero", "skip", "conv3x3")):
    return {
        "removed": removed,
        "ops": [o for o in ops if o != removed],
        "winner_accuracy": winner,
        "accuracy_best_feasible": best,
        "median": {"energy_uj": energy},
    }


def test_choice_drops_an_operation_only_when_accuracy_holds_and_energy_does_not_rise():
    rows = [
        _row("none", 0.90, 0.92, 1.0),
        _row("zero", 0.95, 0.95, 0.5),  # zero is never dropped: it prunes, nothing runs it
        _row("skip", 0.895, 0.915, 0.9),  # loses 0.5 points: within 1 point, cheaper: drop
        _row("conv3x3", 0.70, 0.93, 0.6),  # the winner loses 20 points: keep
    ]
    chosen, reasons = choose_ops(rows, tolerance=0.01)
    assert chosen == {"ops": ["zero", "conv3x3"], "dropped": ["skip"]}
    assert reasons["skip"].startswith("drop") and reasons["conv3x3"].startswith("keep")
    assert reasons["zero"].startswith("keep")
    # the same loss with a tighter tolerance, or with a higher median energy: keep
    assert choose_ops(rows, tolerance=0.001)[0]["dropped"] == []
    rows[2] = _row("skip", 0.895, 0.915, 1.01)
    assert choose_ops(rows, tolerance=0.01)[0]["dropped"] == []
    # a set with no feasible candidate has no accuracy to compare: keep the operation
    rows[2] = _row("skip", None, None, 0.5)
    assert choose_ops(rows, tolerance=0.01)[0]["dropped"] == []


def test_choice_never_leaves_only_zero():
    ops = ("zero", "skip")
    rows = [_row("none", 0.5, 0.5, 1.0, ops), _row("skip", 0.5, 0.5, 0.5, ops)]
    assert choose_ops(rows)[0]["ops"] == ["zero", "skip"]


def test_study_trains_each_architecture_once_and_agrees_with_direct_training(tmp_path):
    config = _config()
    rows = operation_study(config, 3, params_score, ONE_EPOCH, cache_dir=tmp_path)
    assert [r["removed"] for r in rows[:-1]] == ["none", *TINY.ops]
    assert rows[-1]["chosen"] and rows[-1]["ops"] == [
        o for o in TINY.ops if o not in {r["removed"] for r in rows[:-1] if r["dropped"]}
    ]
    cache = json.loads((tmp_path / "accuracy.json").read_text())
    assert cache["training"] == ONE_EPOCH.key()
    # the full set's search winner, found and trained here without the study's code
    space = SearchSpace(TINY)
    drawn = [space.stream(config.seed, i).canonical() for i in range(3)]
    nets = [c.network(config.input_shape, config.classes) for c in drawn]
    from hdl.cost import estimate

    feasible = [
        estimate(n, c.hardware(), samples=config.samples).energy_uj <= 0.6
        for n, c in zip(nets, drawn, strict=True)
    ]
    assert rows[0]["feasible_fraction"] == sum(feasible) / 3
    scores = [params_score(c, n) for c, n in zip(drawn, nets, strict=True)]
    ok = [i for i in range(3) if feasible[i]]
    assert ok, "the budget must leave a feasible candidate for this test to check the winner"
    win = max(ok, key=lambda i: (scores[i], -i))
    direct = trained_accuracy(nets[win], ONE_EPOCH)
    assert rows[0]["winner_accuracy"] == pytest.approx(direct[0], abs=1e-12)
    assert cache["accuracy"][training_key(drawn[win])] == pytest.approx(direct, abs=1e-12)
    # candidates differing only in dropout train alike: one entry per architecture
    keys = {training_key(space.stream(config.seed, i)) for i in range(3)}
    assert keys <= set(cache["accuracy"])


def test_study_resumes_from_its_accuracy_cache(tmp_path, monkeypatch):
    config = _config()
    first = operation_study(config, 2, params_score, ONE_EPOCH, cache_dir=tmp_path)
    import nas.ops_study as ops_study

    calls = []

    def counting(jobs, budget, workers=1, on_done=None):
        calls.append(len(jobs))
        return {}

    monkeypatch.setattr(ops_study, "train_candidates", counting)
    again = operation_study(config, 2, params_score, ONE_EPOCH, cache_dir=tmp_path)
    assert sum(calls) == 0  # every architecture came from the cache
    assert again == first
    # another training budget does not take the cached accuracies
    other = ShortTraining(epochs=2, seeds=(0,), device="cpu")
    with pytest.raises(KeyError):
        operation_study(config, 2, params_score, other, cache_dir=tmp_path)
    assert sum(calls) > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"seeds": ()}, "seeds"),
        ({"seeds": (-1,)}, "seeds"),
    ],
)
def test_short_training_refuses_bad_settings(kwargs, match):
    with pytest.raises(NASError, match=match):
        ShortTraining(**kwargs)


def test_command_line_runs_the_trained_study(tmp_path, capsys):
    from neurocim.cli import main

    args = [
        "search",
        "ops",
        "--build-dir",
        str(tmp_path),
        "--set",
        "name=o",
        "--set",
        "search.score=params",
        "--set",
        "search.space.channels=[4]",
        "--set",
        "search.space.hidden=[16]",
        "--set",
        "search.space.timesteps=[1]",
        "--set",
        'search.space.ops=["zero","skip","conv3x3"]',
        "--candidates",
        "2",
        "--epochs",
        "1",
        "--workers",
        "1",
        "--seeds",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "chosen operation set:" in out
    text = (tmp_path / "o" / "search-ops" / "ops.md").read_text()
    assert "search winner's accuracy" in text and "Chosen operation set" in text
    assert main([*args[:-9], "--epochs", "-1"]) == 2
    assert "--epochs must be an integer >= 0" in capsys.readouterr().err
