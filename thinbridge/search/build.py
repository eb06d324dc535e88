"""Building an index from one or many SMILES files, here or on a Dask cluster: the same files either way.

::

    from thinbridge.search.build import build_index      # Retriever.build_index passes the run's bridge
    build_index(heads, run, "library.smi", "my_index")                   # this machine
    build_index(heads, run, "libs/*.smi", "my_index", workers=4)         # a LocalCluster of 4 Dask workers
    build_index(heads, run, ["a.csv", "b.csv"], "my_index", scheduler="tcp://10.0.0.5:8786", kind="ivfpq")

The steps:

1. **plan** — every file is read once, without chemistry, hashed and cut into partitions of
   ``chunk_size`` records (:func:`thinbridge.search.library.plan_library`);
2. **embed** — each partition is read, standardised, fingerprinted and embedded in one batch
   (:func:`thinbridge.search.partition.embed_partition`): here, partition after partition, with the
   standardisation and fingerprints done by one pool of ``processes`` forked workers (this
   process reads ahead, embeds and writes); or on Dask workers,
   each partition written as a checksummed shard (:mod:`thinbridge.search.cluster`,
   :mod:`thinbridge.search.shards`), so that a build that stops is resumed where it stopped;
3. **write** — the partitions are appended in (file, partition) order
   (:class:`thinbridge.search.index.IndexWriter`), never in the order they finished;
4. **search structure** — for ``hnsw`` and ``ivfpq``, a FAISS index over the embeddings, with
   its recall@10 against exact search (:mod:`thinbridge.search.ann`);
5. **manifest** — ``index.json``, written last: a folder without it is not an index.

The files are written into a temporary sibling of the index folder and replace the old index
in one step at the end (:func:`thinbridge._util.outputs.replacing_folder`, which also makes the
build the folder's only writer): a build that stops, however it stops, leaves the old index
whole. A Dask build's shards live in ``OUT/shards/`` beside the old index until the merge.

A partition is the unit of batching as well as of work: the drug head's float32 products
depend in the last bits on how many rows go through at once, so both engines embed exactly
the same batches, and the files are byte for byte the same whatever the engine, the number of
workers or the order in which partitions finished (``--chunk-size`` is part of the result).
"""
from __future__ import annotations

import os
import time
from collections import deque
from functools import partial
from pathlib import Path

from thinbridge._util import jsonio
from thinbridge.search import shards
from thinbridge.config import CHUNK_SIZE
from thinbridge._util.errors import UserError
from thinbridge.search.index import (INDEX_DUPLICATES, INDEX_EMBEDDINGS, INDEX_FORMAT, INDEX_IDS, INDEX_MANIFEST,
                                     INDEX_SKIPPED, IndexWriter, skip_reasons)
from thinbridge.search.ann import ANN_FILE
from thinbridge.search.embeddings import EmbeddingsFile
from thinbridge.search.partition import embed_partition, join_prepared, prepare_structures
from thinbridge.search.library import display_names, expand_sources, plan_library, read_library
from thinbridge._util.parallel import n_workers, worker_pool
from thinbridge._util.progress import progress

#: every name an index build writes in its folder (an old index's files of these names are replaced
#: or removed; anything else in the folder is kept); the ``.part``: left by a killed build of earlier versions
INDEX_FILES = (INDEX_MANIFEST, INDEX_EMBEDDINGS, INDEX_IDS, INDEX_SKIPPED, INDEX_DUPLICATES, ANN_FILE,
               shards.SHARD_DIR, INDEX_EMBEDDINGS + ".part")
#: below this many input lines a build on this machine standardises in one process (forking costs more)
PARALLEL_MIN_ROWS = 2000


def check_options(chunk_size: int = CHUNK_SIZE, kind: str = "auto", processes: int | None = None,
                  scheduler: str | None = None, workers: int | None = None) -> None:
    """Fail now, before any work, on options that cannot go together or cannot work here."""
    from thinbridge.search.ann import check_kind, faiss

    if int(chunk_size) < 1:
        raise UserError(f"chunk size must be at least 1, got {chunk_size}")
    check_kind(kind)
    for name, v in (("--processes", processes), ("--workers", workers)):
        if v is not None and int(v) < 1:
            raise UserError(f"{name} must be at least 1, got {v}")
    if scheduler is not None and workers is not None:
        raise UserError("give --scheduler (a running Dask cluster) or --workers (a new one on this machine), not both")
    if processes is not None and (scheduler is not None or workers is not None):
        raise UserError("--processes is for builds without Dask; on Dask each worker is a process")
    if scheduler is not None:
        from thinbridge.search.cluster import check_address

        check_address(scheduler)
    if kind in ("hnsw", "ivfpq"):
        faiss()


