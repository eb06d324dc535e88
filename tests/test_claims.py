"""The verdict's rules on hand-made inputs, and its records as JSON: thinbridge.book.claims."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from thinbridge.book import claims as C
from thinbridge.evaluation.statistics import fmt_interval


def test(diff=0.05, lo=0.02, hi=0.08, p_queries=0.001, p_splits=0.01, wins="5/5", **kw) -> pd.Series:
    row = {"split": "scaffold", "a": "bridge", "b": "random heads", "metric": "MRR", "scope": "within_target",
           "mean_a": 0.30, "mean_b": 0.30 - diff, "diff": diff, "lo": lo, "hi": hi, "wins": wins,
           "p_queries": p_queries, "p_splits": p_splits, "n_queries": 200}
    return pd.Series({**row, **kw})


test.__test__ = False  # a builder, not a test


def test_a_significant_win_is_confirmed():
    c = C.from_test("bridge beats random heads", test(), "verdict-x")
    assert c.status == "confirmed" and c.kind == "comparison"
    assert (c.a, c.b, c.metric, c.scope, c.split) == ("bridge", "random heads", "MRR", "within_target", "scaffold")
    assert (c.diff, c.lo, c.hi, c.p_queries, c.wins) == (0.05, 0.02, 0.08, 0.001, "5/5")
    assert c.evidence == ("bridge 0.300 vs random heads 0.250 (MRR, within target, scaffold splits): difference "
                          "+0.050 [+0.020, +0.080], higher in 5/5 splits, p=0.001 over queries, p=0.010 over splits")


def test_a_loss_is_refuted_even_when_significant():
    assert C.from_test("x", test(diff=-0.05, lo=-0.08, hi=-0.02, wins="0/5"), "r").status == "refuted"


def test_a_gain_that_is_not_significant_is_refuted():
    """No detectable gain is not a gain: a tie, or a small gain with p >= 0.05."""
    assert C.from_test("x", test(diff=0.0, lo=-0.01, hi=0.01, p_queries=1.0), "r").status == "refuted"
    assert C.from_test("x", test(diff=0.01, lo=-0.01, hi=0.03, p_queries=0.05), "r").status == "refuted"
    assert C.from_test("x", test(diff=0.01, lo=-0.01, hi=0.03, p_queries=0.049), "r").status == "confirmed"


@pytest.mark.parametrize("paper, status", [
    (0.20, "confirmed"), (0.15, "confirmed"), (0.25, "confirmed"),   # inside, and on either bound
    (0.10, "refuted (ours higher)"), (0.30, "refuted (ours lower)"),
])
def test_a_paper_number_against_our_interval(paper, status):
    row = pd.Series({"split": "scaffold", "metric": "MRR", "scope": "global", "mean": 0.2, "lo": 0.15, "hi": 0.25})
    c = C.from_number("Scaffold split, MRR", paper, row, "bridge", "verdict-numbers")
    assert c.status == status and c.kind == "number"
    assert (c.paper, c.ours, c.ours_lo, c.ours_hi) == (paper, 0.2, 0.15, 0.25)
    assert (c.quantity, c.a, c.metric, c.scope, c.split) == ("Scaffold split, MRR", "bridge", "MRR", "global",
                                                               "scaffold")
    assert c.diff is None and c.hi is None  # no difference: the interval is ours_lo, ours_hi
    assert c.claim == f"Paper's number: Scaffold split, MRR = {paper}"
    assert c.evidence == "ours 0.200 [0.150, 0.250] (bridge, scaffold splits)"


def test_the_best_cell_rule():
    summary = pd.DataFrame({"model": ["paper's best cell", "T 0.07, m 0.1"], "mean": [0.4, 0.3]})
    tests = pd.DataFrame([test(a="T 0.07, m 0.1", b="paper's best cell", diff=-0.1, lo=-0.2, hi=-0.05)])
    c = C.best_cell(summary, tests, "paper's best cell", "r")
    assert c.status == "confirmed" and c.hi == -0.05
    summary = summary.assign(mean=[0.3, 0.4])
    beaten = pd.DataFrame([test(a="T 0.07, m 0.1", b="paper's best cell")])
    assert C.best_cell(summary, beaten, "paper's best cell", "r").status == "refuted"
    not_sig = pd.DataFrame([test(a="T 0.07, m 0.1", b="paper's best cell", p_queries=0.5)])
    assert C.best_cell(summary, not_sig, "paper's best cell", "r").status == "inconclusive"


def test_records_round_trip_through_strict_json(tmp_path):
    """Every field comes back equal; an undefined number (a p-value over one split) is null."""
    cell = C.best_cell(pd.DataFrame({"model": ["paper's best cell", "other"], "mean": [0.4, 0.3]}),
                       pd.DataFrame([test(a="other", b="paper's best cell", diff=-0.1)]), "paper's best cell", "r")
    claims = [C.from_test("a win", test(p_splits=np.float64("nan"), diff=np.float64(0.05)), "verdict-a"),
              C.from_number("Scaffold split, R@1", 0.15, pd.Series({"split": "scaffold", "mean": 0.2, "lo": 0.18,
                                                                    "hi": 0.22}), "bridge", "verdict-b"), cell]
    assert claims[0].p_splits is None and type(claims[0].diff) is float
    path = C.save(claims, tmp_path / "claims.json")
    text = path.read_text()
    assert "NaN" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    back = C.load(path)
    assert back == claims and [b.to_dict() for b in back] == [c.to_dict() for c in claims]
    assert json.loads(text)[0]["p_splits"] is None and back[0].diff == 0.05
    assert C.load(path, path) == claims + claims  # several files, in order


def test_unknown_fields_are_an_error():
    with pytest.raises(ValueError, match="unknown claim fields"):
        C.Claim.from_dict({"claim": "x", "status": "confirmed", "evidence": "", "ref": "r", "colour": "red"})


def test_the_verdict_table_has_one_row_per_claim_with_its_link():
    claims = [C.from_test(f"claim {i}", test(), f"verdict-{i}") for i in range(3)]
    md = C.verdict_markdown(claims).splitlines()
    assert md[:2] == ["| claim | verdict | evidence |", "|---|---|---|"] and len(md) == 2 + 3
    assert md[3].startswith("| claim 1 | **confirmed** |") and "{ref}`computed here <verdict-1>`" in md[3]
    assert len(C.table(claims)) == 3


def test_shown_is_the_printed_bound():
    assert C.shown(-0.01249) == -0.012 and C.shown(0.0199) == 0.02 and math.isnan(C.shown(None))


def _records() -> pd.DataFrame:
    """Per-query records (as thinbridge.training.replicates.replicate makes them) where every
    query of a split has the same value, so each split's value is known: the bridge's global
    reciprocal rank is 0.2, 0.3, 0.4 on three scaffold splits and 0.5 on one random split."""
    rows = []
    for split, seed, rr in (("scaffold", 0, 0.2), ("scaffold", 1, 0.3), ("scaffold", 2, 0.4), ("random", 0, 0.5)):
        for model in ("bridge", "bridge, paper's best cell"):
            for q in range(4):
                rows.append({"split": split, "split_seed": seed, "model": model, "inputs": "NoDrug", "query": q,
                             "model_seed": 0, "rr": rr, "hit1": float(q == 0), "wt_rr": rr, "wt_hit1": 1.0,
                             "in_group": True, "solvable": True})
    return pd.DataFrame(rows)


def test_paper_numbers_judge_each_number_per_split_kind_and_skip_unknown_metrics():
    numbers = [{"quantity": "Scaffold split, MRR", "paper": 0.9, "metric": "MRR", "scope": "global",
                "split": "scaffold"},
               {"quantity": "Grouped Recall@3", "paper": 0.3, "metric": "R@3", "scope": "within_target",
                "split": "scaffold"},
               {"quantity": "Within-target MRR", "paper": 0.3, "metric": "MRR", "scope": "within_target",
                "split": None}]
    claims = C.paper_numbers(_records(), numbers)
    assert [(c.quantity, c.split, c.a) for c in claims] == [
        ("Scaffold split, MRR", "scaffold", "bridge"),
        ("Within-target MRR", "scaffold", "bridge, paper's best cell"),
        ("Within-target MRR", "random", "bridge, paper's best cell")]
    first = claims[0]
    assert first.ours == pytest.approx(0.3) and first.ours_lo < 0.3 < first.ours_hi
    assert first.status == "refuted (ours lower)" and claims[1].status == "confirmed"
    assert claims[2].ours_lo is None and claims[2].evidence == "ours 0.500 (bridge, paper's best cell, random splits)"
    t = C.numbers_table(claims)
    assert list(t.columns) == ["quantity", "split", "model", "paper", "ours (mean [95% interval])", "verdict"]
    assert t["ours (mean [95% interval])"].iloc[0] == fmt_interval(first.ours, first.ours_lo, first.ours_hi)
    assert t.verdict.tolist() == [c.status for c in claims]


def test_one_interval_formatter():
    assert fmt_interval(0.1694, 0.1501, 0.1888) == "0.169 [0.150, 0.189]"
    assert fmt_interval(0.1694, float("nan"), float("nan")) == "0.169"  # one split: no interval
    assert fmt_interval(0.1694, None, None) == "0.169"
