"""Synthetic libraries for measuring search at sizes no real file here reaches (10^5-10^7).

Random unit vectors are a poor stand-in for a compound library: in 256 dimensions every
vector is nearly orthogonal to every other, and approximate search looks far worse on them
than on chemistry, which comes in families. A make-on-demand library is built from building
blocks, so its molecules are analogues of each other. Here each synthetic molecule is an
*analogue* of two real parents: its fingerprint keeps each on-bit of parent A with probability
``keep_a`` and each of parent B with ``keep_b``, and the bridge's own drug head embeds it.
The embeddings therefore have the bridge's geometry and a library's family structure;
``scripts/bench_index.py`` and the tests use them, and say so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np


def parent_bits(smiles: list[str]):
    """ECFP4 of the parents as a sparse (CSR) float32 matrix."""
    import scipy.sparse as sp

    from thinbridge.features.drugs import ecfp4

    return sp.csr_matrix(ecfp4(smiles).astype(np.float32))


def analogue_embeddings(heads, parents, n: int, seed: int = 0, block: int = 100_000, keep_a: float = 0.7,
                        keep_b: float = 0.3) -> Iterator[np.ndarray]:
    """``n`` analogue embeddings (float32, unit rows) in blocks of ``block``, seeded.

    ``heads``: the bridge (:class:`~thinbridge.bridge.runfiles.NumpyHeads`); ``parents``: their
    fingerprints (:func:`parent_bits`). Blocks are generated one at a time, so memory holds one.
    """
    rng = np.random.default_rng(seed)
    w, b = heads.w["drug_head.weight"].T, heads.w["drug_head.bias"]
    for start in range(0, n, block):
        m = min(block, n - start)
        a, c = parents[rng.integers(0, parents.shape[0], m)], parents[rng.integers(0, parents.shape[0], m)]
        a.data = (rng.random(a.nnz) < keep_a).astype(np.float32)
        c.data = (rng.random(c.nnz) < keep_b).astype(np.float32)
        bits = a + c
        bits.data = np.minimum(bits.data, 1)
        z = np.asarray(bits @ w) + b
        yield (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def write_embeddings(path: Path, blocks: Iterator[np.ndarray], dim: int):
    """Write ``blocks`` as an index's embeddings file; return it opened (:class:`~thinbridge.search.embeddings.EmbeddingsFile`)."""
    from thinbridge.search.embeddings import EmbeddingsFile, Float32Writer

    writer = Float32Writer(Path(path), dim)
    try:
        for x in blocks:
            writer.write(x)
    except BaseException:
        writer.abort()
        raise
    writer.close({"synthetic": "analogues (thinbridge.testing.synthetic)"})
    return EmbeddingsFile.open(path)
