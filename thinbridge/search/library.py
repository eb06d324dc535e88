"""Reading a user's compound library: SMILES files or tables with a SMILES column, one file or many.

:func:`expand_sources` turns the files and globs a user names into a sorted list of files.
:func:`plan_library` reads a file once, without chemistry, and cuts it into partitions of a
fixed number of records: byte ranges that start on a record boundary (a quoted CSV field may
hold a line break), with the file's sha256. :func:`read_library` returns a lazy iterator of
:class:`Row` for a whole file or for one partition, so a file of any size is read a piece at a
time and partitions can be read by different processes or machines.

Lines are decoded one at a time: a line that is not valid UTF-8 becomes a row with a
``problem`` (the index lists it in ``skipped.tsv`` with its file and line) instead of
stopping a long build part-way. Nothing is standardised here: that is the index builder's job
(:mod:`thinbridge.search.index`).
"""
from __future__ import annotations

import csv
import glob
import hashlib
import os
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from thinbridge._util.errors import UserError

#: header columns recognised in a SMILES file (case-insensitive), in order of preference
SMILES_COLUMNS = ("smiles", "canonical_smiles")
ID_COLUMNS = ("id", "name", "chembl_id", "molecule_chembl_id")
#: the reason given in ``skipped.tsv`` for a line that could not be decoded
UNREADABLE = "unreadable_line"
_GLOB_CHARS = set("*?[")


class Row(NamedTuple):
    """One data row of a library: its line number (1-based, header included), id and SMILES.

    ``problem`` says why the line could not be read (then ``smiles`` is not to be trusted);
    empty for a readable row.
    """

    line: int
    id: str
    smiles: str
    problem: str = ""


def clean_field(s) -> str:
    """A value with its whitespace (tabs, line breaks) collapsed, safe to write into a TSV cell."""
    return " ".join(str(s).split()) if s is not None else ""


