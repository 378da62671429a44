"""The ``[search]`` section of a TOML configuration and ``key=value`` overrides.

::

    name = "digits-nas"        # optional: the run's name (default of search.name)
    seed = 0                   # optional: default of search.seed
    [search]                   # nas.search.SearchConfig
    [search.space]             # nas.space.SpaceConfig (a list = choices, one value = fixed)
    [search.space.hardware]    # nas.space.HardwareSpace
    [search.budget]            # nas.budget.Budget (units in the names)

Other tables (a training configuration's ``[data]``, ``[model]`` ...) are left to their
commands. An override is ``search.budget.energy_uj=1.5`` (a TOML literal; bare words are
strings); a choice field takes a list or one value (fixed); an optional field takes the string
``none`` for no value (``search.space.leak_shift=none``: no leak). Unknown keys, wrong types and
out-of-range values are :class:`~nas.errors.NASError` naming the key's full path.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from nas.errors import NASError
from nas.search import SearchConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_search_config", "parse_override", "search_config"]


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or value == "none"):
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], path)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise NASError(f"{path} must be a table of settings, got {value!r}")
        return _build(tp, value, path)  # type: ignore[arg-type]
    if origin is tuple:
        items = value if isinstance(value, list) else [value]
        return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(items))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NASError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise NASError(f"{path} must be an integer, got {value!r}")
    if tp is bool and not isinstance(value, bool):
        raise NASError(f"{path} must be true or false, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise NASError(f"{path} must be a string, got {value!r}")
    return value


def _build(cls: type, values: dict, path: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NASError(f"unknown key(s) {unknown} in [{path}]; valid keys: {sorted(known)}")
    kwargs = {k: _convert(v, hints[k], f"{path}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except NASError:
        raise
    except (TypeError, ValueError) as exc:
        raise NASError(f"[{path}] {exc}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"search.trials=50"`` -> ``(["search", "trials"], 50)`` (TOML literal, else a string)."""
    key, eq, raw = text.partition("=")
    if not eq or not key.strip():
        raise NASError(f"an override is section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip().split("."), value


def search_config(values: dict, overrides: typing.Sequence[str] = ()) -> SearchConfig:
    """The :class:`SearchConfig` of a parsed TOML document plus ``key=value`` overrides."""
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for text in overrides:
        keys, value = parse_override(text)
        node = doc
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise NASError(f"cannot set {'.'.join(keys)}: {k} is not a table")
        node[keys[-1]] = value
    section = doc.get("search", {})
    if not isinstance(section, dict):
        raise NASError(f"search must be a table of settings, got {section!r}")
    section = dict(section)
    for key in ("name", "seed"):  # the run's top-level name and seed are the defaults
        if key in doc and key not in section:
            section[key] = doc[key]
    return _build(SearchConfig, section, "search")


def load_search_config(
    path: str | Path | None, overrides: typing.Sequence[str] = ()
) -> SearchConfig:
    """Read ``path`` (``None``: all defaults) and apply ``overrides``."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise NASError(f"config file {path} {what}: pass an existing TOML file")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise NASError(f"config file {path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NASError(f"config file {path} cannot be read ({exc})") from None
    return search_config(values, overrides)
