"""From embeddings of test pairs to the metrics dictionary (both directions, two scopes).

The retrieval task is defined here once. Test pairs carry a parent molecule, a text and a
target. Three protocols, because the paper does not say which it used:

``distinct`` (default)
    Candidates are the *distinct* test molecules (text -> drug) or *distinct* test texts
    (drug -> text). Every test pair is a query. A candidate is correct when it is the
    query's molecule (text -> drug) or a text paired with the query's molecule in the test
    set (drug -> text). Duplicates never compete with themselves.
``any_match``
    As ``distinct``, but a text -> drug query counts *every* test molecule paired with an
    identical text as correct. Without the drug name many drugs share one text (same target,
    same mechanism), and no model can tell them apart; this protocol asks the chemist's
    question "which compounds act like this?" instead of "which one drug is this?".
    Drug -> text is the same as under ``distinct``.
``pair``
    The paper-figure view: candidates are all test pairs, and only pair *i* is correct for
    query *i* (the diagonal of the similarity matrix). A drug with two targets appears twice
    among the candidates with identical embeddings, and that tie counts against the model.

Within target, a query sees only candidates that share its target (for a molecule or text
in several pairs, any of its targets).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinbridge.evaluation import metrics as M
from thinbridge.evaluation import within_target as W
from thinbridge.config import PROTOCOLS

GLOBAL_KS = (1, 5, 10)
GROUP_KS = (1, 3, 5)


@dataclass
class Task:
    """One retrieval direction: which rows are queries and candidates, and which are correct."""

    query_rows: np.ndarray       # indices into the test pairs (embedding rows) for the queries
    cand_rows: np.ndarray        # indices into the test pairs for the candidates
    positive: np.ndarray         # (n_q, n_c) bool
    query_groups: np.ndarray     # (n_q,) target of each query
    cand_groups: list            # (n_c,) frozenset of targets of each candidate
    query_side: str              # 'text' or 'drug': which embedding the queries use
    twins: np.ndarray | None = None  # (n_q, n_c) bool: a wrong candidate no model can tell from a right one


def build_tasks(test_pairs: pd.DataFrame, texts: list[str], protocol: str = "distinct") -> dict[str, Task]:
    """The two retrieval tasks over the test pairs (rows in order) under ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {PROTOCOLS}")
    mol = test_pairs["parent_inchikey"].to_numpy()
    tgt = test_pairs["target_chembl_id"].to_numpy()
    txt = np.asarray(texts, dtype=object)
    n = len(mol)
    rows = np.arange(n)
    same_text = txt.astype(str)[:, None] == txt.astype(str)[None, :]
    same_mol = mol[:, None] == mol[None, :]
    if protocol == "pair":
        eye = np.eye(n, dtype=bool)
        groups = [frozenset([g]) for g in tgt]
        twins = (same_text | same_mol) & ~eye  # another pair with this text (t2d) or this molecule (both)
        return {
            "text_to_drug": Task(rows, rows, eye, tgt, groups, "text", twins),
            "drug_to_text": Task(rows, rows, eye.copy(), tgt, groups, "drug", same_mol & ~eye),
        }
    # distinct molecules and texts, each represented by its first pair
    _, mol_first = np.unique(mol, return_index=True)
    mol_first = np.sort(mol_first)
    _, txt_first = np.unique(txt.astype(str), return_index=True)
    txt_first = np.sort(txt_first)
    mol_targets = pd.Series(tgt).groupby(mol).agg(frozenset)
    txt_targets = pd.Series(tgt).groupby(txt.astype(str)).agg(frozenset)
    pairs_set = set(zip(mol, txt))
    if protocol == "any_match":
        t2d_pos = np.array([[(m, t) in pairs_set for m in mol[mol_first]] for t in txt], dtype=bool)
    else:
        t2d_pos = mol[:, None] == mol[mol_first][None, :]
    d2t_pos = np.array([[(m, t) in pairs_set for t in txt[txt_first]] for m in mol], dtype=bool)
    # a wrong molecule paired with the query's very text: the text cannot tell them apart
    t2d_twins = np.array([[(m, t) in pairs_set for m in mol[mol_first]] for t in txt], dtype=bool) & ~t2d_pos
    return {
        "text_to_drug": Task(rows, mol_first, t2d_pos, tgt, [mol_targets[m] for m in mol[mol_first]], "text",
                             t2d_twins),
        "drug_to_text": Task(rows, txt_first, d2t_pos, tgt, [txt_targets[str(t)] for t in txt[txt_first]], "drug"),
    }


def task_scores(task: Task, z_drug: np.ndarray, z_text: np.ndarray) -> np.ndarray:
    """Cosine similarities (embeddings are L2-normalised) of queries against candidates."""
    if task.query_side == "text":
        return z_text[task.query_rows] @ z_drug[task.cand_rows].T
    return z_drug[task.query_rows] @ z_text[task.cand_rows].T


