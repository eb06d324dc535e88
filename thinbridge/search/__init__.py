"""Search: compound libraries embedded by a trained bridge, and queries against them.

``library`` reads SMILES files of any common layout, ``partition`` standardises, fingerprints
and embeds one partition, ``embeddings`` and ``index`` are an index folder's files (written,
loaded, searched exactly; ``ranking`` picks the best rows), ``ann`` adds approximate search
with FAISS, ``build`` builds an index on this machine and ``shards``/``cluster`` on Dask,
``retrieval`` answers text and structure queries against a run or an index
(:class:`Retriever`). May import :mod:`thinbridge.bridge` and below; not training.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Retriever": "thinbridge.search.retrieval",
    "molecules_with_target": "thinbridge.search.retrieval",
    "build_index": "thinbridge.search.build",
    "Index": "thinbridge.search.index",
})
