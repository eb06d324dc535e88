"""Retrieval with a trained bridge: text -> molecules, molecule -> mechanism texts, user libraries.

One object, :class:`Retriever`, serves the CLI (``thinbridge query`` / ``thinbridge index``)
and the notebooks::

    from thinbridge import retrieval
    r = retrieval.load("artifacts/runs/default")          # = Retriever.load
    r.search_text("EGFR kinase inhibitor", k=5)           # DataFrame of molecules
    r.search_smiles("CC(=O)Oc1ccccc1C(=O)O", k=5)         # DataFrame of mechanism texts
    r.build_index("library.smi", "my_index")              # a user's own molecules
    r.search_text("EGFR kinase inhibitor", index="my_index")

Candidates by default are the parent molecules (and the distinct mechanism texts, in the
run's text view) of the data the run was trained on, read from the ``pairs.tsv`` recorded in
the run and checked against its sha256. Embeddings are the bridge's L2-normalised outputs,
so a score is a cosine similarity; top-k uses ``argpartition`` then sorts only the k best.

An index folder holds ``embeddings.safetensors`` (float32 ``(n, dim)``, written chunk by
chunk), ``ids.tsv`` (row, id, line, input SMILES, parent SMILES, parent InChIKey),
``skipped.tsv`` (every input row that did not become an entry, with its line number and
reason) and ``index.json`` (the manifest, written last: the run's model sha256, encoders,
dim, count and source file). An index answers only to the model that built it.
"""
from __future__ import annotations

import csv
import json
import os
import struct
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .errors import UserError

