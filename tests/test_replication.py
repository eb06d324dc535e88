"""Intervals, paired tests and baselines of the replication chapters."""
import numpy as np
import pandas as pd
import pytest

from thinbridge.book import claims as CL
from thinbridge.evaluation import statistics as ST
from thinbridge.training import replicates as R
from thinbridge.bridge.baselines import RidgeBaseline, text_neighbour_scores


def _records(effect: float, n_splits: int = 4, n_q: int = 200, seed: int = 0) -> pd.DataFrame:
    """Synthetic per-query records: model A's reciprocal rank is B's plus ``effect`` on average."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_splits):
        base = rng.uniform(0.1, 0.6, n_q)
        for model, shift in (("A", effect), ("B", 0.0)):
            rr = np.clip(base + shift + rng.normal(0, 0.05, n_q), 0, 1)
            rows.append(pd.DataFrame({"query": np.arange(n_q), "rr": rr, "hit1": (rr > 0.5).astype(float),
                                      "wt_rr": rr, "wt_hit1": (rr > 0.5).astype(float), "in_group": True,
                                      "solvable": np.arange(n_q) % 2 == 0, "model": model, "inputs": "NoDrug",
                                      "model_seed": 0, "split": "scaffold", "split_seed": s}))
    return pd.concat(rows, ignore_index=True)


def test_sign_flip_p_is_small_for_a_real_effect_and_uniformish_under_the_null():
    rng = np.random.default_rng(1)
    assert ST.sign_flip_p([rng.normal(0.3, 1, 200)], n_perm=2000) < 0.01
    ps = [ST.sign_flip_p([rng.normal(0, 1, 50)], n_perm=500, seed=i) for i in range(40)]
    assert 0.2 < np.mean(ps) < 0.8 and min(ps) > 1 / 501
    assert ST.sign_flip_p([np.zeros(10)]) == 1.0


def test_sign_flip_p_matches_the_exact_enumeration_on_a_tiny_case():
    import itertools

    d = np.array([0.5, -0.1, 0.3, 0.2, 0.4])
    exact = np.mean([abs(np.dot(s, d)) >= abs(d.sum()) - 1e-12 for s in itertools.product([-1, 1], repeat=5)])
    assert ST.sign_flip_p([d[:2], d[2:]], n_perm=20000) == pytest.approx(exact, abs=0.01)


def test_paired_finds_the_effect_and_summary_gives_intervals_over_splits():
    rec = _records(0.05)
    t = ST.paired(rec, "A", "B", "MRR", "global").iloc[0]
    assert t["diff"] == pytest.approx(0.05, abs=0.01) and t.lo > 0 and t.wins == "4/4"
    assert t.p_queries < 0.001 and t.p_splits < 0.05 and CL.better(t) == "confirmed"
    assert CL.better(ST.paired(rec, "B", "A", "MRR", "global").iloc[0]) == "refuted"
    s = ST.interval_summary(rec, "MRR", "solvable").set_index("model")
    assert s.loc["A", "n_splits"] == 4 and s.loc["A", "lo"] < s.loc["A", "mean"] < s.loc["A", "hi"]
    solvable = rec[rec.solvable & (rec.model == "A")].groupby("split_seed").wt_rr.mean()
    assert s.loc["A", "mean"] == pytest.approx(solvable.mean())


def test_no_effect_is_refuted_not_confirmed():
    t = ST.paired(_records(0.0, seed=3), "A", "B", "R@1", "within_target").iloc[0]
    assert t.p_queries > 0.05 and CL.better(t) == "refuted"


def test_ridge_penalty_choice_and_fit_are_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6))
    y = x @ rng.normal(size=(6, 3)) + 0.1 * rng.normal(size=(80, 3))
    r = RidgeBaseline().fit(x, y, penalty=2.0)
    xc, yc = x - x.mean(0), y - y.mean(0)
    np.testing.assert_allclose(r.coef, np.linalg.solve(xc.T @ xc + 2.0 * np.eye(6), xc.T @ yc), atol=1e-10)
    assert r.select(lambda m: -m.penalty, penalties=(1.0, 10.0)).penalty == 1.0


def test_text_neighbours_score_the_neighbours_molecules_first():
    q = np.array([[1.0, 0.0]])
    train_text = np.array([[1.0, 0.0], [0.0, 1.0]])
    train_bits = np.array([[1, 1, 0, 0], [0, 0, 1, 1]])
    cands = np.array([[0, 0, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    s = text_neighbour_scores(q, train_text, train_bits, cands, k=1)
    assert list(np.argsort(-s[0])) == [1, 2, 0]


def test_replicate_units_give_the_same_records_with_any_number_of_processes(generated_prepared, text_model):
    """Work units are reassembled in order (split, inputs, variant, seed, then baselines); a variant
    that differs only in its text view gets its own inputs, not those of the one before it."""
    import dataclasses

    from thinbridge.config import RunConfig
    from thinbridge.data.pairs import load_pairs

    pairs = load_pairs(generated_prepared)
    base = RunConfig(epochs=3, patience=2, batch_size=16)
    variants = {"rich": base, "basic": dataclasses.replace(base, text_view="basic")}
    args = (pairs, generated_prepared, variants, [("scaffold", 0), ("random", 1)], (0, 1))
    one = R.replicate(*args, n_jobs=1)
    two = R.replicate(*args, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    order = one.drop_duplicates(["split", "model", "model_seed"])[["split", "model", "model_seed"]]
    assert order.values.tolist()[:6] == [["scaffold", "rich", 0], ["scaffold", "rich", 1], ["scaffold", "basic", 0],
                                         ["scaffold", "basic", 1], ["scaffold", "random heads", 0],
                                         ["scaffold", "random heads", 1]]
    rich, basic = (one[(one.model == m) & (one.split == "scaffold")] for m in ("rich", "basic"))
    assert len(rich) == len(basic) and not np.allclose(rich.rr.to_numpy(), basic.rr.to_numpy())


def test_ridge_on_fingerprint_bits_and_a_bad_penalty():
    rng = np.random.default_rng(1)
    x = (rng.random((120, 40)) < 0.05).astype(np.float32)  # mostly zeros: the sparse X^T X
    x64 = x.astype(np.float64)
    y = rng.normal(size=(120, 4))
    r = RidgeBaseline().fit(x, y, penalty=10.0)
    xc, yc = x64 - x64.mean(0), y - y.mean(0)
    np.testing.assert_allclose(r.coef, np.linalg.solve(xc.T @ xc + 10.0 * np.eye(40), xc.T @ yc), atol=1e-10)
    with pytest.raises(ValueError, match="penalty"):
        r.with_penalty(0.0)


def test_protocol_map_scores_the_same_bridges_again(generated_prepared, text_model):
    """With ``protocol_map``, the records keep every column they had (same bridges, same numbers)
    and gain the map's per-query columns for the bridges and the random ranking; the distinct
    protocol's columns are the records' own."""
    from thinbridge.config import RunConfig
    from thinbridge.data.pairs import load_pairs

    pairs = load_pairs(generated_prepared)
    args = (pairs, generated_prepared, {"bridge": RunConfig(epochs=3, patience=2, batch_size=16)},
            [("scaffold", 0)], (0,))
    plain = R.replicate(*args)
    mapped = R.replicate(*args, protocol_map=True)
    pd.testing.assert_frame_equal(mapped[plain.columns], plain)
    for model in ("bridge", "random ranking"):
        d = mapped[mapped.model == model]
        for own, col in (("rr", "distinct:rr"), ("hit1", "distinct:hit1"), ("wt_rr", "distinct:wt_rr"),
                         ("in_group", "distinct:in_group"), ("solvable", "distinct:solvable")):
            np.testing.assert_allclose(d[own].astype(float), d[col].astype(float), err_msg=f"{model} {col}")
    assert mapped.loc[mapped.model == "random heads", "pair:rr"].isna().all()  # not part of the map
