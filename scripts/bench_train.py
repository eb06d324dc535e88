#!/usr/bin/env python
"""Benchmark: training, old path against new, in the same run on the same machine.

Writes ``benchmarks/train.json`` with

* ``thinbridge train`` with defaults as a user runs it (a fresh process: start-up included),
  with a cold feature cache once and a warm one three times (median);
* K bridges of an ablation-like grid trained the old way (dense ``nn.Linear`` drug head,
  ``torch.optim.AdamW``, one bridge after another: :func:`thinbridge.testing.reference.fit_reference`)
  and the new way (sparse drug head, all K stacked: :func:`thinbridge.training.grid.fit_many`), and the
  ratio;
* the PCA+CCA baseline the old way (scikit-learn's randomized PCA and NIPALS CCA) and the new
  way (closed form), and the ratio;
* the ridge baseline with its four penalties the old way (one eigendecomposition of ``X^T X``)
  and the new way (one Cholesky solve per penalty), the ratio and the largest difference;
* BERT's GELU on one layer's worth of activations the old way (``scipy.special.erf``) and the
  new way (:func:`thinbridge.features.minibert.gelu`), the ratio and the largest difference;
* the text features of the book's largest text view (``rich`` with the drug name) the old way
  (sentence-transformers, model load included) and the new way (the numpy BERT of
  :mod:`thinbridge.features.minibert`), both on every core, the ratio and the largest difference.

Timings are wall clock on whatever else the machine is doing; the ratios compare paths measured
minutes apart in one run. ``python scripts/bench_train.py [--input PATH] [--k 12]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0


def old_cca(x_drug, x_text, seed=0):
    """The baseline before the closed form: scikit-learn's randomized PCA, then NIPALS CCA."""
    import warnings

    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    pd_, pt = PCA(128, random_state=seed).fit(x_drug), PCA(128, random_state=seed).fit(x_text)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        CCA(n_components=32, max_iter=1000).fit(pd_.transform(x_drug), pt.transform(x_text))


def old_ridge(x_drug, x_text, penalties):
    """The ridge baseline before the Cholesky solves: one eigendecomposition, then every penalty."""
    import numpy as np

    x, y = np.asarray(x_drug, np.float64), np.asarray(x_text, np.float64)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    w, v = np.linalg.eigh(xc.T @ xc)
    vxy = v.T @ (xc.T @ yc)
    return [v @ (vxy / (np.maximum(w, 0.0) + lam)[:, None]) for lam in penalties]