# ----------------------------------------------------------------------------------------------
# which files
# ----------------------------------------------------------------------------------------------
def expand_sources(specs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The files named by ``specs``: paths or globs (``libs/*.smi``, ``**`` for sub-folders).

    Each glob's matches are sorted; the files keep the order of ``specs`` and appear once
    each. A path that does not exist, a folder, or a glob that matches no file is a UserError.
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    files: dict[Path, None] = {}
    for spec in map(str, specs):
        if not spec.strip():
            raise UserError("empty --smiles-file: give a file or a glob such as 'libs/*.smi'")
        if _GLOB_CHARS & set(spec):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(spec), recursive=True))]
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise UserError(f"--smiles-file {spec!r} matches no file")
        else:
            p = Path(spec).expanduser()
            if not p.exists():
                raise UserError(f"SMILES file not found: {p}")
            if p.is_dir():
                raise UserError(f"{p} is a folder; give a file with one SMILES per line, a CSV with a SMILES "
                                f"column, or a glob such as '{p / '*.smi'}'")
            matches = [p]
        for m in matches:
            files.setdefault(m, None)
    if not files:
        raise UserError("no SMILES file given")
    return list(files)


def display_names(paths: Sequence[Path]) -> list[str]:
    """How each file is named in ``ids.tsv`` and ``skipped.tsv``: its path relative to the
    folder the files share (just the file name when there is one file or one folder)."""
    resolved = [p.resolve() for p in paths]
    base = Path(os.path.commonpath([p.parent for p in resolved]))
    return [str(p.relative_to(base)) for p in resolved]


# ----------------------------------------------------------------------------------------------
# the layout of a file
# ----------------------------------------------------------------------------------------------
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


def public_layout(layout: dict) -> dict:
    """The parts of a layout worth recording in a manifest (not the counts made while reading)."""
    return {k: layout[k] for k in ("format", "smiles_column", "id_column", "header_line")}


def _is_table(layout: dict) -> bool:
    return layout["sep"] in (",", "\t")


# ----------------------------------------------------------------------------------------------
# lines and rows
# ----------------------------------------------------------------------------------------------
class _Lines:
    """Decoded lines of a binary file from byte ``start`` up to byte ``end``, numbered from ``first_line``.

    ``offset`` is the byte after the last line handed out: a csv reader pulls one line at a
    time, so after a record it is where the next record starts. Lines that are not valid
    UTF-8 are decoded with replacement characters and listed in ``bad`` (line -> what is wrong).
    ``digest``, if given, is fed every byte read.
    """

    def __init__(self, fh, start: int = 0, end: int | None = None, first_line: int = 1, digest=None):
        fh.seek(start)
        self.fh, self.offset, self.end, self.line, self.digest = fh, start, end, first_line - 1, digest
        self.bad: dict[int, str] = {}

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if self.end is not None and self.offset >= self.end:
            raise StopIteration
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        at_start = self.offset == 0
        self.offset += len(raw)
        self.line += 1
        if self.digest is not None:
            self.digest.update(raw)
        try:
            return raw.decode("utf-8-sig" if at_start else "utf-8")
        except UnicodeDecodeError as e:
            self.bad[self.line] = f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
            return raw.decode("utf-8", errors="replace")


def _problem(lines: _Lines, first: int, last: int) -> str:
    """What is wrong with the lines ``first..last`` of a record, or "" if they decoded."""
    return next((f"line {no}: {lines.bad[no]}" for no in range(first, last + 1) if no in lines.bad), "")


def _table_rows(lines: _Lines, layout: dict) -> Iterator[Row]:
    reader = csv.reader(lines, delimiter=layout["sep"])
    si, ii, header = layout["si"], layout["ii"], layout["header_line"]
    start = lines.line + 1
    for rec in reader:
        first, no = start, lines.line
        start = no + 1
        if no <= header or not rec or not "".join(rec).strip() or rec[0].lstrip().startswith("#"):
            continue
        if len(rec) > layout["n_columns"]:
            _extra(layout, no)
        smi = rec[si].strip() if si < len(rec) else ""
        ident = clean_field(rec[ii]) if ii is not None and ii < len(rec) else ""
        yield Row(no, ident or f"line{no}", smi, _problem(lines, first, no))


def _line_rows(lines: _Lines, layout: dict) -> Iterator[Row]:
    si, ii, header = layout["si"], layout["ii"], layout["header_line"] or 0
    for line in lines:
        no = lines.line
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
        yield Row(no, ident or f"line{no}", smi, _problem(lines, no, no))


def _csv_error(path: Path, layout: dict, lines: _Lines, e: csv.Error) -> UserError:
    return UserError(f"{path.name}: could not parse as {layout['format'].upper()} near line {lines.line}: {e}")


def iter_rows(path: Path, layout: dict, part: dict | None = None) -> Iterator[Row]:
    """Every data row of ``path``, or of the partition ``part`` (``start``/``end`` bytes,
    ``first_line``) from :func:`plan_library`; the id is ``line<N>`` where the file has none."""
    part = part or {"start": 0, "end": None, "first_line": 1}
    with open(path, "rb") as fh:
        lines = _Lines(fh, part["start"], part["end"], part["first_line"])
        try:
            yield from (_table_rows if _is_table(layout) else _line_rows)(lines, layout)
        except csv.Error as e:
            raise _csv_error(path, layout, lines, e) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"SMILES file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file with one SMILES per line or a CSV with a SMILES column")


def read_library(path: str | Path, part: dict | None = None) -> tuple[Iterator[Row], dict]:
    """Rows (:class:`Row`) of a SMILES file, or of one partition of it, and the file's layout.

    Accepted: one SMILES per line, optionally followed by whitespace and an id (``.smi``);
    or a table (comma- or tab-separated, whitespace-separated) whose header names a SMILES
    column (``smiles``/``canonical_smiles``) and optionally an id column
    (``id``/``name``/``chembl_id``/``molecule_chembl_id``), matched case-insensitively.
    Blank lines and lines starting with ``#`` are not rows. Without an id the id is
    ``line<N>``. Line numbers count from 1 and include the header. Rows with more fields than
    the header are counted in ``layout["stats"]`` (filled while the rows are read).
    """
    path = Path(path)
    _check_file(path)
    layout = sniff_layout(path, *_first_data_line(path))
    return iter_rows(path, layout, part), layout


# ----------------------------------------------------------------------------------------------
# partitions
# ----------------------------------------------------------------------------------------------
def plan_library(path: str | Path, records_per_part: int, bar=None) -> dict:
    """Read ``path`` once and cut it into partitions of ``records_per_part`` records.

    A record is a line (a CSV record in a table, which may span lines; the header and blank
    lines count). Returns ``path``, ``size``, ``mtime_ns``, ``sha256``, ``lines``, the
    ``layout`` and ``partitions``: a list of ``{"start", "end", "first_line"}`` (bytes, and
    the number of the partition's first line). ``bar`` (a progress bar) is advanced by the
    bytes read. A CSV that cannot be parsed is a UserError naming the line, before any work.
    """
    path = Path(path)
    _check_file(path)
    layout = sniff_layout(path, *_first_data_line(path))
    per = max(1, int(records_per_part))
    digest = hashlib.sha256()
    starts: list[tuple[int, int]] = [(0, 1)]
    stat = path.stat()
    with open(path, "rb") as fh:
        lines = _Lines(fh, digest=digest)
        records = csv.reader(lines, delimiter=layout["sep"]) if _is_table(layout) else lines
        reported = 0
        try:
            for i, _ in enumerate(records, 1):
                if i % per == 0:
                    starts.append((lines.offset, lines.line + 1))
                    if bar is not None:
                        bar.update(lines.offset - reported)
                        reported = lines.offset
        except csv.Error as e:
            raise _csv_error(path, layout, lines, e) from None
        size = lines.offset
    if bar is not None:
        bar.update(size - reported)
    if len(starts) > 1 and starts[-1][0] >= size:
        starts.pop()  # the last record ended a partition: nothing after it
    bounds = [s for s, _ in starts[1:]] + [size]
    return {"path": str(path), "size": size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest(),
            "lines": lines.line, "layout": public_layout(layout),
            "partitions": [{"start": s, "end": e, "first_line": no} for (s, no), e in zip(starts, bounds)]}
