"""Run a cocotb testbench against generated Verilog, from Python or pytest.

One call writes the Verilog into a build directory of its own, compiles it, runs the cocotb
test module and reads the verdict from the xUnit results file the run writes (never from the
console output)::

    >>> from hdl.rtl import lif_verilog
    >>> from sim.runner import run_cocotb
    >>> p = dict(membrane_bits=8, current_bits=6, threshold_bits=7, leak_shift=2)
    >>> result = run_cocotb(lif_verilog(**p), toplevel="lif_unit", test_module="sim.tb_lif",
    ...                     name="lif", params={"lif": p})          # doctest: +SKIP
    >>> result.tests, result.failed                                   # doctest: +SKIP
    (1, 0)

The build directory is ``build/sim/<name>-<hash of params>/`` (or the caller's ``build_dir``),
so runs of different configurations never share files and can go in parallel (pytest-xdist).
``params`` reach the testbench as JSON in the environment variable ``NEUROCIM_TB_PARAMS``
(:func:`tb_params` reads them back). Amaranth's Verilog has no ``timescale``; the build sets
1 ns / 1 ps.

Simulators: ``"icarus"`` (Icarus Verilog, installed by scripts/setup.sh) and ``"verilator"``
(used only when a ``verilator`` executable is on ``PATH``; neurocim never installs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

__all__ = [
    "TB_PARAMS_ENV",
    "SimResult",
    "SimulationError",
    "SimulatorNotFound",
    "config_build_dir",
    "run_cocotb",
    "tb_params",
]

#: Environment variable that carries the testbench parameters (JSON).
TB_PARAMS_ENV = "NEUROCIM_TB_PARAMS"
#: Time unit and precision of every build (Amaranth emits no `timescale).
TIMESCALE = ("1ns", "1ps")
SIMULATORS = ("icarus", "verilator")
_ROOT = Path(__file__).resolve().parent.parent


class SimulationError(RuntimeError):
    """The build failed, the simulation ended abnormally, or a cocotb test failed."""


class SimulatorNotFound(SimulationError):
    """The requested simulator is not installed."""


@dataclass(frozen=True)
class SimResult:
    """A finished run in which every cocotb test passed."""

    build_dir: Path
    results_xml: Path
    log: Path
    tests: int
    failed: int
    waves: Path | None


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def config_build_dir(name: str, params: Mapping[str, Any], root: Path | None = None) -> Path:
    """``<root>/build/sim/<name>-<first 12 hex digits of sha256(params as sorted JSON)>``."""
    digest = hashlib.sha256(_canonical(params).encode()).hexdigest()[:12]
    return (root or _ROOT) / "build" / "sim" / f"{name}-{digest}"


def tb_params() -> dict[str, Any]:
    """The ``params`` given to :func:`run_cocotb`, read inside a testbench."""
    text = os.environ.get(TB_PARAMS_ENV)
    if text is None:
        raise SimulationError(
            f"{TB_PARAMS_ENV} is not set: run this testbench through sim.runner.run_cocotb"
        )
    return json.loads(text)


def _check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {list(SIMULATORS)}, not {simulator!r}")
    if simulator == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise SimulatorNotFound(
                f"Icarus Verilog is not installed ({', '.join(missing)} not on PATH): "
                "run scripts/setup.sh (it installs the Debian package iverilog)"
            )
    elif shutil.which("verilator") is None:
        raise SimulatorNotFound(
            "verilator is not installed (not on PATH) and neurocim does not install it: "
            "install Verilator yourself or use simulator='icarus'"
        )


def _failures(results_xml: Path) -> list[str]:
    """The failure / error messages of the failed testcases in an xUnit results file."""
    out = []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        for bad in (*case.findall("failure"), *case.findall("error")):
            message = bad.get("message") or (bad.text or "").strip()
            out.append(f"{case.get('name')}: {message}")
    return out


def _tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_cocotb(
    verilog: str,
    *,
    toplevel: str,
    test_module: str,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    build_dir: str | os.PathLike[str] | None = None,
    simulator: str = "icarus",
    waves: bool = False,
    seed: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> SimResult:
    """Compile ``verilog`` (one module tree, top ``toplevel``) and run ``test_module`` on it.

    ``build_dir`` defaults to :func:`config_build_dir` of ``name`` (default ``toplevel``) and
    ``params``; the Verilog is written there as ``<toplevel>.v`` with the logs ``build.log``
    and ``sim.log``, the verdict ``results.xml`` and, with ``waves``, ``<toplevel>.fst``.
    Returns the :class:`SimResult` when every test passed; raises :class:`SimulationError`
    (with the failure messages from ``results.xml`` and the log's tail) otherwise, and
    :class:`SimulatorNotFound` when the simulator is missing.
    """
    params = dict(params or {})
    _check_simulator(simulator)
    if build_dir is None:
        build_dir = config_build_dir(name or toplevel, {"simulator": simulator, **params})
    out = Path(build_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = out / f"{toplevel}.v"
    source.write_text(verilog)
    build_log, sim_log, results_xml = out / "build.log", out / "sim.log", out / "results.xml"
    results_xml.unlink(missing_ok=True)

    runner = get_runner(simulator)
    try:
        runner.build(
            sources=[source],
            hdl_toplevel=toplevel,
            build_dir=out,
            always=True,
            timescale=TIMESCALE,
            waves=waves,
            log_file=build_log,
        )
    except (RuntimeError, SystemExit) as exc:
        raise SimulationError(
            f"building {source} with {simulator} failed ({exc}); log {build_log}:\n"
            f"{_tail(build_log)}"
        ) from None

    env = {TB_PARAMS_ENV: _canonical(params), **(extra_env or {})}
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            build_dir=out,
            results_xml=str(results_xml),
            extra_env=env,
            waves=waves,
            seed=seed,
            log_file=sim_log,
        )
    except (RuntimeError, SystemExit):
        pass  # the verdict comes from results.xml below; a missing file means a crash
    try:
        tests, failed = get_results(results_xml)
    except RuntimeError:
        raise SimulationError(
            f"the simulation of {test_module} ended without results ({results_xml}); "
            f"log {sim_log}:\n{_tail(sim_log)}"
        ) from None
    if failed or tests == 0:
        messages = "\n".join(_failures(results_xml)) or "(no test ran)"
        raise SimulationError(
            f"{failed} of {tests} cocotb tests of {test_module} failed on {toplevel} "
            f"({simulator}, {out}):\n{messages}\nlog {sim_log}"
        )
    wave_file = out / f"{toplevel}.fst" if waves else None
    return SimResult(out, results_xml, sim_log, tests, failed, wave_file)
