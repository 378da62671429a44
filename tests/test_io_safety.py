"""Artifact writes that fail cleanly (full or read-only disk, kill -9) and run-directory locks."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hdl import _io
from hdl._io import (
    LOCK_NAME,
    DirectoryInUseError,
    WriteError,
    atomic_write,
    atomic_write_text,
    locked_dir,
)
from hdl.errors import NeurocimError

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "fsync", no_space)
    with pytest.raises(WriteError) as info:
        atomic_write_text(path, "new")
    message = str(info.value)
    assert message.startswith(f"cannot write {path}: No space left on device (ENOSPC)")
    assert "free some disk space" in message and "\n" not in message
    assert isinstance(info.value, NeurocimError) and info.value.errno == errno.ENOSPC
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_read_only_directory_names_the_path_and_the_fix(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(_io.tempfile, "mkstemp", read_only)
    with pytest.raises(WriteError, match=r"Read-only file system \(EROFS\): make the directory"):
        atomic_write_text(tmp_path / "a.txt", "x")


def test_a_file_where_a_directory_should_be(tmp_path):
    (tmp_path / "build").write_text("not a directory")
    with pytest.raises(WriteError, match=r"cannot write .*build/run/a\.txt.*a file stands where"):
        atomic_write_text(tmp_path / "build" / "run" / "a.txt", "x")
    with pytest.raises(WriteError, match="a file stands where"):
        with locked_dir(tmp_path / "build" / "run"):
            pass


def test_kill_9_during_a_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"old checkpoint")
    proc = _python(
        f"""
        import time
        from hdl._io import atomic_write
        def slow(f):
            f.write(b"half a checkpoint")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        atomic_write({str(path)!r}, slow)
        """
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert path.read_bytes() == b"old checkpoint"
    atomic_write(path, lambda f: f.write(b"new"))  # the leftover temporary blocks nothing
    assert path.read_bytes() == b"new"


def test_a_locked_directory_refuses_a_second_process(tmp_path):
    run = tmp_path / "run"
    holder = _python(
        f"""
        import time
        from hdl._io import locked_dir
        with locked_dir({str(run)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DirectoryInUseError) as info:
            with locked_dir(run, "run directory"):
                pass
        assert str(info.value) == (
            f"run directory {run} is in use by another neurocim process (pid {holder.pid}): "
            "wait for it to finish or choose another name"
        )
    finally:
        holder.kill()
        holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    while True:  # the operating system drops the lock of a killed process
        try:
            with locked_dir(run):
                break
        except DirectoryInUseError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_the_lock_nests_in_one_process_and_is_released(tmp_path):
    with locked_dir(tmp_path / "r") as d:
        with locked_dir(tmp_path / "r"):
            assert (d / LOCK_NAME).read_text().strip() == str(os.getpid())
        assert d == tmp_path / "r"
    probe = _python(
        f"""
        from hdl._io import locked_dir
        with locked_dir({str(tmp_path / "r")!r}):
            print("ok", flush=True)
        """
    )
    assert probe.communicate(timeout=30)[0].strip() == "ok"


def test_a_directory_the_lock_created_goes_when_nothing_was_written(tmp_path):
    """A run refused before it wrote anything leaves no empty run directory behind; a
    directory that existed, or that got files, stays."""
    with locked_dir(tmp_path / "refused"):
        pass
    assert not (tmp_path / "refused").exists()
    with locked_dir(tmp_path / "used") as d:
        (d / "config.json").write_text("{}")
    assert (tmp_path / "used" / "config.json").is_file()
    (tmp_path / "existing").mkdir()
    with locked_dir(tmp_path / "existing"):
        pass
    assert (tmp_path / "existing").is_dir()
