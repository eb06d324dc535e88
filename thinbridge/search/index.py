"""A compound library embedded by a bridge: its files, how they are written, loaded and searched.

An index folder holds ``embeddings.safetensors`` (float32 ``(n, dim)``, written partition by
partition), ``ids.tsv`` (row, id, file, line, input SMILES, parent SMILES, parent InChIKey),
``skipped.tsv`` (every input row that did not become an entry, with its file, line and
reason), ``duplicate_ids.tsv`` (only when some id names more than one entry: every entry is
kept, the duplicates are listed), for approximate search ``ann.faiss`` (:mod:`thinbridge.search.ann`)
and ``index.json`` (the manifest, written last: kind, the run's model sha256, encoders, dim,
count, the source files with their sha256, every file's sha256). An index answers only to the
model that built it (:meth:`thinbridge.search.retrieval.Retriever.check_index`). Indexes of the first
format (one source file, no ``file`` column, exact search only) are still read.

One partition of a library goes through :func:`embed_partition`: standardise to ChEMBL parents
and fingerprint them (:func:`prepare_structures`; worker processes may do this part), embed
with the bridge's drug head; the result
(:class:`PartitionResult`) is appended to the files by :class:`IndexWriter`, in the order of
the partitions, whichever process or machine computed it (:mod:`thinbridge.search.build`).
Searching: :meth:`Index.search` (exact: :meth:`EmbeddingsFile.top_k`, in blocks read from the
file, so an index larger than memory can be scanned).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from thinbridge._util.errors import UserError
from thinbridge.search.embeddings import EmbeddingsFile, Float32Writer
from thinbridge.search.library import UNREADABLE, clean_field
from thinbridge.search.partition import PartitionResult

INDEX_FORMAT = "thinbridge-index-2"
#: formats :meth:`Index.load` reads (1: one source file, exact search only)
READABLE_FORMATS = ("thinbridge-index-1", INDEX_FORMAT)
INDEX_MANIFEST = "index.json"
INDEX_EMBEDDINGS = "embeddings.safetensors"
INDEX_IDS = "ids.tsv"
INDEX_SKIPPED = "skipped.tsv"
INDEX_DUPLICATES = "duplicate_ids.tsv"
IDS_COLUMNS = ["row", "id", "file", "line", "smiles", "parent_smiles", "parent_inchikey"]
SKIPPED_COLUMNS = ["file", "line", "id", "smiles", "reason", "detail"]


def skip_reasons() -> dict[str, str]:
    """What each reason in ``skipped.tsv`` means (the structure reasons are ``prepare``'s)."""
    from thinbridge.data.pairs import DROP_REASONS

    return {UNREADABLE: "the line is not valid UTF-8 text", **DROP_REASONS}


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
        """``exact``, ``hnsw`` or ``ivfpq`` (:mod:`thinbridge.search.ann`)."""
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
            from thinbridge.search import ann

            spec = self.manifest["ann"]
            self._ann = ann.read(self.path / spec["file"], spec["sha256"])
        return self._ann

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores (inner products, best first) of the ``k`` entries nearest ``query``,
        exactly or through the approximate index, by the index's kind."""
        if self.kind == "exact":
            rows, scores = self.file.top_k(query[None, :], k)
            return rows[0], scores[0]
        from thinbridge.search import ann

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
