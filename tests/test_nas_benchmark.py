"""The NAS benchmark runs end to end on tiny settings and renders its section (so it cannot rot)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("bench_nas", ROOT / "benchmarks" / "nas.py")
    module = importlib.util.module_from_spec(spec)
    assert spec is not None and spec.loader is not None
    sys.modules["bench_nas"] = module
    spec.loader.exec_module(module)
    return module


def test_quick_run_and_section(tmp_path: Path) -> None:
    bench = _load()
    tiny = bench.Settings(
        trials=6,
        sampler_trials=6,
        sampler_seeds=(0,),
        epochs=1,
        train_seeds=(0,),
        cifar_trials=2,
        cifar_batch=4,
    )
    res, text = bench.run(tiny)
    assert text.startswith(bench.HEADING) and "### 5." in text
    res = json.loads(json.dumps(res, default=str))
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({**res, "settings": {"epochs": 1, "train_seeds": [0]}}))
    assert bench.main(["--render", str(saved), "--no-write"]) == 0
    assert len(res["speedup"]) == 3
    for row in res["speedup"]:
        assert row["cf_scored"] == row["feasible"] <= row["valid"] == row["base_scored"]
        assert row["same_winner"] is True
    assert res["samplers"] and "tpe" in res["samplers"][0]
    assert res["cifar"]["snasnet"]["breaks"]  # SNASNet's macro is far over HASNAS's budget
    net, _cand = bench.snasnet_network()
    assert [layer.name for layer in net.layers][-3:] == ["pool", "fc", "out"]

    doc = tmp_path / "nas.md"
    doc.write_text("# x\n\n## 8. Measured\n\ntext\n\n## 9. Not done yet\n\n* y\n")
    bench.write_doc(f"{bench.HEADING}\n\nfirst\n", doc)
    bench.write_doc(f"{bench.HEADING}\n\nsecond\n", doc)
    text = doc.read_text()
    assert text.count(bench.HEADING) == 1 and "second" in text and "first" not in text
    assert text.index(bench.HEADING) < text.index("## 9. Not done yet")
