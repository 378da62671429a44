"""The constraint-first search engine: only feasible candidates scored, the same winner as
scoring everything (checked against an independent pricing of the stream), errors that name
the binding constraint, reproducible artifacts, and a worker killed with SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from hdl.cost import estimate
from nas.budget import Budget
from nas.config import load_search_config, search_config
from nas.errors import InfeasibleError, NASError
from nas.scoring import params_score
from nas.search import SearchConfig, pareto_front, run_search, score_everything
from nas.space import SearchSpace, SpaceConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def journal_dir(tmp_path):
    """A directory for journal files in memory (``/dev/shm``) where there is one: the
    journal fsyncs every append, which costs milliseconds on a busy disk and nothing on
    tmpfs; the storage's behaviour is the same."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="neurocim-test-") as d:
            yield Path(d)
    else:
        yield tmp_path


SMALL = SpaceConfig(channels=(4, 8), hidden=(16, 32), timesteps=(1, 2), modules=(1, 4))


def arch_score(candidate, network):
    """A deterministic score of the architecture alone (no torch)."""
    return params_score(candidate, network) + 0.01 * candidate.timesteps


def _run(config, out, score, **kw):
    """A search on an in-memory storage (the journal's fsync-ed appends cost milliseconds)."""
    return run_search(
        config, out, score, progress=False, storage=optuna.storages.InMemoryStorage(), **kw
    )


def _config(**kw):
    base = dict(name="t", trials=24, seed=3, space=SMALL, score="params")
    base.update(kw)
    return SearchConfig(**base)


def test_constraint_first_scores_only_feasible_and_finds_the_baseline_winner(tmp_path):
    budget = Budget(memory_bits=40_000, energy_uj=0.5)
    config = _config(budget=budget)
    scored = []

    def score(candidate, network):
        scored.append(candidate.key)
        return arch_score(candidate, network)

    result = _run(config, tmp_path, score)
    feasible = {r["key"] for r in result.records if r["feasible"]}
    valid = {r["key"] for r in result.records if r["valid"]}
    assert 0 < len(feasible) < len(valid)
    assert sorted(scored) == sorted(feasible)  # each feasible key once, nothing else
    scored.clear()
    baseline = score_everything(result.records, score, config, result.winner)
    assert baseline.same_winner and sorted(scored) == sorted(valid)
    # independent reference: the stream's candidates priced directly, filtered, best score
    space = SearchSpace(SMALL)
    best = None
    for i in range(config.trials):
        cand = space.stream(config.seed, i)
        net = cand.canonical().network((1, 8, 8), 10, 8)
        rep = estimate(net, cand.hardware())
        if rep.memory_bits["weights"] <= 40_000 and rep.energy_uj <= 0.5:
            s = arch_score(cand.canonical(), net)
            if best is None or s > best[0]:
                best = (s, cand.key)
    assert result.winner_record["key"] == best[1]
    assert result.winner_record["score"] == best[0]
    assert sorted(r["stream_index"] for r in result.records) == list(range(config.trials))
    saved = json.loads((tmp_path / "winner" / "network.json").read_text())
    assert saved["metadata"]["nas_candidate"] == best[1]
    assert "timesteps = " in (tmp_path / "winner" / "train.toml").read_text()


def test_same_seed_same_bytes_and_resume_continues_the_stream(journal_dir):
    tmp_path = journal_dir
    for d in ("a", "b"):
        run_search(_config(trials=5), tmp_path / d, arch_score, progress=False)
    for f in (
        "candidates.json",
        "candidates.csv",
        "winner/network.json",
        "score_cost.png",
        "winner/cell.png",
    ):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    toml = [(tmp_path / d / "winner" / "train.toml").read_text() for d in ("a", "b")]
    assert toml[0].replace(str(tmp_path / "a"), str(tmp_path / "b")) == toml[1]
    calls = []

    def score(candidate, network):
        calls.append(candidate.key)
        return arch_score(candidate, network)

    more = run_search(_config(trials=8), tmp_path / "a", score, progress=False)
    assert [r["stream_index"] for r in more.records] == list(range(8))
    done = {r["key"] for r in more.records[:5] if r["feasible"]}
    assert not done & set(calls)  # scores of finished trials are not computed again
    space = SearchSpace(SMALL)
    assert [r["key"] for r in more.records] == [space.stream(3, i).key for i in range(8)]


def test_infeasible_budget_names_the_binding_constraint(tmp_path):
    config = _config(trials=10, budget=Budget(memory_bits=1e6, energy_uj=0.01))
    with pytest.raises(InfeasibleError) as info:
        _run(config, tmp_path, arch_score)
    text = str(info.value)
    assert "binding constraint is energy_uj <= 0.01 uJ" in text
    assert "it alone rejects 10 candidates" in text
    assert "closest:" in text and text.count("energy_uj") >= 5
    assert (tmp_path / "report.md").read_text().count("No feasible candidate") == 1


