"""The one integer-parameter check (hdl.checks) and that the modules use it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hdl.checks import check_int
from hdl.hwconfig import HardwareConfig, HardwareError


class _Error(ValueError):
    pass


def test_accepts_python_and_numpy_integers_in_range() -> None:
    assert check_int(3, "x", 1, 4) == 3
    value = check_int(np.int64(4), "x", 1, 4)
    assert value == 4 and type(value) is int
    assert check_int(-5, "x") == -5


@pytest.mark.parametrize(
    ("value", "lo", "hi", "message"),
    [
        (0, 1, 4, "x must be an integer in 1..4, got 0"),
        (5, 1, 4, "x must be an integer in 1..4, got 5"),
        (True, 0, 4, "x must be an integer in 0..4, got True"),
        (2.0, 1, None, "x must be an integer >= 1, got 2.0"),
        ("3", None, 9, "x must be an integer <= 9, got '3'"),
        (None, None, None, "x must be an integer, got None"),
    ],
)
def test_refuses_naming_the_parameter_and_range(value, lo, hi, message: str) -> None:
    with pytest.raises(_Error) as err:
        check_int(value, "x", lo, hi, error=_Error, fix="use 2")
    assert str(err.value) == f"{message}; use 2"


def test_hardware_config_takes_numpy_integers_as_ints() -> None:
    hw = HardwareConfig(tile_rows=np.int64(64))
    assert type(hw.tile_rows) is int and hw == HardwareConfig(tile_rows=64)
    with pytest.raises(HardwareError, match=r"hardware.tile_rows must be an integer in 1..4096"):
        HardwareConfig(tile_rows=0)


def test_no_module_keeps_its_own_integer_check() -> None:
    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("hdl/*.py"), *root.glob("hdl/rtl/*.py"), *root.glob("sim/models/*.py")]
    integer = r"(int|numbers\.Integral|\(int, np\.integer\))"
    own = re.compile(rf"isinstance\((\w+), bool\) or not isinstance\(\1, {integer}\)")
    allowed = {"checks.py", "mtj.py"}  # the definition; the device model (its own module)
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in files
        if path.name not in allowed
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if own.search(line)
    ]
    assert not found, found