def _check_out(out: Path, run_dir: Path) -> None:
    from thinbridge._util.paths import check_out_dir

    check_out_dir(out)
    if out.resolve() == Path(run_dir).resolve():
        raise UserError("--out must not be the run folder")


def make_plan(sources: list[Path], chunk_size: int, run: dict, dim: int, show_progress: bool = True) -> dict:
    """Every source file's partitions, sha256 and layout (:func:`plan_library`), named as the
    index's files will name them, with what else decides the result: the bridge and the chunk size."""
    names = display_names(sources)
    with progress(total=sum(p.stat().st_size for p in sources), desc="reading inputs", unit="B", unit_scale=True,
                  disable=not show_progress) as bar:
        planned = [{"name": name, **plan_library(p.resolve(), chunk_size, bar)} for p, name in zip(sources, names)]
    return {"format": shards.PLAN_FORMAT, "model_sha256": run["model_sha256"], "dim": int(dim),
            "chunk_size": int(chunk_size), "sources": planned}


def _total_lines(plan: dict) -> int:
    return sum(s["lines"] for s in plan["sources"])


def _partitions(plan: dict):
    """``(file number, source, partition number, partition)`` in (file, partition) order."""
    for fi, source in enumerate(plan["sources"]):
        for pi, part in enumerate(source["partitions"]):
            yield fi, source, pi, part


