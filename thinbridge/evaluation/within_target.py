"""Within-target retrieval: each query ranks only the candidates that share its target.

The paper's "within-target" numbers ask whether a bridge tells apart drugs of the same target:
a text query about a target ranks only that target's drugs (and a drug query only its target's
texts). :func:`group_mask` is the one definition of "within target" in the package;
:func:`within_target_metrics` scores it, :func:`random_expectation` gives what a random
ranking reaches with the same group sizes. Needs only numpy and :mod:`.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thinbridge.evaluation.metrics import check_ks, ranks, summarize, with_ci


def _is_set_like(x) -> bool:
    return isinstance(x, (set, frozenset))


def group_mask(query_groups, candidate_groups) -> np.ndarray:
    """Boolean ``(n_q, n_c)`` mask: query ``q`` may see candidate ``c`` when they share a group.

    ``candidate_groups`` holds one id per candidate, or one set of ids per candidate (a
    candidate in several groups). The one definition of "within target" in the package.
    """
    return _group_allowed(query_groups, candidate_groups)[0]


def _group_allowed(query_groups, candidate_groups) -> tuple[np.ndarray, list]:
    """:func:`group_mask` and the query groups as a list."""
    if isinstance(query_groups, np.ndarray) and query_groups.ndim != 1:
        raise ValueError(f"query_groups must be 1-D (one id per query), got shape {query_groups.shape}")
    qg = list(query_groups)
    if isinstance(candidate_groups, np.ndarray) and candidate_groups.ndim != 1:
        raise ValueError(
            f"candidate_groups must be 1-D (one entry per candidate), got shape {candidate_groups.shape}"
        )
    cg = list(candidate_groups)
    set_mode = len(cg) > 0 and all(_is_set_like(c) for c in cg)
    if not set_mode and any(_is_set_like(c) for c in cg):
        raise ValueError(
            "candidate_groups mixes sets and plain ids; give either one id per candidate or one set per candidate"
        )
    # Build one row per distinct query group, then expand (cheap when groups repeat).
    uniq: dict[Any, int] = {}
    inverse = np.empty(len(qg), dtype=np.int64)
    for i, g in enumerate(qg):
        inverse[i] = uniq.setdefault(g, len(uniq))
    rows = np.zeros((len(uniq), len(cg)), dtype=bool)
    if set_mode:
        for c, members in enumerate(cg):
            for g in members:
                j = uniq.get(g)
                if j is not None:
                    rows[j, c] = True
    else:
        for c, g in enumerate(cg):
            j = uniq.get(g)
            if j is not None:
                rows[j, c] = True
    return rows[inverse], qg


def within_target_metrics(
    scores,
    positive,
    query_groups,
    candidate_groups,
    ks=(1, 3, 5),
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Within-target ("grouped") retrieval: each query only competes inside its own target.

    Query ``q`` may see candidate ``c`` only when they share a group (target id):

    * ``candidate_groups`` as a 1-D array of ids: ``allowed[q, c] = query_groups[q] == candidate_groups[c]``;
    * ``candidate_groups`` as a sequence of sets / frozensets (a candidate in several groups):
      ``allowed[q, c] = query_groups[q] in candidate_groups[c]``.

    Ranks are then computed with :func:`ranks` under that mask (ties against the model).

    Returns
    -------
    dict
        One flat dict with two views.

        *Groups of two or more candidates only* (queries whose group has a single candidate
        are trivially rank 1 and are left out): ``'R@k'``, ``'MRR'``, ``'mean_rank'``,
        ``'median_rank'``, ``'n_queries'``, ``'n_groups'`` (distinct query groups among those
        queries), each metric with ``f'{name}_ci95': [lo, hi]``, and ``'mean_group_size'``
        (mean number of allowed candidates per query over these queries). If no query has a
        group of 2+, these metrics are ``nan`` and ``n_queries`` is 0.

        *All queries*, singletons counted as rank 1: ``'R@k_all'``, ``'MRR_all'`` with
        ``'R@k_all_ci95'``, ``'MRR_all_ci95'``, plus ``'n_queries_all'`` and ``'n_groups_all'``.

        ``'singletons_counted_in_all': True`` documents the convention in the output itself.

    Raises
    ------
    ValueError
        If lengths do not match the score matrix, or a query has no allowed positive (for
        example a query whose group contains none of its correct candidates).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_queries, n_candidates), got shape {scores.shape}")
    n_q, n_c = scores.shape
    if len(query_groups) != n_q:
        raise ValueError(f"query_groups has {len(query_groups)} entries but scores has {n_q} queries")
    if len(candidate_groups) != n_c:
        raise ValueError(
            f"candidate_groups has {len(candidate_groups)} entries but scores has {n_c} candidates"
        )
    ks = check_ks(ks)
    allowed, qg = _group_allowed(query_groups, candidate_groups)
    r_all = ranks(scores, positive, allowed)
    group_size = allowed.sum(axis=1)
    multi = group_size >= 2

    r_multi = r_all[multi]
    out: dict[str, Any] = with_ci(summarize(r_multi, ks), r_multi, ks, n_boot, seed)
    out["n_groups"] = len({qg[i] for i in np.flatnonzero(multi)})
    out["mean_group_size"] = float(group_size[multi].mean()) if multi.any() else float("nan")

    all_summary = summarize(r_all, ks)
    keep = {f"R@{k}" for k in ks} | {"MRR", "n_queries"}
    all_view = with_ci(
        {name: v for name, v in all_summary.items() if name in keep}, r_all, ks, n_boot, seed, suffix="_all"
    )
    out.update(all_view)
    out["n_groups_all"] = len(set(qg))
    out["singletons_counted_in_all"] = True
    return out


def random_one(n: int, p: int, ks: tuple[int, ...]) -> tuple[list[float], float]:
    """Exact R@k list and E[1/rank] for one (n candidates, p positives) random ranking.

    P(first positive at rank r) = C(n-r, p-1) / C(n, p), computed by the recurrence
    P(1) = p/n, P(r+1) = P(r) * (n-r-p+1)/(n-r): a product of ratios <= 1, so nothing overflows.
    """
    m = n - p + 1  # the first positive lands in ranks 1..m
    if m == 1:
        probs = np.ones(1)
    else:
        s = np.arange(1, m, dtype=np.float64)
        ratios = (n - s - p + 1) / (n - s)
        probs = (p / n) * np.concatenate(([1.0], np.cumprod(ratios)))
    rr = np.arange(1, m + 1, dtype=np.float64)
    mrr = float(np.sum(probs / rr))
    recalls = []
    for k in ks:
        if k >= m:
            recalls.append(1.0)
        else:
            # 1 - C(n-p, k) / C(n, k) = 1 - prod_{i<k} (n-p-i)/(n-i)
            i = np.arange(k, dtype=np.float64)
            recalls.append(float(1.0 - np.prod((n - p - i) / (n - i))))
    return recalls, mrr


def random_expectation(n_candidates: np.ndarray, n_positives: np.ndarray, ks=(1, 5, 10)) -> dict:
    """Exact expected metrics of a uniformly random ranking (no ties), averaged over queries.

    For a query with ``n`` candidates of which ``p`` are positive:

    * ``P(rank <= k) = 1 - C(n-p, k) / C(n, k)``;
    * ``E[1/rank] = sum_r P(first positive at r) / r`` with ``P(first at r) = C(n-r, p-1) / C(n, p)``;
    * ``E[rank] = (n + 1) / (p + 1)``.

    The binomial ratios are evaluated as products of ratios, so nothing overflows for ``n`` in
    the tens of thousands; each distinct ``(n, p)`` pair is computed once.

    Parameters
    ----------
    n_candidates, n_positives:
        Integer arrays (or scalars, broadcast together), one entry per query, with
        ``1 <= p <= n``.

    Returns
    -------
    dict
        ``{'R@k': ..., 'MRR': ..., 'mean_rank': ..., 'n_queries': ...}`` (Python numbers).
    """
    ks = check_ks(ks)
    n_arr, p_arr = np.broadcast_arrays(np.asarray(n_candidates), np.asarray(n_positives))
    n_arr = n_arr.ravel()
    p_arr = p_arr.ravel()
    for name, a in (("n_candidates", n_arr), ("n_positives", p_arr)):
        if a.size and not np.all(np.asarray(a, dtype=np.float64) == np.round(np.asarray(a, dtype=np.float64))):
            raise ValueError(f"{name} must be integers")
    n_arr = n_arr.astype(np.int64)
    p_arr = p_arr.astype(np.int64)
    if n_arr.size and ((p_arr < 1).any() or (p_arr > n_arr).any()):
        raise ValueError("every query needs 1 <= n_positives <= n_candidates")
    out: dict[str, Any] = {}
    if n_arr.size == 0:
        for k in ks:
            out[f"R@{k}"] = float("nan")
        out["MRR"] = float("nan")
        out["mean_rank"] = float("nan")
        out["n_queries"] = 0
        return out

    pairs, counts = np.unique(np.stack([n_arr, p_arr], axis=1), axis=0, return_counts=True)
    total = float(counts.sum())
    rec_sum = np.zeros(len(ks))
    mrr_sum = 0.0
    for (n, p), c in zip(pairs.tolist(), counts.tolist()):
        recalls, mrr = random_one(int(n), int(p), ks)
        rec_sum += c * np.asarray(recalls)
        mrr_sum += c * mrr
    for k, v in zip(ks, rec_sum):
        out[f"R@{k}"] = float(v / total)
    out["MRR"] = float(mrr_sum / total)
    out["mean_rank"] = float(np.mean((n_arr + 1) / (p_arr + 1)))
    out["n_queries"] = int(n_arr.size)
    return out

