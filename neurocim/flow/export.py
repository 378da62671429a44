"""The export step behind ``neurocim export``: a trained run's network, exported and checked.

:func:`export_run` exports the run's trained model to ``<run>/network/`` and checks it against
the float model (:func:`spindrop.experiment.run_export`); :func:`check_export_flags` checks its
settings first, with errors naming the command-line flags; :func:`export_summary` and
:func:`export_warning` are the lines ``neurocim export`` prints about the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the module imports torch, which `neurocim export` loads only when it runs
    from spindrop.experiment import RunConfig

__all__ = ["ExportResult", "check_export_flags", "export_run", "export_summary", "export_warning"]

_FLAGS = {"input_bits": "--input-bits", "samples": "--samples"}


@dataclass
class ExportResult:
    """What :func:`export_run` exported and checked.

    Attributes:
        name: the run's name.
        report: the check's report (``export_report.json``).
        files: artifact -> path (``network``: the network directory, ``report``: its
            ``export_report.json``).
    """

    name: str
    report: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def check_export_flags(input_bits: object, samples: object) -> None:
    """:func:`spindrop.experiment.check_export_args`, its error naming the flag
    (``--input-bits``, ``--samples``) instead of the parameter; before anything is read.

    Raises:
        spindrop.export.ExportError: a setting is out of range.
    """
    from spindrop.experiment import check_export_args

    try:
        check_export_args(input_bits, samples)
    except ValueError as exc:  # the library names its parameter; the user typed the flag
        name, _, rest = str(exc).partition(" ")
        flag = _FLAGS.get(name, name)
        raise type(exc)(f"{flag} {rest}") from None


def export_run(
    config: RunConfig,
    run_dir: Path,
    *,
    input_bits: int = 8,
    samples: int = 4,
    progress: bool = False,
) -> ExportResult:
    """Export the trained model of the run ``config`` in ``run_dir`` to ``<run_dir>/network/``
    and check it (:func:`spindrop.experiment.run_export`; ``progress``: a progress bar).

    Raises:
        spindrop.export.ExportError: a bad setting or an export that cannot be done.
    """
    from spindrop.experiment import run_export

    check_export_flags(input_bits, samples)
    report = run_export(config, run_dir, input_bits=input_bits, samples=samples, progress=progress)
    network = Path(report["network"])
    files = {"network": network, "report": network / "export_report.json"}
    return ExportResult(config.name, report, files)


def export_summary(result: ExportResult) -> str:
    """The line ``neurocim export`` prints: the agreement of the integer network with the float
    model and both accuracies."""
    report = result.report
    spikes = report["hidden_spikes"]
    return (
        f"exported {result.name} -> {report['network']}: per-sample predictions agree up to "
        f"ties on {report['prediction_agreement'] * 100:.2f} % of {report['images']} test "
        f"images x {report['samples']} samples (integer outputs tie on "
        f"{report['tie_rate'] * 100:.2f} %); hidden spikes agree on "
        f"{spikes['agreement'] * 100:.3f} %; accuracy float {report['float_accuracy']:.4f}, "
        f"integer {report['integer_accuracy']:.4f}"
    )


def export_warning(result: ExportResult) -> str | None:
    """The warning ``neurocim export`` prints when a binary (one-timestep) export has hidden
    spikes that differ beyond float rounding, else ``None``."""
    report = result.report
    spikes = report["hidden_spikes"]
    if report["timesteps"] == 1 and spikes["differences_beyond_rounding"]:
        first = spikes["first_difference"]
        return (
            f"  warning: {spikes['differences_beyond_rounding']} hidden spikes differ beyond "
            f"float rounding (first: layer {first['layer']}, image {first['image']}); the "
            "binary export should be exact, see export_report.json"
        )
    return None
