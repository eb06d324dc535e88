"""A compound library embedded by a bridge: its files, how they are written, loaded and searched.

An index folder holds ``embeddings.safetensors`` (float32 ``(n, dim)``, written partition by
partition), ``ids.tsv`` (row, id, file, line, input SMILES, parent SMILES, parent InChIKey),
``skipped.tsv`` (every input row that did not become an entry, with its file, line and
reason), ``duplicate_ids.tsv`` (only when some id names more than one entry: every entry is
kept, the duplicates are listed), for approximate search ``ann.faiss`` (:mod:`thinbridge.ann`)
and ``index.json`` (the manifest, written last: kind, the run's model sha256, encoders, dim,
count, the source files with their sha256, every file's sha256). An index answers only to the
model that built it (:meth:`thinbridge.retrieval.Retriever.check_index`). Indexes of the first
format (one source file, no ``file`` column, exact search only) are still read.

One partition of a library goes through :func:`embed_partition`: standardise to ChEMBL parents
and fingerprint them (:func:`prepare_structures`; worker processes may do this part), embed
with the bridge's drug head; the result
(:class:`PartitionResult`) is appended to the files by :class:`IndexWriter`, in the order of
the partitions, whichever process or machine computed it (:mod:`thinbridge.build`).
Searching: :meth:`Index.search` (exact: :meth:`EmbeddingsFile.top_k`, in blocks read from the
file, so an index larger than memory can be scanned).
"""
from __future__ import annotations

import csv
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import UserError
from .library import UNREADABLE, Row, clean_field

INDEX_FORMAT = "thinbridge-index-2"
#: formats :meth:`Index.load` reads (1: one source file, exact search only)
READABLE_FORMATS = ("thinbridge-index-1", INDEX_FORMAT)
INDEX_MANIFEST = "index.json"
INDEX_EMBEDDINGS = "embeddings.safetensors"
INDEX_IDS = "ids.tsv"
INDEX_SKIPPED = "skipped.tsv"
INDEX_DUPLICATES = "duplicate_ids.tsv"
INDEX_TENSOR = "embeddings"
_HEADER_RESERVE = 8192  # bytes kept for the safetensors JSON header; 8 + this is a multiple of 8
IDS_COLUMNS = ["row", "id", "file", "line", "smiles", "parent_smiles", "parent_inchikey"]
SKIPPED_COLUMNS = ["file", "line", "id", "smiles", "reason", "detail"]
#: exact search reads the embeddings in blocks of this many rows when the file is larger than
SCAN_BLOCK_ROWS = 65536
SCAN_IN_ONE_MAX_BYTES = 1 << 30  # ... this: below, one product over the memory-mapped file


def skip_reasons() -> dict[str, str]:
    """What each reason in ``skipped.tsv`` means (the structure reasons are ``prepare``'s)."""
    from .data import DROP_REASONS

    return {UNREADABLE: "the line is not valid UTF-8 text", **DROP_REASONS}


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


# ----------------------------------------------------------------------------------------------
# standardisation, as for the training data
# ----------------------------------------------------------------------------------------------
def standardise_batch(smiles: list[str]) -> list[tuple[str, str, str, str]]:
    """``(parent_smiles, parent_inchikey, reason, detail)`` per SMILES; reason empty when it worked.
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


def standardise_one(smiles: str, what: str = "SMILES") -> tuple[str, str]:
    from .data import DROP_REASONS

    if not isinstance(smiles, str) or not smiles.strip():
        raise UserError(f"empty {what}: give a molecule, e.g. --smiles \"CC(=O)Oc1ccccc1C(=O)O\"")
    p, key, reason, detail = standardise_batch([smiles.strip()])[0]
    if reason:
        raise UserError(f"invalid {what} {smiles.strip()[:80]!r}: {DROP_REASONS.get(reason, reason)}")
    return p, key


# ----------------------------------------------------------------------------------------------
# one partition
# ----------------------------------------------------------------------------------------------
@dataclass
class PartitionResult:
    """One partition of a library, standardised and embedded: what a shard holds.

    ``entries`` are ``(line, id, smiles, parent_smiles, parent_inchikey)`` of the embedded
    rows, ``skipped`` are ``(line, id, smiles, reason, detail)``; every field is a cleaned
    string (:func:`thinbridge.library.clean_field`), exactly as the TSV files hold it.
    """

    file: str
    embeddings: np.ndarray
    entries: list[tuple[str, ...]]
    skipped: list[tuple[str, ...]]
    extra_fields: int = 0
    extra_lines: list[int] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.entries) + len(self.skipped)


def prepare_structures(smiles: list[str], drug_encoder: str) -> tuple[list[tuple[str, ...]], np.ndarray | None]:
    """The per-molecule work of a partition: :func:`standardise_batch`'s tuples for ``smiles``, and
    the run's drug encoder on the parents that worked (one row each, in order; None when none did).
    Rows are independent, so a partition's SMILES may be prepared in parts and joined."""
    from .features import encode_drugs

    results = standardise_batch(smiles)
    parents = [r[0] for r in results if not r[2]]
    return results, (encode_drugs(parents, drug_encoder) if parents else None)


