#!/usr/bin/env python
"""Benchmark: wall time of `thinbridge --help` and of one cold `thinbridge query` (process start included).

    python scripts/bench_cli.py                 # this checkout
    python scripts/bench_cli.py --compare REV   # and REV (checked out into a temporary worktree)
    python scripts/bench_cli.py --run artifacts/runs/scaffold_rich_noname   # also time queries

Each command runs ``--repeat`` times in a fresh process (``python -m thinbridge.cli --help``
with ``PYTHONPATH`` at the tree being measured); the median and the minimum are written to
``benchmarks/cli.json``, with the ratio when ``--compare`` is given (both measured in the same
run, on the same machine). It also records which heavy libraries the parser loads, and the
machine's load average (the machine may be shared). ``--help`` has a budget of 0.2 s (median):
the script exits 1 when this checkout's median is over it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "pandas", "numpy", "rdkit", "sklearn", "sentence_transformers")
HELP_BUDGET_S = 0.2  # median wall time of `thinbridge --help`, process start included
QUERY_BUDGET_S = 2.0  # a cold query, with --run


def measure(tree: Path, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "thinbridge.cli", "--help"], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=tree)
        times.append(time.perf_counter() - t0)
    probe = ("import sys; from thinbridge.cli import build_parser; build_parser(); "
             f"print([m for m in {HEAVY!r} if m in sys.modules])")
    loaded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tree)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "repeat": repeat,
            "heavy_modules_loaded_by_parser": loaded.stdout.strip() or loaded.stderr.strip()[-200:]}


def measure_query(tree: Path, run: str, args: list[str], repeat: int) -> dict:
    """A cold ``thinbridge query`` (a fresh process each time), median and minimum wall time."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "thinbridge.cli", "query", str(Path(run).resolve()), *args, "-q"],
                       env=env, check=True, stdout=subprocess.DEVNULL, cwd=tree)
        times.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "repeat": repeat}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", metavar="REV", help="also measure this git revision")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--run", default=None, help="a run folder: also time a cold text query and a cold SMILES query")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "cli.json"))
    a = ap.parse_args()
    rec = {"command": "thinbridge --help (python -m thinbridge.cli --help)", "machine": platform.processor()
           or platform.machine(), "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
           "load_average_1min": round(os.getloadavg()[0], 2),
           "now": {**measure(ROOT, a.repeat), "budget_s": HELP_BUDGET_S}}
    if a.run:
        rec["query"] = {what: measure_query(ROOT, a.run, args, a.repeat) for what, args in
                        (("text", ["EGFR kinase inhibitor"]), ("smiles", ["--smiles", "CC(=O)Oc1ccccc1C(=O)O"]))}
        rec["query"]["budget_s"] = QUERY_BUDGET_S
    if a.compare:
        with tempfile.TemporaryDirectory() as tmp:
            wt = Path(tmp) / "rev"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), a.compare],
                           check=True, capture_output=True)
            try:
                rec["compare"] = {"revision": a.compare, **measure(wt, a.repeat)}
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], capture_output=True)
        rec["speedup"] = round(rec["compare"]["median_s"] / rec["now"]["median_s"], 2)
    Path(a.out).write_text(json.dumps(rec, indent=2) + "\n")
    print(json.dumps(rec, indent=2))
    if rec["now"]["median_s"] > HELP_BUDGET_S:
        print(f"over budget: thinbridge --help took {rec['now']['median_s']} s (median), budget {HELP_BUDGET_S} s",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
