"""The HTML/Markdown run report (:mod:`neurocim.flow.html`) and its check in headless Chromium
(:mod:`neurocim.flow.browser`).

The browser tests need Debian's ``chromium`` (``scripts/setup.sh`` installs it); without it they
fail with the command that installs it.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from neurocim.flow import browser
from neurocim.flow.html import (
    Code,
    Figure,
    KeyValues,
    Paragraph,
    Report,
    ReportError,
    Section,
    Table,
    Verdict,
    markdown_figures,
    render_html,
    render_markdown,
    write_report,
)

LONG_PATH = "/build/" + "very_long_directory_name_without_any_break" * 8 + "/report.json"
EVIL = "<script>alert('x')</script> & \"quotes\""


def _png() -> bytes:
    """A real matplotlib PNG (a wide one: it must shrink to fit at 800 px)."""
    fig, ax = plt.subplots(figsize=(12, 3), dpi=100)
    ax.plot([0, 1, 2, 3], [0.1, 0.7, 0.4, 0.9], marker="o")
    ax.set_title("accuracy per epoch")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def report() -> Report:
    """A report with every block kind and the hard cases: a 30-column table, a long
    unbreakable path, non-ASCII text and markup that must be escaped."""
    png = _png()
    wide = Table(
        header=[f"column_{i}" for i in range(30)],
        rows=[[f"{r * 30 + c:,}.{c:03d}" for c in range(30)] for r in range(4)],
        caption="Thirty columns, wider than any page",
        align=["right"] * 30,
    )
    return Report(
        title="Run `mnist-small` — Überblick",
        sections=[
            Section(
                "Summary",
                [
                    Paragraph(f"Trained with **spindrop** on `mnist`; output in {LONG_PATH}."),
                    Verdict(True, "RTL matches the golden model on 100 of 100 images"),
                    Verdict(False, f"timing: {EVIL}"),
                    KeyValues([("run directory", LONG_PATH), ("µ-cells", 4096), ("ratio", 0.5)]),
                ],
            ),
            Section(
                "Tables",
                [
                    wide,
                    Table(["name", "value"], [["a|b", "`x|y`"], [EVIL, 1.23456789]]),
                ],
            ),
            Section(
                "Figures", [Figure(png, "Accuracy — ε < 1 %", "accuracy plot"), Paragraph("_")]
            ),
            Section("Log", [Code(f"$ neurocim flow\n{EVIL}\n{LONG_PATH}\n```\n")]),
            Section("Summary", [Paragraph("A second section with the same title.")]),
        ],
    )


@pytest.fixture(scope="module")
def written(report: Report, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report written with :func:`write_report`."""
    return write_report(report, tmp_path_factory.mktemp("report"))


# ---------------------------------------------------------------------------------------------
# rendering (no browser)


def test_html_is_self_contained(written: tuple[Path, Path]) -> None:
    page = written[0].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n")
    assert "http://" not in page and "https://" not in page
    srcs = re.findall(r"""\bsrc\s*=\s*["']?([^"'\s>]*)""", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"<link\b|@import|url\(", page)
    assert "<script" not in page.lower()  # no JavaScript at all, and the evil text escaped


def test_html_escapes_text(report: Report) -> None:
    page = render_html(report)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "<code>mnist-small</code>" in page and "<strong>spindrop</strong>" in page
    assert "Überblick" in page and "ε &lt; 1 %" in page
    assert 'class="badge pass">PASS<' in page and 'class="badge fail">FAIL<' in page
    assert page.count('<div class="table-wrap">') == 3  # two tables and the key-values
    for rule in ("overflow-x: auto", "overflow-wrap: anywhere", "max-width: 100%"):
        assert rule in page


def test_html_toc_links_to_unique_anchors(report: Report) -> None:
    page = render_html(report)
    ids = re.findall(r'<section id="([^"]+)">', page)
    assert len(ids) == len(set(ids)) == len(report.sections)
    assert re.findall(r'<li><a href="#([^"]+)">', page) == ids


def test_rendering_is_deterministic(report: Report, written: tuple[Path, Path]) -> None:
    assert render_html(report) == render_html(report) == written[0].read_text(encoding="utf-8")
    assert render_markdown(report) == written[1].read_text(encoding="utf-8")


