"""Shards: the partitions of a library that Dask workers embed, each written and checked on disk
until the index is merged, so that a build that stops part-way can be resumed.

``OUT/shards/`` holds

* ``plan.json`` — what the shards are made for: the source files (path, size, sha256,
  layout, partitions as byte ranges), the rows per partition and the bridge's sha256;
* per partition ``NAME.safetensors`` (float32 embeddings), ``NAME.ids.tsv`` (line, id,
  SMILES, parent SMILES, parent InChIKey of each embedded row), ``NAME.skipped.tsv`` (line,
  id, SMILES, reason, detail) and ``NAME.json``: the shard's manifest, with the sha256 of the
  three files, written last (each file is written under a temporary name and renamed).

A shard is finished when its manifest is there, names the partition the plan expects and the
three files match its checksums (:func:`verify_shard`). A re-run with the same plan keeps the
finished shards and redoes the others (:func:`start_plan`); a different plan (other inputs,
bridge or partition size) removes the old shards first. Files are safetensors, TSV and JSON:
nothing is pickled. :func:`build_shard` is what a worker runs for one partition; the
builder (:mod:`thinbridge.search.build`) merges the shards in (file, partition) order, never in the
order they finished.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np

from thinbridge._util import jsonio
from thinbridge._util.errors import UserError
from thinbridge.search.embeddings import INDEX_TENSOR
from thinbridge.search.partition import PartitionResult, embed_partition

SHARD_DIR = "shards"
PLAN_FILE = "plan.json"
PLAN_FORMAT = "thinbridge-shard-plan-1"
SHARD_FORMAT = "thinbridge-shard-1"
_FILES = {"embeddings": ".safetensors", "ids": ".ids.tsv", "skipped": ".skipped.tsv"}
_IDS_HEADER = "line\tid\tsmiles\tparent_smiles\tparent_inchikey\n"
_SKIPPED_HEADER = "line\tid\tsmiles\treason\tdetail\n"


def shard_name(file_no: int, part_no: int) -> str:
    """``f00000-p0000000``: the shard of partition ``part_no`` of source file ``file_no``."""
    return f"f{file_no:05d}-p{part_no:07d}"


def partition_id(source: dict, part: dict) -> dict:
    """What identifies a partition: its file's sha256 and its byte range."""
    return {"source_sha256": source["sha256"], "start": part["start"], "end": part["end"]}


def _identity(plan: dict) -> str:
    """The plan without what may change while the content does not (modification times)."""
    return json.dumps({**plan, "sources": [{k: v for k, v in s.items() if k != "mtime_ns"} for s in plan["sources"]]},
                      sort_keys=True)


def _sha256(path: Path) -> str:
    from thinbridge._util.jsonio import sha256_file

    return sha256_file(path)


# ----------------------------------------------------------------------------------------------
# the folder
# ----------------------------------------------------------------------------------------------
def start_plan(out: Path, plan: dict) -> tuple[Path, set[str]]:
    """Make ``OUT/shards`` ready for ``plan``; return it and the names of the finished shards kept.

    Shards of another plan are removed; so are unfinished or damaged shards of this one, and
    the temporary files of writes that were cut short.
    """
    folder = Path(out) / SHARD_DIR
    plan_file = folder / PLAN_FILE
    try:
        old = json.loads(plan_file.read_text()) if plan_file.is_file() else None
    except (OSError, json.JSONDecodeError):
        old = None
    if old is None or _identity(old) != _identity(plan):
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    jsonio.write(plan_file, plan)
    expected = {shard_name(fi, pi): partition_id(s, p) for fi, s in enumerate(plan["sources"])
                for pi, p in enumerate(s["partitions"])}
    done = {name for name, pid in expected.items() if verify_shard(folder, name, pid)}
    for f in folder.iterdir():
        if f.name != PLAN_FILE and (f.name.endswith(".part") or f.name.split(".", 1)[0] not in done):
            f.unlink()
    return folder, done


def remove(out: Path) -> None:
    """Remove ``OUT/shards`` (once the index is complete, or when there is nothing to resume)."""
    shutil.rmtree(Path(out) / SHARD_DIR, ignore_errors=True)


