"""Index builds on Dask (thinbridge.search.build, thinbridge.search.cluster, thinbridge.search.shards).

One library of 120 real molecules in three files (``conftest.write_library``: a SMILES file, a
CSV with a quoted multi-line record, an unparsable SMILES and a line that is not UTF-8, a TSV
with a salt and an id used twice), cut into partitions of 9 lines. Every Dask build is compared
byte for byte with the build in one process. Bridges: ``conftest.bridges``.
"""
from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_library
from thinbridge.search import shards
from thinbridge._util.errors import UserError
from thinbridge.search.index import Index
from thinbridge.search.retrieval import Retriever

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 9
FILES = ("embeddings.safetensors", "ids.tsv", "skipped.tsv", "duplicate_ids.tsv")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return write_library(tmp_path_factory.mktemp("library"))[0].parent


@pytest.fixture(scope="module")
def retriever(bridges) -> Retriever:
    return Retriever.load(bridges["run"])


@pytest.fixture(scope="module")
def reference(retriever, library, tmp_path_factory) -> Path:
    """The index built in this process, one standardising process: what every Dask build must equal."""
    out = tmp_path_factory.mktemp("reference") / "index"
    retriever.build_index(str(library / "*"), out, chunk_size=CHUNK, processes=1, show_progress=False)
    return out


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two single-threaded workers, used through its scheduler address."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as c, Client(c, set_as_default=False) as client:
        yield c.scheduler_address, client


def assert_same_index(a: Path, b: Path) -> None:
    """The same files byte for byte, and the same manifest apart from how it was built."""
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((p / "index.json").read_text()) for p in (a, b))
    ma.pop("build"), mb.pop("build")
    assert ma == mb


def test_reference_build_reports_bad_lines_with_file_and_line(reference):
    with open(reference / "skipped.tsv", newline="") as fh:
        skipped = [(r["file"], r["line"], r["reason"]) for r in csv.DictReader(fh, delimiter="\t")]
    assert skipped == [("part1.smi", "32", "empty_parent"),  # lithium carbonate: no organic parent
                       ("part2.csv", "6", "invalid_smiles"), ("part2.csv", "7", "unreadable_line"),
                       ("part3.tsv", "3", "empty_parent")]
    detail = (reference / "skipped.tsv").read_text().splitlines()[3].split("\t")[-1]
    assert detail == "line 7: not valid UTF-8 (byte 0xff at column 3)"
    m = json.loads((reference / "index.json").read_text())
    assert m["format"] == "thinbridge-index-2" and m["count"] == 120 and m["skipped"] == 4
    assert [s["name"] for s in m["sources"]] == ["part1.smi", "part2.csv", "part3.tsv"]
    assert m["build"]["partitions"] > 12 and m["duplicate_ids"] == 1
    table = Index.load(reference).table
    assert table["row"].tolist() == [str(i) for i in range(120)]
    assert table[["file", "line"]].apply(tuple, axis=1).is_unique


def test_local_cluster_build_equals_the_single_process_build(retriever, library, reference, tmp_path):
    out = tmp_path / "index"
    res = retriever.build_index([library / "part1.smi", str(library / "part[23].*")], out, chunk_size=CHUNK,
                                workers=2, show_progress=False)
    assert res["engine"] == "dask" and res["workers"] == 2 and res["partitions_built"] == res["partitions"]
    assert_same_index(reference, out)
    assert not (out / shards.SHARD_DIR).exists()  # complete: the shards are merged and gone


class _InterruptAfter:
    """A progress bar whose ``update`` raises KeyboardInterrupt (Ctrl-C) after ``n`` finished partitions."""

    def __init__(self, n: int):
        self.left = n

    def __call__(self, *args, desc: str = "", **kw):
        from thinbridge._util.progress import progress

        bar = progress(*args, desc=desc, **{**kw, "disable": True})
        if desc.startswith("indexing"):
            def update(k=1):
                self.left -= 1
                if self.left < 0:
                    raise KeyboardInterrupt
            bar.update = update
        return bar