def test_markdown_matches_and_links_existing_figures(
    report: Report, written: tuple[Path, Path]
) -> None:
    md_path = written[1]
    md = md_path.read_text(encoding="utf-8")
    titles = re.findall(r"^## (.+)$", md, re.MULTILINE)
    assert titles == ["Contents"] + [s.title for s in report.sections]
    assert md.startswith("# Run `mnist-small` — Überblick\n")
    links = re.findall(r"!\[[^\]]*\]\(<([^>]+)>\)", md)
    assert links == ["report-fig1.png"]
    assert (md_path.parent / links[0]).read_bytes() == report.sections[2].blocks[0].png
    assert "\\<script\\>alert('x')\\</script\\>" in md  # escaped, not raw HTML
    assert "| a\\|b | `x\\|y` |" in md and "1.23457" in md
    assert "(#summary)" in md and "(#summary-1)" in md  # GitHub's anchors for the repeat
    assert "````\n$ neurocim flow" in md  # a fence longer than the ``` inside the code
    assert re.search(r"^\| ---: \| ---: \|", md, re.MULTILINE)
    assert sorted(p.name for p in md_path.parent.iterdir()) == [
        "report-fig1.png",
        "report.html",
        "report.md",
    ]


def test_write_report_removes_stale_figures(report: Report, tmp_path: Path) -> None:
    (tmp_path / "report-fig7.png").write_bytes(b"old")
    (tmp_path / "other-fig1.png").write_bytes(b"not ours")
    write_report(report, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other-fig1.png",
        "report-fig1.png",
        "report.html",
        "report.md",
    ]
    assert [name for name, _ in markdown_figures(report)] == ["report-fig1.png"]


def test_bad_reports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="row 0 has 1 cells"):
        render_html(Report("t", [Section("s", [Table(["a", "b"], [["x"]])])]))
    with pytest.raises(ReportError, match="not a PNG"):
        render_markdown(Report("t", [Section("s", [Figure(b"GIF89a....", "c", "a")])]))
    with pytest.raises(ReportError, match="align"):
        render_html(Report("t", [Section("s", [Table(["a"], [], align=["middle"])])]))
    with pytest.raises(ReportError, match="report name"):
        write_report(Report("t"), tmp_path, name="../x")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# in headless Chromium


def _require_chromium() -> None:
    """Fail (not skip) without Chromium: scripts/setup.sh installs it."""
    if browser.find_chromium() is None:
        pytest.fail(
            "Chromium is not installed: install Debian's chromium (apt-get install chromium) "
            "or run scripts/setup.sh as root"
        )


@pytest.mark.parametrize("width", [800, 1400])
def test_report_renders_in_chromium(written: tuple[Path, Path], width: int) -> None:
    _require_chromium()
    check = browser.check_page(written[0], width=width)
    assert check.viewport_width == width
    assert check.images == 1 and check.broken_images == []
    assert check.overflowing == [], check.summary()
    assert check.ok


def test_check_detects_broken_images_and_overflow(tmp_path: Path) -> None:
    _require_chromium()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        '<img alt="missing" src="missing.png">'
        '<div id="box" style="width:600px"><div style="width:3000px">wide</div></div>'
        "</body></html>",
        encoding="utf-8",
    )
    check = browser.check_page(page, width=1200)
    assert not check.ok
    assert check.images == 2
    assert [b.split(":")[0] for b in check.broken_images] == ["broken", "missing"]
    assert any(o.startswith("div#box") for o in check.overflowing), check.overflowing
    assert any(o.startswith("html") for o in check.overflowing)  # the page scrolls sideways
    assert "2 of 2 images broken" in check.summary()


def test_screenshot_captures_the_whole_page(written: tuple[Path, Path], tmp_path: Path) -> None:
    _require_chromium()
    shot = browser.screenshot(written[0], tmp_path / "shot.png", width=1000)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1000 and height > 900  # taller than one window: the whole page


def test_missing_chromium_names_the_fix(
    written: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert browser.find_chromium() is None
    with pytest.raises(browser.BrowserError, match="apt-get install chromium"):
        browser.check_page(written[0])


def test_chromium_crash_and_timeout_name_the_problem(
    written: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleep = shutil.which("sleep")
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'Trace/breakpoint trap' >&2\nexit 5\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    crashed = r"exited with status 5 on .*/report.html: Trace/breakpoint trap"
    with pytest.raises(browser.BrowserError, match=crashed):
        browser.check_page(written[0])
    fake.write_text(f"#!/bin/sh\nexec {sleep} 30\n", encoding="utf-8")
    with pytest.raises(browser.BrowserError, match=r"did not finish within 0.3 s"):
        browser.check_page(written[0], timeout=0.3)
