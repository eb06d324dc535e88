"""Training the bridge, and the one function that turns a configuration into a scored run.

:class:`~thinbridge.config.RunConfig` holds every knob (re-exported here). :func:`load_inputs` builds the frozen features, texts and
split for a prepared data folder (cached, so an ablation builds them once);
:func:`fit` trains two linear heads with AdamW on mini-batches, evaluating the validation
split after every epoch and keeping the best epoch by **validation text -> drug global MRR**
(early stopping with ``patience``); :func:`score_run` scores the test split and the
baselines into the documented ``metrics.json`` shape.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thinbridge import data as D
from thinbridge.evaluation import tasks as E
from thinbridge._util import jsonio
from thinbridge._util import numerics
from thinbridge.bridge.baselines import CCABaseline, random_heads
from thinbridge.config import RunConfig
from thinbridge.features.drugs import drug_encoder
from thinbridge.features.cache import drug_features, text_features
from thinbridge.features.text import text_encoder_id
from thinbridge.bridge.model import Bridge, save_run
from thinbridge.data.splits import split_pairs

METRICS_SCHEMA = "thinbridge-metrics-1"


@dataclass
class Inputs:
    """Everything a run reads: pairs, split labels, frozen features (one row per pair) and texts."""

    pairs: pd.DataFrame
    split: np.ndarray
    x_drug: np.ndarray
    x_text: np.ndarray
    texts: list
    data_hash: str
    encoders: dict = field(default_factory=dict)

    def rows(self, side: str) -> np.ndarray:
        return np.flatnonzero(self.split == side)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_inputs(data_dir: str | Path, cfg: RunConfig, cache_dir: str | Path | None = None,
                pairs: pd.DataFrame | None = None, split: np.ndarray | None = None,
                show_progress: bool = True) -> Inputs:
    """Pairs from ``data_dir`` (what ``thinbridge prepare`` wrote), split, texts and cached features."""
    data_dir = Path(data_dir)
    pairs = D.load_pairs(data_dir) if pairs is None else pairs
    cache_dir = Path(cache_dir) if cache_dir is not None else data_dir / "cache"
    if split is None:
        from thinbridge.data.splits import molecules_table, scaffold_cache

        mols = molecules_table(pairs, scaffold_cache(data_dir))
        split = split_pairs(pairs, cfg.split, cfg.sizes, cfg.split_seed, mols=mols).to_numpy()
    texts = D.text_view(pairs, cfg.text_view, cfg.with_name)
    x_drug = drug_features(pairs["parent_smiles"].tolist(), cache_dir, show_progress=show_progress,
                           encoder=cfg.drug_encoder)
    x_text = text_features(texts, cfg.text_model, cache_dir, show_progress=show_progress)
    return Inputs(pairs, np.asarray(split), x_drug.astype(np.float32), x_text, texts,
                  D.data_hash(data_dir) if (data_dir / "pairs.tsv").is_file() else "",
                  {"drug": drug_encoder(cfg.drug_encoder)[0], "text": text_encoder_id(cfg.text_model)})


def embed(model: Bridge, x_drug: np.ndarray, x_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised bridge embeddings (numpy, float32) for drug and text features."""
    return model.embed(x_drug, "drug"), model.embed(x_text, "text")


def _val_mrr(model: Bridge, inp: Inputs, task) -> float:
    from thinbridge.evaluation.metrics import ranks

    rows = inp.rows("valid")
    zd, zt = embed(model, inp.x_drug[rows], inp.x_text[rows])
    s = E.task_scores(task, zd, zt)
    return float((1.0 / ranks(s, task.positive)).mean())


def fit(inp: Inputs, cfg: RunConfig, show_progress: bool = True) -> tuple[Bridge, list[dict]]:
    """Train the two heads; return the best model (by validation MRR) and the per-epoch history.

    AdamW on mini-batches, the sparse drug head, early stopping on validation text -> drug MRR:
    :func:`thinbridge.training.grid.fit_many` with one bridge (a bridge trained in a grid is the same).
    """
    from thinbridge.training.grid import fit_many

    return fit_many(inp, [cfg], show_progress=show_progress)[0]


def score_embeddings(inp: Inputs, zd: np.ndarray, zt: np.ndarray, side: str = "test", protocol: str = "distinct",
                     n_boot: int = 1000, seed: int = 0, cmc_k: int = 0) -> dict:
    """Metrics of given embeddings (rows = all pairs) on one split side."""
    rows = inp.rows(side)
    tasks = E.build_tasks(inp.pairs.iloc[rows], [inp.texts[i] for i in rows], protocol)
    return E.score_tasks(tasks, zd[rows], zt[rows], n_boot=n_boot, seed=seed, cmc_k=cmc_k)


