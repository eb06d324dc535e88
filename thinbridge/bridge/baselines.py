"""Baselines scored with the same metrics as the bridge.

* random heads: the bridge's architecture with its seeded initial weights, never trained;
* CCA: each modality reduced by PCA (fitted on the training pairs only), then canonical
  correlation analysis, both in closed form (whitening and one SVD) — choices stated in the
  book. The canonical variates have unit variance, so each canonical dimension weighs the same
  in the cosine;
* random ranking: the exact expected metrics of a uniformly random order
  (:func:`thinbridge.evaluation.tasks.random_ranking`).
"""
from __future__ import annotations

import numpy as np

CCA_PCA_DIMS = 128
CCA_COMPONENTS = 32


def random_heads(drug_dim: int, text_dim: int, dim: int = 256, seed: int = 0):
    """An untrained bridge, initialised exactly as training would initialise it for ``seed``."""
    import torch

    from thinbridge.bridge.model import Bridge

    torch.manual_seed(seed)
    return Bridge(drug_dim, text_dim, dim).eval()


def pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact PCA: the mean and the top ``k`` principal directions ``(d, k)`` of the rows of ``x``.

    The covariance is formed once in float64 (sparse-aware for fingerprints) and its top
    eigenvectors are taken in float32 with LAPACK's ``ssyevr`` (twice as fast as double precision
    for the 2,048-dim fingerprints; the directions agree with float64's to ~1e-7); each
    direction's sign is fixed so that its largest-magnitude entry is positive, so the result is
    the same on every run.
    """
    import scipy.linalg

    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    k = int(min(k, d, n - 1))
    mean, scatter = _scatter(x)
    cov = scatter / max(n - 1, 1)
    w, v = scipy.linalg.eigh(cov.astype(np.float32), subset_by_index=[d - k, d - 1], driver="evr")
    w, v = w.astype(np.float64), v.astype(np.float64)
    v = v[:, np.argsort(-w, kind="stable")]
    v *= np.where(v[np.abs(v).argmax(axis=0), np.arange(v.shape[1])] < 0, -1.0, 1.0)
    return mean, v


def _scatter(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column means of ``x`` (float64) and its centred scatter matrix ``(x - mean)^T (x - mean)``,
    through a sparse product for fingerprints (mostly zeros)."""
    import scipy.sparse

    mean = x.mean(axis=0)
    if (x != 0).mean() < 0.1:
        xs = scipy.sparse.csr_matrix(x)
        gram = (xs.T @ xs).toarray()
    else:
        gram = x.T @ x
    return mean, gram - len(x) * np.outer(mean, mean)


def _inv_sqrt(c: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v / np.sqrt(np.maximum(w, eps))) @ v.T


