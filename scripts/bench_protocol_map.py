#!/usr/bin/env python
"""What the protocol map adds to the book: the extra work of chapter 7, timed directly.

    python scripts/bench_protocol_map.py        # writes benchmarks/protocol_map.json

The map trains nothing: chapter 7 scores the bridges it trains anyway once more under every
protocol. This script times exactly that extra work on the full profile's splits (five scaffold,
five random): per split and text, the test task under every protocol
(:func:`thinbridge.evaluation.protocols.protocol_tasks`), then
:func:`~thinbridge.evaluation.protocols.query_columns` once per bridge the chapter scores that
way (the main configuration and the paper's best cell, three model seeds each; the main
configuration with the name, three more) and once for the random ranking, with embeddings of the
bridges' shape; then the map (:func:`~thinbridge.evaluation.protocols.protocol_map`), its claims
and its figure. Timing the whole replication twice (with and without the map) would measure the
training's noise on shared cores more than the map. The issue's budget: the full-profile book
grows by at most 60 s. Needs the book's prepared pairs and scaffolds (``make book``, or
``scripts/run_notebooks.py --only 02``).
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
    import numpy as np
    import pandas as pd

    from thinbridge import RunConfig, load_inputs, protocol_map
    from thinbridge.book import claims, plots
    from thinbridge.book import experiments as X
    from thinbridge.data.splits import molecules_table, scaffold_cache, split_pairs
    from thinbridge.evaluation.protocols import protocol_tasks, query_columns

    paths = book.setup()
    pairs = book.load_pairs(paths)
    mols = molecules_table(pairs, scaffold_cache(paths.data))
    splits = [("scaffold", s) for s in range(5)] + [("random", s) for s in range(5)]
    bridges = {False: 3, True: 6}  # per split: NoDrug (main, 3 seeds); WithDrug (best cell and main, 3 each)
    timings = {"tasks": 0.0, "bridges' columns": 0.0, "random ranking's columns": 0.0}
    rng = np.random.default_rng(0)
    parts = []
    for with_name in (False, True):
        cfg = dataclasses.replace(RunConfig(), with_name=with_name)
        for kind, seed in splits:
            split = split_pairs(pairs, kind, cfg.sizes, seed, mols=mols).to_numpy()
            inp = load_inputs(paths.data, cfg, pairs=pairs, split=split, show_progress=False)
            rows = inp.rows("test")
            test = inp.pairs.iloc[rows]
            t = time.perf_counter()
            tasks = protocol_tasks(test, [inp.texts[i] for i in rows])
            timings["tasks"] += time.perf_counter() - t
            label = "WithDrug" if with_name else "NoDrug"
            for b in range(bridges[with_name]):
                z = [rng.standard_normal((len(rows), cfg.dim)).astype(np.float32) for _ in range(2)]
                z = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in z]
                t = time.perf_counter()
                cols = query_columns(test, tasks, *z)
                timings["bridges' columns"] += time.perf_counter() - t
                model = "bridge" if not with_name else ("bridge, paper's best cell" if b < 3 else "bridge, with the name")
                parts.append(cols.assign(model=model, inputs=label, split=kind, split_seed=seed, query=range(len(rows))))
            t = time.perf_counter()
            cols = query_columns(test, tasks)
            timings["random ranking's columns"] += time.perf_counter() - t
            parts.append(cols.assign(model="random ranking", inputs=label, split=kind, split_seed=seed,
                                     query=range(len(rows))))
    records = pd.concat(parts, ignore_index=True)
    t = time.perf_counter()
    pmap = protocol_map(records, X.PAPER_NUMBERS, claims.MAP_MODELS)
    for q in dict.fromkeys(pmap.quantity):
        claims.number_paragraph(pmap, q)
    claims.paper_numbers(pmap)
    timings["map, claims and paragraphs"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        plots.protocol_map_plot(pmap, "protocol map", path=Path(tmp) / "map.png")
    timings["figure"] = time.perf_counter() - t
    added = sum(timings.values())
    result = {
        "what": "the protocol map's extra work in chapter 7 (full profile: 10 splits; 9 bridges and a random "
                "ranking per split scored under every protocol; the map, its claims, its figure), timed directly",
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
