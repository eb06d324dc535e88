"""``thinbridge download``: ChEMBL's mechanism table or a SQLite release (network only)."""
from __future__ import annotations


def add_subparser(sub):
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
    p.set_defaults(func=run)


def run(a) -> int:
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
