"""Resilience of a BayBNN to process and thermal variation of its MTJ dropout modules.

The write drivers are calibrated once for the nominal device at the reference temperature. On
a chip, every module ``m`` has its own ``Ic0_m ~ N(Ic0, (sigma_Ic0 Ic0)^2)`` and
``Delta_m ~ N(Delta, (sigma_Delta Delta)^2)``, and the chip runs at temperature ``T``, so its
dropout probability ``p_m = 1 - exp(-t_p / tau_m)`` drifts from the trained ``p``. The OOD
threshold stays the one calibrated at nominal conditions (a deployed chip is not recalibrated);
each point of the sweep reports accuracy, detection of the noise sets at that threshold, the
fraction of in-distribution inputs flagged, and the realised mean dropout probability.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hdl import Variation, celsius_to_kelvin
from spindrop.data import ArrayDataset
from spindrop.inference import mc_probabilities
from spindrop.models import BayesianBinaryNet
from spindrop.uncertainty import accuracy, detection_rate, predictive_mean, uncertainty_scores

__all__ = ["SweepConfig", "variation_sweep"]


@dataclass(frozen=True)
class SweepConfig:
    """Grid of the variation sweep.

    Attributes:
        sigma_ic0_rel: relative spreads sigma(Ic0)/Ic0 (0.01 = 1 %).
        sigma_delta_rel: relative spreads sigma(Delta)/Delta.
        temperatures_c: operating temperatures [degrees C].
        chips: independent chips (module draws) per grid point; the report gives mean and worst.
        drivers: write-driver kinds swept: ``fixed`` (calibrated once at the reference
            temperature) and/or ``tracking`` (current follows the operating temperature).
        measure: uncertainty measure whose nominal threshold flags OOD inputs.
        seed: seed of the chips' module variation and bit streams.
    """

    sigma_ic0_rel: tuple[float, ...] = (0.0, 0.01, 0.03, 0.05)
    sigma_delta_rel: tuple[float, ...] = (0.0, 0.05, 0.10)
    temperatures_c: tuple[float, ...] = (0.0, 25.0, 50.0, 75.0, 100.0)
    chips: int = 3
    drivers: tuple[str, ...] = ("fixed", "tracking")
    measure: str = "entropy"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("sigma_ic0_rel", "sigma_delta_rel", "temperatures_c"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        object.__setattr__(self, "drivers", tuple(self.drivers))
        bad = [d for d in self.drivers if d not in ("fixed", "tracking")]
        if bad or not self.drivers:
            raise ValueError(
                f"variation.drivers must list 'fixed' and/or 'tracking', got {self.drivers}"
            )
        if not isinstance(self.chips, int) or self.chips < 1:
            raise ValueError(f"variation.chips must be a positive integer, got {self.chips!r}")


def _point(model, data_x, samples, measure):
    probs = mc_probabilities(model, data_x, samples)
    return predictive_mean(probs), uncertainty_scores(probs, (measure,))[measure]


def variation_sweep(
    model: BayesianBinaryNet,
    val: ArrayDataset,
    test: ArrayDataset,
    noise_sets: dict[str, ArrayDataset],
    sweep: SweepConfig,
    mc_samples: int = 20,
    percentile: float = 95.0,
) -> dict:
    """Accuracy and OOD detection of ``model`` over the variation grid (one row per point)."""
    if not any(True for _ in model.dropout_layers()):
        raise ValueError("the variation sweep needs a model with MTJ dropout (dropout.p > 0)")
    model.set_variation(Variation(), seed=sweep.seed)
    _, scores_val = _point(model, val.x, mc_samples, sweep.measure)
    threshold = float(np.percentile(scores_val, percentile))
    rows = []
    grid = itertools.product(
        sweep.drivers, sweep.sigma_ic0_rel, sweep.sigma_delta_rel, sweep.temperatures_c
    )
    for driver, s_ic0, s_delta, t_c in grid:
        variation = Variation(
            sigma_ic0_rel=s_ic0, sigma_delta_rel=s_delta, temperature_k=celsius_to_kelvin(t_c)
        )
        per_chip = []
        for chip in range(sweep.chips):
            model.set_variation(
                variation,
                seed=sweep.seed + 7919 * (chip + 1),
                track_temperature=driver == "tracking",
            )
            mean_test, scores_test = _point(model, test.x, mc_samples, sweep.measure)
            entry = {
                "accuracy": accuracy(mean_test, test.y),
                "in_flagged": float(np.mean(scores_test > threshold)),
                "mean_p": float(
                    np.mean([d.source.module_probabilities.mean() for d in model.dropout_layers()])
                ),
            }
            for name, data in noise_sets.items():
                _, scores = _point(model, data.x, mc_samples, sweep.measure)
                entry[f"detect:{name}"] = detection_rate(scores, threshold)
            per_chip.append(entry)
        row = {
            "driver": driver,
            "sigma_ic0_rel": s_ic0,
            "sigma_delta_rel": s_delta,
            "temperature_c": t_c,
        }
        for key in per_chip[0]:
            values = [c[key] for c in per_chip]
            row[key] = float(np.mean(values))
            worse = max if key in ("in_flagged",) else min
            if key != "mean_p":
                row[f"worst_{key}"] = float(worse(values))
        rows.append(row)
    model.set_variation(Variation(), seed=sweep.seed)
    return {
        "threshold": threshold,
        "measure": sweep.measure,
        "percentile": percentile,
        "rows": rows,
    }
