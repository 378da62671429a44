from __future__ import annotations

import pytest

from hdl import MTJDevice
from neurocim.config import ConfigError, build_config, load_config, parse_override


def test_defaults_without_a_file():
    config = load_config(None)
    assert config.data.dataset == "digits"
    assert config.model.dropout.device == MTJDevice()


def test_toml_file_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        """
name = "mine"
[model]
arch = "cnn"
conv_channels = [8, 16]
conv_strides = [1, 2]
[model.dropout]
p = 0.25
granularity = "channel"
[model.dropout.device]
delta = 45.0
[train]
epochs = 3
"""
    )
    config = load_config(path, ["train.lr=0.01", "model.hidden=[64, 32]", "data.dataset=digits"])
    assert config.name == "mine"
    assert config.model.conv_channels == (8, 16)
    assert config.model.hidden == (64, 32)
    assert config.model.dropout.p == 0.25
    assert config.model.dropout.device.delta == 45.0
    assert config.train.epochs == 3 and config.train.lr == 0.01


def test_round_trip_through_resolved_dict():
    config = load_config(None, ["model.dropout.p=0.4", "variation.temperatures_c=[0, 100]"])
    assert build_config(config.to_dict()) == config


def test_integer_accepted_for_float():
    assert load_config(None, ["train.lr=1"]).train.lr == 1.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.widht=3", r"unknown key\(s\) \['widht'\] in \[model\]; valid keys: \["),
        ("train.epochs=1.5", r"train\.epochs must be an integer"),
        ("model.dropout.p=1.5", r"\[model\.dropout\] dropout\.p must be in \[0, 1\)"),
        ("model.dropout.device.delta=-1", r"\[model\.dropout\.device\].*delta"),
        ("model.arch=rnn", r"model\.arch must be one of"),
        ("model.hidden=64", r"model\.hidden must be a list"),
        ("nokey", r"--set expects section\.key=value"),
        ("model.weight_bits=0", r"model\.weight_bits must be an integer in 1\.\.16"),
        ("model.weight_bits=17", r"model\.weight_bits must be an integer in 1\.\.16"),
        ("model.conv_strides=[0, 0]", r"model\.conv_strides must be positive integers"),
        ("model.conv_channels=[0, 0]", r"model\.conv_channels must be positive integers"),
        ("seed=-1", r"seed must be an integer in 0\.\.4294967295, got -1"),
        ("seed=4294967296", r"seed must be an integer in 0\.\.4294967295"),
        ("train.seed=-1", r"train\.seed must be an integer >= 0"),
        ("evaluate.seed=-1", r"evaluate\.seed must be an integer >= 0"),
        ("variation.seed=-1", r"variation\.seed must be an integer in 0\.\."),
        ("data.max_train=0", r"data\.max_train must be a positive integer"),
        ("data.max_test=-3", r"data\.max_test must be a positive integer"),
        ("variation.temperatures_c=[]", r"variation\.temperatures_c must list at least one"),
        ("variation.sigma_ic0_rel=[]", r"variation\.sigma_ic0_rel must list at least one"),
        ("variation.measure=x", r"variation\.measure must be one of \('entropy'"),
    ],
)
def test_errors_name_the_key_and_the_fix(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_config(tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"cannot be read .*UTF-8 TOML file"):
        load_config(tmp_path / "latin1.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\narch=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_parse_override_bare_word_is_string():
    assert parse_override("data.dataset=fashion-mnist") == (["data", "dataset"], "fashion-mnist")
    assert parse_override("model.hidden=[1, 2]") == (["model", "hidden"], [1, 2])


def test_shipped_example_configs_load():
    from pathlib import Path

    from nas.config import load_search_config

    configs = sorted((Path(__file__).parent.parent / "configs").glob("*.toml"))
    assert configs
    for path in configs:
        if "[search]" in path.read_text():  # a search configuration (neurocim search)
            assert load_search_config(path).name
        else:
            assert load_config(path).name


@pytest.mark.parametrize("name", ["", ".", "..", "../../x", "/tmp/x", "a/b", ".hidden", "x" * 101])
def test_run_name_must_be_one_directory_inside_the_build_directory(name):
    with pytest.raises(ConfigError, match=r"name must be 1-100 letters.*--set name="):
        load_config(None, [f"name={name!r}"])


@pytest.mark.parametrize("name", ["digits-mlp", "cnn_p0.3", "a", "run+2", "9" * 100])
def test_valid_run_names(name):
    assert load_config(None, [f"name={name!r}"]).name == name


def test_too_small_data_split_names_the_setting():
    from spindrop.data import DatasetError
    from spindrop.experiment import prepare_data

    with pytest.raises(DatasetError, match=r"data\.max_train leaves too few images.*10 classes"):
        prepare_data(load_config(None, ["data.max_train=5"]))


def test_dropout_that_lands_on_no_layer_is_refused():
    with pytest.raises(ConfigError, match=r"placement 'hidden' puts MTJ dropout on no layer"):
        load_config(None, ["model.hidden=[]", "model.dropout.p=0.3"])
    everywhere = ["model.hidden=[]", "model.dropout.p=0.3", "model.dropout.placement=all"]
    assert load_config(None, everywhere).model.bayesian
