#!/usr/bin/env python
"""Load on `thinbridge serve`: concurrent clients on loopback, latency, throughput, errors, memory.

    python scripts/bench_serve.py          # artifacts/runs/scaffold_rich_noname -> benchmarks/serve.{json,md}
    python scripts/bench_serve.py --run RUN --clients 8 --seconds 30 --large 100000

The server is started as a user starts it (``python -m thinbridge.cli serve RUN --port P``, its own
process, 127.0.0.1, a free port; :class:`thinbridge.testing.server.ServerProcess`) and stopped at
the end, whatever happens. Each scenario runs ``--clients`` client threads in this process for
``--seconds`` seconds; each thread keeps one HTTP/1.1 connection (``http.client``, keep-alive)
and sends its next request as soon as the last one is answered (a closed loop: the figures are
what 8 people typing without pause would see). Queries are the distinct mechanism strings of the
run's data (``mechanism_of_action``, e.g. "HMG-CoA reductase inhibitor": what a student types),
shuffled with a fixed seed, each client starting at its own offset; SMILES queries are the run's
parent molecules. Latency is measured per request, from sending it to the body read.

Scenarios: text queries against the run's molecules (the budget: p50 <= 50 ms, p99 <= 250 ms on
2 cores), SMILES queries against the run's mechanism texts, and text queries against an index of
``--large`` molecules. That index is synthetic: the embeddings are analogues of the run's parent
molecules (:mod:`thinbridge.testing.synthetic`, as ``scripts/bench_index.py`` uses: each keeps ~70%
of one parent's fingerprint bits and ~30% of another's, embedded by the run's own drug head);
its ``ids.tsv`` names a real parent per row so that the page can draw it. The server's peak
resident memory is its ``VmHWM`` (from ``/proc``), read before it is stopped; its CPU time per
request is counted in all its threads and in its main thread (the event loop: HTTP, search, JSON;
the rest is mostly the text model's thread). The machine's
1-minute load average is recorded at the start and end of each scenario: the cores may be shared.
Exits 1 when a request failed or the budget was missed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import thinbridge  # noqa: E402,F401  (first: pins the numerical kernels before numpy loads)
import numpy as np  # noqa: E402

BUDGET_MS = {"p50": 50.0, "p99": 250.0}  # text queries against the run's molecules, 2 cores


def log(msg: str) -> None:
    print(f"[bench_serve] {msg}", file=sys.stderr, flush=True)


def ensure_run(run: Path) -> None:
    """Prepare the shipped data and train the default bridge into ``run`` when it is not there."""
    if (run / "config.json").is_file():
        return
    data = run.parent.parent / "data"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log(f"no run at {run}: preparing the shipped data and training the defaults (~30 s)")
    for argv in (["prepare", "--out", str(data), "-q"], ["train", "--data", str(data), "--out", str(run), "-q"]):
        subprocess.run([sys.executable, "-m", "thinbridge.cli", *argv], env=env, cwd=ROOT, check=True)


def synthetic_index(run: Path, out: Path, n: int, seed: int = 0) -> Path:
    """An exact index of ``n`` analogue embeddings that ``run`` accepts (same model, encoder, dim)."""
    from thinbridge._util.jsonio import write
    from thinbridge.features.drugs import drug_encoder
    from thinbridge.search.index import INDEX_EMBEDDINGS, INDEX_FORMAT, INDEX_IDS, INDEX_MANIFEST, IDS_COLUMNS
    from thinbridge.search.retrieval import Retriever
    from thinbridge.testing import synthetic

    r = Retriever.load(run)
    mols = r.molecules
    out.mkdir(parents=True, exist_ok=True)
    parents = synthetic.parent_bits(mols["parent_smiles"].tolist())
    synthetic.write_embeddings(out / INDEX_EMBEDDINGS, synthetic.analogue_embeddings(r.heads, parents, n, seed=seed),
                               r.dim)
    smiles, keys = mols["parent_smiles"].to_numpy(), mols["parent_inchikey"].to_numpy()
    with open(out / INDEX_IDS, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\t".join(IDS_COLUMNS) + "\n")
        for i in range(n):
            j = i % len(smiles)
            fh.write(f"{i}\tSYN{i + 1:07d}\tsynthetic.smi\t{i + 1}\t{smiles[j]}\t{smiles[j]}\t{keys[j]}\n")
    write(out / INDEX_MANIFEST, {
        "format": INDEX_FORMAT, "kind": "exact", "count": n, "dim": r.dim, "ann": None,
        "run": {"path": str(run), "model_sha256": r.model_sha256, "encoders": r.record.get("encoders")},
        "encoders": {"drug": drug_encoder(r.cfg.drug_encoder)[0]},
        "synthetic": "analogues of the run's parent molecules (thinbridge.testing.synthetic)"})
    return out


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads, each on one keep-alive connection, sending ``paths`` round-robin."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    start_barrier = threading.Barrier(clients)

    def client(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = c * len(paths) // clients
        start_barrier.wait()
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    errors.append(f"{resp.status} {path[:60]}: {body[:120]!r}")
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"{type(e).__name__} {path[:60]}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            lat[c].append((time.perf_counter() - t) * 1e3)
        conn.close()

    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    a = np.asarray([x for per in lat for x in per], dtype=float)
    return {"requests": int(len(a)), "errors": len(errors), "error_examples": errors[:5],
            "seconds": round(wall, 2), "requests_per_s": round(len(a) / wall, 1),
            "latency_ms": {q: round(float(np.percentile(a, int(q[1:]))), 1) for q in ("p50", "p95", "p99")}
            | {"mean": round(float(a.mean()), 1), "max": round(float(a.max()), 1)},
            "load_average_1min_at_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)]}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_s(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads), or of its thread ``tid``."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scenario(name: str, run: Path, paths: list[str], a, tmp: Path, *args: str) -> dict:
    from thinbridge.testing.server import ServerProcess, get_json

    log(f"{name}: starting the server")
    t = time.perf_counter()
    with ServerProcess(run, tmp / f"{name}.log", *args, start_timeout=600) as s:
        ready = time.perf_counter() - t
        load(s.port, paths[: 4 * a.clients], a.clients, min(3.0, a.seconds))  # warm-up, not counted
        log(f"{name}: {a.clients} clients for {a.seconds:.0f} s")
        pid = s.proc.pid
        before, loop0, mine = cpu_s(pid), cpu_s(pid, pid), time.process_time()
        health0 = get_json(s.base + "api/health")[1]
        res = load(s.port, paths, a.clients, a.seconds)
        server_cpu, client_cpu = cpu_s(pid) - before, time.process_time() - mine
        res["server_event_loop_cpu_ms_per_request"] = round((cpu_s(pid, pid) - loop0) * 1e3 / max(res["requests"], 1), 2)
        health = get_json(s.base + "api/health")[1]
        res["server_peak_rss_mb"] = peak_rss_mb(s.proc.pid)
        res["server_cpu_ms_per_request"] = round(server_cpu * 1e3 / max(res["requests"], 1), 2)
        res["client_cpu_ms_per_request"] = round(client_cpu * 1e3 / max(res["requests"], 1), 2)
        batches = health["text_batches"] - health0["text_batches"]
        if batches:
            res["text_queries_per_batch_mean"] = round(
                (health["text_queries_encoded"] - health0["text_queries_encoded"]) / batches, 2)
        res["server_ready_s"] = round(ready, 2)
    log(f"{name}: p50 {res['latency_ms']['p50']} ms, p99 {res['latency_ms']['p99']} ms, "
        f"{res['requests_per_s']} req/s, {res['errors']} errors, peak RSS {res['server_peak_rss_mb']} MB, "
        f"server CPU {res['server_cpu_ms_per_request']} ms/request, client CPU {res['client_cpu_ms_per_request']} "
        f"ms/request, batch {res.get('text_queries_per_batch_mean')}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "artifacts" / "runs" / "scaffold_rich_noname"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--large", type=int, default=100_000, help="molecules in the synthetic index (0: none)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "serve.json"))
    a = ap.parse_args(argv)
    run = Path(a.run).resolve()
    ensure_run(run)

    from thinbridge.search.retrieval import Retriever

    r = Retriever.load(run)
    rng = random.Random(a.seed)
    texts = sorted(set(r.pairs["mechanism_of_action"]))
    rng.shuffle(texts)
    smiles = r.molecules["parent_smiles"].tolist()
    rng.shuffle(smiles)
    text_paths = [f"/api/search?q={quote(t)}&k={a.k}" for t in texts]
    smiles_paths = [f"/api/smiles?s={quote(s)}&k={a.k}" for s in smiles]
    res = {"date": time.strftime("%Y-%m-%d"), "script": "scripts/bench_serve.py",
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "run": run.name, "clients": a.clients, "seconds_per_scenario": a.seconds, "k": a.k,
           "queries": {"text": f"{len(texts)} distinct mechanism_of_action strings of the run's data",
                       "smiles": f"{len(smiles)} parent molecules of the run's data"},
           "client": "http.client threads in one process, one keep-alive connection each, closed loop",
           "budget_ms_text_vs_run": BUDGET_MS, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
        tmp = Path(tmp)
        sc = res["scenarios"]
        sc["text_vs_run_molecules"] = scenario("text_vs_run_molecules", run, text_paths, a, tmp)
        sc["text_vs_run_molecules"]["candidates"] = len(r.molecules)
        # the same with every query encoded alone (--batch 1: the command line's bits exactly)
        sc["text_vs_run_molecules_batch_1"] = scenario("text_vs_run_molecules_batch_1", run, text_paths, a, tmp,
                                                       "--batch", "1")
        sc["text_vs_run_molecules_batch_1"]["candidates"] = len(r.molecules)
        sc["smiles_vs_run_texts"] = scenario("smiles_vs_run_texts", run, smiles_paths, a, tmp)
        sc["smiles_vs_run_texts"]["candidates"] = len(r.texts)
        if a.large:
            log(f"synthetic index of {a.large:,} analogues")
            t = time.perf_counter()
            idx = synthetic_index(run, tmp / "large_index", a.large, a.seed)
            made = time.perf_counter() - t
            name = f"text_vs_index_{a.large}"
            sc[name] = scenario(name, run, text_paths, a, tmp, "--index", str(idx))
            sc[name].update(candidates=a.large, index="synthetic analogues (thinbridge.testing.synthetic), exact",
                            index_made_s=round(made, 1))
    lat = res["scenarios"]["text_vs_run_molecules"]["latency_ms"]
    res["within_budget"] = bool(lat["p50"] <= BUDGET_MS["p50"] and lat["p99"] <= BUDGET_MS["p99"])
    errors = sum(s["errors"] for s in res["scenarios"].values())
    out = Path(a.out)
    out.write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    log(f"wrote {out} and {out.with_suffix('.md')}; within budget: {res['within_budget']}; errors: {errors}")
    return 0 if res["within_budget"] and errors == 0 else 1


def markdown(res: dict) -> str:
    rows = []
    for name, s in res["scenarios"].items():
        L = s["latency_ms"]
        rows.append(f"| {name.replace('_', ' ')} | {s['candidates']:,} | {L['p50']} | {L['p95']} | {L['p99']} | "
                    f"{s['requests_per_s']} | {s['requests']:,} | {s['errors']} | {s['server_peak_rss_mb']} | "
                    f"{s['server_cpu_ms_per_request']} ({s['server_event_loop_cpu_ms_per_request']}) | "
                    f"{s.get('text_queries_per_batch_mean', '')} | "
                    f"{s['load_average_1min_at_start_end'][0]} / {s['load_average_1min_at_start_end'][1]} |")
    b = res["budget_ms_text_vs_run"]
    return "\n".join([
        "# `thinbridge serve` under load", "",
        f"Written by `{res['script']}` on {res['machine']['cpus']} CPU cores ({res['machine']['platform']}): "
        f"{res['clients']} concurrent clients on loopback for {res['seconds_per_scenario']:.0f} s per scenario, "
        f"top-{res['k']}, run `{res['run']}`. Clients: {res['client']}. Text queries: {res['queries']['text']}; "
        f"SMILES queries: {res['queries']['smiles']}. The clients run on the same cores as the server.", "",
        "| scenario | candidates | p50 ms | p95 ms | p99 ms | requests/s | requests | errors | server peak RSS MB "
        "| server CPU ms/request (event loop) | text queries per batch | load avg start / end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", *rows, "",
        f"Budget for text queries against the run's molecules: p50 <= {b['p50']:.0f} ms, p99 <= {b['p99']:.0f} ms: "
        f"**{'met' if res['within_budget'] else 'missed'}**. The 10^5-molecule index is synthetic (analogues of "
        "the run's parents embedded by its drug head, `thinbridge.testing.synthetic`); search is exact. "
        "A 1-minute load average above 2 means other work shared the cores.", ""])


if __name__ == "__main__":
    sys.exit(main())
