"""A compound library embedded by a bridge: built chunk by chunk, stored on disk, loaded to search.

An index folder holds ``embeddings.safetensors`` (float32 ``(n, dim)``, written chunk by
chunk), ``ids.tsv`` (row, id, line, input SMILES, parent SMILES, parent InChIKey),
``skipped.tsv`` (every input row that did not become an entry, with its line number and
reason), ``duplicate_ids.tsv`` (only when some id names more than one entry: every entry is
kept, the duplicates are listed) and ``index.json`` (the manifest, written last: the run's
model sha256, encoders, dim, count and source file, with how many rows had more fields than
the header). An index answers only to the model that built it
(:meth:`thinbridge.retrieval.Retriever.check_index`).

:func:`build_index` runs four named steps per chunk of rows: standardise to ChEMBL parents
(:func:`standardise_batch`, on several cores), fingerprint, embed with the bridge's drug head,
and append to the files (:class:`IndexWriter`).
"""
from __future__ import annotations

import csv
import json
import os
import struct
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import jsonio
from .config import CHUNK_SIZE
from .errors import UserError
from .library import clean_field, count_lines, read_library

INDEX_FORMAT = "thinbridge-index-1"
INDEX_MANIFEST = "index.json"
INDEX_EMBEDDINGS = "embeddings.safetensors"
INDEX_IDS = "ids.tsv"
INDEX_SKIPPED = "skipped.tsv"
INDEX_DUPLICATES = "duplicate_ids.tsv"
INDEX_TENSOR = "embeddings"
#: below this many input rows an index is built in one process (worker start-up costs more)
PARALLEL_MIN_ROWS = 2000
_HEADER_RESERVE = 8192  # bytes kept for the safetensors JSON header; 8 + this is a multiple of 8
IDS_COLUMNS = ["row", "id", "line", "smiles", "parent_smiles", "parent_inchikey"]
SKIPPED_COLUMNS = ["line", "id", "smiles", "reason", "detail"]


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
# the files
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




