"""The NAS benchmark runs end to end on tiny settings and renders its section (so it cannot rot)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

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
    assert res["samplers"]["rows"] and "tpe" in res["samplers"]["rows"][0]
    targets = list(res["samplers"]["targets"].values())
    assert targets == sorted(targets)
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


def test_snasnet_network_is_its_released_genotype_at_its_published_size() -> None:
    bench = _load()
    forward, backward = bench.cnt_mat_cell("0302 0030 3003 0000")
    # row i, column j is edge i -> j: 0->1 conv3x3, 0->3 conv1x1, 1->2 conv3x3, 2->3 conv3x3
    assert forward == "conv3x3-zero-conv3x3-conv1x1-zero-conv3x3" == bench.SNASNET_CELL
    assert backward == [(2, 0, "conv3x3")]
    net, _cand = bench.snasnet_network()
    params = sum(
        int(np.prod(e.weight_shape)) for layer in net.layers for e in layer.edges if e.weighted
    )
    # by hand: stem 3*128*9; cell 1: 2 conv3x3 + 1 conv3x3 at 128 and a conv1x1; down
    # 128*256*9; cell 2 the same at 256; pool 256*256*4; fc 256*8*8*1024; out 1024*100
    c1, c2 = 3 * 128 * 128 * 9 + 128 * 128, 3 * 256 * 256 * 9 + 256 * 256
    by_hand = 3 * 128 * 9 + c1 + 128 * 256 * 9 + c2 + 256 * 256 * 4 + 16384 * 1024 + 102400
    assert params == by_hand
    assert abs(params / 19.5e6 - 1) < 0.05  # SNASNet reports about 19.5 M parameters
    assert "pool.0" in net.metadata["pool_edges"]
