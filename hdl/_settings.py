"""Typed settings from TOML: one converter for every configuration section of the project.

A configuration is a tree of frozen dataclasses (``RunConfig``, ``SearchConfig``, their
sections). :func:`build` turns a parsed TOML table into such a dataclass, checking each value
against the field's annotation (numbers, integers, booleans, strings, tuples, optional values,
nested dataclasses) and naming the key's full path in every error; :func:`parse_override`
reads one ``section.key=value`` override (the value a TOML literal, bare words strings) and
:func:`merge` applies it to the table. Pure Python: the training, search and hardware commands
all use it without importing each other's packages.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from hdl.checks import check_int

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Rules", "build", "merge", "parse_override", "read_toml", "toml_literal"]


@dataclass(frozen=True)
class Rules:
    """How a configuration reads its values.

    Attributes:
        error: the exception class raised, with the key's path in the message.
        none_word: the string ``"none"`` means no value for an optional field (handy on a
            command line, where TOML has no null).
        scalar_tuple: a single value where a tuple is expected is a one-element tuple (a
            search's fixed choice); otherwise it is an error asking for a list.
    """

    error: type[Exception]
    none_word: bool = False
    scalar_tuple: bool = False


def toml_literal(raw: str) -> Any:
    """``raw`` read as a TOML value (``8``, ``0.5``, ``[1, 2]``, ``"x"``, ``true``); anything
    that is no TOML literal (a bare word) is taken as the string itself."""
    try:
        return tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()


def read_toml(path: str | Path, error: type[Exception], fix: str = "") -> dict:
    """The tables of the TOML file ``path``; a missing file, a directory, invalid TOML or an
    unreadable (or non-UTF-8) file is ``error`` naming the file, followed by ``fix``."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise error(f"config file {path} {what}: pass an existing TOML file{fix}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise error(f"config file {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(
            f"config file {path} cannot be read ({exc}): pass a readable UTF-8 TOML file{fix}"
        ) from None


def parse_override(text: str, error: type[Exception], form: str) -> tuple[list[str], Any]:
    """``"model.hidden=[512]"`` -> ``(["model", "hidden"], [512])``; ``form`` names the expected
    form in the error (``"--set expects section.key=value"``)."""
    key, eq, raw = text.partition("=")
    if not eq or not key.strip():
        raise error(f"{form}, got {text!r}")
    return key.strip().split("."), toml_literal(raw)


def merge(table: dict, keys: list[str], value: Any, error: type[Exception]) -> None:
    """Set ``table[k0][k1]...[kn] = value``, creating the tables on the way."""
    node = table
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise error(f"cannot set {'.'.join(keys)}: {k} is not a table")
    node[keys[-1]] = value


def convert(value: Any, tp: Any, path: str, rules: Rules) -> Any:
    """``value`` checked (and normalised) against the annotation ``tp``; ``path`` names it."""
    error = rules.error
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (rules.none_word and value == "none")):
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(value, inner[0], path, rules)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise error(f"{path} must be a table of settings, got {value!r}")
        return build(tp, value, path, rules)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            if not rules.scalar_tuple:
                raise error(f"{path} must be a list, got {value!r}")
            value = [value]
        return tuple(convert(v, args[0], f"{path}[{i}]", rules) for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        return check_int(value, path, error=error)
    if tp is bool and not isinstance(value, bool):
        raise error(f"{path} must be true or false, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise error(f"{path} must be a string, got {value!r}")
    return value


def build(cls: type, values: dict, path: str, rules: Rules) -> Any:
    """The dataclass ``cls`` from the table ``values`` (``path`` = its key, ``""`` at the top
    level). Unknown keys, wrong types and the dataclass's own ``ValueError``s become
    ``rules.error`` naming the path."""
    error = rules.error
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(values) - known)
    where = f"[{path}]" if path else "the top level"
    if unknown:
        raise error(f"unknown key(s) {unknown} in {where}; valid keys: {sorted(known)}")
    kwargs = {
        name: convert(value, hints[name], f"{path}.{name}" if path else name, rules)
        for name, value in values.items()
    }
    try:
        return cls(**kwargs)
    except error:
        raise
    except (TypeError, ValueError) as exc:
        raise error(f"[{path or 'top level'}] {exc}") from None
