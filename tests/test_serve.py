"""``thinbridge serve``: the page in a real browser, the JSON API, bad input, signals.

A server is started as a person starts it (``python -m thinbridge.cli serve RUN``) on a free
port of 127.0.0.1, in its own process group, by :class:`thinbridge.testing.server.ServerProcess`,
and stopped (the whole group) at the end of the module or of the test, also when a test fails.
The bridge is the session's small run on the generated data (``bridges`` in conftest.py). The
browser test needs Chromium (/usr/bin/chromium or $CHROMIUM) and Playwright and is skipped
without them; nothing leaves 127.0.0.1 (the page's requests elsewhere are aborted and counted).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import ASPIRIN, write_library
from thinbridge import cli
from thinbridge.testing.server import ServerProcess, get, get_json

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
QUERY = "HMG-CoA reductase inhibitor"
needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() or importlib.util.find_spec("playwright") is None,
    reason=f"needs Chromium at {CHROMIUM} (or $CHROMIUM) and the playwright package")


@pytest.fixture(scope="module")
def served(bridges, tmp_path_factory):
    """One server for the module's API and browser tests, stopped at the end in any case."""
    with ServerProcess(bridges["run"], tmp_path_factory.mktemp("serve") / "serve.log") as s:
        yield s
        assert "Traceback" not in s.log(), s.log()


