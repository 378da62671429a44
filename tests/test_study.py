from __future__ import annotations

import json

from spindrop.dropout import DropoutConfig
from spindrop.models import ModelConfig
from spindrop.study import StudyVariant, default_variants, run_study


def test_quick_study_writes_tables_and_json(tmp_path):
    mlp = ModelConfig(hidden=(32,), latent_init=1.0)
    variants = [
        StudyVariant("bnn", mlp),
        StudyVariant(
            "baybnn",
            ModelConfig(hidden=(32,), dropout=DropoutConfig(p=0.5)),
            sweep=True,
            baseline="bnn",
        ),
    ]
    md = run_study(tmp_path, quick=True, variants=variants, progress=False)
    text = md.read_text()
    assert "| bnn |" in text and "| baybnn |" in text
    assert "OOD detection with entropy" in text and "mutual information" in text
    assert "Device variation: baybnn" in text
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {r["variant"]: r for r in results["summary"]["rows"]}
    assert "mutual_information" not in rows["bnn"]["ood"]  # MI is zero without dropout
    assert rows["baybnn"]["accuracy"]["values"]


def test_default_variants_pair_each_baybnn_with_a_bnn():
    variants = {v.name: v for v in default_variants()}
    for v in variants.values():
        if v.model.bayesian:
            assert v.baseline in variants and not variants[v.baseline].model.bayesian
