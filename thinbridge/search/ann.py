"""Approximate nearest-neighbour search over an index's embeddings, with FAISS.

Three kinds of index (``thinbridge index --kind``):

* ``exact`` — every query scores every molecule (:meth:`thinbridge.search.embeddings.EmbeddingsFile.top_k`);
  no FAISS. The default (``auto``) below :data:`AUTO_EXACT_BELOW` molecules.
* ``hnsw`` — a navigable small-world graph (``IndexHNSWFlat``, inner product): the fastest
  queries and the best recall, but it stores every vector again plus the graph, and building
  it adds one vector at a time.
* ``ivfpq`` — an inverted file of product-quantised codes (``IndexIVFPQ``, inner product):
  ``m`` bytes per molecule, trained (coarse k-means and PQ codebooks) on a seeded sample of
  the embeddings. Its candidates are re-scored exactly from the float32 embeddings
  (``rerank`` x k of them), so its scores are exact cosine similarities. ``auto`` picks it
  from :data:`AUTO_EXACT_BELOW` molecules on.

Both approximate kinds report their hits re-scored from the stored embeddings, so a score
means the same thing for every kind. Parameters scale with the number of molecules
(:func:`default_params`) and are recorded in the manifest with the recall@10 against exact
search measured on the index's own build (:func:`recall_at_k`).

Reproducible: FAISS runs on one OpenMP thread (graph insertion and k-means on several threads
depend on timing), k-means seeds are fixed, vectors are added in fixed blocks; the same
embeddings give the same ``ann.faiss`` bytes. The file is FAISS's own format
(``faiss.write_index``, no pickle); its sha256 is in the manifest and checked when it is read.
FAISS is imported only here, and only when an approximate index is built or searched.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from thinbridge.config import AUTO_EXACT_BELOW, INDEX_KIND_CHOICES
from thinbridge._util.errors import UserError
from thinbridge.search.ranking import best_first
from thinbridge._util.progress import notice

ANN_FILE = "ann.faiss"
SEED = 0
RECALL_K = 10
RECALL_QUERIES = 200
#: the recall@10 the defaults are meant to reach; a build below it says so
RECALL_TARGET = 0.95
IVFPQ_MIN = 2
ADD_BLOCK_ROWS = 65536
FAISS_PIN = "faiss-cpu==1.15.1"


def check_kind(kind: str) -> str:
    """``kind`` if it is one of ``auto``, ``exact``, ``hnsw``, ``ivfpq``; else a UserError."""
    if kind not in INDEX_KIND_CHOICES:
        raise UserError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KIND_CHOICES)}")
    return kind


def choose_kind(kind: str, n: int) -> str:
    """The kind to build for ``n`` molecules: ``kind``, or for ``auto`` exact below the threshold;
    exact (with a note) for ivfpq on fewer molecules than its quantisers can be trained on."""
    if check_kind(kind) == "auto":
        return "exact" if n < AUTO_EXACT_BELOW else "ivfpq"
    if kind == "ivfpq" and n < IVFPQ_MIN:
        notice(f"{n} molecule(s) are too few to train ivfpq's quantisers (at least {IVFPQ_MIN}); the index is exact")
        return "exact"
    return kind


def _pq_subquantizers(dim: int, most: int = 32) -> int:
    """The largest number of PQ sub-vectors, at most ``most``, that divides ``dim``."""
    return max(m for m in range(1, min(most, dim) + 1) if dim % m == 0)


def default_params(kind: str, n: int, dim: int) -> dict:
    """The parameters ``kind`` is built and searched with, for ``n`` molecules of ``dim`` dimensions.

    hnsw: ``M`` 32 links per node, ``ef_construction`` 80, ``ef_search`` 1024 (measured on
    10^6 synthetic analogues: ``ef_construction`` 40 with ``ef_search`` 512 gave recall@10
    0.949 on the index's own molecules, 80 with 512 gave 0.954, 80 with 1024 0.976, at about
    3 ms a query).
    ivfpq: ``nlist`` the power of two at most sqrt(n) (lists of about sqrt(n) molecules),
    ``nprobe`` a quarter of them searched (at least 32, at most 256), ``m`` sub-vectors of
    ``nbits`` bits (32 x 8: 32 bytes a molecule; fewer bits only below 256 training vectors),
    ``train_size`` vectors sampled to train on (64 per list, at least 16,384), candidates
    re-scored exactly: ``rerank`` (50) x k.
    """
    if kind == "hnsw":
        return {"M": 32, "ef_construction": 80, "ef_search": 1024, "rerank": 1}
    if kind == "ivfpq":
        nlist = 2 ** int(math.log2(max(1.0, math.sqrt(n))))
        train = min(n, max(64 * nlist, 16384))
        nbits = int(min(8, max(1, math.floor(math.log2(max(2, train))))))
        return {"nlist": nlist, "nprobe": min(nlist, max(32, nlist // 4), 256), "m": _pq_subquantizers(dim),
                "nbits": nbits, "train_size": train, "rerank": 50, "seed": SEED}
    raise ValueError(f"no approximate index of kind {kind!r}")


def faiss():
    """The faiss module, on one OpenMP thread; a clear error where faiss-cpu is not installed."""
    try:
        import faiss as f
    except ImportError:
        raise UserError(f"approximate search needs FAISS: pip install {FAISS_PIN} "
                        "(or build with --kind exact)") from None
    f.omp_set_num_threads(1)
    return f


def _quiet_kmeans(cp, n_train: int, k: int) -> None:
    """Seeded k-means that does not print FAISS's warning for small training sets."""
    cp.seed = SEED
    cp.verbose = False
    cp.min_points_per_centroid = max(1, min(cp.min_points_per_centroid, n_train // max(1, k)))


def build(kind: str, emb, params: dict, show_progress: bool = False):
    """A FAISS index of ``kind`` over every row of ``emb`` (:class:`~thinbridge.search.embeddings.EmbeddingsFile`),
    trained on a seeded sample of it (ivfpq), vectors added in blocks read from the file."""
    from thinbridge._util.progress import progress

    f = faiss()
    n, dim = len(emb), emb.dim
    if kind == "hnsw":
        index = f.IndexHNSWFlat(dim, int(params["M"]), f.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(params["ef_construction"])
    elif kind == "ivfpq":
        quantizer = f.IndexFlatIP(dim)
        index = f.IndexIVFPQ(quantizer, dim, int(params["nlist"]), int(params["m"]), int(params["nbits"]),
                             f.METRIC_INNER_PRODUCT)
        index.referenced_objects = [quantizer]  # the quantizer must live as long as the index
        n_train = int(params["train_size"])
        _quiet_kmeans(index.cp, n_train, int(params["nlist"]))
        _quiet_kmeans(index.pq.cp, n_train, 2 ** int(params["nbits"]))
        rows = np.sort(np.random.default_rng(int(params["seed"])).choice(n, n_train, replace=False))
        index.train(emb.take(rows))
    else:
        raise ValueError(f"no approximate index of kind {kind!r}")
    with progress(total=n, desc=f"{kind} index", unit="mol", disable=not show_progress) as bar:
        for _, block in emb.blocks(ADD_BLOCK_ROWS, whole_if_small=False):
            index.add(np.ascontiguousarray(block, dtype=np.float32))
            bar.update(len(block))
    return index


def _search_parameters(params: dict, k: int):
    f = faiss()
    if "ef_search" in params:
        return f.SearchParametersHNSW(efSearch=max(int(params["ef_search"]), k))
    return f.SearchParametersIVF(nprobe=int(params["nprobe"]))


def search_many(index, params: dict, emb, queries: np.ndarray, k: int) -> tuple[list, list]:
    """Approximate top-``k`` for each query row: FAISS finds ``rerank`` x k candidates, the
    stored float32 embeddings score them, best first (ties by row). Lists of arrays, one per query."""
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k_ann = min(len(emb), max(k, k * int(params.get("rerank", 1))))
    _, found = index.search(q, k_ann, params=_search_parameters(params, k_ann))
    rows, scores = [], []
    for j in range(len(q)):
        cand = found[j][found[j] >= 0]
        r, s = best_first(cand, emb.take(cand) @ q[j], k)
        rows.append(r)
        scores.append(s)
    return rows, scores


def search(index, params: dict, emb, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`search_many` for one query: its rows and scores."""
    rows, scores = search_many(index, params, emb, query[None, :], k)
    return rows[0], scores[0]


def recall_at_k(index, params: dict, emb, k: int = RECALL_K, n_queries: int = RECALL_QUERIES,
                seed: int = SEED) -> dict:
    """Recall@k of the approximate index against exact search, on its own molecules.

    Queries: ``n_queries`` rows of the index sampled with ``seed``; for each, the k nearest
    *other* molecules by exact search (:meth:`~thinbridge.search.embeddings.EmbeddingsFile.top_k`) and by the
    approximate index; recall is the share of the exact ones the approximate search returns.
    """
    n = len(emb)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, n_queries), replace=False))
    q = emb.take(rows)
    exact, _ = emb.top_k(q, k + 1)
    approx, _ = search_many(index, params, emb, q, k + 1)
    found = wanted = 0
    for j, row in enumerate(rows):
        e = [r for r in exact[j].tolist() if r != row][:k]
        a = {r for r in approx[j].tolist() if r != row}
        found += len(a.intersection(e))
        wanted += len(e)
    return {"recall": found / wanted if wanted else None, "k": k, "queries": int(len(rows)), "seed": seed,
            "basis": f"{len(rows)} of the index's own molecules as queries; their {k} nearest other molecules by "
                     "exact search, found by the approximate index"}


def write(index, path: Path) -> str:
    """Write ``index`` with ``faiss.write_index`` (atomically); return the file's sha256."""
    from thinbridge._util.jsonio import sha256_file

    tmp = path.with_name(path.name + ".part")
    faiss().write_index(index, str(tmp))
    os.replace(tmp, path)
    return sha256_file(path)


def read(path: Path, sha256: str):
    """Read a FAISS index written by :func:`write`, after checking its sha256 against ``sha256``."""
    from thinbridge._util.jsonio import sha256_file

    if not Path(path).is_file():
        raise UserError(f"{path}: missing (the index's approximate search file); rebuild the index")
    if sha256_file(path) != sha256:
        raise UserError(f"{path}: sha256 is not the one in the index manifest (damaged or replaced); rebuild the index")
    return faiss().read_index(str(path))
