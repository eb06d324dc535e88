"""Tests for thinbridge.evaluation.metrics: hand-made score matrices with the expected ranks worked out."""

import json
import math

import numpy as np
import pytest

from thinbridge.evaluation.metrics import bootstrap_ci, cmc, global_metrics, ranks, summarize
from thinbridge.evaluation.within_target import random_expectation, within_target_metrics


# ---------------------------------------------------------------- ranks


def test_perfect_diagonal_all_rank_one():
    # Each query scores its own candidate 1.0 and every other 0.0 -> nothing beats it.
    s = np.eye(4)
    r = ranks(s, np.eye(4, dtype=bool))
    assert r.dtype == np.int64
    assert r.tolist() == [1, 1, 1, 1]


def test_worst_case_reverse():
    # query 0: positive c0 = 0.1, negatives 0.5, 0.9 above it -> rank 3
    # query 1: positive c1 = 0.5, negative c2 = 0.9 above, c0 = 0.1 below -> rank 2
    s = np.array([[0.1, 0.5, 0.9], [0.1, 0.5, 0.9]])
    pos = np.array([[1, 0, 0], [0, 1, 0]], dtype=bool)
    assert ranks(s, pos).tolist() == [3, 2]


def test_tie_counts_against_model():
    # query 0: positive c0 = 0.7 ties negative c1 = 0.7 -> the tie goes against us -> rank 2
    # query 1: positive c1 = 0.9, negative c0 = 0.3 -> rank 1
    s = np.array([[0.7, 0.7, 0.1], [0.3, 0.9, 0.2]])
    pos = np.array([[1, 0, 0], [0, 1, 0]], dtype=bool)
    assert ranks(s, pos).tolist() == [2, 1]


def test_all_equal_scores_give_worst_rank():
    # Constant scorer: all 4 negatives tie the positive -> rank 5, never a lucky rank 1.
    s = np.zeros((1, 5))
    pos = np.array([[0, 0, 1, 0, 0]], dtype=bool)
    assert ranks(s, pos).tolist() == [5]


def test_multiple_positives_best_counts():
    # positives c1 (0.2) and c3 (0.8); best positive 0.8; only negative c0 = 0.9 is >= 0.8 -> rank 2
    s = np.array([[0.9, 0.2, 0.5, 0.8]])
    pos = np.array([[0, 1, 0, 1]], dtype=bool)
    assert ranks(s, pos).tolist() == [2]
    # Other positives never count as negatives: positives c1 (0.95) and c3 (0.99) -> best 0.99,
    # nothing beats it -> rank 1 (c1 is not held against c3).
    s2 = np.array([[0.9, 0.95, 0.5, 0.99]])
    assert ranks(s2, np.array([[0, 1, 0, 1]], dtype=bool)).tolist() == [1]
    # With c1 alone positive, negative c3 = 0.99 beats 0.95 -> rank 2.
    assert ranks(s2, np.array([[0, 1, 0, 0]], dtype=bool)).tolist() == [2]


def test_allowed_mask_restricts_candidates():
    # query 0: positive c0 = 0.5; negatives c1 = 0.9 (hidden), c2 = 0.6 (visible) -> rank 2
    #          without the mask it would be rank 3
    s = np.array([[0.5, 0.9, 0.6, 0.1]])
    pos = np.array([[1, 0, 0, 0]], dtype=bool)
    allowed = np.array([[1, 0, 1, 1]], dtype=bool)
    assert ranks(s, pos).tolist() == [3]
    assert ranks(s, pos, allowed).tolist() == [2]
    # A positive that is not allowed is ignored: positives c0 (hidden, 0.99) and c2 (0.3);
    # best allowed positive 0.3; allowed negative c1 = 0.5 beats it -> rank 2.
    s = np.array([[0.99, 0.5, 0.3]])
    pos = np.array([[1, 0, 1]], dtype=bool)
    allowed = np.array([[0, 1, 1]], dtype=bool)
    assert ranks(s, pos, allowed).tolist() == [2]


