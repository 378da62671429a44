"""The flow-level regression test: search -> BayBNN training -> export -> estimate -> RTL ->
Icarus, with the CLI (``benchmarks/found_network.py --quick``)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    path = ROOT / "benchmarks" / "found_network.py"
    spec = importlib.util.spec_from_file_location("found_network", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("found_network", module)
    spec.loader.exec_module(module)
    return module


def test_train_arch_takes_the_winners_training_settings(tmp_path):
    """``train --arch <search dir>`` reads the winner's train.toml (its timesteps and beta):
    a T = 2 winner trains without --config or --set model.timesteps=2."""
    from neurocim.cli import _winner_config

    winner = tmp_path / "s" / "search" / "winner"
    winner.mkdir(parents=True)
    (winner / "network.json").write_text("{}")
    (winner / "train.toml").write_text('name = "w"\n[model]\ntimesteps = 2\nbeta = 0.5\n')
    toml = (winner / "train.toml").resolve()
    assert _winner_config(tmp_path / "s" / "search") == toml
    assert _winner_config(winner) == toml
    assert _winner_config(winner / "network.json") == toml
    assert _winner_config(tmp_path / "missing") is None
    (winner / "train.toml").unlink()
    assert _winner_config(tmp_path / "s" / "search") is None


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_found_network_quick_chain_is_bit_exact(tmp_path):
    result = _bench().run_chain(tmp_path, quick=True)
    assert [s["rc"] for s in result["steps"]] == [0] * 6
    sim = result["sim"]
    assert sim["verdict"] == "PASS" and sim["ok"] is True
    assert sim["simulator"] == "icarus" and sim["images"] == 3 and sim["samples"] == 2
    assert sim["cycles"]["equal"]
    assert sim["accuracy"]["agreement"] == 1.0  # RTL == golden on every image
    assert result["search"]["candidate"]["dropout_p"] > 0  # a BayBNN: MTJ dropout on edges
