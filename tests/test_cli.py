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
