"""The search space, written once as IR architectures: every candidate is an
:class:`hdl.ir.Network` without weights, priced by :mod:`hdl.cost` as the RTL would run it.

The macro network (docs/nas.md section 1)::

    input -> stem conv3x3 (C channels, LIF) -> cell 1 -> down conv3x3 stride 2 (C_down, LIF)
          -> cell 2 -> fc linear (H, LIF) -> out linear (classes, membrane accumulator)

Every node 1..3 of a cell (:mod:`nas.cell`) is a layer of LIF neurons whose edges read earlier
nodes' spikes: ``conv1x1 -> Edge("conv2d", src, kernel=1)``, ``conv3x3 -> kernel 3, padding 1``,
``skip -> Edge("skip", src)``, ``zero`` -> no edge. ``avgpool3x3`` (stride 1, padding 1) has no
IR edge kind: it is a conv3x3 edge with FIXED weights ``W[o, c, ky, kx] = [o == c]`` (sum
pooling; the batch-norm folded into the threshold absorbs the 1/9), ``weight_bits = 2`` (values 0
and 1), no dropout, listed in ``Network.metadata["pool_edges"]`` as ``"<layer>.<edge index>"``;
the training model builds such an edge as a fixed sum-pool and the export writes those weights.

Backward (temporal) edges are not supported: the IR is feed-forward within a timestep.

Each dimension is a tuple of choices (one choice = fixed). :meth:`SearchSpace.sample` draws a
candidate through Optuna's ``trial.suggest_categorical`` (so TPE and NSGA-II model it);
:meth:`SearchSpace.draw` draws from a seeded generator as SNASNet does (uniform choices,
resampled until both cells have an input->output path).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, Network, Neuron
from hdl.lifparams import LEAK_SHIFT, MEMBRANE_BITS, RESETS
from nas.cell import EDGES, OPS, Cell, check_ops
from nas.errors import NASError

__all__ = [
    "HW_SEARCHABLE",
    "PLACEMENTS",
    "Candidate",
    "HardwareSpace",
    "SearchSpace",
    "SpaceConfig",
]

PLACEMENTS = ("all", "hidden", "input", "last")
"""Dropout placement, as :class:`spindrop.dropout.DropoutConfig` means it: every weighted edge,
every one but the stem's (whose inputs are pixels), the stem's only, or the classifier output's
only. Pool edges (fixed weights) never carry dropout."""

HW_SEARCHABLE = (
    "tile_rows",
    "tile_cols",
    "cell_bits",
    "adc_bits",
    "columns_per_adc",
    "lif_units",
    "adc_pipelined",
    "mask_double_buffer",
    "overlap_reads",
    "pipeline_layers",
    "input_dac_bits",
    "pixels_per_transfer",
    "pipeline_samples",
)
"""The hardware fields a search may choose (co-search); the others stay fixed. New fields are
appended: a walk picks them after the others, so earlier draws stay the same."""

_HW_BOOL = frozenset(
    {"adc_pipelined", "mask_double_buffer", "overlap_reads", "pipeline_layers", "pipeline_samples"}
)
"""The searchable hardware fields whose choices are booleans (the others are integers)."""

_EDGE_NAMES = tuple(f"e{s}{t}" for s, t in EDGES)


def _choices(value: Any, where: str, kind: type) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values:
        raise NASError(f"{where} needs at least one choice, got []")
    for v in values:
        is_bool = isinstance(v, bool)
        ok = is_bool if kind is bool else isinstance(v, kind) and not is_bool
        if kind is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise NASError(f"{where} must list {kind.__name__} values, got {v!r}")
    if len(set(values)) != len(values):
        raise NASError(f"{where} lists a choice twice: {list(values)}")
    return tuple(float(v) for v in values) if kind is float else values


def _positive(values: tuple, where: str, lo: int = 1, hi: int | None = None) -> None:
    for v in values:
        if v < lo or (hi is not None and v > hi):
            span = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise NASError(f"{where} choices must be in {span}, got {v!r}")


@dataclass(frozen=True)
class HardwareSpace:
    """The chip: each searchable field a tuple of choices (one choice = fixed, the default
    :class:`~hdl.hwconfig.HardwareConfig` values); ``adc_pipelined``, ``mask_double_buffer``,
    ``overlap_reads`` and ``pipeline_layers`` list booleans (``(False, True)`` searches serial
    and pipelined ADCs, one and two mask banks, bit-plane reads in turn and overlapped, or
    layers in turn and pipelined across timesteps), the other searchable fields integers
    (``input_dac_bits``, e.g. ``(1, 2, 4)``, searches the word-line DACs of the stem: fewer
    reads of the pixels against ADC saturation and DAC area; ``pixels_per_transfer``: pixels
    per input transfer, fewer input cycles for more port lanes, both priced by the cost model;
    ``pipeline_samples`` booleans: Monte-Carlo samples one after another or pipelined);
    ``clock_mhz`` [MHz] and ``adc_latency_cycles`` [cycles] are fixed. Every combination must
    be a valid chip (``columns_per_adc`` divides ``tile_cols``)."""

    tile_rows: tuple[int, ...] = (HardwareConfig.tile_rows,)
    tile_cols: tuple[int, ...] = (HardwareConfig.tile_cols,)
    cell_bits: tuple[int, ...] = (HardwareConfig.cell_bits,)
    adc_bits: tuple[int, ...] = (HardwareConfig.adc_bits,)
    columns_per_adc: tuple[int, ...] = (HardwareConfig.columns_per_adc,)
    lif_units: tuple[int, ...] = (HardwareConfig.lif_units,)
    adc_pipelined: tuple[bool, ...] = (HardwareConfig.adc_pipelined,)
    mask_double_buffer: tuple[bool, ...] = (HardwareConfig.mask_double_buffer,)
    overlap_reads: tuple[bool, ...] = (HardwareConfig.overlap_reads,)
    pipeline_layers: tuple[bool, ...] = (HardwareConfig.pipeline_layers,)
    input_dac_bits: tuple[int, ...] = (HardwareConfig.input_dac_bits,)
    pixels_per_transfer: tuple[int, ...] = (HardwareConfig.pixels_per_transfer,)
    pipeline_samples: tuple[bool, ...] = (HardwareConfig.pipeline_samples,)
    clock_mhz: float = HardwareConfig.clock_mhz
    adc_latency_cycles: int = HardwareConfig.adc_latency_cycles

    def __post_init__(self) -> None:
        for name in HW_SEARCHABLE:
            kind = bool if name in _HW_BOOL else int
            object.__setattr__(
                self, name, _choices(getattr(self, name), f"space.hardware.{name}", kind)
            )
        for cols in self.tile_cols:
            for per in self.columns_per_adc:
                if cols % per:
                    raise NASError(
                        f"space.hardware.columns_per_adc choice {per} does not divide "
                        f"space.hardware.tile_cols choice {cols}: list choices that divide "
                        "every tile width"
                    )
        for combo in itertools.product(*(getattr(self, n) for n in HW_SEARCHABLE)):
            try:
                HardwareConfig(
                    **self.fixed_values(), **dict(zip(HW_SEARCHABLE, combo, strict=True))
                )
            except ValueError as exc:
                raise NASError(f"space.hardware: {exc}") from None

    def fixed_values(self) -> dict[str, Any]:
        return {"clock_mhz": self.clock_mhz, "adc_latency_cycles": self.adc_latency_cycles}


@dataclass(frozen=True)
class SpaceConfig:
    """The search space: every dimension a tuple of choices (a single choice is fixed).

    Attributes:
        ops: the cell operations (a subset of :data:`nas.cell.OPS`; the operation study removes
            one at a time).
        shared_cells: both cells use one genotype (``true``) or two (``false``).
        channels: C, output channels of the stem and of cell 1's nodes.
        down_factor: C_down / C of the stride-2 downsampling convolution and cell 2.
        hidden: H, neurons of the hidden classifier layer.
        timesteps: T, timesteps of an inference (1 = a binary network).
        weight_bits: bits of every trained weight (NeuroNAS step 2: {1, 2, 4, 8}).
        dropout_p: MTJ dropout probability (0 = no dropout).
        granularity: ``row`` or ``channel`` (channel applies to conv edges; a linear edge's
            mask is always per row).
        modules: physical MTJ dropout modules per edge.
        placement: which weighted edges get dropout (:data:`PLACEMENTS`).
        source: ``mtj`` or ``lfsr`` dropout bits.
        leak_shift: LIF leak, beta = 1 - 2^-leak_shift (``None``: no leak).
        reset: LIF reset, ``subtract`` or ``zero``.
        membrane_bits: LIF membrane register width [bit].
        hardware: the chip (fixed by default; choices make it a co-search).
    """

    ops: tuple[str, ...] = OPS
    shared_cells: bool = True
    channels: tuple[int, ...] = (8, 16, 32)
    down_factor: tuple[int, ...] = (2,)
    hidden: tuple[int, ...] = (64, 128, 256)
    timesteps: tuple[int, ...] = (1, 2, 4)
    weight_bits: tuple[int, ...] = (1, 2, 4, 8)
    dropout_p: tuple[float, ...] = (0.0, 0.1, 0.25)
    granularity: tuple[str, ...] = ("row", "channel")
    modules: tuple[int, ...] = (1, 4, 16)
    placement: str = "hidden"
    source: str = "mtj"
    leak_shift: int | None = 1
    reset: str = "subtract"
    membrane_bits: int = 16
    hardware: HardwareSpace = field(default_factory=HardwareSpace)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ops", check_ops(_choices(self.ops, "space.ops", str), "space.ops")
        )
        if not isinstance(self.shared_cells, bool):
            raise NASError(f"space.shared_cells must be true or false, got {self.shared_cells!r}")
        for name, lo, hi in (
            ("channels", 1, 4096),
            ("down_factor", 1, 64),
            ("hidden", 1, 65536),
            ("timesteps", 1, 4096),
            ("weight_bits", 1, 16),
            ("modules", 1, None),
        ):
            values = _choices(getattr(self, name), f"space.{name}", int)
            _positive(values, f"space.{name}", lo, hi)
            object.__setattr__(self, name, values)
        p = _choices(self.dropout_p, "space.dropout_p", float)
        if any(not 0.0 <= v < 1.0 for v in p):
            raise NASError(f"space.dropout_p choices must be in [0, 1) (0 = none), got {list(p)}")
        object.__setattr__(self, "dropout_p", p)
        g = _choices(self.granularity, "space.granularity", str)
        if any(v not in ("row", "channel") for v in g):
            raise NASError(f"space.granularity choices must be 'row' or 'channel', got {list(g)}")
        object.__setattr__(self, "granularity", g)
        if self.placement not in PLACEMENTS:
            raise NASError(
                f"space.placement must be one of {list(PLACEMENTS)}, got {self.placement!r}"
            )
        if self.source not in ("mtj", "lfsr"):
            raise NASError(f"space.source must be 'mtj' or 'lfsr', got {self.source!r}")
        if self.leak_shift is not None and (
            isinstance(self.leak_shift, bool)
            or not isinstance(self.leak_shift, int)
            or not LEAK_SHIFT[0] <= self.leak_shift <= LEAK_SHIFT[1]
        ):
            raise NASError(
                f"space.leak_shift must be an integer in {LEAK_SHIFT[0]}.."
                f"{LEAK_SHIFT[1]} or absent (no leak), got {self.leak_shift!r}"
            )
        if self.reset not in RESETS:
            raise NASError(f"space.reset must be one of {list(RESETS)}, got {self.reset!r}")
        if (
            isinstance(self.membrane_bits, bool)
            or not isinstance(self.membrane_bits, int)
            or not MEMBRANE_BITS[0] <= self.membrane_bits <= MEMBRANE_BITS[1]
        ):
            raise NASError(
                f"space.membrane_bits must be an integer in {MEMBRANE_BITS[0]}.."
                f"{MEMBRANE_BITS[1]}, got {self.membrane_bits!r}"
            )
        if not isinstance(self.hardware, HardwareSpace):
            raise NASError(f"space.hardware must be a HardwareSpace, got {self.hardware!r}")


@dataclass(frozen=True)
class Candidate:
    """One architecture of the space and the chip it runs on.

    ``cells`` are the genotypes of cell 1 and cell 2; ``down_channels`` is C_down; dropout
    ``p = 0`` means none; ``chip`` is the hardware (:meth:`hardware`, ``"hardware"`` in
    :meth:`to_dict`). :attr:`key` identifies the canonical form, so equivalent candidates
    (equivalent cells, dropout settings that a zero rate makes moot) are priced and scored once.
    """

    cells: tuple[Cell, Cell]
    channels: int
    down_channels: int
    hidden: int
    timesteps: int
    weight_bits: int
    dropout_p: float = 0.0
    granularity: str = "row"
    modules: int = 1
    placement: str = "hidden"
    source: str = "mtj"
    leak_shift: int | None = 1
    reset: str = "subtract"
    membrane_bits: int = 16
    chip: HardwareConfig = field(default_factory=HardwareConfig)

    def canonical(self) -> Candidate:
        """Equivalent cells in canonical form; without dropout its settings are reset to the
        defaults; granularity ``row`` where no conv edge has dropout; with T = 1 no leak (a
        membrane starting at 0 for one timestep never leaks or resets)."""
        c = replace(self, cells=(self.cells[0].canonical(), self.cells[1].canonical()))
        if c.dropout_p == 0.0:
            c = replace(c, granularity="row", modules=1, placement="hidden", source="mtj")
        elif c.placement == "last":
            c = replace(c, granularity="row")
        if c.timesteps == 1:
            c = replace(c, leak_shift=None, reset="subtract")
        return c

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (cells as genotype strings, the chip's fields)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "chip"}
        d["cells"] = [cell.key for cell in self.cells]
        d["hardware"] = asdict(self.chip)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        known = {f.name for f in fields(cls) if f.name != "chip"} | {"hardware"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise NASError(f"candidate: unknown fields {unknown}; known: {sorted(known)}")
        d = dict(d)
        try:
            cells = tuple(Cell.from_key(k) for k in d.pop("cells"))
            hw = HardwareConfig(**d.pop("hardware", {}))
        except KeyError as exc:
            raise NASError(f"candidate lacks the field {exc}") from None
        if len(cells) != 2:
            raise NASError(f"candidate.cells must hold 2 genotypes, got {len(cells)}")
        return cls(cells=cells, chip=hw, **d)  # type: ignore[arg-type]

    @property
    def key(self) -> str:
        """16 hex digits of the SHA-256 of the canonical form's JSON (sorted keys)."""
        text = json.dumps(self.canonical().to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def valid(self) -> bool:
        return all(cell.valid for cell in self.cells)

    def hardware(self) -> HardwareConfig:
        """The chip the candidate runs on (priced with it, generated for it)."""
        return self.chip

    def network(
        self, input_shape: tuple[int, int, int], classes: int, input_bits: int = 8
    ) -> Network:
        """The validated IR architecture (no weights, thresholds or biases).

        Layers in order: ``stem``, ``cell1_n<i>`` for the live nodes of cell 1, ``down``,
        ``cell2_n<i>``, ``fc``, ``out``; pool edges listed in ``metadata["pool_edges"]``.
        """
        if not self.valid:
            raise NASError(
                f"candidate cells {[c.key for c in self.cells]} have no "
                "input->output path: no network"
            )
        c, h, w = (int(s) for s in input_shape)
        neuron = Neuron(
            leak_shift=self.leak_shift, reset=self.reset, membrane_bits=self.membrane_bits
        )
        drop = None
        if self.dropout_p > 0.0:
            drop = DropoutSpec(
                p=self.dropout_p,
                granularity=self.granularity,
                source=self.source,
                modules=self.modules,
            )
        row_drop = None if drop is None else replace(drop, granularity="row")
        place = self.placement

        def conv(src: str, k: int, stride: int = 1, first: bool = False) -> Edge:
            gets = (
                place == "all" or (place == "hidden" and not first) or (place == "input" and first)
            )
            return Edge(
                "conv2d",
                src,
                weight_bits=self.weight_bits,
                kernel=k,
                stride=stride,
                padding=k // 2,
                dropout=drop if gets else None,
            )

        layers: list[Layer] = []
        pools: list[str] = []
        shape = (self.channels, h, w)
        layers.append(Layer("stem", (conv("input", 3, first=True),), shape, neuron))
        last = self._cell(layers, pools, "cell1", "stem", shape, neuron, conv)
        ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        shape = (self.down_channels, ho, wo)
        layers.append(Layer("down", (conv(last, 3, stride=2),), shape, neuron))
        last = self._cell(layers, pools, "cell2", "down", shape, neuron, conv)
        fc_drop = row_drop if place in ("all", "hidden") else None
        layers.append(
            Layer(
                "fc",
                (Edge("linear", last, weight_bits=self.weight_bits, dropout=fc_drop),),
                (self.hidden,),
                neuron,
            )
        )
        out_drop = row_drop if place in ("all", "hidden", "last") else None
        layers.append(
            Layer(
                "out",
                (Edge("linear", "fc", weight_bits=self.weight_bits, dropout=out_drop),),
                (classes,),
            )
        )
        return Network(
            name=f"nas-{self.key}",
            input=InputSpec((c, h, w), bits=input_bits),
            layers=tuple(layers),
            timesteps=self.timesteps,
            metadata={"pool_edges": pools, "nas_candidate": self.key},
        ).validate()

    def _cell(
        self,
        layers: list[Layer],
        pools: list[str],
        prefix: str,
        node0: str,
        shape: tuple[int, int, int],
        neuron: Neuron,
        conv: Callable[..., Edge],
    ) -> str:
        """Append the live nodes of cell ``prefix`` reading ``node0``; return the output's name."""
        cell = self.cells[0 if prefix == "cell1" else 1].pruned()
        live = set(cell.live_nodes())
        name = {0: node0, **{i: f"{prefix}_n{i}" for i in (1, 2, 3)}}
        for target in (1, 2, 3):
            if target not in live:
                continue
            edges: list[Edge] = []
            for (s, t), op in zip(EDGES, cell.ops, strict=True):
                if t != target or op == "zero" or s not in live:
                    continue
                src = name[s]
                if op == "skip":
                    edges.append(Edge("skip", src))
                elif op == "conv1x1":
                    edges.append(conv(src, 1))
                elif op == "conv3x3":
                    edges.append(conv(src, 3))
                else:  # avgpool3x3: fixed 0/1 sum-pool weights in a conv3x3 edge
                    pools.append(f"{name[target]}.{len(edges)}")
                    edges.append(Edge("conv2d", src, weight_bits=2, kernel=3, padding=1))
            layers.append(Layer(name[target], tuple(edges), shape, neuron))
        return name[3]


Choose = Callable[[str, tuple], Any]


class SearchSpace:
    """Draws :class:`Candidate` objects from a :class:`SpaceConfig`."""

    def __init__(self, config: SpaceConfig | None = None) -> None:
        self.config = SpaceConfig() if config is None else config

    def _walk(self, choose: Choose) -> dict[str, Any]:
        """Every parameter in a fixed order, each through ``choose(name, choices)`` when it has
        more than one choice; conditional ones (granularity, modules) only when they matter."""
        cfg = self.config
        hw = cfg.hardware
        values: dict[str, Any] = {}

        def pick(name: str, choices: tuple) -> Any:
            values[name] = choose(name, choices) if len(choices) > 1 else choices[0]
            return values[name]

        for cell in ("cell",) if cfg.shared_cells else ("cell1", "cell2"):
            for e in _EDGE_NAMES:
                pick(f"{cell}.{e}", cfg.ops)
        for name in ("channels", "down_factor", "hidden", "timesteps", "weight_bits"):
            pick(name, getattr(cfg, name))
        if pick("dropout_p", cfg.dropout_p) > 0.0:
            if cfg.placement != "last":
                pick("granularity", cfg.granularity)
            pick("modules", cfg.modules)
        for name in HW_SEARCHABLE:
            pick(f"hw.{name}", getattr(hw, name))
        return values

    def distributions(self) -> dict[str, tuple]:
        """Every parameter that a trial may suggest and its choices."""
        out: dict[str, tuple] = {}

        def record(name: str, choices: tuple) -> Any:
            out[name] = choices
            return max(choices) if name == "dropout_p" else choices[0]  # reach every branch

        self._walk(record)
        return out

    def candidate(self, values: dict[str, Any]) -> Candidate:
        """The candidate of a walk's ``values``."""
        cfg = self.config
        if cfg.shared_cells:
            cell = Cell(tuple(values[f"cell.{e}"] for e in _EDGE_NAMES))
            cells = (cell, cell)
        else:
            cells = tuple(
                Cell(tuple(values[f"{c}.{e}"] for e in _EDGE_NAMES)) for c in ("cell1", "cell2")
            )
        p = float(values["dropout_p"])
        hw = HardwareConfig(
            **cfg.hardware.fixed_values(), **{n: values[f"hw.{n}"] for n in HW_SEARCHABLE}
        )
        return Candidate(
            cells=cells,  # type: ignore[arg-type]
            channels=values["channels"],
            down_channels=values["channels"] * values["down_factor"],
            hidden=values["hidden"],
            timesteps=values["timesteps"],
            weight_bits=values["weight_bits"],
            dropout_p=p,
            granularity=values.get("granularity", cfg.granularity[0]) if p > 0 else "row",
            modules=values.get("modules", cfg.modules[0]) if p > 0 else 1,
            placement=cfg.placement,
            source=cfg.source,
            leak_shift=cfg.leak_shift,
            reset=cfg.reset,
            membrane_bits=cfg.membrane_bits,
            chip=hw,
        )

    def sample(self, trial: Any) -> Candidate:
        """A candidate through ``trial.suggest_categorical`` (an Optuna trial); its cells may
        lack an input->output path (``candidate.valid`` is then false: the search rejects it)."""
        return self.candidate(self._walk(trial.suggest_categorical))

    def draw_values(self, rng: np.random.Generator) -> dict[str, Any]:
        """SNASNet's random draw: every choice uniform, the whole draw repeated until both
        cells are valid (the other dimensions are independent of the cells, so they stay
        uniform)."""
        while True:
            values = self._walk(lambda _name, choices: choices[int(rng.integers(len(choices)))])
            if self.candidate(values).valid:
                return values

    def draw(self, rng: np.random.Generator) -> Candidate:
        """A valid candidate drawn by :meth:`draw_values`."""
        return self.candidate(self.draw_values(rng))

    def smallest(
        self, input_shape: tuple[int, int, int], classes: int, input_bits: int = 8
    ) -> dict[str, tuple[int, Candidate]]:
        """The least weight memory [bit] and the fewest stored weights of any candidate, each
        with a candidate that has it: the smallest choices of C, C_down / C, H and weight bits,
        and both cells a single edge 0 -> 3 of the cheapest operation. Exact, since both
        metrics grow with every one of these choices and any valid cell holds a path whose
        every edge costs at least the cheapest operation's single edge."""
        cfg = self.config
        best: dict[str, tuple[int, Candidate]] = {}
        for op in cfg.ops:
            if op == "zero":
                continue
            cell = Cell(("zero", "zero", "zero", op, "zero", "zero"))
            cand = Candidate(
                cells=(cell, cell),
                channels=min(cfg.channels),
                down_channels=min(cfg.channels) * min(cfg.down_factor),
                hidden=min(cfg.hidden),
                timesteps=min(cfg.timesteps),
                weight_bits=min(cfg.weight_bits),
            )
            net = cand.network(input_shape, classes, input_bits)
            edges = [e for layer in net.layers for e in layer.edges if e.weighted]
            size = {
                "memory_bits": sum(int(np.prod(e.weight_shape)) * e.weight_bits for e in edges),
                "params": sum(int(np.prod(e.weight_shape)) for e in edges),
            }
            for k, v in size.items():
                if k not in best or v < best[k][0]:
                    best[k] = (v, cand)
        return best

    def stream(self, seed: int, index: int) -> Candidate:
        """Candidate ``index`` of the seeded random stream (independent of every other)."""
        return self.draw(np.random.default_rng([seed, index]))