def join_prepared(parts: Sequence[tuple[list, np.ndarray | None]]) -> tuple[list, np.ndarray | None]:
    """:func:`prepare_structures` of consecutive parts of a list, as if of the whole list."""
    features = [f for _, f in parts if f is not None]
    return [r for res, _ in parts for r in res], (np.concatenate(features) if features else None)


def embed_partition(rows: Sequence[Row], heads, file: str, stats: dict | None = None,
                    prepared: tuple[list, np.ndarray | None] | None = None) -> PartitionResult:
    """Standardise, encode (the run's drug encoder) and embed one partition's rows with ``heads``
    (the bridge's :class:`~thinbridge.runfiles.NumpyHeads`); the drug head embeds the partition in
    one batch. Unreadable lines and structures that fail are kept as skipped rows with their
    reason. ``stats``: the layout's counts of rows with extra fields, filled while ``rows`` were
    read. ``prepared``: :func:`prepare_structures` of the readable rows' SMILES, if already done
    (by worker processes); else it runs here."""
    rows = list(rows)
    if prepared is None:
        prepared = prepare_structures([r.smiles for r in rows if not r.problem], heads.drug_encoder)
    results, features = iter(prepared[0]), prepared[1]
    entries, skipped = [], []
    for r in rows:
        p, key, reason, detail = ("", "", UNREADABLE, r.problem) if r.problem else next(results)
        if reason:
            skipped.append(tuple(clean_field(v) for v in (r.line, r.id, r.smiles, reason, detail)))
        else:
            entries.append(tuple(clean_field(v) for v in (r.line, r.id, r.smiles, p, key)))
    emb = (heads.embed(features, "drug") if entries else np.empty((0, heads.dim), dtype=np.float32))
    stats = stats or {}
    return PartitionResult(file, emb, entries, skipped, stats.get("rows_with_extra_fields", 0),
                           list(stats.get("extra_field_lines", [])))


# ----------------------------------------------------------------------------------------------
# the embeddings file
# ----------------------------------------------------------------------------------------------
class Float32Writer:
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


