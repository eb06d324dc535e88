"""The ``thinbridge`` command: prepare, download, train, evaluate (and query, index).

Every user mistake ends in one line on stderr (``thinbridge: error: ...``) and exit status 2;
only bugs show a traceback.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

from thinbridge._util import jsonio
from thinbridge._util.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``thinbridge: error: argument --lr: ... (see thinbridge train --help)``."""

    def error(self, message):
        self.exit(2, f"thinbridge: error: {message} (see {self.prog} --help)\n")


def _number(kind, lo=None, name="value"):
    """An argparse type: a finite int/float, at least ``lo``; a one-line message otherwise."""
    import math

    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole number' if kind is int else 'number'}")
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if lo is not None and v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {text}")
        return v

    parse.__name__ = kind.__name__
    return parse


def _add_prepare(sub):
    p = sub.add_parser("prepare", help="clean ChEMBL mechanisms into drug-text pairs and a report",
                       description="Load a mechanism table (TSV/CSV) or a ChEMBL SQLite file, standardise parents, "
                                   "de-duplicate and write pairs.tsv, report.json, dropped.tsv and merged.tsv.")
    p.add_argument("--input", "-i", help="mechanism table or ChEMBL SQLite file (default: $THINBRIDGE_DATA, "
                                         "then the shipped data/chembl_moa/chembl_moa.tsv)")
    p.add_argument("--out", "-o", default="artifacts/data", help="output folder (default: artifacts/data)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)


def cmd_prepare(a) -> int:
    from thinbridge.data import pairs as data
    from thinbridge._util.paths import check_out_dir, resolve_data_path

    src = resolve_data_path(a.input)
    check_out_dir(a.out)
    res = data.prepare(src, a.out, show_progress=not a.quiet)
    r = res.report
    dropped = sum(r["rows_dropped"].values())
    print(f"read {r['rows_in']} rows from {src.name}: {r['pairs']} pairs, {r['molecules']} parent molecules, "
          f"{r['targets']} targets; {r['rows_merged']} rows merged as duplicates, {dropped} dropped")
    for reason, n in r["rows_dropped"].items():
        if n:
            print(f"  dropped {n:5d}  {reason}: {data.DROP_REASONS[reason]}")
    if dropped:
        print(f"  every dropped row is listed with its reason in {Path(a.out) / 'dropped.tsv'}")
    print(f"wrote {Path(a.out) / 'pairs.tsv'} and {Path(a.out) / 'report.json'}")
    return 0


def _add_download(sub):
    p = sub.add_parser("download", help="fetch ChEMBL's mechanism table, or a whole SQLite release (needs network)",
                       description="With --mechanisms-only: the current drug-mechanism table with structures and "
                                   "targets from ChEMBL's web services (megabytes), as a TSV in the shipped file's "
                                   "shape. Without: a pinned ChEMBL SQLite release (several GB) into a cache.")
    p.add_argument("--mechanisms-only", action="store_true",
                   help="only the mechanism table, through ChEMBL's web services (writes --out)")
    p.add_argument("--out", "-o", default="artifacts/chembl_mechanisms.tsv",
                   help="TSV to write with --mechanisms-only (default: artifacts/chembl_mechanisms.tsv)")
    p.add_argument("--version", default=None, help="SQLite release (default: the pinned one, ChEMBL 28)")
    p.add_argument("--cache", default=None, help="cache folder for the SQLite release (default: pystow's, ~/.data)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_download)


def cmd_download(a) -> int:
    from thinbridge.data import download
    from thinbridge._util.paths import check_out_file

    if a.mechanisms_only:
        check_out_file(a.out)
        res = download.download_mechanisms(a.out, show_progress=not a.quiet)
        print(f"{res['chembl_release']}: {res['rows']} mechanism rows, {res['molecules']} molecules "
              f"({res['rows_without_structure']} rows without a structure), {res['targets']} targets\n"
              f"wrote {res['path']} and {res['path']}.json\nnext: thinbridge prepare --input {res['path']}")
        return 0
    path = download.download_chembl(a.version or download.CHEMBL_VERSION, a.cache)
    print(f"ChEMBL SQLite at {path}\nnext: thinbridge prepare --input {path}")
    return 0


def _add_train(sub):
    from thinbridge.config import BATCH_KINDS, BRIDGE_KINDS, DRUG_ENCODERS, PROTOCOLS, SPLIT_KINDS, TEXT_VIEWS, RunConfig

    d = RunConfig()
    p = sub.add_parser("train", help="train a bridge and score it (writes model.safetensors, config.json, metrics.json)")
    p.add_argument("--data", required=True, help="folder written by `thinbridge prepare`")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--cache", default=None, help="feature cache folder (default: DATA/cache)")
    p.add_argument("--split", choices=SPLIT_KINDS, default=d.split)
    p.add_argument("--split-seed", type=_number(int, 0), default=d.split_seed)
    p.add_argument("--seed", type=_number(int, 0), default=d.seed, help="initialisation and batch-order seed")
    p.add_argument("--temperature", "-T", type=_number(float), default=d.temperature)
    p.add_argument("--margin", "-m", type=_number(float, 0), default=d.margin)
    p.add_argument("--hard-weight", type=_number(float, 0), default=d.hard_weight,
                   help="weight of in-batch negatives sharing the anchor's target (1 = plain InfoNCE)")
    p.add_argument("--text-view", choices=TEXT_VIEWS, default=d.text_view)
    name = p.add_mutually_exclusive_group()
    name.add_argument("--with-name", dest="with_name", action="store_true", default=d.with_name,
                      help="put the drug name in the text")
    name.add_argument("--no-name", dest="with_name", action="store_false")
    p.add_argument("--text-model", default=None, help="sentence-transformers name or folder (default: offline all-MiniLM-L6-v2)")
    p.add_argument("--drug-encoder", choices=DRUG_ENCODERS, default=d.drug_encoder, metavar="NAME",
                   help=f"frozen drug encoder: {', '.join(DRUG_ENCODERS)} (default: ecfp4, 2,048 bits, as the paper)")
    p.add_argument("--epochs", type=_number(int, 1), default=d.epochs)
    p.add_argument("--patience", type=_number(int, 1), default=d.patience)
    p.add_argument("--dim", "-d", type=_number(int, 1), default=d.dim)
    p.add_argument("--bridge", choices=BRIDGE_KINDS, default=d.bridge,
                   help="linear heads (the paper's, default) or 'mlp': one hidden ReLU layer per head")
    p.add_argument("--hidden", type=_number(int, 1), default=d.hidden,
                   help=f"hidden units per head with --bridge mlp (default: {d.hidden})")
    p.add_argument("--batch-size", type=_number(int, 2), default=d.batch_size)
    p.add_argument("--batches", choices=BATCH_KINDS, default=d.batches,
                   help="random batches, or 'target': several targets with several drugs each, so that "
                        "same-target (hard) negatives are in every batch (default: random)")
    p.add_argument("--per-target", type=_number(int, 2), default=d.per_target,
                   help="with --batches target: drugs of one target kept together in a batch (default: 8)")
    p.add_argument("--lr", type=_number(float), default=d.lr)
    p.add_argument("--protocol", choices=PROTOCOLS, default=d.protocol,
                   help="retrieval candidates and what counts as correct (see thinbridge.evaluation.tasks)")
    p.add_argument("--n-boot", type=_number(int, 0), default=d.n_boot, help="bootstrap resamples for 95%% CIs")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_train(a) -> int:
    from thinbridge.config import RunConfig
    from thinbridge._util.paths import check_out_dir

    cfg = RunConfig(split=a.split, split_seed=a.split_seed, seed=a.seed, temperature=a.temperature, margin=a.margin,
                    hard_weight=a.hard_weight, text_view=a.text_view, with_name=a.with_name,
                    text_model=a.text_model, drug_encoder=a.drug_encoder, bridge=a.bridge, hidden=a.hidden,
                    epochs=a.epochs, patience=a.patience, dim=a.dim,
                    batch_size=a.batch_size, batches=a.batches, per_target=a.per_target, lr=a.lr,
                    protocol=a.protocol, n_boot=a.n_boot).validate()
    check_out_dir(a.out)
    if not Path(a.data, "pairs.tsv").is_file():
        raise UserError(f"--data {a.data}: no pairs.tsv here; run `thinbridge prepare --out {a.data}` first")
    if a.cache:
        check_out_dir(a.cache, "--cache")
    from thinbridge.training.run import train_run

    res = train_run(a.data, a.out, cfg, a.cache, show_progress=not a.quiet)
    _print_summary(res["metrics"])
    tr = res["config"]["training"]
    print(f"best epoch {tr['best_epoch']} of {tr['epochs_run']}; wrote {a.out}/model.safetensors, config.json, "
          f"metrics.json ({res['seconds']:.1f} s)")
    return 0


def _print_summary(m: dict) -> None:
    for d in ("text_to_drug", "drug_to_text"):
        g, w = m["test"][d]["global"], m["test"][d]["within_target"]
        line = (f"{d:13s} global R@1 {g['R@1']:.3f} MRR {g['MRR']:.3f} | within-target R@1 {w['R@1']:.3f} "
                f"MRR {w['MRR']:.3f} ({w['n_groups']} groups of 2+)")
        if "baselines" in m:
            rb = m["baselines"]["random_heads"][d]["global"]
            line += f" | random heads R@1 {rb['R@1']:.3f}"
        print(line)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="re-score a saved run on its test split")
    p.add_argument("run", help="run folder written by `thinbridge train`")
    p.add_argument("--data", default=None, help="prepared data folder (default: the one recorded in the run)")
    p.add_argument("--cache", default=None)
    p.add_argument("--out", default=None, help="write metrics here (default: print only)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(a) -> int:
    from thinbridge import data as D
    from thinbridge.config import RunConfig
    from thinbridge.bridge.model import load_run, read_config
    from thinbridge._util.paths import check_out_file

    if a.out:
        check_out_file(a.out)
    rec = read_config(a.run)
    if not isinstance(rec.get("config"), dict):
        raise UserError(f"{a.run}: incomplete run folder (config.json has no 'config'); train one with `thinbridge train`")
    data_dir = a.data or rec.get("data_dir")
    if not data_dir or not Path(data_dir, "pairs.tsv").is_file():
        raise UserError(f"prepared data for {a.run} not found at {data_dir}; pass --data DIR")
    if rec.get("data_hash") and D.data_hash(data_dir) != rec["data_hash"]:
        raise UserError(f"{data_dir}/pairs.tsv is not the data {a.run} was trained on (hash differs)")
    cfg = RunConfig.from_dict(rec["config"], source=str(Path(a.run) / "config.json"))
    from thinbridge.training.run import load_inputs, score_run

    inp = load_inputs(data_dir, cfg, a.cache, show_progress=not a.quiet)
    model, _ = load_run(a.run, expect={"text": inp.encoders["text"], "drug": inp.encoders["drug"],
                                       "text_dim": inp.x_text.shape[1]})
    m = score_run(model, inp, cfg)
    _print_summary(m)
    if a.out:
        jsonio.write(a.out, m)
        print(f"wrote {a.out}")
    return 0


def _add_query(sub):
    q = sub.add_parser(
        "query", help="rank molecules for a text query, or mechanism texts for a molecule (--smiles)",
        description="Rank the parent molecules of the run's data (or of an index, --index) against a text "
                    "query, or rank the run's mechanism texts against a molecule (--smiles).")
    q.add_argument("run", help="run folder written by `thinbridge train`")
    q.add_argument("text", nargs="?", default=None, help="free-text query, e.g. \"EGFR kinase inhibitor\"")
    q.add_argument("--smiles", "-s", default=None, help="rank mechanism texts for this molecule instead")
    q.add_argument("--top", "-k", type=_number(int, 1), default=10, help="number of hits (default: 10)")
    q.add_argument("--index", default=None, help="search this index (built with `thinbridge index`) instead of "
                                                 "the run's molecules")
    q.add_argument("--data", default=None, help="prepared data folder (default: the one recorded in the run)")
    q.add_argument("--cache", default=None, help="feature cache folder (default: DATA/cache)")
    q.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    q.add_argument("--queries-file", default=None, metavar="FILE",
                   help="batch mode: one query per line (text, or SMILES with --queries-are-smiles), answered "
                        "in one process; JSON lines out, one per query ('-' reads standard input)")
    q.add_argument("--queries-are-smiles", action="store_true", help="the lines of --queries-file are SMILES")
    q.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_query)


def _add_index(sub):
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
    x.add_argument("--workers", type=_number(int, 1), default=None,
                   help="build on a new Dask LocalCluster of this many worker processes on this machine")
    x.add_argument("--processes", type=_number(int, 1), default=None,
                   help="without Dask: worker processes that standardise and fingerprint structures (default: CPU "
                        "count; 1 for small files)")
    x.add_argument("--chunk-size", type=_number(int, 1), default=CHUNK_SIZE,
                   help=f"lines per partition, the unit of work and of batching (default: {CHUNK_SIZE}); a re-run "
                        "with the same inputs and chunk size resumes a Dask build")
    x.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    x.set_defaults(func=cmd_index)


def _shown(text: str, width: int = 80) -> str:
    """A query as echoed back: quoted, and cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _jsonable(df) -> list[dict]:
    import numpy as np

    recs = []
    for r in df.to_dict(orient="records"):
        recs.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()})
    return recs


def _query_batch(a) -> int:
    """``--queries-file``: every line a query, one JSON line out per query (errors included, counted)."""
    from thinbridge.search.retrieval import Retriever

    if a.text is not None or a.smiles is not None:
        raise UserError("give queries either on the command line or in --queries-file, not both")
    if a.queries_are_smiles and a.index:
        raise UserError("--index holds molecules; search it with text queries, not SMILES")
    if a.queries_file != "-" and not Path(a.queries_file).is_file():
        raise UserError(f"queries file not found: {a.queries_file}")
    r = Retriever.load(a.run, a.data, a.cache, show_progress=not a.quiet)
    index = _open_index(r, a.index)
    fh = sys.stdin if a.queries_file == "-" else open(a.queries_file, encoding="utf-8")
    n = bad = 0
    with fh:
        for no, line in enumerate(fh, 1):
            q = line.strip()
            if not q or q.startswith("#"):
                continue
            n += 1
            rec = {"line": no, "query": q}
            try:
                df = r.search_smiles(q, a.top) if a.queries_are_smiles else r.search_text(q, a.top, index=index)
                rec["hits"] = _jsonable(df)
            except UserError as e:
                bad += 1
                rec["error"] = str(e)
            print(jsonio.dumps(rec, indent=None), flush=True)
    if bad:
        print(f"thinbridge: note: {bad} of {n} queries could not be answered (their lines carry \"error\")",
              file=sys.stderr)
    return 0


def _open_index(r, path):
    """The index at ``path`` (None: none), loaded once and checked against the run's bridge."""
    if path is None:
        return None
    from thinbridge.search.index import Index

    index = Index.load(path)
    r.check_index(index)
    return index


def cmd_query(a) -> int:
    if a.queries_file is not None:
        return _query_batch(a)
    if a.text is not None and a.smiles is not None:
        raise UserError("give either a text query or --smiles, not both")
    if a.text is None and a.smiles is None:
        raise UserError("nothing to search for: give a text query or --smiles SMILES")
    if a.smiles is not None and a.index:
        raise UserError("--index holds molecules; search it with a text query, not --smiles")
    from thinbridge.chem.structures import standardise_one
    from thinbridge.search.retrieval import Retriever, _check_k, _check_query

    k = _check_k(a.top)
    if a.text is not None:
        _check_query(a.text)
    else:
        standardise_one(a.smiles)
    r = Retriever.load(a.run, a.data, a.cache, show_progress=not a.quiet)
    if a.smiles is not None:
        df = r.search_smiles(a.smiles, k)
        if a.json:
            print(jsonio.dumps(_jsonable(df), indent=1))
            return 0
        print(f"top {len(df)} of {df.attrs['n_candidates']} mechanism texts for {df.attrs['parent_smiles']} "
              f"(ChEMBL parent of the query; * = paired with it in the data)")
        for row in df.itertuples(index=False):
            print(f"{row.rank:4d}  {row.score:6.3f} {'*' if row.known else ' '} {row.text}")
        return 0
    from thinbridge.features.text import token_count

    n_tok, max_tok = token_count(a.text.strip(), r.cfg.text_model)
    if n_tok > max_tok:
        print(f"thinbridge: note: the query is {n_tok:,} tokens long; the text model reads only its first "
              f"{max_tok} (the rest is ignored)", file=sys.stderr)
    df = r.search_text(a.text, k, index=a.index)
    if a.json:
        print(jsonio.dumps(_jsonable(df), indent=1))
        return 0
    if a.index:
        print(f"top {len(df)} of {df.attrs['n_candidates']} molecules in {a.index} for {_shown(a.text)}")
        for row in df.itertuples(index=False):
            print(f"{row.rank:4d}  {row.score:6.3f}  {row.id}  {row.smiles}")
        return 0
    print(f"top {len(df)} of {df.attrs['n_candidates']} molecules for {_shown(a.text)}")
    for row in df.itertuples(index=False):
        print(f"{row.rank:4d}  {row.score:6.3f}  {row.drug_name} ({row.molecule_chembl_id})")
        for m in row.mechanisms:
            print(f"{'':14s}- {m}")
    return 0


def cmd_index(a) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    from thinbridge import __version__

    ap = _Parser(prog="thinbridge", description="Thin contrastive bridges between frozen drug and "
                                 "text encoders (a reproduction of arXiv 2510.03309).")
    ap.add_argument("--version", action="version", version=f"thinbridge {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_prepare, _add_download, _add_train, _add_evaluate, _add_query, _add_index):
        add(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed in one line
        return e.code if isinstance(e.code, int) else 2
    if not getattr(a, "func", None):
        ap.print_help()
        return 2
    if getattr(a, "quiet", False):
        os.environ["THINBRIDGE_PROGRESS"] = "0"
        from thinbridge._util.progress import set_progress

        set_progress(False)
    warnings.filterwarnings("ignore", category=FutureWarning)
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        return int(a.func(a) or 0)
    except UserError as e:
        print(f"thinbridge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"thinbridge: interrupted; {_cleanup_note(e)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `thinbridge query ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except _Terminated as e:
        print(f"thinbridge: terminated; {_cleanup_note(e)}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _cleanup_note(e: BaseException) -> str:
    """What an interrupted command left: the note a step attached (``thinbridge_note``), or the usual."""
    return getattr(e, "thinbridge_note", "partial output removed, worker processes stopped")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up (``finally``, pool shutdown) runs."""


def _terminated(signum, frame):
    raise _Terminated()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
