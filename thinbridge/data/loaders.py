"""Reading a mechanism table: a TSV/CSV export (plain or gzip) or a ChEMBL SQLite release.

Every record of the file becomes a row of the returned table, with ChEMBL's column names
(:data:`RAW_COLUMNS`), so that :func:`thinbridge.data.pairs.clean` can account for each one:

* the delimiter is read from the header line (tab, comma or semicolon: whichever gives
  ChEMBL's column names), not guessed from the file name; a header that fits none is an
  error that says what the line holds;
* quotes are parsed as CSV dialects do (``"a field with a <tab> or a line break"``,
  quote-all files), so a quoted field never splits a record;
* a record with too few or too many fields is kept as a row marked in a ``thinbridge_malformed`` column
  (its line number and field count; the column exists only when some record is malformed),
  which ``clean`` drops under the reason ``malformed_row``;
* literal ``null``/``NULL``/``None`` in the descriptive columns (names, organism) means
  missing, as in database exports; each such value is counted (``attrs["null_values"]``);
* gzip files (``.gz`` or gzip magic bytes) are read transparently.
"""
from __future__ import annotations

import csv
import gzip
import io
import sqlite3
from pathlib import Path

import pandas as pd

from thinbridge._util.errors import UserError

#: columns every loader returns, named as in ChEMBL (and in the shipped ``chembl_moa.tsv``)
RAW_COLUMNS = [
    "molecule_chembl_id",
    "molecule_pref_name",
    "canonical_smiles",
    "mechanism_of_action",
    "mechanism_action_type",
    "target_chembl_id",
    "target_pref_name",
    "target_organism",
]
#: optional ChEMBL columns kept when present
OPTIONAL_COLUMNS = ["standard_inchi_key"]
#: columns where a literal "null" means missing
NULLABLE_COLUMNS = ["molecule_pref_name", "target_pref_name", "target_organism"]
NULL_WORDS = {"null", "none", "nan", "n/a"}
#: bookkeeping columns a loader may add (``clean`` reads them; they never reach the pairs)
MARK_COLUMNS = ["thinbridge_malformed"]
DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon"}

#: One query over ChEMBL's real schema. LEFT JOINs keep mechanisms without a structure or
#: target so that ``clean`` can count them as dropped instead of losing them silently.
SQLITE_QUERY = """
SELECT md.chembl_id          AS molecule_chembl_id,
       md.pref_name          AS molecule_pref_name,
       cs.canonical_smiles   AS canonical_smiles,
       cs.standard_inchi_key AS standard_inchi_key,
       dm.mechanism_of_action AS mechanism_of_action,
       dm.action_type        AS mechanism_action_type,
       td.chembl_id          AS target_chembl_id,
       td.pref_name          AS target_pref_name,
       td.organism           AS target_organism
FROM drug_mechanism dm
JOIN molecule_dictionary md ON md.molregno = dm.molregno
LEFT JOIN compound_structures cs ON cs.molregno = dm.molregno
LEFT JOIN target_dictionary td ON td.tid = dm.tid
ORDER BY dm.mec_id
"""


