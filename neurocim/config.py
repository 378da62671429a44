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
stored ``config.json``): an edited architecture is then a changed setting.

Unknown keys, wrong types and out-of-range values are reported with the key's full path and
the valid choices, never as a traceback.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from hdl.errors import NeurocimError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from spindrop.experiment import RunConfig
from spindrop.graph_model import architecture_digest, load_architecture, resolve_architecture

__all__ = ["ConfigError", "build_config", "load_config", "parse_override"]


class ConfigError(NeurocimError, ValueError):
    """A configuration problem, with the key path and the fix in the message."""


def _origin_args(tp: Any) -> tuple[Any, tuple]:
    return typing.get_origin(tp), typing.get_args(tp)


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin, args = _origin_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], path)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a table of settings, got {value!r}")
        return _build(tp, value, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{path} must be true or false, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{path} must be a string, got {value!r}")
    return value


def _build(cls: type, values: dict, path: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(values) - set(known))
    if unknown:
        where = path or "the top level"
        raise ConfigError(f"unknown key(s) {unknown} in {where}; valid keys: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _convert(value, hints[name], f"{path}.{name}" if path else name)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[{path or 'top level'}] {exc}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.hidden=[512]"`` -> (["model", "hidden"], [512]).

    Values are TOML literals; bare words are taken as strings.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip().split("."), value


def _merge(base: dict, keys: list[str], value: Any) -> None:
    node = base
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {'.'.join(keys)}: {k} is not a table")
    node[keys[-1]] = value


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
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise ConfigError(f"config file {path} {what}: pass an existing TOML file to --config")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"config file {path} cannot be read ({exc}): pass a readable UTF-8 TOML file"
            ) from None
    return build_config(values, overrides, arch)