class EmbeddingsFile:
    """The float32 ``(n, dim)`` tensor of a safetensors file, read without loading it whole.

    :attr:`array` is a read-only memory map (rows are read when touched);
    :meth:`blocks` reads the rows in order a block at a time (the memory in use stays at a
    block, whatever the file's size); :meth:`top_k` is the exact search.
    """

    def __init__(self, path: Path, n: int, dim: int, offset: int):
        self.path, self.n, self.dim, self.offset = Path(path), int(n), int(dim), int(offset)
        self._array = None

    @classmethod
    def open(cls, path: str | Path, name: str = INDEX_TENSOR) -> "EmbeddingsFile":
        """Read and check the header; a missing, truncated or foreign file is a UserError."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(size))
            t = header[name]
            n, dim = (int(v) for v in t["shape"])
            ok = (t["dtype"] == "F32" and t["data_offsets"] == [0, n * dim * 4]
                  and path.stat().st_size == 8 + size + n * dim * 4)
        except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
            raise UserError(f"{path}: unreadable index embeddings ({type(e).__name__})") from None
        if not ok:
            raise UserError(f"{path}: unreadable index embeddings (not a float32 (n, dim) tensor of the file's size)")
        return cls(path, n, dim, 8 + size)

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        return self.n * self.dim * 4

    @property
    def array(self) -> np.ndarray:
        """All rows as a read-only memory-mapped ``(n, dim)`` float32 array."""
        if self._array is None:
            self._array = (np.memmap(self.path, dtype="<f4", mode="r", offset=self.offset, shape=(self.n, self.dim))
                           if self.n else np.empty((0, self.dim), dtype=np.float32))
        return self._array

    def take(self, rows) -> np.ndarray:
        """The rows ``rows`` (in that order) as an in-memory float32 array: from the memory map
        when the file is small, else read row by row (the kernel maps the pages around each
        touched one, so scattered reads through a map would make most of a large file resident)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.nbytes <= SCAN_IN_ONE_MAX_BYTES:
            return np.asarray(self.array[rows], dtype=np.float32)
        width, out = self.dim * 4, np.empty((len(rows), self.dim), dtype=np.float32)
        with open(self.path, "rb", buffering=0) as fh:
            for i, r in enumerate(rows.tolist()):
                out[i] = np.frombuffer(os.pread(fh.fileno(), width, self.offset + r * width), dtype="<f4")
        return out

    def blocks(self, rows: int = SCAN_BLOCK_ROWS, whole_if_small: bool = True):
        """``(first row, block)`` over the whole file: blocks of ``rows`` read one after another
        (nothing stays in memory), or the memory map in one block when ``whole_if_small`` and
        the file is at most :data:`SCAN_IN_ONE_MAX_BYTES` (slices of it when not)."""
        if self.nbytes <= SCAN_IN_ONE_MAX_BYTES:
            step = self.n if whole_if_small else rows
            yield from ((s, self.array[s:s + step]) for s in range(0, self.n, max(1, step)))
            return
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            for start in range(0, self.n, rows):
                m = min(rows, self.n - start)
                yield start, np.fromfile(fh, dtype="<f4", count=m * self.dim).reshape(m, self.dim)

    def top_k(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search: for each query row, the ``k`` rows with the largest inner product and
        their scores, ``(m, k)`` each, best first, ties by row (as :func:`top_k`)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = min(int(k), self.n)
        if k <= 0:
            return np.empty((len(q), 0), dtype=np.int64), np.empty((len(q), 0), dtype=np.float32)
        found_rows, found_scores = [], []
        for start, block in self.blocks(whole_if_small=len(q) == 1):  # many queries: a block of scores at a time
            s = np.asarray((block @ q[0])[:, None] if len(q) == 1 else block @ q.T)  # (rows, m)
            b = len(block)
            part = np.argpartition(s, b - k, axis=0)[b - k:] if k < b else np.broadcast_to(
                np.arange(b)[:, None], (b, len(q)))
            found_rows.append(part + start)
            found_scores.append(np.take_along_axis(s, part, axis=0))
        rows, scores = np.concatenate(found_rows), np.concatenate(found_scores)
        out = [best_first(rows[:, j], scores[:, j], k) for j in range(len(q))]
        return np.stack([r for r, _ in out]), np.stack([s for _, s in out])


# ----------------------------------------------------------------------------------------------
# a built index
# ----------------------------------------------------------------------------------------------
class Index:
    """A built index: manifest, embeddings (:class:`EmbeddingsFile`), ids table and, for
    approximate kinds, the FAISS index (loaded, and its sha256 checked, on first search)."""

    def __init__(self, path: Path, manifest: dict, embeddings: EmbeddingsFile):
        self.path, self.manifest, self.file = Path(path), manifest, embeddings
        self._table = self._ann = None

    def __len__(self) -> int:
        return len(self.file)

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, {len(self)} molecules, dim {self.dim}, {self.kind})"

    @property
    def dim(self) -> int:
        return self.file.dim

    @property
    def kind(self) -> str:
        """``exact``, ``hnsw`` or ``ivfpq`` (:mod:`thinbridge.ann`)."""
        return self.manifest.get("kind", "exact")

    @property
    def embeddings(self) -> np.ndarray:
        """The float32 ``(n, dim)`` embeddings, memory-mapped."""
        return self.file.array

    @property
    def model_sha256(self) -> str:
        return (self.manifest.get("run") or {}).get("model_sha256", "")

    @property
    def table(self):
        """``ids.tsv`` as a data frame of strings (read on first use)."""
        if self._table is None:
            import pandas as pd

            try:
                t = pd.read_csv(self.path / INDEX_IDS, sep="\t", dtype=str, keep_default_na=False,
                                quoting=csv.QUOTE_NONE)
            except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
                raise UserError(f"{self.path / INDEX_IDS}: unreadable ({type(e).__name__})") from None
            if len(t) != len(self):
                raise UserError(f"{self.path}: index files disagree ({len(self)} embeddings, {len(t)} ids); "
                                "rebuild the index")
            self._table = t
        return self._table

    @property
    def ann(self):
        """The FAISS index of an approximate kind, read after its sha256 is checked."""
        if self._ann is None:
            from . import ann

            spec = self.manifest["ann"]
            self._ann = ann.read(self.path / spec["file"], spec["sha256"])
        return self._ann

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores (inner products, best first) of the ``k`` entries nearest ``query``,
        exactly or through the approximate index, by the index's kind."""
        if self.kind == "exact":
            rows, scores = self.file.top_k(query[None, :], k)
            return rows[0], scores[0]
        from . import ann

        return ann.search(self.ann, self.manifest["ann"]["params"], self.file, query, k)

    @classmethod
    def load(cls, path: str | Path) -> "Index":
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
        if manifest.get("format") not in READABLE_FORMATS:
            raise UserError(f"{mf}: not a thinbridge index (format {manifest.get('format')!r})")
        emb = EmbeddingsFile.open(p / INDEX_EMBEDDINGS)
        n = int(manifest.get("count", -1))
        if len(emb) != n or emb.dim != int(manifest.get("dim", -1)):
            raise UserError(f"{p}: index files disagree (manifest count {n}, dim {manifest.get('dim')}, "
                            f"embeddings {(len(emb), emb.dim)}); rebuild the index")
        return cls(p, manifest, emb)


