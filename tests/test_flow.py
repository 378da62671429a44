"""``neurocim flow``: the quick flow end to end (proof PASS), step records, skipping of
up-to-date steps, a changed setting re-running only the steps after it, ``--from``/``--to``,
bad input, and a run killed with SIGKILL mid-training that finishes identically."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurocim.cli import main
from neurocim.flow.runner import STEPS

ROOT = Path(__file__).resolve().parents[1]


def _records(run: Path) -> dict[str, dict]:
    return {s: json.loads((run / "flow" / f"{s}.json").read_text()) for s in STEPS}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    build = tmp_path_factory.mktemp("flow")
    assert main(["flow", "--quick", "--build-dir", str(build), "--no-progress"]) == 0
    return build, build / "flow-digits-quick"


def test_quick_flow_runs_every_step_and_proves_the_rtl(quick_run):
    _build, run = quick_run
    records = _records(run)
    assert all(r["status"] == "done" for r in records.values())
    sim = json.loads((run / "sim" / "sim.json").read_text())
    assert sim["verdict"] == "PASS" and records["sim"]["summary"]["verdict"] == "PASS"
    # the chip is chosen once: the RTL bundle and the estimate use the search winner's chip
    cand = json.loads((run / "search" / "winner" / "candidate.json").read_text())
    manifest = json.loads((run / "rtl" / "manifest.json").read_text())
    hw = manifest["hardware"]
    for key in ("tile_rows", "tile_cols", "adc_bits"):
        assert hw[key] == cand["hardware"][key]
    check = records["sim"]["summary"]["float_check"]
    assert check["images"] == 3 and check["samples"] == 2
    assert len(check["float_predictions"]) == 3
    assert (run / "report.html").is_file() and (run / "report.md").is_file()


def test_rerun_skips_everything_and_a_changed_setting_reruns_only_what_follows(quick_run, capsys):
    build, run = quick_run
    before = _records(run)
    assert main(["flow", "--quick", "--build-dir", str(build), "--no-progress"]) == 0
    assert "ran nothing" in capsys.readouterr().out
    assert _records(run) == before
    args = ["flow", "--quick", "--build-dir", str(build), "--no-progress"]
    assert main([*args, "--set", "sim.samples=1"]) == 0
    after = _records(run)
    for step in ("search", "train", "export", "estimate", "rtl"):
        assert after[step] == before[step]
    assert after["sim"]["started"] >= before["sim"]["started"]
    assert after["sim"]["settings"]["samples"] == 1
    assert after["sim"]["inputs_digest"] != before["sim"]["inputs_digest"]
    # --from forces a step and every later one; --to stops
    assert main([*args, "--set", "sim.samples=1", "--from", "rtl", "--to", "rtl"]) == 0
    out = capsys.readouterr().out
    assert "ran rtl" in out and "sim" not in out.split("ran rtl")[1].split("skipped")[0]


def test_other_code_reruns_the_steps(quick_run, tmp_path, monkeypatch, capsys):
    """A run made by other code (an upgrade, a changed default) is not up to date: the code
    digest is part of every step's inputs."""
    import neurocim.flow.runner as runner

    build, run = quick_run
    copy = tmp_path / "build"
    shutil.copytree(build, copy)
    args = ["flow", "--quick", "--build-dir", str(copy), "--no-progress", "--to", "search"]
    assert main(args) == 0
    assert "ran nothing" in capsys.readouterr().out
    monkeypatch.setattr(runner, "code_digest", lambda: "other code")
    assert main(args) == 0
    assert "ran search" in capsys.readouterr().out
    record = json.loads((copy / run.name / "flow" / "search.json").read_text())
    assert record["inputs_digest"] != _records(run)["search"]["inputs_digest"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "bogus.key=1"], "unknown setting"),
        (["--set", "sim.images=0"], "sim.images"),
        (["--set", "sim.simulator=spice"], "sim.simulator"),
        (["--set", "sim.jobs=0"], "sim.jobs must be an integer >= 1"),
        (["--from", "sim", "--to", "search"], "comes after"),
        (["--set", "search.budget.energy_uj=-1"], "energy_uj"),
        (["--set", "train.epochs=0"], "train.epochs"),
        (["--set", "model.bogus=1"], "bogus"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(tmp_path, capsys, extra, message):
    assert main(["flow", "--quick", "--build-dir", str(tmp_path), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurocim: error:") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "flow-digits-quick" / "search").exists()  # refused before any step


def test_missing_config_file_is_named(tmp_path, capsys):
    assert (
        main(["flow", "--config", str(tmp_path / "nope.toml"), "--build-dir", str(tmp_path)]) == 2
    )
    assert "nope.toml" in capsys.readouterr().err


def _flow_cmd(build: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "neurocim.cli",
        "flow",
        "--quick",
        "--build-dir",
        str(build),
        "--no-progress",
        "--to",
        "export",
        "--set",
        f"name={name}",
        "--set",
        "train.epochs=40",
    ]


def test_kill_during_training_then_rerun_gives_the_uninterrupted_result(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    straight = subprocess.run(
        _flow_cmd(tmp_path / "a", "k"), env=env, capture_output=True, text=True, timeout=600
    )
    assert straight.returncode == 0, straight.stderr
    proc = subprocess.Popen(
        _flow_cmd(tmp_path / "b", "k"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "b" / "k" / "model" / "train" / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the flow finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "b" / "k" / "flow" / "train.json").exists()
    again = subprocess.run(
        _flow_cmd(tmp_path / "b", "k"), env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr

    def files(d: str) -> dict[str, bytes]:
        m = tmp_path / d / "k" / "model"
        rel = ("train/model.pt", "network/weights.npz", "network/network.json")
        return {r: (m / r).read_bytes() for r in rel}

    assert files("a") == files("b")  # the same weights and network, byte for byte
    ev = [
        json.loads((tmp_path / d / "k" / "model" / "evaluate" / "report.json").read_text())
        for d in "ab"
    ]
    assert ev[0]["accuracy"] == ev[1]["accuracy"]


def test_the_flow_report_renders_in_chromium(quick_run):
    from neurocim.flow.browser import check_page

    _build, run = quick_run
    for width in (800, 1400):
        page = check_page(run / "report.html", width=width)
        assert page.images >= 3 and page.ok, page.summary()
    md = (run / "report.md").read_text()
    for title in ("Summary", "Search", "Training", "MTJ dropout", "RTL", "Proof", "Steps"):
        assert f"## {title}" in md


def test_the_rtl_masks_replayed_into_the_float_model_are_the_masks_it_draws():
    """The float check's replay is the inverse of the export's recording: masks the float
    model drew, converted to the IR's keep masks, replayed, give the same softmax."""
    import numpy as np
    import torch

    from nas.space import SearchSpace, SpaceConfig
    from neurocim.flow.reference import _replayed_probabilities
    from spindrop.export import masks_from_records
    from spindrop.graph_model import GraphNet
    from spindrop.models import ModelConfig

    space = SearchSpace(SpaceConfig(channels=(4,), hidden=(16,), timesteps=(1,), dropout_p=(0.25,)))
    cand = space.stream(0, 0)
    net = cand.network((1, 8, 8), 10)
    model = GraphNet(net, ModelConfig(timesteps=1), seed=0, dropout="network")
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    model.eval().set_mc(True)
    records = model.record_masks()
    with torch.no_grad():
        drawn = np.stack([torch.softmax(model(x), 1).double().numpy() for _ in range(3)])
    for layer in model.dropout_layers():
        layer.recording = None
    model.set_mc(False)
    masks = masks_from_records(model, net, records)
    assert masks and all(m.shape[:2] == (3, 5) for m in masks.values())
    replayed = _replayed_probabilities(model, x.numpy(), masks, 3)
    np.testing.assert_array_equal(replayed, drawn)
    # other masks give other outputs (the replay is not ignored)
    flipped = {k: ~v for k, v in masks.items()}
    assert not np.array_equal(_replayed_probabilities(model, x.numpy(), flipped, 3), drawn)


def test_a_step_that_dies_midway_is_not_done_and_reruns(quick_run, tmp_path, monkeypatch):
    import shutil

    import neurocim.flow.runner as runner

    _build, run = quick_run
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    args = ["flow", "--quick", "--build-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 0  # up to date with the quick settings (earlier tests changed some)
    real = runner._RUN["rtl"]

    def dies(*a, **kw):
        raise KeyboardInterrupt  # as a kill would stop it, after the step began

    monkeypatch.setitem(runner._RUN, "rtl", dies)
    assert main([*args, "--from", "rtl"]) == 130
    assert not (copy / "flow" / "rtl.json").exists()  # the earlier finish no longer counts
    assert (copy / "flow" / "sim.json").exists()
    monkeypatch.setitem(runner._RUN, "rtl", real)
    before = json.loads((copy / "flow" / "sim.json").read_text())
    assert main(args) == 0
    after = _records(copy)
    assert after["rtl"]["status"] == "done"
    # the RTL came out byte-identical, so the proof of the same inputs is still up to date
    assert after["sim"] == before
    # an output changed or removed by hand is not up to date: the step runs again
    verilog = copy / "rtl" / "accelerator.v"
    good = verilog.read_bytes()
    verilog.write_text("// edited\n")
    assert main(args) == 0
    assert verilog.read_bytes() == good
    (copy / "rtl" / "INCOMPLETE").write_text("")
    assert main(args) == 0
    assert not (copy / "rtl" / "INCOMPLETE").exists()


def test_a_params_budget_is_reported_against_the_stored_weights(quick_run, tmp_path):
    import shutil

    import numpy as np

    from neurocim.flow.html import render_markdown
    from neurocim.flow.report import build_report

    _build, run = quick_run
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    path = copy / "search" / "candidates.json"
    doc = json.loads(path.read_text())
    doc["budget"]["params"] = 10_000.0
    path.write_text(json.dumps(doc))
    with np.load(copy / "model" / "network" / "weights.npz") as w:
        stored = sum(w[k].size for k in w.files if k.endswith(".weight"))
    md = render_markdown(build_report(copy))
    row = next(line for line in md.splitlines() if line.startswith("| params"))
    assert f"{stored:,}" in row and f"{100 * (10_000 - stored) / 10_000:+.1f} %" in row