def score_run(model: Bridge, inp: Inputs, cfg: RunConfig, baselines: bool = True, cmc_k: int = 50) -> dict:
    """The ``metrics.json`` dictionary: test metrics (config protocol), both protocols, baselines."""
    zd, zt = embed(model, inp.x_drug, inp.x_text)
    test = score_embeddings(inp, zd, zt, "test", cfg.protocol, cfg.n_boot, cfg.seed, cmc_k)
    cmc = {d: test[d].pop("cmc") for d in test} if cmc_k else {}
    out = {
        "schema": METRICS_SCHEMA,
        "protocol": cfg.protocol,
        "split_sizes": {s: int((inp.split == s).sum()) for s in ("train", "valid", "test")},
        "test": test,
        "cmc": cmc,
        "test_by_protocol": {
            p: test if p == cfg.protocol else score_embeddings(inp, zd, zt, "test", p, cfg.n_boot, cfg.seed)
            for p in E.PROTOCOLS
        },
    }
    if baselines:
        rows = inp.rows("test")
        tasks = E.build_tasks(inp.pairs.iloc[rows], [inp.texts[i] for i in rows], cfg.protocol)
        rh = random_heads(inp.x_drug.shape[1], inp.x_text.shape[1], cfg.dim, cfg.seed)
        rzd, rzt = embed(rh, inp.x_drug, inp.x_text)
        tr = inp.rows("train")
        cca = CCABaseline(seed=cfg.seed).fit(inp.x_drug[tr], inp.x_text[tr])
        czd, czt = cca.transform(inp.x_drug, inp.x_text)
        out["baselines"] = {
            "random_heads": E.score_tasks(tasks, rzd[rows], rzt[rows], n_boot=cfg.n_boot, seed=cfg.seed),
            "cca": E.score_tasks(tasks, czd[rows], czt[rows], n_boot=cfg.n_boot, seed=cfg.seed),
            "random_ranking": E.random_ranking(tasks),
        }
    return out


def run_config_record(inp: Inputs, cfg: RunConfig, data_dir: str | Path | None, history: list[dict]) -> dict:
    """What ``config.json`` records beside the weights."""
    best = max(history, key=lambda h: h["val_t2d_MRR"]) if history else {}
    return {
        "thinbridge_run": 1,
        "config": cfg.to_dict(),
        "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else None,
        "data_hash": inp.data_hash,
        "encoders": inp.encoders,
        "numerics": numerics.describe(),
        "training": {"epochs_run": len(history), "best_epoch": best.get("epoch"),
                     "best_val_t2d_MRR": best.get("val_t2d_MRR"),
                     "early_stopping": "validation text->drug global MRR (distinct protocol)"},
    }


#: the files of a run folder :func:`train_run` writes (other entries of the folder are kept)
RUN_FILES = ("model.safetensors", "config.json", "metrics.json", "history.json")


def train_run(data_dir: str | Path, out_dir: str | Path, cfg: RunConfig, cache_dir: str | Path | None = None,
              show_progress: bool = True, pairs: pd.DataFrame | None = None, split: np.ndarray | None = None) -> dict:
    """Prepare inputs, train, score and write ``model.safetensors``, ``config.json``, ``metrics.json``.

    ``pairs`` and ``split`` (one label per pair) default to ``data_dir``'s pairs and the split
    ``cfg`` describes; pass them to reuse what is already loaded (the book's chapters do).
    Returns ``{"metrics", "config", "history", "model", "seconds"}``.
    """
    from thinbridge._util.outputs import replacing_folder
    from thinbridge._util.paths import check_out_dir

    cfg.validate()
    t0 = time.perf_counter()
    check_out_dir(out_dir)
    # one writer per run folder, taken before the work; the files replace an earlier run's only when all are written
    with replacing_folder(out_dir, RUN_FILES, "thinbridge train") as stage:
        inp = load_inputs(data_dir, cfg, cache_dir, pairs=pairs, split=split, show_progress=show_progress)
        model, history = fit(inp, cfg, show_progress=show_progress)
        metrics = score_run(model, inp, cfg)
        record = run_config_record(inp, cfg, data_dir, history)
        save_run(stage, model, record)
        jsonio.write(stage / "metrics.json", metrics)
        jsonio.write(stage / "history.json", history, indent=1)
    return {"metrics": metrics, "config": record, "history": history, "model": model,
            "seconds": time.perf_counter() - t0}
