"""Image data sets as arrays (:mod:`.datasets`) and their shifted variants (:mod:`.shifts`).

``load_dataset(name, root, split)`` returns an :class:`ArrayDataset` with float32 ``x`` of shape
``(N, C, H, W)`` in ``[0, 1]`` and int64 ``y``; ``shift_suite(test_set)`` builds the standard
out-of-distribution sets and ``corrupt(ds, kind, severity)`` the graded corruptions.
"""

from __future__ import annotations

from spindrop.data.datasets import (
    DATASETS,
    SPLITS,
    ArrayDataset,
    DatasetError,
    load_cifar,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist_5k,
    load_mnist_idx,
    load_tinyimagenet,
)
from spindrop.data.shifts import (
    CORRUPTIONS,
    SEVERITIES,
    corrupt,
    flipped,
    gaussian_noise,
    inverted,
    rotated,
    shift_suite,
    split_classes,
    uniform_noise,
)

__all__ = [
    "CORRUPTIONS",
    "DATASETS",
    "SEVERITIES",
    "SPLITS",
    "ArrayDataset",
    "DatasetError",
    "corrupt",
    "flipped",
    "gaussian_noise",
    "inverted",
    "load_cifar",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist_5k",
    "load_mnist_idx",
    "load_tinyimagenet",
    "rotated",
    "shift_suite",
    "split_classes",
    "uniform_noise",
]
