"""Tests for thinbridge.search.retrieval and the `thinbridge query` / `thinbridge index` commands.

Everything is built here from 15 ChEMBL mechanism rows (12 drugs): a prepared data folder,
one bridge trained on all pairs until it has memorised them (so that a training text must
find its own molecule first) and one short run through ``train_run`` (the "other model").
The two runs share the text model, loaded once per process.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from thinbridge import data as D
from thinbridge._util.jsonio import sha256_file
from thinbridge.search import retrieval as R
from thinbridge.search.index import Index
from thinbridge.cli import main
from thinbridge._util.errors import UserError
from thinbridge.bridge.model import save_run
from thinbridge._util.progress import set_progress
from thinbridge.training.run import RunConfig, fit, load_inputs, run_config_record, train_run

COLUMNS = ["molecule_chembl_id", "molecule_pref_name", "canonical_smiles", "mechanism_of_action",
           "mechanism_action_type", "target_chembl_id", "target_pref_name", "target_organism"]
ROWS = [
    ("CHEMBL20", "ACETAZOLAMIDE", "CC(=O)Nc1nnc(S(N)(=O)=O)s1", "Carbonic anhydrase I inhibitor", "INHIBITOR", "CHEMBL261", "Carbonic anhydrase I", "Homo sapiens"),
    ("CHEMBL20", "ACETAZOLAMIDE", "CC(=O)Nc1nnc(S(N)(=O)=O)s1", "Carbonic anhydrase II inhibitor", "INHIBITOR", "CHEMBL205", "Carbonic anhydrase II", "Homo sapiens"),
    ("CHEMBL419213", "LISINOPRIL", "NCCCC[C@H](N[C@@H](CCc1ccccc1)C(=O)O)C(=O)N1CCC[C@H]1C(=O)O.O.O", "Angiotensin-converting enzyme inhibitor", "INHIBITOR", "CHEMBL1808", "Angiotensin-converting enzyme", "Homo sapiens"),
    ("CHEMBL998", "LORATADINE", "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1", "Histamine H1 receptor antagonist", "ANTAGONIST", "CHEMBL231", "Histamine H1 receptor", "Homo sapiens"),
    ("CHEMBL939", "GEFITINIB", "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1", "Epidermal growth factor receptor erbB1 inhibitor", "INHIBITOR", "CHEMBL203", "Epidermal growth factor receptor erbB1", "Homo sapiens"),
    ("CHEMBL710", "FINASTERIDE", "CC(C)(C)NC(=O)[C@H]1CC[C@H]2[C@@H]3CC[C@H]4NC(=O)C=C[C@]4(C)[C@H]3CC[C@]12C", "Steroid 5-alpha-reductase 2 inhibitor", "INHIBITOR", "CHEMBL1856", "Steroid 5-alpha-reductase 2", "Homo sapiens"),
    ("CHEMBL24", "ATENOLOL", "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1", "Beta-1 adrenergic receptor antagonist", "ANTAGONIST", "CHEMBL213", "Beta-1 adrenergic receptor", "Homo sapiens"),
    ("CHEMBL20", "ACETAZOLAMIDE", "CC(=O)Nc1nnc(S(N)(=O)=O)s1", "Carbonic anhydrase XII inhibitor", "INHIBITOR", "CHEMBL3242", "Carbonic anhydrase XII", "Homo sapiens"),
    ("CHEMBL20", "ACETAZOLAMIDE", "CC(=O)Nc1nnc(S(N)(=O)=O)s1", "Carbonic anhydrase IV inhibitor", "INHIBITOR", "CHEMBL3729", "Carbonic anhydrase IV", "Homo sapiens"),
    ("CHEMBL1503", "OMEPRAZOLE", "COc1ccc2[nH]c([S+]([O-])Cc3ncc(C)c(OC)c3C)nc2c1", "Potassium-transporting ATPase inhibitor", "INHIBITOR", "CHEMBL2095173", "Potassium-transporting ATPase", "Homo sapiens"),
    ("CHEMBL521", "IBUPROFEN", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "Cyclooxygenase inhibitor", "INHIBITOR", "CHEMBL2094253", "Cyclooxygenase", "Homo sapiens"),
    ("CHEMBL25", "ASPIRIN", "CC(=O)Oc1ccccc1C(=O)O", "Cyclooxygenase inhibitor", "INHIBITOR", "CHEMBL2094253", "Cyclooxygenase", "Homo sapiens"),
    ("CHEMBL113", "CAFFEINE", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "Adenosine receptor antagonist", "ANTAGONIST", "CHEMBL2111329", "Adenosine receptor", "Homo sapiens"),
    ("CHEMBL12", "DIAZEPAM", "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", "GABA-A receptor; anion channel positive allosteric modulator", "POSITIVE ALLOSTERIC MODULATOR", "CHEMBL2093872", "GABA-A receptor; anion channel", "Homo sapiens"),
    ("CHEMBL34259", "METHOTREXATE", "CN(Cc1cnc2nc(N)nc(N)c2n1)c1ccc(C(=O)N[C@@H](CCC(=O)O)C(=O)O)cc1", "Dihydrofolate reductase inhibitor", "INHIBITOR", "CHEMBL202", "Dihydrofolate reductase", "Homo sapiens"),
]
GEFITINIB = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
TEXT_COLUMNS = ["rank", "score", "molecule_chembl_id", "drug_name", "parent_smiles", "mechanisms", "parent_inchikey"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Data folder, a memorised run (``run``) and a short train_run run (``other``)."""
    set_progress(False)
    root = tmp_path_factory.mktemp("retrieval")
    src = root / "moa.tsv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(ROWS)
    data = root / "data"
    D.prepare(src, data, show_progress=False)
    # a bridge trained on every pair (no held-out side) until it has memorised them
    cfg = RunConfig(epochs=30, batch_size=16, lr=1e-2, n_boot=0, patience=1000)
    pairs = D.load_pairs(data)
    inp = load_inputs(data, cfg, pairs=pairs, split=np.array(["train"] * len(pairs)), show_progress=False)
    model, history = fit(inp, cfg, show_progress=False)
    save_run(root / "run", model, run_config_record(inp, cfg, data, history))
    # another model, trained the ordinary way
    train_run(data, root / "other", RunConfig(epochs=2, n_boot=0, seed=1, split="random", batch_size=8),
              show_progress=False)
    return {"root": root, "data": data, "run": root / "run", "other": root / "other", "pairs": pairs,
            "retriever": R.Retriever.load(root / "run")}


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _user_error(capsys, *argv) -> str:
    rc, out, err = _cli(capsys, *argv)
    assert rc == 2, (rc, out, err)
    assert err.startswith("thinbridge: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------------------------
# the Python API
# ----------------------------------------------------------------------------------------------
def test_search_text_finds_the_memorised_molecule(world):
    r = world["retriever"]
    texts = D.text_view(world["pairs"], r.cfg.text_view, r.cfg.with_name)
    for name in ("Gefitinib", "Methotrexate", "Loratadine", "Finasteride"):
        i = int(np.flatnonzero(world["pairs"]["drug_name"] == name)[0])
        hits = r.search_text(texts[i], k=3)
        assert hits.loc[0, "drug_name"] == name, (texts[i], hits)


def test_search_text_shape_and_order(world):
    hits = world["retriever"].search_text("EGFR kinase inhibitor", k=5)
    assert list(hits.columns) == TEXT_COLUMNS
    assert len(hits) == 5 and hits["rank"].tolist() == [1, 2, 3, 4, 5]
    assert np.all(np.diff(hits["score"].to_numpy()) <= 0)
    assert hits["score"].between(-1.0001, 1.0001).all()
    acet = world["retriever"].molecules.set_index("drug_name").loc["Acetazolamide", "mechanisms"]
    assert len(acet) == 4 and "Carbonic anhydrase I inhibitor (Carbonic anhydrase I)" in acet
    # k larger than the candidates: all 12 molecules
    assert len(world["retriever"].search_text("inhibitor", k=100)) == 12


def test_candidates_restrict_the_search(world):
    r, pairs = world["retriever"], world["pairs"]
    keep = pairs["drug_name"].isin(["Aspirin", "Caffeine", "Atenolol"])
    hits = r.search_text("Epidermal growth factor receptor inhibitor", k=10, candidates=keep.to_numpy())
    assert sorted(hits["drug_name"]) == ["Aspirin", "Atenolol", "Caffeine"]
    keys = pairs.loc[keep, "parent_inchikey"].unique().tolist()
    same = r.search_text("Epidermal growth factor receptor inhibitor", k=10, candidates=keys)
    assert same["drug_name"].tolist() == hits["drug_name"].tolist()
    with pytest.raises(UserError, match="not parent InChIKeys"):
        r.search_text("x", candidates=["NOT-A-KEY"])
    with pytest.raises(UserError, match="one per pair"):
        r.search_text("x", candidates=np.ones(3, dtype=bool))


def test_search_smiles_standardises_the_query(world):
    r = world["retriever"]
    hits = r.search_smiles(ASPIRIN + ".[Na+]", k=4)  # a salt form: its parent is aspirin
    assert list(hits.columns) == ["rank", "score", "text", "targets", "known"]
    assert hits.attrs["parent_smiles"] == ASPIRIN
    assert hits.loc[0, "text"].startswith("Cyclooxygenase inhibitor") and bool(hits.loc[0, "known"])
    assert hits.loc[0, "targets"] == ["Cyclooxygenase"]
    assert np.all(np.diff(hits["score"].to_numpy()) <= 0)
    assert len(r.search_smiles(GEFITINIB, k=50)) == len(r.texts) == 14  # aspirin and ibuprofen share one


def test_embeddings_are_unit_vectors_and_consistent(world):
    r = world["retriever"]
    t = r.embed_texts(["EGFR inhibitor", "statin"])
    assert t.shape == (2, 256) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    z = r.embed_smiles([GEFITINIB, ASPIRIN + ".[Na+]"])
    mols = r.molecules.reset_index(drop=True)
    ref = r.molecule_embeddings()[[int(np.flatnonzero(mols["parent_smiles"] == s)[0]) for s in (GEFITINIB, ASPIRIN)]]
    np.testing.assert_allclose(z, ref, atol=1e-5)
    with pytest.raises(UserError, match="position 1"):
        r.embed_smiles([ASPIRIN, "C1CC"])


def test_top_k_matches_argsort():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(1000).astype(np.float32)
    for k in (1, 10, 999, 1000, 5000):
        np.testing.assert_array_equal(R.top_k(s, k), np.argsort(-s, kind="stable")[:k])


# ----------------------------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------------------------
def test_cli_query_text_and_json(world, capsys):
    rc, out, _ = _cli(capsys, "query", world["run"], "Dihydrofolate reductase inhibitor", "--top", 3, "-q")
    assert rc == 0 and "top 3 of 12 molecules" in out and "(CHEMBL" in out
    rc, out, _ = _cli(capsys, "query", world["run"], "Dihydrofolate reductase inhibitor", "--top", 3, "--json", "-q")
    hits = json.loads(out)
    assert rc == 0 and isinstance(hits, list) and len(hits) == 3
    assert set(TEXT_COLUMNS) <= set(hits[0]) and hits[0]["rank"] == 1
    assert hits[0]["drug_name"] == "Methotrexate" and hits[0]["molecule_chembl_id"] == "CHEMBL34259"
    assert hits[0]["mechanisms"] == ["Dihydrofolate reductase inhibitor (Dihydrofolate reductase)"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_cli_query_smiles(world, capsys):
    rc, out, _ = _cli(capsys, "query", world["run"], "--smiles", GEFITINIB, "--top", 2, "-q")
    assert rc == 0 and "top 2 of 14 mechanism texts" in out
    rc, out, _ = _cli(capsys, "query", world["run"], "--smiles", GEFITINIB, "--top", 2, "--json", "-q")
    hits = json.loads(out)
    assert [h["rank"] for h in hits] == [1, 2] and {"score", "text", "targets", "known"} <= set(hits[0])
    assert hits[0]["text"].startswith("Epidermal growth factor receptor erbB1 inhibitor") and hits[0]["known"]


def _library(path, bad_line_text="C1CC not_a_ring"):
    lines = ["# my library: SMILES then an id", f"{GEFITINIB} gef-1", f"{ASPIRIN}.[Na+] aspirin-sodium",
             bad_line_text, "", "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", "CCO ethanol, absolute"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_index_build_report_and_query(world, capsys, tmp_path):
    from safetensors.numpy import load_file

    lib = _library(tmp_path / "lib.smi")
    idx = tmp_path / "idx"
    rc, out, _ = _cli(capsys, "index", world["run"], "--smiles-file", lib, "--out", idx, "-q")
    assert rc == 0, out
    assert "indexed 4 molecules" in out and "skipped 1 row" in out and "line 4" in out
    with open(idx / "skipped.tsv") as fh:
        skipped = list(csv.DictReader(fh, delimiter="\t"))
    assert [(s["line"], s["id"], s["smiles"], s["reason"]) for s in skipped] == \
        [("4", "not_a_ring", "C1CC", "invalid_smiles")]
    manifest = json.loads((idx / "index.json").read_text())
    assert manifest["count"] == 4 and manifest["dim"] == 256 and manifest["skipped"] == 1
    assert manifest["run"]["model_sha256"] == sha256_file(world["run"] / "model.safetensors")
    assert manifest["sources"][0]["name"] == "lib.smi" and manifest["run"]["encoders"]["drug"] == "ecfp4-morgan-r2-2048"
    assert manifest["kind"] == "exact" and manifest["ann"] is None
    emb = load_file(str(idx / "embeddings.safetensors"))["embeddings"]
    assert emb.shape == (4, 256) and emb.dtype == np.float32
    index = Index.load(idx)
    assert index.table["id"].tolist() == ["gef-1", "aspirin-sodium", "line6", "ethanol, absolute"]
    assert index.table["line"].tolist() == ["2", "3", "6", "7"]
    assert index.table["parent_smiles"][1] == ASPIRIN
    r = world["retriever"]
    np.testing.assert_allclose(emb, r.embed_smiles(index.table["smiles"].tolist()), atol=1e-5)
    # the index answers like the run's own molecules
    text = "Epidermal growth factor receptor erbB1 inhibitor. Action type: inhibitor. " \
           "Target: Epidermal growth factor receptor erbB1 (Homo sapiens)."
    hits = r.search_text(text, k=2, index=idx)
    assert list(hits.columns) == ["rank", "score", "id", "file", "line", "smiles", "parent_smiles", "parent_inchikey"]
    assert hits.loc[0, "id"] == "gef-1"
    rc, out, _ = _cli(capsys, "query", world["run"], text, "--index", idx, "--top", 2, "--json", "-q")
    assert rc == 0 and [h["id"] for h in json.loads(out)] == hits["id"].tolist()


def test_index_csv_header_columns_and_chunks(world, tmp_path):
    lib = tmp_path / "lib.csv"
    lib.write_text(f"Name,SMILES,note\ngef,{GEFITINIB},x\nempty,,y\nasp,\"{ASPIRIN}\",z\nbad,xyz,w\n")
    res = world["retriever"].build_index(lib, tmp_path / "idx", chunk_size=1, show_progress=False)
    assert (res["count"], res["skipped"], res["rows_read"]) == (2, 2, 4)
    assert [(e["line"], e["reason"]) for e in res["skipped_examples"]] == [(3, "missing_smiles"), (5, "invalid_smiles")]
    index = Index.load(tmp_path / "idx")
    assert index.table["id"].tolist() == ["gef", "asp"] and index.manifest["sources"][0]["smiles_column"] == "smiles"
    assert index.manifest["sources"][0]["id_column"] == "name"


def test_index_parallel_matches_serial(world, tmp_path):
    lib = _library(tmp_path / "lib.smi")
    r = world["retriever"]
    a = r.build_index(lib, tmp_path / "serial", processes=1, show_progress=False)
    b = r.build_index(lib, tmp_path / "parallel", processes=2, chunk_size=2, show_progress=False)
    assert (a["count"], a["skipped"]) == (b["count"], b["skipped"]) == (4, 1) and b["processes"] == 2
    np.testing.assert_allclose(Index.load(tmp_path / "serial").embeddings,
                               Index.load(tmp_path / "parallel").embeddings, atol=1e-6)
    # with the same partitions, the same files byte for byte (workers prepare parts of a partition)
    c = r.build_index(lib, tmp_path / "parallel2", processes=2, chunk_size=2, show_progress=False)
    s = r.build_index(lib, tmp_path / "serial2", processes=1, chunk_size=2, show_progress=False)
    assert c["processes"] == 2 and s["processes"] == 1
    for f in ("ids.tsv", "skipped.tsv", "embeddings.safetensors"):
        assert (tmp_path / "parallel2" / f).read_bytes() == (tmp_path / "serial2" / f).read_bytes(), f


def test_index_from_another_run_is_refused(world, capsys, tmp_path):
    lib = _library(tmp_path / "lib.smi")
    world["retriever"].build_index(lib, tmp_path / "idx", show_progress=False)
    err = _user_error(capsys, "query", world["other"], "EGFR inhibitor", "--index", tmp_path / "idx", "-q")
    assert "built with another model" in err


# ----------------------------------------------------------------------------------------------
# bad input: one line each, exit status 2
# ----------------------------------------------------------------------------------------------
def test_bad_queries(world, capsys):
    run = world["run"]
    assert "empty query" in _user_error(capsys, "query", run, "", "-q")
    assert "empty query" in _user_error(capsys, "query", run, "   ", "-q")
    assert "invalid SMILES 'C1CC'" in _user_error(capsys, "query", run, "--smiles", "C1CC", "-q")
    assert "empty SMILES" in _user_error(capsys, "query", run, "--smiles", "", "-q")
    assert "nothing to search for" in _user_error(capsys, "query", run, "-q")
    assert "not both" in _user_error(capsys, "query", run, "text", "--smiles", ASPIRIN, "-q")
    assert "at least 1" in _user_error(capsys, "query", run, "text", "--top", "0", "-q")


def test_bad_run_folders(world, capsys, tmp_path):
    assert "run folder not found" in _user_error(capsys, "query", tmp_path / "nope", "text", "-q")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "incomplete run folder" in _user_error(capsys, "query", empty, "text", "-q")
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((world["run"] / "config.json").read_text())
    assert "incomplete run folder (no model.safetensors)" in _user_error(capsys, "query", half, "text", "-q")
    # the run's data changed since training
    other_data = tmp_path / "data"
    other_data.mkdir()
    (other_data / "pairs.tsv").write_text((world["data"] / "pairs.tsv").read_text().replace("Aspirin", "Asprin"))
    err = _user_error(capsys, "query", world["run"], "text", "--data", other_data, "-q")
    assert "not the data" in err and "sha256 differs" in err


def test_bad_indexes_and_smiles_files(world, capsys, tmp_path):
    run = world["run"]
    assert "index folder not found" in _user_error(capsys, "query", run, "text", "--index", tmp_path / "nope", "-q")
    (tmp_path / "half").mkdir()
    assert "incomplete index" in _user_error(capsys, "query", run, "text", "--index", tmp_path / "half", "-q")
    err = _user_error(capsys, "index", run, "--smiles-file", tmp_path / "missing.smi", "--out", tmp_path / "i", "-q")
    assert "SMILES file not found" in err
    bad = tmp_path / "bad.smi"
    bad.write_text("# nothing good\nC1CC one\nxyz two\n")
    err = _user_error(capsys, "index", run, "--smiles-file", bad, "--out", tmp_path / "i", "-q")
    assert "no valid SMILES" in err and "line 2" in err and "line 3" in err
    assert not (tmp_path / "i" / "index.json").exists() and (tmp_path / "i" / "skipped.tsv").is_file()
    (tmp_path / "comments.smi").write_text("# only a comment\n\n")
    assert "no SMILES in this file" in _user_error(capsys, "index", run, "--smiles-file", tmp_path / "comments.smi",
                                                   "--out", tmp_path / "i", "-q")
    (tmp_path / "nohdr.csv").write_text("a,b\n1,2\n")
    assert "no SMILES column" in _user_error(capsys, "index", run, "--smiles-file", tmp_path / "nohdr.csv",
                                             "--out", tmp_path / "i", "-q")


def test_query_batch_mode_json_lines(world, capsys, tmp_path):
    qf = tmp_path / "q.txt"
    qf.write_text("carbonic anhydrase inhibitor\n\n# a comment\nadenosine receptor antagonist\n")
    rc, out, err = _cli(capsys, "query", world["run"], "--queries-file", qf, "--top", "2", "-q")
    assert rc == 0 and err == ""
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in recs] == [1, 4] and all(len(r["hits"]) == 2 for r in recs)
    sf = tmp_path / "s.txt"
    sf.write_text(f"{ASPIRIN}\nC1CC(\n")
    rc, out, err = _cli(capsys, "query", world["run"], "--queries-file", sf, "--queries-are-smiles", "-q")
    recs = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and "hits" in recs[0] and "invalid SMILES" in recs[1]["error"]
    assert "1 of 2 queries could not be answered" in err
    assert "not both" in _user_error(capsys, "query", world["run"], "x", "--queries-file", qf)
