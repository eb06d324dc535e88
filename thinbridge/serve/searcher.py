"""A loaded bridge answering the page's and the API's requests, with no web framework in sight.

:class:`Searcher` loads a run (and optionally an index) once, warms every lazy part of it (so
requests answered on several threads only read), and turns a request's parameters into the
records ``thinbridge query --json`` prints, wrapped with what the page shows around them.
Every problem with a request is a :class:`RequestError`: an HTTP status and one line, worded as
the command line words it (:func:`thinbridge.search.retrieval.check_k`, ``check_query``,
:func:`thinbridge.chem.structures.standardise_one`). Parameters are only ever strings to check:
nothing in a request names a file to read.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

from thinbridge._util.errors import UserError
from thinbridge._util.jsonio import records

#: the page's k selector and the API's bound (the CLI has none: it answers one person)
MAX_K = 50
DEFAULT_K = 10
#: the longest text query accepted; the text model reads its first 256 tokens anyway
MAX_QUERY_CHARS = 2_000
#: the longest SMILES accepted (ChEMBL's longest drug SMILES is ~1,500 characters)
MAX_SMILES_CHARS = 5_000
#: the parameters each endpoint takes; anything else is refused
PARAMETERS = {"search": ("q", "k"), "smiles": ("s", "k"), "draw": ("smiles",)}
#: the book chapter that explains the scores
BOOK_URL = "https://thinbridge.github.io/thinbridge/book/06_retrieval.html"


class RequestError(Exception):
    """A request that cannot be answered: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = " ".join(str(message).split()), status


def one(params: Mapping, endpoint: str) -> dict[str, str]:
    """The parameters of a request to ``endpoint`` as a dict, each given at most once; an unknown
    or repeated name is a :class:`RequestError`. ``params`` is a multi-dict (``multi_items``) or a
    plain mapping."""
    allowed = PARAMETERS[endpoint]
    items = list(params.multi_items()) if hasattr(params, "multi_items") else list(params.items())
    out: dict[str, str] = {}
    for name, value in items:
        if name not in allowed:
            shown = name if len(name) <= 40 else name[:39] + "…"
            raise RequestError(f"unknown parameter {shown!r}: /api/{endpoint} takes "
                               f"{' and '.join(allowed)}")
        if name in out:
            raise RequestError(f"parameter {name!r} given more than once")
        out[name] = value
    return out


def check_k_bounded(k) -> int:
    """``k`` as the CLI checks it (:func:`check_k`), and at most :data:`MAX_K`; absent: the default."""
    from thinbridge.search.retrieval import check_k

    if k is None:
        return DEFAULT_K
    shown = k if len(str(k)) <= 20 else str(k)[:19] + "…"
    if not _is_int(k):
        raise RequestError(f"k / --top must be a whole number, not {shown!r}")
    try:
        k = check_k(k)
    except UserError as e:
        raise RequestError(str(e)) from None
    if k > MAX_K:
        raise RequestError(f"k / --top must be at most {MAX_K}, got {shown}")
    return k


def _is_int(text) -> bool:
    try:
        int(text)
        return True
    except (TypeError, ValueError):
        return False