def check_columns(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """ChEMBL's columns (and the bookkeeping ones) as clean strings; a missing column is an error."""
    missing = [c for c in RAW_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(
            f"{source}: missing required column(s) {', '.join(missing)} "
            f"(expected ChEMBL's names: {', '.join(RAW_COLUMNS)})"
        )
    keep = RAW_COLUMNS + [c for c in OPTIONAL_COLUMNS + MARK_COLUMNS if c in df.columns]
    out = df[keep].copy()
    for c in RAW_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in df.columns]:
        # tabs and line breaks inside a field would break the TSV files written later
        out[c] = out[c].fillna("").astype(str).str.replace(r"[\t\r\n]+", " ", regex=True).str.strip()
    nulls = {}
    for c in NULLABLE_COLUMNS:
        is_null = out[c].str.lower().isin(NULL_WORDS)
        if is_null.any():
            nulls[c] = int(is_null.sum())
            out.loc[is_null, c] = ""
    if out.empty:
        raise UserError(f"{source}: the table has a header but no rows")
    out = out.reset_index(drop=True)
    out.attrs["null_values"] = nulls
    return out


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise UserError(f"{path.name}: a gzip file that cannot be decompressed ({e}); is it complete?") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UserError(f"{path.name}: not valid UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); "
                        "re-save the file as UTF-8") from None
    if not text.strip():
        raise UserError(f"{path.name}: the file is empty")
    return text


def _sniff_delimiter(header: str, name: str) -> str:
    """The delimiter whose split of the header line names ChEMBL's required columns."""
    for sep in DELIMITERS:
        names = {c.strip() for c in next(csv.reader([header], delimiter=sep))}
        if set(RAW_COLUMNS) <= names:
            return sep
    seen = ", ".join(f"{header.count(s)} {n}s" for s, n in DELIMITERS.items())
    best = max(DELIMITERS, key=header.count)
    cols = [c.strip() for c in next(csv.reader([header], delimiter=best))]
    missing = [c for c in RAW_COLUMNS if c not in cols]
    raise UserError(f"{name}: missing required column(s) {', '.join(missing)} in the header split at "
                    f"{DELIMITERS[best]}s (the line has {seen}; expected ChEMBL's names: {', '.join(RAW_COLUMNS)})")


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a TSV or CSV file (or its gzip) with ChEMBL's column names; extra columns are ignored.

    See the module docstring for delimiters, quotes, malformed records and ``null`` values.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    text = _read_text(path)
    stripped = text.lstrip("\r\n")
    lead, text = text[: len(text) - len(stripped)].count("\n"), stripped  # blank lines before the header
    header_line = text.split("\n", 1)[0].rstrip("\r")
    sep = _sniff_delimiter(header_line, path.name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"')
    try:
        header = [c.strip() for c in next(reader)]
        records, malformed = [], []
        start = reader.line_num + 1
        for rec in reader:
            if not rec or not "".join(rec).strip():  # blank line
                start = reader.line_num + 1
                continue
            bad = "" if len(rec) == len(header) else f"{len(rec)} fields, the header has {len(header)}"
            records.append((rec + [""] * len(header))[: len(header)] if bad else rec)
            malformed.append(f"line {start + lead}: {bad}" if bad else "")
            start = reader.line_num + 1
    except csv.Error as e:
        raise UserError(f"{path.name}: could not parse as {DELIMITERS[sep]}-separated text: {e}") from None
    if len(set(header)) != len(header):
        raise UserError(f"{path.name}: the header names a column twice")
    df = pd.DataFrame(records, columns=header, dtype=str)
    if any(malformed):
        df["thinbridge_malformed"] = malformed
    return check_columns(df, path.name)


def load_sqlite(path: str | Path) -> pd.DataFrame:
    """Read mechanisms from a ChEMBL SQLite release with :data:`SQLITE_QUERY`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"SQLite file not found: {path}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            df = pd.read_sql_query(SQLITE_QUERY, con)
        finally:
            con.close()
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as e:
        cause = e.__cause__ or e.__context__ or e  # pandas wraps sqlite's error in a message with the whole query
        reason = str(cause).strip().splitlines()[-1][:160] if str(cause).strip() else type(cause).__name__
        raise UserError(
            f"{path.name}: not a ChEMBL SQLite release this query can read ({reason}); it needs the tables "
            "drug_mechanism, molecule_dictionary, compound_structures and target_dictionary"
        ) from None
    return check_columns(df, path.name)


def load_mechanisms(path: str | Path) -> pd.DataFrame:
    """Dispatch on the file: SQLite (``.db``, ``.sqlite``, ``.sqlite3`` or SQLite magic) or a table."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"input file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the mechanism table (TSV/CSV) or a ChEMBL SQLite file")
    with open(path, "rb") as fh:
        magic = fh.read(16)
    if path.suffix.lower() in {".db", ".sqlite", ".sqlite3"} or magic.startswith(b"SQLite format 3"):
        return load_sqlite(path)
    return load_table(path)
