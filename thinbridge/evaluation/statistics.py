"""Statistics over replicates: intervals across split seeds and paired tests of two models.

The records are one row per (split, split seed, model, model seed, query) with that query's
hit and reciprocal rank (:func:`thinbridge.training.replicates.replicate`). :func:`interval_summary`
gives each model's mean and 95% t-interval across split seeds, :func:`paired` compares two
models on the same queries (mean difference, interval, splits won, a sign-flip test over
queries and one over splits), :func:`fmt_interval` and :func:`fmt_p` print them, the one
place where an interval is formatted.
"""
from __future__ import annotations


import numpy as np
import pandas as pd


SCOPES = ("global", "within_target", "solvable")
METRICS = ("R@1", "MRR")


def _values(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """One value per (split, split seed, model, query): the metric in the scope, mean over model seeds."""
    col = {"R@1": "hit1", "MRR": "rr"}[metric]
    if scope == "global":
        d = records.assign(value=records[col])
    else:
        d = records[records["in_group" if scope == "within_target" else "solvable"]]
        d = d.assign(value=d[f"wt_{col}"])
    return d.groupby(["split", "split_seed", "model", "inputs", "query"], sort=False)["value"].mean().reset_index()


def t_interval(x: np.ndarray) -> tuple[float, float]:
    """The 95% t-interval of the mean of ``x`` (NaN, NaN for fewer than two values)."""
    from scipy import stats

    if len(x) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


def per_split(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """The metric per (split kind, split seed, model, inputs): the mean over queries and model seeds."""
    return (_values(records, metric, scope).groupby(["split", "split_seed", "model", "inputs"], sort=False)["value"]
            .mean().reset_index())


def interval_summary(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """Per split kind and model: mean over split seeds, sd across splits, 95% t-interval, splits."""
    rows = []
    for (kind, model, inputs), g in per_split(records, metric, scope).groupby(["split", "model", "inputs"], sort=False):
        x = g["value"].to_numpy()
        lo, hi = t_interval(x)
        rows.append({"split": kind, "model": model, "inputs": inputs, "metric": metric, "scope": scope,
                     "mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1 else float("nan"),
                     "lo": lo, "hi": hi, "n_splits": len(x)})
    return pd.DataFrame(rows)


def sign_flip_p(diffs: list[np.ndarray], n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of a paired sign-flip permutation test on per-query differences pooled
    over strata (splits): how often flipping each difference's sign at random gives a mean at
    least as far from 0 as the observed one. Exact in distribution under the null that the two
    models are exchangeable query by query; ``(1 + hits) / (1 + n_perm)`` so it is never 0."""
    d = np.concatenate([np.asarray(x, np.float64) for x in diffs])
    if len(d) == 0 or not np.any(d):
        return 1.0
    observed = abs(d.sum())
    rng = np.random.default_rng(seed)
    hits, done, block = 0, 0, max(1, 2_000_000 // len(d))
    while done < n_perm:
        b = min(block, n_perm - done)
        signs = rng.integers(0, 2, size=(b, len(d)), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ d) >= observed - 1e-12).sum())
        done += b
    return (1 + hits) / (1 + n_perm)


def paired(records: pd.DataFrame, a: str, b: str, metric: str, scope: str, inputs_a: str | None = None,
           inputs_b: str | None = None, n_perm: int = 10000) -> pd.DataFrame:
    """Model ``a`` against model ``b`` (each optionally on given ``inputs``), per split kind, on the
    same queries: mean difference, its 95% t-interval over splits, the splits where ``a`` wins,
    the query-level sign-flip p-value and the split-level paired t-test p-value."""
    from scipy import stats

    v = _values(records, metric, scope)

    def pick(model, inputs):
        d = v[v.model == model]
        return d if inputs is None else d[d.inputs == inputs]
    key = ["split", "split_seed", "query"]
    m = pick(a, inputs_a).merge(pick(b, inputs_b), on=key, suffixes=("_a", "_b"))
    rows = []
    for kind, g in m.groupby("split", sort=False):
        g = g.assign(diff=g.value_a - g.value_b)
        by_split = g.groupby("split_seed", sort=True)
        split_diff = by_split["diff"].mean().to_numpy()
        lo, hi = t_interval(split_diff)
        p_split = float(stats.ttest_rel(by_split["value_a"].mean(), by_split["value_b"].mean()).pvalue) \
            if len(split_diff) > 1 and np.ptp(split_diff) > 0 else float("nan")
        rows.append({"split": kind, "a": a, "b": b, "metric": metric, "scope": scope,
                     "mean_a": float(by_split["value_a"].mean().mean()), "mean_b": float(by_split["value_b"].mean().mean()),
                     "diff": float(split_diff.mean()), "lo": lo, "hi": hi,
                     "wins": f"{int((split_diff > 0).sum())}/{len(split_diff)}",
                     "p_queries": sign_flip_p([x["diff"].to_numpy() for _, x in by_split], n_perm),
                     "p_splits": p_split, "n_queries": len(g) // max(len(split_diff), 1)})
    return pd.DataFrame(rows)


def fmt_interval(mean: float, lo: float | None, hi: float | None, digits: int = 3) -> str:
    """``0.169 [0.150, 0.188]``; the mean alone when there is no interval (``lo`` missing or NaN:
    one split, or no bootstrap). The one formatter of an interval in the package."""
    if lo is None or not np.isfinite(lo):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_p(p: float) -> str:
    """A p-value as printed in the tables: ``p=0.012``, ``p<0.001``."""
    if not np.isfinite(p):
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


ALPHA = 0.05


def position(paper: float, lo: float, hi: float) -> str:
    """Where a paper's value lies against our 95% interval across split seeds: ``inside``,
    ``above`` or ``below``; ``undefined`` when there is no interval (one split). The one rule by
    which a number of the paper is judged."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "undefined"
    return "inside" if lo <= paper <= hi else ("above" if paper > hi else "below")


def interval_table(records: pd.DataFrame, split: str, models=None) -> pd.DataFrame:
    """Rows model (and inputs), columns metric x scope, cells ``mean [lo, hi]`` across split seeds."""
    parts = []
    for scope in SCOPES:
        for metric in METRICS:
            s = interval_summary(records, metric, scope)
            s = s[s.split == split]
            parts.append(s.assign(column=f"{metric} {scope.replace('_', ' ')}",
                                  cell=[fmt_interval(m, lo, hi) for m, lo, hi in zip(s["mean"], s.lo, s.hi)]))
    t = pd.concat(parts).pivot_table(index=["model", "inputs"], columns="column", values="cell", aggfunc="first",
                                     sort=False)
    t = t[[f"{m} {s.replace('_', ' ')}" for s in SCOPES for m in METRICS]]
    if models is not None:
        t = t.loc[[i for i in t.index if i[0] in models]]
    return t


def pick(df: pd.DataFrame, **where) -> pd.Series:
    """The first row of ``df`` whose columns equal the given values (``pick(tests, a="bridge", scope="global")``)."""
    m = pd.Series(True, index=df.index)
    for k, v in where.items():
        m &= df[k] == v
    if not m.any():
        raise KeyError(f"no row with {where}")
    return df[m].iloc[0]

