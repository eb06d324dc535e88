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


def check_ks(ks) -> tuple[int, ...]:
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
    ks = check_ks(ks)
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
    ks = check_ks(ks)
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


def with_ci(summary: dict, r: np.ndarray, ks, n_boot: int, seed: int, suffix: str = "") -> dict:
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
    out = with_ci(summarize(r, ks), r, ks, n_boot, seed)
    out["n_candidates"] = int(np.asarray(scores).shape[1])
    return out
