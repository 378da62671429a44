"""A screenshot of a run's report (``build/<run>/report.html``) for the docs.

Usage:  .venv/bin/python benchmarks/report_screenshot.py build/<run> docs/report.png
        [--width 1200] [--height N] [--write]

With ``--write`` (or when ``report.html`` is missing) the report is written first from the
run's artifacts (:func:`neurocim.flow.report.write_run_report`). Without ``--height`` the
whole page is captured (capped at 16384 px). Needs Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurocim.flow.browser import check_page, screenshot
from neurocim.flow.report import write_run_report


def report_screenshot(
    run_dir: str | Path,
    png_path: str | Path,
    width: int = 1200,
    height: int | None = None,
    *,
    write: bool = False,
) -> Path:
    """Write a PNG of ``<run_dir>/report.html`` at ``width`` px to ``png_path``; return it.
    The report is (re)written first with ``write=True`` or when it does not exist."""
    run = Path(run_dir)
    page = run / "report.html"
    if write or not page.is_file():
        page, _ = write_run_report(run)
    return screenshot(page, png_path, width, height)


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module doc)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="run directory (build/<run>)")
    ap.add_argument("png", type=Path, help="PNG file to write")
    ap.add_argument("--width", type=int, default=1200, help="window width [px]")
    ap.add_argument("--height", type=int, default=None, help="window height [px] (default: all)")
    ap.add_argument("--write", action="store_true", help="write report.html first")
    args = ap.parse_args(argv)
    png = report_screenshot(args.run_dir, args.png, args.width, args.height, write=args.write)
    check = check_page(args.run_dir / "report.html", args.width)
    print(f"{png}: {check.summary()}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