def cca(x: np.ndarray, y: np.ndarray, k: int, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form CCA: directions ``a`` ``(p, k)`` and ``b`` ``(q, k)`` and the canonical correlations.

    Whiten each side (``C_xx^{-1/2}``, ``C_yy^{-1/2}``, with a tiny ridge), take one SVD of the
    whitened cross-covariance, and map its singular vectors back. The canonical variates
    ``(x - mean) @ a`` have unit variance and correlate pairwise by the singular values.
    """
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    n = max(len(x) - 1, 1)
    cxx = x.T @ x / n + ridge * np.eye(x.shape[1])
    cyy = y.T @ y / n + ridge * np.eye(y.shape[1])
    wx, wy = _inv_sqrt(cxx), _inv_sqrt(cyy)
    u, s, vt = np.linalg.svd(wx @ (x.T @ y / n) @ wy)
    k = min(k, len(s))
    return wx @ u[:, :k], wy @ vt[:k].T, s[:k]


class CCABaseline:
    """PCA (per modality) followed by CCA; ``transform`` gives L2-normalised canonical variates.

    Both in closed form (:func:`pca`, :func:`cca`): exact, deterministic and about a second on
    the book's data (scikit-learn's randomized PCA and iterative NIPALS CCA took ~12 s)."""

    def __init__(self, n_components: int = CCA_COMPONENTS, pca_dims: int = CCA_PCA_DIMS, seed: int = 0):
        self.n_components, self.pca_dims, self.seed = n_components, pca_dims, seed

    def fit(self, x_drug: np.ndarray, x_text: np.ndarray) -> "CCABaseline":
        k = min(self.pca_dims, x_drug.shape[0] - 1, x_drug.shape[1], x_text.shape[1])
        self.mean_d, self.pca_d = pca(x_drug, k)
        self.mean_t, self.pca_t = pca(x_text, k)
        pd_, pt = (np.asarray(x_drug, float) - self.mean_d) @ self.pca_d, (np.asarray(x_text, float) - self.mean_t) @ self.pca_t
        self.a, self.b, self.correlations = cca(pd_, pt, min(self.n_components, k))
        self.center_d, self.center_t = pd_.mean(axis=0), pt.mean(axis=0)
        return self

    def transform(self, x_drug: np.ndarray, x_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zd = ((np.asarray(x_drug, float) - self.mean_d) @ self.pca_d - self.center_d) @ self.a
        zt = ((np.asarray(x_text, float) - self.mean_t) @ self.pca_t - self.center_t) @ self.b
        zd = zd / np.maximum(np.linalg.norm(zd, axis=1, keepdims=True), 1e-12)
        zt = zt / np.maximum(np.linalg.norm(zt, axis=1, keepdims=True), 1e-12)
        return zd.astype(np.float32), zt.astype(np.float32)


#: ridge penalties tried by :class:`RidgeBaseline` (chosen on the validation split)
RIDGE_PENALTIES = (1.0, 10.0, 100.0, 1000.0)


class RidgeBaseline:
    """A closed-form linear map between the frozen spaces: ridge regression of the text embedding
    on the drug features, ``W = (X^T X + lambda I)^{-1} X^T Y`` (both centred on the training
    pairs); a molecule is scored against a text by the cosine of ``x W`` and ``y``. The penalty
    is the one of :data:`RIDGE_PENALTIES` with the best validation score (``select``). ``X^T X``
    is formed once (sparse-aware); each penalty is one Cholesky solve (~2.4x faster for 2,048-bit
    fingerprints than the eigendecomposition it replaces, ``benchmarks/train.json``)."""

    def fit(self, x_drug: np.ndarray, x_text: np.ndarray, penalty: float = RIDGE_PENALTIES[0]) -> "RidgeBaseline":
        x, y = np.asarray(x_drug, np.float64), np.asarray(x_text, np.float64)
        self.mean_d, self._xtx = _scatter(x)
        self.mean_t = y.mean(axis=0)
        self._xty = (x - self.mean_d).T @ (y - self.mean_t)
        self._coefs: dict[float, np.ndarray] = {}
        return self.with_penalty(penalty)

    def with_penalty(self, penalty: float) -> "RidgeBaseline":
        import scipy.linalg

        self.penalty = float(penalty)
        if not self.penalty > 0:
            raise ValueError(f"the ridge penalty must be > 0, got {penalty!r}")
        if self.penalty not in self._coefs:
            a = self._xtx.copy()
            a[np.diag_indices_from(a)] += self.penalty
            self._coefs[self.penalty] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, check_finite=False),
                                                               self._xty, check_finite=False)
        self.coef = self._coefs[self.penalty]
        return self

    def select(self, score, penalties=RIDGE_PENALTIES) -> "RidgeBaseline":
        """Keep the penalty with the highest ``score(self)`` (a validation metric), first on ties."""
        best = max(penalties, key=lambda lam: (score(self.with_penalty(lam)), -penalties.index(lam)))
        return self.with_penalty(best)

    def transform(self, x_drug: np.ndarray, x_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zd = (np.asarray(x_drug, np.float64) - self.mean_d) @ self.coef
        zt = np.asarray(x_text, np.float64) - self.mean_t
        return _unit(zd), _unit(zt)


def _unit(z: np.ndarray) -> np.ndarray:
    return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def text_neighbour_scores(q_text: np.ndarray, train_text: np.ndarray, train_bits: np.ndarray,
                          cand_bits: np.ndarray, k: int = 10) -> np.ndarray:
    """The text-to-text nearest-neighbour baseline: ``(n_queries, n_candidates)`` scores.

    A query text retrieves its ``k`` most similar training texts (cosine of the frozen sentence
    embeddings); a candidate molecule scores the sum, over those neighbours, of the text
    similarity times the Tanimoto similarity of the neighbour's molecule to the candidate
    (fingerprint bits). No training: it asks how far the frozen text space alone, with the
    training pairs as a look-up table, gets.
    """
    q, t = _unit(q_text), _unit(train_text)
    sim = q @ t.T
    k = min(int(k), sim.shape[1])
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    a, b = (np.asarray(train_bits) > 0).astype(np.float32), (np.asarray(cand_bits) > 0).astype(np.float32)
    inter = a @ b.T
    tanimoto = inter / np.maximum(a.sum(1)[:, None] + b.sum(1)[None, :] - inter, 1.0)
    w = np.take_along_axis(sim, top, axis=1)
    return np.einsum("qk,qkc->qc", w, tanimoto[top])
