"""A small document model for run reports and its two renderers: HTML and GitHub Markdown.

A :class:`Report` is a title and :class:`Section` s; a section holds blocks:
:class:`Paragraph`, :class:`Table`, :class:`Figure`, :class:`Code`, :class:`KeyValues` and
:class:`Verdict`. Text in paragraphs, table cells, captions and verdicts is plain text in which
```code``` spans (backticks) and ``**bold**`` are the only markup; everything else is escaped.

:func:`render_html` gives ONE self-contained HTML5 page: CSS inline, every figure embedded as a
base64 PNG ``data:`` URI, no external resource and no JavaScript. Its layout keeps everything in
its box at any width from 800 to 1400 px: wide tables scroll inside a wrapper
(``overflow-x: auto``), long words and paths wrap (``overflow-wrap: anywhere``), images shrink
(``max-width: 100%``). A table of contents at the top links to each section's anchor.

:func:`render_markdown` gives the same content as GitHub Markdown, each figure linked as a PNG
file named by :func:`markdown_figures`; :func:`write_report` writes ``<name>.html``,
``<name>.md`` and those PNG files into one directory, atomically (:mod:`hdl._io`).

Both renderers are deterministic: the same report gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hdl._io import atomic_write_bytes, atomic_write_text, write_error
from hdl.errors import NeurocimError

__all__ = [
    "Block",
    "Code",
    "Figure",
    "KeyValues",
    "Paragraph",
    "Report",
    "ReportError",
    "Section",
    "Table",
    "Verdict",
    "markdown_figures",
    "render_html",
    "render_markdown",
    "write_report",
]

Align = Literal["left", "right", "center"]


class ReportError(NeurocimError, ValueError):
    """A report that cannot be rendered (a ragged table, a figure that is not a PNG, ...)."""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text with ```code``` and ``**bold**`` spans."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table: one header row and rows of cells, each row as long as the header.

    Cells are strings (with ```code``` and ``**bold**``), numbers (floats written with 6
    significant digits) or anything with a ``str``. ``align`` gives each column's alignment
    (``"left"``, ``"right"``, ``"center"``); the default is left for every column.
    """

    header: Sequence[object]
    rows: Sequence[Sequence[object]]
    caption: str | None = None
    align: Sequence[Align] | None = None


@dataclass(frozen=True)
class Figure:
    """A PNG image with a caption (shown) and an alternative text (for readers without it)."""

    png: bytes
    caption: str
    alt: str


@dataclass(frozen=True)
class Code:
    """A preformatted block (a command, a log excerpt), shown as it is."""

    text: str


@dataclass(frozen=True)
class KeyValues:
    """A two-column table of names and values."""

    pairs: Sequence[tuple[object, object]]


@dataclass(frozen=True)
class Verdict:
    """A PASS (``ok``) or FAIL badge followed by a sentence."""

    ok: bool
    text: str


Block = Paragraph | Table | Figure | Code | KeyValues | Verdict


@dataclass(frozen=True)
class Section:
    """A titled section of blocks."""

    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)


@dataclass(frozen=True)
class Report:
    """A titled report of sections."""

    title: str
    sections: Sequence[Section] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------
# shared helpers

_INLINE = re.compile(r"(`+)(.+?)\1|\*\*(.+?)\*\*", re.DOTALL)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ALIGNS = ("left", "right", "center")


def _cell_text(value: object) -> str:
    """A table cell's text: floats with 6 significant digits, everything else through ``str``."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _png_size(png: bytes, caption: str) -> tuple[int, int]:
    """Width and height from a PNG's header; :class:`ReportError` if ``png`` is not a PNG."""
    if not isinstance(png, bytes | bytearray) or len(png) < 24 or png[:8] != _PNG_SIGNATURE:
        raise ReportError(
            f"figure {caption!r} is not a PNG image: pass the bytes of a PNG file "
            "(e.g. matplotlib's savefig(buf, format='png'))"
        )
    width, height = struct.unpack(">II", bytes(png[16:24]))
    return width, height


