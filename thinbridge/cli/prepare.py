"""``thinbridge prepare``: ChEMBL mechanisms to clean drug-text pairs and a report."""
from __future__ import annotations

from pathlib import Path


def add_subparser(sub):
    p = sub.add_parser("prepare", help="clean ChEMBL mechanisms into drug-text pairs and a report",
                       description="Load a mechanism table (TSV/CSV) or a ChEMBL SQLite file, standardise parents, "
                                   "de-duplicate and write pairs.tsv, report.json, dropped.tsv and merged.tsv.")
    p.add_argument("--input", "-i", help="mechanism table or ChEMBL SQLite file (default: $THINBRIDGE_DATA, "
                                         "then the shipped data/chembl_moa/chembl_moa.tsv)")
    p.add_argument("--out", "-o", default="artifacts/data", help="output folder (default: artifacts/data)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(a) -> int:
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
