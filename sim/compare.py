"""Cross-check of an RTL simulation against the golden model, naming the first difference.

:func:`compare_run` reruns :func:`hdl.golden.run` on the same images with the masks the RTL
used (the MTJ models' recorded bits; LFSR masks are the golden model's own sequence) and
compares, in this order: every layer's spikes per timestep (the first differing layer in file
order, then the first image, sample, timestep and neuron), the outputs, the busy cycles against
:func:`hdl.mapping.schedule`, and the event counts. A :class:`Verdict` lists every finding; its
``first`` is the one to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hdl.golden import GoldenResult, run
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import MTJDriver, schedule

__all__ = ["Verdict", "compare_run"]


@dataclass
class Verdict:
    """The result of a cross-check.

    Attributes:
        ok: nothing differs.
        findings: one line per difference, most specific first.
        golden: the golden model's result (with traces).
        checked: what was compared (counts of values).
    """

    ok: bool
    findings: list[str]
    golden: GoldenResult
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def first(self) -> str:
        return self.findings[0] if self.findings else ""


def _neuron_name(shape: tuple[int, ...], flat: int) -> str:
    idx = np.unravel_index(flat, shape)
    return "neuron " + (
        "(" + ", ".join(str(int(i)) for i in idx) + ")" if len(idx) > 1 else str(int(idx[0]))
    )


def compare_run(
    net: Network,
    hw: HardwareConfig,
    x: np.ndarray,
    samples: int,
    observed: Any,
    driver: MTJDriver | None = None,
) -> Verdict:
    """Compare ``observed`` (an :class:`sim.amaranth_accel.AcceleratorRun` or anything with
    ``outputs``, ``spikes``, ``cycles``, ``events``, ``masks``, ``errors``) with the golden model.
    """
    golden = run(net, x, hw, samples=samples, masks=observed.masks or None, trace=True)
    findings: list[str] = [f"analog model: {e}" for e in observed.errors]
    checked = {"spikes": 0, "outputs": 0}
    for layer in net.layers:
        name = layer.name
        if name not in golden.spikes:
            continue
        want = golden.spikes[name]
        got = observed.spikes.get(name)
        if got is None or got.shape != want.shape:
            findings.append(f"layer {name!r}: no spike trace of shape {want.shape} recorded")
            continue
        checked["spikes"] += int(want.size)
        diff = np.argwhere(got.reshape(*want.shape[:3], -1) != want.reshape(*want.shape[:3], -1))
        if diff.size:
            m, n, t, k = (int(v) for v in diff[0])
            findings.append(
                f"layer {name!r} differs first at image {n}, sample {m}, timestep {t}, "
                f"{_neuron_name(layer.out_shape, k)}: RTL spike "
                f"{int(got.reshape(*want.shape[:3], -1)[m, n, t, k])}, golden "
                f"{int(want.reshape(*want.shape[:3], -1)[m, n, t, k])} "
                f"({len(diff)} spikes differ in this layer)"
            )
    want_out = golden.outputs
    checked["outputs"] = int(want_out.size)
    if observed.outputs.shape != want_out.shape:
        findings.append(f"outputs have shape {observed.outputs.shape}, golden {want_out.shape}")
    else:
        diff = np.argwhere(observed.outputs != want_out)
        if diff.size:
            m, n, o = (int(v) for v in diff[0])
            findings.append(
                f"output {o} of image {n}, sample {m}: RTL {int(observed.outputs[m, n, o])}, "
                f"golden {int(want_out[m, n, o])} ({len(diff)} outputs differ)"
            )
    want_cycles = schedule(net, hw, samples, driver).cycles
    bad = [c for c in observed.cycles if c != want_cycles]
    if bad:
        findings.append(
            f"busy cycles per image {sorted(set(observed.cycles))}, schedule {want_cycles}"
        )
    for name, value in observed.events.items():
        want = golden.events.get(name)
        if want is not None and value != want:
            findings.append(f"event {name}: RTL {value}, golden {want}")
    return Verdict(ok=not findings, findings=findings, golden=golden, checked=checked)
