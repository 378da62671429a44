"""Training-free scores of spiking architectures: SNASNet's kernel and two baselines.

**SNASNet's sparsity-aware Hamming kernel** (Kim et al., ECCV 2022, after NASWOT). For a batch of
``B`` inputs, every hidden spiking layer ``l`` and timestep ``t`` gives binary spike vectors
``x_i`` of ``N_l`` neurons (one per sample ``i``). With the Hamming distance
``H_ij = x_i . (1 - x_j) + (1 - x_i) . x_j``, the firing rates ``s_i = |x_i| / N_l`` and the
distance expected from the rates alone ``e_ij = s_i (1 - s_j) + (1 - s_i) s_j``::

    K = sum_{l, t} [ N_l - 0.5 * H / (E + 1e-3) ],     score = log |det(K / count)|

with ``count`` the number of (layer, timestep) terms. ``E`` is what SNASNet's released code
uses: the *rates* term ``E = e`` (``expected="rate"``), so that ``H / E`` is about ``N_l`` for
unrelated patterns and an off-diagonal entry is about ``N_l / 2``. Multiplying by ``N_l``
(``expected="count"``, ``E = N_l e``, the form written in some descriptions of the method) makes
``H / E`` about 1 instead; both are offered, ``rate`` is the default. The determinant's sign is
dropped, as SNASNet does (``numpy.linalg.slogdet``'s log-magnitude); a singular kernel scores
``-inf``. The kernel math (:func:`layer_kernel`, :func:`hamming_kernel`, :func:`kernel_score`)
is a pure function of spike arrays.

**Two forms** (:class:`ScoreConfig`), both with MTJ dropout off and the weights quantized as
the crossbar holds them (the model's own forward):

* ``snasnet`` (faithful to the released search code): batches of 256 drawn afresh from the
  training set for each of 2 repeats, batch-norm in training mode (batch statistics: a sample's
  spikes depend on the other samples of its batch), unseeded unless a seed is given, score =
  mean over the repeats. The released code resets the membranes at every forward pass
  (``neuron_init``), so ``carry_state`` is off here too; ``carry_state=True`` gives the
  variant in which the second batch starts from the membranes the first one left.
* ``project``: seeded batch draws, membranes reset, batch-norm in evaluation mode with its
  running statistics calibrated on a separate seeded batch (the per-channel thresholds the
  hardware holds once batch-norm is folded), so every sample's spikes are a function of that
  sample alone; same seed, same score, bit for bit.

**Baselines**: :func:`param_count` (crossbar weights) and :func:`weight_memory_bits`
(``sum weight_bits x weights``), which ZiCo (Li et al., ICLR 2023) found no earlier proxy beats
consistently; and :func:`zico`, chosen because it reads only the gradients that training
itself follows (through the weight STE and the spike surrogate) and no weight magnitudes, which
are meaningless for binary weights (synflow's ``|w| dR/dw`` or SNIP's ``|w g|`` see the latent
weights, not the +-1 the hardware holds). :func:`naswot` is NASWOT's unnormalised kernel on
the same spikes, for comparison. docs/nas-score.md (``benchmarks/nas_score.py``) measures how
each ranks trained accuracy on digits.

**For the search**: :func:`search_score` gives the ``(candidate, network) -> score`` function
:mod:`nas.scoring` asks for, on :func:`graph_model` (the IR's GraphNet at initialisation).
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hdl.errors import NeurocimError
from hdl.ir import Network

__all__ = [
    "BN_MODES",
    "EXPECTED",
    "FORMS",
    "ScoreConfig",
    "ScoreError",
    "ScoreResult",
    "draw_batches",
    "graph_model",
    "hamming_kernel",
    "kernel_score",
    "layer_kernel",
    "log_det",
    "naswot",
    "naswot_kernel",
    "param_count",
    "search_score",
    "snasnet_score",
    "traces_for",
    "weight_memory_bits",
    "zico",
]

EXPECTED = ("rate", "count")
FORMS = ("snasnet", "project")
BN_MODES = ("train", "eval", "calibrated")
EPS = 1e-3  # SNASNet's guard against E = 0


class ScoreError(NeurocimError, ValueError):
    """A score asked of something it cannot be computed on; the message says what to change."""


ArrayLike = np.ndarray | Tensor


def _as_numpy(a: ArrayLike) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------- kernel math


def layer_kernel(spikes: ArrayLike, expected: str = "rate") -> np.ndarray:
    """One (layer, timestep) term ``N - 0.5 H / (E + 1e-3)`` of SNASNet's kernel.

    Args:
        spikes: ``(B, N)`` array; entries ``> 0`` count as a spike (SNASNet binarises
            ``out > 0``), anything else as silence.
        expected: ``rate``: ``E_ij = s_i (1 - s_j) + (1 - s_i) s_j`` (SNASNet's code);
            ``count``: ``N`` times that.

    Returns:
        ``(B, B)`` float64 matrix.
    """
    if expected not in EXPECTED:
        raise ScoreError(f"expected must be one of {EXPECTED}, got {expected!r}")
    x = _as_numpy(spikes)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ScoreError(f"spikes must have shape (B, N) with N >= 1, got {x.shape}")
    x = (x > 0).astype(np.float64)
    n = x.shape[1]
    hamming = x @ (1.0 - x).T + (1.0 - x) @ x.T
    s = x.mean(axis=1, keepdims=True)
    e = s @ (1.0 - s).T + (1.0 - s) @ s.T
    if expected == "count":
        e = n * e
    return n - 0.5 * hamming / (e + EPS)


def _steps(traces: Mapping[str, ArrayLike]) -> list[np.ndarray]:
    """Every (layer, timestep) spike matrix ``(B, N)`` of a trace dict ``{name: (T, B, ...)}``."""
    if not traces:
        raise ScoreError("no spiking layer to score: the trace is empty")
    out = []
    batch = None
    for name, trace in traces.items():
        a = _as_numpy(trace)
        if a.ndim < 3:
            raise ScoreError(f"trace {name!r} must have shape (T, B, ...), got {a.shape}")
        if batch is not None and a.shape[1] != batch:
            raise ScoreError(f"trace {name!r} has batch {a.shape[1]}, the others {batch}")
        batch = a.shape[1]
        out.extend(step.reshape(batch, -1) for step in a)
    return out


def hamming_kernel(
    traces: Mapping[str, ArrayLike], expected: str = "rate"
) -> tuple[np.ndarray, int]:
    """``(sum over layers and timesteps of layer_kernel, number of terms)``."""
    steps = _steps(traces)
    total = np.zeros((steps[0].shape[0],) * 2)
    for step in steps:
        total += layer_kernel(step, expected)
    return total, len(steps)


def log_det(k: np.ndarray) -> float:
    """``log |det k|`` (sign dropped, as SNASNet's ``slogdet(K)[1]``); ``-inf`` if singular."""
    _, value = np.linalg.slogdet(np.asarray(k, dtype=np.float64))
    return float(value)


def kernel_score(traces: Mapping[str, ArrayLike], expected: str = "rate") -> float:
    """SNASNet's batch score ``log |det(K / count)|`` of one batch's traces."""
    k, count = hamming_kernel(traces, expected)
    return log_det(k / count)


def naswot_kernel(traces: Mapping[str, ArrayLike]) -> np.ndarray:
    """NASWOT's kernel on binary codes: ``sum_{l,t} (N_l - H)`` (Mellor et al., ICML 2021)."""
    steps = _steps(traces)
    total = np.zeros((steps[0].shape[0],) * 2)
    for step in steps:
        x = (step > 0).astype(np.float64)
        total += x.shape[1] - (x @ (1.0 - x).T + (1.0 - x) @ x.T)
    return total


# ----------------------------------------------------------------------------- running a model


@dataclass(frozen=True)
class ScoreConfig:
    """How the kernel score runs a model.

    Attributes:
        batch_size: samples per batch ``B`` (the kernel is ``B x B``).
        repeats: batches scored; the score is their mean.
        seed: seed of the batch draws (and the calibration batch); ``None`` draws unseeded.
        bn: ``train`` (batch statistics, SNASNet), ``eval`` (running statistics as they are:
            at initialisation mean 0, variance 1) or ``calibrated`` (running statistics
            measured on a separate batch, then evaluation mode).
        carry_state: the membranes of repeat ``r`` start where repeat ``r - 1`` left them.
        expected: ``rate`` or ``count``, see :func:`layer_kernel`.
    """

    batch_size: int = 256
    repeats: int = 2
    seed: int | None = 0
    bn: str = "calibrated"
    carry_state: bool = False
    expected: str = "rate"

    def __post_init__(self) -> None:
        for name in ("batch_size", "repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScoreError(f"score {name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ScoreError("score batch_size must be at least 2: the kernel compares samples")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ScoreError(f"score seed must be an integer >= 0 or None, got {self.seed!r}")
        if self.bn not in BN_MODES:
            raise ScoreError(f"score bn must be one of {BN_MODES}, got {self.bn!r}")
        if self.expected not in EXPECTED:
            raise ScoreError(f"score expected must be one of {EXPECTED}, got {self.expected!r}")

    @classmethod
    def of(cls, form: str, **overrides: object) -> ScoreConfig:
        """The ``snasnet`` (faithful) or ``project`` form, with fields overridden."""
        if form == "snasnet":
            base = cls(batch_size=256, repeats=2, seed=None, bn="train", carry_state=False)
        elif form == "project":
            base = cls(batch_size=256, repeats=2, seed=0, bn="calibrated", carry_state=False)
        else:
            raise ScoreError(f"score form must be one of {FORMS}, got {form!r}")
        return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ScoreResult:
    """The kernel score and its parts: one batch score per repeat and their mean."""

    score: float
    batch_scores: tuple[float, ...]
    firing_rate: float  # mean spike rate over all layers, timesteps and repeats


def draw_batches(n: int, batch_size: int, count: int, seed: int | None) -> list[np.ndarray]:
    """``count`` index batches of ``batch_size`` distinct samples out of ``n``, each drawn afresh
    (like SNASNet's new shuffled loader per repeat); seeded by ``seed`` (``None``: unseeded)."""
    if batch_size > n:
        raise ScoreError(f"score batch_size {batch_size} exceeds the {n} samples available")
    rng = np.random.default_rng(seed)
    return [rng.permutation(n)[:batch_size] for _ in range(count)]


def _device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (batches are moved there); CPU for a model without."""
    first = next(iter(model.parameters()), None)
    return torch.device("cpu") if first is None else first.device


def _calibrate(model: nn.Module, x: Tensor) -> None:
    """Set every batch-norm's running statistics to those of its inputs on batch ``x``.

    A training-mode ``spike_trace`` is watched by a hook on each batch-norm, which pools its
    inputs over the batch, the positions and the timesteps: ``running_mean`` = their mean,
    ``running_var`` = their unbiased variance (whatever the model does to its own running
    statistics during the pass).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    sums: dict[int, list] = {id(m): [0.0, 0.0, 0] for m in norms}

    def watch(module: nn.Module, args: tuple[Tensor, ...]) -> None:
        z = args[0].detach().double().transpose(0, 1).reshape(args[0].shape[1], -1)
        acc = sums[id(module)]
        acc[0] = acc[0] + z.sum(1)
        acc[1] = acc[1] + (z * z).sum(1)
        acc[2] += z.shape[1]

    handles = [m.register_forward_pre_hook(watch) for m in norms]
    try:
        model.train()
        model.spike_trace(x)  # type: ignore[operator]
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        for m in norms:
            total, squares, n = sums[id(m)]
            if n < 2:
                continue
            mean = total / n
            var = (squares - n * mean * mean) / (n - 1)
            m.running_mean.copy_(mean.to(m.running_mean.dtype))
            m.running_var.copy_(var.clamp_min(0).to(m.running_var.dtype))


def traces_for(model: nn.Module, images: ArrayLike, config: ScoreConfig) -> list[dict[str, Tensor]]:
    """The spike traces the score reads: one dict per repeat, in the form ``config`` asks.

    ``model`` must have ``spike_trace(x) -> {name: (T, B, ...)}``; ``carry_state`` also needs
    its ``carry`` keyword. The model's parameters, buffers and mode are restored afterwards.
    """
    trace = getattr(model, "spike_trace", None)
    if trace is None:
        raise ScoreError(f"{type(model).__name__} has no spike_trace(x) method to score")
    if config.carry_state and "carry" not in inspect.signature(trace).parameters:
        raise ScoreError(
            f"{type(model).__name__}.spike_trace cannot carry membranes between batches: "
            "set carry_state=False"
        )
    x_all = images if isinstance(images, Tensor) else torch.from_numpy(np.asarray(images))
    extra = 1 if config.bn == "calibrated" else 0
    batches = draw_batches(len(x_all), config.batch_size, config.repeats + extra, config.seed)
    device = _device(model)
    state = copy.deepcopy(model.state_dict())
    was_training = model.training
    try:
        if config.bn == "calibrated":
            _calibrate(model, x_all[torch.from_numpy(batches.pop())].to(device))
        model.train(config.bn == "train")
        out = []
        for r, index in enumerate(batches):
            x = x_all[torch.from_numpy(index)].to(device)
            if config.carry_state:
                out.append(model.spike_trace(x, carry=r > 0))  # type: ignore[operator]
            else:
                out.append(model.spike_trace(x))  # type: ignore[operator]
        return out
    finally:
        model.load_state_dict(state)
        model.train(was_training)


def snasnet_score(model: nn.Module, images: ArrayLike, config: ScoreConfig) -> ScoreResult:
    """SNASNet's score of ``model`` at its current weights: the mean over ``config.repeats``
    batches of ``log |det(K / count)|`` (:func:`kernel_score`)."""
    runs = traces_for(model, images, config)
    scores = tuple(kernel_score(t, config.expected) for t in runs)
    rates = [float(s.float().mean()) for t in runs for s in t.values()]
    return ScoreResult(
        score=float(np.mean(scores)), batch_scores=scores, firing_rate=float(np.mean(rates))
    )


def naswot(model: nn.Module, images: ArrayLike, config: ScoreConfig) -> float:
    """NASWOT's ``log |det K|`` (:func:`naswot_kernel`) on the same spikes, mean over repeats."""
    return float(np.mean([log_det(naswot_kernel(t)) for t in traces_for(model, images, config)]))


# ----------------------------------------------------------------------------- baselines


def _weighted(model: nn.Module) -> list[nn.Linear | nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def param_count(model: nn.Module) -> int:
    """Learned crossbar weights: ``sum numel(W)`` over every Linear and Conv2d (batch-norm, and
    GraphNet's fixed sum-pool weights, which are buffers, excluded)."""
    return sum(m.weight.numel() for m in _weighted(model))


def weight_memory_bits(model: nn.Module) -> int:
    """``sum weight_bits x numel(W)``: the bits the crossbars hold (32 for a float layer)."""
    return sum(int(getattr(m, "weight_bits", 32)) * m.weight.numel() for m in _weighted(model))


def zico(
    model: nn.Module,
    images: ArrayLike,
    labels: ArrayLike,
    batches: int = 2,
    batch_size: int = 64,
    seed: int = 0,
) -> float:
    """ZiCo (Li et al., ICLR 2023) through the STE and the spike surrogate, in training mode.

    With ``g_b`` the cross-entropy gradient of a weight on batch ``b`` (``batches`` seeded
    draws)::

        zico = sum_layers log( sum_{w: std_b g > 0} mean_b |g_b| / std_b g_b )

    (a layer whose sum is 0 adds nothing). The model's parameters, buffers, gradients and mode
    are restored afterwards.
    """
    if batches < 2:
        raise ScoreError("zico needs at least 2 batches: it divides by the gradients' spread")
    x_all = images if isinstance(images, Tensor) else torch.from_numpy(np.asarray(images))
    y_all = labels if isinstance(labels, Tensor) else torch.from_numpy(np.asarray(labels))
    layers = _weighted(model)
    device = _device(model)
    grads: list[list[np.ndarray]] = [[] for _ in layers]
    state = copy.deepcopy(model.state_dict())
    was_training = model.training
    try:
        model.train()
        for index in draw_batches(len(x_all), batch_size, batches, seed):
            idx = torch.from_numpy(index)
            model.zero_grad(set_to_none=True)
            x, y = x_all[idx].to(device), y_all[idx].to(device)
            F.cross_entropy(model(x), y).backward()
            for store, m in zip(grads, layers, strict=True):
                g = m.weight.grad
                store.append(
                    np.zeros(m.weight.numel())
                    if g is None
                    else g.detach().reshape(-1).double().cpu().numpy()
                )
    finally:
        model.zero_grad(set_to_none=True)
        model.load_state_dict(state)
        model.train(was_training)
    total = 0.0
    for store in grads:
        g = np.stack(store)
        std = g.std(axis=0)
        keep = std > 0
        value = float(np.sum(np.abs(g).mean(axis=0)[keep] / std[keep]))
        if value > 0:
            total += math.log(value)
    return total


# ----------------------------------------------------------------------------- for the search


def graph_model(network: Network, seed: int = 0) -> nn.Module:
    """The spiking model of an IR architecture at initialisation, as the search scores it:
    :class:`spindrop.graph_model.GraphNet` without dropout, ``T`` from the network and
    ``beta = 1 - 2^-leak_shift`` from its hidden neurons (1 without leak)."""
    from spindrop.graph_model import GraphNet
    from spindrop.models import ModelConfig

    neurons = [layer.neuron for layer in network.layers[:-1] if layer.neuron is not None]
    leak = neurons[0].leak_shift if neurons else None
    beta = 1.0 if leak is None else 1.0 - 2.0**-leak
    config = ModelConfig(timesteps=network.timesteps, beta=beta)
    return GraphNet(network, config, seed=seed, dropout="none")


def search_score(
    dataset: str = "digits",
    root: str | None = None,
    form: str = "project",
    seed: int = 0,
    device: str = "auto",
    **overrides: object,
) -> Callable[[object, Network], float]:
    """A score function ``(candidate, network) -> float`` for the search: :func:`snasnet_score`
    of :func:`graph_model` (weights from ``seed``) on batches of ``dataset``'s training images
    (``form`` and ``overrides`` as :meth:`ScoreConfig.of`; the batch draws seeded by ``seed``
    in both forms, so a search is reproducible on one device). ``device``: ``auto`` (CUDA
    when present, else CPU), ``cpu`` or ``cuda``. A singular kernel (``-inf``) is returned as
    the most negative finite float."""
    from spindrop.data import load_dataset

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ScoreError(f"score device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    images = torch.from_numpy(load_dataset(dataset, root, "train").x)
    config = ScoreConfig.of(form, **{"seed": seed, **overrides})

    def score(candidate: object, network: Network) -> float:
        model = graph_model(network, seed).to(device)
        value = snasnet_score(model, images, config).score
        return value if math.isfinite(value) else -sys.float_info.max

    return score
