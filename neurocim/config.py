"""Run configuration from a TOML file and ``--set section.key=value`` flags.

The file's tables mirror :class:`spindrop.experiment.RunConfig`::

    name = "digits-mlp-baybnn"
    seed = 0
    [data]            # spindrop.experiment.DataConfig
    [model]           # spindrop.models.ModelConfig
    [model.dropout]   # spindrop.dropout.DropoutConfig
    [model.dropout.device]   # hdl.MTJDevice (device constants with units)
    [train]           # spindrop.training.TrainConfig
    [evaluate]        # spindrop.evaluation.EvalConfig
    [variation]       # spindrop.variation.SweepConfig
    [arch]            # spindrop.experiment.ArchConfig (an IR architecture instead of model.arch)

``arch.file`` is resolved to its ``network.json`` (absolute path) and ``arch.digest`` set to the
file's SHA-256 when the configuration is built, unless the values already hold a digest (a
stored ``config.json``, read with :func:`spindrop.experiment.read_run_config`, which resolves
the path it stores relative to the run): an edited architecture is then a changed setting.

Unknown keys, wrong types and out-of-range values are reported with the key's full path and
the valid choices, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdl._settings import Rules, build, merge, read_toml
from hdl._settings import parse_override as _parse_override
from hdl.errors import NeurocimError
from spindrop.experiment import RunConfig
from spindrop.graph_model import architecture_digest, load_architecture, resolve_architecture

__all__ = ["ConfigError", "build_config", "load_config", "parse_override"]


class ConfigError(NeurocimError, ValueError):
    """A configuration problem, with the key path and the fix in the message."""


_RULES = Rules(error=ConfigError)


def _build(cls: type, values: dict, path: str) -> Any:
    return build(cls, values, path, _RULES)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.hidden=[512]"`` -> (["model", "hidden"], [512]).

    Values are TOML literals; bare words are taken as strings.
    """
    return _parse_override(text, ConfigError, "--set expects section.key=value")


def _merge(base: dict, keys: list[str], value: Any) -> None:
    merge(base, keys, value, ConfigError)


def build_config(
    values: dict, overrides: list[str] = (), arch: str | Path | None = None
) -> RunConfig:
    """A validated :class:`RunConfig` from a dict of TOML tables plus ``key=value`` overrides.

    ``arch`` (``neurocim train --arch``) sets ``arch.file`` last. An ``arch.file`` without a
    digest (or set by an override or ``arch``) is resolved to its ``network.json`` and gets the
    file's digest; a stored file and digest are kept as they are, so a run's configuration still
    names the architecture it was trained with.
    """
    values = _deepcopy(values)
    stored = values.get("arch", {}) if isinstance(values.get("arch"), dict) else {}
    before = (stored.get("file"), stored.get("digest"))
    for text in overrides:
        keys, value = parse_override(text)
        _merge(values, keys, value)
    if arch is not None:
        _merge(values, ["arch", "file"], str(arch))
    section = values.get("arch")
    if isinstance(section, dict) and isinstance(section.get("file"), str) and section["file"]:
        moved = section["file"] != before[0]  # a new file, whose digest the values lack
        if section.get("digest") is None or (moved and section.get("digest") == before[1]):
            try:
                path = resolve_architecture(section["file"])
            except NeurocimError as exc:
                raise ConfigError(f"arch.file: {exc}") from None
            try:
                load_architecture(path)  # a readable, valid network: one line now, not later
            except NeurocimError as exc:
                raise ConfigError(f"arch.file: {exc}") from None
            section["file"] = str(path)
            section["digest"] = architecture_digest(path)
    return _build(RunConfig, values, "")


def _deepcopy(d: dict) -> dict:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in d.items()}


def load_config(
    path: str | Path | None, overrides: list[str] = (), arch: str | Path | None = None
) -> RunConfig:
    """Read a TOML config file (or the defaults when ``path`` is None) and apply overrides
    (and ``arch``, see :func:`build_config`)."""
    values = {} if path is None else read_toml(path, ConfigError, " to --config")
    return build_config(values, overrides, arch)
