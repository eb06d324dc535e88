"""thinbridge.training.run: RunConfig, fit() on synthetic correlated features, score_run()'s schema."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from thinbridge.evaluation import tasks as E
from thinbridge.bridge.baselines import random_heads
from thinbridge._util.errors import UserError
from thinbridge.training.run import METRICS_SCHEMA, Inputs, RunConfig, _val_mrr, embed, fit, score_run

N_PAIRS, N_TARGETS, DRUG_DIM, TEXT_DIM, LATENT = 200, 20, 128, 48, 12


def synthetic_inputs(seed: int = 0, noise: float = 3.0) -> Inputs:
    """200 pairs over 150 molecules and 20 targets; drug and text features share a latent per pair.

    Molecules 0..49 appear twice (two targets, two texts), so the distinct protocol has
    multi-positive queries; split labels are assigned per molecule.
    """
    rng = np.random.default_rng(seed)
    mol = np.concatenate([np.arange(150), np.arange(50)])
    tgt = np.concatenate([np.arange(150) % N_TARGETS, (np.arange(50) + 7) % N_TARGETS])
    z_mol = rng.normal(size=(150, LATENT))
    z_tgt = rng.normal(size=(N_TARGETS, LATENT))
    z = z_mol[mol] + 0.5 * z_tgt[tgt]
    x_drug = z_mol[mol] @ rng.normal(size=(LATENT, DRUG_DIM)) + noise * rng.normal(size=(N_PAIRS, DRUG_DIM))
    x_text = z @ rng.normal(size=(LATENT, TEXT_DIM)) + noise * rng.normal(size=(N_PAIRS, TEXT_DIM))
    side_of_mol = np.array(["train"] * 110 + ["valid"] * 20 + ["test"] * 20)[rng.permutation(150)]
    pairs = pd.DataFrame({
        "pair_id": [f"P{i:05d}" for i in range(N_PAIRS)],
        "parent_inchikey": [f"MOL{m:03d}" for m in mol],
        "target_chembl_id": [f"T{t:02d}" for t in tgt],
    })
    texts = [f"mechanism of molecule {m} on target {t}" for m, t in zip(mol, tgt)]
    return Inputs(pairs, side_of_mol[mol], x_drug.astype(np.float32), x_text.astype(np.float32), texts,
                  "synthetic", {"drug": "synthetic-drug", "text": "synthetic-text"})


CFG = RunConfig(dim=32, epochs=15, patience=5, batch_size=32, lr=3e-3, n_boot=30)


@pytest.fixture(scope="module")
def inp():
    return synthetic_inputs()


@pytest.fixture(scope="module")
def fitted(inp):
    return fit(inp, CFG, show_progress=False)


@pytest.fixture(scope="module")
def scored(fitted, inp):
    return score_run(fitted[0], inp, CFG)


def _val_task(inp):
    rows = inp.rows("valid")
    return E.build_tasks(inp.pairs.iloc[rows], [inp.texts[i] for i in rows])["text_to_drug"]


# ------------------------------------------------------------------ RunConfig
@pytest.mark.parametrize("change, message", [
    ({"split": "temporal"}, "split must be"),
    ({"text_view": "fancy"}, "text view"),
    ({"temperature": 0.0}, "temperature"),
    ({"margin": -0.1}, "margin"),
    ({"hard_weight": -1.0}, "hard-negative"),
    ({"dim": 0}, "dim"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 1}, "batch size"),
    ({"protocol": "triplet"}, "protocol"),
])
def test_run_config_validate_rejects(change, message):
    with pytest.raises(UserError, match=message):
        RunConfig(**change).validate()


def test_run_config_defaults_and_round_trip():
    cfg = RunConfig().validate()
    assert (cfg.dim, cfg.temperature, cfg.split, cfg.text_view, cfg.protocol) == (256, 0.07, "scaffold", "rich",
                                                                                 "distinct")
    d = CFG.to_dict()
    assert d["sizes"] == [0.8, 0.1, 0.1]
    back = RunConfig.from_dict({**d, "unknown_future_key": 1})
    assert back == CFG and isinstance(back.sizes, tuple)


# ------------------------------------------------------------------ fit
def test_fit_improves_validation_mrr_over_random_init(fitted, inp):
    model, history = fitted
    task = _val_task(inp)
    init = _val_mrr(random_heads(DRUG_DIM, TEXT_DIM, CFG.dim, CFG.seed), inp, task)
    trained = _val_mrr(model, inp, task)
    assert trained > init + 0.3, (init, trained)
    assert trained < 1.0  # the task is not trivial, so the comparison above means something
    best = max(h["val_t2d_MRR"] for h in history)
    assert trained == pytest.approx(best)  # the returned model is the best epoch's
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert all(np.isfinite(h["train_loss"]) for h in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_fit_returns_eval_model_on_cpu(fitted):
    model, _ = fitted
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert model.dims == {"drug_dim": DRUG_DIM, "text_dim": TEXT_DIM, "dim": CFG.dim}


def test_fit_deterministic_for_a_seed(fitted, inp):
    cfg = dataclasses.replace(CFG, epochs=4)
    m1, h1 = fit(inp, cfg, show_progress=False)
    m2, h2 = fit(inp, cfg, show_progress=False)
    assert h1 == h2
    for k, v in m1.state_dict().items():
        torch.testing.assert_close(v, m2.state_dict()[k], rtol=0, atol=0)
    m3, h3 = fit(inp, dataclasses.replace(cfg, seed=1), show_progress=False)
    assert not torch.equal(m1.drug_head.weight, m3.drug_head.weight)
    assert [h["train_loss"] for h in h1] != [h["train_loss"] for h in h3]


def test_early_stopping_respects_patience(inp):
    cfg = dataclasses.replace(CFG, epochs=30, patience=1, lr=0.3)  # a wild lr: validation soon stalls
    _, history = fit(inp, cfg, show_progress=False)
    vals = [h["val_t2d_MRR"] for h in history]
    assert len(history) < 30
    assert vals[-1] <= max(vals[:-1])  # stopped right after an epoch that did not improve


def test_fit_needs_two_training_pairs(inp):
    few = dataclasses.replace(inp, split=np.where(np.arange(N_PAIRS) == 0, "train", "test"))
    with pytest.raises(UserError, match="fewer than two training pairs"):
        fit(few, CFG, show_progress=False)


def test_fit_validates_config(inp):
    with pytest.raises(UserError, match="temperature"):
        fit(inp, dataclasses.replace(CFG, temperature=-1.0), show_progress=False)


# ------------------------------------------------------------------ score_run
def _check_metric_block(block: dict, ks, ci: bool):
    assert set(block) == {"text_to_drug", "drug_to_text"}
    for direction in block.values():
        assert {"global", "within_target"} <= set(direction)
        g, w = direction["global"], direction["within_target"]
        for k in ks[0]:
            assert 0.0 <= g[f"R@{k}"] <= 1.0
        for k in ks[1]:
            assert 0.0 <= w[f"R@{k}"] <= 1.0
        assert 0.0 < g["MRR"] <= 1.0 and 0.0 < w["MRR"] <= 1.0
        if ci:
            lo, hi = g["R@1_ci95"]
            assert lo <= g["R@1"] <= hi
            assert len(w["R@1_ci95"]) == 2 and len(g["MRR_ci95"]) == 2


def test_score_run_schema(scored, inp):
    m = scored
    assert m["schema"] == METRICS_SCHEMA and m["protocol"] == "distinct"
    assert m["split_sizes"] == {s: int((inp.split == s).sum()) for s in ("train", "valid", "test")}
    _check_metric_block(m["test"], (E.GLOBAL_KS, E.GROUP_KS), ci=True)
    assert m["test"]["text_to_drug"]["global"]["n_queries"] == len(inp.rows("test"))
    assert set(m["baselines"]) == {"random_heads", "cca", "random_ranking"}
    _check_metric_block(m["baselines"]["random_heads"], (E.GLOBAL_KS, E.GROUP_KS), ci=True)
    _check_metric_block(m["baselines"]["cca"], (E.GLOBAL_KS, E.GROUP_KS), ci=True)
    _check_metric_block(m["baselines"]["random_ranking"], (E.GLOBAL_KS, E.GROUP_KS), ci=False)
    assert set(m["test_by_protocol"]) == set(E.PROTOCOLS)
    for p in E.PROTOCOLS:
        _check_metric_block(m["test_by_protocol"][p], (E.GLOBAL_KS, E.GROUP_KS), ci=True)
    # the config's protocol block equals the test block (less the CMC curves moved out of it)
    assert m["test_by_protocol"]["distinct"] == m["test"]
    assert set(m["cmc"]) == {"text_to_drug", "drug_to_text"}
    assert len(m["cmc"]["text_to_drug"]["global"]) == 50
    assert "cmc" not in m["test"]["text_to_drug"]


def test_score_run_trained_beats_baselines(scored):
    t2d = scored["test"]["text_to_drug"]["global"]
    assert t2d["MRR"] > scored["baselines"]["random_heads"]["text_to_drug"]["global"]["MRR"]
    assert t2d["MRR"] > scored["baselines"]["random_ranking"]["text_to_drug"]["global"]["MRR"]


def test_score_run_n_boot_zero_drops_cis(fitted, inp, scored):
    no_ci = score_run(fitted[0], inp, dataclasses.replace(CFG, n_boot=0), baselines=False, cmc_k=0)
    g = no_ci["test"]["text_to_drug"]["global"]
    assert "R@1_ci95" not in g and g["R@1"] == scored["test"]["text_to_drug"]["global"]["R@1"]
    assert "baselines" not in no_ci and no_ci["cmc"] == {}


def test_embed_is_normalised(fitted, inp):
    zd, zt = embed(fitted[0], inp.x_drug[:7], inp.x_text[:7])
    assert zd.dtype == np.float32 and zd.shape == (7, CFG.dim)
    np.testing.assert_allclose(np.linalg.norm(zd, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(zt, axis=1), 1.0, atol=1e-5)