def _too_long(what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise RequestError(f"the {what} is {len(text):,} characters long; at most {limit:,} are accepted", 414)


class Searcher:
    """A retriever, optionally an index, and what the page says about them; thread-safe once warmed."""

    def __init__(self, retriever, index=None, index_name: str | None = None, book_url: str = BOOK_URL,
                 batch: int = 4):
        from thinbridge.serve.batcher import TextBatcher

        self.r, self.index, self.index_name, self.book_url = retriever, index, index_name, book_url
        self.batcher = TextBatcher(retriever.heads, retriever.cfg.text_model, batch)
        self.smiles_error: str | None = None  # why SMILES queries cannot be answered, if they cannot
        self.loaded_s = 0.0

    @classmethod
    def load(cls, run, index: str | Path | None = None, data=None, cache=None, book_url: str = BOOK_URL,
             show_progress: bool = False, batch: int = 4) -> "Searcher":
        """Load the run's bridge (and the index), then warm them (:meth:`warm`)."""
        from thinbridge.search.index import Index
        from thinbridge.search.retrieval import Retriever

        t = time.perf_counter()
        r = Retriever.load(run, data, cache, show_progress=show_progress)
        idx = None
        if index is not None:
            idx = Index.load(index)
            r.check_index(idx)
        s = cls(r, idx, Path(index).name if index is not None else None, book_url, batch)
        s.warm()
        s.loaded_s = time.perf_counter() - t
        return s

    def warm(self) -> None:
        """Compute every lazy part once (embeddings, tables, the text model, one drawing), so that
        requests on several threads only read. Without an index the run's molecules must load;
        the mechanism texts (SMILES queries) may be missing, which :attr:`smiles_error` records."""
        from thinbridge.serve.draw import svg

        if self.index is None:
            self.r.molecule_embeddings()
            first = self.r.molecules["parent_smiles"].iloc[0]
        else:
            first = self.index.table["parent_smiles"].iloc[0]
            self.index.search(self.r.embed_texts(["warm-up"])[0], 1)
        try:
            self.r.text_embeddings()
        except UserError as e:
            self.smiles_error = f"SMILES queries need the run's data, which is not available: {e}"
        self.r.embed_texts(["warm-up query"])
        svg(first)

    # -- what the page shows about the bridge ----------------------------------------------
    def info(self) -> dict:
        from thinbridge import __version__

        cfg, rec = self.r.cfg, self.r.record
        if self.index is None:
            searched = {"kind": "run", "name": "the run's molecules", "molecules": len(self.r.molecules)}
        else:
            searched = {"kind": "index", "name": self.index_name, "molecules": len(self.index),
                        "index_kind": self.index.kind}
        return {
            "thinbridge": __version__,
            "bridge": {"run": self.r.run_dir.name, "split": cfg.split, "text_view": cfg.text_view,
                       "with_name": cfg.with_name, "drug_encoder": cfg.drug_encoder, "bridge": cfg.bridge,
                       "text_encoder": (rec.get("encoders") or {}).get("text"), "dim": self.r.dim,
                       "data_hash": rec.get("data_hash"), "model_sha256": self.r.model_sha256},
            "searched": searched,
            "smiles_queries": self.smiles_error is None,
            "smiles_error": self.smiles_error,
            "mechanism_texts": None if self.smiles_error else len(self.r.texts),
            "limits": {"max_k": MAX_K, "default_k": DEFAULT_K, "max_query_chars": MAX_QUERY_CHARS,
                       "max_smiles_chars": MAX_SMILES_CHARS},
            "book_url": self.book_url,
        }

    def health(self) -> dict:
        b = self.batcher
        return {"status": "ok", "run": self.r.run_dir.name,
                "molecules": len(self.index) if self.index is not None else len(self.r.molecules),
                "smiles_queries": self.smiles_error is None,
                "text_queries_encoded": b.encoded, "text_batches": b.batches, "largest_batch": b.largest}

    # -- requests ------------------------------------------------------------------------------
    def search_text(self, params: Mapping) -> dict:
        """``/api/search?q=TEXT&k=K``: molecules for a mechanism text (waiting in this thread)."""
        q, k = self._text_params(params)
        return self._text_answer(q, k, self.batcher.embed(q))

    async def search_text_async(self, params: Mapping) -> dict:
        """:meth:`search_text` on an event loop: the query waits for its batch without a thread; an
        index is searched on a thread (a scan of 10^5 rows takes ~10 ms, which would stop the loop)."""
        import asyncio

        q, k = self._text_params(params)
        vector = await self.batcher.embed_async(q)
        if self.index is None:
            return self._text_answer(q, k, vector)
        return await asyncio.to_thread(self._text_answer, q, k, vector)

    def _text_params(self, params: Mapping) -> tuple[str, int]:
        from thinbridge.search.retrieval import check_query

        p = one(params, "search")
        k = check_k_bounded(p.get("k"))
        q = p.get("q")
        if q is not None:
            _too_long("query", q, MAX_QUERY_CHARS)
        try:
            return check_query(q), k
        except UserError as e:
            raise RequestError(str(e)) from None

    def _text_answer(self, q: str, k: int, vector) -> dict:
        from thinbridge.features.text import token_count

        try:
            df = self.r.search_vector(vector, k, index=self.index)
        except UserError as e:
            raise RequestError(str(e)) from None
        out = {"query": q, "k": k, "n_candidates": int(df.attrs["n_candidates"]),
               "searched": "index" if self.index is not None else "run", "hits": records(df)}
        if len(q) > 200:  # a text this long may have more tokens than the model reads
            n_tok, max_tok = token_count(q, self.r.cfg.text_model)
            if n_tok > max_tok:
                out["note"] = (f"the query is {n_tok:,} tokens long; the text model reads only its first "
                               f"{max_tok} (the rest is ignored)")
        return out

    def search_smiles(self, params: Mapping) -> dict:
        """``/api/smiles?s=SMILES&k=K``: the run's mechanism texts for a molecule."""
        p = one(params, "smiles")
        k = check_k_bounded(p.get("k"))
        s = p.get("s")
        if s is not None:
            _too_long("SMILES", s, MAX_SMILES_CHARS)
        if self.smiles_error:
            raise RequestError(self.smiles_error, 409)
        try:
            df = self.r.search_smiles(s, k)
        except UserError as e:
            raise RequestError(str(e)) from None
        return {"query": s.strip(), "parent_smiles": df.attrs["parent_smiles"],
                "parent_inchikey": df.attrs["parent_inchikey"], "k": k,
                "n_candidates": int(df.attrs["n_candidates"]), "hits": records(df)}

    def draw(self, params: Mapping) -> str:
        """``/api/draw?smiles=SMILES``: the molecule as SVG (RDKit; cached per SMILES)."""
        from thinbridge.serve.draw import svg

        s = one(params, "draw").get("smiles")
        if s is None or not s.strip():
            raise RequestError("empty SMILES: give a molecule, e.g. smiles=CC(=O)Oc1ccccc1C(=O)O")
        _too_long("SMILES", s, MAX_SMILES_CHARS)
        try:
            return svg(s.strip())
        except UserError as e:
            raise RequestError(str(e)) from None
