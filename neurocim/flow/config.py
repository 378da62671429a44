"""The flow's one TOML file: data, budget, search, training, hardware and simulation settings.

::

    name = "flow-digits"         # the run: everything goes to build/<name>/
    seed = 0
    [search]                     # nas.search.SearchConfig (trials, sampler, score, dataset ...)
    [search.space]               # nas.space.SpaceConfig: the architectures searched
    [search.space.hardware]      # the chip (one value each = fixed, lists = co-searched)
    [search.budget]              # memory_bits or params, area_mm2, latency_ms, energy_uj
    [data] [model] [train] [evaluate]   # training (spindrop.experiment.RunConfig tables)
    [export]                     # input_bits, samples (the export check's MC samples)
    [estimate]                   # preset, samples (MC samples per priced inference)
    [rtl]                        # synth (bool), name (top module)
    [sim]                        # images, samples, simulator, mtj_seed, max_accuracy_loss, jobs

The chip is chosen once, by the search (the winner's ``[search.space.hardware]`` values):
estimate, rtl and sim read it from the search's winner and the RTL bundle, never from a flag.
The training tables go on top of the winner's ``train.toml`` (its architecture, timesteps,
leak and data set); ``[data] dataset`` defaults to ``search.dataset``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hdl._settings import Rules, build, merge, parse_override, read_toml
from neurocim.flow.common import FlowError

__all__ = [
    "FLOW_TABLES",
    "EstimateSettings",
    "ExportSettings",
    "FlowConfig",
    "RTLSettings",
    "SimSettings",
    "default_config_path",
    "load_flow_config",
]

TRAIN_TABLES = ("data", "model", "train", "evaluate", "variation")
FLOW_TABLES = ("search", *TRAIN_TABLES, "export", "estimate", "rtl", "sim")
_RULES = Rules(error=FlowError)


@dataclass(frozen=True)
class ExportSettings:
    """The export step.

    Attributes:
        input_bits: bits of an input pixel in the exported network.
        samples: Monte-Carlo samples of the export's float-against-integer check.
    """

    input_bits: int = 8
    samples: int = 4


@dataclass(frozen=True)
class EstimateSettings:
    """The estimate step: ``preset`` of the cost model, ``samples`` MC samples per inference."""

    preset: str = "default"
    samples: int = 1


@dataclass(frozen=True)
class RTLSettings:
    """The rtl step: ``synth`` runs yosys for cells and flip-flops; ``name`` of the top module."""

    synth: bool = True
    name: str = "accelerator"


@dataclass(frozen=True)
class SimSettings:
    """The sim step.

    Attributes:
        images: test images simulated (the first of the test split).
        samples: Monte-Carlo samples per image (MTJ dropout masks).
        simulator: ``auto`` (Verilator where it is installed, else Icarus), ``icarus``,
            ``verilator`` or ``amaranth``.
        mtj_seed: seed of the behavioural MTJ's draws.
        jobs: simulator processes of a Verilog simulator, one contiguous shard of the images
            each (default: the CPUs, at most one per image).
        max_accuracy_loss: the RTL's accuracy may fall at most this far (a fraction) below the
            float torch model's on the same images.
    """

    images: int = 50
    samples: int = 3
    simulator: str = "auto"
    mtj_seed: int = 0
    max_accuracy_loss: float = 0.02
    jobs: int | None = None

    def __post_init__(self) -> None:
        from neurocim.flow.sim import check_jobs, check_sim_args
        from sim.simulators import SIMULATOR_CHOICES

        if self.images < 1:
            raise FlowError(f"sim.images must be an integer >= 1, got {self.images}")
        if self.simulator not in SIMULATOR_CHOICES:
            raise FlowError(
                f"sim.simulator must be one of {list(SIMULATOR_CHOICES)}, got {self.simulator!r}"
            )
        check_jobs(self.jobs, "sim.jobs")
        keys = ("samples", "mtj_seed", "max_accuracy_loss")
        check_sim_args(
            self.samples, self.mtj_seed, self.max_accuracy_loss, {k: f"sim.{k}" for k in keys}
        )


@dataclass(frozen=True)
class FlowConfig:
    """A parsed flow file (see the module docstring). ``values`` keeps the whole document
    (after overrides) for the steps' own validation (search, training)."""

    name: str
    seed: int
    values: dict[str, Any] = field(repr=False)
    export: ExportSettings = ExportSettings()
    estimate: EstimateSettings = EstimateSettings()
    rtl: RTLSettings = RTLSettings()
    sim: SimSettings = SimSettings()

    def search_values(self) -> dict[str, Any]:
        """The document :func:`nas.config.search_config` reads."""
        return {"name": self.name, "seed": self.seed, "search": self.values.get("search", {})}

    def train_values(self) -> dict[str, Any]:
        """The training tables (on top of the winner's ``train.toml``)."""
        out = {k: copy.deepcopy(self.values[k]) for k in TRAIN_TABLES if k in self.values}
        dataset = self.values.get("search", {}).get("dataset")
        if dataset is not None:
            out.setdefault("data", {}).setdefault("dataset", dataset)
        return out

    def settings(self, step: str) -> dict[str, Any]:
        """The settings step ``step`` depends on (part of its inputs' digest)."""
        if step == "search":
            return self.search_values()
        if step == "train":
            return {"name": self.name, "seed": self.seed, **self.train_values()}
        if step in ("export", "estimate", "rtl", "sim"):
            return asdict(getattr(self, step))
        return {}


def default_config_path() -> Path:
    """The flow file of the embedded digits with its default budget (beside this module)."""
    return Path(__file__).with_name("flow-digits.toml")


def load_flow_config(path: str | Path | None, overrides: list[str] = ()) -> FlowConfig:
    """Read the flow file ``path`` (``None``: :func:`default_config_path`) and apply
    ``section.key=value`` overrides (TOML literals). Unknown tables, keys and bad values are
    :class:`FlowError` naming the key."""
    source = default_config_path() if path is None else Path(path)
    values = read_toml(source, FlowError, " to --config")
    for text in overrides:
        keys, value = parse_override(text, FlowError, "--set expects section.key=value")
        merge(values, keys, value, FlowError)
    known = {"name", "seed", *FLOW_TABLES}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FlowError(
            f"{source}: unknown setting(s) {unknown}; a flow file has name, seed and the "
            f"tables {list(FLOW_TABLES)}"
        )
    name = values.get("name", "flow")
    seed = values.get("seed", 0)
    if not isinstance(name, str) or not name or "/" in name:
        raise FlowError(f"name must be a non-empty string without '/', got {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise FlowError(f"seed must be an integer >= 0, got {seed!r}")
    steps = {}
    for key, cls in (
        ("export", ExportSettings),
        ("estimate", EstimateSettings),
        ("rtl", RTLSettings),
        ("sim", SimSettings),
    ):
        table = values.get(key, {})
        if not isinstance(table, dict):
            raise FlowError(f"{key} must be a table of settings, got {table!r}")
        steps[key] = build(cls, table, key, _RULES)
    return FlowConfig(name=name, seed=seed, values=values, **steps)
