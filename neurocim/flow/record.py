"""Step records of a flow run: what each step read, how it ran, what it wrote.

``<run>/flow/<step>.json`` is written (atomically) when a step finishes::

    {"step", "status": "done", "inputs_digest", "outputs_digest", "settings", "started",
     "seconds", "versions", "summary"}

``inputs_digest`` is the SHA-256 of the step's settings, of the ``outputs_digest`` of every
step before it and of the code (:func:`code_digest`: neurocim's own sources and the versions
of the packages it runs on), so a step whose inputs did not change is skipped, a changed step
makes every later one run again, and a run made by other code (an upgrade, a changed default)
runs again instead of mixing the artifacts of two versions.
``<run>/flow/<step>.started.json`` is written when a step begins: a step killed midway that
is started again with the same inputs resumes its own state (the search's storage, the
training checkpoint) instead of starting from nothing.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from hdl._io import atomic_write_json
from neurocim.flow.common import package_version

__all__ = [
    "code_digest",
    "digest_files",
    "digest_settings",
    "read_record",
    "started_digest",
    "versions",
    "write_record",
    "write_started",
]

PACKAGES = ("neurocim", "torch", "numpy", "optuna", "amaranth", "cocotb", "snntorch")


def digest_settings(*parts: Any) -> str:
    """SHA-256 of the JSON text (sorted keys) of ``parts``."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


#: The project's own packages, whose sources decide what every step computes.
SOURCE_PACKAGES = ("hdl", "nas", "neurocim", "sim", "spindrop")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of neurocim's own sources (every ``.py`` file of :data:`SOURCE_PACKAGES`, by
    its path under the repository) and of :func:`versions`: what a step computes besides its
    settings and inputs. Computed once per process."""
    root = Path(__file__).resolve().parents[2]
    files = [f for pkg in SOURCE_PACKAGES for f in (root / pkg).rglob("*.py")]
    return digest_settings(digest_files(files, root), versions())


def digest_files(paths: list[Path], root: Path) -> str:
    """SHA-256 over the files ``paths`` (their path under ``root`` and their bytes; a missing
    file counts as missing, so its appearance changes the digest)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Python's and the main packages' versions."""
    out = {"python": platform.python_version()}
    out.update({p: package_version(p) for p in PACKAGES})
    return out


def _path(run_dir: Path, step: str, suffix: str = "") -> Path:
    return run_dir / "flow" / f"{step}{suffix}.json"


def read_record(run_dir: Path, step: str) -> dict[str, Any] | None:
    """The finished step's record, or ``None`` (never run, killed, or unreadable)."""
    path = _path(run_dir, step)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("status") == "done" else None


def write_started(run_dir: Path, step: str, inputs_digest: str) -> str:
    """Mark ``step`` as begun with ``inputs_digest`` (its record of an earlier finish is
    removed first: until it finishes again it is not done); returns the start time (ISO
    8601, UTC)."""
    _path(run_dir, step).unlink(missing_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(
        _path(run_dir, step, ".started"), {"inputs_digest": inputs_digest, "started": started}
    )
    return started


def started_digest(run_dir: Path, step: str) -> str | None:
    """The inputs digest a begun (perhaps killed) ``step`` was started with, or ``None``."""
    try:
        doc = json.loads(_path(run_dir, step, ".started").read_text())
    except (OSError, ValueError):
        return None
    return doc.get("inputs_digest") if isinstance(doc, dict) else None


def write_record(run_dir: Path, step: str, record: dict[str, Any]) -> Path:
    """Write the finished step's record (``status`` set to ``done``)."""
    return atomic_write_json(_path(run_dir, step), {"step": step, "status": "done", **record})
