#!/usr/bin/env python
"""What the protocol map adds to the book: chapter 7's main replication with and without it.

    python scripts/bench_protocol_map.py        # writes benchmarks/protocol_map.json

Runs, in one process and one run, the replication chapter's main experiment (five scaffold and
five random splits, the main configuration and the paper's best cell, three model seeds each,
with the baselines: the full profile's settings) once as before and once with
``protocol_map=True`` (every bridge and the random ranking scored again under every protocol),
then the map itself (:func:`thinbridge.evaluation.protocols.protocol_map`) and its figure. The
issue's budget: the full-profile book grows by at most 60 s. Needs the book's artifacts
(``make book`` or ``scripts/run_notebooks.py --only 02``) for the prepared pairs and scaffolds.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from thinbridge import book  # first: pins the CPU kernels

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "protocol_map.json"
BUDGET_S = 60.0


def main() -> int:
    from thinbridge import RunConfig, protocol_map, replicate
    from thinbridge.book import claims, plots
    from thinbridge.book import experiments as X

    paths = book.setup()
    pairs = book.load_pairs(paths)
    main_cfg = RunConfig()
    paper_cell = dataclasses.replace(main_cfg, with_name=True, temperature=0.05, margin=0.15)
    variants = {"bridge": main_cfg, "bridge, paper's best cell": paper_cell}
    splits = [("scaffold", s) for s in range(5)] + [("random", s) for s in range(5)]
    # warm the feature cache and the imports, so neither timing pays for them
    replicate(pairs, paths.data, variants, splits[:1], [0], n_jobs=2)
    timings = {}
    for label, with_map in (("before", False), ("with the map", True)):
        t = time.perf_counter()
        records = replicate(pairs, paths.data, variants, splits, [0, 1, 2], n_jobs=2, protocol_map=with_map)
        timings[label] = time.perf_counter() - t
    t = time.perf_counter()
    pmap = protocol_map(records, X.PAPER_NUMBERS, claims.MAP_MODELS)
    claims.paper_numbers(pmap)
    timings["map and claims"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        plots.protocol_map_plot(pmap, "protocol map", path=Path(tmp) / "map.png")
    timings["figure"] = time.perf_counter() - t
    added = timings["with the map"] - timings["before"] + timings["map and claims"] + timings["figure"]
    result = {
        "what": "chapter 7's main replication (10 splits x 2 variants x 3 model seeds, with baselines), "
                "without and with the protocol map's scoring, then the map, its claims and its figure",
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "added_seconds": round(added, 2),
        "budget_seconds": BUDGET_S,
        "within_budget": added <= BUDGET_S,
        "protocols": int(len(pmap)),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if added <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