def _manifest(folder: Path, name: str) -> dict | None:
    try:
        return json.loads((folder / f"{name}.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def verify_shard(folder: Path, name: str, pid: dict) -> bool:
    """Whether shard ``name`` is finished: a manifest for partition ``pid`` and files that match it."""
    m = _manifest(folder, name)
    if not m or m.get("format") != SHARD_FORMAT or m.get("partition") != pid:
        return False
    try:
        return all(_sha256(folder / f"{name}{ext}") == m["sha256"][role] for role, ext in _FILES.items())
    except (OSError, KeyError):
        return False


# ----------------------------------------------------------------------------------------------
# one shard
# ----------------------------------------------------------------------------------------------
def _write_atomic(path: Path, write) -> str:
    """``write(tmp_path)``, then rename to ``path``; return the file's sha256."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        digest = _sha256(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digest


def _write_tsv(path: Path, header: str, rows: list[tuple[str, ...]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(header)
        fh.writelines("\t".join(r) + "\n" for r in rows)


def write_shard(folder: Path, name: str, pid: dict, res: PartitionResult, worker: str = "") -> dict:
    """Write the three files of shard ``name``, then its manifest (last); return the manifest."""
    from safetensors.numpy import save_file

    from thinbridge._util.numerics import describe

    sha = {
        "embeddings": _write_atomic(folder / f"{name}.safetensors",
                                    lambda p: save_file({INDEX_TENSOR: np.ascontiguousarray(res.embeddings)}, str(p))),
        "ids": _write_atomic(folder / f"{name}.ids.tsv", lambda p: _write_tsv(p, _IDS_HEADER, res.entries)),
        "skipped": _write_atomic(folder / f"{name}.skipped.tsv", lambda p: _write_tsv(p, _SKIPPED_HEADER, res.skipped)),
    }
    manifest = {"format": SHARD_FORMAT, "name": name, "partition": pid, "file": res.file, "rows_read": res.rows_read,
                "entries": len(res.entries), "skipped": len(res.skipped), "extra_fields": res.extra_fields,
                "extra_lines": res.extra_lines, "sha256": sha, "numerics": describe().get("profile"), "worker": worker}
    _write_atomic(folder / f"{name}.json", lambda p: jsonio.write(p, manifest))
    return manifest


def _read_tsv(path: Path) -> list[tuple[str, ...]]:
    with open(path, "rb") as fh:
        next(fh)
        return [tuple(line.decode("utf-8").rstrip("\n").split("\t")) for line in fh]


def read_shard(folder: Path, name: str, pid: dict, file: str) -> PartitionResult:
    """Shard ``name``, checked against its checksums, as the :class:`PartitionResult` it was made from."""
    from safetensors.numpy import load_file

    if not verify_shard(folder, name, pid):
        (folder / f"{name}.json").unlink(missing_ok=True)
        raise UserError(f"shard {folder / name} is missing or damaged (checksum); run the same command again to "
                        "rebuild it")
    m = _manifest(folder, name)
    return PartitionResult(file, load_file(str(folder / f"{name}.safetensors"))[INDEX_TENSOR],
                           _read_tsv(folder / f"{name}.ids.tsv"), _read_tsv(folder / f"{name}.skipped.tsv"),
                           m["extra_fields"], m["extra_lines"])


def _check_unchanged(path: Path, source: dict) -> None:
    """The file a worker reads must be the one that was planned (same size, same modification second)."""
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"{path}: not readable on Dask worker {socket.gethostname()}; the SMILES files and --out "
                        "must be on a file system every worker sees") from None
    if st.st_size != source["size"] or abs(st.st_mtime_ns - source["mtime_ns"]) >= 1_000_000_000:
        raise UserError(f"{path} changed after the build was planned; run the build again")


def build_shard(source: dict, file_no: int, part_no: int, folder: str, heads) -> dict:
    """One partition, on a worker: read, standardise, fingerprint, embed and write its shard.

    ``source`` is the file's entry of the plan; ``heads`` the bridge's
    :class:`~thinbridge.bridge.runfiles.NumpyHeads` (sent to each worker once). Importing this module
    imports thinbridge, which pins the numerical kernels in the worker (:mod:`thinbridge._util.numerics`).
    Returns a small summary for the progress bar.
    """
    from thinbridge.search.library import read_library

    path, part = Path(source["path"]), source["partitions"][part_no]
    _check_unchanged(path, source)
    rows, layout = read_library(path, part)
    res = embed_partition(rows, heads, source["name"], layout["stats"])
    name = shard_name(file_no, part_no)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    write_shard(Path(folder), name, partition_id(source, part), res, worker)
    return {"name": name, "lines": partition_lines(source, part_no), "rows_read": res.rows_read, "worker": worker}


def partition_lines(source: dict, part_no: int) -> int:
    """How many lines partition ``part_no`` of ``source`` spans (for progress bars)."""
    parts = source["partitions"]
    nxt = parts[part_no + 1]["first_line"] if part_no + 1 < len(parts) else source["lines"] + 1
    return nxt - parts[part_no]["first_line"]


def worker_state() -> dict:
    """What a worker reports before a build: thinbridge's version and its numerics settings."""
    from thinbridge import __version__
    from thinbridge._util.numerics import describe

    return {"thinbridge": __version__, "numerics": describe()}