def test_memory_budget_below_the_smallest_candidate_is_refused_up_front(tmp_path):
    space = SearchSpace(SMALL)
    floor = space.smallest((1, 8, 8), 10)
    # by hand: C 4, C_down 8, H 16, 1-bit weights, cells one skip edge (no weights):
    # stem 4*9, down 8*4*9, fc 16*(8*4*4), out 10*16
    assert floor["memory_bits"][0] == floor["params"][0] == 4 * 9 + 8 * 4 * 9 + 16 * 128 + 160
    for i in range(200):  # no candidate of the stream is smaller
        net = space.stream(0, i).network((1, 8, 8), 10)
        assert estimate(net).memory_bits["weights"] >= floor["memory_bits"][0]
    budget = Budget(memory_bits=floor["memory_bits"][0] - 1)
    with pytest.raises(NASError, match=r"budget\.memory_bits = 2531 bit is below the smallest"):
        _run(_config(budget=budget), tmp_path, arch_score)
    assert not (tmp_path / "candidates.csv").exists()  # refused before anything ran
    conv_only = SearchSpace(
        SpaceConfig(
            ops=("zero", "conv3x3", "avgpool3x3"), channels=(4,), hidden=(16,), weight_bits=(4,)
        )
    )
    # with 4-bit weights a pool edge (4*4*9 weights at 2 bits) holds fewer bits than a conv3x3
    # (at 4 bits), but as many weights
    _bits, cand = conv_only.smallest((1, 8, 8), 10)["memory_bits"]
    assert cand.cells[0].op(0, 3) == "avgpool3x3"
    assert conv_only.smallest((1, 8, 8), 10)["params"][1].cells[0].op(0, 3) == "conv3x3"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"energy_uj": -1.0}, "budget.energy_uj must be a finite number > 0"),
        ({"area_mm2": float("nan")}, "budget.area_mm2"),
        ({"latency_ms": True}, "budget.latency_ms"),
        ({"params": "4e6"}, "budget.params"),
    ],
)
def test_malformed_budgets(values, words):
    with pytest.raises(NASError, match=words):
        Budget(**values)


def test_pareto_front_is_non_dominated_and_matches_optuna(tmp_path):
    config = _config(trials=16, sampler="nsga2", pareto=("energy_uj", "area_mm2"))
    storage = optuna.storages.InMemoryStorage()
    result = run_search(config, tmp_path, arch_score, progress=False, storage=storage)
    front = [result.records[i] for i in result.pareto]
    assert front
    for f in front:
        for r in result.records:
            if r["feasible"]:
                better = (r["score"] >= f["score"]) and all(
                    r["cost"][m] <= f["cost"][m] for m in config.pareto
                )
                strictly = (r["score"] > f["score"]) or any(
                    r["cost"][m] < f["cost"][m] for m in config.pareto
                )
                assert not (better and strictly)
    study = optuna.load_study(study_name="t", storage=storage)
    assert {t.user_attrs["key"] for t in study.best_trials} == {f["key"] for f in front}
    assert pareto_front(result.records, ()) == (result.winner,)


def test_joining_a_study_with_other_settings_is_refused(tmp_path):
    storage = optuna.storages.InMemoryStorage()
    run_search(_config(trials=3), tmp_path, arch_score, progress=False, storage=storage)
    with pytest.raises(NASError, match="budget differ"):
        run_search(
            _config(trials=3, budget=Budget(area_mm2=5.0)),
            tmp_path,
            arch_score,
            progress=False,
            storage=storage,
        )


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(
        textwrap.dedent(
            """
            name = "digits-nas"
            [search]
            trials = 7
            [search.space]
            channels = [4, 8]
            weight_bits = 2
            [search.space.hardware]
            tile_rows = [64, 128]
            [search.budget]
            energy_uj = 2
            """
        )
    )
    cfg = load_search_config(path, ["search.space.leak_shift=none", "search.sampler=tpe"])
    assert (cfg.name, cfg.trials, cfg.sampler) == ("digits-nas", 7, "tpe")
    assert cfg.space.channels == (4, 8) and cfg.space.weight_bits == (2,)
    assert cfg.space.leak_shift is None and cfg.space.hardware.tile_rows == (64, 128)
    assert cfg.budget.energy_uj == 2.0
    with pytest.raises(NASError, match=r"unknown key\(s\) \['energy'\] in \[search.budget\]"):
        search_config({"search": {"budget": {"energy": 1}}})
    with pytest.raises(NASError, match=r"search.space.channels\[0\] must be an integer"):
        search_config({}, ["search.space.channels=['a']"])


