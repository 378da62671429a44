"""One experiment end to end: data, model, training and evaluation, with artifacts on disk.

A :class:`RunConfig` says everything about a run; :func:`run_train` and :func:`run_evaluate`
write under ``<run_dir>/``:

* ``config.json``: the resolved configuration;
* ``train/checkpoint.pt`` (resumable), ``train/model.pt`` (final weights), ``train/metrics.json``;
* ``evaluate/report.json`` plus plots (uncertainty histograms, ROC, corruption accuracy,
  reliability, variation sweep).

A run directory is locked (:func:`hdl._io.locked_dir`) while a process trains, evaluates or
exports it, and a resumed run must have exactly the stored configuration: a changed setting is a
:class:`RunDirError` (use a new name, or ``overwrite=True`` to start the run over), never old
weights relabelled with new settings.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from hdl._io import LOCK_NAME, atomic_write, atomic_write_json, locked_dir, write_error
from hdl.errors import NeurocimError
from spindrop import plots
from spindrop.data import ArrayDataset, DatasetError, load_dataset, shift_suite, split_classes
from spindrop.evaluation import (
    MEASURES,
    EvalConfig,
    Evaluation,
    evaluate,
    evaluation_steps,
    step,
)
from spindrop.graph_model import DROPOUT_MODES, GraphNet, check_fits, load_architecture
from spindrop.models import BayesianBinaryNet, ModelConfig
from spindrop.training import (
    CheckpointError,
    TrainConfig,
    error_summary,
    load_torch_file,
    train,
)
from spindrop.variation import SweepConfig, variation_sweep

#: What a run trains: a BayesianBinaryNet of model.arch or a GraphNet of arch.file.
Model = BayesianBinaryNet | GraphNet

__all__ = [
    "ArchConfig",
    "DataConfig",
    "PreparedData",
    "RunConfig",
    "RunDirError",
    "build_model",
    "check_run_name",
    "has_dropout",
    "load_trained",
    "prepare_data",
    "read_run_config",
    "run_evaluate",
    "run_export",
    "run_train",
    "write_run_config",
]

#: Range of ``neurocim export --input-bits`` (the network format's ``input.bits``).
INPUT_BITS = (1, 16)


class RunDirError(NeurocimError, ValueError):
    """A run directory that cannot take this run (other settings, not a run directory).

    ``problem`` names the directory and what is wrong, ``fix`` what to do; the message is
    ``"<problem>: <fix>"`` (a caller such as the study may offer its own fix).
    """

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.problem, self.fix = problem, fix

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}"


@dataclass(frozen=True)
class DataConfig:
    """Which data a run learns from and which out-of-distribution sets it is tested on.

    Attributes:
        dataset: in-distribution dataset name (``digits`` is embedded; others read from ``root``).
        root: directory (or file) holding the dataset's standard files; ``None`` for embedded data.
        val_fraction: fraction of the training split held out (stratified) for validation: the
            OOD threshold is calibrated on it.
        held_out_classes: classes removed from training and used as an OOD set ``held-out``.
        ood_dataset: another dataset of the same image shape used as an OOD set (e.g. MNIST
            against Fashion-MNIST; a seeded random subset as large as the test set);
            ``ood_root`` says where its files are.
        max_train: cap on training examples (``None`` = all), for quick runs.
        max_test: cap on test examples (a stratified subset; ``None`` = all); derived OOD
            sets follow the test set's size.
    """

    dataset: str = "digits"
    root: str | None = None
    val_fraction: float = 0.15
    held_out_classes: tuple[int, ...] = ()
    ood_dataset: str | None = None
    ood_root: str | None = None
    max_train: int | None = None
    max_test: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "held_out_classes", tuple(self.held_out_classes))
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"data.val_fraction must be in (0, 0.5), got {self.val_fraction}")
        for key in ("max_train", "max_test"):
            value = getattr(self, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(
                    f"data.{key} must be a positive integer (or left out for all), got {value!r}"
                )


_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArchConfig:
    """A searched (or hand-made) IR architecture to train instead of ``model.arch``.

    Attributes:
        file: the architecture: a ``network.json`` (weights, if any, are ignored), a directory
            holding one, or a search directory with ``winner/network.json``. ``None`` trains
            ``model.arch`` (mlp / cnn).
        digest: SHA-256 of the architecture file, filled in when the configuration is built
            (:func:`neurocim.config.build_config`), so an edited file is a changed setting: a
            run does not resume, evaluate or export with another architecture than it trained.
        dropout: ``network`` (each edge's own dropout spec), ``model`` (``model.dropout`` by
            its placement) or ``none`` (a deterministic BNN); see
            :class:`spindrop.graph_model.GraphNet`.

    With a ``file``, the architecture gives the layers, edges and weight bits; ``model`` gives
    ``timesteps``, ``beta``, ``latent_init`` and the MTJ ``dropout`` device and pulse;
    ``model.arch``, ``hidden``, ``conv_*`` and ``weight_bits`` are not used.
    """

    file: str | None = None
    digest: str | None = None
    dropout: str = "network"

    def __post_init__(self) -> None:
        if self.file is not None and (not isinstance(self.file, str) or not self.file):
            raise ValueError(f"arch.file must be a path (a non-empty string), got {self.file!r}")
        if self.dropout not in DROPOUT_MODES:
            raise ValueError(
                f"arch.dropout must be one of {list(DROPOUT_MODES)}, got {self.dropout!r}"
            )
        if self.digest is not None:
            if self.file is None:
                raise ValueError("arch.digest needs arch.file (the architecture it belongs to)")
            if not isinstance(self.digest, str) or not _DIGEST.fullmatch(self.digest):
                raise ValueError(
                    f"arch.digest must be 64 lower-case hex digits (SHA-256), got {self.digest!r}"
                )

    @property
    def enabled(self) -> bool:
        return self.file is not None


@dataclass(frozen=True)
class RunConfig:
    """Everything about one run (the sections of the TOML config file)."""

    name: str = "digits-mlp"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    variation: SweepConfig = field(default_factory=SweepConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)

    def __post_init__(self) -> None:
        check_run_name(self.name)
        if self.arch.enabled:
            if self.model.frozen_layers:
                raise ValueError(
                    "model.frozen_layers indexes the layers of model.arch; it cannot be used "
                    "with arch.file (leave it out)"
                )
            if self.model.dropout.enabled and self.arch.dropout != "model":
                raise ValueError(
                    f"model.dropout.p = {self.model.dropout.p} is not used with arch.dropout "
                    f"{self.arch.dropout!r}: set arch.dropout = 'model' to put it on the "
                    "architecture's edges, or leave model.dropout.p at 0"
                )
        _check_seed(self.seed, "seed")
        _check_seed(self.variation.seed, "variation.seed")
        # the sweep's grid is checked here, where its plots need it (SweepConfig takes any)
        for key in ("sigma_ic0_rel", "sigma_delta_rel", "temperatures_c"):
            if not getattr(self.variation, key):
                raise ValueError(
                    f"variation.{key} must list at least one value (the sweep's grid), got []"
                )
        if self.variation.measure not in MEASURES:
            raise ValueError(
                f"variation.measure must be one of {MEASURES}, got {self.variation.measure!r}"
            )

    def to_dict(self) -> dict:
        return _plain(asdict(self))


#: Largest seed accepted anywhere (NumPy and scikit-learn take seeds in 0 .. 2**32 - 1).
MAX_SEED = 2**32 - 1

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def check_run_name(name: object) -> str:
    """``name`` if it is a valid run name: one directory name under the build directory.

    A name must start with a letter or digit and hold only letters, digits and ``. _ + -``
    (at most 100 characters), so that ``build/<name>`` is a new directory inside ``build/``:
    neither ``build/`` itself (an empty name) nor a path outside it (``../x``, ``/tmp/x``).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"name must be 1-100 letters, digits, '.', '_', '+' or '-' starting with a letter "
            f"or digit (one directory under the build directory), got {name!r}: "
            "e.g. --set name=digits-mlp"
        )
    return name


