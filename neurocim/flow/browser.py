"""Check an HTML report the way a reader sees it: in headless Chromium.

:func:`check_page` opens a temporary copy of a page, with a small checking script appended, in
headless Chromium (``--dump-dom``) at a given window width. After the page has loaded, the
script records

* every ``<img>``: loaded when ``complete && naturalWidth > 0`` (a broken ``data:`` URI, a
  missing file or a blocked URL is not);
* every element whose content overflows its box horizontally (``scrollWidth > clientWidth +
  1``), except elements whose job is to clip or scroll (computed ``overflow-x`` ``hidden``,
  ``clip``, ``auto`` or ``scroll``, among them the ``.table-wrap`` scroll wrappers of
  :mod:`neurocim.flow.html`); the root element counts, so a page that scrolls sideways fails;

and writes them as JSON into an element of the dumped DOM, which is parsed back into a
:class:`PageCheck`. :func:`screenshot` renders a page to a PNG (the whole page: its height is
measured first). Chromium runs as a guarded child (:func:`hdl.procs.run`) with a time-out, a
fresh profile in a temporary directory and ``--no-sandbox`` (needed as root); every failure
(no Chromium, a crash, a time-out, a page the script could not check) raises
:class:`BrowserError` naming the problem and the fix.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hdl import procs
from hdl._io import atomic_write_bytes
from hdl.errors import NeurocimError

__all__ = [
    "CHROMIUM_NAMES",
    "BrowserError",
    "PageCheck",
    "check_page",
    "find_chromium",
    "screenshot",
]

#: Executable names :func:`find_chromium` looks for on ``PATH``, in this order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

INSTALL_HINT = (
    "install Debian's chromium: apt-get install chromium (scripts/setup.sh does it when run "
    "as root)"
)
_SMOKE = "chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank"
_RESULT_ID = "neurocim-page-check"
_MAX_HEIGHT = 16384  # Chromium's largest screenshot side is about this

_SCRIPT = """
<script>
(function () {
  "use strict";
  function describe(el) {
    var parts = [];
    for (var e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      var s = e.tagName.toLowerCase();
      if (e.id) { s += "#" + e.id; }
      if (typeof e.className === "string" && e.className.trim()) {
        s += "." + e.className.trim().split(/\\s+/).join(".");
      }
      parts.unshift(s);
      if (e.id) { break; }
    }
    var text = (el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 40);
    return parts.join(" > ") + (text ? " \\"" + text + "\\"" : "") +
      " (" + el.scrollWidth + " > " + el.clientWidth + " px)";
  }
  function check() {
    var result = {images: 0, broken: [], overflowing: [], viewport: window.innerWidth,
                  height: document.documentElement.scrollHeight};
    try {
      var images = document.images;
      result.images = images.length;
      for (var i = 0; i < images.length; i++) {
        var img = images[i];
        if (!(img.complete && img.naturalWidth > 0)) {
          var src = img.getAttribute("src") || "";
          result.broken.push((img.alt ? img.alt + ": " : "") + src.slice(0, 60));
        }
      }
      var all = document.querySelectorAll("*");
      for (var j = 0; j < all.length; j++) {
        var el = all[j];
        if (el.classList.contains("table-wrap")) { continue; }
        var ox = getComputedStyle(el).overflowX;
        if (ox === "hidden" || ox === "clip" || ox === "auto" || ox === "scroll") { continue; }
        if (el.scrollWidth > el.clientWidth + 1) { result.overflowing.push(describe(el)); }
      }
    } catch (err) {
      result.error = String(err);
    }
    var out = document.createElement("pre");
    out.id = "%(id)s";
    out.style.display = "none";
    out.textContent = JSON.stringify(result);
    document.body.appendChild(out);
  }
  if (document.readyState === "complete") { check(); }
  else { window.addEventListener("load", check); }
})();
</script>
""".replace("%(id)s", _RESULT_ID)


class BrowserError(NeurocimError, RuntimeError):
    """Chromium is missing, crashed, timed out, or could not check the page."""


@dataclass(frozen=True)
class PageCheck:
    """What :func:`check_page` found on a page at one window width."""

    width: int
    viewport_width: int
    page_height: int
    images: int
    broken_images: list[str]
    overflowing: list[str]

    @property
    def ok(self) -> bool:
        """Every image loaded and nothing overflows its box."""
        return not self.broken_images and not self.overflowing

    def summary(self) -> str:
        """One line: OK, or what is wrong."""
        if self.ok:
            return f"ok at {self.width} px: {self.images} images loaded, nothing overflows"
        parts = []
        if self.broken_images:
            parts.append(f"{len(self.broken_images)} of {self.images} images broken")
        if self.overflowing:
            parts.append(f"{len(self.overflowing)} elements overflow ({self.overflowing[0]})")
        return f"at {self.width} px: " + "; ".join(parts)


def find_chromium() -> str | None:
    """The path of the first of :data:`CHROMIUM_NAMES` on ``PATH``, or ``None``."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium() -> str:
    """:func:`find_chromium`, or :class:`BrowserError` with the fix."""
    path = find_chromium()
    if path is None:
        raise BrowserError(
            f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}): {INSTALL_HINT}"
        )
    return path


