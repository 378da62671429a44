"""hdl._settings: the one converter behind the run, search and hardware settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hdl._settings import Rules, build, merge, parse_override, toml_literal


class Bad(ValueError):
    pass


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    widths: tuple[int, ...] = (8,)
    root: str | None = None
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if any(w < 1 for w in self.widths):
            raise ValueError("widths must be positive")


STRICT = Rules(error=Bad)
LOOSE = Rules(error=Bad, none_word=True, scalar_tuple=True)


def test_values_are_checked_against_the_annotations_with_their_path():
    got = build(Outer, {"widths": [4, 8], "inner": {"rate": 1}}, "", STRICT)
    assert got == Outer(widths=(4, 8), inner=Inner(rate=1.0))
    assert isinstance(got.inner.rate, float)
    with pytest.raises(Bad, match=r"inner\.rate must be a number, got 'x'"):
        build(Outer, {"inner": {"rate": "x"}}, "", STRICT)
    with pytest.raises(Bad, match=r"unknown key\(s\) \['rat'\] in \[inner\]; valid keys"):
        build(Outer, {"inner": {"rat": 1}}, "", STRICT)
    with pytest.raises(Bad, match=r"unknown key\(s\) \['x'\] in the top level"):
        build(Outer, {"x": 1}, "", STRICT)
    with pytest.raises(Bad, match=r"\[top level\] widths must be positive"):
        build(Outer, {"widths": [0]}, "", STRICT)


def test_rules_for_a_fixed_choice_and_no_value():
    with pytest.raises(Bad, match="widths must be a list, got 4"):
        build(Outer, {"widths": 4}, "", STRICT)
    assert build(Outer, {"widths": 4}, "", LOOSE).widths == (4,)
    assert build(Outer, {"root": "none"}, "", LOOSE).root is None
    assert build(Outer, {"root": "none"}, "", STRICT).root == "none"


def test_overrides_are_toml_literals_or_bare_words():
    assert toml_literal("[1, 2]") == [1, 2] and toml_literal("0.5") == 0.5
    assert toml_literal("digits") == "digits" and toml_literal(' "a b" ') == "a b"
    assert parse_override("model.hidden=[64]", Bad, "form") == (["model", "hidden"], [64])
    with pytest.raises(Bad, match=r"--set expects section\.key=value, got .x."):
        parse_override("x", Bad, "--set expects section.key=value")
    table: dict = {"model": 3}
    merge(table, ["data", "root"], "/d", Bad)
    assert table["data"] == {"root": "/d"}
    with pytest.raises(Bad, match=r"cannot set model\.hidden: model is not a table"):
        merge(table, ["model", "hidden"], [1], Bad)
