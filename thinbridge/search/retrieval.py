"""Searching with a trained bridge: text -> molecules, molecule -> mechanism texts.

One object, :class:`Retriever`, serves the CLI (``thinbridge query`` / ``thinbridge index``)
and the notebooks::

    from thinbridge.search.retrieval import Retriever
    r = Retriever.load("artifacts/runs/default")
    r.search_text("EGFR kinase inhibitor", k=5)           # DataFrame of molecules
    r.search_smiles("CC(=O)Oc1ccccc1C(=O)O", k=5)         # DataFrame of mechanism texts
    r.build_index("library.smi", "my_index")              # a user's own molecules
    r.build_index("libs/*.smi", "big_index", workers=4, kind="hnsw")   # on Dask, approximate search
    r.search_text("EGFR kinase inhibitor", index="my_index")

Candidates by default are the parent molecules (and the distinct mechanism texts, in the
run's text view) of the data the run was trained on, read from the ``pairs.tsv`` recorded in
the run and checked against its sha256. Embeddings are the bridge's L2-normalised outputs
(:meth:`thinbridge.bridge.model.Bridge.embed`), so a score is a cosine similarity; top-k uses
``argpartition`` then sorts only the k best. Reading libraries lives in
:mod:`thinbridge.search.library`, the on-disk index in :mod:`thinbridge.search.index`, building one (here or
on a Dask cluster) in :mod:`thinbridge.search.build`, approximate search in :mod:`thinbridge.search.ann`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from thinbridge._util.errors import UserError
from thinbridge.config import CHUNK_SIZE
from thinbridge.search.index import Index
from thinbridge.chem.structures import standardise_one
from thinbridge.search.ranking import top_k


def check_k(k) -> int:
    """``k`` as a positive whole number (the number of hits), or a one-line UserError."""
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise UserError(f"k / --top must be a whole number, not {k!r}") from None
    if k < 1:
        raise UserError(f"k / --top must be at least 1, got {k}")
    return k


def check_query(query) -> str:
    """A text query with its surrounding white space removed; empty is a one-line UserError."""
    if not isinstance(query, str) or not query.strip():
        raise UserError("empty query: give some text to search for, e.g. \"EGFR kinase inhibitor\"")
    return query.strip()


def molecules_with_target(pairs, word: str, mask=None) -> set[str]:
    """Parent InChIKeys of the pairs whose target name contains ``word`` (any case), among the
    pairs selected by the boolean ``mask`` (default: all): the molecules a query about that
    target should find."""
    hit = pairs["target_pref_name"].str.contains(word, case=False, regex=False).to_numpy()
    if mask is not None:
        hit = hit & np.asarray(mask, dtype=bool)
    return set(pairs["parent_inchikey"].to_numpy()[hit])


class Retriever:
    """A trained bridge ready to search. Build it with :meth:`load` (also :func:`load`)."""

    def __init__(self, run_dir: Path, heads, record: dict, data_dir: Path | None, cache_dir: Path | None,
                 show_progress: bool = False):
        from thinbridge.config import RunConfig
        from thinbridge._util.jsonio import sha256_file
        from thinbridge.bridge.runfiles import WEIGHTS

        self.run_dir = Path(run_dir)
        self.heads = heads  # NumpyHeads: searching and index builds need no torch
        self.record = record
        self.cfg = RunConfig.from_dict(record.get("config") or {}, source=str(self.run_dir / "config.json"))
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else (
            self.data_dir / "cache" if self.data_dir is not None else None)
        self.show_progress = show_progress
        self.model_sha256 = sha256_file(self.run_dir / WEIGHTS)
        self.dim = int(heads.dim)
        self._pairs = self._molecules = self._mol_emb = None
        self._texts = self._text_emb = None

    def __repr__(self) -> str:
        return (f"Retriever(run={str(self.run_dir)!r}, dim={self.dim}, text_view={self.cfg.text_view!r}, "
                f"with_name={self.cfg.with_name}, data_dir={str(self.data_dir) if self.data_dir else None!r})")

    @classmethod
    def load(cls, run_dir: str | Path, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             show_progress: bool = False) -> "Retriever":
        """A retriever for a run folder written by ``thinbridge train``.

        ``data_dir`` defaults to the prepared data folder recorded in the run; it is read (and
        its sha256 checked against the run's ``data_hash``) only when the run's own molecules
        or texts are searched, so an index can be searched without it. ``cache_dir`` (default
        ``DATA/cache``) holds the frozen features training cached.
        """
        from thinbridge.config import RunConfig
        from thinbridge.features.drugs import drug_encoder
        from thinbridge.features.text import text_encoder_id
        from thinbridge.bridge.runfiles import NumpyHeads, load_arrays, read_config

        run = Path(run_dir)
        rec = read_config(run)
        missing = [k for k in ("config", "encoders", "model") if k not in rec]
        if missing:
            raise UserError(f"{run}: incomplete run folder ({', '.join(missing)} missing from config.json); "
                            "train one with `thinbridge train`")
        name = RunConfig.from_dict(rec["config"], source=str(run / "config.json")).drug_encoder
        state, rec = load_arrays(run, expect={"drug": drug_encoder(name)[0]})
        text_model = (rec.get("config") or {}).get("text_model")
        have, want = rec["encoders"].get("text"), text_encoder_id(text_model)
        if have != want:
            raise UserError(f"{run}: trained with text encoder {have!r}, but its text model {text_model!r} "
                            f"resolves to {want!r} here; make that model available")
        dd = data_dir if data_dir is not None else rec.get("data_dir")
        return cls(run, NumpyHeads(state, name), rec, Path(dd) if dd else None, Path(cache_dir) if cache_dir else None,
                   show_progress)

    # -- the run's own data ------------------------------------------------------------------
    @property
    def pairs(self):
        """The run's ``pairs.tsv`` (checked against the run's data hash)."""
        if self._pairs is None:
            from thinbridge import data as D

            dd = self.data_dir
            if dd is None:
                raise UserError(f"{self.run_dir}: no data folder recorded in the run; pass data_dir= (CLI: --data DIR)")
            if not (dd / "pairs.tsv").is_file():
                raise UserError(f"the data {self.run_dir} was trained on is not at {dd} (no pairs.tsv); "
                                "pass data_dir= (CLI: --data DIR), or search an index with --index")
            want = self.record.get("data_hash")
            if want and D.data_hash(dd) != want:
                raise UserError(f"{dd / 'pairs.tsv'} is not the data {self.run_dir} was trained on (sha256 differs); "
                                "pass the right folder with data_dir= (CLI: --data DIR)")
            self._pairs = D.load_pairs(dd)
        return self._pairs

    @property
    def molecules(self):
        """One row per parent molecule of the data: ids, name, SMILES and known mechanisms."""
        if self._molecules is None:
            import pandas as pd

            p = self.pairs
            mech = [f"{m} ({t or tid})" for m, t, tid in
                    zip(p["mechanism_of_action"], p["target_pref_name"], p["target_chembl_id"])]
            p = p.assign(_mech=mech)
            g = p.groupby("parent_inchikey", sort=False)
            mols = pd.DataFrame({
                "molecule_chembl_id": g["molecule_chembl_id"].first(),
                "molecule_chembl_ids": g["molecule_chembl_ids"].agg(
                    lambda s: ";".join(dict.fromkeys(x for v in s for x in v.split(";") if x))),
                "drug_name": g["drug_name"].first(),
                "parent_smiles": g["parent_smiles"].first(),
                "mechanisms": g["_mech"].agg(lambda s: list(dict.fromkeys(s))),
            }).reset_index()
            self._molecules = mols
        return self._molecules

    def molecule_embeddings(self) -> np.ndarray:
        """Bridge embeddings of :attr:`molecules` (computed once, the run's drug features from the data's cache)."""
        if self._mol_emb is None:
            from thinbridge.features.cache import drug_features

            x = drug_features(self.molecules["parent_smiles"].tolist(), self.cache_dir, show_progress=self.show_progress,
                              encoder=self.cfg.drug_encoder)
            self._mol_emb = self.encode_drug(x)
        return self._mol_emb

    @property
    def texts(self):
        """The distinct texts of the data in the run's text view, with their targets and molecules."""
        if self._texts is None:
            import pandas as pd

            from thinbridge.data.pairs import text_view

            p = self.pairs
            t = pd.DataFrame({"text": text_view(p, self.cfg.text_view, self.cfg.with_name),
                              "target": [a or b for a, b in zip(p["target_pref_name"], p["target_chembl_id"])],
                              "parent_inchikey": p["parent_inchikey"]})
            g = t.groupby("text", sort=False)
            self._texts = pd.DataFrame({
                "targets": g["target"].agg(lambda s: list(dict.fromkeys(s))),
                "inchikeys": g["parent_inchikey"].agg(lambda s: set(s)),
            }).reset_index()
        return self._texts

    def text_embeddings(self) -> np.ndarray:
        """Bridge embeddings of :attr:`texts` (computed once, sentence embeddings from the data's cache)."""
        if self._text_emb is None:
            from thinbridge.features.cache import text_features

            e = text_features(self.texts["text"].tolist(), self.cfg.text_model, self.cache_dir,
                              show_progress=self.show_progress)
            self._text_emb = self._encode_text(e)
        return self._text_emb

    # -- encoders ------------------------------------------------------------------------------
    def encode_drug(self, x: np.ndarray) -> np.ndarray:
        """Drug-encoder features (fingerprints) through the run's drug head: unit-length rows."""
        return self.heads.embed(x, "drug")

    def _encode_text(self, e: np.ndarray) -> np.ndarray:
        return self.heads.embed(e, "text")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Bridge embeddings (float32 ``(n, dim)``, unit length) of free texts."""
        from thinbridge.features.text import encode_queries

        if isinstance(texts, str):
            raise UserError("embed_texts takes a list of texts, not one string")
        texts = [check_query(t) for t in texts]
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._encode_text(encode_queries(texts, self.cfg.text_model))

    def embed_smiles(self, smiles: Sequence[str], standardise: bool = True) -> np.ndarray:
        """Bridge embeddings of molecules; each SMILES is reduced to its ChEMBL parent first
        (as the training data was) unless ``standardise=False``. An invalid SMILES is an error."""
        from thinbridge.features.drugs import encode_drugs

        if isinstance(smiles, str):
            raise UserError("embed_smiles takes a list of SMILES, not one string")
        smiles = list(smiles)
        if not smiles:
            return np.empty((0, self.dim), dtype=np.float32)
        if standardise:
            parents = [standardise_one(s, f"SMILES at position {i}")[0] for i, s in enumerate(smiles)]
        else:
            parents = smiles
        return self.encode_drug(encode_drugs(parents, self.cfg.drug_encoder))

    # -- search ---------------------------------------------------------------------------------
    def check_index(self, index: "Index") -> None:
        """Refuse an index built by another model (compared by the weights' sha256) or with another
        drug encoder."""
        from thinbridge.features.drugs import drug_encoder

        have = index.model_sha256
        if have != self.model_sha256:
            built = (index.manifest.get("run") or {}).get("path", "another run")
            raise UserError(f"index {index.path} was built with another model ({built}, weights sha256 "
                            f"{have[:12] or '?'}), not {self.run_dir} ({self.model_sha256[:12]}); rebuild it with "
                            f"`thinbridge index {self.run_dir} --smiles-file FILE --out {index.path}`")
        built_with, ours = (index.manifest.get("encoders") or {}).get("drug"), drug_encoder(self.cfg.drug_encoder)[0]
        if built_with != ours:
            raise UserError(f"index {index.path} holds {built_with or 'unknown'} drug features, this run uses {ours}; "
                            f"rebuild it with `thinbridge index {self.run_dir} --smiles-file FILE --out {index.path}`")
        if index.dim != self.dim:
            raise UserError(f"index {index.path} has dim {index.dim}, the run {self.dim}")

    def _candidate_rows(self, candidates) -> np.ndarray:
        """Rows of :attr:`molecules` selected by parent InChIKeys or by a boolean mask over the pairs."""
        mols = self.molecules
        if isinstance(candidates, str):
            candidates = [candidates]
        arr = np.asarray(list(candidates) if not hasattr(candidates, "__array__") else candidates)
        if arr.dtype == bool:
            if len(arr) != len(self.pairs):
                raise UserError(f"candidate mask has {len(arr)} entries; it must have one per pair ({len(self.pairs)})")
            keys = set(self.pairs["parent_inchikey"].to_numpy()[arr])
        else:
            keys = {str(k) for k in arr.tolist()}
            unknown = keys - set(mols["parent_inchikey"])
            if unknown:
                raise UserError(f"{len(unknown)} candidate(s) are not parent InChIKeys of the run's data "
                                f"(e.g. {sorted(unknown)[0]!r})")
        rows = np.flatnonzero(mols["parent_inchikey"].isin(keys).to_numpy())
        if len(rows) == 0:
            raise UserError("no candidate molecules selected")
        return rows

    def search_text(self, query: str, k: int = 10, index=None, candidates=None):
        """Molecules ranked for a free-text query, best first.

        Without ``index``: the run's parent molecules (optionally only ``candidates``: parent
        InChIKeys or a boolean mask over :attr:`pairs`), columns ``rank, score,
        molecule_chembl_id, drug_name, parent_smiles, mechanisms, parent_inchikey``
        (``mechanisms``: list of "mechanism (target)"). With ``index`` (a folder or
        :class:`Index`): columns ``rank, score, id, file, line, smiles, parent_smiles, parent_inchikey``
        (``file`` and ``line``: where the row was read; an index of the first format has no ``file``).
        """

        query, k = check_query(query), check_k(k)
        idx = self._checked_index(index, candidates)  # before the query is embedded: errors come cheap
        return self._ranked(self.embed_texts([query])[0], k, idx, candidates)

    def _checked_index(self, index, candidates):
        if index is None:
            return None
        if candidates is not None:
            raise UserError("candidates select molecules of the run's data; they do not apply to an index")
        idx = index if isinstance(index, Index) else Index.load(index)
        self.check_index(idx)
        return idx

    def search_vector(self, q: np.ndarray, k: int = 10, index=None, candidates=None):
        """:meth:`search_text` for a query already embedded by the bridge (a row of
        :meth:`embed_texts`): the same table, for callers that embed several queries at once."""
        k, idx = check_k(k), self._checked_index(index, candidates)
        q = np.asarray(q, dtype=np.float32)
        if q.shape != (self.dim,):
            raise UserError(f"a query embedding has shape ({self.dim},), not {q.shape}")
        return self._ranked(q, k, idx, candidates)

    def _ranked(self, q: np.ndarray, k: int, idx, candidates):
        """The hits of an embedded query, ``k`` and the index already checked."""
        if idx is not None:
            top, scores = idx.search(q, k)
            cols = [c for c in ("id", "file", "line", "smiles", "parent_smiles", "parent_inchikey") if c in idx.table]
            out = idx.table.iloc[top][cols].reset_index(drop=True)
            if "line" in out:
                out["line"] = out["line"].astype(int)
            out.insert(0, "score", scores.astype(float))
            out.insert(0, "rank", np.arange(1, len(top) + 1))
            out.attrs["n_candidates"] = len(idx)
            out.attrs["index_kind"] = idx.kind
            return out
        emb = self.molecule_embeddings()
        rows = np.arange(len(emb)) if candidates is None else self._candidate_rows(candidates)
        scores = emb @ q if candidates is None else emb[rows] @ q  # no copy of every row for a full search
        top = top_k(scores, k)
        cols = ["molecule_chembl_id", "drug_name", "parent_smiles", "mechanisms", "parent_inchikey"]
        out = self.molecules.iloc[rows[top]][cols].reset_index(drop=True)
        out.insert(0, "score", scores[top].astype(float))
        out.insert(0, "rank", np.arange(1, len(top) + 1))
        out.attrs["n_candidates"] = len(rows)
        return out

    def search_smiles(self, smiles: str, k: int = 10):
        """Mechanism texts of the data (in the run's text view) ranked for a molecule, best first.

        Columns ``rank, score, text, targets, known``; ``known`` is True where the data pairs the
        query's parent molecule with that text.
        """
        k = check_k(k)
        parent, key = standardise_one(smiles)
        from thinbridge.features.drugs import encode_drugs

        z = self.encode_drug(encode_drugs([parent], self.cfg.drug_encoder))[0]
        emb = self.text_embeddings()
        scores = emb @ z
        top = top_k(scores, k)
        t = self.texts.iloc[top]
        out = t[["text", "targets"]].reset_index(drop=True)
        out["known"] = [key in s for s in t["inchikeys"]]
        out.insert(0, "score", scores[top].astype(float))
        out.insert(0, "rank", np.arange(1, len(top) + 1))
        out.attrs["parent_smiles"], out.attrs["parent_inchikey"] = parent, key
        out.attrs["n_candidates"] = len(emb)
        return out

    # -- building an index ------------------------------------------------------------------------
    def build_index(self, smiles_files, out: str | Path, chunk_size: int = CHUNK_SIZE, kind: str = "auto",
                    processes: int | None = None, scheduler: str | None = None, workers: int | None = None,
                    show_progress: bool = True) -> dict:
        """Standardise, fingerprint and embed SMILES files (paths or globs) into an index folder,
        here or on a Dask cluster (:func:`thinbridge.search.build.build_index` with this run's bridge)."""
        from thinbridge.search.build import build_index

        run = {"path": self.run_dir, "model_sha256": self.model_sha256, "encoders": self.record.get("encoders"),
               "data_hash": self.record.get("data_hash"), "drug_encoder": self.cfg.drug_encoder}
        return build_index(self.heads, run, smiles_files, out, chunk_size=chunk_size, kind=kind, processes=processes,
                           scheduler=scheduler, workers=workers, show_progress=show_progress)