def allowed_mask(task: Task) -> np.ndarray:
    """Which candidates each query sees within its target (:func:`thinbridge.evaluation.within_target.group_mask`)."""
    return W.group_mask(task.query_groups, task.cand_groups)


def score_tasks(tasks: dict[str, Task], z_drug: np.ndarray, z_text: np.ndarray, n_boot: int = 1000,
                seed: int = 0, cmc_k: int = 0) -> dict:
    """``{direction: {"global": {...}, "within_target": {...}}}`` (plus ``"cmc"`` lists when cmc_k > 0)."""
    out = {}
    for name, task in tasks.items():
        s = task_scores(task, z_drug, z_text)
        res = {
            "global": M.global_metrics(s, task.positive, ks=GLOBAL_KS, n_boot=n_boot, seed=seed),
            "within_target": W.within_target_metrics(s, task.positive, task.query_groups, task.cand_groups,
                                                     ks=GROUP_KS, n_boot=n_boot, seed=seed),
        }
        allowed = allowed_mask(task)
        wt = M.ranks(s, task.positive, allowed)
        res["within_target"].update(_solvable_view(wt, task, allowed, n_boot, seed))
        if cmc_k:
            res["cmc"] = {
                "global": M.cmc(M.ranks(s, task.positive), cmc_k).tolist(),
                "within_target": M.cmc(wt[allowed.sum(1) >= 2], cmc_k).tolist(),  # groups of 2+
                "within_target_all": M.cmc(wt, cmc_k).tolist(),  # singletons at rank 1
            }
        out[name] = res
    return out


def solvable(task: Task, allowed: np.ndarray | None = None) -> np.ndarray:
    """Queries that can be answered within their target: two or more candidates there, and no
    wrong candidate indistinguishable from a right one (``task.twins``: for text -> drug, another
    molecule of the target paired with the query's very text). Without the drug name, drugs that
    share a target and a mechanism share their text, and such queries are unsolvable by construction."""
    allowed = allowed_mask(task) if allowed is None else allowed
    ok = allowed.sum(1) >= 2
    if task.twins is not None:
        ok &= ~(task.twins & allowed).any(1)
    return ok


def _solvable_view(wt_ranks: np.ndarray, task: Task, allowed: np.ndarray, n_boot: int, seed: int) -> dict:
    """``R@k_solvable``, ``MRR_solvable`` (with ``_ci95``) and ``n_queries_solvable``: the
    within-target metrics over the :func:`solvable` queries only."""
    r = wt_ranks[solvable(task, allowed)]
    summary = M.summarize(r, GROUP_KS)
    keep = {f"R@{k}" for k in GROUP_KS} | {"MRR", "n_queries"}
    return M.with_ci({k: v for k, v in summary.items() if k in keep}, r, GROUP_KS, n_boot, seed, suffix="_solvable")


def random_ranking(tasks: dict[str, Task]) -> dict:
    """Exact expectation of a uniformly random ranking, in the same shape as :func:`score_tasks`."""
    out = {}
    for name, task in tasks.items():
        allowed = allowed_mask(task)
        n_c = np.full(len(task.query_rows), task.positive.shape[1])
        glob = W.random_expectation(n_c, task.positive.sum(1), ks=GLOBAL_KS)
        size = allowed.sum(1)
        two = size >= 2
        wt = W.random_expectation(size[two], (task.positive & allowed).sum(1)[two], ks=GROUP_KS) if two.any() else {}
        wt_all = W.random_expectation(size, (task.positive & allowed).sum(1), ks=GROUP_KS)
        wt.update({f"{k}_all": v for k, v in wt_all.items() if k.startswith("R@") or k == "MRR"})
        ok = solvable(task, allowed)
        wt_ok = W.random_expectation(size[ok], (task.positive & allowed).sum(1)[ok], ks=GROUP_KS)
        wt.update({f"{k}_solvable": v for k, v in wt_ok.items() if k.startswith("R@") or k in ("MRR", "n_queries")})
        out[name] = {"global": glob, "within_target": wt}
    return out


def random_cmc(task: Task, max_k: int, within_target: bool = False) -> list[float]:
    """Expected Recall@k, k = 1..max_k, of a uniformly random ranking (the chance line of a CMC plot);
    within target over queries whose group has two or more candidates."""
    if within_target:
        allowed = allowed_mask(task)
        two = allowed.sum(1) >= 2
        n_c, n_p = allowed.sum(1)[two], (task.positive & allowed).sum(1)[two]
    else:
        n_c, n_p = np.full(len(task.query_rows), task.positive.shape[1]), task.positive.sum(1)
    exp = W.random_expectation(n_c, n_p, ks=tuple(range(1, max_k + 1)))
    return [exp[f"R@{k}"] for k in range(1, max_k + 1)]
