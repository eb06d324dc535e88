"""The book's experiments as functions: the ablation grid, the results tables, the paper comparison.

Notebooks call these; they hold no logic of their own beyond choosing parameters.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thinbridge._util import jsonio
from thinbridge.evaluation.statistics import fmt_interval
from thinbridge.config import RunConfig
from thinbridge._util.parallel import parallel_map

if TYPE_CHECKING:  # thinbridge.training.run imports torch (~1 s): only the functions that train load it
    from thinbridge.training.run import Inputs

#: What the paper reports (Tupakula 2025, as far as summaries tell; see PAPER.md). Inputs to compare
#: against, not results of ours. ``protocol``: the one the paper describes, as far as it does
#: (scaffold splits; Table 1 without the drug name, the within-target numbers from the best
#: cell, WithDrug; our default candidates and query set where it says nothing), as the fields of
#: :class:`thinbridge.evaluation.protocols.Protocol`. Chapter 7 measures each under every protocol.
PAPER_NUMBERS = [
    {"quantity": "Scaffold split, Recall@1", "paper": 0.150, "scope": "global", "metric": "R@1",
     "protocol": {"split": "scaffold", "inputs": "NoDrug", "candidates": "distinct"}},
    {"quantity": "Scaffold split, MRR", "paper": 0.228, "scope": "global", "metric": "MRR",
     "protocol": {"split": "scaffold", "inputs": "NoDrug", "candidates": "distinct"}},
    {"quantity": "Scaffold split, grouped Recall@3", "paper": 0.317, "scope": "within_target", "metric": "R@3",
     "protocol": {"split": "scaffold", "inputs": "NoDrug", "candidates": "distinct", "queries": "2+"}},
    {"quantity": "Within-target Recall@1", "paper": 0.762, "scope": "within_target", "metric": "R@1",
     "protocol": {"split": "scaffold", "inputs": "WithDrug, best cell", "candidates": "distinct",
                  "queries": "2+"}},
    {"quantity": "Within-target MRR", "paper": 0.863, "scope": "within_target", "metric": "MRR",
     "protocol": {"split": "scaffold", "inputs": "WithDrug, best cell", "candidates": "distinct",
                  "queries": "2+"}},
]
PAPER_BEST_ABLATION = {"with_name": True, "temperature": 0.05, "margin": 0.15}

MODEL_LABELS = {"bridge": "trained bridge", "random_heads": "random heads", "cca": "PCA+CCA",
                "random_ranking": "random ranking (expected)"}


def _cell_scores(inp: Inputs, cfg: RunConfig, model, hist: list[dict], protocol: str) -> dict:
    """One ablation cell's row: its settings and test text -> drug metrics (no bootstrap)."""
    from thinbridge.training.run import embed, score_embeddings

    zd, zt = embed(model, inp.x_drug, inp.x_text)
    res = score_embeddings(inp, zd, zt, "test", protocol, n_boot=0)["text_to_drug"]
    g, w = res["global"], res["within_target"]
    return {"with_name": cfg.with_name, "temperature": cfg.temperature, "margin": cfg.margin,
            "hard_weight": cfg.hard_weight, "seed": cfg.seed,
            "wt_R@1": w["R@1"], "wt_R@3": w["R@3"], "wt_MRR": w["MRR"],
            "wt_R@1_all": w["R@1_all"], "wt_MRR_all": w["MRR_all"],
            "R@1": g["R@1"], "MRR": g["MRR"], **_stopping_columns(cfg, hist)}


#: shorter early-stopping patiences judged from each ablation bridge's history (no extra training)
WHAT_IF_PATIENCE = (3, 5, 7)


def _stopping_columns(cfg: RunConfig, hist: list[dict]) -> dict:
    """The epoch kept, epochs run and validation MRR of a bridge, and what each shorter patience of
    :data:`WHAT_IF_PATIENCE` would have kept and run (:func:`thinbridge.training.grid.stopping`)."""
    from thinbridge.training.grid import stopping

    out = {}
    for p in (cfg.patience, *(q for q in WHAT_IF_PATIENCE if q < cfg.patience)):
        s = stopping(hist, p, cfg.epochs)
        suffix = "" if p == cfg.patience else f"_p{p}"
        out.update({f"best_epoch{suffix}": s["best_epoch"], f"epochs_run{suffix}": s["epochs_run"],
                    f"val_MRR{suffix}": s["val_t2d_MRR"]})
    return out


