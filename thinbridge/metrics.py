"""Retrieval metrics: ranks, Recall@k, MRR, bootstrap intervals and random baselines.

Everything here works on a *score matrix* ``scores`` of shape ``(n_queries, n_candidates)``
(higher = more similar) and a boolean matrix ``positive`` of the same shape saying which
candidates are correct for each query (one or more per query).

Conventions used throughout:

* **Ranks are 1-based.** The rank of a query is the position of its *best-scored* correct
  candidate in the candidate list sorted by decreasing score.
* **Ties count against the model.** A negative candidate whose score is *greater than or
  equal to* the best positive's score is placed ahead of it. A model that gives every
  candidate the same score therefore gets the worst possible rank, never a lucky one.
* **Averages are over queries.** Recall@k is the fraction of queries with rank <= k, MRR is
  the mean of 1/rank, and so on.

The module only needs numpy, so it can be used to score any retrieval system.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "ranks",
    "summarize",
    "cmc",
    "bootstrap_ci",
    "global_metrics",
    "within_target_metrics",
    "group_mask",
    "random_expectation",
]

# Metric names that bootstrap_ci / global_metrics report an interval for (besides R@k).
_SCALAR_METRICS = ("MRR", "mean_rank", "median_rank")


def ranks(
    scores: np.ndarray, positive: np.ndarray, allowed: np.ndarray | None = None
) -> np.ndarray:
    """Rank of the best correct candidate for each query (1-based, ties against the model).

    Parameters
    ----------
    scores:
        Float array ``(n_queries, n_candidates)``; higher means more similar.
    positive:
        Bool array of the same shape; ``positive[q, c]`` is True when candidate ``c`` is a
        correct answer for query ``q``. A query may have several positives; the best-scored
        one determines the rank.
    allowed:
        Optional bool array of the same shape saying which candidates each query may see
        (``None``: all of them). Candidates that are not allowed are ignored entirely, both
        as positives and as negatives.

    Returns
    -------
    numpy.ndarray
        int64 array ``(n_queries,)`` with

        ``rank[q] = 1 + #{allowed negatives c of q : scores[q, c] >= max over allowed positives of scores[q, .]}``

        so a negative that ties the best positive pushes the rank down.

    Raises
    ------
    ValueError
        If the arrays are not 2-D with identical shapes, if ``scores`` contains NaN among the
        allowed entries, or if some query has no allowed positive candidate.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_queries, n_candidates), got shape {scores.shape}")
    if positive.shape != scores.shape:
        raise ValueError(
            f"positive has shape {positive.shape} but scores has shape {scores.shape}; they must match"
        )
    positive = positive.astype(bool)
    if allowed is None:
        allowed_b = np.ones(scores.shape, dtype=bool)
    else:
        allowed_b = np.asarray(allowed)
        if allowed_b.shape != scores.shape:
            raise ValueError(
                f"allowed has shape {allowed_b.shape} but scores has shape {scores.shape}; they must match"
            )
        allowed_b = allowed_b.astype(bool)

    if np.isnan(scores[allowed_b]).any():
        raise ValueError("scores contains NaN for an allowed candidate; ranks would be meaningless")

    pos = positive & allowed_b
    has_pos = pos.any(axis=1)
    if not has_pos.all():
        bad = np.flatnonzero(~has_pos)
        shown = ", ".join(str(int(i)) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise ValueError(
            f"{bad.size} quer{'y has' if bad.size == 1 else 'ies have'} no allowed positive "
            f"candidate (query indices: {shown}); every query needs at least one correct, "
            "allowed candidate to be ranked"
        )

    best_pos = np.where(pos, scores, -np.inf).max(axis=1)
    neg = allowed_b & ~positive
    beating = neg & (scores >= best_pos[:, None])
    return (1 + beating.sum(axis=1)).astype(np.int64)


def _check_ranks(r: np.ndarray) -> np.ndarray:
    r = np.asarray(r)
    if r.ndim != 1:
        raise ValueError(f"ranks must be a 1-D array, got shape {r.shape}")
    if r.size and (r < 1).any():
        raise ValueError("ranks are 1-based: every rank must be >= 1")
    return r


def _check_ks(ks) -> tuple[int, ...]:
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {ks}")
    return ks


def _stats_from_matrix(samples: np.ndarray, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Metrics along the last axis of a (n_rows, n_queries) rank matrix -> arrays (n_rows,)."""
    samples = samples.astype(np.float64, copy=False)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"R@{k}"] = (samples <= k).mean(axis=-1)
    out["MRR"] = (1.0 / samples).mean(axis=-1)
    out["mean_rank"] = samples.mean(axis=-1)
    out["median_rank"] = np.median(samples, axis=-1)
    return out


def summarize(r: np.ndarray, ks=(1, 5, 10)) -> dict:
    """Summary statistics of a rank vector.

    Parameters
    ----------
    r:
        1-D array of 1-based ranks, one per query (e.g. the output of :func:`ranks`).
    ks:
        Cut-offs for Recall@k.

    Returns
    -------
    dict
        A flat, JSON-serialisable dict with plain Python numbers:

        * ``'R@k'`` for each ``k``: fraction of queries with rank <= k;
        * ``'MRR'``: mean reciprocal rank, mean of ``1/rank``;
        * ``'mean_rank'`` and ``'median_rank'``;
        * ``'n_queries'`` (int).

        With no queries every metric is ``nan`` and ``n_queries`` is 0.
    """
    r = _check_ranks(r)
    ks = _check_ks(ks)
    out: dict[str, Any] = {}
    if r.size == 0:
        for k in ks:
            out[f"R@{k}"] = float("nan")
        for name in _SCALAR_METRICS:
            out[name] = float("nan")
    else:
        stats = _stats_from_matrix(r[None, :], ks)
        for name, val in stats.items():
            out[name] = float(val[0])
    out["n_queries"] = int(r.size)
    return out


def cmc(r: np.ndarray, max_k: int) -> np.ndarray:
    """Cumulative match characteristic: Recall@k for ``k = 1 .. max_k``.

    Returns a float array of shape ``(max_k,)`` whose entry ``k - 1`` is the fraction of
    queries with rank <= k. It is non-decreasing and agrees with the ``'R@k'`` values of
    :func:`summarize`. With no queries it is all ``nan``.
    """
    r = _check_ranks(r)
    max_k = int(max_k)
    if max_k < 1:
        raise ValueError(f"max_k must be >= 1, got {max_k}")
    if r.size == 0:
        return np.full(max_k, np.nan)
    counts = np.bincount(np.minimum(r, max_k + 1).astype(np.int64), minlength=max_k + 2)
    return np.cumsum(counts[1 : max_k + 1]) / r.size


def bootstrap_ci(
    r: np.ndarray,
    ks=(1, 5, 10),
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile bootstrap confidence intervals over queries.

    The rank vector is resampled with replacement ``n_boot`` times (with
    ``numpy.random.default_rng(seed)``); each resample gives R@k, MRR, mean rank and median
    rank, and the interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    those values.

    Returns
    -------
    dict
        ``{'R@1': (lo, hi), ..., 'MRR': (lo, hi), 'mean_rank': (lo, hi),
        'median_rank': (lo, hi)}`` with Python floats. The result is deterministic for a given
        seed. ``n_boot=0`` returns ``{}``; an empty rank vector gives ``(nan, nan)`` intervals.
    """
    r = _check_ranks(r)
    ks = _check_ks(ks)
    n_boot = int(n_boot)
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot == 0:
        return {}
    names = [f"R@{k}" for k in ks] + list(_SCALAR_METRICS)
    n = r.size
    if n == 0:
        return {name: (float("nan"), float("nan")) for name in names}

    rng = np.random.default_rng(seed)
    # Resample in blocks so memory stays bounded (~4M ranks at a time) for large query sets.
    block = max(1, min(n_boot, 4_000_000 // n))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        stats = _stats_from_matrix(r[idx], ks)
        for name in names:
            parts[name].append(stats[name])
        done += b

    alpha = (1.0 - level) / 2.0
    out = {}
    for name in names:
        vals = np.concatenate(parts[name])
        lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
        out[name] = (float(lo), float(hi))
    return out


def _with_ci(summary: dict, r: np.ndarray, ks, n_boot: int, seed: int, suffix: str = "") -> dict:
    """Add f'{name}{suffix}_ci95': [lo, hi] next to each metric of ``summary``."""
    ci = bootstrap_ci(r, ks=ks, n_boot=n_boot, seed=seed, level=0.95)
    out: dict[str, Any] = {}
    for name, value in summary.items():
        out[f"{name}{suffix}"] = value
        if name in ci:
            out[f"{name}{suffix}_ci95"] = list(ci[name])
    return out


def global_metrics(scores, positive, ks=(1, 5, 10), n_boot: int = 1000, seed: int = 0) -> dict:
    """Global retrieval: every query ranks against all candidates.

    Returns :func:`summarize` of :func:`ranks` (``'R@k'``, ``'MRR'``, ``'mean_rank'``,
    ``'median_rank'``, ``'n_queries'``) plus ``'n_candidates'`` and, beside each metric, a
    95% percentile-bootstrap interval ``f'{name}_ci95': [lo, hi]`` (omitted when
    ``n_boot=0``).
    """
    r = ranks(scores, positive)
    out = _with_ci(summarize(r, ks), r, ks, n_boot, seed)
    out["n_candidates"] = int(np.asarray(scores).shape[1])
    return out


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
    ks = _check_ks(ks)
    allowed, qg = _group_allowed(query_groups, candidate_groups)
    r_all = ranks(scores, positive, allowed)
    group_size = allowed.sum(axis=1)
    multi = group_size >= 2

    r_multi = r_all[multi]
    out: dict[str, Any] = _with_ci(summarize(r_multi, ks), r_multi, ks, n_boot, seed)
    out["n_groups"] = len({qg[i] for i in np.flatnonzero(multi)})
    out["mean_group_size"] = float(group_size[multi].mean()) if multi.any() else float("nan")

    all_summary = summarize(r_all, ks)
    keep = {f"R@{k}" for k in ks} | {"MRR", "n_queries"}
    all_view = _with_ci(
        {name: v for name, v in all_summary.items() if name in keep}, r_all, ks, n_boot, seed, suffix="_all"
    )
    out.update(all_view)
    out["n_groups_all"] = len(set(qg))
    out["singletons_counted_in_all"] = True
    return out


def _random_one(n: int, p: int, ks: tuple[int, ...]) -> tuple[list[float], float]:
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
    ks = _check_ks(ks)
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
        recalls, mrr = _random_one(int(n), int(p), ks)
        rec_sum += c * np.asarray(recalls)
        mrr_sum += c * mrr
    for k, v in zip(ks, rec_sum):
        out[f"R@{k}"] = float(v / total)
    out["MRR"] = float(mrr_sum / total)
    out["mean_rank"] = float(np.mean((n_arr + 1) / (p_arr + 1)))
    out["n_queries"] = int(n_arr.size)
    return out
