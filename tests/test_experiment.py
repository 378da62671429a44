from __future__ import annotations

import numpy as np
import pytest

from spindrop.data import DatasetError, load_dataset
from spindrop.experiment import DataConfig, RunConfig, prepare_data


def test_held_out_classes_become_an_ood_set():
    data = prepare_data(RunConfig(data=DataConfig(held_out_classes=(8, 9))))
    assert data.train.num_classes == 8 and data.test.num_classes == 8
    assert set(np.unique(data.train.y)) == set(range(8))
    held = data.ood["held-out"]
    assert len(held) > 0 and set(np.unique(held.y)) == {-1}
    assert {"uniform-noise", "gaussian-noise", "rotated-90", "inverted"} <= set(data.ood)
    # train + validation are exactly the training images of the kept classes
    full = load_dataset("digits", split="train")
    assert len(data.train) + len(data.val) == int(np.sum(full.y < 8))


def test_max_train_caps_the_training_set():
    data = prepare_data(RunConfig(data=DataConfig(max_train=300)))
    assert len(data.train) + len(data.val) == 300


def test_bad_held_out_class_and_mismatched_ood_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not classes of digits"):
        prepare_data(RunConfig(data=DataConfig(held_out_classes=(12,))))
    with pytest.raises(DatasetError):
        prepare_data(RunConfig(data=DataConfig(ood_dataset="mnist", ood_root=str(tmp_path))))


def _tiny(**train) -> RunConfig:
    from spindrop.models import ModelConfig
    from spindrop.training import TrainConfig

    return RunConfig(
        name="tiny",
        data=DataConfig(max_train=200, max_test=50),
        model=ModelConfig(hidden=(8,)),
        train=TrainConfig(epochs=1, **train),
    )


def test_a_resumed_run_must_keep_its_settings(tmp_path):
    import pickle

    from spindrop.experiment import RunDirError, run_train

    run_train(_tiny(), tmp_path / "tiny", progress=False)
    with pytest.raises(RunDirError) as info:
        run_train(_tiny(lr=0.01), tmp_path / "tiny", progress=False)
    assert info.value.problem.endswith("(train.lr: 0.005 -> 0.01)")
    copy = pickle.loads(pickle.dumps(info.value))  # crosses process pools intact
    assert str(copy) == str(info.value) and copy.fix == info.value.fix
    model, _ = run_train(_tiny(lr=0.01), tmp_path / "tiny", progress=False, overwrite=True)
    assert model.config.hidden == (8,)


def test_settings_missing_from_an_older_config_json_count_as_defaults():
    from spindrop.experiment import config_differences

    stored = RunConfig().to_dict()
    del stored["model"]["frozen_layers"], stored["evaluate"]["seed"]
    assert config_differences(stored, RunConfig()) == []
    stored["model"]["hidden"] = [64]
    assert config_differences(stored, RunConfig()) == ["model.hidden: [64] -> [256]"]


def test_the_study_names_its_own_fix_for_a_changed_run(tmp_path):
    from spindrop.experiment import RunDirError, run_train
    from spindrop.study import _run_one

    run_dir = tmp_path / "study" / "runs" / "tiny"
    run_train(_tiny(), run_dir, progress=False)
    with pytest.raises(RunDirError, match=r"the study's settings changed since that run: delete"):
        _run_one((_tiny(seed=1), str(run_dir), False))


def test_the_sweep_in_steps_equals_one_sweep_over_the_grid():
    from spindrop.dropout import DropoutConfig
    from spindrop.experiment import build_model, sweep_in_steps
    from spindrop.models import ModelConfig
    from spindrop.variation import SweepConfig, variation_sweep

    config = RunConfig(
        data=DataConfig(max_train=200, max_test=40),
        model=ModelConfig(hidden=(8,), dropout=DropoutConfig(p=0.3)),
        variation=SweepConfig(
            sigma_ic0_rel=(0.0, 0.05), sigma_delta_rel=(0.0,), temperatures_c=(25, 75), chips=1
        ),
    )
    config = replace_evaluate(config, mc_samples=2)
    data = prepare_data(config)
    model = build_model(config, data).eval()
    noise = {"uniform-noise": data.ood["uniform-noise"]}
    steps = []

    class Bar:
        def set_postfix_str(self, label):
            steps.append(label)

        def update(self):
            pass

    whole = variation_sweep(model, data.val, data.test, noise, config.variation, 2, 95.0)
    assert sweep_in_steps(config, model, data, noise, Bar()) == whole
    assert len(whole["rows"]) == 8 and len(steps) == 4  # 2 drivers x 2 sigma(Ic0)
    assert steps[0] == "variation: fixed driver, sigma(Ic0) 0, sigma(Delta) 0"


def replace_evaluate(config: RunConfig, **changes) -> RunConfig:
    from dataclasses import replace

    return replace(config, evaluate=replace(config.evaluate, **changes))


def test_a_first_write_killed_half_way_does_not_block_the_run(tmp_path):
    from spindrop.experiment import run_train

    run_dir = tmp_path / "tiny"
    run_dir.mkdir()
    (run_dir / ".config.json.abc123.tmp").write_text('{"na')  # kill -9 during the first write
    run_train(_tiny(), run_dir, progress=False)
    assert (run_dir / "train" / "model.pt").is_file()
