"""Reading a user's compound library: a SMILES file or a table with a SMILES column.

:func:`read_library` looks at the first data line to tell the layout (:func:`sniff_layout`)
and returns a lazy iterator of ``(line number, id, SMILES)`` rows (:func:`iter_rows`), so a
file of any size is read once, a chunk at a time. Nothing is standardised here: that is the
index builder's job (:mod:`thinbridge.index`).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Sequence

from .errors import UserError

#: header columns recognised in a SMILES file (case-insensitive), in order of preference
SMILES_COLUMNS = ("smiles", "canonical_smiles")
ID_COLUMNS = ("id", "name", "chembl_id", "molecule_chembl_id")


def clean_field(s) -> str:
    """A value with its whitespace (tabs, line breaks) collapsed, safe to write into a TSV cell."""
    return " ".join(str(s).split()) if s is not None else ""


def _pick(names: list[str], wanted: Sequence[str]) -> int | None:
    for w in wanted:
        if w in names:
            return names.index(w)
    return None


def _first_data_line(path: Path) -> tuple[str, int]:
    """The first line that is neither blank nor a ``#`` comment, and its number (1-based)."""
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if no == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{path.name}: not valid UTF-8 on line {no}; re-save the file as UTF-8") from None
            if line.strip() and not line.lstrip().startswith("#"):
                return line.rstrip("\r\n"), no
    raise UserError(f"{path.name}: no SMILES in this file (it is empty or only comments)")


def sniff_layout(path: Path, first: str, first_no: int) -> dict:
    """The file's layout from its first data line: ``format`` (smi, csv, tsv or table), the
    SMILES and id columns' names and indices, and the header's line number."""
    names: list[str] = []
    sep = None
    for cand in (",", "\t"):
        if cand in first:
            names = [c.strip().lower() for c in next(csv.reader([first], delimiter=cand))]
            if _pick(names, SMILES_COLUMNS) is not None:
                sep = cand
                break
    if sep is None:
        names = [c.lower() for c in first.split()]
        if _pick(names, SMILES_COLUMNS) is not None:
            sep = "ws"
    if sep is None:
        if path.suffix.lower() in (".csv", ".tsv"):
            raise UserError(f"{path.name}: no SMILES column in the header line {first[:80]!r} "
                            f"(expected one of {', '.join(SMILES_COLUMNS)}, any case)")
        return {"format": "smi", "smiles_column": None, "id_column": None, "header_line": None,
                "sep": None, "si": 0, "ii": None, "n_columns": None, "stats": _new_stats()}
    si, ii = _pick(names, SMILES_COLUMNS), _pick(names, ID_COLUMNS)
    return {"format": {",": "csv", "\t": "tsv", "ws": "table"}[sep], "smiles_column": names[si],
            "id_column": names[ii] if ii is not None else None, "header_line": first_no,
            "sep": sep, "si": si, "ii": ii, "n_columns": len(names), "stats": _new_stats()}


def _new_stats() -> dict:
    return {"rows_with_extra_fields": 0, "extra_field_lines": []}


def _extra(layout: dict, no: int) -> None:
    """Count a row with more fields than the header (the extra fields are not used)."""
    stats = layout["stats"]
    stats["rows_with_extra_fields"] += 1
    if len(stats["extra_field_lines"]) < 5:
        stats["extra_field_lines"].append(no)


def _table_rows(fh, layout: dict) -> Iterator[tuple[int, str, str]]:
    reader = csv.reader(fh, delimiter=layout["sep"])
    si, ii, header = layout["si"], layout["ii"], layout["header_line"]
    for rec in reader:
        no = reader.line_num
        if no <= header or not rec or not "".join(rec).strip() or rec[0].lstrip().startswith("#"):
            continue
        if len(rec) > layout["n_columns"]:
            _extra(layout, no)
        smi = rec[si].strip() if si < len(rec) else ""
        ident = clean_field(rec[ii]) if ii is not None and ii < len(rec) else ""
        yield no, ident or f"line{no}", smi


def _line_rows(fh, layout: dict) -> Iterator[tuple[int, str, str]]:
    si, ii, header = layout["si"], layout["ii"], layout["header_line"] or 0
    for no, line in enumerate(fh, 1):
        s = line.strip()
        if no <= header or not s or s.startswith("#"):
            continue
        if layout["sep"] == "ws":
            parts = s.split()
            if len(parts) > layout["n_columns"]:
                _extra(layout, no)
            smi = parts[si] if si < len(parts) else ""
            ident = parts[ii] if ii is not None and ii < len(parts) else ""
        else:  # .smi: the SMILES, then optionally whitespace and an id (which may contain spaces)
            parts = s.split(None, 1)
            smi, ident = parts[0], clean_field(parts[1]) if len(parts) > 1 else ""
        yield no, ident or f"line{no}", smi


def iter_rows(path: Path, layout: dict) -> Iterator[tuple[int, str, str]]:
    """``(line number, id, SMILES)`` for every data row; the id is ``line<N>`` where the file has none."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            yield from (_table_rows if layout["sep"] in (",", "\t") else _line_rows)(fh, layout)
        except UnicodeDecodeError:
            raise UserError(f"{path.name}: not valid UTF-8; re-save the file as UTF-8") from None
        except csv.Error as e:
            raise UserError(f"{path.name}: could not parse as {layout['format'].upper()}: {e}") from None


def read_library(path: str | Path) -> tuple[Iterator[tuple[int, str, str]], dict]:
    """Rows ``(line_number, id, smiles)`` of a SMILES file, and a description of its layout.

    Accepted: one SMILES per line, optionally followed by whitespace and an id (``.smi``);
    or a table (comma- or tab-separated, whitespace-separated) whose header names a SMILES
    column (``smiles``/``canonical_smiles``) and optionally an id column
    (``id``/``name``/``chembl_id``/``molecule_chembl_id``), matched case-insensitively.
    Blank lines and lines starting with ``#`` are not rows. Without an id the id is
    ``line<N>``. Line numbers count from 1 and include the header. Rows with more fields than
    the header are counted in ``layout["stats"]`` (filled while the rows are read).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"SMILES file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file with one SMILES per line or a CSV with a SMILES column")
    layout = sniff_layout(path, *_first_data_line(path))
    public = {k: layout[k] for k in ("format", "smiles_column", "id_column", "header_line", "stats")}
    return iter_rows(path, layout), public


def count_lines(path: Path) -> int:
    """Lines in a file (a last line without a newline counts), read in 1 MiB blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n, last = n + chunk.count(b"\n"), chunk[-1:]
    return n + (last != b"\n")
