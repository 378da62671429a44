"""Image shards of a Verilog co-simulation: split, run in parallel on one build, merge.

:func:`sim.cosim.run_cosim` splits the images into contiguous shards (:func:`shard_ranges`),
runs the bench :mod:`sim.tb_accelerator` once per shard directory on one built simulator, in
parallel (:func:`run_shards`), and merges the shards' ``shard.json`` documents into the run's
``result.json`` (:func:`merge_shards`), in image order, equal to a run in one process: every
image starts from the accelerator's idle state and draws its MTJ bits from its own key
(:func:`sim.models.mtj.module_key`). Networks whose LFSRs run on from image to image
(:func:`lfsr_across_images`) cannot be split.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hdl.ir import Network
from hdl.rtl.plan import EVENT_BITS
from sim.runner import Build, SimulationError, run_built

__all__ = [
    "PROGRESS_FILE",
    "RESULT_FORMAT",
    "SHARD_FORMAT",
    "check_jobs",
    "lfsr_across_images",
    "merge_shards",
    "progress_ticker",
    "run_shards",
    "shard_ranges",
]

#: File of a shard directory where the bench counts the images it has finished.
PROGRESS_FILE = "progress.txt"
#: ``format`` field of ``result.json``; the reader refuses any other.
RESULT_FORMAT = "neurocim-cosim-result-2"
#: ``format`` field of a shard's ``shard.json`` (written by :mod:`sim.tb_accelerator`).
SHARD_FORMAT = "neurocim-cosim-shard-1"


def lfsr_across_images(net: Network) -> bool:
    """Whether the network draws from LFSRs that run on from image to image (rate-coded input
    or LFSR dropout: the accelerator starts them at reset only), so that an image's spikes
    depend on the images before it and the images cannot be split into shards."""
    if net.input.encoding == "rate":
        return True
    edges = [e for lay in net.layers for e in lay.edges]
    return any(e.dropout is not None and e.dropout.source == "lfsr" for e in edges)


def check_jobs(jobs: Any, n_images: int, name: str = "jobs", one: str = "pass jobs=1") -> int:
    """The number of shards of ``n_images`` images for ``jobs`` (``None``: the CPUs), at most
    one per image; :class:`sim.cosim.CosimError` unless ``jobs`` is ``None`` or an int >= 1,
    naming the setting ``name`` and how to ask for one process (``one``)."""
    from sim.cosim import CosimError

    if jobs is None:
        return max(1, min(os.cpu_count() or 1, n_images))
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise CosimError(
            f"{name} must be an integer >= 1 (simulator processes, one shard of the images "
            f"each), got {jobs!r}: {one} to run the images in one process"
        )
    return min(int(jobs), n_images)


def shard_ranges(n_images: int, jobs: int) -> list[tuple[int, int]]:
    """``jobs`` contiguous ``(first, stop)`` ranges of the images, sizes differing by <= 1."""
    base, extra = divmod(n_images, jobs)
    out, first = [], 0
    for k in range(jobs):
        stop = first + base + (k < extra)
        out.append((first, stop))
        first = stop
    return out


def progress_ticker(
    say: Callable[[str], None], simulator: str, dirs: list[Path], n_images: int
) -> Callable[[str, float], None]:
    """``on_tick(phase, seconds)`` for the build and the shards: says the images done (from
    the shards' progress files) when they change, else every 15 s that it is still busy."""
    state = {"done": 0, "said": 0.0, "phase": ""}

    def on_tick(phase: str, seconds: float) -> None:
        if phase != state["phase"]:
            state.update(phase=phase, said=seconds)
        if phase == "test":
            done = 0
            for d in dirs:
                try:
                    done += int((d / PROGRESS_FILE).read_text().strip() or 0)
                except (OSError, ValueError):
                    pass
            if done != state["done"]:
                state.update(done=done, said=seconds)
                say(f"{simulator}: image {done} of {n_images} done ({seconds:.0f} s)")
                return
        if seconds - state["said"] >= 15:
            state["said"] = seconds
            what = "building" if phase == "build" else "simulating"
            say(f"{simulator}: still {what} ({seconds:.0f} s)")

    return on_tick


def run_shards(
    build: Build,
    dirs: list[Path],
    key: Mapping[str, str],
    say: Callable[[str], None] | None,
    simulator: str,
    n_images: int,
) -> None:
    """Run the bench once per shard directory, in parallel threads (each waits on its own
    simulator process); re-raise the first shard's error after all have ended."""
    tick = progress_ticker(say, simulator, dirs, n_images) if say is not None else None
    lock = threading.Lock()

    def on_tick(phase: str, seconds: float) -> None:
        if tick is not None and lock.acquire(blocking=False):
            try:
                tick(phase, seconds)
            finally:
                lock.release()

    errors: list[BaseException | None] = [None] * len(dirs)

    def one(k: int) -> None:
        try:
            run_built(
                build,
                test_module="sim.tb_accelerator",
                params={"dir": str(dirs[k]), **key},
                test_dir=dirs[k],
                on_tick=on_tick if k == 0 else None,
            )
            if not (dirs[k] / "shard.json").is_file():
                raise SimulationError(
                    f"the bench sim.tb_accelerator passed but wrote no {dirs[k] / 'shard.json'}"
                )
        except BaseException as err:  # re-raised in the calling thread
            errors[k] = err

    if len(dirs) == 1:
        one(0)
    else:
        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(len(dirs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for err in errors:
        if err is not None:
            raise err


def merge_shards(docs: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The ``result.json`` document (:data:`RESULT_FORMAT`) of the shards' ``shard.json``
    documents, in image order: outputs, spikes and busy cycles concatenated along the images,
    MTJ bits per module concatenated, event counters summed modulo ``2^EVENT_BITS`` (each shard
    starts from reset), per-tile reads and the protocol error counts summed; the errors are
    the macros', then the MTJ modules', then the bench's notes. The same for any split."""
    for doc in docs:
        if doc.get("format") != SHARD_FORMAT:
            raise SimulationError(
                f"a shard result of another version (format {doc.get('format')!r}, expected "
                f"{SHARD_FORMAT!r}): rerun sim.cosim.run_cosim"
            )
    docs = sorted(docs, key=lambda d: int(d["first_image"]))
    samples = int(docs[0]["samples"])
    wrap = 2 ** int(manifest.get("event_bits", EVENT_BITS))
    outputs = [[row for d in docs for row in d["outputs"][s]] for s in range(samples)]
    spikes = {
        name: [[row for d in docs for row in d["spikes"][name][s]] for s in range(samples)]
        for name in docs[0]["spikes"]
    }
    tiles = [t["name"] for t in manifest["tiles"]]
    mods = [m["name"] for m in manifest["mtj_modules"]]
    macros = {t: [sum(d["macros"][t][i] for d in docs) for i in range(3)] for t in tiles}
    mtj = {m: [sum(d["mtj_errors"][m][i] for d in docs) for i in range(3)] for m in mods}
    errors = []
    for t in tiles:
        reads_bad, wl_bad = macros[t][1], macros[t][2]
        if reads_bad:
            errors.append(f"{t}: {reads_bad} read(s) while a conversion was in flight (ignored)")
        if wl_bad:
            errors.append(f"{t}: {wl_bad} cycle(s) with wl_en changed while the ADCs sampled")
    mtj_kinds = (
        "cycle(s) with more than one of reset/write/sense high",
        "write pulse(s) without a reset before them",
        "cycle(s) with the write current changed during the pulse",
    )
    for m in mods:
        errors += [f"{m}: {n} {what}" for n, what in zip(mtj[m], mtj_kinds, strict=True) if n]
    errors += [note for d in docs for note in d["notes"]]
    cols = {t["name"]: t["cols"][1] - t["cols"][0] for t in manifest["tiles"]}
    return {
        "format": RESULT_FORMAT,
        "samples": samples,
        "images": sum(int(d["images"]) for d in docs),
        "outputs": outputs,
        "spikes": spikes,
        "cycles": [c for d in docs for c in d["cycles"]],
        "events": {ev: sum(int(d["events"][ev]) for d in docs) % wrap for ev in docs[0]["events"]},
        "macro_reads": {t: macros[t][0] for t in tiles},
        "macro_conversions": {t: macros[t][0] * cols[t] for t in tiles},
        "mtj_bits": {m: [b for d in docs for b in d["mtj_bits"][m]] for m in mods},
        "errors": errors,
    }