def _check_table(table: Table) -> list[Align]:
    """Validate a table's shape and alignment; return one alignment per column."""
    ncols = len(table.header)
    for i, row in enumerate(table.rows):
        if len(row) != ncols:
            raise ReportError(
                f"table {table.caption or ''!r}: row {i} has {len(row)} cells but the header "
                f"has {ncols}: give every row one cell per column"
            )
    if table.align is None:
        return ["left"] * ncols
    align = list(table.align)
    if len(align) != ncols or any(a not in _ALIGNS for a in align):
        raise ReportError(
            f"table {table.caption or ''!r}: align must give one of {', '.join(_ALIGNS)} "
            f"for each of its {ncols} columns, got {align!r}"
        )
    return align


def _figures(report: Report) -> list[Figure]:
    """The report's figures in document order."""
    return [b for s in report.sections for b in s.blocks if isinstance(b, Figure)]


def _check_block(block: object) -> None:
    """:class:`ReportError` for an object that is not a block."""
    if not isinstance(block, Block):
        raise ReportError(
            f"{type(block).__name__} is not a report block: use Paragraph, Table, Figure, "
            "Code, KeyValues or Verdict"
        )


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { font: 16px/1.5 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif;
  color: #1f2328; background: #fff; }
body { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; overflow-wrap: anywhere; }
h1 { font-size: 1.8rem; margin: 0 0 1rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 0.75rem; padding-bottom: 0.25rem;
  border-bottom: 1px solid #d0d7de; }
p { margin: 0.6rem 0; }
code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.88em; }
code { background: #f3f4f6; border-radius: 4px; padding: 0.05em 0.3em; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.75rem;
  overflow-x: auto; max-width: 100%; overflow-wrap: normal; }
pre code { background: none; padding: 0; font-size: 1em; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 0.5rem 1rem; }
nav.toc h2 { font-size: 1rem; margin: 0.25rem 0; border: none; padding: 0; }
nav.toc ol { margin: 0.25rem 0; padding-left: 1.5rem; }
a { color: #0969da; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: 0.75rem 0; }
table { border-collapse: collapse; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; vertical-align: top;
  text-align: left; overflow-wrap: break-word; }
th { background: #f6f8fa; }
.right { text-align: right; font-variant-numeric: tabular-nums; }
.center { text-align: center; }
table.kv { width: 100%; }
table.kv th, table.kv td { overflow-wrap: anywhere; }
table.kv th { width: 30%; }
figure { margin: 1rem 0; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.92rem; color: #59636e; margin-top: 0.35rem; }
.verdict { font-weight: 600; }
.badge { display: inline-block; border-radius: 4px; padding: 0.05em 0.5em; margin-right: 0.4em;
  color: #fff; letter-spacing: 0.05em; }
.badge.pass { background: #1a7f37; }
.badge.fail { background: #cf222e; }
""".strip()


def _inline_html(text: str) -> str:
    """Plain text as escaped HTML with ```code``` and ``**bold**`` spans."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(f"<code>{html.escape(m.group(2).strip(' ') or m.group(2))}</code>")
        else:
            out.append(f"<strong>{_inline_html(m.group(3))}</strong>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _slug(title: str) -> str:
    """An ASCII anchor fragment for a title (``"section"`` if nothing ASCII is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "section"


def _cell_html(tag: str, value: object, align: Align) -> str:
    """One ``<th>`` or ``<td>``."""
    cls = "" if align == "left" else f' class="{align}"'
    return f"<{tag}{cls}>{_inline_html(_cell_text(value))}</{tag}>"


def _table_html(table: Table) -> str:
    """A table inside its scroll wrapper."""
    align = _check_table(table)
    lines = ['<div class="table-wrap">', "<table>"]
    if table.caption:
        lines.append(f"<caption>{_inline_html(table.caption)}</caption>")
    head = "".join(_cell_html("th", v, a) for v, a in zip(table.header, align, strict=True))
    lines.append(f"<thead><tr>{head}</tr></thead>")
    lines.append("<tbody>")
    for row in table.rows:
        cells = "".join(_cell_html("td", v, a) for v, a in zip(row, align, strict=True))
        lines.append(f"<tr>{cells}</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    return "\n".join(lines)


def _block_html(block: Block) -> str:
    """One block as HTML."""
    _check_block(block)
    if isinstance(block, Paragraph):
        return f"<p>{_inline_html(block.text)}</p>"
    if isinstance(block, Table):
        return _table_html(block)
    if isinstance(block, Figure):
        width, height = _png_size(block.png, block.caption)
        data = base64.b64encode(bytes(block.png)).decode("ascii")
        return (
            f'<figure>\n<img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}"'
            f' width="{width}" height="{height}">\n'
            f"<figcaption>{_inline_html(block.caption)}</figcaption>\n</figure>"
        )
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, KeyValues):
        rows = "\n".join(
            f"<tr><th>{_inline_html(_cell_text(k))}</th><td>{_inline_html(_cell_text(v))}</td></tr>"
            for k, v in block.pairs
        )
        body = f'<table class="kv">\n<tbody>\n{rows}\n</tbody>\n</table>'
        return f'<div class="table-wrap">\n{body}\n</div>'
    word, cls = ("PASS", "pass") if block.ok else ("FAIL", "fail")
    return (
        f'<p class="verdict"><span class="badge {cls}">{word}</span>{_inline_html(block.text)}</p>'
    )


def _anchors(report: Report) -> list[str]:
    """One unique anchor per section: ``s<n>-<slug>``."""
    return [f"s{i}-{_slug(s.title)}" for i, s in enumerate(report.sections, 1)]


def render_html(report: Report) -> str:
    """``report`` as one self-contained HTML5 page (see the module doc)."""
    anchors = _anchors(report)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_inline_html(report.title)}</h1>",
    ]
    if report.sections:
        out += ['<nav class="toc">', "<h2>Contents</h2>", "<ol>"]
        out += [
            f'<li><a href="#{a}">{_inline_html(s.title)}</a></li>'
            for s, a in zip(report.sections, anchors, strict=True)
        ]
        out += ["</ol>", "</nav>"]
    for section, anchor in zip(report.sections, anchors, strict=True):
        out.append(f'<section id="{anchor}">')
        out.append(f"<h2>{_inline_html(section.title)}</h2>")
        out += [_block_html(b) for b in section.blocks]
        out.append("</section>")
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"[\\`*\[\]<>]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?[0-9A-Za-z]+;)")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def _md_escape(text: str) -> str:
    """Plain text with Markdown's active characters backslash-escaped (``_`` only where it
    could start or end emphasis: GitHub never treats an underscore inside a word as one;
    ``&`` only where it would start an entity)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _md_code_span(code: str) -> str:
    """A code span whose delimiter is longer than any run of backticks inside it."""
    runs = [len(r) for r in re.findall(r"`+", code)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") or not code.strip() else ""
    return f"{fence}{pad}{code}{pad}{fence}"


def _inline_md(text: str) -> str:
    """Plain text as one line of Markdown with ```code``` and ``**bold**`` spans."""
    text = re.sub(r"\s*\n\s*", " ", text)
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(_md_escape(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(_md_code_span(m.group(2).strip(" ") or m.group(2)))
        else:
            out.append(f"**{_inline_md(m.group(3))}**")
        pos = m.end()
    out.append(_md_escape(text[pos:]))
    return "".join(out)


def _md_line(text: str) -> str:
    """Inline Markdown that cannot start a heading, quote, list or rule."""
    line = _inline_md(text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line, count=1)


def _md_cell(value: object) -> str:
    """One table cell: inline Markdown with every ``|`` escaped (also inside code spans)."""
    return _inline_md(_cell_text(value)).replace("|", "\\|") or " "


def _md_table(
    header: Sequence[object], rows: Sequence[Sequence[object]], align: list[Align]
) -> str:
    """A GitHub pipe table."""
    rule = {"left": ":---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(_md_cell(v) for v in header) + " |"]
    lines.append("| " + " | ".join(rule[a] for a in align) + " |")
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _github_anchor(title: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading (lower case, punctuation dropped, spaces to ``-``,
    ``-1``, ``-2``, ... for repeats)."""
    base = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base}-{n}"


def _heading_text(title: str) -> str:
    """The text GitHub renders for a heading (code and bold markers dropped), for anchors."""
    return re.sub(r"`+|\*\*", "", title)


def markdown_figures(report: Report, stem: str = "report") -> list[tuple[str, bytes]]:
    """File name (``<stem>-fig<N>.png``, N from 1 in document order) and PNG bytes of each
    figure, as :func:`render_markdown` links them."""
    figures = _figures(report)
    for fig in figures:
        _png_size(fig.png, fig.caption)
    return [(f"{stem}-fig{i}.png", bytes(f.png)) for i, f in enumerate(figures, 1)]


def _block_md(block: Block, figure_link: str | None) -> str:
    """One block as Markdown; ``figure_link`` is the link of a :class:`Figure`."""
    _check_block(block)
    if isinstance(block, Paragraph):
        return _md_line(block.text)
    if isinstance(block, Table):
        align = _check_table(block)
        table = _md_table(block.header, block.rows, align)
        return f"**{_inline_md(block.caption)}**\n\n{table}" if block.caption else table
    if isinstance(block, Figure):
        alt = block.alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f"![{alt}](<{figure_link}>)\n\n*{_inline_md(block.caption)}*"
    if isinstance(block, Code):
        runs = [len(r) for r in re.findall(r"^`{3,}", block.text, re.MULTILINE)]
        fence = "`" * max(3, max(runs, default=0) + 1)
        return f"{fence}\n{block.text.rstrip(chr(10))}\n{fence}"
    if isinstance(block, KeyValues):
        return _md_table(["", ""], [list(p) for p in block.pairs], ["left", "left"])
    word = "PASS" if block.ok else "FAIL"
    return f"**{word}** {_inline_md(block.text)}"


def render_markdown(report: Report, stem: str = "report", link_prefix: str = "") -> str:
    """``report`` as GitHub Markdown, with a table of contents.

    Each figure is an image link to ``<link_prefix><stem>-fig<N>.png``; write the files with
    :func:`markdown_figures` (or let :func:`write_report` do both). With the figures beside
    the Markdown file, ``link_prefix`` is ``""``.
    """
    seen: dict[str, int] = {}
    _github_anchor(_heading_text(report.title), seen)
    names = iter(name for name, _ in markdown_figures(report, stem))
    out = [f"# {_inline_md(report.title)}"]
    if report.sections:
        _github_anchor("contents", seen)
        toc = [
            f"{i}. [{_inline_md(s.title)}](#{_github_anchor(_heading_text(s.title), seen)})"
            for i, s in enumerate(report.sections, 1)
        ]
        out += ["## Contents", "\n".join(toc)]
    for section in report.sections:
        out.append(f"## {_inline_md(section.title)}")
        for block in section.blocks:
            link = link_prefix + next(names) if isinstance(block, Figure) else None
            out.append(_block_md(block, link))
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# files


def write_report(report: Report, out_dir: str | Path, name: str = "report") -> tuple[Path, Path]:
    """Write ``<name>.html``, ``<name>.md`` and the Markdown's ``<name>-fig<N>.png`` files into
    ``out_dir`` (created if needed), each atomically; return the HTML and Markdown paths.

    Figure files of an earlier, longer report of the same name are removed. The Markdown is
    written after its figures and the HTML last, so a reader never finds a link to a missing
    file. Both documents are rendered before anything is written: a bad report writes nothing.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ReportError(f"report name {name!r}: use letters, digits, '.', '_' and '-' only")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from exc
    page = render_html(report)
    markdown = render_markdown(report, stem=name)
    figures = markdown_figures(report, stem=name)
    for file_name, png in figures:
        atomic_write_bytes(out / file_name, png)
    keep = {file_name for file_name, _ in figures}
    stale = re.compile(re.escape(name) + r"-fig\d+\.png")
    for path in sorted(out.iterdir()):
        if stale.fullmatch(path.name) and path.name not in keep:
            path.unlink(missing_ok=True)
    md_path = atomic_write_text(out / f"{name}.md", markdown)
    html_path = atomic_write_text(out / f"{name}.html", page)
    return html_path, md_path