# ----------------------------------------------------------------------------------------------
# writing an index
# ----------------------------------------------------------------------------------------------
class IndexWriter:
    """The files of an index under construction, appended to one partition at a time.

    ``several_files``: whether the library has more than one source file (locations are then
    written ``file:line``, else just the line). ``close`` finds the ids used more than once
    (from 64-bit hashes kept per entry, then the ids file read once for those hashes, so memory
    holds 8 bytes per entry, not the ids); ``abort`` removes what an interrupted build left.
    """

    def __init__(self, out: Path, dim: int, several_files: bool = False):
        self.out, self.several = out, several_files
        self.emb = Float32Writer(out / INDEX_EMBEDDINGS, dim)
        self.ids = open(out / INDEX_IDS, "w", encoding="utf-8", newline="\n")
        self.skipped = open(out / INDEX_SKIPPED, "w", encoding="utf-8", newline="\n")
        self.ids.write("\t".join(IDS_COLUMNS) + "\n")
        self.skipped.write("\t".join(SKIPPED_COLUMNS) + "\n")
        self.n_ok = self.n_skipped = 0
        self.examples: list[dict] = []  # the first few skipped rows, for the summary
        self.extra_fields, self.extra_lines = 0, []
        self._hashes: list[np.ndarray] = []
        self.duplicates: dict[str, list] = {}

    def where(self, file: str, line) -> int | str:
        """A row's location as reports give it: the line, or ``file:line`` for several files."""
        return f"{file}:{line}" if self.several else int(line)

    def append(self, res: PartitionResult) -> None:
        """Write one partition's entries, skipped rows and embeddings."""
        f = clean_field(res.file)
        for line, ident, smi, reason, detail in res.skipped:
            self.n_skipped += 1
            if len(self.examples) < 5:
                self.examples.append({"file": f, "line": int(line), "id": ident, "smiles": smi, "reason": reason})
            self.skipped.write("\t".join((f, line, ident, smi, reason, detail)) + "\n")
        self.emb.write(res.embeddings)
        for line, ident, smi, parent, key in res.entries:
            self.ids.write("\t".join((str(self.n_ok), ident, f, line, smi, parent, key)) + "\n")
            self.n_ok += 1
        self._hashes.append(np.fromiter((hash(e[1]) for e in res.entries), dtype=np.int64, count=len(res.entries)))
        self.extra_fields += res.extra_fields
        self.extra_lines += [self.where(f, no) for no in res.extra_lines][: 5 - len(self.extra_lines)]

    def _find_duplicates(self) -> dict[str, list]:
        """Ids given to more than one entry, with their locations, in the order of their first entry."""
        h = np.sort(np.concatenate(self._hashes)) if self._hashes else np.empty(0, dtype=np.int64)
        wanted = set(h[1:][h[1:] == h[:-1]].tolist())
        if not wanted:
            return {}
        found: dict[str, list] = {}
        self.ids.flush()
        with open(self.out / INDEX_IDS, encoding="utf-8", newline="\n") as fh:
            next(fh)
            for line in fh:
                _, ident, f, no = line.split("\t", 4)[:4]
                if hash(ident) in wanted:
                    found.setdefault(ident, []).append(self.where(f, no))
        return {i: where for i, where in found.items() if len(where) > 1}

    def close(self, metadata: dict) -> None:
        self.duplicates = self._find_duplicates()
        if self.duplicates:
            with open(self.out / INDEX_DUPLICATES, "w", encoding="utf-8", newline="\n") as fh:
                fh.write("id\tentries\tlines\n")
                for i, where in self.duplicates.items():
                    fh.write(f"{i}\t{len(where)}\t{','.join(map(str, where))}\n")
        else:
            (self.out / INDEX_DUPLICATES).unlink(missing_ok=True)
        self.ids.close()
        self.skipped.close()
        self.emb.close(metadata)

    def abort(self, remove: bool = False, keep_skipped: bool = False) -> None:
        self.ids.close()
        self.skipped.close()
        self.emb.abort()
        if remove:
            for name in (INDEX_EMBEDDINGS, INDEX_IDS, INDEX_DUPLICATES) + (() if keep_skipped else (INDEX_SKIPPED,)):
                (self.out / name).unlink(missing_ok=True)