INDEX_FORMAT = "thinbridge-index-1"
INDEX_MANIFEST = "index.json"
INDEX_EMBEDDINGS = "embeddings.safetensors"
INDEX_IDS = "ids.tsv"
INDEX_SKIPPED = "skipped.tsv"
INDEX_TENSOR = "embeddings"
CHUNK_SIZE = 4096
#: header columns recognised in a SMILES file (case-insensitive), in order of preference
SMILES_COLUMNS = ("smiles", "canonical_smiles")
ID_COLUMNS = ("id", "name", "chembl_id", "molecule_chembl_id")
#: below this many input rows an index is built in one process (worker start-up costs more)
PARALLEL_MIN_ROWS = 2000
_HEADER_RESERVE = 8192  # bytes kept for the safetensors JSON header; 8 + this is a multiple of 8
IDS_COLUMNS = ["row", "id", "line", "smiles", "parent_smiles", "parent_inchikey"]
SKIPPED_COLUMNS = ["line", "id", "smiles", "reason", "detail"]


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (argpartition, then a sort of k items)."""
    n = len(scores)
    k = min(int(k), n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    idx = np.argpartition(scores, n - k)[n - k:] if k < n else np.arange(n)
    return idx[np.lexsort((idx, -scores[idx]))]  # score descending, ties by position


def _check_k(k) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise UserError(f"k / --top must be a whole number, not {k!r}") from None
    if k < 1:
        raise UserError(f"k / --top must be at least 1, got {k}")
    return k


def _check_query(query) -> str:
    if not isinstance(query, str) or not query.strip():
        raise UserError("empty query: give some text to search for, e.g. \"EGFR kinase inhibitor\"")
    return query.strip()


def _clean_field(s) -> str:
    return " ".join(str(s).split()) if s is not None else ""


def _standardise_batch(smiles: list[str]) -> list[tuple[str, str, str, str]]:
    """``(parent_smiles, parent_inchikey, reason, detail)`` per SMILES; reason empty when it worked.

    Module level so that worker processes can run it.
    """
    from rdkit import rdBase

    from .data import _StructureError, standardise_parent

    out = []
    with rdBase.BlockLogs():
        for s in smiles:
            try:
                p, key = standardise_parent(s)
                out.append((p, key, "", ""))
            except _StructureError as e:
                out.append(("", "", e.reason, e.detail))
    return out


def _worker_pool(workers: int):
    """Processes for :func:`_standardise_batch`.

    ``fork`` where the platform has it: the workers then need nothing from ``__main__``, so
    building an index works from a script without a ``__main__`` guard, from ``python -`` and
    from notebooks (``spawn`` re-runs the calling script in every worker). The workers only
    run RDKit code, never torch.
    """
    import multiprocessing as mp
    import sys
    import warnings

    method = "fork" if sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods() else "spawn"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork of a multi-threaded process
        return mp.get_context(method).Pool(workers)


def _standardise_one(smiles: str, what: str = "SMILES") -> tuple[str, str]:
    from .data import DROP_REASONS

    if not isinstance(smiles, str) or not smiles.strip():
        raise UserError(f"empty {what}: give a molecule, e.g. --smiles \"CC(=O)Oc1ccccc1C(=O)O\"")
    p, key, reason, detail = _standardise_batch([smiles.strip()])[0]
    if reason:
        raise UserError(f"invalid {what} {smiles.strip()[:80]!r}: {DROP_REASONS.get(reason, reason)}")
    return p, key


# ----------------------------------------------------------------------------------------------
# reading a user's SMILES file
# ----------------------------------------------------------------------------------------------
def _pick(names: list[str], wanted: Sequence[str]) -> int | None:
    for w in wanted:
        if w in names:
            return names.index(w)
    return None


def read_library(path: str | Path) -> tuple[Iterator[tuple[int, str, str]], dict]:
    """Rows ``(line_number, id, smiles)`` of a SMILES file, and a description of its layout.

    Accepted: one SMILES per line, optionally followed by whitespace and an id (``.smi``);
    or a table (comma- or tab-separated, whitespace-separated) whose header names a SMILES
    column (``smiles``/``canonical_smiles``) and optionally an id column
    (``id``/``name``/``chembl_id``/``molecule_chembl_id``), matched case-insensitively.
    Blank lines and lines starting with ``#`` are not rows. Without an id the id is
    ``line<N>``. Line numbers count from 1 and include the header.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"SMILES file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file with one SMILES per line or a CSV with a SMILES column")
    first, first_no = None, 0
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if no == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{path.name}: not valid UTF-8 on line {no}; re-save the file as UTF-8") from None
            if line.strip() and not line.lstrip().startswith("#"):
                first, first_no = line.rstrip("\r\n"), no
                break
    if first is None:
        raise UserError(f"{path.name}: no SMILES in this file (it is empty or only comments)")

    layout = {"format": "smi", "smiles_column": None, "id_column": None, "header_line": None}
    sep = None
    for cand in (",", "\t"):
        if cand in first:
            names = [c.strip().lower() for c in next(csv.reader([first], delimiter=cand))]
            if _pick(names, SMILES_COLUMNS) is not None:
                sep = cand
                break
    if sep is None:
        names = [c.lower() for c in first.split()]
        if _pick(names, SMILES_COLUMNS) is not None:
            sep = "ws"
    if sep is None and path.suffix.lower() in (".csv", ".tsv"):
        raise UserError(
            f"{path.name}: no SMILES column in the header line {first[:80]!r} "
            f"(expected one of {', '.join(SMILES_COLUMNS)}, any case)"
        )
    if sep is not None:
        si, ii = _pick(names, SMILES_COLUMNS), _pick(names, ID_COLUMNS)
        layout = {"format": {",": "csv", "\t": "tsv", "ws": "table"}[sep], "smiles_column": names[si],
                  "id_column": names[ii] if ii is not None else None, "header_line": first_no}

    def rows() -> Iterator[tuple[int, str, str]]:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            try:
                if sep in (",", "\t"):
                    reader = csv.reader(fh, delimiter=sep)
                    for rec in reader:
                        no = reader.line_num
                        if no <= first_no or not rec or not "".join(rec).strip() or rec[0].lstrip().startswith("#"):
                            continue
                        smi = rec[si].strip() if si < len(rec) else ""
                        ident = _clean_field(rec[ii]) if ii is not None and ii < len(rec) else ""
                        yield no, ident or f"line{no}", smi
                else:
                    for no, line in enumerate(fh, 1):
                        s = line.strip()
                        if no <= first_no and sep == "ws" or not s or s.startswith("#"):
                            continue
                        if sep == "ws":
                            parts = s.split()
                            smi = parts[si] if si < len(parts) else ""
                            ident = parts[ii] if ii is not None and ii < len(parts) else ""
                        else:
                            parts = s.split(None, 1)
                            smi, ident = parts[0], _clean_field(parts[1]) if len(parts) > 1 else ""
                        yield no, ident or f"line{no}", smi
            except UnicodeDecodeError:
                raise UserError(f"{path.name}: not valid UTF-8; re-save the file as UTF-8") from None
            except csv.Error as e:
                raise UserError(f"{path.name}: could not parse as {layout['format'].upper()}: {e}") from None

    return rows(), layout


