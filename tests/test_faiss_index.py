"""Approximate search (thinbridge.search.ann) and the index kinds through the command line.

Recall is checked at the defaults on 20,000 synthetic analogues of real molecules embedded by a
small bridge (thinbridge.testing.synthetic); the command-line tests build each kind over the three-file
library of ``conftest.write_library`` with the bridges of ``conftest.bridges``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shipped_smiles, write_library
from thinbridge.search import ann
from thinbridge.cli import main
from thinbridge._util.errors import UserError
from thinbridge.search.embeddings import EmbeddingsFile, Float32Writer
from thinbridge.search.index import Index
from thinbridge.search.ranking import top_k
from thinbridge.search.retrieval import Retriever

ROOT = Path(__file__).resolve().parent.parent
QUERY = "Carbonic anhydrase II inhibitor"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return write_library(tmp_path_factory.mktemp("library"))[0].parent


@pytest.fixture(scope="module")
def analogues(bridges, tmp_path_factory) -> EmbeddingsFile:
    from thinbridge.testing import synthetic

    heads = Retriever.load(bridges["run"]).heads
    parents = synthetic.parent_bits([s for s, _ in shipped_smiles(300)])
    return synthetic.write_embeddings(tmp_path_factory.mktemp("analogues") / "emb.safetensors",
                                      synthetic.analogue_embeddings(heads, parents, 20_000, seed=1), heads.dim)


@pytest.fixture(scope="module")
def indexes(bridges, library, tmp_path_factory) -> dict[str, Path]:
    """The library indexed once per kind, through the command line."""
    root = tmp_path_factory.mktemp("kinds")
    for kind in ("exact", "hnsw", "ivfpq"):
        assert main(["index", str(bridges["run"]), "--smiles-file", str(library / "*"), "--out",
                     str(root / kind), "--kind", kind, "-q"]) == 0
    return {k: root / k for k in ("exact", "hnsw", "ivfpq")}


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------------------------
# recall and reproducibility at the defaults
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_defaults_reach_the_recall_target_and_rebuild_to_the_same_bytes(analogues, kind, tmp_path):
    params = ann.default_params(kind, len(analogues), analogues.dim)
    index = ann.build(kind, analogues, params)
    recall = ann.recall_at_k(index, params, analogues)
    assert recall["queries"] == 200 and recall["recall"] >= ann.RECALL_TARGET, recall
    again = ann.build(kind, analogues, params)
    assert ann.write(index, tmp_path / "a.faiss") == ann.write(again, tmp_path / "b.faiss")


def test_parameters_scale_with_the_library():
    small, big = ann.default_params("ivfpq", 300, 256), ann.default_params("ivfpq", 10**7, 256)
    assert (small["nlist"], big["nlist"]) == (16, 2048) and big["nprobe"] == 256 and big["train_size"] == 131072
    assert small["nbits"] == 8 and ann.default_params("ivfpq", 100, 100)["m"] == 25  # m divides dim
    assert ann.choose_kind("auto", ann.AUTO_EXACT_BELOW - 1) == "exact"
    assert ann.choose_kind("auto", ann.AUTO_EXACT_BELOW) == "ivfpq"
    with pytest.raises(UserError, match="unknown index kind"):
        ann.choose_kind("lsh", 10)


def test_exact_search_and_row_reads_in_blocks_equal_the_whole(tmp_path, monkeypatch):
    import thinbridge.search.embeddings as EF

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 16)).astype(np.float32)
    w = Float32Writer(tmp_path / "e.safetensors", 16)
    w.write(x)
    w.close({})
    q = rng.standard_normal((3, 16)).astype(np.float32)
    whole = EmbeddingsFile.open(tmp_path / "e.safetensors").top_k(q, 10)
    monkeypatch.setattr(EF, "SCAN_IN_ONE_MAX_BYTES", 0)
    monkeypatch.setattr(EF, "SCAN_BLOCK_ROWS", 7)
    big = EmbeddingsFile.open(tmp_path / "e.safetensors")  # read as a file larger than memory is
    blocks = big.top_k(q, 10)
    np.testing.assert_array_equal(big.take([5, 2, 999]), x[[5, 2, 999]])
    np.testing.assert_array_equal(whole[0], blocks[0])
    for j in range(3):
        np.testing.assert_array_equal(whole[0][j], top_k(x @ q[j], 10))
    np.testing.assert_allclose(whole[1], blocks[1], rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# every kind through the command line
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_each_kind_answers_like_exact_search(bridges, indexes, kind, capsys):
    m = json.loads((indexes[kind] / "index.json").read_text())
    assert m["kind"] == kind and m["ann"]["recall_at_10"] >= ann.RECALL_TARGET
    assert m["ann"]["params"] == ann.default_params(kind, m["count"], m["dim"])
    rc, out, _ = _cli(capsys, "query", bridges["run"], QUERY, "--index", indexes[kind], "--top", 5, "--json", "-q")
    hits = json.loads(out)
    rc_e, out_e, _ = _cli(capsys, "query", bridges["run"], QUERY, "--index", indexes["exact"], "--top", 5, "--json",
                          "-q")
    exact = json.loads(out_e)
    assert rc == rc_e == 0 and [h["id"] for h in hits] == [h["id"] for h in exact]  # a small library: all found
    np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in exact], rtol=1e-5)
    rc, out, _ = _cli(capsys, "query", bridges["run"], QUERY, "--index", indexes[kind], "--top", 3, "-q")
    assert rc == 0 and f"top 3 of {m['count']} molecules" in out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivfpq"])
def test_an_index_from_another_bridge_is_refused(bridges, indexes, kind, capsys):
    rc, out, err = _cli(capsys, "query", bridges["other"], QUERY, "--index", indexes[kind], "-q")
    assert rc == 2 and err.startswith("thinbridge: error: ") and err.count("\n") == 1
    assert "built with another model" in err


@pytest.mark.slow
def test_a_damaged_faiss_file_is_refused(bridges, indexes, tmp_path, capsys):
    import shutil

    idx = tmp_path / "idx"
    shutil.copytree(indexes["hnsw"], idx)
    data = bytearray((idx / ann.ANN_FILE).read_bytes())
    data[-1] ^= 1
    (idx / ann.ANN_FILE).write_bytes(bytes(data))
    rc, _, err = _cli(capsys, "query", bridges["run"], QUERY, "--index", idx, "-q")
    assert rc == 2 and "sha256 is not the one in the index manifest" in err and err.count("\n") == 1


@pytest.mark.slow
def test_first_format_indexes_are_still_read(bridges, indexes, tmp_path, capsys):
    """A folder as the first format wrote it: no file column, the old manifest keys, exact search."""
    old = tmp_path / "old"
    old.mkdir()
    new = Index.load(indexes["exact"])
    (old / "embeddings.safetensors").write_bytes((indexes["exact"] / "embeddings.safetensors").read_bytes())
    cols = ["row", "id", "line", "smiles", "parent_smiles", "parent_inchikey"]
    new.table[cols].to_csv(old / "ids.tsv", sep="\t", index=False)
    m = {k: new.manifest[k] for k in ("count", "dim", "rows_read", "skipped", "duplicate_ids", "run", "encoders")}
    (old / "index.json").write_text(json.dumps({**m, "format": "thinbridge-index-1", "source": {"name": "lib.smi"}}))
    rc, out, _ = _cli(capsys, "query", bridges["run"], QUERY, "--index", old, "--top", 5, "--json", "-q")
    rc_new, out_new, _ = _cli(capsys, "query", bridges["run"], QUERY, "--index", indexes["exact"], "--top", 5,
                              "--json", "-q")
    assert rc == rc_new == 0  # the same hits; the first format records no file
    assert json.loads(out) == [{k: v for k, v in h.items() if k != "file"} for h in json.loads(out_new)]
    rc, _, err = _cli(capsys, "query", bridges["other"], QUERY, "--index", old, "-q")
    assert rc == 2 and "built with another model" in err


@pytest.mark.slow
def test_help_and_exact_queries_do_not_import_dask_or_faiss(bridges, indexes):
    probe = ("import sys; from thinbridge.cli import main; main(sys.argv[1:]); "
             "print('LOADED', sorted(m for m in ('faiss', 'dask', 'distributed') if m in sys.modules))")
    for argv in (["--help"], ["query", str(bridges["run"]), QUERY, "--index", str(indexes["exact"]), "-q"]):
        res = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, cwd=ROOT,
                             timeout=120)
        assert "LOADED []" in res.stdout, (argv, res.stdout[-500:], res.stderr[-500:])
