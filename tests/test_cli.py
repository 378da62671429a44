from __future__ import annotations

import json

import pytest

from neurocim.cli import main

QUICK = [
    "--set", "train.epochs=2",
    "--set", "model.hidden=[32]",
    "--set", "model.dropout.p=0.3",
    "--set", "evaluate.mc_samples=3",
    "--set", "evaluate.severities=[2]",
    "--set", "variation.sigma_ic0_rel=[0.0, 0.05]",
    "--set", "variation.sigma_delta_rel=[0.0]",
    "--set", "variation.temperatures_c=[25, 100]",
    "--set", "variation.chips=1",
    "--no-progress",
]  # fmt: skip


def test_train_then_evaluate_writes_the_run_artifacts(tmp_path, capsys):
    assert main(["train", "--set", "name=t", "--build-dir", str(tmp_path), *QUICK]) == 0
    run = tmp_path / "t"
    assert (run / "config.json").is_file()
    assert (run / "train" / "model.pt").is_file() and (run / "train" / "checkpoint.pt").is_file()
    metrics = json.loads((run / "train" / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]

    assert main(["evaluate", "--run-dir", str(run), "--no-progress"]) == 0
    report = json.loads((run / "evaluate" / "report.json").read_text())
    assert 0.0 <= report["accuracy"] <= 1.0
    assert set(report["ood"]) == {"entropy", "mutual_information"}
    assert "uniform-noise" in report["ood"]["entropy"]
    assert set(report["corruption"]) == {"noise", "blur", "occlusion"}
    assert len(report["corruption"]["noise"]) == 2  # clean + severity 2
    assert len(report["variation"]["rows"]) == 8  # 2 drivers x 2 sigmas x 2 temperatures
    for png in (
        "uncertainty_entropy.png",
        "roc_entropy.png",
        "reliability.png",
        "corruption.png",
        "variation_process.png",
        "variation_temperature.png",
    ):
        assert (run / "evaluate" / png).stat().st_size > 1000, png
    assert "accuracy" in capsys.readouterr().out


def test_same_seed_same_report(tmp_path):
    reports = []
    for name in ("a", "b"):
        assert (
            main(
                [
                    "train",
                    "--set",
                    f"name={name}",
                    "--build-dir",
                    str(tmp_path),
                    "--evaluate",
                    "--no-sweep",
                    *QUICK,
                ]
            )
            == 0
        )
        report = json.loads((tmp_path / name / "evaluate" / "report.json").read_text())
        report.pop("run")
        reports.append(report)
    assert reports[0] == reports[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "data.dataset=mnist", "--set", "data.root=/nonexistent"], "/nonexistent"),
        (["--set", "data.dataset=imagenet"], "unknown data set"),
        (["--set", "model.dropout.p=1.2"], "dropout.p must be in [0, 1)"),
        (["--config", "/nonexistent.toml"], "does not exist"),
        (["--set", "model.dropout.p=0.5", "--set", "model.dropout.pulse_ns=0.5"], "pulse"),
        (["--set", "model.weight_bits=0"], "model.weight_bits must be an integer in 1..16"),
        (["--set", "model.arch=cnn", "--set", "model.conv_strides=[0, 0]"], "conv_strides"),
        (["--set", "model.arch=cnn", "--set", "model.conv_channels=[0, 0]"], "conv_channels"),
        (["--set", "seed=-1"], "seed must be an integer in 0..4294967295"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    assert main(["train", "--build-dir", str(tmp_path), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurocim: error:")
    assert message.lower() in err.lower()
    assert "Traceback" not in err


def test_evaluate_without_training_says_what_to_run(tmp_path, capsys):
    assert (
        main(["evaluate", "--build-dir", str(tmp_path), "--set", "name=never", "--no-progress"])
        == 2
    )
    assert "run `neurocim train`" in capsys.readouterr().err


def test_export_writes_the_network_and_its_check(tmp_path, capsys):
    assert main(["train", "--set", "name=e", "--build-dir", str(tmp_path), *QUICK]) == 0
    assert main(["export", "--run-dir", str(tmp_path / "e"), "--samples", "2"]) == 0
    network = tmp_path / "e" / "network"
    assert (network / "network.json").is_file() and (network / "weights.npz").is_file()
    assert (network / "network.nir").is_file()
    report = json.loads((network / "export_report.json").read_text())
    assert report["prediction_agreement"] == 1.0
    assert report["golden"] == {"equal": True, "first_difference": None}
    assert "per-sample predictions agree" in capsys.readouterr().out


def test_estimate_prices_an_architecture_without_weights(tmp_path, capsys):
    from hdl.ir import Edge, InputSpec, Layer, Network, Neuron, save_network

    net = Network(
        "arch",
        InputSpec((1, 8, 8), bits=4),
        (
            Layer("fc1", (Edge("linear", "input"),), (32,), neuron=Neuron()),
            Layer("out", (Edge("linear", "fc1"),), (10,)),
        ),
    ).validate()
    save_network(net, tmp_path / "arch")
    assert not (tmp_path / "arch" / "weights.npz").exists()
    for preset in ("default", "spikesim"):
        assert (
            main(["estimate", str(tmp_path / "arch"), "--preset", preset, "--hw", "tile_rows=64"])
            == 0
        )
        report = json.loads((tmp_path / "arch" / f"cost_{preset}.json").read_text())
        assert report["preset"] == preset and report["energy"]["uj"] > 0
        assert report["latency"]["cycles"] > 0
    assert "latency" in capsys.readouterr().out
    assert main(["estimate", str(tmp_path / "arch"), "--hw", "tile_rowz=64"]) == 2
    assert "unknown hardware key" in capsys.readouterr().err


# --- runs that cannot hurt the user ---------------------------------------------------------

TINY = [
    "--set", "train.epochs=1",
    "--set", "model.hidden=[16]",
    "--set", "model.dropout.p=0.3",
    "--set", "data.max_train=300",
    "--set", "data.max_test=100",
    "--set", "evaluate.mc_samples=2",
    "--set", "evaluate.severities=[2]",
    "--set", "evaluate.corruptions=['noise']",
    "--no-progress",
]  # fmt: skip


def _train(build, name: str, *extra: str) -> int:
    return main(["train", "--set", f"name={name}", "--build-dir", str(build), *TINY, *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny trained and exported run; tests copy it before changing anything."""
    build = tmp_path_factory.mktemp("build")
    assert _train(build, "r") == 0
    assert main(["export", "--run-dir", str(build / "r"), "--samples", "1", "--no-progress"]) == 0
    return build / "r"


@pytest.fixture
def run(trained, tmp_path):
    import shutil

    shutil.copytree(trained, tmp_path / "r")
    return tmp_path / "r"


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("neurocim: error:") and "Traceback" not in err, err
    assert err.count("\n") == 1, err  # one line
    return err


def _snapshot(directory) -> dict:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_other_settings_under_an_old_name_are_refused_before_anything_is_written(run, capsys):
    before = _snapshot(run)
    for change in (["--set", "train.epochs=2"], ["--set", "model.hidden=[8]"]):
        assert _train(run.parent, "r", *change) == 2
        err = _error(capsys)
        assert f"run directory {run} holds a run with other settings" in err
        assert ("train.epochs: 1 -> 2" in err) or ("model.hidden: [16] -> [8]" in err)
        assert "--set name=<new>" in err and "--overwrite" in err
        assert _snapshot(run) == before
    # the same settings resume (nothing left to train) and keep the weights
    assert _train(run.parent, "r") == 0
    assert (run / "train" / "model.pt").read_bytes() == before["train/model.pt"]
    # --overwrite starts over with the new settings and drops the old run's artifacts
    assert _train(run.parent, "r", "--set", "model.hidden=[8]", "--overwrite") == 0
    assert json.loads((run / "config.json").read_text())["model"]["hidden"] == [8]
    assert json.loads((run / "train" / "metrics.json").read_text())["resumed_from_epoch"] == 0
    assert not (run / "network").exists()


def test_a_directory_that_is_no_run_is_left_alone(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        assert _train(tmp_path, "docs", *extra) == 2
        assert "holds no neurocim run (no config.json)" in _error(capsys)
    assert (tmp_path / "docs" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["", "../../x", "/tmp/x", ".."])
def test_a_name_outside_the_build_directory_is_refused(tmp_path, capsys, name):
    build = tmp_path / "a" / "b"
    assert main(["train", "--set", f"name={name!r}", "--build-dir", str(build), *TINY]) == 2
    assert "name must be 1-100 letters" in _error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_run_in_use_by_another_process_is_refused(run, capsys):
    import subprocess
    import sys
    from pathlib import Path

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time\nfrom hdl._io import locked_dir\nwith locked_dir({str(run)!r}):\n"
            "    print('locked', flush=True)\n    time.sleep(60)\n",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(run)
        expected = (
            f"run directory {run} is in use by another neurocim process (pid {holder.pid}): "
            "wait for it to finish or choose another name"
        )
        assert _train(run.parent, "r") == 2
        assert expected in _error(capsys)
        assert main(["evaluate", "--run-dir", str(run), "--no-progress"]) == 2
        assert expected in _error(capsys)
        assert main(["export", "--run-dir", str(run), "--samples", "1", "--no-progress"]) == 2
        assert expected in _error(capsys)
        assert _snapshot(run) == before
    finally:
        holder.kill()
        holder.wait(timeout=10)


DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "garbage": lambda data: b"not a torch file\n" * 10,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_model_file_names_the_file_and_the_fix(run, capsys, damage):
    model = run / "train" / "model.pt"
    model.write_bytes(DAMAGE[damage](model.read_bytes()))
    for command in (["evaluate", "--no-progress"], ["export", "--samples", "1", "--no-progress"]):
        assert main([*command, "--run-dir", str(run)]) == 2
        err = _error(capsys)
        assert f"{model} is not a trained model of this run" in err
        assert "delete it and run `neurocim train` again" in err
    model.unlink()  # the fix: the model is rebuilt from the checkpoint
    assert _train(run.parent, "r") == 0
    assert main(["evaluate", "--run-dir", str(run), "--no-progress", "--no-sweep"]) == 0


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_checkpoint_names_the_file_and_the_fix(run, capsys, damage):
    checkpoint = run / "train" / "checkpoint.pt"
    checkpoint.write_bytes(DAMAGE[damage](checkpoint.read_bytes()))
    assert _train(run.parent, "r") == 2
    err = _error(capsys)
    assert f"checkpoint {checkpoint} cannot be read" in err
    assert "delete it to train this run from the start, or pass --overwrite" in err
    checkpoint.unlink()
    assert _train(run.parent, "r") == 0


def test_a_model_file_of_another_shape_is_a_clear_error(run, tmp_path, capsys):
    assert _train(tmp_path / "other", "o", "--set", "model.hidden=[8]") == 0
    (run / "train" / "model.pt").write_bytes((tmp_path / "other/o/train/model.pt").read_bytes())
    assert main(["export", "--run-dir", str(run), "--samples", "1", "--no-progress"]) == 2
    assert "size mismatch" in _error(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input-bits", "0"], "--input-bits must be in 1..16"),
        (["--input-bits", "99"], "--input-bits must be in 1..16"),
        (["--samples", "0"], "--samples must be a positive integer"),
    ],
)
def test_bad_export_options_leave_the_network_files_alone(run, capsys, args, message):
    before = _snapshot(run)
    assert main(["export", "--run-dir", str(run), "--no-progress", *args]) == 2
    assert message in _error(capsys)
    assert _snapshot(run) == before


def test_unreadable_config_json_of_a_run(run, capsys):
    (run / "config.json").write_text("{")
    assert main(["evaluate", "--run-dir", str(run), "--no-progress"]) == 2
    assert f"{run / 'config.json'} cannot be read" in _error(capsys)
    assert _train(run.parent, "r") == 2
    assert "--overwrite" in _error(capsys)


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import torch

    from spindrop import training

    saved = training._save_checkpoint

    def save_then_interrupt(path, state):
        saved(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_save_checkpoint", save_then_interrupt)
    assert _train(tmp_path, "c", "--set", "train.epochs=2") == 130
    checkpoint = tmp_path / "c" / "train" / "checkpoint.pt"
    assert capsys.readouterr().err == (
        f"neurocim: interrupted: {checkpoint} keeps the last finished epoch; "
        "run the same command again to resume\n"
    )
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    assert not (tmp_path / "c" / "train" / "model.pt").exists()
    monkeypatch.setattr(training, "_save_checkpoint", saved)
    assert _train(tmp_path, "c", "--set", "train.epochs=2") == 0
    metrics = json.loads((tmp_path / "c" / "train" / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1 and len(metrics["history"]) == 2


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import errno
    import os

    from hdl import _io

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "fsync", no_space)
    assert _train(tmp_path, "f") == 2
    err = _error(capsys)
    assert f"cannot write {tmp_path / 'f' / 'config.json'}: No space left on device" in err


def test_a_build_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "build").write_text("")
    assert _train(tmp_path / "build", "x") == 2
    assert "a file stands where a directory should be" in _error(capsys)


def test_evaluate_and_export_show_their_progress_unless_told_not_to(run, capsys):
    assert main(["evaluate", "--run-dir", str(run), "--no-sweep"]) == 0
    err = capsys.readouterr().err
    # validation, test, 5 OOD sets, clean + 1 corruption x 1 severity, plots
    assert "evaluate:" in err and "/10 [" in err and "plots" in err
    assert main(["evaluate", "--run-dir", str(run), "--no-sweep", "--no-progress"]) == 0
    assert "evaluate:" not in capsys.readouterr().err
    assert main(["export", "--run-dir", str(run), "--samples", "1"]) == 0
    err = capsys.readouterr().err
    assert "export:" in err and "/4 [" in err and "checking 100 test images x 1 samples" in err
    assert main(["export", "--run-dir", str(run), "--samples", "1", "--no-progress"]) == 0
    assert "export:" not in capsys.readouterr().err


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_a_killed_training_resumes_to_the_same_weights(tmp_path, signal_name):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import torch

    args = ["--set", "train.epochs=40", "--set", "data.max_train=600"]
    command = [sys.executable, "-m", "neurocim.cli", "train", "--set", "name=k"]
    proc = subprocess.Popen(
        [*command, "--build-dir", str(tmp_path), *TINY, *args],
        cwd=Path(__file__).resolve().parent.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = tmp_path / "k" / "train" / "checkpoint.pt"
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(getattr(signal, signal_name))
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    if signal_name == "SIGINT":
        assert proc.returncode == 130
        assert err.rstrip().endswith(
            f"neurocim: interrupted: {checkpoint} keeps the last finished epoch; "
            "run the same command again to resume"
        )
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= epoch < 40
    assert _train(tmp_path, "k", *args) == 0  # the lock died with the process
    metrics = json.loads((tmp_path / "k" / "train" / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] >= epoch
    assert _train(tmp_path, "whole", *args) == 0
    resumed = torch.load(tmp_path / "k" / "train" / "model.pt", weights_only=True)
    whole = torch.load(tmp_path / "whole" / "train" / "model.pt", weights_only=True)
    assert resumed.keys() == whole.keys()
    assert all(torch.equal(resumed[k], whole[k]) for k in whole)


def test_an_empty_corruption_list_means_no_corruptions(run):
    args = ["--set", "evaluate.corruptions=[]", "--no-sweep", "--no-progress"]
    assert main(["evaluate", "--run-dir", str(run), *args]) == 0
    report = json.loads((run / "evaluate" / "report.json").read_text())
    assert "corruption" not in report and not (run / "evaluate" / "corruption.png").exists()


@pytest.mark.parametrize("failure", ["full disk", "Ctrl-C"])
def test_an_export_failing_while_writing_leaves_the_old_network(run, capsys, monkeypatch, failure):
    import errno

    from hdl import nir_io

    def half_then_fail(net, path):
        path.write_bytes(b"half a NIR file")
        if failure == "Ctrl-C":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device")

    before = _snapshot(run)
    monkeypatch.setattr(nir_io, "write_nir", half_then_fail)
    rc = main(["export", "--run-dir", str(run), "--samples", "1", "--no-progress"])
    err = capsys.readouterr().err
    if failure == "Ctrl-C":
        assert rc == 130 and err == "neurocim: interrupted\n"
    else:
        assert rc == 2
        assert f"cannot write {run / 'network' / 'network.nir'}: No space left on device" in err
    assert _snapshot(run) == before  # no mix of old and new files, no temporary left


def test_a_new_export_replaces_the_network_directory_as_a_whole(run):
    (run / "network" / "stale.json").write_text("{}")
    assert main(["export", "--run-dir", str(run), "--samples", "1", "--no-progress"]) == 0
    names = sorted(p.name for p in (run / "network").iterdir())
    assert names == ["export_report.json", "network.json", "network.nir", "weights.npz"]
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [".neurocim.lock"]
