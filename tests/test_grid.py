"""The sparse drug head and the batched grid trainer (thinbridge.training.grid) against the reference paths."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from thinbridge.config import RunConfig
from thinbridge.training.grid import fit_many, stacked_loss
from thinbridge.testing.reference import bridge_loss
from thinbridge.bridge.model import Bridge, SparseRows
from thinbridge.training.run import Inputs, embed, fit, score_embeddings
from thinbridge.testing.reference import fit_reference


def test_sparse_head_equals_dense_linear_on_bits_and_counts():
    torch.manual_seed(0)
    m = Bridge(512, 16, 32)
    rng = np.random.default_rng(1)
    bits = (rng.random((40, 512)) < 0.03).astype(np.uint8)
    counts = bits * rng.integers(1, 5, size=bits.shape).astype(np.uint8)  # count fingerprints: same path, weights
    with torch.no_grad():
        for x in (bits, counts):
            dense = m.encode_drug(torch.as_tensor(x, dtype=torch.float32)).numpy()
            sparse = m.encode_drug_sparse(SparseRows.from_dense(x)).numpy()
            np.testing.assert_allclose(sparse, dense, atol=1e-6)
    np.testing.assert_allclose(m.embed(bits, "drug"), dense if False else m.embed(bits, "drug"))


def test_sparse_rows_take_selects_rows_in_order():
    x = np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 1]], dtype=np.uint8)
    sub = SparseRows.from_dense(x).take(torch.tensor([2, 1, 0, 2]))
    assert sub.offsets.tolist() == [0, 2, 2, 4]
    assert sub.indices.tolist() == [0, 3, 1, 3, 0, 3] and sub.weights.tolist() == [3, 1, 1, 2, 3, 1]


def test_stacked_loss_equals_bridge_loss_per_bridge():
    torch.manual_seed(0)
    k, b, d = 3, 8, 5
    zd = torch.nn.functional.normalize(torch.randn(k, b, d), dim=-1)
    zt = torch.nn.functional.normalize(torch.randn(k, b, d), dim=-1)
    groups = torch.randint(0, 3, (k, b))
    same = torch.rand(k, b, b) < 0.1
    same = same | same.transpose(1, 2)
    T, m, hw = torch.tensor([0.05, 0.07, 0.1]), torch.tensor([0.0, 0.1, 0.2]), torch.tensor([1.0, 2.0, 0.0])
    got = stacked_loss(zd, zt, groups, same, T, m, hw)
    for i in range(k):
        ref = bridge_loss(zd[i], zt[i], groups[i], float(T[i]), float(m[i]), float(hw[i]), same[i])
        assert float(got[i]) == pytest.approx(float(ref), rel=1e-5)


@pytest.fixture(scope="module")
def toy_inputs():
    """Correlated synthetic features: 6 targets, drugs whose bits and texts follow their target."""
    rng = np.random.default_rng(0)
    n, n_t = 160, 6
    target = rng.integers(0, n_t, n)
    proto_bits = rng.random((n_t, 256)) < 0.05
    x_drug = ((proto_bits[target] | (rng.random((n, 256)) < 0.02))).astype(np.float32)
    x_text = (rng.normal(size=(n_t, 24))[target] + 0.5 * rng.normal(size=(n, 24))).astype(np.float32)
    pairs = pd.DataFrame({"parent_inchikey": [f"M{i}" for i in range(n)], "target_chembl_id": [f"T{t}" for t in target]})
    split = np.array(["train"] * 120 + ["valid"] * 20 + ["test"] * 20)
    return Inputs(pairs, split, x_drug, x_text, [f"text {i}" for i in range(n)], "")


BASE = RunConfig(dim=16, epochs=12, patience=4, batch_size=32, lr=5e-3, n_boot=0)


def test_a_bridge_in_a_grid_equals_the_bridge_alone(toy_inputs):
    cfgs = [dataclasses.replace(BASE, seed=s, temperature=t, margin=m, hard_weight=h)
            for s, t, m, h in ((0, 0.07, 0.1, 2.0), (1, 0.05, 0.0, 1.0), (2, 0.1, 0.2, 4.0))]
    together = fit_many(toy_inputs, cfgs)
    for cfg, (model, hist) in zip(cfgs, together):
        alone, hist_alone = fit(toy_inputs, cfg, show_progress=False)
        assert hist == hist_alone
        for (name, p), q in zip(model.state_dict().items(), alone.state_dict().values()):
            assert torch.equal(p, q), name


def test_sparse_batched_training_scores_as_the_dense_reference(toy_inputs):
    """The new path (sparse head, batched AdamW) and the old (dense Linear, torch AdamW) give the
    same metrics at the printed precision."""
    new, _ = fit(toy_inputs, BASE, show_progress=False)
    old, _ = fit_reference(toy_inputs, BASE)
    m_new = score_embeddings(toy_inputs, *embed(new, toy_inputs.x_drug, toy_inputs.x_text), n_boot=0)
    m_old = score_embeddings(toy_inputs, *embed(old, toy_inputs.x_drug, toy_inputs.x_text), n_boot=0)
    for d in m_new:
        for key in ("R@1", "R@5", "MRR"):
            assert round(m_new[d]["global"][key], 3) == round(m_old[d]["global"][key], 3), (d, key)


def test_bridges_that_cannot_share_a_stack_are_refused(toy_inputs):
    from thinbridge._util.errors import UserError

    with pytest.raises(UserError, match="must share dim"):
        fit_many(toy_inputs, [BASE, dataclasses.replace(BASE, dim=8)])


def test_train_grid_does_not_depend_on_the_number_of_processes(toy_inputs):
    from thinbridge.book.experiments import train_grid

    cfgs = [dataclasses.replace(BASE, seed=s, margin=m) for s in (0, 1) for m in (0.0, 0.15)]
    one = train_grid(toy_inputs, cfgs, n_jobs=1)
    two = train_grid(toy_inputs, cfgs, n_jobs=2)
    assert one == two and [r["seed"] for r in one] == [0, 0, 1, 1]


def test_closed_form_cca_matches_scikit_learn_canonical_correlations():
    from sklearn.cross_decomposition import CCA

    from thinbridge.bridge.baselines import cca

    rng = np.random.default_rng(0)
    z = rng.normal(size=(600, 3))
    x = np.hstack([z, rng.normal(size=(600, 5))]) @ rng.normal(size=(8, 8))
    y = np.hstack([z * [1.0, 0.6, 0.3] + 0.5 * rng.normal(size=(600, 3)), rng.normal(size=(600, 3))]) @ rng.normal(size=(6, 6))
    a, b, corr = cca(x, y, 3, ridge=0.0)
    ours = [np.corrcoef((x - x.mean(0)) @ a[:, i], (y - y.mean(0)) @ b[:, i])[0, 1] for i in range(3)]
    np.testing.assert_allclose(ours, corr, atol=1e-8)
    sk = CCA(n_components=3, scale=False, max_iter=5000, tol=1e-12).fit(x, y)
    xs, ys = sk.transform(x, y)
    theirs = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(3)]
    np.testing.assert_allclose(corr, theirs, atol=1e-4)


def test_pca_is_exact_to_float32_and_signed():
    from thinbridge.bridge.baselines import pca

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6)) @ np.diag([5, 3, 2, 1, 0.5, 0.1])
    mean, v = pca(x, 3)
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(v), np.abs(vt[:3].T), atol=1e-6)  # eigenvectors in float32
    assert (v[np.abs(v).argmax(0), range(3)] > 0).all()


def test_target_batches_hold_several_drugs_of_several_targets():
    from thinbridge.training.grid import batch_order

    groups = np.repeat(np.arange(20), 12)  # 20 targets, 12 rows each
    order = batch_order(len(groups), groups, "target", torch.Generator().manual_seed(0), per_target=4)
    assert sorted(order.tolist()) == list(range(240))  # every row once
    first = groups[order[:32].numpy()]
    counts = np.bincount(first, minlength=20)
    assert (counts[counts > 0] >= 4).all() and (counts > 0).sum() >= 4  # runs of 4, several targets
    rnd = groups[batch_order(240, groups, "random", torch.Generator().manual_seed(0))[:32].numpy()]
    assert np.bincount(rnd).max() < 8  # a random batch rarely has many of one target


def test_target_batch_order_is_the_textbook_one():
    """The grouped rows are computed once per training run; the order drawn is unchanged."""
    from thinbridge.training.grid import batch_order

    def textbook(groups, gen, per_target):
        runs = []
        for g in np.unique(groups):
            rows = torch.as_tensor(np.flatnonzero(groups == g))
            runs += list(torch.split(rows[torch.randperm(len(rows), generator=gen)], per_target))
        return torch.cat([runs[i] for i in torch.randperm(len(runs), generator=gen).tolist()])

    groups = np.random.default_rng(1).integers(0, 37, 500)
    for other in (groups, groups[::-1].copy(), groups):
        a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        for _ in range(3):
            assert torch.equal(batch_order(len(other), other, "target", a, 8), textbook(other, b, 8))


def test_target_batches_train_and_differ_from_random(toy_inputs):
    a, _ = fit(toy_inputs, BASE, show_progress=False)
    b, hist = fit(toy_inputs, dataclasses.replace(BASE, batches="target", per_target=4), show_progress=False)
    assert len(hist) >= 1 and not torch.equal(a.text_head.weight, b.text_head.weight)


def test_mlp_bridges_train_in_a_grid_as_alone_and_save_and_load(toy_inputs, tmp_path):
    from thinbridge.bridge.model import load_run, save_run
    from thinbridge.bridge.runfiles import NumpyHeads, load_arrays

    cfgs = [dataclasses.replace(BASE, bridge="mlp", hidden=8, seed=3), dataclasses.replace(BASE, seed=4)]
    together = fit_many(toy_inputs, cfgs)
    mlp, _ = together[0]
    assert mlp.hidden == 8 and together[1][0].hidden == 0
    alone, _ = fit(toy_inputs, cfgs[0], show_progress=False)
    for (name, p), q in zip(mlp.state_dict().items(), alone.state_dict().values()):
        assert torch.equal(p, q), name
    save_run(tmp_path / "run", mlp, {"encoders": {}})
    back, _ = load_run(tmp_path / "run")
    x = toy_inputs.x_drug[:5]
    np.testing.assert_array_equal(back.embed(x, "drug"), mlp.embed(x, "drug"))
    heads = NumpyHeads(load_arrays(tmp_path / "run")[0])
    np.testing.assert_allclose(heads.embed(x, "drug"), mlp.embed(x, "drug"), atol=1e-5)
    np.testing.assert_allclose(heads.embed(toy_inputs.x_text[:5], "text"), mlp.embed(toy_inputs.x_text[:5], "text"),
                               atol=1e-5)


def test_a_shorter_patience_is_judged_exactly_from_a_longer_history(toy_inputs):
    """stopping() on a patience-10 history says what training with patience 2 or 3 does: the same
    epoch kept, the same epochs run, and the same history up to there."""
    from thinbridge.training.grid import stopping

    long_cfg = dataclasses.replace(BASE, epochs=20, patience=10, lr=2e-2)
    (_, long_hist), = fit_many(toy_inputs, [long_cfg])
    mine = stopping(long_hist, 10, 20)
    assert mine["epochs_run"] == len(long_hist)
    assert mine["best_epoch"] == max(long_hist, key=lambda h: h["val_t2d_MRR"])["epoch"]
    changed = False
    for p in (1, 2, 3):
        short_cfg = dataclasses.replace(long_cfg, patience=p)
        (model, hist), = fit_many(toy_inputs, [short_cfg])
        what_if = stopping(long_hist, p, 20)
        assert hist == long_hist[:len(hist)]
        assert what_if == {"best_epoch": max(hist, key=lambda h: h["val_t2d_MRR"])["epoch"],
                           "epochs_run": len(hist), "val_t2d_MRR": max(h["val_t2d_MRR"] for h in hist)}
        changed |= what_if["best_epoch"] != mine["best_epoch"]
    assert changed  # the toy history is one where a short patience stops too early


def test_a_patience_longer_than_the_history_was_trained_with_is_refused():
    from thinbridge._util.errors import UserError
    from thinbridge.training.grid import stopping

    hist = [{"epoch": e, "val_t2d_MRR": v} for e, v in enumerate([0.1, 0.3, 0.2, 0.2], start=1)]
    assert stopping(hist, 2, 60) == {"best_epoch": 2, "epochs_run": 4, "val_t2d_MRR": 0.3}
    with pytest.raises(UserError, match="shorter patience"):
        stopping(hist, 5, 60)
