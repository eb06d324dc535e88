"""Baselines scored with the same metrics as the bridge.

* random heads: the bridge's architecture with its seeded initial weights, never trained;
* CCA: scikit-learn's ``CCA`` fitted on the training pairs' frozen features. sklearn's
  NIPALS CCA on 2048-bit fingerprints takes minutes, so each modality is first reduced by
  PCA (fitted on the training pairs only) — a choice stated in the book;
* random ranking: the exact expected metrics of a uniformly random order
  (:func:`thinbridge.evaluation.random_ranking`).
"""
from __future__ import annotations

import warnings

import numpy as np

CCA_PCA_DIMS = 128
CCA_COMPONENTS = 32


def random_heads(drug_dim: int, text_dim: int, dim: int = 256, seed: int = 0):
    """An untrained bridge, initialised exactly as training would initialise it for ``seed``."""
    import torch

    from .model import Bridge

    torch.manual_seed(seed)
    return Bridge(drug_dim, text_dim, dim).eval()


class CCABaseline:
    """PCA (per modality) followed by CCA; ``transform`` gives L2-normalised canonical variates."""

    def __init__(self, n_components: int = CCA_COMPONENTS, pca_dims: int = CCA_PCA_DIMS, seed: int = 0):
        self.n_components, self.pca_dims, self.seed = n_components, pca_dims, seed

    def fit(self, x_drug: np.ndarray, x_text: np.ndarray) -> "CCABaseline":
        from sklearn.cross_decomposition import CCA
        from sklearn.decomposition import PCA
        from threadpoolctl import threadpool_limits

        k = min(self.pca_dims, x_drug.shape[0] - 1, x_drug.shape[1], x_text.shape[1])
        self.pca_d = PCA(k, random_state=self.seed).fit(x_drug)
        self.pca_t = PCA(k, random_state=self.seed).fit(x_text)
        self.cca = CCA(n_components=min(self.n_components, k), max_iter=1000)
        # sklearn's NIPALS CCA makes many small pseudo-inverses; multi-threaded BLAS only slows them
        # down (10x on 2 busy cores), so it runs single-threaded. Results do not depend on this.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")  # convergence chatter on near-degenerate components
            self.cca.fit(self.pca_d.transform(x_drug), self.pca_t.transform(x_text))
        return self

    def transform(self, x_drug: np.ndarray, x_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zd, zt = self.cca.transform(self.pca_d.transform(x_drug), self.pca_t.transform(x_text))
        zd = zd / np.maximum(np.linalg.norm(zd, axis=1, keepdims=True), 1e-12)
        zt = zt / np.maximum(np.linalg.norm(zt, axis=1, keepdims=True), 1e-12)
        return zd.astype(np.float32), zt.astype(np.float32)
