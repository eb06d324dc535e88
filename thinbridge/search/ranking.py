"""The best rows of a score vector, best first: exact search and FAISS re-ranking share it."""
from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (argpartition, then a sort of k items)."""
    n = len(scores)
    k = min(int(k), n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    idx = np.argpartition(scores, n - k)[n - k:] if k < n else np.arange(n)
    return idx[np.lexsort((idx, -scores[idx]))]  # score descending, ties by position


def best_first(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of candidate ``rows`` with their ``scores``: score descending, ties by row."""
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]