def _tail(text: str, lines: int = 5) -> str:
    """The last lines of Chromium's output that are not its usual D-Bus/GPU noise."""
    noise = re.compile(r"dbus|DBus|gpu|GPU|Fontconfig|sandbox|^\s*$")
    kept = [ln for ln in text.splitlines() if not noise.search(ln)]
    return " | ".join(kept[-lines:]) or "(no output)"


def _run_chromium(args: list[str], page: Path, timeout: float, shown: Path | None = None) -> str:
    """Run Chromium headless on ``page`` with ``args``; return its stdout. Messages name
    ``shown`` (the page the caller asked about) rather than a temporary copy."""
    shown = page if shown is None else shown
    exe = _chromium()
    with tempfile.TemporaryDirectory(prefix="neurocim-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-background-networking",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            f"--user-data-dir={profile}",
            *args,
            page.resolve().as_uri(),
        ]
        try:
            proc = procs.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BrowserError(
                f"chromium did not finish within {timeout:g} s on {shown}: check that it starts "
                f"({_SMOKE}) or give it a longer timeout"
            ) from None
        except OSError as exc:
            raise BrowserError(f"cannot start {exe}: {exc}: {INSTALL_HINT}") from exc
    if proc.returncode != 0:
        raise BrowserError(
            f"chromium exited with status {proc.returncode} on {shown}: {_tail(proc.stderr)}: "
            f"check that it runs ({_SMOKE}); reinstall with apt-get install --reinstall chromium"
        )
    return proc.stdout


def _with_script(page: str, base: Path) -> str:
    """``page`` with a ``<base>`` pointing at its own directory (relative links resolve as
    they do for the original) and the checking script before ``</body>``."""
    base_tag = f'<base href="{html.escape(base.resolve().as_uri())}/">'
    head = re.search(r"<head\b[^>]*>", page, re.IGNORECASE)
    if head:
        page = page[: head.end()] + base_tag + page[head.end() :]
    else:
        page = base_tag + page
    body_end = page.lower().rfind("</body>")
    if body_end < 0:
        return page + _SCRIPT
    return page[:body_end] + _SCRIPT + page[body_end:]


def _parse(dom: str, page: Path, width: int) -> PageCheck:
    """The :class:`PageCheck` the script left in the dumped DOM."""
    m = re.search(rf'<pre id="{_RESULT_ID}"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    if m is None:
        raise BrowserError(
            f"chromium loaded {page} but the checking script left no result (the page's own "
            "scripts may have failed or replaced the document): open it in a browser and look "
            "at the console"
        )
    data = json.loads(html.unescape(m.group(1)))
    if "error" in data:
        raise BrowserError(f"the checking script failed on {page}: {data['error']}")
    return PageCheck(
        width=width,
        viewport_width=int(data["viewport"]),
        page_height=int(data["height"]),
        images=int(data["images"]),
        broken_images=list(data["broken"]),
        overflowing=list(data["overflowing"]),
    )


def check_page(
    html_path: str | Path, width: int = 1200, *, height: int = 900, timeout: float = 60.0
) -> PageCheck:
    """Load ``html_path`` in headless Chromium with a ``width`` x ``height`` window and report
    its broken images and overflowing elements (see the module doc). The page itself is not
    changed: a temporary copy carries the script."""
    page = Path(html_path)
    try:
        text = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BrowserError(f"cannot read {page}: {exc}: check the path") from exc
    with tempfile.TemporaryDirectory(prefix="neurocim-page-") as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(_with_script(text, page.parent), encoding="utf-8")
        dom = _run_chromium(
            [f"--window-size={width},{height}", "--virtual-time-budget=3000", "--dump-dom"],
            copy,
            timeout,
            shown=page,
        )
    return _parse(dom, page, width)


def screenshot(
    html_path: str | Path,
    png_path: str | Path,
    width: int = 1200,
    height: int | None = None,
    *,
    timeout: float = 60.0,
) -> Path:
    """Render ``html_path`` at ``width`` px to ``png_path`` (written atomically); return it.

    With ``height=None`` the whole page is captured: its height is measured first with
    :func:`check_page` (one more Chromium run) and capped at 16384 px.
    """
    page = Path(html_path)
    if height is None:
        height = min(max(check_page(page, width, timeout=timeout).page_height, 1), _MAX_HEIGHT)
    with tempfile.TemporaryDirectory(prefix="neurocim-shot-") as tmp:
        shot = Path(tmp) / "shot.png"
        _run_chromium(
            [
                f"--window-size={width},{height}",
                "--hide-scrollbars",
                "--virtual-time-budget=3000",
                f"--screenshot={shot}",
            ],
            page,
            timeout,
        )
        if not shot.is_file() or shot.stat().st_size == 0:
            raise BrowserError(
                f"chromium wrote no screenshot of {page}: check that it runs ({_SMOKE})"
            )
        return atomic_write_bytes(png_path, shot.read_bytes())
