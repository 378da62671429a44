"""Test images for the sim step: the data set a network was trained on and its test images.

:func:`load_images` picks the test images of the network's data set (from the network's
``dataset`` field, its metadata, the run directory it was exported into (:func:`dataset_of`),
or an explicit name) and quantizes them like the export does
(:func:`hdl.golden.quantize_input`), as an :class:`ImageSet` for
:func:`neurocim.flow.sim.run_sim`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hdl.ir import Network
from neurocim.flow.common import FlowError, export_run_dir

__all__ = ["ImageSet", "dataset_of", "load_images"]


@dataclass
class ImageSet:
    """Test images for :func:`neurocim.flow.sim.run_sim`.

    Attributes:
        x: int64 ``(N, C, H, W)`` quantized pixels (``0 .. 2^input.bits - 1``).
        labels: int64 ``(N,)`` class indices (-1: unlabelled).
        indices: the images' indices in the data set's test split.
        dataset: the data set's name.
        source: where the data set's name came from (``--data``, the network's metadata or the
            run's ``config.json``).
    """

    x: np.ndarray
    labels: np.ndarray
    indices: list[int]
    dataset: str
    source: str


def dataset_of(
    net: Network, network_path: Path | None = None
) -> tuple[str, str | None, str] | None:
    """The data set a network was trained on: ``(name, root, where it says so)``, from the
    network's ``dataset`` field (written by ``neurocim export``), else (networks exported before
    that field existed) its metadata (keys ``dataset`` and ``data_root``) or the ``config.json``
    of the run directory it was exported into; ``None`` when none says."""
    if net.dataset is not None:
        return net.dataset.name, net.dataset.root, "the network file's dataset field"
    meta = net.metadata or {}
    if isinstance(meta.get("dataset"), str):
        root = meta.get("data_root")
        return meta["dataset"], root if isinstance(root, str) else None, "the network's metadata"
    run = export_run_dir(network_path)
    if run is not None:
        try:
            data = json.loads((run / "config.json").read_text()).get("data", {})
        except (OSError, ValueError, AttributeError):
            data = {}
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            root = data.get("root")
            return (
                data["dataset"],
                root if isinstance(root, str) else None,
                f"the run configuration {run / 'config.json'}",
            )
    return None


def load_images(
    net: Network,
    images: int,
    *,
    data: str | None = None,
    data_root: str | None = None,
    network_path: Path | None = None,
    seed: int = 0,
) -> ImageSet:
    """``images`` test images of the network's data set, quantized to ``input.bits``.

    The data set is ``data`` if given, else :func:`dataset_of`; the images are drawn without
    replacement from its test split with ``seed`` (kept in test-split order) and quantized with
    :func:`hdl.golden.quantize_input`, as ``neurocim export`` checks the network.

    Raises:
        FlowError: no data set known, wrong image shape, too many images asked for.
        spindrop.data.DatasetError: unknown data set or missing files.
    """
    from hdl.golden import quantize_input

    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise FlowError(f"--images must be a positive integer, got {images!r}")
    if data is not None:
        name, root, source = data, data_root, "--data"
    else:
        found = dataset_of(net, network_path)
        if found is None:
            from spindrop.data import DATASETS

            raise FlowError(
                f"the network {net.name!r} does not say which data set it was trained on (no "
                "'dataset' in its metadata and no run config.json next to it): pass --data "
                f"NAME, one of {', '.join(DATASETS)} (and --data-root DIR if it needs files)"
            )
        name, root, source = found
        root = data_root if data_root is not None else root
    from spindrop.data import DATASETS, DatasetError, load_dataset

    try:
        test = load_dataset(name, root, "test")
    except DatasetError as err:
        if name in DATASETS and root is None and name != "digits":
            raise FlowError(f"{err}; give that directory with --data-root DIR") from err
        raise
    if tuple(test.shape) != tuple(net.input.shape):
        raise FlowError(
            f"data set {name!r} (from {source}) has images of shape {test.shape}, the network's "
            f"input is {tuple(net.input.shape)}: pass the --data the network was trained on"
        )
    if images > len(test):
        raise FlowError(
            f"--images {images} is more than the {len(test)} test images of {name!r}: "
            f"ask for at most {len(test)}"
        )
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(test), size=images, replace=False))
    x = quantize_input(test.x[idx], net.input.bits)
    return ImageSet(
        x=x,
        labels=np.asarray(test.y[idx], dtype=np.int64),
        indices=[int(i) for i in idx],
        dataset=name,
        source=source,
    )