def test_resume_redoes_only_unfinished_partitions(retriever, library, reference, tmp_path, monkeypatch):
    import thinbridge.search.build

    out = tmp_path / "index"
    args = dict(chunk_size=CHUNK, workers=2, show_progress=False)
    monkeypatch.setattr(thinbridge.search.build, "progress", _InterruptAfter(6))
    with pytest.raises(KeyboardInterrupt) as stop:
        retriever.build_index(str(library / "*"), out, **args)
    monkeypatch.undo()
    assert "finished shards kept" in stop.value.thinbridge_note
    folder = out / shards.SHARD_DIR
    plan = json.loads((folder / shards.PLAN_FILE).read_text())
    pids = {shards.shard_name(fi, pi): shards.partition_id(s, p) for fi, s in enumerate(plan["sources"])
            for pi, p in enumerate(s["partitions"])}
    finished = sorted(n for n, pid in pids.items() if shards.verify_shard(folder, n, pid))
    assert 6 <= len(finished) < len(pids) and not (out / "index.json").exists()
    # a crash can leave a shard without its manifest, a damaged file, a temporary file
    (folder / f"{finished[0]}.json").unlink()
    damaged = folder / f"{finished[1]}.ids.tsv"
    damaged.write_text(damaged.read_text().replace("CHEMBL", "CHEMBX", 1))
    (folder / f"{finished[2]}.safetensors.999.part").write_bytes(b"half a file")
    res = retriever.build_index(str(library / "*"), out, **args)
    assert res["partitions_reused"] == len(finished) - 2
    assert res["partitions_built"] == len(pids) - len(finished) + 2
    assert_same_index(reference, out)
    # another chunk size is another plan: nothing is reused
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(thinbridge.search.build, "progress", _InterruptAfter(3))
        retriever.build_index(str(library / "*"), out, **args)
    monkeypatch.undo()
    res = retriever.build_index(str(library / "*"), out, **{**args, "chunk_size": CHUNK + 1})
    assert res["partitions_reused"] == 0


def test_a_worker_killed_mid_build_is_replaced_without_losing_or_doubling_molecules(
        retriever, library, reference, tmp_path, cluster):
    from distributed.diagnostics.plugin import WorkerPlugin

    class KillOnce(WorkerPlugin):
        """The worker that starts the build's third task on it exits at once (os._exit), once in
        the whole cluster (a marker file decides). Defined here: Dask sends it by value."""

        name = "thinbridge-test-kill-once"

        def __init__(self, marker: str):
            self.marker, self.started = marker, 0

        def transition(self, key, start, finish, **kw):
            if finish != "executing" or not str(key).startswith("thinbridge-"):
                return
            self.started += 1
            if self.started == 3:
                try:
                    os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    return
                os._exit(1)

    address, client = cluster
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker)), name=KillOnce.name)
    try:
        res = retriever.build_index(str(library / "*"), tmp_path / "index", chunk_size=CHUNK, scheduler=address,
                                    show_progress=False)
    finally:
        client.unregister_worker_plugin(KillOnce.name)
    assert marker.exists(), "no worker was killed"
    assert res["count"] == 120 and res["partitions_built"] == res["partitions"]
    assert_same_index(reference, tmp_path / "index")


def test_a_damaged_shard_is_not_merged(tmp_path):
    from thinbridge.search.partition import PartitionResult

    import numpy as np

    pid = {"source_sha256": "x", "start": 0, "end": 10}
    res = PartitionResult("lib.smi", np.ones((1, 4), dtype=np.float32), [("2", "a", "C", "C", "KEY")],
                          [("3", "b", "C1", "invalid_smiles", "C1")])
    shards.write_shard(tmp_path, "f00000-p0000000", pid, res)
    assert shards.verify_shard(tmp_path, "f00000-p0000000", pid)
    back = shards.read_shard(tmp_path, "f00000-p0000000", pid, "lib.smi")
    assert back.entries == res.entries and back.skipped == res.skipped and (back.embeddings == 1).all()
    assert not shards.verify_shard(tmp_path, "f00000-p0000000", {**pid, "end": 11})  # another partition
    (tmp_path / "f00000-p0000000.safetensors").write_bytes(b"\0" * 8)
    with pytest.raises(UserError, match="missing or damaged"):
        shards.read_shard(tmp_path, "f00000-p0000000", pid, "lib.smi")


# ---------------------------------------------------------------------------------- fail fast, one line
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tb(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thinbridge.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.mark.parametrize("extra, words", [
    (["--smiles-file", "{lib}/*.sdf"], ["matches no file"]),
    (["--smiles-file", "{lib}/*", "--scheduler", "tcp://127.0.0.1:{port}", "--workers", "2"], ["not both"]),
    (["--smiles-file", "{lib}/*", "--scheduler", "not an address"], ["not a scheduler address"]),
    (["--smiles-file", "{lib}/*", "--scheduler", ""], ["needs the Dask scheduler's address"]),
    (["--smiles-file", "{lib}/*", "--workers", "2", "--processes", "2"], ["--processes"]),
    (["--smiles-file", "{lib}/*", "--scheduler"], ["--scheduler", "expected one argument"]),
    (["--smiles-file", "{lib}/*", "--scheduler", "tcp://127.0.0.1:{port}"], ["cannot reach the Dask scheduler"]),
])
def test_mistakes_fail_fast_in_one_line(bridges, library, tmp_path, extra, words):
    fill = {"lib": library, "port": _free_port()}
    t0 = time.perf_counter()
    res = tb("index", bridges["run"], *[a.format(**fill) for a in extra], "--out", tmp_path / "i", "-q")
    assert time.perf_counter() - t0 < 25  # an unreachable scheduler: about 5 s, not Dask's 30 s or a hang
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith("thinbridge: error: ") and res.stderr.count("\n") == 1, res.stderr
    for w in words:
        assert w in res.stderr, (w, res.stderr)
    assert not (tmp_path / "i" / "index.json").exists()