def test_cli_search(tmp_path, capsys):
    from neurocim.cli import main

    args = [
        "search",
        "--build-dir",
        str(tmp_path),
        "--set",
        "name=c",
        "--set",
        "search.score=params",
        "--set",
        "search.space.channels=[4]",
        "--no-progress",
    ]
    assert main([*args, "--trials", "4", "--sampler", "tpe"]) == 0
    out = capsys.readouterr().out
    assert (
        "winner trial" in out and (tmp_path / "c" / "search" / "winner" / "network.json").is_file()
    )
    assert main([*args, "--trials", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--trials must be an integer in 1.." in err


def test_stream_index_of_retries():
    from nas.sampler import stream_index

    study = optuna.create_study()
    dist = {"x": optuna.distributions.CategoricalDistribution((0, 1))}

    def add(state, system_attrs=None, user_attrs=None):
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                params={"x": 0},
                distributions=dist,
                value=0.0 if state == TrialState.COMPLETE else None,
                system_attrs=system_attrs or {},
                user_attrs=user_attrs or {},
            )
        )
        return study.get_trials(deepcopy=False)[-1]

    t0 = add(TrialState.COMPLETE)
    t1 = add(TrialState.FAIL)  # killed before it recorded its index
    t2 = add(TrialState.COMPLETE)
    r1 = add(TrialState.WAITING, {"failed_trial": 1, "retry_history": [1]})
    t4 = add(TrialState.COMPLETE)
    r2 = add(TrialState.WAITING, {"failed_trial": 1, "retry_history": [1, 3]}, {"stream_index": 1})
    assert [stream_index(study, t) for t in (t0, t1, t2, r1, t4, r2)] == [0, 1, 2, 1, 3, 1]


def test_operation_study(tmp_path, capsys):
    from nas.cell import enumerate_cells
    from nas.ops_study import operation_study
    from neurocim.cli import main

    config = _config(budget=Budget(energy_uj=1.0))
    rows = operation_study(config, 6, arch_score)
    assert [r["removed"] for r in rows] == ["none", *SMALL.ops]
    for r in rows:
        assert r["distinct_cells"] == len(enumerate_cells(tuple(r["ops"])))
        space = SearchSpace(SpaceConfig(**{**SMALL.__dict__, "ops": tuple(r["ops"])}))
        energies = []
        for i in range(6):
            cand = space.stream(config.seed, i)
            energies.append(estimate(cand.network((1, 8, 8), 10), cand.hardware()).energy_uj)
        assert r["feasible_fraction"] == sum(e <= 1.0 for e in energies) / 6
    args = [
        "search",
        "ops",
        "--build-dir",
        str(tmp_path),
        "--set",
        "name=o",
        "--set",
        "search.score=params",
        "--candidates",
        "3",
        "--epochs",
        "0",
    ]
    assert main(args) == 0
    assert "without avgpool3x3" in capsys.readouterr().out
    table = (tmp_path / "o" / "search-ops" / "ops.md").read_text()
    assert table.count("\n|") == 8  # header, rule, 6 operation sets


WORKER = Path(__file__).with_name("nas_worker.py")


def _trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(JournalFileBackend(str(path / "study.journal")))
    return optuna.load_study(study_name="k", storage=storage).get_trials(deepcopy=False)


def test_killed_worker_loses_no_finished_trial(journal_dir):
    tmp_path = journal_dir
    worker = [sys.executable, str(WORKER), str(tmp_path / "s"), "--name=k", "--trials=10"]
    worker.append("--seed=5")
    hang = tmp_path / "hanging"
    env = {**os.environ, "HANG_AT": "4", "HANG_FILE": str(hang)}
    proc = subprocess.Popen(worker, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while not hang.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert hang.exists(), "the worker never reached its 4th score"
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of scoring its 4th candidate
    finally:
        proc.kill()
        proc.wait()
    before = {
        t.number: t.user_attrs for t in _trials(tmp_path / "s") if t.state == TrialState.COMPLETE
    }
    running = [t.number for t in _trials(tmp_path / "s") if t.state == TrialState.RUNNING]
    assert len(before) == 3 and len(running) == 1  # killed mid-trial
    subprocess.run(worker, cwd=tmp_path, check=True, timeout=60)
    after = _trials(tmp_path / "s")
    complete = [t for t in after if t.state == TrialState.COMPLETE]
    for number, attrs in before.items():  # nothing finished was lost or changed
        assert after[number].state == TrialState.COMPLETE and after[number].user_attrs == attrs
    assert not [t for t in after if t.state == TrialState.RUNNING]
    assert [after[n].state for n in running] == [TrialState.FAIL] * len(running)
    retried = [t for t in complete if "failed_trial" in t.system_attrs]
    assert {t.system_attrs["failed_trial"] for t in retried} == set(running)
    indices = sorted(t.user_attrs["stream_index"] for t in complete)
    assert indices == list(range(10))  # every stream index once: no duplicate, none lost
    space = SearchSpace(
        SpaceConfig(channels=(4, 8), hidden=(16, 32), timesteps=(1, 2), modules=(1, 4))
    )
    for t in complete:
        assert t.user_attrs["key"] == space.stream(5, t.user_attrs["stream_index"]).key