def _cli_json(capsys, *argv) -> list[dict]:
    capsys.readouterr()
    assert cli.main(["query", *map(str, argv), "--json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_api_returns_the_records_the_cli_prints(served, bridges, capsys, monkeypatch):
    monkeypatch.setenv("THINBRIDGE_PROGRESS", "0")
    status, body = get_json(f"{served.base}api/search?q={quote(QUERY)}&k=7")
    assert status == 200 and body["query"] == QUERY and body["k"] == 7 and body["searched"] == "run"
    assert body["hits"] == _cli_json(capsys, bridges["run"], QUERY, "--top", 7)
    status, body = get_json(f"{served.base}api/smiles?s={quote(ASPIRIN)}&k=4")
    assert status == 200 and body["parent_smiles"] == ASPIRIN and len(body["hits"]) == 4
    assert body["hits"] == _cli_json(capsys, bridges["run"], "--smiles", ASPIRIN, "--top", 4)
    assert [h["rank"] for h in body["hits"]] == [1, 2, 3, 4]
    # the default k, and the same answer twice (deterministic)
    first = get_json(f"{served.base}api/search?q=dopamine%20D2%20receptor%20antagonist")[1]
    assert len(first["hits"]) == 10 and first == get_json(f"{served.base}api/search?q=dopamine%20D2%20receptor%20antagonist")[1]


BAD = [  # (request, status, words of the one-line message: the CLI's wording where the CLI has one)
    ("api/search?q=", 400, "empty query: give some text to search for"),
    ("api/search?q=%20%20%09", 400, "empty query"),
    ("api/search", 400, "empty query"),
    ("api/search?q=" + "a" * 100_000, 414, "the query is 100,000 characters long; at most 2,000"),
    ("api/search?q=x&k=0", 400, "k / --top must be at least 1, got 0"),
    ("api/search?q=x&k=-1", 400, "k / --top must be at least 1, got -1"),
    ("api/search?q=x&k=1000000000", 400, "k / --top must be at most 50, got 1000000000"),
    ("api/search?q=x&k=text", 400, "k / --top must be a whole number, not 'text'"),
    ("api/search?q=x&k=2.5", 400, "must be a whole number"),
    ("api/search?q=x&top=3", 400, "unknown parameter 'top': /api/search takes q and k"),
    ("api/search?q=x&index=/etc/passwd", 400, "unknown parameter 'index'"),
    ("api/search?q=x&data=../../", 400, "unknown parameter 'data'"),
    ("api/search?q=a&q=b", 400, "parameter 'q' given more than once"),
    ("api/smiles?s=C1CC(", 400, "invalid SMILES 'C1CC(': RDKit could not parse the SMILES"),
    ("api/smiles?s=" + quote("[Na+].[Cl-]"), 400, "no parent left: only salts, solvents or lone (metal) ions"),
    ("api/smiles?s=/etc/passwd", 400, "invalid SMILES '/etc/passwd'"),
    ("api/smiles?s=", 400, "empty SMILES"),
    ("api/smiles?s=CCO&k=0", 400, "k / --top must be at least 1"),
    ("api/smiles?s=" + "C" * 10_000, 414, "the SMILES is 10,000 characters long"),
    ("api/draw?smiles=../../etc/passwd", 400, "invalid SMILES '../../etc/passwd'"),
    ("api/draw?smiles=", 400, "empty SMILES"),
    ("api/draw?file=/etc/passwd", 400, "unknown parameter 'file'"),
    ("../../etc/passwd", 404, "no such page"),
    ("%2e%2e/%2e%2e/etc/passwd", 404, "no such page"),
    ("static/../../../etc/passwd", 404, "no such page"),
    ("api/nothing", 404, "no such page: /api/nothing"),
]


def test_bad_input_gets_a_one_line_4xx_and_the_server_keeps_serving(served):
    for path, want, words in BAD:
        status, ctype, body = get(served.base + path)
        assert status == want, (path[:60], status, body[:300])
        assert ctype.startswith("application/json"), (path[:60], ctype)
        err = json.loads(body)
        assert words in err["error"] and "\n" not in err["error"] and len(err["error"]) < 300, (path[:60], err)
        assert "root:" not in err["error"]  # nothing of a file read back
    status, body = get_json(f"{served.base}api/search?q={quote(QUERY)}&k=5")
    assert status == 200 and len(body["hits"]) == 5
    assert served.proc.poll() is None and "Traceback" not in served.log()


def test_health_info_page_and_openapi(served):
    status, health = get_json(served.base + "api/health")
    assert status == 200 and health["status"] == "ok" and health["molecules"] > 5
    status, info = get_json(served.base + "api/info")
    b = info["bridge"]
    assert b["split"] == "scaffold" and b["text_view"] == "rich" and b["drug_encoder"] == "ecfp4"
    assert len(b["data_hash"]) == 64 and info["limits"]["max_k"] == 50 and "06_retrieval" in info["book_url"]
    assert "/" not in b["run"]  # the run's folder name, not the server's file system layout
    status, ctype, page = get(served.base)
    assert status == 200 and ctype.startswith("text/html")
    assert b"<script src=\"serve.js\"" in page and b"http://" not in page.replace(b"http://www.w3.org", b"")
    status, api = get_json(served.base + "openapi.json")
    assert {"/api/search", "/api/smiles", "/api/health", "/api/draw"} <= set(api["paths"])
    status, _, docs = get(served.base + "docs")
    assert status == 200 and b"docs-assets/swagger-ui-bundle.js" in docs
    assert not re.search(rb"https?://(?!www\.w3\.org)", docs)  # no CDN: the API's docs work offline too
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert get(served.base + "docs-assets/" + asset)[0] == 200
    status, ctype, svg = get(served.base + "api/draw?smiles=" + quote(ASPIRIN))
    assert status == 200 and ctype.startswith("image/svg+xml") and svg.startswith(b"<svg")
    assert len(set(re.findall(rb"\batom-(\d+)", svg))) == 13  # aspirin's 13 heavy atoms are drawn


@needs_browser
def test_the_page_in_chromium_as_a_student_uses_it(served, tmp_path):
    from thinbridge.testing.page import walk

    shots = {name: tmp_path / f"{name}.png" for name in ("phone", "desktop")}
    seen = walk(served.base, CHROMIUM, shots)
    cards = seen["text_cards"]
    assert len(cards) >= 5, seen
    for c in cards:
        assert c["svgs"] == 1 and c["atoms"] >= 3, c  # a drawn molecule: an <svg> with atoms
        assert c["score"].startswith("score ") and -1 <= float(c["score"].split()[1]) <= 1, c
        assert c["name"] and c["mechanisms"], c
    assert [c["rank"] for c in cards] == [f"#{i}" for i in range(1, len(cards) + 1)]
    assert "molecules of the run's data" in seen["text_status"]
    texts = seen["smiles_cards"]
    assert texts and all(t["text"] and t["score"].startswith("score ") for t in texts), texts
    assert "scaffold split" in seen["header"] and "06_retrieval" in seen["book_link"]
    assert seen["errors"] == [] and seen["outside"] == [] and seen["failed"] == [], seen
    assert seen["overflow"] == {"phone": 0, "desktop": 0}, seen["overflow"]  # no sideways scrolling
    assert all(p.stat().st_size > 10_000 for p in shots.values())


@pytest.mark.parametrize("sig, said", [(signal.SIGTERM, "stopped (SIGTERM)"), (signal.SIGINT, "stopped (Ctrl-C)")])
def test_a_signal_stops_the_server_cleanly(bridges, tmp_path, sig, said):
    with ServerProcess(bridges["run"], tmp_path / "serve.log") as s:
        assert get_json(s.base + "api/health")[0] == 200
        assert s.signal(sig) == 0, s.log()
        log = s.log()
    assert said in log and "Traceback" not in log, log
    assert f"the search page is at http://127.0.0.1:{s.port}/" in log


def test_a_port_in_use_fails_at_once_in_one_line(bridges, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert cli.main(["serve", str(bridges["run"]), "--port", str(port), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"thinbridge: error: cannot listen on 127.0.0.1:{port}") and "--port" in err
    assert "\n" not in err


def test_listening_beyond_loopback_must_be_asked_for_and_warns(bridges, capsys, monkeypatch):
    from thinbridge.cli import serve

    asked = {}

    def fake_listen(host, port):  # a loopback socket stands in for 0.0.0.0: tests listen on loopback only
        asked["host"] = host
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        return sock

    monkeypatch.setattr(serve, "_listen", fake_listen)
    monkeypatch.setattr(serve, "_serve", lambda a, sock, host, port: 0)
    assert cli.main(["serve", str(bridges["run"]), "-q"]) == 0
    assert asked["host"] == "127.0.0.1" and "warning" not in capsys.readouterr().err
    assert cli.main(["serve", str(bridges["run"]), "--host", "0.0.0.0", "-q"]) == 0
    assert asked["host"] == "0.0.0.0" and "warning: listening on 0.0.0.0" in capsys.readouterr().err


def test_index_hits_carry_their_file_and_line(bridges, tmp_path):
    """With --index the page searches the library, and each hit says where it was read."""
    from starlette.testclient import TestClient

    from thinbridge.search.retrieval import Retriever
    from thinbridge.serve import Searcher, create_app

    r = Retriever.load(bridges["run"])
    files = write_library(tmp_path / "lib", n=24)
    r.build_index([str(f) for f in files], tmp_path / "idx", processes=1, show_progress=False)
    searcher = Searcher.load(bridges["run"], tmp_path / "idx")
    with TestClient(create_app(searcher)) as client:
        body = client.get("/api/search", params={"q": QUERY, "k": 50}).json()
        assert body["searched"] == "index" and len(body["hits"]) == len(searcher.index) > 5
        for h in body["hits"]:
            assert h["file"] in {"part1.smi", "part2.csv", "part3.tsv"} and h["line"] >= 1, h
        info = client.get("/api/info").json()
        assert info["searched"] == {"kind": "index", "name": "idx", "molecules": len(searcher.index),
                                    "index_kind": "exact"}
        assert client.get("/api/search", params={"q": QUERY, "k": 51}).status_code == 400


def test_queries_encoded_together_match_queries_encoded_alone(text_model):
    """One query through encode_together has encode_queries' bits; several agree to float tolerance."""
    import numpy as np

    from thinbridge.features.text import encode_queries, encode_queries_together

    texts = ["HMG-CoA reductase inhibitor", "dopamine D2 receptor antagonist", "EGFR kinase inhibitor",
             "an inhibitor of the serotonin transporter in the brain", "x"]
    assert np.array_equal(encode_queries_together(texts[:1]), encode_queries(texts[:1]))
    alone = np.concatenate([encode_queries([t]) for t in texts])
    together = encode_queries_together(texts)
    assert together.shape == alone.shape and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_concurrent_text_queries_get_the_answers_of_queries_asked_alone(bridges):
    """16 threads at once: batched, and every answer ranks as the same query asked alone."""
    from concurrent.futures import ThreadPoolExecutor

    from thinbridge.serve import Searcher

    s = Searcher.load(bridges["run"])
    s.batcher.linger_s = 0.05  # a slow, shared machine starts the 16 threads over some milliseconds
    queries = [f"{t} {kind}" for t in ("Dopamine D2 receptor", "HERG", "Carbonic anhydrase II", "Serotonin transporter")
               for kind in ("antagonist", "inhibitor", "blocker", "agonist")]
    alone = {q: s.search_text({"q": q, "k": "5"}) for q in queries}
    with ThreadPoolExecutor(16) as pool:
        together = dict(zip(queries, pool.map(lambda q: s.search_text({"q": q, "k": "5"}), queries)))
    assert s.batcher.largest > 1  # some queries were encoded together
    for q in queries:
        a, b = alone[q]["hits"], together[q]["hits"]
        assert [h["score"] for h in b] == pytest.approx([h["score"] for h in a], abs=1e-5)
        assert {h["parent_inchikey"] for h in b} == {h["parent_inchikey"] for h in a}


def test_the_listening_socket_says_it_is_tcp_so_answers_are_not_held_back():
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; on a socket made with
    proto 0 every answer waited ~40 ms for the client's delayed ACK (Nagle's algorithm)."""
    from thinbridge.cli import serve

    sock = serve._listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_a_keep_alive_connection_answers_without_delay(served):
    import http.client
    import statistics
    import time

    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    times = []
    for _ in range(15):
        t = time.perf_counter()
        conn.request("GET", "/api/health")
        assert conn.getresponse().read()
        times.append(time.perf_counter() - t)
    conn.close()
    assert statistics.median(times) < 0.025, times  # ~1 ms; 40+ ms when Nagle holds the body back
