#!/usr/bin/env python
"""Time an incremental ``make book``: a prose edit to chapter 9, then the rebuild.

    python scripts/bench_book.py            # writes benchmarks/book_incremental.json

It first brings the book up to date (``make book``: nothing runs if nothing is stale), then
adds a word to the first paragraph of ``notebooks/09_verdict.py`` and times ``make book``,
then restores the file and times ``make book`` once more (also a prose-only change). Each
timing records which notebooks were executed (from the runner's output) and the HTML build's
share. The budget: only chapter 9 runs, and the whole ``make book`` ends in under 30 s.

The edited source is restored whatever happens (also on Ctrl-C).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "09_verdict.py"
OUT = ROOT / "benchmarks" / "book_incremental.json"
BUDGET_S = 30.0
RAN = re.compile(r"^\s*[\d.]+ s\s+notebooks/(\S+)\.py -> ", re.M)


def runner():
    """scripts/run_notebooks.py as a module (its machine description)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_book() -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"bench_book: make book failed (exit {proc.returncode})")
    executed = RAN.findall(proc.stdout)
    html = re.search(r"^\S*jupyter-book build .*$", proc.stdout, re.M)
    return {"seconds": round(seconds, 1), "executed": executed, "html_build_ran": bool(html)}


def main() -> int:
    first = make_book()
    print(f"bench_book: up to date first ({first['seconds']} s, executed {first['executed'] or 'nothing'})")
    original = SOURCE.read_text()
    marker = "# # Verdict\n#\n# "
    if marker not in original:
        raise SystemExit(f"bench_book: {SOURCE.name} no longer starts with {marker!r}; update the script")
    try:
        SOURCE.write_text(original.replace(marker, marker + "In short: ", 1))
        edited = make_book()
        print(f"bench_book: prose edit of chapter 9: {edited['seconds']} s, executed {edited['executed']}")
    finally:
        SOURCE.write_text(original)
    restored = make_book()
    print(f"bench_book: edit undone: {restored['seconds']} s, executed {restored['executed']}")

    runs = [edited, restored]
    record = {
        "date": dt.date.today().isoformat(),
        "what": "make book after a full make book: a prose-only edit to notebooks/09_verdict.py, then the edit "
                "undone; seconds are the whole make book (staleness check, papermill, incremental HTML build)",
        "before": first,
        "prose_edit": edited,
        "edit_undone": restored,
        "budget_seconds": BUDGET_S,
        "only_chapter_9_executed": all(r["executed"] == ["09_verdict"] for r in runs),
        "within_budget": all(r["seconds"] <= BUDGET_S for r in runs),
        "machine": runner().machine(),
    }
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"bench_book: wrote {OUT.relative_to(ROOT)}: only chapter 9 executed: "
          f"{record['only_chapter_9_executed']}, within {BUDGET_S:.0f} s: {record['within_budget']}")
    return 0 if record["only_chapter_9_executed"] and record["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
