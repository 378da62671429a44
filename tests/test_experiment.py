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
