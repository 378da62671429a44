"""The estimate step behind ``neurocim estimate``: the cost of one inference, priced and written.

:func:`estimate_cost` prices a network on a hardware configuration with :func:`hdl.cost.estimate`
and writes the report's JSON (by default :func:`default_cost_path`: ``cost_<preset>.json``
next to the network) atomically (:mod:`hdl._io`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import MTJDriver

__all__ = ["EstimateResult", "default_cost_path", "estimate_cost"]


@dataclass
class EstimateResult:
    """What :func:`estimate_cost` priced and wrote.

    Attributes:
        report: the :class:`~hdl.cost.CostReport` (``table()``, ``as_dict()``).
        path: the JSON file written.
    """

    report: Any
    path: Path


def default_cost_path(network_path: Path, preset: str) -> Path:
    """Where ``neurocim estimate`` writes by default: ``cost_<preset>.json`` in the network's
    directory (``network_path`` itself, or the directory of a network ``.json`` file)."""
    return (network_path if network_path.is_dir() else network_path.parent) / (
        f"cost_{preset}.json"
    )


def estimate_cost(
    net: Network,
    hw: HardwareConfig | None,
    network_path: Path,
    *,
    driver: MTJDriver | None = None,
    preset: str = "default",
    samples: int = 1,
    reproduce_defects: bool = False,
    out: Path | None = None,
    show: Callable[[str], None] | None = None,
) -> EstimateResult:
    """Price one inference of ``net`` on ``hw`` (:func:`hdl.cost.estimate` with ``driver``,
    ``preset``, ``samples`` and ``reproduce_defects``) and write the report's JSON to ``out``
    (default :func:`default_cost_path` of ``network_path``).

    ``show`` is called with the report's table once it is priced, before the file is written.

    Raises:
        hdl.hwconfig.HardwareError, hdl.cost.CostError: as :func:`hdl.cost.estimate`.
        OSError: the report cannot be written.
    """
    from hdl._io import atomic_write_json
    from hdl.cost import estimate

    report = estimate(
        net,
        hw,
        driver=driver,
        preset=preset,
        samples=samples,
        reproduce_defects=reproduce_defects,
    )
    if show is not None:
        show(report.table())
    path = out or default_cost_path(network_path, preset)
    atomic_write_json(path, report.as_dict())
    return EstimateResult(report, path)
