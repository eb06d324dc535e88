"""The helpers the book's chapters call (thinbridge.book, the split files, experiments, retrieval,
plots, parallel_map, worker_pool), and the chapters' own shape: no functions defined in a notebook, one
setup call first, labelled exercises with their solutions."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thinbridge import book
from thinbridge.book import experiments as X
from thinbridge.data import splits as S
from thinbridge.config import RunConfig
from thinbridge._util.errors import UserError
from thinbridge._util.parallel import n_workers, parallel_map, worker_pool

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_setup_returns_the_artifact_folders(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT / "book")
    paths = book.setup()
    assert paths.root == ROOT and paths.artifacts == ROOT / "artifacts"
    assert paths.split_file("scaffold", 3) == ROOT / "artifacts" / "splits" / "scaffold_seed3.tsv"
    cfg = RunConfig(split="random", with_name=True)
    assert paths.run_dir(cfg) == ROOT / "artifacts" / "runs" / "random_rich_name" == paths.run_dir(cfg.run_name)
    assert paths.figure("f.png").parent == paths.figures


def test_split_files_round_trip_and_refuse_other_pairs(tmp_path):
    pairs = pd.DataFrame({"pair_id": ["P0", "P1", "P2"]})
    path = S.save_split(tmp_path / "s" / S.split_filename("random", 0), pairs, ["train", "valid", "test"])
    assert path.name == "random_seed0.tsv"
    assert list(S.load_split(path, pairs)) == ["train", "valid", "test"]
    with pytest.raises(UserError, match="not a split of these pairs"):
        S.load_split(path, pd.DataFrame({"pair_id": ["P0", "P2", "P1"]}))
    with pytest.raises(UserError, match="not found"):
        S.load_split(tmp_path / "missing.tsv", pairs)


def test_pivot_metric():
    long = pd.DataFrame([{"run": "a", "model": m, "direction": "t2d", "scope": "global", "metric": "R@1", "value": v}
                         for m, v in (("bridge", 0.5), ("cca", 0.2))])
    tab = X.pivot_metric(long, "t2d", "global", "R@1")
    assert tab.loc["a", "bridge"] == 0.5 and tab.loc["a", "cca"] == 0.2


def test_second_order_similarity_finds_aligned_neighbourhoods():
    rng = np.random.default_rng(0)
    x = rng.random((6, 20))
    s_a, s_b, cross = X.second_order_similarity(x, x.copy())  # the same space twice
    assert s_a.shape == s_b.shape == cross.shape == (6, 6)
    np.testing.assert_allclose(np.diag(cross), 1.0)


def test_parallel_map_keeps_order_and_runs_closures():
    offset = 10
    assert parallel_map(lambda x: x + offset, range(50), n_jobs=2) == list(range(10, 60))
    assert parallel_map(str, [1, 2], n_jobs=1) == ["1", "2"]
    assert n_workers(4, 1) == 1 and n_workers(2, 100, min_items=500) == 1
    with pytest.raises(ValueError):
        n_workers(-3, 10)


def test_worker_pool_runs_a_closure_in_workers_and_returns_in_order():
    import os

    offset = 10
    for n in (1, 2):
        with worker_pool(lambda x, y: (x + y + offset, os.getpid()), n) as submit:
            waits = [submit(i, 1) for i in range(20)]
            got = [w() for w in waits]
        assert [v for v, _ in got] == list(range(11, 31))
        assert {pid for _, pid in got} == {os.getpid()} if n == 1 else os.getpid() not in {pid for _, pid in got}
    with pytest.raises(ZeroDivisionError):  # a worker's error is raised where its result is asked for
        with worker_pool(lambda x: 1 / x, 2) as submit:
            submit(0)()


def test_molecules_with_target_and_draw_hits():
    from thinbridge.book.plots import draw_hits
    from thinbridge.search.retrieval import molecules_with_target

    pairs = pd.DataFrame({"target_pref_name": ["Dopamine D2 receptor", "HERG", "dopamine d2 receptor"],
                          "parent_inchikey": ["A", "B", "C"]})
    assert molecules_with_target(pairs, "Dopamine D2") == {"A", "C"}
    assert molecules_with_target(pairs, "Dopamine D2", [True, True, False]) == {"A"}
    hits = pd.DataFrame({"drug_name": ["Aspirin"], "score": [0.5], "parent_smiles": ["CC(=O)Oc1ccccc1C(=O)O"],
                         "ok": [True]})
    img = draw_hits(hits, correct="ok")
    assert img.size[0] > 0


def test_run_config_validates_types():
    with pytest.raises(UserError, match="dim must be a number"):
        RunConfig.from_dict({"dim": "abc"})
    with pytest.raises(UserError, match="lr must be a finite number"):
        RunConfig(lr=float("nan")).validate()
    with pytest.raises(UserError, match="bootstrap"):
        RunConfig(n_boot=-5).validate()


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_thin_and_has_labelled_exercises(src):
    text = src.read_text()
    assert not re.search(r"^\s*(def|class) ", text, flags=re.M), "helpers belong in the package"
    code_cells = [c for c in re.split(r"^# %%.*$", text, flags=re.M) if c.strip() and not c.lstrip().startswith("#")]
    imports = [c for c in code_cells if "import" in c]
    check, first_import = imports[0], imports[1]
    assert check.strip().startswith("from thinbridge import book") and "book.check_parameters(" in check, \
        "the cell after the parameters checks them first"
    assert first_import.strip().startswith("from thinbridge import book"), "book.setup() comes first"
    assert "book.setup(" in first_import
    labels = re.findall(r"^# :label: (\S+)", text, flags=re.M)
    assert len(labels) >= 2 and len(set(labels)) == len(labels)
    for lab in labels:
        assert f"# ```{{solution-start}} {lab}" in text, f"exercise {lab} has no solution"
    assert text.count("{solution-start}") == text.count("{solution-end}")


# ------------------------------------------------------------------ the 10^9 projection
def _bench() -> dict:
    """A benchmarks/index.json in miniature: the fields the projection reads."""
    search = [{"kind": "exact", "n": 10**6, "measured": True, "latency_ms": {"p50": 50.0}, "bytes_per_molecule": 1024},
              {"kind": "hnsw", "n": 10**6, "measured": True, "build_s": 200.0, "bytes_per_molecule": 1300},
              {"kind": "hnsw", "n": 10**7, "measured": False, "build_s": 2300.0, "bytes_per_molecule": 1300},
              {"kind": "ivfpq", "n": 10**7, "measured": True, "build_s": 300.0, "bytes_per_molecule": 40}]
    return {"run": {"dim": 256}, "search": search,
            "build": {"ids_tsv_bytes_per_molecule": 100.0,
                      "results": [{"processes": 1, "molecules_per_s_after_startup": 300.0},
                                  {"workers": 1, "molecules_per_s_after_startup": 250.0}]}}


def test_projection_scales_the_measured_costs():
    from thinbridge.book import projection as P

    b = P.build_time(_bench(), n=10**9, workers=[1, 100])
    assert b["hours"].tolist() == pytest.approx([10**9 / 250 / 3600, 10**9 / 250 / 3600 / 100])
    s = P.storage(_bench(), n=10**9).set_index("kind")
    assert s.loc["exact", "total TB"] == pytest.approx((1024 + 100) / 1000)
    assert s.loc["ivfpq", "search structure TB"] == pytest.approx(0.04)
    assert s.loc["hnsw", "basis"] == "bytes per molecule measured at 1,000,000"  # projected rows are not used
    e = P.exact_search_time(_bench(), n=10**9, workers=[1, 10])
    assert e["seconds per query"].tolist() == pytest.approx([50.0, 5.0])
    t = P.structure_build_time(_bench(), n=10**9).set_index("kind")
    assert t.loc["ivfpq", "hours"] == pytest.approx(300 * 100 / 3600)
    assert t.loc["hnsw", "hours"] == pytest.approx(200 * 1000 * 9 / 6 / 3600)
