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

import typing
from pathlib import Path
from typing import Any

from hdl._settings import Rules, build, merge, read_toml
from hdl._settings import parse_override as _parse_override
from nas.errors import NASError
from nas.search import SearchConfig

__all__ = ["load_search_config", "parse_override", "search_config"]


_RULES = Rules(error=NASError, none_word=True, scalar_tuple=True)


def _build(cls: type, values: dict, path: str) -> Any:
    return build(cls, values, path, _RULES)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"search.trials=50"`` -> ``(["search", "trials"], 50)`` (TOML literal, else a string)."""
    return _parse_override(text, NASError, "an override is section.key=value")


def search_config(values: dict, overrides: typing.Sequence[str] = ()) -> SearchConfig:
    """The :class:`SearchConfig` of a parsed TOML document plus ``key=value`` overrides."""
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for text in overrides:
        keys, value = parse_override(text)
        merge(doc, keys, value, NASError)
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
    values = {} if path is None else read_toml(path, NASError)
    return search_config(values, overrides)
