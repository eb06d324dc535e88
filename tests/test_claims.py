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


def _map_row(protocol: str, split: str, inputs: str, candidates: str, queries, mean, lo, hi, paper=0.76,
             described=False, chance=0.3, singletons=0.4, reading=None) -> dict:
    from thinbridge.evaluation.statistics import position

    return {"quantity": "Within-target Recall@1", "paper": paper, "metric": "R@1", "scope": "within_target",
            "model": "bridge, paper's best cell", "protocol": protocol, "split": split, "inputs": inputs,
            "candidates": candidates, "queries": queries, "reading": reading, "mean": mean, "lo": lo, "hi": hi,
            "n_splits": 5, "chance": chance, "singletons": singletons, "position": position(paper, lo, hi),
            "described": described}


def _map() -> pd.DataFrame:
    """A protocol map of one number: the described protocol below the paper's value, a fair one
    and an unfair one (random split, singletons counted) holding it."""
    return pd.DataFrame([
        _map_row("A", "scaffold", "WithDrug", "distinct", "2+", 0.36, 0.31, 0.41, described=True),
        _map_row("B", "scaffold", "WithDrug", "pair", "2+", 0.75, 0.70, 0.80),
        _map_row("C", "random", "WithDrug", "distinct", "all", 0.74, 0.70, 0.78, chance=0.65),
        _map_row("D", "scaffold", "NoDrug", "any_match", "2+", 0.95, 0.90, 0.99),
    ])


def test_paper_numbers_judge_the_described_protocol_and_name_those_that_reproduce():
    (c,) = C.paper_numbers(_map())
    assert c.status == "refuted (ours lower)" and c.kind == "number"
    assert (c.ours, c.ours_lo, c.ours_hi, c.split, c.a) == (0.36, 0.31, 0.41, "scaffold", "bridge, paper's best cell")
    assert c.reproduced == "B; C"
    assert c.evidence == ("ours 0.360 [0.310, 0.410] under the protocol the paper describes (A); reproduced under "
                          "2 of 4 protocols, all with WithDrug: B 0.750 [0.700, 0.800]; C 0.740 [0.700, 0.780]")
    assert C.Claim.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    t = C.numbers_table([c])
    assert t["reproduced under"].tolist() == [2] and t.verdict.tolist() == [c.status]


def test_a_number_no_protocol_reproduces_names_the_closest():
    m = _map()
    m = m[m.protocol.isin(["A", "D"])]
    (c,) = C.paper_numbers(m)
    assert c.reproduced is None
    assert c.evidence.endswith("inside our interval under none of 2 protocols (closest: D, 0.950 [0.900, 0.990])")


def test_fairness_of_a_protocol():
    rows = {r.protocol: r for _, r in _map().iterrows()}
    assert C.unfair(rows["A"]) == [] and C.unfair(rows["B"]) == []
    assert C.unfair(rows["C"]) == ["random split", "singletons"]
    assert C.unfair(rows["D"]) == ["any_match"]  # without the name, texts are shared within a target
    text = C.number_paragraph(_map(), "Within-target Recall@1")
    assert "the paper's value lies above our interval" in text
    assert "It is reproduced under 2 of 4 protocols. 1 of them is a fair test of target-specific retrieval" in text
    assert "B (0.750, a random ranking 0.300)" in text
    assert "single candidate (40% of the queries)" in text and "(a random ranking reaches 0.650 there)" in text


def test_one_interval_formatter():
    assert fmt_interval(0.1694, 0.1501, 0.1888) == "0.169 [0.150, 0.189]"
    assert fmt_interval(0.1694, float("nan"), float("nan")) == "0.169"  # one split: no interval
    assert fmt_interval(0.1694, None, None) == "0.169"