def old_gelu(u):
    """BERT's GELU before :func:`thinbridge.features.minibert.gelu`: SciPy's erf."""
    import numpy as np
    from scipy.special import erf

    return (0.5 * u * (1.0 + erf(u / np.float32(np.sqrt(2.0))))).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", default=None, help="mechanism table (default: the shipped data/chembl_moa/chembl_moa.tsv)")
    ap.add_argument("--k", type=int, default=12, help="bridges in the grid comparison (default: 12)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "train.json"))
    a = ap.parse_args()
    import thinbridge  # noqa: F401  (numerics first)
    from thinbridge.bridge.baselines import RIDGE_PENALTIES, CCABaseline, RidgeBaseline
    from thinbridge.config import RunConfig
    from thinbridge.training.grid import fit_many
    from thinbridge.testing.reference import fit_reference
    from thinbridge.training.run import load_inputs

    exe = [sys.executable, "-m", "thinbridge.cli"]
    work = Path(tempfile.mkdtemp(prefix="thinbridge-bench-"))
    try:
        data = work / "data"
        t_prep = timed(exe + ["prepare", "--out", str(data), "-q"] + (["--input", a.input] if a.input else []))
        train = exe + ["train", "--data", str(data), "--out", str(work / "run"), "-q"]
        t_cold = timed(train)
        t_warm = [timed(train) for _ in range(3)]
        metrics = json.loads((work / "run" / "metrics.json").read_text())

        base = RunConfig()
        inp = load_inputs(data, base, show_progress=False)
        grid = [dataclasses.replace(base, temperature=t, margin=m, seed=s)
                for t in (0.05, 0.07) for m in (0.0, 0.15) for s in range(max(1, a.k // 4))][: a.k]
        t0 = time.perf_counter()
        for c in grid:
            fit_reference(inp, c)
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        fit_many(inp, grid)
        t_new = time.perf_counter() - t0

        tr = inp.rows("train")
        t0 = time.perf_counter()
        old_cca(inp.x_drug[tr], inp.x_text[tr])
        t_cca_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        CCABaseline().fit(inp.x_drug[tr], inp.x_text[tr])
        t_cca_new = time.perf_counter() - t0
        t0 = time.perf_counter()
        ridge_old = old_ridge(inp.x_drug[tr], inp.x_text[tr], RIDGE_PENALTIES)
        t_ridge_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = RidgeBaseline().fit(inp.x_drug[tr], inp.x_text[tr])
        ridge_new = [r.with_penalty(lam).coef for lam in RIDGE_PENALTIES]
        t_ridge_new = time.perf_counter() - t0
        ridge_diff = max(float(abs(a - b).max()) for a, b in zip(ridge_old, ridge_new))

        import numpy as np

        from thinbridge.features.minibert import gelu

        u = np.random.default_rng(0).normal(size=(2048, 1536)).astype(np.float32)  # one layer, 2,048 tokens
        t0 = time.perf_counter()
        gelu_old = [old_gelu(u) for _ in range(5)][0]
        t_gelu_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        gelu_new = [gelu(u) for _ in range(5)][0]
        t_gelu_new = time.perf_counter() - t0

        from thinbridge import data as D
        from thinbridge import features as F

        texts = sorted(set(D.text_view(D.load_pairs(data), "rich", True)))
        t0 = time.perf_counter()
        old_text = F.embed_texts_uncached(texts, F.load_text_model(None))  # a model object: sentence-transformers
        t_text_old = time.perf_counter() - t0
        assert F.text_backend(None) == "numpy"
        F._QUICK.clear()
        t0 = time.perf_counter()
        new_text = F.embed_texts_uncached(texts)
        t_text_new = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    g = metrics["test"]["text_to_drug"]["global"]
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "thinbridge_train_defaults_seconds": {
            "prepare": round(t_prep, 2), "train_cold_cache": round(t_cold, 2),
            "train_warm_cache_median_of_3": round(statistics.median(t_warm), 2),
            "train_warm_cache_runs": [round(t, 2) for t in t_warm],
            "budget_warm": 5.0, "within_budget": statistics.median(t_warm) <= 5.0,
        },
        "grid": {"bridges": len(grid), "old_dense_one_by_one_s": round(t_old, 2),
                 "new_sparse_stacked_s": round(t_new, 2), "speedup": round(t_old / t_new, 1)},
        "pca_cca_baseline": {"old_sklearn_randomized_pca_nipals_s": round(t_cca_old, 2),
                             "new_closed_form_s": round(t_cca_new, 2), "speedup": round(t_cca_old / t_cca_new, 1)},
        "ridge_baseline_4_penalties": {"old_eigendecomposition_s": round(t_ridge_old, 2),
                                       "new_cholesky_s": round(t_ridge_new, 2),
                                       "speedup": round(t_ridge_old / t_ridge_new, 1),
                                       "max_abs_difference_of_coefficients": ridge_diff},
        "gelu_2048x1536_x5": {"old_scipy_erf_s": round(t_gelu_old, 3), "new_rational_erf_s": round(t_gelu_new, 3),
                              "speedup": round(t_gelu_old / t_gelu_new, 1),
                              "max_abs_difference": float(abs(gelu_old - gelu_new).max())},
        "text_features": {"texts": len(texts), "old_sentence_transformers_s": round(t_text_old, 2),
                          "new_numpy_bert_s": round(t_text_new, 2), "speedup": round(t_text_old / t_text_new, 1),
                          "max_abs_difference": float(abs(old_text - new_text).max())},
        "defaults_test_text_to_drug_global": {"R@1": g["R@1"], "MRR": g["MRR"]},
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