# ----------------------------------------------------------------------------------------------
# the two engines
# ----------------------------------------------------------------------------------------------
def _starter(submit, processes: int):
    """``start(smiles)``: send a partition's SMILES to the workers in parts (about four per worker,
    at least 64 SMILES each) and return a function that waits for them and joins the parts."""
    def start(smiles: list[str]):
        step = max(64, -(-len(smiles) // (processes * 4))) if processes > 1 else len(smiles) or 1
        waits = [submit(smiles[i:i + step]) for i in range(0, len(smiles), step)]
        return lambda: join_prepared([w() for w in waits])

    return start


def _build_here(plan: dict, heads, out: Path, processes: int | None, show_progress: bool) -> tuple[IndexWriter, dict]:
    """Embed the partitions in order in this process and append each to the files. With several
    ``processes``, one pool of forked workers standardises and fingerprints the molecules while
    this process reads the next partition and embeds and writes the finished one."""
    total = _total_lines(plan)
    processes = int(processes) if processes else ((os.cpu_count() or 1) if total >= PARALLEL_MIN_ROWS else 1)
    processes = n_workers(processes, total) if processes > 1 else 1
    writer = IndexWriter(out, heads.dim, len(plan["sources"]) > 1)
    prepare = partial(prepare_structures, drug_encoder=heads.drug_encoder)
    with progress(total=total, desc="indexing", unit="line", disable=not show_progress) as bar:

        def finish(source, pi, rows, layout, wait):
            writer.append(embed_partition(rows, heads, source["name"], layout["stats"], wait()))
            bar.update(shards.partition_lines(source, pi))

        try:
            with worker_pool(prepare, processes) as submit:
                start, ahead = _starter(submit, processes), deque()
                for _, source, pi, part in _partitions(plan):
                    rows, layout = read_library(source["path"], part)
                    rows = list(rows)
                    ahead.append((source, pi, rows, layout, start([r.smiles for r in rows if not r.problem])))
                    if len(ahead) > 1:  # the workers keep one partition ahead of the one finished here
                        finish(*ahead.popleft())
                while ahead:
                    finish(*ahead.popleft())
        except BaseException:  # an error, Ctrl-C or SIGTERM: no half-written index is left behind
            writer.abort(remove=True)
            raise
    return writer, {"engine": "this machine", "processes": processes}


def _build_on_dask(client, plan: dict, heads, out: Path, stage: Path,
                   show_progress: bool) -> tuple[IndexWriter, dict]:
    """Embed the unfinished partitions on the cluster as shards in ``out``, then merge every shard
    in order into the files in ``stage``."""
    from thinbridge.search.cluster import check_workers, run_partitions

    info = {"engine": "dask", **check_workers(client)}
    folder, done = shards.start_plan(out, plan)
    todo = [(name, (source, fi, pi, str(folder))) for fi, source, pi, _ in _partitions(plan)
            if (name := shards.shard_name(fi, pi)) not in done]
    total = _total_lines(plan)
    left = sum(shards.partition_lines(source, pi) for _, (source, _, pi, _) in todo)
    with progress(total=total, initial=total - left, desc=f"indexing on {info['workers']} Dask worker(s)",
                  unit="line", disable=not show_progress) as bar:
        run_partitions(client, shards.build_shard, todo, heads, lambda res: bar.update(res["lines"]))
    writer = IndexWriter(stage, heads.dim, len(plan["sources"]) > 1)
    n_parts = sum(len(s["partitions"]) for s in plan["sources"])
    with progress(total=n_parts, desc="merging shards", unit="shard", disable=not show_progress) as bar:
        try:
            for fi, source, pi, part in _partitions(plan):
                writer.append(shards.read_shard(folder, shards.shard_name(fi, pi), shards.partition_id(source, part),
                                                source["name"]))
                bar.update(1)
        except BaseException:
            writer.abort(remove=True)
            raise
    info.update(partitions_reused=len(done), partitions_built=len(todo))
    return writer, info


def _on_dask(scheduler, workers, sources, chunk_size, run, heads, out, stage, show_progress):
    """Connect (failing fast), plan and build on Dask; an interrupt says that the shards are kept."""
    from thinbridge.search.cluster import connect

    try:
        with connect(scheduler, workers) as client:
            plan = make_plan(sources, chunk_size, run, heads.dim, show_progress)
            writer, info = _build_on_dask(client, plan, heads, out, stage, show_progress)
    except BaseException as e:
        if not isinstance(e, Exception) and (out / shards.SHARD_DIR).is_dir():  # Ctrl-C, SIGTERM
            stopped = "Dask workers stopped" if scheduler is None else "Dask tasks cancelled"
            e.thinbridge_note = (f"finished shards kept in {out / shards.SHARD_DIR}, {stopped}; "
                                 "run the same command to resume")
        raise
    return plan, writer, info


# ----------------------------------------------------------------------------------------------
# the whole build
# ----------------------------------------------------------------------------------------------
def build_index(heads, run: dict, smiles_files, out: str | Path, chunk_size: int = CHUNK_SIZE, kind: str = "auto",
                processes: int | None = None, scheduler: str | None = None, workers: int | None = None,
                show_progress: bool = True) -> dict:
    """Standardise, fingerprint and embed SMILES files into an index folder (see the module doc).

    ``heads``: the bridge (:class:`~thinbridge.bridge.runfiles.NumpyHeads`); ``run`` names it in the
    manifest (``path``, ``model_sha256``, ``encoders``, ``data_hash``). ``smiles_files``: a
    path or glob, or a list of them. ``kind``: ``auto`` (exact below
    :data:`thinbridge.search.ann.AUTO_EXACT_BELOW` molecules, else ivfpq), ``exact``, ``hnsw`` or
    ``ivfpq``. Engine: ``scheduler`` (a running Dask cluster) or ``workers`` (a new
    LocalCluster); with neither, this process, standardising on ``processes`` forked processes
    (default: every core, or one for small inputs). Rows that fail are listed in ``skipped.tsv``
    with their file, line and reason. Returns a summary dict.
    """
    from thinbridge._util.outputs import replacing_folder

    check_options(chunk_size, kind, processes, scheduler, workers)
    sources = expand_sources(smiles_files)
    out = Path(out)
    _check_out(out, run["path"])
    t0 = time.perf_counter()
    had_index = (out / INDEX_MANIFEST).is_file()
    with replacing_folder(out, INDEX_FILES, "thinbridge index") as stage:
        if scheduler is not None or workers is not None:
            plan, writer, info = _on_dask(scheduler, workers, sources, chunk_size, run, heads, out, stage,
                                          show_progress)
        else:
            plan = make_plan(sources, chunk_size, run, heads.dim, show_progress)
            writer, info = _build_here(plan, heads, stage, processes, show_progress)
        info.update(partitions=sum(len(s["partitions"]) for s in plan["sources"]), chunk_size=int(chunk_size),
                    seconds=time.perf_counter() - t0)
        if writer.n_ok == 0:
            writer.abort(remove=True, keep_skipped=True)
            shards.remove(out)  # the inputs are the problem: nothing to resume
            if had_index:  # a good index stays; the rows are named in the message
                raise UserError(_nothing_indexed(plan, writer, None) + f"; the index in {out} is unchanged")
        else:
            summary = _finish(writer, plan, run, kind, stage, info, show_progress)
    if writer.n_ok == 0:  # a new folder: it holds skipped.tsv, the list of what was wrong
        raise UserError(_nothing_indexed(plan, writer, out))
    return {**summary, "out": str(out)}


def _nothing_indexed(plan: dict, writer: IndexWriter, out: Path | None) -> str:
    names = [s["name"] for s in plan["sources"]]
    what = names[0] if len(names) == 1 else f"{len(names)} files"
    if not writer.n_skipped:
        return f"{what}: no SMILES rows"
    first = "; ".join(f"line {writer.where(e['file'], e['line'])}: {e['reason']}" for e in writer.examples[:3])
    return (f"{what}: no valid SMILES ({writer.n_skipped} row(s) read, all invalid: {first})"
            + (f"; all listed in {out / INDEX_SKIPPED}" if out is not None else ""))


def _add_ann(out: Path, kind: str, show_progress: bool) -> dict | None:
    """Build, write and measure the approximate-search index of ``kind`` (None for exact)."""
    from thinbridge.search import ann

    (out / ann.ANN_FILE).unlink(missing_ok=True)
    if kind == "exact":
        return None
    emb = EmbeddingsFile.open(out / INDEX_EMBEDDINGS)
    params = ann.default_params(kind, len(emb), emb.dim)
    t0 = time.perf_counter()
    index = ann.build(kind, emb, params, show_progress)
    seconds = time.perf_counter() - t0
    sha = ann.write(index, out / ann.ANN_FILE)
    recall = ann.recall_at_k(index, params, emb)
    return {"file": ann.ANN_FILE, "sha256": sha, "bytes": (out / ann.ANN_FILE).stat().st_size, "params": params,
            "recall_at_10": recall["recall"], "recall": recall, "build_seconds": seconds}


def _finish(writer: IndexWriter, plan: dict, run: dict, kind: str, out: Path, info: dict, show_progress: bool) -> dict:
    """Close the files, add the search structure, write the manifest (last); the summary."""
    from thinbridge import __version__
    from thinbridge.search.ann import choose_kind
    from thinbridge._util.jsonio import sha256_file
    from thinbridge.features.drugs import drug_encoder

    n, dim = writer.n_ok, writer.emb.dim
    writer.close({"format": INDEX_FORMAT, "model_sha256": run["model_sha256"], "count": n, "dim": dim})
    chosen = choose_kind(kind, n)
    ann_info = _add_ann(out, chosen, show_progress)
    files = {"embeddings": INDEX_EMBEDDINGS, "ids": INDEX_IDS, "skipped": INDEX_SKIPPED}
    dup = writer.duplicates
    manifest = {
        "format": INDEX_FORMAT, "kind": chosen, "kind_asked": kind, "count": n, "dim": dim,
        "rows_read": n + writer.n_skipped, "skipped": writer.n_skipped, "duplicate_ids": len(dup),
        "rows_with_extra_fields": writer.extra_fields,
        "sources": [{"name": s["name"], "path": s["path"], "sha256": s["sha256"], "size": s["size"],
                     "lines": s["lines"], "partitions": len(s["partitions"]), **s["layout"]} for s in plan["sources"]],
        "run": {"path": str(Path(run["path"]).resolve()), "model_sha256": run["model_sha256"],
                "encoders": run.get("encoders"), "data_hash": run.get("data_hash")},
        "encoders": {"drug": drug_encoder(run.get("drug_encoder", "ecfp4"))[0]},
        "standardisation": "ChEMBL parent (thinbridge.chem.structures.standardise_parent), as the training data",
        "files": {role: {"name": name, "sha256": sha256_file(out / name)} for role, name in files.items()},
        "ann": ann_info,
        "build": info,
        "thinbridge_version": __version__,
    }
    jsonio.write(out / INDEX_MANIFEST, manifest)
    reasons = skip_reasons()
    return {"out": str(out), "count": n, "rows_read": n + writer.n_skipped, "skipped": writer.n_skipped,
            "skipped_examples": [{**e, "where": writer.where(e["file"], e["line"]),
                                  "meaning": reasons.get(e["reason"], e["reason"])} for e in writer.examples],
            "duplicate_ids": len(dup), "duplicate_examples": dict(list(dup.items())[:3]),
            "rows_with_extra_fields": writer.extra_fields, "extra_field_lines": writer.extra_lines,
            "files": len(plan["sources"]), "kind": chosen, "ann": ann_info, **info,
            "per_second": (n + writer.n_skipped) / info["seconds"] if info["seconds"] > 0 else float("inf")}
