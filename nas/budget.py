"""Hardware budgets of a search, their check against a cost report, and the message when no
candidate meets them.

A budget limits any subset of five metrics of one inference (docs/nas.md section 3):

=============== ======== ===============================================================
key             unit     metric of a candidate (from :func:`hdl.cost.estimate`)
=============== ======== ===============================================================
``memory_bits`` bit      stored weight values x their bits, ``report.memory_bits["weights"]``
``params``      weights  stored weight values (fixed pool weights included: they occupy
                         crossbar cells like trained ones)
``area_mm2``    mm^2     ``report.area_mm2``
``latency_ms``  ms       ``report.seconds * 1e3``
``energy_uj``   uJ       ``report.energy_uj``
=============== ======== ===============================================================

The constraint of metric ``m`` with limit ``L`` is ``c = m / L - 1``: feasible when ``c <= 0``
(Optuna's ``trial.set_constraint`` convention), and ``c`` is the fraction by which it misses.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hdl.cost import CostReport
from hdl.ir import Network
from nas.errors import InfeasibleError, NASError

__all__ = ["METRICS", "UNITS", "Budget", "cost_metrics", "infeasible_error", "stored_weights"]

UNITS: dict[str, str] = {
    "memory_bits": "bit",
    "params": "weights",
    "area_mm2": "mm^2",
    "latency_ms": "ms",
    "energy_uj": "uJ",
}
"""Unit of each budget key."""

METRICS = tuple(UNITS)


@dataclass(frozen=True)
class Budget:
    """Upper limits per inference (``None``: no limit), units in the names.

    Attributes:
        memory_bits: weight memory [bit] (weights x weight bits).
        params: stored weight values [weights].
        area_mm2: chip area [mm^2].
        latency_ms: latency of one inference [ms].
        energy_uj: energy of one inference [uJ].
    """

    memory_bits: float | None = None
    params: float | None = None
    area_mm2: float | None = None
    latency_ms: float | None = None
    energy_uj: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not ok or not math.isfinite(float(value)) or float(value) <= 0:
                raise NASError(
                    f"budget.{f.name} must be a finite number > 0 [{UNITS[f.name]}] or absent "
                    f"(no limit), got {value!r}"
                )
            object.__setattr__(self, f.name, float(value))

    def limits(self) -> dict[str, float]:
        """The limits that are set, in :data:`METRICS` order."""
        return {k: getattr(self, k) for k in METRICS if getattr(self, k) is not None}

    def constraints(self, metrics: dict[str, float]) -> dict[str, float]:
        """``m / L - 1`` for every limit (feasible when all are <= 0)."""
        return {k: metrics[k] / limit - 1.0 for k, limit in self.limits().items()}

    def feasible(self, metrics: dict[str, float]) -> bool:
        return all(c <= 0.0 for c in self.constraints(metrics).values())

    def describe(self) -> str:
        limits = self.limits()
        if not limits:
            return "no budget"
        return ", ".join(f"{k} <= {_num(v)} {UNITS[k]}" for k, v in limits.items())

    def as_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in METRICS}


def _num(value: float) -> str:
    return f"{value:.4g}"


def stored_weights(network: Network) -> int:
    """The ``params`` metric: weight values the crossbars store, over every weighted edge
    (fixed pool weights included: they occupy cells)."""
    return sum(
        int(np.prod(e.weight_shape)) for layer in network.layers for e in layer.edges if e.weighted
    )


def cost_metrics(report: CostReport, network: Network) -> dict[str, Any]:
    """The budget metrics of a priced network and the breakdown kept with each candidate:
    cycles, energy [pJ] and area [um^2] by component, memory [bit] by kind."""
    return {
        "memory_bits": int(report.memory_bits["weights"]),
        "params": stored_weights(network),
        "area_mm2": float(report.area_mm2),
        "latency_ms": float(report.seconds) * 1e3,
        "energy_uj": float(report.energy_uj),
        "cycles": int(report.cycles),
        "energy_pj": {k: float(v) for k, v in report.energy_pj.items()},
        "area_um2": {k: float(v) for k, v in report.area_um2.items()},
        "memory": {k: int(v) for k, v in report.memory_bits.items()},
    }


def infeasible_error(
    budget: Budget, priced: Sequence[tuple[str, dict[str, float]]], closest: int = 3
) -> InfeasibleError:
    """The error when none of ``priced`` (``(label, metrics)`` pairs) meets ``budget``.

    The binding constraint is the limit that alone rejects the most candidates (candidates
    meeting every other limit); when every candidate misses two or more limits, the one missed
    most often. The closest candidates are those of smallest total excess
    ``sum_k max(0, c_k)``; each is listed with the limits it misses and by how much.
    """
    limits = budget.limits()
    if not priced:
        return InfeasibleError(
            "no candidate could be priced (every drawn cell lacked an input->output path): "
            "allow more operations or draw more trials"
        )
    cons = [(label, budget.constraints(m), m) for label, m in priced]
    alone = dict.fromkeys(limits, 0)
    missed = dict.fromkeys(limits, 0)
    for _label, c, _m in cons:
        over = [k for k, v in c.items() if v > 0]
        for k in over:
            missed[k] += 1
        if len(over) == 1:
            alone[over[0]] += 1
    order = list(limits)
    binding = max(order, key=lambda k: (alone[k], missed[k], -order.index(k)))
    best = min(m[binding] for _l, _c, m in cons)
    why = (
        f"it alone rejects {alone[binding]} candidates that meet every other limit"
        if alone[binding]
        else f"{missed[binding]} of {len(cons)} candidates miss it"
    )
    ranked = sorted(cons, key=lambda t: (sum(max(0.0, v) for v in t[1].values()), t[0]))
    lines = []
    for label, c, m in ranked[:closest]:
        misses = ", ".join(
            f"{k} {_num(m[k])} {UNITS[k]} (+{v * 100:.1f} %)" for k, v in c.items() if v > 0
        )
        lines.append(f"{label}: {misses}")
    return InfeasibleError(
        f"no feasible candidate among {len(cons)} priced under {budget.describe()}: the "
        f"binding constraint is {binding} <= {_num(limits[binding])} {UNITS[binding]} ({why}; "
        f"the smallest {binding} seen is {_num(best)} {UNITS[binding]}); closest: "
        + "; ".join(lines)
        + f"; raise search.budget.{binding} or widen the space (smaller choices)"
    )
