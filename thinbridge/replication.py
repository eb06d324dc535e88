"""Replication across splits and seeds: per-query results, intervals and paired tests.

One experiment trains a set of named bridge *variants* (:class:`~thinbridge.config.RunConfig`
each) on several splits (kind and seed) with several model seeds, beside the frozen baselines,
and keeps, for every test query of text -> drug retrieval, its reciprocal rank and hit at 1,
globally and within its target, and whether its within-target group is *solvable*
(:func:`thinbridge.evaluation.solvable`). Everything the book reports is computed from that one
table (:func:`replicate`):

* :func:`summary`: per model and split kind, the mean over split seeds of the per-split value
  (itself the mean over queries and model seeds), the spread across splits and a 95% t-interval
  over the split means. The split-to-split spread holds both sources of variation, the
  test set a split draws and the model seeds' noise, so the interval accounts for both.
* :func:`paired`: model A against model B on the same queries. Two tests: a sign-flip
  permutation test over queries, stratified by split (each query's difference, averaged over
  model seeds, keeps or flips its sign; pooled over the splits), and a paired t-test over the
  split means. The verdicts use the first (power from every query) and report the second.

Scopes: ``global`` (every query, all test molecules), ``within_target`` (queries whose target
has two or more candidate molecules), ``solvable`` (those of them whose group can be solved).
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd

from . import evaluation as E
from . import metrics as M
from .config import RunConfig
from .parallel import parallel_map

SCOPES = ("global", "within_target", "solvable")
METRICS = ("R@1", "MRR")


def inputs_label(cfg: RunConfig) -> str:
    """The frozen inputs a variant reads: ``NoDrug``/``WithDrug`` and the drug encoder if not ECFP4."""
    label = "WithDrug" if cfg.with_name else "NoDrug"
    return label if cfg.drug_encoder == "ecfp4" else f"{label}, {cfg.drug_encoder}"


def query_table(task: E.Task, scores: np.ndarray) -> pd.DataFrame:
    """Per-query text -> drug results of one model on one test split."""
    allowed = E.allowed_mask(task)
    rg, rw = M.ranks(scores, task.positive), M.ranks(scores, task.positive, allowed)
    return pd.DataFrame({"query": np.arange(len(rg)), "rr": 1.0 / rg, "hit1": (rg == 1).astype(float),
                         "wt_rr": 1.0 / rw, "wt_hit1": (rw == 1).astype(float),
                         "in_group": allowed.sum(1) >= 2, "solvable": E.solvable(task, allowed)})


def random_query_table(task: E.Task) -> pd.DataFrame:
    """The exact expectation of a uniformly random ranking, query by query, as :func:`query_table`."""
    allowed = E.allowed_mask(task)
    n_c, n_p = task.positive.shape[1], task.positive.sum(1)
    g = [M._random_one(n_c, int(p), (1,)) for p in n_p]
    w = [M._random_one(int(n), int(p), (1,)) for n, p in zip(allowed.sum(1), (task.positive & allowed).sum(1))]
    return pd.DataFrame({"query": np.arange(len(n_p)), "rr": [m for _, m in g], "hit1": [r[0] for r, _ in g],
                         "wt_rr": [m for _, m in w], "wt_hit1": [r[0] for r, _ in w],
                         "in_group": allowed.sum(1) >= 2, "solvable": E.solvable(task, allowed)})


def _baseline_tables(inp, rows: np.ndarray, task: E.Task, label: str, seeds, dim: int, extra: bool) -> list:
    """Per-query tables of the frozen baselines on one split and one set of inputs."""
    from .baselines import CCABaseline, RidgeBaseline, random_heads, text_neighbour_scores
    from .train import embed

    tr, va = inp.rows("train"), inp.rows("valid")
    out = []
    for s in seeds:
        zd, zt = embed(random_heads(inp.x_drug.shape[1], inp.x_text.shape[1], dim, s), inp.x_drug[rows],
                       inp.x_text[rows])
        out.append(("random heads", label, s, query_table(task, E.task_scores(task, zd, zt))))
    cca = CCABaseline().fit(inp.x_drug[tr], inp.x_text[tr])
    out.append(("PCA+CCA", label, 0, query_table(task, E.task_scores(task, *cca.transform(inp.x_drug[rows], inp.x_text[rows])))))
    out.append(("random ranking", label, 0, random_query_table(task)))
    if extra:
        val = E.build_tasks(inp.pairs.iloc[va], [inp.texts[i] for i in va], "distinct")["text_to_drug"]

        def val_mrr(model):
            zd, zt = model.transform(inp.x_drug[va], inp.x_text[va])
            return float(query_table(val, E.task_scores(val, zd, zt)).rr.mean())
        ridge = RidgeBaseline().fit(inp.x_drug[tr], inp.x_text[tr]).select(val_mrr)
        out.append(("ridge", label, 0, query_table(task, E.task_scores(task, *ridge.transform(inp.x_drug[rows],
                                                                                       inp.x_text[rows])))))
        q = inp.x_text[rows][task.query_rows]
        nn = text_neighbour_scores(q, inp.x_text[tr], inp.x_drug[tr], inp.x_drug[rows][task.cand_rows])
        out.append(("text neighbours", label, 0, query_table(task, nn)))
    return out


#: the last few (split, inputs) this process loaded (units of one split follow one another)
_INPUTS: dict = {}


def _unit_inputs(pairs, data_dir, mols, kind: str, split_seed: int, sizes, cfg: RunConfig):
    """Inputs and test task of one split and one set of inputs, remembered for the next unit."""
    from .splits import split_pairs
    from .train import load_inputs

    key = (id(pairs), str(data_dir), kind, split_seed, sizes, cfg.text_view, cfg.with_name, cfg.text_model,
           cfg.drug_encoder)
    if key not in _INPUTS:
        split = split_pairs(pairs, kind, sizes, split_seed, mols=mols).to_numpy()
        inp = load_inputs(data_dir, cfg, pairs=pairs, split=split, show_progress=False)
        rows = inp.rows("test")
        task = E.build_tasks(inp.pairs.iloc[rows], [inp.texts[i] for i in rows], "distinct")["text_to_drug"]
        while len(_INPUTS) >= 4:  # a few splits' worth (~30 MB each)
            _INPUTS.pop(next(iter(_INPUTS)))
        _INPUTS[key] = (inp, rows, task)
    return _INPUTS[key]


def _unit(job: tuple) -> list:
    """One work unit: one variant's bridges (its model seeds, trained stacked) or the baselines,
    on one split and one set of inputs. Returns ``[(model, inputs label, model seed, per-query table), ...]``."""
    from .grid import fit_many
    from .train import embed

    pairs, data_dir, mols, kind, split_seed, sizes, label, what, payload = job
    if what == "bridges":
        name, cfgs = payload
        inp, rows, task = _unit_inputs(pairs, data_dir, mols, kind, split_seed, sizes, cfgs[0])
        out = []
        for cfg, (model, _) in zip(cfgs, fit_many(inp, cfgs)):
            zd, zt = embed(model, inp.x_drug[rows], inp.x_text[rows])
            out.append((name, label, cfg.seed, query_table(task, E.task_scores(task, zd, zt))))
        return out
    cfg, model_seeds, extra = payload
    inp, rows, task = _unit_inputs(pairs, data_dir, mols, kind, split_seed, sizes, cfg)
    return _baseline_tables(inp, rows, task, label, model_seeds, cfg.dim, extra)


def replicate(pairs: pd.DataFrame, data_dir, variants: dict[str, RunConfig], splits, model_seeds=(0, 1, 2),
              baselines=True, extra_baselines: bool = False, n_jobs: int = 1,
              show_progress: bool = False) -> pd.DataFrame:
    """Per-query results of every variant (and the baselines) on every split.

    ``splits``: ``[(kind, seed), ...]``; ``variants``: name -> config (split fields ignored);
    ``baselines``: True (for every set of inputs), False, or the :func:`inputs_label` names to
    run them for; ``extra_baselines`` adds ridge and the text-neighbour baseline. The work is cut
    into units (one variant's bridges, or one set of baselines, on one split) shared out over ``n_jobs`` processes as
    they come free; a bridge's result does not depend on what else is trained, so the result
    does not depend on ``n_jobs``. One row per (split, model, model seed, query), in the order
    split, inputs, variant, model seed (baselines after the bridges of their inputs).
    """
    from .splits import molecules_table, scaffold_cache
    from .train import load_inputs

    mols = molecules_table(pairs, scaffold_cache(data_dir))
    firsts = {inputs_label(c): c for c in variants.values()}
    for cfg in firsts.values():  # features computed and cached here, once, not in every worker
        load_inputs(data_dir, cfg, pairs=pairs, split=np.full(len(pairs), "train"), show_progress=show_progress)
    baselines = baselines if isinstance(baselines, bool) else tuple(baselines)
    sizes = next(iter(variants.values())).sizes  # one split for every variant: their queries are the same
    groups: dict[str, list] = {}
    for name, cfg in variants.items():
        groups.setdefault(inputs_label(cfg), []).append((name, cfg))
    jobs = []
    for kind, split_seed in splits:
        for label, members in groups.items():
            for name, cfg in members:  # one unit per variant: its model seeds train stacked
                cs = [dataclasses.replace(cfg, split=kind, split_seed=split_seed, seed=s, n_boot=0) for s in model_seeds]
                jobs.append((pairs, data_dir, mols, kind, split_seed, sizes, label, "bridges", (name, cs)))
            if baselines is True or label in (baselines or ()):
                c = dataclasses.replace(members[0][1], split=kind, split_seed=split_seed, n_boot=0)
                jobs.append((pairs, data_dir, mols, kind, split_seed, sizes, label, "baselines",
                             (c, tuple(model_seeds), extra_baselines)))
    try:
        parts = parallel_map(_unit, jobs, n_jobs=n_jobs, desc="bridges and baselines", show_progress=show_progress)
    finally:
        _INPUTS.clear()
    return pd.concat([t.assign(model=name, inputs=label, model_seed=s, split=job[3], split_seed=job[4])
                      for job, part in zip(jobs, parts) for name, label, s, t in part], ignore_index=True)


def _values(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """One value per (split, split seed, model, query): the metric in the scope, mean over model seeds."""
    col = {"R@1": "hit1", "MRR": "rr"}[metric]
    if scope == "global":
        d = records.assign(value=records[col])
    else:
        d = records[records["in_group" if scope == "within_target" else "solvable"]]
        d = d.assign(value=d[f"wt_{col}"])
    return d.groupby(["split", "split_seed", "model", "inputs", "query"], sort=False)["value"].mean().reset_index()


def _t_interval(x: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    if len(x) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


def per_split(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """The metric per (split kind, split seed, model, inputs): the mean over queries and model seeds."""
    return (_values(records, metric, scope).groupby(["split", "split_seed", "model", "inputs"], sort=False)["value"]
            .mean().reset_index())


def summary(records: pd.DataFrame, metric: str, scope: str) -> pd.DataFrame:
    """Per split kind and model: mean over split seeds, sd across splits, 95% t-interval, splits."""
    rows = []
    for (kind, model, inputs), g in per_split(records, metric, scope).groupby(["split", "model", "inputs"], sort=False):
        x = g["value"].to_numpy()
        lo, hi = _t_interval(x)
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
        lo, hi = _t_interval(split_diff)
        p_split = float(stats.ttest_rel(by_split["value_a"].mean(), by_split["value_b"].mean()).pvalue) \
            if len(split_diff) > 1 and np.ptp(split_diff) > 0 else float("nan")
        rows.append({"split": kind, "a": a, "b": b, "metric": metric, "scope": scope,
                     "mean_a": float(by_split["value_a"].mean().mean()), "mean_b": float(by_split["value_b"].mean().mean()),
                     "diff": float(split_diff.mean()), "lo": lo, "hi": hi,
                     "wins": f"{int((split_diff > 0).sum())}/{len(split_diff)}",
                     "p_queries": sign_flip_p([x["diff"].to_numpy() for _, x in by_split], n_perm),
                     "p_splits": p_split, "n_queries": len(g) // max(len(split_diff), 1)})
    return pd.DataFrame(rows)


def fmt_interval(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``0.169 [0.150, 0.188]``."""
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_p(p: float) -> str:
    """A p-value as printed in the tables: ``p=0.012``, ``p<0.001``."""
    if not np.isfinite(p):
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def cross(base: RunConfig, **factors) -> dict[str, RunConfig]:
    """Named variants for every combination of ``factors`` (name=values): ``{"T=0.05, m=0.15": cfg}``."""
    names = list(factors)
    out = {}
    for values in itertools.product(*factors.values()):
        label = ", ".join(f"{n}={v}" for n, v in zip(names, values))
        out[label] = dataclasses.replace(base, **dict(zip(names, values)))
    return out


ALPHA = 0.05


def claim_better(test: pd.Series, alpha: float = ALPHA) -> str:
    """A claim that A beats B: ``confirmed`` when A's mean is higher and the query-level test
    rejects equality at ``alpha``; ``refuted`` otherwise (no detectable gain, or a loss)."""
    return "confirmed" if test["diff"] > 0 and test["p_queries"] < alpha else "refuted"


def claim_value(paper: float, row: pd.Series) -> str:
    """A number of the paper: ``confirmed`` when it lies in our 95% interval across splits, else
    ``refuted`` with the side our interval lies on."""
    if row["lo"] <= paper <= row["hi"]:
        return "confirmed"
    return "refuted (ours higher)" if row["lo"] > paper else "refuted (ours lower)"


def evidence(test: pd.Series) -> str:
    """One line of evidence for a paired comparison."""
    return (f"{test['a']} {test['mean_a']:.3f} vs {test['b']} {test['mean_b']:.3f} ({test['metric']}, "
            f"{test['scope'].replace('_', ' ')}, {test['split']} splits): difference {test['diff']:+.3f} "
            f"[{test['lo']:+.3f}, {test['hi']:+.3f}], higher in {test['wins']} splits, "
            f"{fmt_p(test['p_queries'])} over queries, {fmt_p(test['p_splits'])} over splits")


def interval_table(records: pd.DataFrame, split: str, models=None) -> pd.DataFrame:
    """Rows model (and inputs), columns metric x scope, cells ``mean [lo, hi]`` across split seeds."""
    parts = []
    for scope in SCOPES:
        for metric in METRICS:
            s = summary(records, metric, scope)
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
