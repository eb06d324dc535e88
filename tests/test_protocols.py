"""The protocol map's definitions on a hand-made example whose ranks are worked out on paper.

Four test pairs, four distinct molecules (A, B, C, D, candidates in that order):

    row  molecule  target  action      text
    0    A         T1      INHIBITOR   "a"
    1    B         T1      AGONIST     "b"
    2    C         T1      INHIBITOR   "a"     (A's text: A and C are twins)
    3    D         T2      INHIBITOR   "d"

The drug embeddings are one-hot, so query q's score of candidate c is ``S[q, c]``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thinbridge.evaluation import protocols as P
from thinbridge.evaluation.statistics import position, t_interval

PAIRS = pd.DataFrame({
    "parent_inchikey": ["A", "B", "C", "D"],
    "target_chembl_id": ["T1", "T1", "T1", "T2"],
    "action_type": ["INHIBITOR", "AGONIST", "INHIBITOR", "INHIBITOR"],
})
TEXTS = ["a", "b", "a", "d"]
S = np.array([
    [0.5, 0.9, 0.7, 0.8],    # A: B, D, C above it
    [0.1, 0.6, 0.2, 0.3],    # B first
    [0.9, 0.1, 0.4, 0.95],   # C: D, A above it
    [0.3, 0.2, 0.1, 0.25],   # D: A above it
])


@pytest.fixture(scope="module")
def cols() -> pd.DataFrame:
    tasks = P.protocol_tasks(PAIRS, TEXTS)
    return P.query_columns(PAIRS, tasks, np.eye(4), S)


def test_global_ranks_under_each_candidate_protocol(cols):
    # distinct: own molecule; ranks 4, 1, 3, 2
    assert cols["distinct:hit1"].tolist() == [0, 1, 0, 0]
    assert cols["distinct:hit3"].tolist() == [0, 1, 1, 1]
    assert cols["distinct:rr"].tolist() == pytest.approx([1 / 4, 1, 1 / 3, 1 / 2])
    # any_match: A and C both correct for text "a": A's query finds C at rank 3, C's finds A at 2
    assert cols["any_match:rr"].tolist() == pytest.approx([1 / 3, 1, 1 / 2, 1 / 2])
    # pair: one pair per molecule here, so the same as distinct
    assert cols["pair:rr"].tolist() == pytest.approx(cols["distinct:rr"].tolist())


def test_within_target_ranks_and_query_sets(cols):
    # T1 = {A, B, C}: A below B and C (3), B first, C below A (2); D alone in T2 (1)
    assert cols["distinct:wt_rr"].tolist() == pytest.approx([1 / 3, 1, 1 / 2, 1])
    assert cols["distinct:wt_hit1"].tolist() == [0, 1, 0, 1]
    assert cols["distinct:in_group"].tolist() == [True, True, True, False]
    # A and C share their text within T1: only B's query is solvable
    assert cols["distinct:solvable"].tolist() == [False, True, False, False]
    # any_match within T1: A's query finds C behind B (2), C's finds A first (1)
    assert cols["any_match:wt_rr"].tolist() == pytest.approx([1 / 2, 1, 1, 1])


def test_readings_of_grouped(cols):
    # target and action type: A and C share T1|INHIBITOR (A behind C: 2; C behind A: 2); B and D alone
    assert cols["ta:in_group"].tolist() == [True, False, True, False]
    assert cols["ta:hit3"].tolist() == [1, 1, 1, 1]
    # share of the target's molecules in the global top 3: A's query tops B, D, C -> B, C of A, B, C
    assert cols["share3"].tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1])
    # a molecule of the target in the global top 3: always (B first for A's query, A second for C's)
    assert cols["tgt_hit3"].tolist() == [1, 1, 1, 1]


def test_random_ranking_expectations():
    tasks = P.protocol_tasks(PAIRS, TEXTS)
    r = P.query_columns(PAIRS, tasks)
    # one correct of four: P(rank 1) = 1/4, P(rank <= 3) = 3/4, E[1/rank] = (1 + 1/2 + 1/3 + 1/4) / 4
    assert r["distinct:hit1"].tolist() == pytest.approx([0.25] * 4)
    assert r["distinct:hit3"].tolist() == pytest.approx([0.75] * 4)
    assert r["distinct:rr"].iloc[0] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    # any_match, A's text: two correct of four: P(rank 1) = 1/2
    assert r["any_match:hit1"].iloc[0] == pytest.approx(0.5)
    # within T1 (three candidates, one correct): 1/3; D alone in T2: certain
    assert r["distinct:wt_hit1"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1])
    # share of the target in a random top 3 of 4: 3/4 for every target
    assert r["share3"].tolist() == pytest.approx([0.75] * 4)
    # T1 has 3 of 4 molecules: the top 3 always holds one; T2's one is there with P = 3/4
    assert r["tgt_hit3"].tolist() == pytest.approx([1, 1, 1, 0.75])


def test_protocols_listed_per_number():
    assert len(P.protocols("global", "R@1")) == 2 * 2 * 3
    assert len(P.protocols("within_target", "MRR")) == 2 * 2 * 3 * 3
    readings = [p for p in P.protocols("within_target", "R@3") if p.reading]
    assert len(readings) == 2 * 2 * (len(P.READINGS) - 1)
    assert P.Protocol("scaffold", "NoDrug", "distinct", "2+").label == \
        "scaffold split · NoDrug · distinct candidates · groups of 2+"
    assert P.Protocol("scaffold", "NoDrug", "distinct", "2+").column("R@3", "within_target") == \
        ("distinct:wt_hit3", "distinct:in_group", False)


def test_per_split_value_averages_model_seeds_then_queries_or_targets():
    # split seed 0: queries 0, 1 of T1 and 2 of T2, two model seeds each
    rec = pd.DataFrame({
        "split_seed": [0] * 6, "query": [0, 0, 1, 1, 2, 2], "target": ["T1"] * 4 + ["T2"] * 2,
        "v": [1, 0, 1, 1, 0, 0], "keep": [True] * 6,
    })
    # per query: 0.5, 1, 0 -> mean 0.5; per target: T1 0.75, T2 0 -> 0.375
    assert P.per_split_value(rec, "v").tolist() == [0.5]
    assert P.per_split_value(rec, "v", macro=True).tolist() == [0.375]
    assert P.per_split_value(rec.assign(keep=[True] * 4 + [False] * 2), "v", "keep").tolist() == [0.75]


def test_position_is_the_interval_rule():
    lo, hi = t_interval(np.array([0.2, 0.4]))  # mean 0.3, half-width 12.706 * 0.1 = 1.27
    assert lo == pytest.approx(0.3 - 12.7062 * 0.1, abs=1e-3)
    assert position(0.3, lo, hi) == "inside"
    assert position(0.5, 0.2, 0.4) == "above"
    assert position(0.1, 0.2, 0.4) == "below"
    assert position(0.3, float("nan"), float("nan")) == "undefined"


def test_protocol_map_on_hand_made_records():
    rows = []
    for seed, hits in ((0, [1, 0]), (1, [1, 1]), (2, [0, 0])):
        for q, h in enumerate(hits):
            for model, v in (("bridge", h), ("random ranking", 0.25)):
                rows.append({"split": "scaffold", "split_seed": seed, "model": model, "inputs": "NoDrug",
                             "query": q, "target": "T1", **{f"{c}:{m}": v for c in P.CANDIDATES
                                                           for m in ("hit1", "hit3", "rr")}})
    number = {"quantity": "R@1", "paper": 0.15, "metric": "R@1", "scope": "global",
              "protocol": {"split": "scaffold", "inputs": "NoDrug", "candidates": "distinct"}}
    m = P.protocol_map(pd.DataFrame(rows), [number], {"NoDrug": ("bridge", "NoDrug")})
    # only the scaffold/NoDrug protocols have records; per split 0.5, 1, 0 -> mean 0.5
    m = m[m.n_splits > 0]
    assert set(m.candidates) == set(P.CANDIDATES)
    row = m[m.described].iloc[0]
    assert row["mean"] == pytest.approx(0.5) and row["chance"] == pytest.approx(0.25)
    lo, hi = t_interval(np.array([0.5, 1.0, 0.0]))
    assert (row.lo, row.hi) == pytest.approx((lo, hi))
    assert row.position == "inside"
