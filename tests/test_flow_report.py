"""The run report of ``neurocim flow`` (:mod:`neurocim.flow.report`) on a real, tiny run.

One run directory is built once per module with the real commands (search 4 trials, train 2
epochs, export, estimate, rtl without synthesis, sim of 2 images x 2 samples: about 30 s on two
cores); the tests read the numbers they expect from its JSON files themselves. The sim step
needs Icarus Verilog; the page checks need Chromium (they fail without it, with the fix).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from neurocim.cli import main
from neurocim.flow import browser
from neurocim.flow.html import Figure, Paragraph, Report, Section, Verdict, render_markdown
from neurocim.flow.report import build_report, write_run_report

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

SECTIONS = ["Summary", "Search", "Training", "MTJ dropout", "RTL", "Proof", "Steps"]
SEARCH = [
    "--trials", "4", "--no-progress",
    "--set", "search.space.channels=[4]",
    "--set", "search.space.hidden=[16]",
    "--set", "search.space.timesteps=[1]",
    "--set", "search.budget.energy_uj=0.5",
    "--set", "search.budget.memory_bits=20000",
]  # fmt: skip
FIXTURE_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny run in the flow's layout: ``<tmp>/run/{search, model/{train, evaluate,
    network}, estimate, rtl, sim}``, made by the standalone commands."""
    start = time.perf_counter()
    tmp = tmp_path_factory.mktemp("flow-report")
    run = tmp / "run"
    assert main(["search", "--build-dir", str(tmp), "--set", "name=run", *SEARCH]) == 0
    assert main(["train", "--build-dir", str(run), "--arch", str(run / "search"),
                 "--set", "name=model", "--set", "train.epochs=2", "--evaluate", "--no-sweep",
                 "--no-corruptions", "--no-progress"]) == 0  # fmt: skip
    assert main(["export", "--run-dir", str(run / "model"), "--no-progress"]) == 0
    net = str(run / "model" / "network")
    assert main(["estimate", net, "--out", str(run / "estimate" / "cost.json")]) == 0
    assert main(["rtl", net, "--out", str(run / "rtl"), "--no-synth", "--no-progress"]) == 0
    assert main(["sim", net, "--rtl", str(run / "rtl"), "--images", "2", "--samples", "2",
                 "--out", str(run / "sim"), "--no-progress"]) == 0  # fmt: skip
    FIXTURE_SECONDS["run"] = time.perf_counter() - start
    print(f"tiny run built in {FIXTURE_SECONDS['run']:.1f} s")
    return run


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _section(report: Report, title: str) -> Section:
    return next(s for s in report.sections if s.title == title)


def _text(section: Section) -> str:
    """A section's Markdown (every number in it, as shown)."""
    return render_markdown(Report("x", [section]))


def test_sections_in_order_with_figures(run_dir: Path) -> None:
    report = build_report(run_dir)
    assert [s.title for s in report.sections] == SECTIONS
    figures = [b for s in report.sections for b in s.blocks if isinstance(b, Figure)]
    # score_cost, cell, reliability, uncertainty x 2, ROC x 2
    assert len(figures) == 7
    assert "**Not run**" not in render_markdown(Report("x", report.sections))


def test_budget_margin_from_the_json_files(run_dir: Path) -> None:
    search = _json(run_dir / "search" / "candidates.json")
    cost = _json(run_dir / "estimate" / "cost.json")
    winner = next(c for c in search["candidates"] if c["number"] == search["winner"])
    energy, bits = cost["energy"]["uj"], cost["memory_bits"]["weights"]
    energy_margin = 100 * (search["budget"]["energy_uj"] - energy) / search["budget"]["energy_uj"]
    bits_margin = 100 * (search["budget"]["memory_bits"] - bits) / search["budget"]["memory_bits"]
    text = _text(_section(build_report(run_dir), "Summary"))
    assert f"{energy_margin:+.1f} %" in text
    assert f"{bits_margin:+.1f} %" in text
    assert f"{bits:,}" in text
    assert f"{energy:.4g}" in text
    assert f"{winner['cost']['latency_ms']:.4g}" in text
    assert f"{cost['area']['mm2']:.4g}" in text
    assert "no limit" in text  # area and latency have none here
    assert "PASS" in text
    accuracy = _json(run_dir / "model" / "evaluate" / "report.json")["accuracy"]
    assert f"{100 * accuracy:.1f} %" in text


def test_budget_notes_a_search_price_that_differs(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("build"))
    path = copy / "estimate" / "cost.json"
    cost = _json(path)
    cost["energy"]["uj"] *= 1.5
    path.write_text(json.dumps(cost), encoding="utf-8")
    text = _text(_section(build_report(copy), "Summary"))
    assert "energy_uj: the search priced the winner at" in text


