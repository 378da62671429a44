"""What the steps of the flow (:mod:`neurocim.flow.rtl`, :mod:`neurocim.flow.sim`, ...) share.

The error every step raises (:class:`FlowError`), the marker of a directory a step is still
writing (:data:`INCOMPLETE`, :func:`begin_run`), where the steps write by default
(:func:`default_out_dir`, :func:`export_run_dir`), the digest that ties an artifact to its
network (:func:`network_digest`), the MTJ drive of a ``--pulse-ns`` flag (:func:`mtj_driver`),
tool versions for the reports (:func:`package_version`) and progress reports (:data:`Progress`,
:func:`say`, :func:`heartbeat`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hdl._io import atomic_write_text
from hdl.errors import NeurocimError
from hdl.ir import Network, network_to_bytes
from hdl.mapping import MTJDriver

__all__ = [
    "INCOMPLETE",
    "FlowError",
    "Progress",
    "begin_run",
    "default_out_dir",
    "export_run_dir",
    "heartbeat",
    "mtj_driver",
    "network_digest",
    "package_version",
    "say",
]

INCOMPLETE = "INCOMPLETE"
"""Marker file of a directory that ``neurocim rtl`` or ``neurocim sim`` is writing (or was
killed while writing): present from the start of a run until its last file is written."""

Progress = Callable[[str], None]
"""A progress report: called with one line per stage (and while a long stage runs)."""


class FlowError(NeurocimError, ValueError):
    """The RTL flow cannot go on; the message names the problem and the fix."""


def network_digest(net: Network) -> str:
    """SHA-256 (hex) of the network's file bytes (``network.json`` and ``weights.npz``)."""
    text, npz = network_to_bytes(net)
    h = hashlib.sha256(text)
    h.update(b"\0")
    h.update(npz or b"")
    return h.hexdigest()


def export_run_dir(network_path: Path | None) -> Path | None:
    """The run directory a network was exported into (``<run>/network/`` next to
    ``<run>/config.json``, as ``neurocim export`` writes it), or ``None``."""
    if network_path is None:
        return None
    path = Path(network_path)
    net_dir = path if path.is_dir() else path.parent
    run = net_dir.parent
    return run if (run / "config.json").is_file() and net_dir != run else None


def default_out_dir(network_path: Path | None, net: Network, what: str = "rtl") -> Path:
    """Where ``neurocim rtl`` writes by default: ``<run>/rtl/`` for a network exported into a
    run directory (``<run>/network/``), else ``build/rtl/<network name>/``. ``neurocim sim``
    writes into the ``sim/`` subdirectory of that (``what="sim"``)."""
    run = export_run_dir(network_path)
    base = run / "rtl" if run is not None else Path("build") / "rtl" / _safe_name(net.name)
    return base if what == "rtl" else base / what


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    return keep or "network"


def mtj_driver(net: Network, pulse_ns: float | None) -> MTJDriver | None:
    """The MTJ drive for ``net`` with a ``--pulse-ns`` of ``pulse_ns`` applied to the network's
    trained device (or the default one); ``None`` when no pulse is given, which lets every
    consumer use the network's own driver (:func:`hdl.driver.driver_for`).

    Raises:
        hdl.hwconfig.HardwareError: the pulse is out of range (the message names the flag).
    """
    if pulse_ns is None:
        return None
    from dataclasses import replace

    from hdl.driver import driver_for
    from hdl.hwconfig import HardwareError

    try:
        return replace(driver_for(net), pulse_ns=pulse_ns)
    except HardwareError as exc:
        raise HardwareError(f"--pulse-ns {pulse_ns:g}: {exc}") from None


def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def begin_run(out: Path, command: str, stale: tuple[str, ...]) -> Path:
    """Mark ``out`` incomplete (:data:`INCOMPLETE`) and remove the ``stale`` files of an earlier
    run, so that a run killed before its end never leaves an old result looking current;
    returns the marker, which the run removes once its last file is written."""
    marker = out / INCOMPLETE
    atomic_write_text(
        marker,
        f"`{command}` (process {os.getpid()}) started writing this directory at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} and has not finished: it is still running, or "
        f"it was interrupted. Its files are not a complete result: run `{command}` again.\n",
    )
    for name in stale:
        (out / name).unlink(missing_ok=True)
    return marker


def say(progress: Progress | None, line: str) -> None:
    """Report ``line`` to ``progress`` (nothing when it is ``None``)."""
    if progress is not None:
        progress(line)


def heartbeat(progress: Progress | None, what: str, every: float = 15.0) -> Any:
    """An ``on_tick(seconds)`` that reports ``what`` every ``every`` seconds (or ``None``)."""
    if progress is None:
        return None
    said = [0.0]

    def tick(seconds: float) -> None:
        if seconds - said[0] >= every:
            said[0] = seconds
            progress(f"{what}: running for {seconds:.0f} s")

    return tick
