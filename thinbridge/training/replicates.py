"""Replication across splits and seeds: per-query results, intervals and paired tests.

One experiment trains a set of named bridge *variants* (:class:`~thinbridge.config.RunConfig`
each) on several splits (kind and seed) with several model seeds, beside the frozen baselines,
and keeps, for every test query of text -> drug retrieval, its reciprocal rank and hit at 1,
globally and within its target, and whether its within-target group is *solvable*
(:func:`thinbridge.evaluation.tasks.solvable`). Everything the book reports is computed from that one
table (:func:`replicate`):

* :func:`thinbridge.evaluation.statistics.interval_summary`: per model and split kind, the mean over split seeds of the per-split value
  (itself the mean over queries and model seeds), the spread across splits and a 95% t-interval
  over the split means. The split-to-split spread holds both sources of variation, the
  test set a split draws and the model seeds' noise, so the interval accounts for both.
* :func:`thinbridge.evaluation.statistics.paired`: model A against model B on the same queries. Two tests: a sign-flip
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

from thinbridge.evaluation import protocols as P
from thinbridge.evaluation import tasks as E
from thinbridge.evaluation import metrics as M
from thinbridge.evaluation import within_target as W
from thinbridge.config import RunConfig
from thinbridge._util.parallel import parallel_map


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
    g = [W.random_one(n_c, int(p), (1,)) for p in n_p]
    w = [W.random_one(int(n), int(p), (1,)) for n, p in zip(allowed.sum(1), (task.positive & allowed).sum(1))]
    return pd.DataFrame({"query": np.arange(len(n_p)), "rr": [m for _, m in g], "hit1": [r[0] for r, _ in g],
                         "wt_rr": [m for _, m in w], "wt_hit1": [r[0] for r, _ in w],
                         "in_group": allowed.sum(1) >= 2, "solvable": E.solvable(task, allowed)})


def _with_map(table: pd.DataFrame, inp, rows: np.ndarray, ptasks, z=None) -> pd.DataFrame:
    """``table`` with the protocol map's per-query columns (:func:`thinbridge.evaluation.protocols.query_columns`)
    of embeddings ``z`` (None: a random ranking) when ``ptasks`` are given."""
    if ptasks is None:
        return table
    cols = P.query_columns(inp.pairs.iloc[rows], ptasks, *(z or (None, None)))
    return pd.concat([table, cols], axis=1)


def _baseline_tables(inp, rows: np.ndarray, task: E.Task, label: str, seeds, dim: int, extra: bool,
                     ptasks=None) -> list:
    """Per-query tables of the frozen baselines on one split and one set of inputs."""
    from thinbridge.bridge.baselines import CCABaseline, RidgeBaseline, random_heads, text_neighbour_scores
    from thinbridge.training.run import embed

    tr, va = inp.rows("train"), inp.rows("valid")
    out = []
    for s in seeds:
        zd, zt = embed(random_heads(inp.x_drug.shape[1], inp.x_text.shape[1], dim, s), inp.x_drug[rows],
                       inp.x_text[rows])
        out.append(("random heads", label, s, query_table(task, E.task_scores(task, zd, zt))))
    cca = CCABaseline().fit(inp.x_drug[tr], inp.x_text[tr])
    out.append(("PCA+CCA", label, 0, query_table(task, E.task_scores(task, *cca.transform(inp.x_drug[rows], inp.x_text[rows])))))
    out.append(("random ranking", label, 0, _with_map(random_query_table(task), inp, rows, ptasks)))
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


def _unit_inputs(pairs, data_dir, mols, kind: str, split_seed: int, sizes, cfg: RunConfig, with_map: bool = False):
    """Inputs and test task of one split and one set of inputs, remembered for the next unit, and
    with ``with_map`` the test task under every protocol of the map (else None)."""
    from thinbridge.data.splits import split_pairs
    from thinbridge.training.run import load_inputs

    key = (id(pairs), str(data_dir), kind, split_seed, sizes, cfg.text_view, cfg.with_name, cfg.text_model,
           cfg.drug_encoder)
    if key not in _INPUTS:
        split = split_pairs(pairs, kind, sizes, split_seed, mols=mols).to_numpy()
        inp = load_inputs(data_dir, cfg, pairs=pairs, split=split, show_progress=False)
        rows = inp.rows("test")
        task = E.build_tasks(inp.pairs.iloc[rows], [inp.texts[i] for i in rows], "distinct")["text_to_drug"]
        while len(_INPUTS) >= 4:  # a few splits' worth (~30 MB each)
            _INPUTS.pop(next(iter(_INPUTS)))
        _INPUTS[key] = [inp, rows, task, None]
    entry = _INPUTS[key]
    if with_map and entry[3] is None:
        entry[3] = P.protocol_tasks(entry[0].pairs.iloc[entry[1]], [entry[0].texts[i] for i in entry[1]])
    return entry[0], entry[1], entry[2], (entry[3] if with_map else None)


def _unit(job: tuple) -> list:
    """One work unit: one variant's bridges (its model seeds, trained stacked) or the baselines,
    on one split and one set of inputs. Returns ``[(model, inputs label, model seed, per-query table), ...]``."""
    from thinbridge.training.grid import fit_many
    from thinbridge.training.run import embed

    pairs, data_dir, mols, kind, split_seed, sizes, label, what, payload, with_map = job
    if what == "bridges":
        name, cfgs = payload
        inp, rows, task, ptasks = _unit_inputs(pairs, data_dir, mols, kind, split_seed, sizes, cfgs[0], with_map)
        out = []
        for cfg, (model, _) in zip(cfgs, fit_many(inp, cfgs)):
            zd, zt = embed(model, inp.x_drug[rows], inp.x_text[rows])
            t = query_table(task, E.task_scores(task, zd, zt))
            out.append((name, label, cfg.seed, _with_map(t, inp, rows, ptasks, (zd, zt))))
        return out
    cfg, model_seeds, extra = payload
    inp, rows, task, ptasks = _unit_inputs(pairs, data_dir, mols, kind, split_seed, sizes, cfg, with_map)
    return _baseline_tables(inp, rows, task, label, model_seeds, cfg.dim, extra, ptasks)


def replicate(pairs: pd.DataFrame, data_dir, variants: dict[str, RunConfig], splits, model_seeds=(0, 1, 2),
              baselines=True, extra_baselines: bool = False, n_jobs: int = 1,
              show_progress: bool = False, protocol_map: bool = False) -> pd.DataFrame:
    """Per-query results of every variant (and the baselines) on every split.

    ``splits``: ``[(kind, seed), ...]``; ``variants``: name -> config (split fields ignored);
    ``baselines``: True (for every set of inputs), False, or the :func:`inputs_label` names to
    run them for; ``extra_baselines`` adds ridge and the text-neighbour baseline. The work is cut
    into units (one variant's bridges, or one set of baselines, on one split) shared out over ``n_jobs`` processes as
    they come free; a bridge's result does not depend on what else is trained, so the result
    does not depend on ``n_jobs``. One row per (split, model, model seed, query), in the order
    split, inputs, variant, model seed (baselines after the bridges of their inputs).
    ``protocol_map`` adds, for the bridges and the random ranking, the per-query columns of
    every protocol and reading of :mod:`thinbridge.evaluation.protocols` (the same bridges,
    scored again; nothing more is trained).
    """
    from thinbridge.data.splits import molecules_table, scaffold_cache
    from thinbridge.training.run import load_inputs

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
                jobs.append((pairs, data_dir, mols, kind, split_seed, sizes, label, "bridges", (name, cs),
                             protocol_map))
            if baselines is True or label in (baselines or ()):
                c = dataclasses.replace(members[0][1], split=kind, split_seed=split_seed, n_boot=0)
                jobs.append((pairs, data_dir, mols, kind, split_seed, sizes, label, "baselines",
                             (c, tuple(model_seeds), extra_baselines), protocol_map))
    try:
        parts = parallel_map(_unit, jobs, n_jobs=n_jobs, desc="bridges and baselines", show_progress=show_progress)
    finally:
        _INPUTS.clear()
    return pd.concat([t.assign(model=name, inputs=label, model_seed=s, split=job[3], split_seed=job[4])
                      for job, part in zip(jobs, parts) for name, label, s, t in part], ignore_index=True)


def cross(base: RunConfig, **factors) -> dict[str, RunConfig]:
    """Named variants for every combination of ``factors`` (name=values): ``{"T=0.05, m=0.15": cfg}``."""
    names = list(factors)
    out = {}
    for values in itertools.product(*factors.values()):
        label = ", ".join(f"{n}={v}" for n, v in zip(names, values))
        out[label] = dataclasses.replace(base, **dict(zip(names, values)))
    return out