def patience_what_if(runs: pd.DataFrame) -> pd.DataFrame:
    """From :func:`ablation_grid` rows: for each shorter patience, how many bridges would keep the
    same epoch (and so come out identical), the share of the epochs they would train, and the
    validation MRR given up by the bridges that would stop before their best epoch."""
    rows = []
    for p in WHAT_IF_PATIENCE:
        if f"best_epoch_p{p}" not in runs:
            continue
        same = runs[f"best_epoch_p{p}"] == runs["best_epoch"]
        lost = (runs["val_MRR"] - runs[f"val_MRR_p{p}"])[~same]
        rows.append({"patience": p, "bridges": len(runs), "same_epoch": int(same.sum()),
                     "epochs_share": runs[f"epochs_run_p{p}"].sum() / runs["epochs_run"].sum(),
                     "val_MRR_lost_mean": float(lost.mean()) if len(lost) else 0.0,
                     "val_MRR_lost_max": float(lost.max()) if len(lost) else 0.0})
    return pd.DataFrame(rows)


def train_grid(inp: Inputs, cfgs: list[RunConfig], protocol: str = "distinct", n_jobs: int = 1) -> list[dict]:
    """Train every configuration on ``inp`` as stacked bridges (:func:`thinbridge.training.grid.fit_many`) and
    score each on the test split. ``n_jobs`` processes each train a share of the stack; a bridge's
    result does not depend on its stack, so neither does anything here depend on ``n_jobs``."""
    from thinbridge.training.grid import fit_many

    n = max(1, min(int(n_jobs or 1), len(cfgs)))
    shares = [cfgs[i::n] for i in range(n)]
    done = parallel_map(lambda share: [_cell_scores(inp, c, m, h, protocol)
                                       for c, (m, h) in zip(share, fit_many(inp, share))], shares, n_jobs=n)
    by_cfg = {id(c): row for share, rows in zip(shares, done) for c, row in zip(share, rows)}
    return [by_cfg[id(c)] for c in cfgs]


def ablation_grid(inputs: dict[bool, Inputs], base: RunConfig, temperatures, margins, seeds,
                  n_jobs: int = 1, show_progress: bool = True, hard_weights=None) -> pd.DataFrame:
    """Train one bridge per (drug name in text, T, m, seed) and score it on the test split (no bootstrap).

    ``inputs`` maps ``with_name`` to prepared :class:`Inputs` (same split, both text variants);
    ``hard_weights`` (default: the base config's) adds the hard-negative weight as a factor. The
    bridges of each text variant train together as one stacked model (:func:`train_grid`), shared
    out over ``n_jobs`` processes (results do not depend on ``n_jobs``). Returns one row per run,
    in grid order, with within-target (``wt_``) and global text -> drug metrics.
    """
    hard_weights = hard_weights or [base.hard_weight]
    grid = list(itertools.product(sorted(inputs), temperatures, margins, hard_weights, seeds))
    cfgs = [dataclasses.replace(base, with_name=w, temperature=t, margin=m, hard_weight=b, seed=s, n_boot=0)
            for w, t, m, b, s in grid]
    rows = []
    for w in sorted(inputs):
        rows += train_grid(inputs[w], [c for c in cfgs if c.with_name == w], base.protocol, n_jobs)
    return pd.DataFrame(rows)


def ablation_summary(df: pd.DataFrame, metric: str = "wt_R@1") -> pd.DataFrame:
    """Mean and standard deviation over seeds per cell, best cell first."""
    s = (df.groupby(["with_name", "temperature", "margin"])[metric].agg(["mean", "std", "count"])
         .reset_index().sort_values("mean", ascending=False, kind="stable"))
    return s.reset_index(drop=True)