def _check_seed(value: object, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{key} must be an integer in 0..{MAX_SEED}, got {value!r}")


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if is_dataclass(obj):
        return _plain(asdict(obj))
    return obj


@dataclass
class PreparedData:
    train: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    ood: dict[str, ArrayDataset]


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, split and derive the OOD sets for a run (deterministic for the run's seed)."""
    data = config.data
    full_train = load_dataset(data.dataset, data.root, "train")
    test = load_dataset(data.dataset, data.root, "test")
    ood: dict[str, ArrayDataset] = {}
    if data.held_out_classes:
        bad = [c for c in data.held_out_classes if not 0 <= c < full_train.num_classes]
        if bad:
            raise DatasetError(
                f"data.held_out_classes {bad} are not classes of {data.dataset} "
                f"(0..{full_train.num_classes - 1})"
            )
        full_train, _ = split_classes(full_train, data.held_out_classes)
        test, ood["held-out"] = split_classes(test, data.held_out_classes)
    if data.max_test is not None and data.max_test < len(test):
        keep, _ = _stratified_split(test.y, config.seed, "data.max_test", train_size=data.max_test)
        test = test.subset(np.sort(keep))
    if data.max_train is not None and data.max_train < len(full_train):
        keep, _ = _stratified_split(
            full_train.y, config.seed, "data.max_train", train_size=data.max_train
        )
        full_train = full_train.subset(np.sort(keep))
    idx_train, idx_val = _stratified_split(
        full_train.y, config.seed, "data.val_fraction", test_size=data.val_fraction
    )
    train_set = full_train.subset(np.sort(idx_train), name=f"{full_train.name}-train")
    val_set = full_train.subset(np.sort(idx_val), name=f"{full_train.name}-val")
    ood.update(shift_suite(test, seed=config.seed))
    if data.ood_dataset is not None:
        other = load_dataset(data.ood_dataset, data.ood_root, "test")
        if other.shape != test.shape:
            raise DatasetError(
                f"data.ood_dataset {data.ood_dataset!r} has images of shape {other.shape}, "
                f"{data.dataset!r} has {test.shape}: pick an OOD dataset of the same shape"
            )
        if len(other) > len(test):  # as many OOD as in-distribution test inputs
            pick = np.random.default_rng(config.seed).choice(len(other), len(test), replace=False)
            other = other.subset(np.sort(pick))
        ood[data.ood_dataset] = other
    return PreparedData(train_set, val_set, test, ood)


def _stratified_split(
    labels: np.ndarray, seed: int, key: str, **size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split of ``labels``; a split too small for every class to
    appear on both sides is a :class:`DatasetError` naming the setting ``key``."""
    try:
        return train_test_split(np.arange(len(labels)), stratify=labels, random_state=seed, **size)
    except ValueError as exc:
        raise DatasetError(
            f"{key} leaves too few images to keep every one of the {len(np.unique(labels))} "
            f"classes on both sides of a stratified split ({exc}): raise {key}"
        ) from None


def build_model(config: RunConfig, data: PreparedData) -> Model:
    """The run's untrained model: :class:`BayesianBinaryNet` of ``config.model``, or a
    :class:`spindrop.graph_model.GraphNet` of ``config.arch.file`` (whose input shape and
    number of outputs must be the data's, and whose timesteps and leak ``config.model``'s,
    else an ``ArchitectureError`` naming both)."""
    if not config.arch.enabled:
        return BayesianBinaryNet(
            config.model, data.train.shape, data.train.num_classes, seed=config.seed
        )
    arch = load_architecture(config.arch.file, config.arch.digest)
    check_fits(arch, data.train.shape, data.train.num_classes, config.data.dataset, config.model)
    return GraphNet(arch, config.model, seed=config.seed, dropout=config.arch.dropout)


def has_dropout(model: Model) -> bool:
    """Whether ``model`` is Bayesian: it has at least one MTJ dropout layer (edge)."""
    return any(True for _ in model.dropout_layers())


def _save_model(path: Path, model: Model) -> None:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def config_differences(stored: dict, config: RunConfig) -> list[str]:
    """``key: old -> new`` for every setting of ``config`` that differs from the ``stored``
    resolved configuration (a ``config.json``); a key the stored file lacks counts as its
    default value (files written before the key existed)."""
    old, new = _flatten(stored), _flatten(config.to_dict())
    default = _flatten(RunConfig().to_dict())
    missing = object()
    diffs = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, default.get(key, missing)), new.get(key, missing)
        if before != after:
            show = [("(unset)" if v is missing else json.dumps(v)) for v in (before, after)]
            diffs.append(f"{key}: {show[0]} -> {show[1]}")
    return diffs


def _stored_arch_file(file: str, run_dir: Path) -> str:
    """``arch.file`` as ``config.json`` stores it: relative to ``run_dir`` when the
    architecture lies in the directory above it (a flow's ``search/`` beside its ``model/``),
    so a run moved or cloned with that directory names the same file; else as it is."""
    path, home = Path(file), Path(run_dir).resolve()
    if path.is_absolute() and home.parent in path.resolve().parents:
        return os.path.relpath(path.resolve(), home)
    return file


def write_run_config(run_dir: str | Path, config: RunConfig) -> None:
    """Write ``<run_dir>/config.json``: ``config.to_dict()``, with ``arch.file`` relative to
    ``run_dir`` when it lies in the directory above (:func:`read_run_config` resolves it), so
    the file is the same byte for byte wherever the run's directory lies."""
    run_dir = Path(run_dir)
    values = config.to_dict()
    if config.arch.file is not None:
        values["arch"]["file"] = _stored_arch_file(config.arch.file, run_dir)
    atomic_write_json(run_dir / "config.json", values)


def read_run_config(run_dir: str | Path) -> dict:
    """The stored configuration of ``run_dir`` (its ``config.json``, a dict of the sections)
    with a relative ``arch.file`` resolved against ``run_dir``. Raises ``FileNotFoundError``,
    ``OSError`` or ``ValueError`` (not JSON, not a JSON object) for the caller to report."""
    run_dir = Path(run_dir)
    stored = json.loads((run_dir / "config.json").read_text())
    if not isinstance(stored, dict):
        raise ValueError("not a JSON object")
    arch = stored.get("arch")
    if isinstance(arch, dict) and isinstance(arch.get("file"), str) and arch["file"]:
        if not Path(arch["file"]).is_absolute():
            arch["file"] = str((run_dir / arch["file"]).resolve())
    return stored


def _is_leftover(path: Path) -> bool:
    """A temporary file of :func:`hdl._io.atomic_write` that a killed process left behind."""
    return path.is_file() and path.name.startswith(".") and path.name.endswith(".tmp")


def _prepare_run_dir(config: RunConfig, run_dir: Path, overwrite: bool) -> None:
    """Check that ``run_dir`` (locked, existing) can take this run before anything is written:
    empty, or a run with the same configuration; ``overwrite`` first removes an old run."""
    entries = sorted(p for p in run_dir.iterdir() if p.name != LOCK_NAME)
    if all(_is_leftover(p) for p in entries):  # empty, or what a killed first write left
        return
    stored_path = run_dir / "config.json"
    if not stored_path.is_file() and not (run_dir / "train").is_dir():
        raise RunDirError(
            f"{run_dir} is not empty and holds no neurocim run (no config.json)",
            "choose another name with --set name=<new> or another --build-dir",
        )
    if overwrite:
        for entry in entries:
            try:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError as exc:
                raise write_error(entry, exc) from exc
        return
    fix = "choose a new name with --set name=<new>, or pass --overwrite to replace the old run"
    try:
        stored = read_run_config(run_dir)
    except FileNotFoundError:
        raise RunDirError(
            f"{run_dir} has training files but no config.json, so a resumed run cannot be "
            "checked against its settings",
            fix,
        ) from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{stored_path} cannot be read ({exc})", fix) from None
    diffs = config_differences(stored, config)
    if diffs:
        more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
        raise RunDirError(
            f"run directory {run_dir} holds a run with other settings "
            f"({'; '.join(diffs[:4])}{more})",
            f"resume it with its own settings, {fix}",
        )


def run_train(
    config: RunConfig, run_dir: str | Path, progress: bool = True, overwrite: bool = False
) -> tuple[Model, PreparedData]:
    """Train the run's model (resuming from its checkpoint) and write the training artifacts.

    ``run_dir`` is locked for the whole run. An existing run there must have the same
    configuration (else :class:`RunDirError`, before anything is written); ``overwrite``
    removes it first and trains from the start.
    """
    run_dir = Path(run_dir)
    with locked_dir(run_dir, "run directory"):
        _prepare_run_dir(config, run_dir, overwrite)
        data = prepare_data(config)
        model = build_model(config, data)  # a misfit architecture fails before any file
        write_run_config(run_dir, config)
        start = time.perf_counter()
        checkpoint = run_dir / "train" / "checkpoint.pt"
        result = train(model, data.train, config.train, data.val, checkpoint, progress)
        _save_model(run_dir / "train" / "model.pt", model)
        atomic_write_json(
            run_dir / "train" / "metrics.json",
            {
                "history": result.history,
                "resumed_from_epoch": result.resumed_from_epoch,
                "seconds": time.perf_counter() - start,
                "parameters": sum(p.numel() for p in model.parameters()),
            },
        )
    return model, data


def _trained_model_path(run_dir: Path) -> Path:
    path = run_dir / "train" / "model.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"no trained model at {path}: run `neurocim train` for this run first"
        )
    return path


def load_trained(config: RunConfig, run_dir: str | Path) -> tuple[Model, PreparedData]:
    """The trained model of ``run_dir`` (written by :func:`run_train`) and the run's data.

    A missing ``train/model.pt`` is a :class:`FileNotFoundError`; an unreadable one (truncated,
    empty, not a model of this configuration) a :class:`CheckpointError` naming the fix.
    """
    path = _trained_model_path(Path(run_dir))
    data = prepare_data(config)
    model = build_model(config, data)
    try:
        model.load_state_dict(load_torch_file(path))
    except Exception as exc:  # any failure to read or fit the file means it is unusable
        raise CheckpointError(
            f"{path} is not a trained model of this run ({error_summary(exc)}): delete it and run "
            "`neurocim train` again with the run's settings (it is rebuilt from "
            "train/checkpoint.pt), or retrain with --overwrite"
        ) from None
    return model.eval(), data


def run_evaluate(
    config: RunConfig,
    run_dir: str | Path,
    model: Model | None = None,
    data: PreparedData | None = None,
    sweep: bool = True,
    corruptions: bool = True,
    progress: bool = True,
) -> dict:
    """Evaluate the run's trained model and write ``evaluate/report.json`` and the plots.

    The run directory is locked meanwhile; ``progress`` shows a bar over the steps (data sets,
    corruptions, plots, variation sweep).
    """
    run_dir = Path(run_dir)
    if model is None or data is None:
        _trained_model_path(run_dir)
    with locked_dir(run_dir, "run directory"):
        if model is None or data is None:
            model, data = load_trained(config, run_dir)
        return _evaluate_locked(config, run_dir, model, data, sweep, corruptions, progress)


def _evaluate_locked(
    config: RunConfig,
    run_dir: Path,
    model: Model,
    data: PreparedData,
    sweep: bool,
    corruptions: bool,
    progress: bool,
) -> dict:
    out = run_dir / "evaluate"
    corruptions = corruptions and bool(config.evaluate.corruptions)  # [] = none
    sweeping = sweep and has_dropout(model)
    total = evaluation_steps(len(data.ood), config.evaluate, corruptions) + 1
    if sweeping:
        total += len(_sweep_groups(config.variation)) + 1
    with tqdm(total=total, desc="evaluate", unit="step", disable=not progress, leave=False) as bar:
        ev = evaluate(
            model,
            data.val,
            data.test,
            data.ood,
            config.evaluate,
            with_corruptions=corruptions,
            bar=bar,
        )
        with step(bar, "plots"):
            report = _plot_evaluation(config, ev, data, corruptions, out, has_dropout(model))
        if sweeping:
            noise = {k: val for k, val in data.ood.items() if k.endswith("noise")}
            report["variation"] = sweep_in_steps(config, model, data, noise, bar)
            with step(bar, "variation plots"):
                _plot_variation(report["variation"]["rows"], noise, out, config.name)
    atomic_write_json(out / "report.json", report)
    return report


def _sweep_groups(sweep: SweepConfig) -> list[tuple[str, float, float]]:
    return list(itertools.product(sweep.drivers, sweep.sigma_ic0_rel, sweep.sigma_delta_rel))


def sweep_in_steps(
    config: RunConfig,
    model: Model,
    data: PreparedData,
    noise: dict[str, ArrayDataset],
    bar: Any = None,
) -> dict:
    """:func:`spindrop.variation.variation_sweep` over ``config.variation``, one (driver,
    sigma(Ic0), sigma(Delta)) group (all temperatures and chips) per step of ``bar``.

    The result equals one call over the whole grid: every group re-derives the same nominal
    threshold from the validation set (one extra validation pass per group, about 2 % of the
    group's work) and the rows come in the same order.
    """
    sweep = config.variation
    result: dict | None = None
    for driver, s_ic0, s_delta in _sweep_groups(sweep):
        label = f"variation: {driver} driver, sigma(Ic0) {s_ic0:g}, sigma(Delta) {s_delta:g}"
        with step(bar, label):
            part = variation_sweep(
                model,
                data.val,
                data.test,
                noise,
                replace(
                    sweep, drivers=(driver,), sigma_ic0_rel=(s_ic0,), sigma_delta_rel=(s_delta,)
                ),
                config.evaluate.mc_samples,
                config.evaluate.percentile,
            )
        if result is None:
            result = part
        else:
            result["rows"].extend(part["rows"])
    if result is None:  # an empty grid
        return variation_sweep(
            model,
            data.val,
            data.test,
            noise,
            sweep,
            config.evaluate.mc_samples,
            config.evaluate.percentile,
        )
    return result


def _plot_evaluation(
    config: RunConfig,
    ev: Evaluation,
    data: PreparedData,
    corruptions: bool,
    out: Path,
    bayesian: bool,
) -> dict:
    """The report of an evaluation and its plots (histograms, ROC, reliability, corruption)."""
    report = {"run": config.name, "bayesian": bayesian, **ev.report}
    for measure in config.evaluate.measures:
        threshold = report["abstention"][measure]["threshold"]
        ood_scores = {name: s[measure] for name, s in ev.scores_ood.items()}
        plots.plot_uncertainty_histograms(
            ev.scores_test[measure],
            ood_scores,
            threshold,
            out / f"uncertainty_{measure}.png",
            measure=measure,
            title=f"{config.name}: {measure}",
        )
        plots.plot_roc(
            ev.scores_test[measure],
            ood_scores,
            out / f"roc_{measure}.png",
            title=f"{config.name}: {measure}",
        )
    plots.plot_reliability(
        ev.mean_probs_test, data.test.y, out / "reliability.png", title=config.name
    )
    if corruptions:
        plots.plot_corruption_accuracy(
            {config.name: report["corruption"]},
            [0, *config.evaluate.severities],
            out / "corruption.png",
            title=config.name,
        )
    return report


def _plot_variation(rows: list[dict], noise: dict, out: Path, name: str) -> None:
    """Two views of the sweep: against sigma(Ic0) per sigma(Delta) at the temperature closest
    to 25 C, and against temperature with no process variation."""
    y_keys = ["accuracy", *[f"detect:{k}" for k in noise]]
    room = min({r["temperature_c"] for r in rows}, key=lambda t: abs(t - 25.0))
    first_driver = rows[0]["driver"]
    at_room = [r for r in rows if r["temperature_c"] == room and r["driver"] == first_driver]
    plots.plot_variation(
        at_room,
        "sigma_ic0_rel",
        y_keys,
        out / "variation_process.png",
        group_key="sigma_delta_rel",
        title=f"{name}: process variation at {room:g} C ({first_driver} driver)",
    )
    nominal = [r for r in rows if r["sigma_ic0_rel"] == 0.0 and r["sigma_delta_rel"] == 0.0]
    if len(nominal) > 1:
        plots.plot_variation(
            nominal,
            "temperature_c",
            y_keys,
            out / "variation_temperature.png",
            group_key="driver",
            title=f"{name}: temperature (no process variation)",
        )


def run_export(
    config: RunConfig,
    run_dir: str | Path,
    input_bits: int = 8,
    samples: int = 4,
    progress: bool = False,
) -> dict:
    """Export the run's trained model to ``<run_dir>/network/`` (IR files and ``network.nir``)
    and check it against the float model on the test set (same quantized inputs, replayed
    masks); returns the check's report.

    The arguments are checked before anything is read, the run directory is locked meanwhile,
    and the network files are written only once the check has run, into a temporary directory
    that then replaces ``network/`` as a whole (files derived from an earlier export there, such
    as cost reports, go with it); ``progress`` shows a bar over the steps (load, export, check,
    write).
    """
    check_export_args(input_bits, samples)
    run_dir = Path(run_dir)
    _trained_model_path(run_dir)
    with (
        locked_dir(run_dir, "run directory"),
        tqdm(total=4, desc="export", unit="step", disable=not progress, leave=False) as bar,
    ):
        return _export_locked(config, run_dir, input_bits, samples, bar)


def check_export_args(input_bits: object, samples: object) -> None:
    """``input_bits`` in 1..16 and ``samples`` >= 1, else an :class:`ExportError` naming the
    option (checked before any file is written)."""
    from spindrop.export import ExportError

    low, high = INPUT_BITS
    if isinstance(input_bits, bool) or not isinstance(input_bits, int):
        raise ExportError(f"input_bits must be an integer in {low}..{high}, got {input_bits!r}")
    if not low <= input_bits <= high:
        raise ExportError(
            f"input_bits must be in {low}..{high} (bits of the chip's input pixels; 8 for "
            f"8-bit images), got {input_bits}"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ExportError(
            f"samples must be a positive integer (Monte-Carlo samples of the check), "
            f"got {samples!r}"
        )


def _export_locked(
    config: RunConfig, run_dir: Path, input_bits: int, samples: int, bar: Any
) -> dict:
    from hdl.ir import DataSource, save_network
    from hdl.nir_io import write_nir
    from spindrop.export import compare, export_network

    with step(bar, "loading the trained model and the data"):
        model, data = load_trained(config, run_dir)
    with step(bar, "exporting to the network format"):
        # the data it was trained on, so that `neurocim sim` finds test images for a copy
        root = None if config.data.root is None else str(config.data.root)
        net = export_network(
            model,
            input_bits=input_bits,
            name=config.name,
            dataset=DataSource(config.data.dataset, root),
        )
    out = run_dir / "network"
    # the check first: a failure leaves the network files of an earlier export as they were
    passes = samples if has_dropout(model) else 1
    with step(bar, f"checking {len(data.test)} test images x {passes} samples"):
        check = compare(model, net, data.test.x, data.test.y, samples)
    with step(bar, f"writing {out}"):
        report = {"network": str(out), **check}
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=run_dir))
        except OSError as exc:
            raise write_error(run_dir, exc) from exc
        try:
            save_network(net, tmp)
            try:
                write_nir(net, tmp / "network.nir")
            except OSError as exc:
                raise write_error(out / "network.nir", exc) from exc
            atomic_write_json(tmp / "export_report.json", report)
            _replace_dir(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def _replace_dir(new: Path, out: Path) -> None:
    """Move the complete directory ``new`` to ``out``, replacing an older ``out`` as a whole:
    a reader sees the old set of files or the new one, never a mix (the old one is back in
    place if the move fails)."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    try:
        if old.exists():
            shutil.rmtree(old)
        if out.exists():
            os.replace(out, old)
        try:
            os.replace(new, out)
        except BaseException:
            if old.exists():
                os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise write_error(out, exc) from exc