def test_no_allowed_positive_raises():
    s = np.array([[0.5, 0.9], [0.1, 0.2]])
    pos = np.array([[1, 0], [0, 1]], dtype=bool)
    allowed = np.array([[1, 1], [1, 0]], dtype=bool)  # query 1 cannot see its positive
    with pytest.raises(ValueError, match="no allowed positive"):
        ranks(s, pos, allowed)
    with pytest.raises(ValueError, match="no allowed positive"):
        ranks(s, np.zeros((2, 2), dtype=bool))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        ranks(np.zeros((2, 3)), np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        ranks(np.zeros((2, 3)), np.ones((2, 3), dtype=bool), np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        ranks(np.zeros(3), np.ones(3, dtype=bool))


def test_nan_scores_raise():
    with pytest.raises(ValueError, match="NaN"):
        ranks(np.array([[np.nan, 0.1]]), np.array([[1, 0]], dtype=bool))


# ---------------------------------------------------------------- summarize / cmc


def test_summarize_by_hand():
    # ranks [1, 2, 4]: R@1 = 1/3, R@5 = 1, MRR = (1 + 1/2 + 1/4)/3, mean 7/3, median 2
    out = summarize(np.array([1, 2, 4]), ks=(1, 2, 5))
    assert out["R@1"] == pytest.approx(1 / 3)
    assert out["R@2"] == pytest.approx(2 / 3)
    assert out["R@5"] == pytest.approx(1.0)
    assert out["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)
    assert out["mean_rank"] == pytest.approx(7 / 3)
    assert out["median_rank"] == 2.0
    assert out["n_queries"] == 3
    assert isinstance(out["n_queries"], int) and isinstance(out["MRR"], float)
    json.dumps(out)  # JSON serialisable


def test_summarize_empty_is_nan():
    out = summarize(np.array([], dtype=np.int64))
    assert out["n_queries"] == 0 and math.isnan(out["R@1"]) and math.isnan(out["MRR"])


def test_cmc_monotone_and_matches_summarize():
    rng = np.random.default_rng(1)
    r = rng.integers(1, 30, size=200)
    curve = cmc(r, 20)
    assert curve.shape == (20,)
    assert np.all(np.diff(curve) >= 0)
    s = summarize(r, ks=(1, 5, 10, 20))
    for k in (1, 5, 10, 20):
        assert curve[k - 1] == pytest.approx(s[f"R@{k}"])
    assert cmc(np.array([1, 2, 4]), 4).tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1.0])


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_deterministic_and_brackets_value():
    rng = np.random.default_rng(0)
    r = rng.integers(1, 12, size=150)
    a = bootstrap_ci(r, n_boot=300, seed=7)
    b = bootstrap_ci(r, n_boot=300, seed=7)
    assert a == b
    c = bootstrap_ci(r, n_boot=300, seed=8)
    assert c != a
    s = summarize(r)
    assert set(a) == {"R@1", "R@5", "R@10", "MRR", "mean_rank", "median_rank"}
    for name, (lo, hi) in a.items():
        assert isinstance(lo, float) and isinstance(hi, float)
        assert lo <= s[name] <= hi, name
    assert bootstrap_ci(r, n_boot=0) == {}


def test_bootstrap_constant_ranks_zero_width():
    out = bootstrap_ci(np.ones(10, dtype=int), n_boot=50)
    assert out["R@1"] == (1.0, 1.0) and out["MRR"] == (1.0, 1.0)


def test_global_metrics_keys():
    s = np.array([[0.9, 0.1, 0.2], [0.3, 0.2, 0.8], [0.5, 0.6, 0.4]])
    pos = np.eye(3, dtype=bool)
    # ranks: q0 -> 1, q1: 0.2 vs 0.3, 0.8 above -> 3, q2: 0.4 vs 0.5, 0.6 above -> 3
    out = global_metrics(s, pos, ks=(1, 5), n_boot=100)
    assert out["R@1"] == pytest.approx(1 / 3)
    assert out["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert out["n_candidates"] == 3 and out["n_queries"] == 3
    for name in ("R@1", "R@5", "MRR", "mean_rank", "median_rank"):
        lo, hi = out[f"{name}_ci95"]
        assert lo <= out[name] <= hi
    assert "n_queries_ci95" not in out
    json.dumps(out)


# ---------------------------------------------------------------- within-target


def _within_example():
    # 5 queries (drugs) x 5 candidates (texts); query i's positive is candidate i.
    # groups: A = {c0, c1, c2}, B = {c3}, C = {c4}   (B and C are singletons)
    # query groups:    q0 A, q1 A, q2 A, q3 B, q4 C
    s = np.array(
        [
            # c0   c1   c2   c3   c4
            [0.9, 0.1, 0.2, 0.95, 0.99],  # q0: best in A -> rank 1 (c3, c4 hidden)
            [0.5, 0.4, 0.3, 0.0, 0.0],  # q1: c0 = 0.5 >= 0.4 -> rank 2
            [0.6, 0.6, 0.6, 0.0, 0.0],  # q2: c0, c1 tie at 0.6 -> rank 3 (ties against)
            [0.9, 0.9, 0.9, 0.1, 0.9],  # q3: alone in B -> rank 1
            [0.9, 0.9, 0.9, 0.9, 0.1],  # q4: alone in C -> rank 1
        ]
    )
    pos = np.eye(5, dtype=bool)
    qg = np.array(["A", "A", "A", "B", "C"])
    cg = np.array(["A", "A", "A", "B", "C"])
    return s, pos, qg, cg


def test_within_target_two_views():
    s, pos, qg, cg = _within_example()
    out = within_target_metrics(s, pos, qg, cg, ks=(1, 3), n_boot=200)
    # 2+ view: only q0, q1, q2 (group A, size 3) -> ranks [1, 2, 3]
    assert out["n_queries"] == 3
    assert out["n_groups"] == 1
    assert out["R@1"] == pytest.approx(1 / 3)
    assert out["R@3"] == pytest.approx(1.0)
    assert out["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert out["mean_rank"] == pytest.approx(2.0)
    assert out["median_rank"] == pytest.approx(2.0)
    assert out["mean_group_size"] == pytest.approx(3.0)
    # all view: ranks [1, 2, 3, 1, 1]
    assert out["n_queries_all"] == 5
    assert out["n_groups_all"] == 3
    assert out["R@1_all"] == pytest.approx(3 / 5)
    assert out["R@3_all"] == pytest.approx(1.0)
    assert out["MRR_all"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 + 1) / 5)
    assert out["singletons_counted_in_all"] is True
    for name in ("R@1", "R@3", "MRR", "mean_rank", "median_rank", "R@1_all", "R@3_all", "MRR_all"):
        lo, hi = out[f"{name}_ci95"]
        assert lo <= out[name] <= hi, name
    json.dumps(out)


def test_within_target_candidate_sets():
    s, pos, qg, _ = _within_example()
    # Same grouping given as sets, plus c3 also belongs to A: group A now has 4 candidates.
    # q0: c3 = 0.95 >= 0.9 -> rank 2; q1: c3 = 0.0 -> still rank 2; q2: still rank 3
    # q3 (B) still sees only c3 -> rank 1.
    cg = [{"A"}, {"A"}, frozenset({"A"}), {"A", "B"}, {"C"}]
    out = within_target_metrics(s, pos, qg, cg, ks=(1,), n_boot=0)
    assert out["n_queries"] == 3
    assert out["mean_group_size"] == pytest.approx(4.0)
    assert out["R@1"] == pytest.approx(0.0)
    assert out["MRR"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)
    assert out["R@1_all"] == pytest.approx(2 / 5)
    assert "R@1_ci95" not in out  # n_boot=0 -> no intervals


def test_within_target_all_singletons_no_crash():
    s = np.array([[0.1, 0.9], [0.9, 0.1]])
    pos = np.eye(2, dtype=bool)
    out = within_target_metrics(s, pos, [1, 2], [1, 2], ks=(1,), n_boot=20)
    assert out["n_queries"] == 0 and out["n_groups"] == 0
    assert math.isnan(out["R@1"]) and math.isnan(out["MRR"]) and math.isnan(out["mean_group_size"])
    assert out["R@1_all"] == 1.0 and out["n_queries_all"] == 2 and out["n_groups_all"] == 2


def test_within_target_length_mismatch():
    s, pos, qg, cg = _within_example()
    with pytest.raises(ValueError, match="query_groups"):
        within_target_metrics(s, pos, qg[:3], cg)
    with pytest.raises(ValueError, match="candidate_groups"):
        within_target_metrics(s, pos, qg, cg[:3])


# ---------------------------------------------------------------- random expectation


def test_random_expectation_hand_values():
    out = random_expectation(np.array([4]), np.array([1]), ks=(1, 2, 5))
    assert out["R@1"] == pytest.approx(0.25)
    assert out["R@2"] == pytest.approx(0.5)
    assert out["R@5"] == pytest.approx(1.0)
    assert out["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert out["mean_rank"] == pytest.approx(2.5)
    assert out["n_queries"] == 1
    # n = 4, p = 2: first positive at 1 w.p. 3/6, at 2 w.p. 2/6, at 3 w.p. 1/6
    out = random_expectation(4, 2, ks=(1,))
    assert out["R@1"] == pytest.approx(0.5)
    assert out["MRR"] == pytest.approx(3 / 6 + (2 / 6) / 2 + (1 / 6) / 3)
    assert out["mean_rank"] == pytest.approx(5 / 3)
    # all candidates positive -> always rank 1
    out = random_expectation(3, 3, ks=(1,))
    assert out["R@1"] == 1.0 and out["MRR"] == 1.0 and out["mean_rank"] == 1.0


def test_random_expectation_monte_carlo():
    rng = np.random.default_rng(0)
    n_cand = np.array([10, 10, 25, 7])
    n_pos = np.array([1, 3, 2, 7])
    ks = (1, 5, 10)
    exact = random_expectation(n_cand, n_pos, ks=ks)
    trials = 10_000
    acc = {f"R@{k}": 0.0 for k in ks} | {"MRR": 0.0, "mean_rank": 0.0}
    for n, p in zip(n_cand, n_pos):
        # positions of the p positives in a random permutation: rank = min position + 1
        perm = rng.permuted(np.tile(np.arange(n), (trials, 1)), axis=1)
        r = perm[:, :p].min(axis=1) + 1  # candidates 0..p-1 are the positives
        s = summarize(r, ks)
        for name in acc:
            acc[name] += s[name] / len(n_cand)
    for name in ("R@1", "R@5", "R@10", "MRR"):
        assert exact[name] == pytest.approx(acc[name], abs=0.01), name
    assert exact["mean_rank"] == pytest.approx(acc["mean_rank"], abs=0.1)


def test_random_expectation_large_n_no_overflow():
    out = random_expectation(np.array([10_000, 20_000]), np.array([1, 50]), ks=(1, 10))
    assert out["R@1"] == pytest.approx((1 / 10_000 + 50 / 20_000) / 2)
    harmonic = sum(1 / r for r in range(1, 10_001)) / 10_000
    assert math.isfinite(out["MRR"]) and 0 < out["MRR"] < 1
    single = random_expectation(10_000, 1, ks=(1,))
    assert single["MRR"] == pytest.approx(harmonic)


def test_random_expectation_bad_input():
    with pytest.raises(ValueError):
        random_expectation(np.array([3]), np.array([4]))
    with pytest.raises(ValueError):
        random_expectation(np.array([3]), np.array([0]))