class IndexWriter:
    """The three files of an index under construction; ``close`` writes the manifest's inputs,
    ``abort`` removes what an interrupted build left."""

    def __init__(self, out: Path, dim: int):
        self.out = out
        self.emb = Float32Writer(out / INDEX_EMBEDDINGS, dim)
        self.ids = open(out / INDEX_IDS, "w", encoding="utf-8", newline="\n")
        self.skipped = open(out / INDEX_SKIPPED, "w", encoding="utf-8", newline="\n")
        self.ids.write("\t".join(IDS_COLUMNS) + "\n")
        self.skipped.write("\t".join(SKIPPED_COLUMNS) + "\n")
        self.n_ok = self.n_skipped = 0
        self.examples: list[tuple] = []  # the first few skipped rows, for the summary
        self.lines_of: dict[str, list[int]] = {}  # id -> lines of the entries with that id

    def add(self, rows: list[tuple[int, str, str]], results: list[tuple[str, str, str, str]], embed) -> None:
        """Rows of one chunk with their standardisation results; ``embed(parent_smiles) -> (n, dim)``."""
        good = []
        for (no, ident, smi), (p, key, reason, detail) in zip(rows, results):
            if reason:
                self.n_skipped += 1
                if len(self.examples) < 5:
                    self.examples.append((no, ident, smi, reason))
                self.skipped.write("\t".join(clean_field(v) for v in (no, ident, smi, reason, detail)) + "\n")
            else:
                good.append((no, ident, smi, p, key))
        if good:
            self.emb.write(embed([g[3] for g in good]))
            for no, ident, smi, p, key in good:
                self.lines_of.setdefault(ident, []).append(no)
                self.ids.write("\t".join(clean_field(v) for v in (self.n_ok, ident, no, smi, p, key)) + "\n")
                self.n_ok += 1

    def duplicates(self) -> dict[str, list[int]]:
        """Ids given to more than one entry, with their lines (every entry is kept)."""
        return {i: lines for i, lines in self.lines_of.items() if len(lines) > 1}

    def close(self, metadata: dict) -> None:
        dup = self.duplicates()
        if dup:
            with open(self.out / INDEX_DUPLICATES, "w", encoding="utf-8", newline="\n") as fh:
                fh.write("id\tentries\tlines\n")
                for i, lines in dup.items():
                    fh.write(f"{clean_field(i)}\t{len(lines)}\t{','.join(map(str, lines))}\n")
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


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _standardise_chunk(smiles: list[str], workers: int) -> list[tuple[str, str, str, str]]:
    """:func:`standardise_batch` over a chunk, in parts spread over ``workers`` processes."""
    from .parallel import parallel_map

    step = max(64, -(-len(smiles) // (workers * 4))) if workers > 1 else len(smiles) or 1
    parts = [smiles[i:i + step] for i in range(0, len(smiles), step)]
    return [r for part in parallel_map(standardise_batch, parts, n_jobs=workers) for r in part]


def _check_out(out: Path, run_dir: Path) -> None:
    from .paths import check_out_dir

    check_out_dir(out)
    if out.resolve() == Path(run_dir).resolve():
        raise UserError("--out must not be the run folder")


def build_index(model, run: dict, smiles_file: str | Path, out: str | Path, chunk_size: int = CHUNK_SIZE,
                workers: int | None = None, show_progress: bool = True) -> dict:
    """Standardise, fingerprint and embed a SMILES file into an index folder (see the module doc).

    ``model`` is the bridge (:class:`thinbridge.model.Bridge`); ``run`` names it in the manifest
    (``path``, ``model_sha256``, ``encoders``, ``data_hash``) and gives its ``drug_encoder`` name. Reads ``chunk_size`` rows at a time
    (memory stays bounded); standardises on ``workers`` processes (default: every core, or one
    for small files). Every row that fails is written to ``skipped.tsv`` with its line number and
    reason. Returns a summary dict.
    """
    from . import __version__
    from .data import DROP_REASONS, sha256_file
    from .features import drug_encoder, encode_drugs
    from .progress import progress

    if int(chunk_size) < 1:
        raise UserError(f"chunk size must be at least 1, got {chunk_size}")
    src, out = Path(smiles_file), Path(out)
    encoder = run.get("drug_encoder", "ecfp4")
    rows, layout = read_library(src)
    _check_out(out, run["path"])
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX_MANIFEST).unlink(missing_ok=True)  # an interrupted build leaves no manifest
    n_lines = count_lines(src)
    workers = max(1, int(workers)) if workers else ((os.cpu_count() or 1) if n_lines >= PARALLEL_MIN_ROWS else 1)

    t0 = time.perf_counter()
    dim = model.drug_head.out_features
    writer = IndexWriter(out, dim)
    n_read = 0
    with progress(total=n_lines, desc="indexing", unit="mol", disable=not show_progress) as bar:
        try:
            for chunk in _chunks(rows, int(chunk_size)):
                results = _standardise_chunk([c[2] for c in chunk], workers)
                writer.add(chunk, results, lambda parents: model.embed(encode_drugs(parents, encoder), "drug"))
                n_read += len(chunk)
                bar.update(len(chunk))
            bar.update(max(0, n_lines - bar.n))
        except BaseException:  # an error, Ctrl-C or SIGTERM: no half-written index is left behind
            writer.abort(remove=True)
            raise
    seconds = time.perf_counter() - t0
    if writer.n_ok == 0:
        writer.abort(remove=True, keep_skipped=True)
        first = "; ".join(f"line {no}: {reason}" for no, _, _, reason in writer.examples[:3])
        raise UserError(f"{src.name}: no valid SMILES ({n_read} row(s) read, all invalid: {first}); "
                        f"all listed in {out / INDEX_SKIPPED}" if n_read else f"{src.name}: no SMILES rows")
    dup = writer.duplicates()
    manifest = {
        "format": INDEX_FORMAT, "count": writer.n_ok, "dim": dim, "rows_read": n_read, "skipped": writer.n_skipped,
        "duplicate_ids": len(dup),
        "source": {"name": src.name, "sha256": sha256_file(src), **layout},
        "run": {"path": str(Path(run["path"]).resolve()), "model_sha256": run["model_sha256"],
                "encoders": run.get("encoders"), "data_hash": run.get("data_hash")},
        "encoders": {"drug": drug_encoder(encoder)[0]},
        "standardisation": "ChEMBL parent (thinbridge.data.standardise_parent), as the training data",
        "files": {"embeddings": INDEX_EMBEDDINGS, "ids": INDEX_IDS, "skipped": INDEX_SKIPPED},
        "thinbridge_version": __version__,
    }
    writer.close({"format": INDEX_FORMAT, "model_sha256": run["model_sha256"], "count": writer.n_ok, "dim": dim})
    jsonio.write(out / INDEX_MANIFEST, manifest)
    return {"out": str(out), "count": writer.n_ok, "rows_read": n_read, "skipped": writer.n_skipped,
            "skipped_examples": [{"line": no, "id": i, "smiles": s, "reason": r, "meaning": DROP_REASONS.get(r, r)}
                                 for no, i, s, r in writer.examples],
            "duplicate_ids": len(dup), "duplicate_examples": dict(list(dup.items())[:3]),
            "rows_with_extra_fields": layout["stats"]["rows_with_extra_fields"],
            "extra_field_lines": layout["stats"]["extra_field_lines"],
            "seconds": seconds, "per_second": n_read / seconds if seconds > 0 else float("inf"),
            "workers": workers}
