"""Pinned values (chemprop / datamol / open_clip style): any change to these is a change of
behaviour and must be deliberate.

* the scaffold and random split of the generated fixture molecules;
* ECFP4's on-bit count of aspirin;
* the metrics of a small training run on the generated fixture (a handful of test pairs: the
  numbers pin behaviour and say nothing about the method), stored in
  ``tests/data/golden_small_run.json``. Numbers are pinned to the bit: thinbridge._util.numerics makes
  them the same on any x86-64 machine. After a deliberate change, regenerate with
  ``THINBRIDGE_UPDATE_GOLDEN=1 pytest tests/test_pinned.py`` and say why in the commit.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ASPIRIN, varied_smiles
from thinbridge.data import splits as S
from thinbridge.config import RunConfig
from thinbridge.features.drugs import ecfp4

GOLDEN = Path(__file__).parent / "data" / "golden_small_run.json"
CODE = {"train": "r", "valid": "v", "test": "e"}
SMALL = RunConfig(epochs=20, patience=20, batch_size=16, lr=1e-2, n_boot=50)


def test_scaffold_split_of_the_fixture_molecules_is_pinned():
    smiles = varied_smiles(20, 3, 3)
    labels = S.scaffold_split([S.murcko_scaffold(s) for s in smiles], (0.8, 0.1, 0.1), seed=0)
    assert "".join(CODE[x] for x in labels) == \
        "rrrvvvrrrrrreeevvveeerrrrrrrrrrrrrrreeerrrrrrrrrrrrrrrrrrrrrrrr"


def test_random_split_is_pinned():
    labels = S.random_split(20, (0.8, 0.1, 0.1), seed=0)
    assert "".join(CODE[x] for x in labels) == "rerrrrrrrvrrrrverrrr"


def test_ecfp4_of_aspirin_has_24_bits():
    fp = ecfp4([ASPIRIN])
    assert fp.shape == (1, 2048) and int(fp.sum()) == 24


def _summary(m: dict) -> dict:
    out = {}
    for d in ("text_to_drug", "drug_to_text"):
        g, w = m["test"][d]["global"], m["test"][d]["within_target"]
        out[d] = {"R@1": g["R@1"], "MRR": g["MRR"], "MRR_ci95": g["MRR_ci95"], "wt_R@1_all": w["R@1_all"]}
    out["random_heads_t2d_MRR"] = m["baselines"]["random_heads"]["text_to_drug"]["global"]["MRR"]
    out["cca_t2d_MRR"] = m["baselines"]["cca"]["text_to_drug"]["global"]["MRR"]
    return out


@pytest.mark.slow
def test_metrics_of_a_small_run_are_pinned(generated_prepared, tmp_path, text_model):
    from thinbridge.training.run import train_run

    got = _summary(train_run(generated_prepared, tmp_path / "run", SMALL, tmp_path / "cache",
                             show_progress=False)["metrics"])
    if os.environ.get("THINBRIDGE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    assert got == json.loads(GOLDEN.read_text())
