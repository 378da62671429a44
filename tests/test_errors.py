"""One error root: every error class the project defines derives from NeurocimError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from hdl.errors import NeurocimError

PACKAGES = ("hdl", "spindrop", "sim", "nas", "neurocim")


def _project_errors() -> list[type[BaseException]]:
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules = [root]
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if info.name.startswith(("sim.tb_",)):  # cocotb test modules need a simulator
                continue
            modules.append(importlib.import_module(info.name))
        for module in modules:
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(obj, Exception)
                    and obj.__module__ == module.__name__
                    and obj is not NeurocimError
                ):
                    found.append(obj)
    return found


ERRORS = _project_errors()


def test_the_project_defines_errors():
    names = {e.__name__ for e in ERRORS}
    assert {"IRError", "ConfigError", "ExportError", "RTLError"} <= names


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: f"{e.__module__}.{e.__name__}")
def test_every_error_derives_from_the_root(error):
    assert issubclass(error, NeurocimError), f"{error.__module__}.{error.__name__}"
    # and keeps a standard base that says what kind of failure it is
    assert issubclass(error, (ValueError, RuntimeError, AssertionError))
