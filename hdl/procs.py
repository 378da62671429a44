"""Child processes that never outlive the process that started them.

The flow runs long external tools: Yosys (minutes for a large design), Verilator's lint and
C++ build (``make`` and its compilers), Icarus (``iverilog``, which starts ``ivlpp`` and
``ivl``, then ``vvp``). :func:`run` starts each as a child in a process group of its own and
makes sure that neither the child nor anything it started survives the caller:

* the child is started with ``PR_SET_PDEATHSIG = SIGKILL`` (Linux): the kernel kills it the
  moment the thread that started it dies, however it dies (``kill -9`` included) -- so call
  :func:`run` from a thread that lives as long as the command should;
* on every way out of :func:`run` (normal end, time-out, an exception, ``KeyboardInterrupt``)
  the child's whole process group is killed, so a tool's own children (``ivl``, ``cc1plus``)
  go with it;
* a watchdog process, started on first use (one per calling process), holds the list of the
  groups still running; when the caller disappears its pipe from the caller reaches end of
  file and it kills those groups. This covers the descendants that the death signal does not
  reach when the caller is killed with ``SIGKILL``.

Ctrl-C in a terminal reaches only the caller (the children are in their own groups); the
caller's ``KeyboardInterrupt`` then ends them through the second rule.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

__all__ = ["run"]

_PR_SET_PDEATHSIG = 1

_WATCHDOG = r"""
import os, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups, buf = set(), b""
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.Lock()
_watchdog: subprocess.Popen[bytes] | None = None
_watchdog_owner = 0


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to call (not Linux)
        return None


_LIBC = _libc() if sys.platform.startswith("linux") else None


def _child_setup(parent: int) -> Callable[[], None]:
    """What the child runs between fork and exec: a process group of its own and, on Linux,
    SIGKILL when its parent dies (and exit at once if the parent is already gone)."""

    def setup() -> None:
        os.setpgid(0, 0)
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(137)

    return setup


def _tell_watchdog(message: str) -> None:
    """Send ``+<pgid>`` / ``-<pgid>`` to the watchdog, starting it on first use (again after a
    fork: a watchdog belongs to one process)."""
    global _watchdog, _watchdog_owner
    with _lock:
        if _watchdog is None or _watchdog_owner != os.getpid() or _watchdog.poll() is not None:
            try:
                _watchdog = subprocess.Popen(
                    [sys.executable, "-S", "-c", _WATCHDOG],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                )
            except OSError:  # pragma: no cover - cannot start one: the death signal remains
                _watchdog = None
                return
            _watchdog_owner = os.getpid()
        assert _watchdog.stdin is not None
        try:
            _watchdog.stdin.write(f"{message}\n".encode())
            _watchdog.stdin.flush()
        except OSError:  # pragma: no cover - the watchdog died: the death signal remains
            _watchdog = None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:  # already gone
        pass


def run(
    cmd: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    capture_output: bool = False,
    text: bool = False,
    timeout: float | None = None,
    on_tick: Callable[[float], None] | None = None,
    tick_seconds: float = 1.0,
) -> subprocess.CompletedProcess[Any]:
    """Run ``cmd`` like :func:`subprocess.run` (``check=False``), guarded as the module doc
    describes, and return its :class:`subprocess.CompletedProcess`.

    Args:
        cmd, cwd, env, stdout, stderr, capture_output, text: as for :func:`subprocess.run`.
        timeout: seconds the command may take; then its group is killed and
            :class:`subprocess.TimeoutExpired` raised (with what it printed so far).
        on_tick: called with the seconds elapsed about every ``tick_seconds`` while the command
            runs (progress reports); an exception it raises ends the command.
    """
    if capture_output:
        stdout = stderr = subprocess.PIPE
    start = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=stdout,
        stderr=stderr,
        text=text,
        close_fds=True,
        preexec_fn=_child_setup(os.getpid()),
    )
    pgid = proc.pid  # the child leads its own group (setpgid in _child_setup)
    _tell_watchdog(f"+{pgid}")
    try:
        while True:
            wait = tick_seconds
            if timeout is not None:
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    _kill_group(pgid)
                    out, err = proc.communicate()
                    raise subprocess.TimeoutExpired(proc.args, timeout, out, err)
                wait = min(wait, left)
            try:
                out, err = proc.communicate(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                if on_tick is not None:
                    on_tick(time.monotonic() - start)
    finally:
        _kill_group(pgid)  # the tool's own children, on every way out
        if proc.returncode is None:
            proc.wait()
        _tell_watchdog(f"-{pgid}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
