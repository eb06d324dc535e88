"""Bad input and misuse, run through the command line as a user would (a subprocess each).

Every case asserts the exit status, a one-line message on stderr (``thinbridge: error: ...``
or a counted warning), no traceback, and where rows are involved the counts in
``report.json``. Cases that need a trained run share one small run made once per module.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ACETAZOLAMIDE, ASPIRIN, CAFFEINE, generated_rows, raw_row, small_rows, write_table
from thinbridge.data.loaders import RAW_COLUMNS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def tb(*args, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``thinbridge ARGS`` in a fresh process, from the repository root."""
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "thinbridge.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=e)


def one_line_error(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-1500:])
    err = res.stderr
    assert "Traceback" not in err, err
    assert err.startswith("thinbridge: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    return err


def ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, (res.stdout[-500:], res.stderr[-1500:])
    assert "Traceback" not in res.stderr, res.stderr
    return res


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def _lines(rows: list[dict]) -> list[str]:
    return ["\t".join(r[c] for c in RAW_COLUMNS) for r in rows]


# ---------------------------------------------------------------------------------- rows in a table
def test_rows_with_too_few_or_too_many_fields_are_dropped_and_counted(tmp_path):
    lines = ["\t".join(RAW_COLUMNS)] + _lines(small_rows()[:4])
    lines[2] = "\t".join(lines[2].split("\t")[:5])        # line 3: 5 fields
    lines[3] = lines[3] + "\tstray\tfields"              # line 4: 10 fields
    src = tmp_path / "m.tsv"
    src.write_text("\n".join(lines) + "\n")
    res = ok(tb("prepare", "--input", src, "--out", tmp_path / "d", "-q"))
    rep = report(tmp_path / "d")
    assert rep["rows_in"] == 4 and rep["rows_dropped"]["malformed_row"] == 2 and rep["pairs"] == 2
    assert "malformed_row" in res.stdout
    dropped = (tmp_path / "d" / "dropped.tsv").read_text()
    assert "line 3: 5 fields, the header has 8" in dropped and "line 4: 10 fields" in dropped


def test_quoted_fields_with_tabs_and_newlines_stay_one_record(tmp_path):
    rows = small_rows()[:3]
    rows[0]["mechanism_of_action"] = "Carbonic anhydrase II\tinhibitor,\nquoted"
    src = tmp_path / "q.tsv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerow(RAW_COLUMNS)
        w.writerows([[r[c] for c in RAW_COLUMNS] for r in rows])
    ok(tb("prepare", "--input", src, "--out", tmp_path / "d", "-q"))
    rep = report(tmp_path / "d")
    assert rep["rows_in"] == 3 and sum(rep["rows_dropped"].values()) == 0
    pairs = (tmp_path / "d" / "pairs.tsv").read_text()
    assert "Carbonic anhydrase II inhibitor, quoted" in pairs  # whitespace folded, nothing lost


def test_quote_all_csv_named_tsv_and_gzip_are_read(tmp_path):
    rows = small_rows()[:4]
    plain = tmp_path / "all_quoted.tsv"   # a CSV, quote-all, named .tsv
    with open(plain, "w", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            [RAW_COLUMNS] + [[r[c] for c in RAW_COLUMNS] for r in rows])
    ok(tb("prepare", "--input", plain, "--out", tmp_path / "a", "-q"))
    gz = tmp_path / "m.tsv.gz"
    gz.write_bytes(gzip.compress(write_table(tmp_path / "m.tsv", rows).read_bytes()))
    ok(tb("prepare", "--input", gz, "--out", tmp_path / "b", "-q"))
    assert report(tmp_path / "a")["pairs"] == report(tmp_path / "b")["pairs"] == 3


def test_salt_only_structures_and_null_organisms(tmp_path):
    rows = small_rows()[:1] + [
        raw_row("CHEMBL1", "SODIUM CHLORIDE", "[Na+].[Cl-]", "Sodium channel opener", "OPENER", "CHEMBL2", "NaC"),
        raw_row("CHEMBL3", "FERROUS ACETATE", "CC(=O)[O-].CC(=O)[O-].[Fe+2]", "Iron replacement", "OTHER",
                "CHEMBL4", "Iron"),
        raw_row("CHEMBL5", "CALCIUM THING", ASPIRIN, "Calcium channel blocker", "BLOCKER", "CHEMBL6", "Calcium",
                "null"),
    ]
    src = write_table(tmp_path / "m.tsv", rows)
    ok(tb("prepare", "--input", src, "--out", tmp_path / "d", "-q"))
    rep = report(tmp_path / "d")
    assert rep["rows_dropped"]["empty_parent"] == 2 and rep["pairs"] == 2
    assert rep["null_values_blanked"] == {"target_organism": 1}
    assert "(null)" not in (tmp_path / "d" / "pairs.tsv").read_text()


def test_corrupt_sqlite_is_one_line(tmp_path):
    db = tmp_path / "chembl.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + b"garbage" * 50)
    one_line_error(tb("prepare", "--input", db, "--out", tmp_path / "d"), "chembl.db", "not a ChEMBL SQLite")
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    one_line_error(tb("prepare", "--input", empty, "--out", tmp_path / "d"), "no such table")


# ---------------------------------------------------------------------------------- fail before the work
@pytest.mark.parametrize("argv, words", [
    (["train", "--data", "{data}", "--out", "{file}"], ["is a file"]),
    (["train", "--data", "{data}", "--out", "{file}/run"], ["cannot be made"]),
    (["train", "--data", "{data}", "--out", "{tmp}/r", "--n-boot", "-5"], ["--n-boot", "at least 0"]),
    (["train", "--data", "{data}", "--out", "{tmp}/r", "--lr", "nan"], ["--lr", "not a finite number"]),
    (["train", "--data", "{data}", "--out", "{tmp}/r", "--dim", "abc"], ["--dim", "not a whole number"]),
    (["train", "--data", "{tmp}", "--out", "{tmp}/r"], ["no pairs.tsv"]),
    (["prepare", "--out", "{file}"], ["is a file"]),
    (["evaluate", "{run}", "--out", "{tmp}"], ["is a folder"]),
    (["index", "{run}", "--smiles-file", "{file}", "--out", "{tmp}/i", "--workers", "-3"], ["--workers"]),
    (["index", "{run}", "--smiles-file", "{file}", "--out", "{tmp}/i", "--chunk-size", "0"], ["--chunk-size"]),
    (["query", "{run}", "x", "--top", "0"], ["--top"]),
])
def test_bad_options_and_outputs_fail_at_once(tmp_path, small_run, argv, words):
    f = tmp_path / "a_file"
    f.write_text("x\n")
    fill = {"data": small_run["data"], "run": small_run["run"], "file": f, "tmp": tmp_path}
    t0 = time.perf_counter()
    one_line_error(tb(*[a.format(**fill) for a in argv]), *words)
    assert time.perf_counter() - t0 < 20  # before loading data, models or training


# ---------------------------------------------------------------------------------- damaged files
def test_truncated_pairs_and_hand_edited_config(tmp_path, small_run):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_run["data"], data)
    text = (data / "pairs.tsv").read_text()
    (data / "pairs.tsv").write_text(text[: len(text) // 2])
    one_line_error(tb("train", "--data", data, "--out", tmp_path / "r", "-q"), "pairs.tsv", "truncated")

    run = tmp_path / "run"
    shutil.copytree(small_run["run"], run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["config"]["dim"] = "abc"
    (run / "config.json").write_text(json.dumps(cfg))
    one_line_error(tb("query", run, "kinase inhibitor"), "config.json", "dim must be a number")
    cfg["config"]["dim"] = 256
    cfg["model"]["dim"] = "abc"
    (run / "config.json").write_text(json.dumps(cfg))
    one_line_error(tb("query", run, "kinase inhibitor"), "config.json", "model dimensions")


def test_unwritable_cache_falls_back_with_a_note(tmp_path, small_run):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_run["data"], data, ignore=shutil.ignore_patterns("cache"))
    (data / "cache").write_text("not a folder: nothing can be written here\n")
    res = ok(tb("train", "--data", data, "--out", tmp_path / "r", "--epochs", "2", "--n-boot", "0", "-q",
                env={"THINBRIDGE_CACHE": str(tmp_path / "user_cache")}))
    assert "cannot write the feature cache" in res.stderr and res.stderr.count("\n") <= 2
    assert list((tmp_path / "user_cache" / "features").glob("*.safetensors"))


# ---------------------------------------------------------------------------------- machine-readable output
def _strict(text: str):
    def refuse(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(text, parse_constant=refuse)


def test_metrics_and_query_json_are_strict_json(small_run):
    text = (small_run["run"] / "metrics.json").read_text()
    _strict(text)  # small data: some metrics are undefined, written as null
    assert "NaN" not in text and "null" in text
    res = ok(tb("query", small_run["run"], "carbonic anhydrase inhibitor", "--json", "-q"))
    assert isinstance(_strict(res.stdout), list)


def test_long_query_is_said_to_be_cut(small_run):
    res = ok(tb("query", small_run["run"], "kinase inhibitor " * 5000, "-q"))
    assert "tokens long; the text model reads only its first 256" in res.stderr
    assert len(res.stdout.splitlines()[0]) < 200  # the query is not echoed whole


# ---------------------------------------------------------------------------------- libraries
def test_index_reports_duplicate_ids_and_extra_fields(tmp_path, small_run):
    lib = tmp_path / "lib.txt"
    lib.write_text(f"smiles id\n{ASPIRIN} a1\n{CAFFEINE} a1 extra words\n{ACETAZOLAMIDE} a2\n[Na+].[Cl-] salt\n")
    res = ok(tb("index", small_run["run"], "--smiles-file", lib, "--out", tmp_path / "i", "-q"))
    assert "1 id(s) name more than one molecule" in res.stderr and "'a1' on lines 2, 3" in res.stderr
    assert "1 row(s) have more fields than the header (first on lines 3)" in res.stderr
    assert "empty_parent" in (tmp_path / "i" / "skipped.tsv").read_text()
    assert (tmp_path / "i" / "duplicate_ids.tsv").read_text().splitlines()[1].startswith("a1\t2\t")
    one_line_error(tb("query", small_run["run"], "--smiles", "[Na+].[Cl-]"), "salts")


def _default_sigint() -> None:
    """A build started from a background job (``cmd &`` in a script, as CI may run us) inherits an
    ignored SIGINT, and Python then keeps ignoring it: restore the default so Ctrl-C reaches it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig, code, word, engine, left", [
    (signal.SIGINT, 130, "interrupted", "--processes", "partial output removed"),
    (signal.SIGTERM, 143, "terminated", "--processes", "partial output removed"),
    (signal.SIGINT, 130, "interrupted", "--workers", "finished shards kept"),  # Dask: resumable
])
def test_interrupted_index_build_stops_its_workers(tmp_path, small_run, sig, code, word, engine, left):
    smiles = [r["canonical_smiles"] for r in generated_rows(40, 3)] * 2000  # minutes of work: never done first
    lib = tmp_path / "big.smi"
    lib.write_text("\n".join(f"{s} m{i}" for i, s in enumerate(smiles)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "thinbridge.cli", "index", str(small_run["run"]),
                             "--smiles-file", str(lib), "--out", str(tmp_path / "i"), engine, "2",
                             "--chunk-size", "512", "-q"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    started = time.monotonic()  # interrupt once the build has written something, whatever the machine's speed
    while time.monotonic() - started < 90 and proc.poll() is None and not _written(tmp_path, lib):
        time.sleep(0.2)
    time.sleep(1)
    assert proc.poll() is None, "the build ended before it could be interrupted"
    children = _children(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (proc.returncode, err[-1000:])
    assert word in err and left in err and "Traceback" not in err and "ForkPoolWorker" not in err, err
    assert err.strip().count("\n") == 0, err
    time.sleep(1)
    assert not [c for c in children if Path(f"/proc/{c}").exists()], "worker processes outlived the build"
    assert not (tmp_path / "i" / "index.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".i.")]  # no temporary folder left


def _written(folder: Path, *inputs: Path) -> bool:
    """Whether a build has written a file of some size under ``folder`` (its output folder, the
    temporary folder beside it or its shards), not counting ``inputs`` or the lock file (taken first)."""
    return any(p.is_file() and p.stat().st_size and p not in inputs and p.suffix != ".lock" for p in folder.rglob("*"))


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# ---------------------------------------------------------------------------------- the shared small run
@pytest.fixture(scope="module")
def small_run(tmp_path_factory, text_model):
    from thinbridge.config import RunConfig
    from thinbridge.data.pairs import prepare
    from thinbridge.training.run import train_run

    root = tmp_path_factory.mktemp("bad_input")
    prepare(write_table(root / "g.tsv", generated_rows()), root / "data", show_progress=False)
    train_run(root / "data", root / "run", RunConfig(epochs=3, batch_size=16, n_boot=20), show_progress=False)
    return {"data": root / "data", "run": root / "run"}