def long_results(runs: dict[str, dict], test_key: str = "test") -> pd.DataFrame:
    """Flatten metrics.json dicts into one row per (run, model, direction, scope, metric)."""
    rows = []
    for run, m in runs.items():
        blocks = {"bridge": m[test_key]}
        blocks.update(m.get("baselines", {}))
        for model, block in blocks.items():
            for direction, scopes in block.items():
                for scope, metrics in scopes.items():
                    for k, v in metrics.items():
                        if k.endswith("_ci95") or not isinstance(v, (int, float)) or isinstance(v, bool):
                            continue
                        ci = metrics.get(f"{k}_ci95", [np.nan, np.nan])
                        rows.append({"run": run, "model": model, "direction": direction, "scope": scope,
                                     "metric": k, "value": float(v), "lo": float(ci[0]), "hi": float(ci[1])})
    return pd.DataFrame(rows)


def pivot_metric(long: pd.DataFrame, direction: str, scope: str, metric: str) -> pd.DataFrame:
    """One metric of :func:`long_results` as a table: rows runs, columns models."""
    d = long[(long.direction == direction) & (long.scope == scope) & (long.metric == metric)]
    return d.pivot(index="run", columns="model", values="value")


def bridge_and_inputs(run_dir: str | Path, data_dir: str | Path, pairs: pd.DataFrame, splits_dir: str | Path):
    """A saved bridge, its inputs (features, texts, the split it was trained on, read from
    ``splits_dir``) and its random-heads twin (same seed, untrained)."""
    from thinbridge.bridge.baselines import random_heads
    from thinbridge.bridge.model import load_run
    from thinbridge.data.splits import load_split, split_filename
    from thinbridge.training.run import load_inputs

    model, rec = load_run(run_dir)
    cfg = RunConfig.from_dict(rec["config"], source=str(Path(run_dir) / "config.json"))
    split = load_split(Path(splits_dir) / split_filename(cfg.split, cfg.split_seed), pairs)
    inp = load_inputs(data_dir, cfg, pairs=pairs, split=split, show_progress=False)
    return model, inp, random_heads(inp.x_drug.shape[1], inp.x_text.shape[1], cfg.dim, cfg.seed)


def second_order_similarity(x_drug: np.ndarray, x_text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare two frozen spaces that share no coordinates, through their neighbourhoods.

    Returns the drug-drug cosine matrix of the rows of ``x_drug``, the text-text cosine matrix
    of ``x_text`` and the cross matrix ``C[i, j]`` = Pearson correlation of row ``i`` of the
    first with row ``j`` of the second: how much item ``i``'s neighbourhood among these rows
    looks like item ``j``'s in the other space (Figure 5).
    """
    fp = np.asarray(x_drug).astype(float)
    fp /= np.linalg.norm(fp, axis=1, keepdims=True)
    tx = x_text / np.linalg.norm(x_text, axis=1, keepdims=True)  # in the features' own dtype
    s_drug, s_text = fp @ fp.T, tx @ tx.T
    k = len(s_drug)
    return s_drug, s_text, np.corrcoef(s_drug, s_text)[:k, k:]


def results_table(long: pd.DataFrame, metrics_by_scope: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Table 1: rows run × model, columns direction × scope × metric, cells 'value [95% CI]'."""
    metrics_by_scope = metrics_by_scope or {"global": ["R@1", "R@10", "MRR"], "within_target": ["R@1", "MRR", "R@1_all", "MRR_all"]}
    keep = pd.concat([long[(long.scope == s) & long.metric.isin(ms)] for s, ms in metrics_by_scope.items()])
    keep = keep.assign(cell=[fmt_interval(v, lo, hi) for v, lo, hi in zip(keep.value, keep.lo, keep.hi)],
                       model=keep.model.map(MODEL_LABELS))
    tab = keep.pivot_table(index=["run", "model"], columns=["direction", "scope", "metric"], values="cell",
                           aggfunc="first", sort=False)
    return tab


def save_json(obj, path: str | Path) -> None:
    jsonio.write(path, obj)


def load_json(path: str | Path):
    return json.loads(Path(path).read_text())
