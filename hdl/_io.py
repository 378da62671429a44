"""Atomic artifact writing and run-directory locks.

Every artifact (JSON report, checkpoint, plot) is written to a temporary file in the same
directory, flushed to disk and moved over the target with :func:`os.replace`, which is atomic on
POSIX: a reader, a killed process (``kill -9``, Ctrl-C) or a full disk never leaves a
half-written file, only the old one or the new one. A write that the operating system refuses
(read-only or full directory, a file where a directory should be) raises :class:`WriteError`,
one line naming the path, the reason and the fix.

:func:`locked_dir` holds an exclusive advisory lock (``flock``) on a directory for as long as a
process works in it, so that two processes never write one run at the same time.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hdl.errors import NeurocimError

__all__ = [
    "LOCK_NAME",
    "DirectoryInUseError",
    "WriteError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "locked_dir",
    "write_error",
]

#: Name of the lock file :func:`locked_dir` keeps in the directory it locks.
LOCK_NAME = ".neurocim.lock"

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}


class WriteError(NeurocimError, OSError, RuntimeError):
    """A file or directory that could not be written; the message names it and the fix.

    A ``RuntimeError`` like the project's other environment failures, and also an
    :class:`OSError` with the original ``errno``, for callers that catch those.
    """

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(errno_, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DirectoryInUseError(NeurocimError, RuntimeError):
    """Another process holds the lock of a directory (see :func:`locked_dir`)."""


def write_error(path: str | Path, exc: OSError) -> WriteError:
    """``exc``, raised while writing ``path``, as a one-line :class:`WriteError` with the fix."""
    if isinstance(exc, WriteError):
        return exc
    code = exc.errno
    reason = exc.strerror or str(exc)
    if code is not None and code in errno.errorcode:
        reason = f"{os.strerror(code)} ({errno.errorcode[code]})"
    if code in _NO_SPACE:
        fix = "free some disk space or write somewhere else"
    elif code in _NO_PERMISSION:
        fix = "make the directory writable or write somewhere else"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        fix = "a file stands where a directory should be: move it or write somewhere else"
    else:
        fix = "check the path or write somewhere else"
    where = exc.filename if exc.filename and str(exc.filename) != str(path) else None
    at = f" (at {where})" if where else ""
    return WriteError(f"cannot write {path}{at}: {reason}: {fix}", code)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary binary file, then move it to ``path`` atomically.

    On any failure (including Ctrl-C) the temporary file is removed and ``path`` keeps its old
    content; an :class:`OSError` from the file system becomes a :class:`WriteError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _strict(obj: Any) -> Any:
    """Replace non-finite floats (not valid JSON) by ``None``; tuples become lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted, strict JSON (NaN -> null) to ``path`` atomically."""
    text = json.dumps(_strict(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


# locked directory -> [lock file descriptor, nesting depth, process id holding it]
_HELD: dict[Path, list[int]] = {}


def _holder(fd: int) -> str:
    """The process id written in a lock file, or ``unknown``."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


@contextmanager
def locked_dir(directory: str | Path, what: str = "directory") -> Iterator[Path]:
    """Hold an exclusive, non-blocking ``flock`` on ``directory`` (created if needed).

    The lock lives on ``directory/.neurocim.lock``, which records the holder's process id; the
    operating system releases it when the process ends, however it ends. A second process gets
    :class:`DirectoryInUseError` at once; the same process may nest ``locked_dir`` on one
    directory (e.g. train, then evaluate). ``what`` names the directory in the message
    (``"run directory"``).
    """
    directory = Path(directory)
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        key = directory.resolve()
    except OSError as exc:
        raise write_error(directory, exc) from exc
    if key in _HELD and _HELD[key][2] == os.getpid():
        _HELD[key][1] += 1
        try:
            yield directory
        finally:
            _HELD[key][1] -= 1
        return
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(directory / LOCK_NAME, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        raise DirectoryInUseError(
            f"{what} {directory} is in use by another neurocim process (pid {pid}): "
            "wait for it to finish or choose another name"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise write_error(directory / LOCK_NAME, exc) from exc
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass  # the lock holds without the pid; the message then says "unknown"
    _HELD[key] = [fd, 1, os.getpid()]
    try:
        yield directory
    finally:
        del _HELD[key]
        if created:
            _remove_if_only_the_lock(directory)  # still locked: nobody else is inside
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove_if_only_the_lock(directory: Path) -> None:
    """Remove a directory this process created when nothing but its lock file is in it (a run
    refused before it wrote anything leaves no empty run directory behind)."""
    try:
        if {p.name for p in directory.iterdir()} == {LOCK_NAME}:
            (directory / LOCK_NAME).unlink()
            directory.rmdir()
    except OSError:
        pass  # a directory that cannot be tidied is left as it is
