"""``thinbridge query``: molecules for a text, mechanism texts for a molecule, or a file of queries."""
from __future__ import annotations

import sys
from pathlib import Path

from thinbridge._util import jsonio
from thinbridge._util.errors import UserError
from thinbridge.cli.common import number, shown


def add_subparser(sub):
    q = sub.add_parser(
        "query", help="rank molecules for a text query, or mechanism texts for a molecule (--smiles)",
        description="Rank the parent molecules of the run's data (or of an index, --index) against a text "
                    "query, or rank the run's mechanism texts against a molecule (--smiles).")
    q.add_argument("run", help="run folder written by `thinbridge train`")
    q.add_argument("text", nargs="?", default=None, help="free-text query, e.g. \"EGFR kinase inhibitor\"")
    q.add_argument("--smiles", "-s", default=None, help="rank mechanism texts for this molecule instead")
    q.add_argument("--top", "-k", type=number(int, 1), default=10, help="number of hits (default: 10)")
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
    q.set_defaults(func=run)


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
                rec["hits"] = jsonio.records(df)
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


def run(a) -> int:
    if a.queries_file is not None:
        return _query_batch(a)
    if a.text is not None and a.smiles is not None:
        raise UserError("give either a text query or --smiles, not both")
    if a.text is None and a.smiles is None:
        raise UserError("nothing to search for: give a text query or --smiles SMILES")
    if a.smiles is not None and a.index:
        raise UserError("--index holds molecules; search it with a text query, not --smiles")
    from thinbridge.chem.structures import standardise_one
    from thinbridge.search.retrieval import Retriever, check_k, check_query

    k = check_k(a.top)
    if a.text is not None:
        check_query(a.text)
    else:
        standardise_one(a.smiles)
    r = Retriever.load(a.run, a.data, a.cache, show_progress=not a.quiet)
    if a.smiles is not None:
        df = r.search_smiles(a.smiles, k)
        if a.json:
            print(jsonio.dumps(jsonio.records(df), indent=1))
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
        print(jsonio.dumps(jsonio.records(df), indent=1))
        return 0
    if a.index:
        print(f"top {len(df)} of {df.attrs['n_candidates']} molecules in {a.index} for {shown(a.text)}")
        for row in df.itertuples(index=False):
            print(f"{row.rank:4d}  {row.score:6.3f}  {row.id}  {row.smiles}")
        return 0
    print(f"top {len(df)} of {df.attrs['n_candidates']} molecules for {shown(a.text)}")
    for row in df.itertuples(index=False):
        print(f"{row.rank:4d}  {row.score:6.3f}  {row.drug_name} ({row.molecule_chembl_id})")
        for m in row.mechanisms:
            print(f"{'':14s}- {m}")
    return 0
