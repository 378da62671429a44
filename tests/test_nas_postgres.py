"""Two search workers on one study in a real PostgreSQL server; one is killed mid-trial.

The fixture starts PostgreSQL (Debian's ``postgresql`` package, installed by
scripts/setup.sh) on 127.0.0.1 in a temporary directory, as an unprivileged user: the server
refuses to run as root, so under root (CI) it runs as ``postgres`` (or ``nobody``) through
``runuser``. Skipped only when the server's binaries are absent.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _binaries() -> Path | None:
    """The directory holding initdb and pg_ctl (PATH, else Debian's versioned directory)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> tuple[list[str], str | None]:
    """The command prefix that runs the server unprivileged, and that user (None: this one)."""
    if os.geteuid() != 0:
        return [], None
    import pwd

    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"], user
    pytest.fail("running as root without a 'postgres' or 'nobody' user to run PostgreSQL as")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg2")
    prefix, user = _as_user()
    base = Path(tempfile.mkdtemp(prefix="neurocim-pg-"))
    if user is not None:
        shutil.chown(base, user=user)
    data, port = base / "data", _free_port()
    run = {"check": True, "capture_output": True, "timeout": 60}
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "neurocim",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        **run,
    )
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=50"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        **run,
    )
    try:
        yield f"postgresql+psycopg2://neurocim@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


WORKER = Path(__file__).with_name("nas_worker.py")


def _worker(url: str, out: Path) -> list[str]:
    return [
        sys.executable,
        str(WORKER),
        str(out),
        "--name=pg",
        "--trials=12",
        "--seed=9",
        f"--storage={url}",
        "--heartbeat-s=1",
        "--grace-s=2",
        "--delay=0.5",
    ]


def test_two_workers_one_killed(postgres_url, tmp_path):
    import optuna
    from optuna.trial import TrialState

    from nas.space import SearchSpace, SpaceConfig

    storage = optuna.storages.RDBStorage(postgres_url)

    def trials() -> list:
        try:
            return optuna.load_study(study_name="pg", storage=storage).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            return []

    hang = tmp_path / "hanging"
    env = {**os.environ, "HANG_AT": "2", "HANG_FILE": str(hang)}
    victim = subprocess.Popen(_worker(postgres_url, tmp_path / "a"), env=env)
    survivor = subprocess.Popen(_worker(postgres_url, tmp_path / "b"))
    try:
        deadline = time.monotonic() + 60
        while not hang.exists() and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.02)
        assert hang.exists(), "the victim never reached its second score"
        os.kill(victim.pid, signal.SIGKILL)  # in the middle of scoring its second candidate
        victim.wait()
        killed = [
            t.number
            for t in trials()
            if t.state == TrialState.RUNNING
            and t.system_attrs["neurocim:worker"]["pid"] == victim.pid
        ]
        before = {t.number: t.user_attrs for t in trials() if t.state == TrialState.COMPLETE}
        assert len(killed) == 1 and len(before) >= 1
        assert survivor.wait(timeout=90) == 0
    finally:
        for p in (victim, survivor):
            if p.poll() is None:
                p.kill()
                p.wait()
    final = trials()
    complete = [t for t in final if t.state == TrialState.COMPLETE]
    for number, attrs in before.items():  # nothing finished was lost or changed
        assert final[number].state == TrialState.COMPLETE and final[number].user_attrs == attrs
    assert final[killed[0]].state == TrialState.FAIL  # the heartbeat failed it ...
    retry = [t for t in complete if t.system_attrs.get("failed_trial") == killed[0]]
    assert len(retry) == 1  # ... and it was run again, once
    assert not [t for t in final if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    indices = sorted(t.user_attrs["stream_index"] for t in complete)
    assert indices == list(range(12))  # no duplicate, none lost
    space = SearchSpace(
        SpaceConfig(channels=(4, 8), hidden=(16, 32), timesteps=(1, 2), modules=(1, 4))
    )
    for t in complete:
        assert t.user_attrs["key"] == space.stream(9, t.user_attrs["stream_index"]).key
