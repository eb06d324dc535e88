"""The retrieval tasks: which candidates exist and which are correct, under each protocol."""
import numpy as np
import pandas as pd
import pytest

from thinbridge.evaluation import tasks as E


@pytest.fixture
def test_pairs():
    # molecule A has two targets; B and C share target T2 and the same text "t2"; D alone on T3
    df = pd.DataFrame({
        "parent_inchikey": ["A", "A", "B", "C", "D"],
        "target_chembl_id": ["T1", "T2", "T2", "T2", "T3"],
    })
    texts = ["t1", "t2", "t2", "t2", "t3"]
    return df, texts


def test_distinct_candidates_and_positives(test_pairs):
    df, texts = test_pairs
    t = E.build_tasks(df, texts, "distinct")
    t2d, d2t = t["text_to_drug"], t["drug_to_text"]
    assert t2d.positive.shape == (5, 4)  # 5 queries, molecules A B C D
    assert t2d.positive.sum(1).tolist() == [1, 1, 1, 1, 1]  # only the query's own molecule
    assert d2t.positive.shape == (5, 3)  # distinct texts t1 t2 t3
    # molecule A is paired with t1 and t2: both correct for either of A's queries
    assert d2t.positive[0].tolist() == [True, True, False]
    assert t2d.cand_groups[0] == frozenset({"T1", "T2"})


def test_any_match_counts_every_molecule_with_that_text(test_pairs):
    df, texts = test_pairs
    t2d = E.build_tasks(df, texts, "any_match")["text_to_drug"]
    # query 2 (B, "t2"): A, B and C are all paired with "t2"
    assert t2d.positive[2].tolist() == [True, True, True, False]
    assert t2d.positive[0].tolist() == [True, False, False, False]


def test_pair_protocol_is_the_diagonal(test_pairs):
    df, texts = test_pairs
    t = E.build_tasks(df, texts, "pair")["text_to_drug"]
    assert (t.positive == np.eye(5, dtype=bool)).all()


def test_identical_texts_tie_and_ties_count_against(test_pairs):
    df, texts = test_pairs
    tasks = E.build_tasks(df, texts, "distinct")
    rng = np.random.default_rng(0)
    zd = rng.normal(size=(5, 4))
    zd /= np.linalg.norm(zd, axis=1, keepdims=True)
    zt = zd.copy()  # text i embedded exactly like drug i ...
    zt[2] = zt[3] = zt[1]  # ... except identical texts share one embedding
    res = E.score_tasks(tasks, zd, zt, n_boot=0)
    # B's and C's texts equal A's second text: at most one of the three can be ranked first
    assert res["text_to_drug"]["global"]["R@1"] <= 3 / 5


def test_random_ranking_and_unknown_protocol(test_pairs):
    df, texts = test_pairs
    tasks = E.build_tasks(df, texts, "distinct")
    rr = E.random_ranking(tasks)
    assert rr["text_to_drug"]["global"]["R@1"] == pytest.approx(1 / 4)
    with pytest.raises(ValueError):
        E.build_tasks(df, texts, "nonsense")


def test_solvable_within_target_queries():
    from thinbridge.evaluation.tasks import allowed_mask, solvable

    pairs = pd.DataFrame({"parent_inchikey": ["A", "B", "C", "D"], "target_chembl_id": ["T1", "T1", "T1", "T2"]})
    texts = ["X inhibitor", "X inhibitor", "Y agonist", "Z blocker"]  # A and B share target and text
    tasks = E.build_tasks(pairs, texts, "distinct")
    t2d = tasks["text_to_drug"]
    assert solvable(t2d).tolist() == [False, False, True, False]  # D: alone in its target
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 8)).astype(np.float32)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    m = E.score_tasks(tasks, z, z, n_boot=0)
    wt = m["text_to_drug"]["within_target"]
    assert wt["n_queries_solvable"] == 1 and wt["n_queries"] == 3 and allowed_mask(t2d).sum() == 10
    rr = E.random_ranking(tasks)["text_to_drug"]["within_target"]
    assert rr["R@1_solvable"] == pytest.approx(1 / 3) and rr["n_queries_solvable"] == 1  # C among A, B, C
