"""``thinbridge index``: embed a SMILES library with a run's drug head, here or on Dask."""
from __future__ import annotations

import sys
from pathlib import Path

from thinbridge.cli.common import number


def add_subparser(sub):
    from thinbridge.config import AUTO_EXACT_BELOW, CHUNK_SIZE, INDEX_KIND_CHOICES

    x = sub.add_parser(
        "index", help="embed your own SMILES library for `thinbridge query --index`",
        description="Standardise SMILES files to ChEMBL parents (like the training data), fingerprint and "
                    "embed them with a run's drug head, and write an index folder: here, or on a Dask cluster "
                    "(--scheduler, --workers; resumable, the same files). Rows that fail are listed with their "
                    "file and line in INDEX/skipped.tsv.")
    x.add_argument("run", help="run folder written by `thinbridge train`")
    x.add_argument("--smiles-file", required=True, nargs="+", metavar="FILE_OR_GLOB",
                   help="one or more files or quoted globs ('libs/*.smi', sorted): one SMILES per line, optionally "
                        "'SMILES id'; or a CSV/TSV whose header has a smiles (or canonical_smiles) column and "
                        "optionally an id/name/chembl_id column")
    x.add_argument("--out", "-o", required=True, help="index folder to write")
    x.add_argument("--kind", choices=INDEX_KIND_CHOICES, default="auto",
                   help=f"search structure: exact (every molecule scored), hnsw or ivfpq (FAISS, approximate; "
                        f"recall@10 measured on the build); auto: exact below {AUTO_EXACT_BELOW:,} molecules, "
                        "else ivfpq (default: auto)")
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="build on the running Dask cluster at this scheduler address (tcp://HOST:PORT); files and "
                        "--out must be on a file system every worker sees")
    x.add_argument("--workers", type=number(int, 1), default=None,
                   help="build on a new Dask LocalCluster of this many worker processes on this machine")
    x.add_argument("--processes", type=number(int, 1), default=None,
                   help="without Dask: worker processes that standardise and fingerprint structures (default: CPU "
                        "count; 1 for small files)")
    x.add_argument("--chunk-size", type=number(int, 1), default=CHUNK_SIZE,
                   help=f"lines per partition, the unit of work and of batching (default: {CHUNK_SIZE}); a re-run "
                        "with the same inputs and chunk size resumes a Dask build")
    x.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    x.set_defaults(func=run)


def run(a) -> int:
    from thinbridge.search.build import check_options
    from thinbridge.search.index import INDEX_DUPLICATES, INDEX_SKIPPED
    from thinbridge.search.library import expand_sources
    from thinbridge._util.paths import check_out_dir
    from thinbridge.search.retrieval import Retriever

    check_out_dir(a.out)
    check_options(a.chunk_size, a.kind, a.processes, a.scheduler, a.workers)
    sources = expand_sources(a.smiles_file)
    r = Retriever.load(a.run, show_progress=not a.quiet)
    res = r.build_index(sources, a.out, chunk_size=a.chunk_size, kind=a.kind, processes=a.processes,
                        scheduler=a.scheduler, workers=a.workers, show_progress=not a.quiet)
    several = res["files"] > 1
    what = f"{res['files']} files" if several else sources[0].name
    how = (f"{res['processes']} process(es)" if res["engine"] != "dask" else
           f"{res['workers']} Dask worker(s), {res['partitions_built']} of {res['partitions']} partitions built"
           + (f", {res['partitions_reused']} kept from an earlier run" if res["partitions_reused"] else ""))
    print(f"indexed {res['count']} molecules from {what} into {a.out} "
          f"({res['rows_read']} rows in {res['seconds']:.1f} s, {res['per_second']:.0f} rows/s, {how})")
    _print_search_kind(res)
    if res["duplicate_ids"]:
        ex = ", ".join(f"{i!r} on lines {', '.join(map(str, lines))}" for i, lines in res["duplicate_examples"].items())
        print(f"warning: {res['duplicate_ids']} id(s) name more than one molecule (e.g. {ex}); all entries kept, "
              f"listed in {Path(a.out) / INDEX_DUPLICATES}", file=sys.stderr)
    if res["rows_with_extra_fields"]:
        lines = ", ".join(map(str, res["extra_field_lines"]))
        print(f"warning: {res['rows_with_extra_fields']} row(s) have more fields than the header (first on lines "
              f"{lines}); the extra fields were not used", file=sys.stderr)
    if res["skipped"]:
        ex = "; ".join(f"{e['file'] + ' ' if several else ''}line {e['line']} ({e['reason']}: {e['smiles'][:40]!r})"
                       for e in res["skipped_examples"][:3])
        more = " ..." if res["skipped"] > 3 else ""
        print(f"skipped {res['skipped']} row(s) that are not usable structures: {ex}{more}; "
              f"all listed in {Path(a.out) / INDEX_SKIPPED}")
    print(f"search it: thinbridge query {a.run} \"some text\" --index {a.out}")
    return 0


def _print_search_kind(res: dict) -> None:
    """The index's search structure, and for an approximate one its measured recall."""
    from thinbridge.search.ann import RECALL_TARGET

    ann = res["ann"]
    if not ann:
        print("search: exact (every molecule scored)")
        return
    params = ", ".join(f"{k} {v}" for k, v in ann["params"].items() if k != "seed")
    recall, queries = ann["recall_at_10"], ann["recall"]["queries"]
    shown = f"{recall:.3f}" if recall is not None else "undefined (one molecule)"
    print(f"search: {res['kind']} ({params}); recall@10 against exact search, {queries} of its own molecules "
          f"as queries: {shown}")
    if recall is not None and recall < RECALL_TARGET:
        print(f"warning: recall@10 {recall:.3f} is below {RECALL_TARGET}; --kind exact finds every nearest molecule",
              file=sys.stderr)
