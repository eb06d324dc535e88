"""The real ChEMBL file shipped in data/chembl_moa/: one prepare (~20-30 s), then checks on what it gives.

Facts checked against the
file's PROVENANCE.md and against the file itself: 3,482 rows, 738 targets, salt forms beside
their parents. (PROVENANCE.md calls the baloxavir marboxil rows the exact duplicate; in the
file those two rows differ in target (influenza A vs B polymerase) and stay two pairs; the
one exact duplicate row is bexagliflozin's, CHEMBL1808388.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import real_data_path
from thinbridge import data as D
from thinbridge.data import splits as S

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    path = real_data_path()
    out = tmp_path_factory.mktemp("real_prepared")
    res = D.prepare(path, out, show_progress=False)
    return res, out, path


@pytest.fixture(scope="module")
def real_raw(real):
    return D.load_table(real[2])


def test_counts(real):
    rep = real[0].report
    assert rep["rows_in"] == 3482
    assert 3000 <= rep["pairs"] <= 3400
    assert 2300 <= rep["molecules"] <= 2500
    # the file names 738 targets; three were targets only of structures without an organic parent
    # (arsenic trioxide, nitric oxide, lithium carbonate, calcium acetate: dropped as empty_parent)
    assert rep["targets"] == 735 and rep["rows_dropped"]["empty_parent"] >= 4
    assert rep["source_molecules"] == 2605
    assert rep["rows_in"] == rep["pairs"] + sum(rep["rows_dropped"].values()) + rep["rows_merged"]
    # fewer parents than source molecules: salt forms merged into their parents
    assert rep["molecules"] < rep["source_molecules"]
    assert rep["input"]["sha256"] == "2d0686cfe76c02bb1b3145a788598a09d84f680e19523409e2bd9d0c390d6240"


def test_files_written_and_read_back(real):
    res, out, _ = real
    pairs = D.load_pairs(out)
    assert len(pairs) == res.report["pairs"]
    assert pairs["pair_id"].is_unique
    assert not pairs.duplicated(["parent_inchikey", "target_chembl_id", "mechanism_of_action"]).any()
    assert (pairs["target_organism"] == "").sum() > 0  # non-protein targets keep their empty organism
    assert len(pd.read_csv(out / "merged.tsv", sep="\t")) == res.report["rows_merged"]
    assert len(pd.read_csv(out / "dropped.tsv", sep="\t")) == sum(res.report["rows_dropped"].values())


def test_exact_duplicate_row_is_merged(real, real_raw):
    res = real[0]
    dup = real_raw[real_raw.duplicated(keep=False)]
    assert dup["molecule_chembl_id"].unique().tolist() == ["CHEMBL1808388"]  # bexagliflozin
    m = res.merged[res.merged["molecule_chembl_id"] == "CHEMBL1808388"]
    assert m[["row", "merged_into"]].values.tolist() == [[int(dup.index[1]) + 1, "CHEMBL1808388"]]
    p = res.pairs[res.pairs["molecule_chembl_id"] == "CHEMBL1808388"]
    assert len(p) == 1 and p.iloc[0]["n_source_rows"] == 2


def test_baloxavir_rows_stay_two_pairs(real):
    p = real[0].pairs
    b = p[p["drug_name"] == "Baloxavir Marboxil"]
    assert len(b) == 2 and b["parent_inchikey"].nunique() == 1
    assert sorted(b["target_chembl_id"]) == ["CHEMBL1169598", "CHEMBL2028641"]
    assert set(b["n_source_rows"]) == {1}


def test_acetazolamide_sodium_merges_into_parent(real):
    res = real[0]
    m = res.merged[res.merged["molecule_chembl_id"] == "CHEMBL1200814"]  # ACETAZOLAMIDE SODIUM
    assert len(m) == 4 and set(m["merged_into"]) == {"CHEMBL20"}
    acz = res.pairs[res.pairs["parent_inchikey"] == m["parent_inchikey"].iloc[0]]
    assert len(acz) == 4
    assert set(acz["drug_name"]) == {"Acetazolamide"}
    assert set(acz["molecule_chembl_id"]) == {"CHEMBL20"}
    assert set(acz["molecule_chembl_ids"]) == {"CHEMBL20;CHEMBL1200814"}


def test_salt_listed_first_merges_into_parent_row(real):
    # ATROPINE SULFATE (row 19) comes before ATROPINE (row 20), whose SMILES is not RDKit-canonical
    res = real[0]
    m = res.merged[res.merged["molecule_chembl_id"] == "CHEMBL2146146"]
    assert len(m) >= 1 and set(m["merged_into"]) == {"CHEMBL517712"}
    atropine = res.pairs[res.pairs["parent_inchikey"] == m["parent_inchikey"].iloc[0]]
    assert set(atropine["molecule_chembl_id"]) == {"CHEMBL517712"}
    assert set(atropine["drug_name"]) == {"Atropine"}


def test_dexamethasone_forms_share_name_and_scaffold(real):
    """DEXAMETHASONE SODIUM PHOSPHATE is a covalent phosphate ester: ChEMBL's parent keeps the phosphate, so it
    is a parent of its own (as is the acetate ester), named 'Dexamethasone' and on dexamethasone's scaffold, so
    the scaffold split keeps all three forms on one side."""
    p = real[0].pairs
    forms = {cid: p[p["molecule_chembl_ids"].str.contains(cid)] for cid in ("CHEMBL384467", "CHEMBL2021430")}
    assert all(len(f) >= 1 for f in forms.values())
    assert {n for f in forms.values() for n in f["drug_name"]} == {"Dexamethasone"}
    parent, phosphate = (f["parent_smiles"].iloc[0] for f in forms.values())
    assert "P(=O)(O)O" in phosphate and "P" not in parent and "Na" not in phosphate
    assert S.murcko_scaffold(parent) == S.murcko_scaffold(phosphate)


@pytest.fixture(scope="module")
def real_splits(real):
    """The scaffold split through split_pairs (the API); the random split straight over the molecule table."""
    pairs = real[0].pairs
    mols = S.molecules_table(pairs)
    scaffold = S.split_pairs(pairs, "scaffold", seed=0)
    side = dict(zip(mols["parent_inchikey"], S.random_split(len(mols), seed=0)))
    random = pairs["parent_inchikey"].map(side)
    out = {"mols": mols}
    for kind, lab in (("scaffold", scaffold), ("random", random)):
        m = pairs.assign(split=lab.values).drop_duplicates("parent_inchikey")
        train = m.loc[m["split"] == "train", "parent_smiles"]
        test = m.loc[m["split"] == "test", "parent_smiles"]
        out[kind] = (lab, S.leakage_audit(train, test)[1])
    return out


def test_scaffold_split_of_real_pairs_has_no_leak(real, real_splits):
    pairs = real[0].pairs
    lab, _ = real_splits["scaffold"]
    df = pairs.assign(split=lab.values)
    assert (df.groupby("parent_inchikey")["split"].nunique() == 1).all()
    df["scaffold"] = df["parent_inchikey"].map(real_splits["mols"].set_index("parent_inchikey")["scaffold"])
    assert df["scaffold"].notna().all()
    assert (df.groupby("scaffold")["split"].nunique() == 1).all()
    frac = df.drop_duplicates("parent_inchikey")["split"].value_counts(normalize=True)
    assert 0.75 <= frac["train"] <= 0.85 and frac["valid"] > 0.05 and frac["test"] > 0.05


def test_random_split_does_put_scaffolds_on_two_sides(real, real_splits):
    """The contrast the scaffold split exists for: a random split over molecules shares scaffolds."""
    pairs = real[0].pairs
    lab, _ = real_splits["random"]
    df = pairs.assign(split=lab.values)
    assert (df.groupby("parent_inchikey")["split"].nunique() == 1).all()
    with pytest.raises(AssertionError, match="scaffold"):
        S.assert_no_leak(df, by_scaffold=True, mols=real_splits["mols"])


def test_scaffold_split_is_further_from_train_than_random(real_splits):
    scaf, rand = real_splits["scaffold"][1], real_splits["random"][1]
    assert scaf["n_test"] > 200 and rand["n_test"] > 200
    assert scaf["mean"] < rand["mean"]
    assert scaf["frac_eq_1.0"] == 0.0  # no test molecule has an identical training molecule
    assert np.isfinite(scaf["median"]) and scaf["median"] < rand["median"]