def _count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n, last = n + chunk.count(b"\n"), chunk[-1:]
    return n + (last != b"\n")


# ----------------------------------------------------------------------------------------------
# writing an index chunk by chunk
# ----------------------------------------------------------------------------------------------
class _Float32Writer:
    """A safetensors file with one float32 tensor ``(n, dim)``, appended to chunk by chunk.

    The JSON header's room is reserved up front (padded with spaces, as safetensors itself
    pads) and filled in when the row count is known, so memory never holds more than a chunk.
    """

    def __init__(self, path: Path, dim: int):
        self.path, self.dim, self.n = Path(path), int(dim), 0
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"\0" * (8 + _HEADER_RESERVE))

    def write(self, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        assert arr.ndim == 2 and arr.shape[1] == self.dim
        self.fh.write(arr.tobytes())
        self.n += arr.shape[0]

    def close(self, metadata: dict) -> None:
        header = {
            INDEX_TENSOR: {"dtype": "F32", "shape": [self.n, self.dim], "data_offsets": [0, self.n * self.dim * 4]},
            "__metadata__": {k: str(v) for k, v in metadata.items()},
        }
        hb = json.dumps(header, separators=(",", ":")).encode()
        if len(hb) > _HEADER_RESERVE:
            raise RuntimeError("safetensors header larger than the reserved room")
        self.fh.seek(0)
        self.fh.write(struct.pack("<Q", _HEADER_RESERVE) + hb + b" " * (_HEADER_RESERVE - len(hb)))
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class Index:
    """A built index: manifest, float32 embeddings ``(n, dim)`` and the table of ids and SMILES."""

    def __init__(self, path: Path, manifest: dict, embeddings: np.ndarray, table):
        self.path, self.manifest, self.embeddings, self.table = Path(path), manifest, embeddings, table

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, {len(self)} molecules, dim {self.embeddings.shape[1]})"

    @property
    def model_sha256(self) -> str:
        return (self.manifest.get("run") or {}).get("model_sha256", "")

    @classmethod
    def load(cls, path: str | Path) -> "Index":
        import pandas as pd
        from safetensors import safe_open

        p = Path(path)
        if not p.is_dir():
            raise UserError(f"index folder not found: {p}")
        mf = p / INDEX_MANIFEST
        if not mf.is_file():
            raise UserError(f"{p}: incomplete index (no {INDEX_MANIFEST}); build it with `thinbridge index RUN "
                            f"--smiles-file FILE --out {p}`")
        try:
            manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{mf}: not valid JSON ({e})") from None
        if manifest.get("format") != INDEX_FORMAT:
            raise UserError(f"{mf}: not a thinbridge index (format {manifest.get('format')!r})")
        try:
            with safe_open(str(p / INDEX_EMBEDDINGS), framework="numpy") as f:
                emb = f.get_tensor(INDEX_TENSOR)
        except Exception as e:  # missing, truncated or garbage file
            raise UserError(f"{p / INDEX_EMBEDDINGS}: unreadable index embeddings ({type(e).__name__})") from None
        try:
            table = pd.read_csv(p / INDEX_IDS, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise UserError(f"{p / INDEX_IDS}: unreadable ({type(e).__name__})") from None
        n = int(manifest.get("count", -1))
        if emb.ndim != 2 or emb.shape[0] != n or len(table) != n or emb.shape[1] != int(manifest.get("dim", -1)):
            raise UserError(f"{p}: index files disagree (manifest count {n}, embeddings {emb.shape}, "
                            f"{len(table)} ids); rebuild the index")
        return cls(p, manifest, emb.astype(np.float32, copy=False), table)


# ----------------------------------------------------------------------------------------------
# the retriever
# ----------------------------------------------------------------------------------------------
class Retriever:
    """A trained bridge ready to search. Build it with :meth:`load` (also :func:`load`)."""

    def __init__(self, run_dir: Path, model, record: dict, data_dir: Path | None, cache_dir: Path | None,
                 show_progress: bool = False):
        from .data import sha256_file
        from .model import WEIGHTS
        from .train import RunConfig

        self.run_dir = Path(run_dir)
        self.model = model
        self.record = record
        self.cfg = RunConfig.from_dict(record.get("config") or {})
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else (
            self.data_dir / "cache" if self.data_dir is not None else None)
        self.show_progress = show_progress
        self.model_sha256 = sha256_file(self.run_dir / WEIGHTS)
        self.dim = int(model.drug_head.out_features)
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
        from .features import ECFP_ID, text_encoder_id
        from .model import load_run, read_config

        run = Path(run_dir)
        rec = read_config(run)
        missing = [k for k in ("config", "encoders", "model") if k not in rec]
        if missing:
            raise UserError(f"{run}: incomplete run folder ({', '.join(missing)} missing from config.json); "
                            "train one with `thinbridge train`")
        model, rec = load_run(run, expect={"drug": ECFP_ID})
        text_model = (rec.get("config") or {}).get("text_model")
        have, want = rec["encoders"].get("text"), text_encoder_id(text_model)
        if have != want:
            raise UserError(f"{run}: trained with text encoder {have!r}, but its text model {text_model!r} "
                            f"resolves to {want!r} here; make that model available")
        dd = data_dir if data_dir is not None else rec.get("data_dir")
        return cls(run, model, rec, Path(dd) if dd else None, Path(cache_dir) if cache_dir else None, show_progress)

    # -- the run's own data ------------------------------------------------------------------
    @property
    def pairs(self):
        """The run's ``pairs.tsv`` (checked against the run's data hash)."""
        if self._pairs is None:
            from . import data as D

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
        """Bridge embeddings of :attr:`molecules` (computed once, ECFP4 from the data's cache)."""
        if self._mol_emb is None:
            from .features import drug_features

            x = drug_features(self.molecules["parent_smiles"].tolist(), self.cache_dir, show_progress=self.show_progress)
            self._mol_emb = self._encode_drug(x)
        return self._mol_emb

    @property
    def texts(self):
        """The distinct texts of the data in the run's text view, with their targets and molecules."""
        if self._texts is None:
            import pandas as pd

            from .data import text_view

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
            from .features import text_features

            e = text_features(self.texts["text"].tolist(), self.cfg.text_model, self.cache_dir,
                              show_progress=self.show_progress)
            self._text_emb = self._encode_text(e)
        return self._text_emb

    # -- encoders ------------------------------------------------------------------------------
    def _encode(self, head, x: np.ndarray, want: int, what: str, batch: int = 8192) -> np.ndarray:
        import torch

        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != want:
            raise UserError(f"{what} features have shape {x.shape}, but {self.run_dir} expects {want} columns")
        out = np.empty((x.shape[0], self.dim), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, x.shape[0], batch):
                z = head(torch.as_tensor(np.asarray(x[s:s + batch], dtype=np.float32)))
                out[s:s + batch] = torch.nn.functional.normalize(z, dim=-1).numpy()
        return out

    def _encode_drug(self, x: np.ndarray) -> np.ndarray:
        return self._encode(self.model.drug_head, x, self.model.drug_head.in_features, "drug")

    def _encode_text(self, e: np.ndarray) -> np.ndarray:
        return self._encode(self.model.text_head, e, self.model.text_head.in_features, "text")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Bridge embeddings (float32 ``(n, dim)``, unit length) of free texts."""
        from .features import text_features

        if isinstance(texts, str):
            raise UserError("embed_texts takes a list of texts, not one string")
        texts = [_check_query(t) for t in texts]
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._encode_text(text_features(texts, self.cfg.text_model, cache_dir=None, show_progress=False))

    def embed_smiles(self, smiles: Sequence[str], standardise: bool = True) -> np.ndarray:
        """Bridge embeddings of molecules; each SMILES is reduced to its ChEMBL parent first
        (as the training data was) unless ``standardise=False``. An invalid SMILES is an error."""
        from .features import ecfp4

        if isinstance(smiles, str):
            raise UserError("embed_smiles takes a list of SMILES, not one string")
        smiles = list(smiles)
        if not smiles:
            return np.empty((0, self.dim), dtype=np.float32)
        if standardise:
            parents = [_standardise_one(s, f"SMILES at position {i}")[0] for i, s in enumerate(smiles)]
        else:
            parents = smiles
        return self._encode_drug(ecfp4(parents))

    # -- search ---------------------------------------------------------------------------------
    def check_index(self, index: "Index") -> None:
        """Refuse an index built by another model (compared by the weights' sha256)."""
        have = index.model_sha256
        if have != self.model_sha256:
            built = (index.manifest.get("run") or {}).get("path", "another run")
            raise UserError(f"index {index.path} was built with another model ({built}, weights sha256 "
                            f"{have[:12] or '?'}), not {self.run_dir} ({self.model_sha256[:12]}); rebuild it with "
                            f"`thinbridge index {self.run_dir} --smiles-file FILE --out {index.path}`")
        if index.embeddings.shape[1] != self.dim:
            raise UserError(f"index {index.path} has dim {index.embeddings.shape[1]}, the run {self.dim}")

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
        :class:`Index`): columns ``rank, score, id, smiles, parent_smiles, parent_inchikey``.
        """

        query, k = _check_query(query), _check_k(k)
        if index is not None:
            if candidates is not None:
                raise UserError("candidates select molecules of the run's data; they do not apply to an index")
            idx = index if isinstance(index, Index) else Index.load(index)
            self.check_index(idx)
            q = self.embed_texts([query])[0]
            scores = idx.embeddings @ q
            top = top_k(scores, k)
            out = idx.table.iloc[top][["id", "smiles", "parent_smiles", "parent_inchikey"]].reset_index(drop=True)
            out.insert(0, "score", scores[top].astype(float))
            out.insert(0, "rank", np.arange(1, len(top) + 1))
            out.attrs["n_candidates"] = len(idx)
            return out
        emb = self.molecule_embeddings()
        rows = np.arange(len(emb)) if candidates is None else self._candidate_rows(candidates)
        q = self.embed_texts([query])[0]
        scores = emb[rows] @ q
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
        k = _check_k(k)
        parent, key = _standardise_one(smiles)
        from .features import ecfp4

        z = self._encode_drug(ecfp4([parent]))[0]
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
    def build_index(self, smiles_file: str | Path, out: str | Path, chunk_size: int = CHUNK_SIZE,
                    workers: int | None = None, show_progress: bool = True) -> dict:
        """Standardise, featurise and embed a user's SMILES file into an index folder.

        Reads and processes ``chunk_size`` rows at a time (memory stays bounded), standardising
        in ``workers`` processes (default: the CPU count, or one process for small files) while
        the previous chunk is fingerprinted and embedded. Every row that fails is written to
        ``skipped.tsv`` with its line number and reason. Returns a summary dict.
        """
        from . import __version__
        from .data import DROP_REASONS, sha256_file
        from .features import ECFP_ID, ecfp4
        from .progress import progress

        if int(chunk_size) < 1:
            raise UserError(f"chunk size must be at least 1, got {chunk_size}")
        chunk_size = int(chunk_size)
        src = Path(smiles_file)
        rows, layout = read_library(src)
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} exists and is not a folder")
        if out.resolve() == self.run_dir.resolve():
            raise UserError("--out must not be the run folder")
        out.mkdir(parents=True, exist_ok=True)
        (out / INDEX_MANIFEST).unlink(missing_ok=True)  # an interrupted build leaves no manifest
        n_lines = _count_lines(src)
        if workers is None:
            workers = (os.cpu_count() or 1) if n_lines >= PARALLEL_MIN_ROWS else 1
        workers = max(1, int(workers))

        t0 = time.perf_counter()
        writer = _Float32Writer(out / INDEX_EMBEDDINGS, self.dim)
        ids_fh = open(out / INDEX_IDS, "w", encoding="utf-8", newline="\n")
        skip_fh = open(out / INDEX_SKIPPED, "w", encoding="utf-8", newline="\n")
        ids_fh.write("\t".join(IDS_COLUMNS) + "\n")
        skip_fh.write("\t".join(SKIPPED_COLUMNS) + "\n")
        pool = None
        n_read = n_ok = 0
        skipped: list[tuple] = []
        n_skipped = 0
        bar = progress(total=n_lines, desc="indexing", unit="mol", disable=not show_progress)

        def submit(chunk):
            """Standardisation of a chunk in parts: queued to the workers now, or lazily in this process."""
            smis = [c[2] for c in chunk]
            step = max(64, -(-len(smis) // (workers * 4))) if pool is not None else 256
            parts = [smis[i:i + step] for i in range(0, len(smis), step)]
            if pool is None:
                return (_standardise_batch(part) for part in parts)
            return pool.imap(_standardise_batch, parts)

        def finish(chunk, pending):
            nonlocal n_ok, n_skipped
            res = []
            for part in pending:
                res.extend(part)
                bar.update(len(part))
            good = []
            for (no, ident, smi), (p, key, reason, detail) in zip(chunk, res):
                if reason:
                    n_skipped += 1
                    if len(skipped) < 5:
                        skipped.append((no, ident, smi, reason))
                    skip_fh.write("\t".join(_clean_field(v) for v in (no, ident, smi, reason, detail)) + "\n")
                else:
                    good.append((no, ident, smi, p, key))
            if good:
                writer.write(self._encode_drug(ecfp4([g[3] for g in good])))
                for no, ident, smi, p, key in good:
                    ids_fh.write("\t".join(_clean_field(v) for v in (n_ok, ident, no, smi, p, key)) + "\n")
                    n_ok += 1

        ok = False
        try:
            if workers > 1:
                pool = _worker_pool(workers)
            pending = None
            chunk: list = []
            for row in rows:
                chunk.append(row)
                n_read += 1
                if len(chunk) >= chunk_size:
                    nxt = (chunk, submit(chunk))
                    if pending is not None:
                        finish(*pending)
                    pending, chunk = nxt, []
            nxt = (chunk, submit(chunk)) if chunk else None
            if pending is not None:
                finish(*pending)
            if nxt is not None:
                finish(*nxt)
            ok = True
            bar.update(max(0, n_lines - bar.n))
        finally:
            bar.close()
            if pool is not None:
                if ok:
                    pool.close()
                else:
                    pool.terminate()
                pool.join()
            ids_fh.close()
            skip_fh.close()
            if not ok or n_ok == 0:
                writer.abort()
        seconds = time.perf_counter() - t0
        if n_ok == 0:
            (out / INDEX_EMBEDDINGS).unlink(missing_ok=True)
            (out / INDEX_IDS).unlink(missing_ok=True)
            first = "; ".join(f"line {no}: {reason}" for no, _, _, reason in skipped[:3])
            raise UserError(f"{src.name}: no valid SMILES ({n_read} row(s) read, all invalid: {first}); "
                            f"all listed in {out / INDEX_SKIPPED}" if n_read else f"{src.name}: no SMILES rows")
        manifest = {
            "format": INDEX_FORMAT,
            "count": n_ok,
            "dim": self.dim,
            "rows_read": n_read,
            "skipped": n_skipped,
            "source": {"name": src.name, "sha256": sha256_file(src), **layout},
            "run": {"path": str(self.run_dir.resolve()), "model_sha256": self.model_sha256,
                    "encoders": self.record.get("encoders"), "data_hash": self.record.get("data_hash")},
            "encoders": {"drug": ECFP_ID},
            "standardisation": "ChEMBL parent (thinbridge.data.standardise_parent), as the training data",
            "files": {"embeddings": INDEX_EMBEDDINGS, "ids": INDEX_IDS, "skipped": INDEX_SKIPPED},
            "thinbridge_version": __version__,
        }
        writer.close({"format": INDEX_FORMAT, "model_sha256": self.model_sha256, "count": n_ok, "dim": self.dim})
        (out / INDEX_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return {"out": str(out), "count": n_ok, "rows_read": n_read, "skipped": n_skipped,
                "skipped_examples": [{"line": no, "id": i, "smiles": s, "reason": r,
                                      "meaning": DROP_REASONS.get(r, r)} for no, i, s, r in skipped],
                "seconds": seconds, "per_second": n_read / seconds if seconds > 0 else float("inf"),
                "workers": workers}


#: ``retrieval.load(run_dir, data_dir=None)``: the same as :meth:`Retriever.load`
load = Retriever.load


def build_index(run_dir: str | Path, smiles_file: str | Path, out: str | Path, **kw) -> dict:
    """Shorthand: ``Retriever.load(run_dir).build_index(smiles_file, out, **kw)``."""
    return Retriever.load(run_dir).build_index(smiles_file, out, **kw)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def add_cli(sub) -> None:
    """Add ``query`` and ``index`` to the ``thinbridge`` command."""
    q = sub.add_parser(
        "query", help="rank molecules for a text query, or mechanism texts for a molecule (--smiles)",
        description="Rank the parent molecules of the run's data (or of an index, --index) against a text "
                    "query, or rank the run's mechanism texts against a molecule (--smiles).")
    q.add_argument("run", help="run folder written by `thinbridge train`")
    q.add_argument("text", nargs="?", default=None, help="free-text query, e.g. \"EGFR kinase inhibitor\"")
    q.add_argument("--smiles", "-s", default=None, help="rank mechanism texts for this molecule instead")
    q.add_argument("--top", "-k", type=int, default=10, help="number of hits (default: 10)")
    q.add_argument("--index", default=None, help="search this index (built with `thinbridge index`) instead of "
                                                 "the run's molecules")
    q.add_argument("--data", default=None, help="prepared data folder (default: the one recorded in the run)")
    q.add_argument("--cache", default=None, help="feature cache folder (default: DATA/cache)")
    q.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    q.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_query)

    x = sub.add_parser(
        "index", help="embed your own SMILES library for `thinbridge query --index`",
        description="Standardise a SMILES file to ChEMBL parents (like the training data), fingerprint and "
                    "embed it with a run's drug head, and write an index folder. Rows that fail are listed "
                    "with their line numbers in INDEX/skipped.tsv.")
    x.add_argument("run", help="run folder written by `thinbridge train`")
    x.add_argument("--smiles-file", required=True,
                   help="one SMILES per line, optionally 'SMILES id'; or a CSV/TSV whose header has a smiles "
                        "(or canonical_smiles) column and optionally an id/name/chembl_id column")
    x.add_argument("--out", "-o", required=True, help="index folder to write")
    x.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help=f"rows per chunk (default: {CHUNK_SIZE})")
    x.add_argument("--workers", type=int, default=None,
                   help="processes that standardise structures (default: CPU count; 1 for small files)")
    x.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    x.set_defaults(func=cmd_index)


def _jsonable(df) -> list[dict]:
    recs = []
    for r in df.to_dict(orient="records"):
        recs.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()})
    return recs


def cmd_query(a) -> int:
    if a.text is not None and a.smiles is not None:
        raise UserError("give either a text query or --smiles, not both")
    if a.text is None and a.smiles is None:
        raise UserError("nothing to search for: give a text query or --smiles SMILES")
    if a.smiles is not None and a.index:
        raise UserError("--index holds molecules; search it with a text query, not --smiles")
    k = _check_k(a.top)
    if a.text is not None:
        _check_query(a.text)
    else:
        _standardise_one(a.smiles)
    r = Retriever.load(a.run, a.data, a.cache, show_progress=not a.quiet)
    if a.smiles is not None:
        df = r.search_smiles(a.smiles, k)
        if a.json:
            print(json.dumps(_jsonable(df), indent=1))
            return 0
        print(f"top {len(df)} of {df.attrs['n_candidates']} mechanism texts for {df.attrs['parent_smiles']} "
              f"(ChEMBL parent of the query; * = paired with it in the data)")
        for row in df.itertuples(index=False):
            print(f"{row.rank:4d}  {row.score:6.3f} {'*' if row.known else ' '} {row.text}")
        return 0
    df = r.search_text(a.text, k, index=a.index)
    if a.json:
        print(json.dumps(_jsonable(df), indent=1))
        return 0
    if a.index:
        print(f"top {len(df)} of {df.attrs['n_candidates']} molecules in {a.index} for {a.text.strip()!r}")
        for row in df.itertuples(index=False):
            print(f"{row.rank:4d}  {row.score:6.3f}  {row.id}  {row.smiles}")
        return 0
    print(f"top {len(df)} of {df.attrs['n_candidates']} molecules for {a.text.strip()!r}")
    for row in df.itertuples(index=False):
        print(f"{row.rank:4d}  {row.score:6.3f}  {row.drug_name} ({row.molecule_chembl_id})")
        for m in row.mechanisms:
            print(f"{'':14s}- {m}")
    return 0


def cmd_index(a) -> int:
    r = Retriever.load(a.run, show_progress=not a.quiet)
    res = r.build_index(a.smiles_file, a.out, chunk_size=a.chunk_size, workers=a.workers,
                        show_progress=not a.quiet)
    print(f"indexed {res['count']} molecules from {Path(a.smiles_file).name} into {a.out} "
          f"({res['rows_read']} rows in {res['seconds']:.1f} s, {res['per_second']:.0f} rows/s, "
          f"{res['workers']} worker(s))")
    if res["skipped"]:
        ex = "; ".join(f"line {e['line']} ({e['reason']}: {e['smiles'][:40]!r})" for e in res["skipped_examples"][:3])
        more = " ..." if res["skipped"] > 3 else ""
        print(f"skipped {res['skipped']} row(s) that are not usable structures: {ex}{more}; "
              f"all listed in {Path(a.out) / INDEX_SKIPPED}")
    print(f"search it: thinbridge query {a.run} \"some text\" --index {a.out}")
    return 0
