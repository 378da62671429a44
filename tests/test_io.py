from __future__ import annotations

import json

import pytest

from hdl._io import atomic_write, atomic_write_json


def test_json_is_strict_sorted_and_reproducible(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "r.json", {"b": float("nan"), "a": (1, 2.5)})
    text = path.read_text()
    assert json.loads(text) == {"a": [1, 2.5], "b": None}
    assert text.index('"a"') < text.index('"b"')
    atomic_write_json(tmp_path / "b.json", {"b": float("nan"), "a": (1, 2.5)})
    assert (tmp_path / "b.json").read_text() == text


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def explode(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, explode)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
