"""thinbridge.data.download: the mechanism table from ChEMBL's web services (a fake server), offline failures."""
from __future__ import annotations

import json
import time

import pytest

from thinbridge import cli
from thinbridge.data import download
from thinbridge.data import load_table, prepare
from thinbridge._util.errors import UserError

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def fake_chembl(n_mech: int = 3):
    """A stand-in for the web services: /status, a paged /mechanism, /molecule and /target by ids."""
    mechs = [
        {"molecule_chembl_id": "CHEMBL25", "mechanism_of_action": "Cyclooxygenase inhibitor",
         "action_type": "INHIBITOR", "target_chembl_id": "CHEMBL221", "mec_id": 1},
        {"molecule_chembl_id": "CHEMBL1201", "mechanism_of_action": "Insulin receptor agonist",
         "action_type": "AGONIST", "target_chembl_id": "CHEMBL1981", "mec_id": 2},  # a biologic: no structure
        {"molecule_chembl_id": "CHEMBL113", "mechanism_of_action": "Adenosine receptor antagonist",
         "action_type": "ANTAGONIST", "target_chembl_id": None, "mec_id": 3},  # no target
    ][:n_mech]
    molecules = {
        "CHEMBL25": {"molecule_chembl_id": "CHEMBL25", "pref_name": "ASPIRIN",
                     "molecule_structures": {"canonical_smiles": ASPIRIN, "standard_inchi_key": "BSYNRYMUTXBXSQ-UHFFFAOYSA-N",
                                             "standard_inchi": "InChI=1S/C9H8O4/x"}},
        "CHEMBL1201": {"molecule_chembl_id": "CHEMBL1201", "pref_name": "INSULIN", "molecule_structures": None},
        "CHEMBL113": {"molecule_chembl_id": "CHEMBL113", "pref_name": "CAFFEINE",
                      "molecule_structures": {"canonical_smiles": "Cn1c(=O)c2c(ncn2C)n(C)c1=O"}},
    }
    targets = {"CHEMBL221": {"target_chembl_id": "CHEMBL221", "pref_name": "Cyclooxygenase-1", "organism": "Homo sapiens"},
               "CHEMBL1981": {"target_chembl_id": "CHEMBL1981", "pref_name": "Insulin receptor", "organism": "Homo sapiens"}}
    calls = []

    def get(url, params):
        calls.append((url, params))
        if url.endswith("/status.json"):
            return {"chembl_db_version": "ChEMBL_99"}
        if "/mechanism.json" in url:
            offset = 0 if params else 2  # page 1 has two records and a next link; page 2 the rest
            recs = mechs[offset:offset + 2]
            nxt = "/chembl/api/data/mechanism.json?limit=2&offset=2" if params and len(mechs) > 2 else None
            return {"mechanisms": recs, "page_meta": {"next": nxt}}
        if "/molecule.json" in url:
            ids = params["molecule_chembl_id__in"].split(",")
            return {"molecules": [molecules[i] for i in ids if i in molecules], "page_meta": {"next": None}}
        if "/target.json" in url:
            ids = params["target_chembl_id__in"].split(",")
            return {"targets": [targets[i] for i in ids if i in targets], "page_meta": {"next": None}}
        raise AssertionError(url)

    return get, calls


def test_mechanisms_download_writes_the_shipped_shape_and_prepare_reads_it(tmp_path):
    get, calls = fake_chembl()
    out = tmp_path / "mech.tsv"
    res = download.download_mechanisms(out, show_progress=False, get=get)
    assert res["chembl_release"] == "ChEMBL_99" and res["rows"] == 3 and res["rows_without_structure"] == 1
    head = out.read_text().splitlines()[0].split("\t")
    assert head == download.TSV_COLUMNS
    rec = json.loads((tmp_path / "mech.tsv.json").read_text())
    assert rec["rows"] == 3 and len(rec["sha256"]) == 64 and "CC BY-SA 3.0" in rec["licence"]
    assert any("offset=2" in u for u, _ in calls)  # the second page was followed
    raw = load_table(out)
    assert len(raw) == 3
    prep = prepare(out, tmp_path / "prepared", show_progress=False)
    assert prep.report["pairs"] == 1
    assert prep.report["rows_dropped"]["missing_smiles"] == 1 and prep.report["rows_dropped"]["missing_target"] == 1


def test_mechanisms_download_offline_fails_fast(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(download, "network_reachable", lambda *a, **k: False)
    t0 = time.perf_counter()
    rc = cli.main(["download", "--mechanisms-only", "--out", str(tmp_path / "m.tsv")])
    err = capsys.readouterr().err
    assert rc == 2 and time.perf_counter() - t0 < 10
    assert "web services" in err and "--input" in err and "Traceback" not in err
    assert not (tmp_path / "m.tsv").exists()


def test_mechanisms_download_for_real_when_offline_is_quick(tmp_path):
    """This machine has no network: the real reachability check answers within seconds."""
    if download.network_reachable(download.API_HOST, 443, timeout=3):
        pytest.skip("network available: not testing the offline path")
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="offline"):
        download.download_mechanisms(tmp_path / "m.tsv", show_progress=False)
    assert time.perf_counter() - t0 < 10


def test_mechanisms_download_refuses_a_folder(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        download.download_mechanisms(tmp_path, show_progress=False, get=fake_chembl()[0])