def test_search_training_dropout_rtl_proof_numbers(run_dir: Path) -> None:
    report = build_report(run_dir)
    search = _json(run_dir / "search" / "candidates.json")
    text = _text(_section(report, "Search"))
    feasible = sum(c["feasible"] for c in search["candidates"])
    assert f"| feasible (within budget) | {feasible} |" in text
    assert f"| candidates | {len(search['candidates'])} |" in text
    winner = next(c for c in search["candidates"] if c["number"] == search["winner"])
    assert winner["key"] in text and winner["candidate"]["cells"][0] in text

    ev = _json(run_dir / "model" / "evaluate" / "report.json")
    text = _text(_section(report, "Training"))
    assert f"| ECE (expected calibration error) | {ev['ece']:.4g} |" in text
    auroc = ev["ood"]["entropy"]["uniform-noise"]["auroc"]
    assert f"| `entropy` | uniform-noise | 360 | {auroc:.4g} |" in text
    epochs = len(_json(run_dir / "model" / "train" / "metrics.json")["history"])
    assert f"| epochs | {epochs} |" in text

    manifest = _json(run_dir / "rtl" / "manifest.json")
    text = _text(_section(report, "MTJ dropout"))
    for module in manifest["mtj_modules"]:
        assert f"`{module['name']}`" in text
        assert f"{module['realised_current_ua']:.4g}" in text
    pulse = _json(run_dir / "model" / "network" / "network.json")["mtj_driver"]["pulse_ns"]
    assert f"| write pulse \\[ns\\] | {pulse:.4g} |" in text

    rtl = _json(run_dir / "rtl" / "report.json")
    text = _text(_section(report, "RTL"))
    size = (run_dir / "rtl" / "accelerator.v").stat().st_size
    assert f"| `accelerator.v` | {size:,} |" in text
    assert f"{rtl['design']['verilog_lines']:,} lines" in text
    assert f"{rtl['lint']['warnings']} warnings" in text
    assert "Synthesis: not run" in text  # --no-synth

    sim = _json(run_dir / "sim" / "sim.json")
    proof = _section(report, "Proof")
    assert isinstance(proof.blocks[0], Verdict) and proof.blocks[0].ok
    text = _text(proof)
    assert "2 images x 2 samples" in text
    assert f"| cycles per image, predicted (schedule) | {sim['cycles']['schedule']:,} |" in text
    assert f"| busy cycles in all | {sim['busy_cycles']:,} |" in text
    per_image = sim["cycles"]["per_image"]
    assert len(set(per_image)) == 1 and sum(per_image) == sim["busy_cycles"]
    assert f"| cycles per image, measured (busy) | {per_image[0]:,} on each of 2 images |" in text
    n = sim["events"]["rtl"]["adc_conversions"]
    assert f"| `adc_conversions` | {n:,} | {n:,} | {n:,} |" in text
    assert f"| RTL | 2 | {100 * sim['accuracy']['rtl']:.1f} % |" in text


def test_step_records(run_dir: Path) -> None:
    text = _text(_section(build_report(run_dir), "Steps"))
    assert "No step records" in text
    records = {
        "search": {"step": "search", "status": "done", "inputs_digest": "ab" * 32,
                   "settings": {}, "started": "2026-01-01T10:00:00", "seconds": 3.25,
                   "versions": {"neurocim": "0.1"}},
        "sim": {"step": "sim", "status": "done", "inputs_digest": "cd" * 32, "settings": {},
                "started": "2026-01-01T10:01:00", "seconds": 1234.5, "versions": {}},
    }  # fmt: skip
    text = _text(_section(build_report(run_dir, records), "Steps"))
    assert "| `search` | done | 2026-01-01T10:00:00 | 3.25 | `abababababab` |" in text
    assert "| `sim` | done | 2026-01-01T10:01:00 | 1,234 |" in text  # 1234.5 -> 4 digits
    assert "| **total** |   |   | 1,238 |" in text


def test_missing_steps_say_not_run(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("build"))
    shutil.rmtree(copy / "sim")
    report = build_report(copy)
    assert "Not run" in _text(_section(report, "Proof"))
    assert "Proof not run" in _text(_section(report, "Summary"))
    for step in ("estimate", "rtl", "model"):
        shutil.rmtree(copy / step)
    (copy / "search" / "winner" / "cell.png").unlink()
    (copy / "search" / "candidates.json").write_text("{not json", encoding="utf-8")
    (copy / "flow").mkdir()
    (copy / "flow" / "search.json").write_text("[]", encoding="utf-8")
    report = build_report(copy)
    assert [s.title for s in report.sections] == SECTIONS
    for title in SECTIONS[1:6]:
        assert "not run" in _text(_section(report, title)).lower(), title
    summary = _text(_section(report, "Summary"))
    assert "`search/candidates.json` is unreadable" in summary
    assert "`flow/search.json` holds no JSON object" in summary
    html_path, md_path = write_run_report(copy)
    assert html_path.is_file() and md_path.is_file()


def test_report_files_and_page_check(run_dir: Path) -> None:
    if browser.find_chromium() is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (scripts/setup.sh)")
    html_path, md_path = write_run_report(run_dir)
    assert (html_path, md_path) == (run_dir / "report.html", run_dir / "report.md")
    page = html_path.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page and "<script" not in page
    assert (run_dir / "report-fig1.png").is_file()
    for width in (800, 1400):
        check = browser.check_page(html_path, width)
        assert check.ok, check.summary()
        assert check.images == 7


def test_empty_directory(tmp_path: Path) -> None:
    report = build_report(tmp_path)
    assert [s.title for s in report.sections] == SECTIONS
    for section in report.sections[1:6]:
        assert isinstance(section.blocks[0], Paragraph)
        assert section.blocks[0].text.startswith("**Not run**"), section.title
    assert write_run_report(tmp_path)[0] == tmp_path / "report.html"
