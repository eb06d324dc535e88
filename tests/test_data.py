"""thinbridge.data.pairs: loaders (TSV, CSV, SQLite), clean(), names, text views, prepare/load_pairs."""
from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from conftest import ACETAZOLAMIDE, ASPIRIN, CAFFEINE, HEXANOIC_ACID, raw_row, small_rows, write_table
from thinbridge import data as D
from thinbridge._util.jsonio import sha256_file
from thinbridge.chem import structures as CS
from thinbridge.data import pairs as DP
from thinbridge._util.errors import UserError


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


# ------------------------------------------------------------------ load_table
def test_tsv_and_csv_give_the_same_table(tmp_path):
    rows = small_rows()
    tsv = D.load_table(write_table(tmp_path / "m.tsv", rows, "\t"))
    csv = D.load_table(write_table(tmp_path / "m.csv", rows, ","))
    assert list(tsv.columns) == D.RAW_COLUMNS
    assert len(tsv) == len(rows)
    pd.testing.assert_frame_equal(tsv, csv)
    assert tsv.loc[1, "canonical_smiles"] == rows[1]["canonical_smiles"]
    assert tsv.loc[6, "mechanism_of_action"] == ""  # empty cell read as "", not "nan"


def test_csv_with_quoted_comma_is_one_field(tmp_path):
    rows = small_rows()[:1]
    rows[0]["target_pref_name"] = "Carbonic anhydrase II, human"
    df = D.load_table(write_table(tmp_path / "m.csv", rows, ","))
    assert df.loc[0, "target_pref_name"] == "Carbonic anhydrase II, human"


def test_extra_columns_are_ignored_optional_kept(tmp_path):
    df = pd.DataFrame(small_rows())
    df.insert(0, "standard_inchi", "InChI=1S/whatever")
    df["standard_inchi_key"] = "KEY"
    df["max_phase"] = "4"
    out = D.load_table(write_table(tmp_path / "m.tsv", df))
    assert list(out.columns) == D.RAW_COLUMNS + ["standard_inchi_key"]
    assert "standard_inchi" not in out.columns and "max_phase" not in out.columns


def test_missing_required_column_is_named(tmp_path):
    df = pd.DataFrame(small_rows()).drop(columns=["target_chembl_id"])
    with pytest.raises(UserError, match="missing required column.*target_chembl_id"):
        D.load_table(write_table(tmp_path / "m.tsv", df))


def test_non_utf8_byte_names_the_line(tmp_path):
    p = write_table(tmp_path / "m.tsv", small_rows())
    lines = p.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"ASPIRIN", b"ASPIRIN \xe9")  # latin-1 e-acute on file line 4
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(UserError, match=r"not valid UTF-8 \(byte 0xe9 on line 4\)"):
        D.load_table(p)


def test_utf8_bom_is_accepted(tmp_path):
    p = write_table(tmp_path / "m.tsv", small_rows())
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert list(D.load_table(p).columns)[0] == "molecule_chembl_id"


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"  \n\n", "empty"),
                                              (("\t".join(D.RAW_COLUMNS) + "\n").encode(), "header but no rows")])
def test_empty_and_header_only_files(tmp_path, content, message):
    p = tmp_path / "m.tsv"
    p.write_bytes(content)
    with pytest.raises(UserError, match=message):
        D.load_table(p)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        D.load_table(tmp_path / "nope.tsv")
    with pytest.raises(UserError, match="not found"):
        D.load_mechanisms(tmp_path / "nope.tsv")


# ------------------------------------------------------------------ load_sqlite
def _build_chembl_sqlite(path, rows: list[dict]) -> None:
    """A tiny SQLite file with ChEMBL's table and column names, holding ``rows``."""
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE molecule_dictionary (molregno INTEGER PRIMARY KEY, chembl_id TEXT, pref_name TEXT);
        CREATE TABLE compound_structures (molregno INTEGER PRIMARY KEY, canonical_smiles TEXT,
                                          standard_inchi_key TEXT);
        CREATE TABLE target_dictionary (tid INTEGER PRIMARY KEY, chembl_id TEXT, pref_name TEXT, organism TEXT);
        CREATE TABLE drug_mechanism (mec_id INTEGER PRIMARY KEY, molregno INTEGER, tid INTEGER,
                                     mechanism_of_action TEXT, action_type TEXT);
    """)
    molregno, tid = {}, {}
    for mec_id, r in enumerate(rows, start=1):
        if r["molecule_chembl_id"] not in molregno:
            m = molregno[r["molecule_chembl_id"]] = 10 * (len(molregno) + 1)
            con.execute("INSERT INTO molecule_dictionary VALUES (?, ?, ?)",
                        (m, r["molecule_chembl_id"], r["molecule_pref_name"] or None))
            con.execute("INSERT INTO compound_structures VALUES (?, ?, ?)",
                        (m, r["canonical_smiles"], r.get("standard_inchi_key", "") or None))
        t = None
        if r["target_chembl_id"]:
            if r["target_chembl_id"] not in tid:
                t = tid[r["target_chembl_id"]] = 100 + len(tid)
                con.execute("INSERT INTO target_dictionary VALUES (?, ?, ?, ?)",
                            (t, r["target_chembl_id"], r["target_pref_name"], r["target_organism"] or None))
            t = tid[r["target_chembl_id"]]
        # mec_id in reverse so that the query's ORDER BY mec_id has something to do
        con.execute("INSERT INTO drug_mechanism VALUES (?, ?, ?, ?, ?)",
                    (1000 - mec_id, molregno[r["molecule_chembl_id"]], t, r["mechanism_of_action"] or None,
                     r["mechanism_action_type"]))
    con.commit()
    con.close()


def test_sqlite_gives_the_same_table_as_tsv(tmp_path):
    rows = small_rows()
    db = tmp_path / "chembl_tiny.db"
    _build_chembl_sqlite(db, rows)
    from_db = D.load_sqlite(db)
    from_tsv = D.load_table(write_table(tmp_path / "m.tsv", rows))
    assert "standard_inchi_key" in from_db.columns  # the optional column comes through
    pd.testing.assert_frame_equal(_sorted(from_db[D.RAW_COLUMNS]), _sorted(from_tsv))
    # ORDER BY mec_id: we inserted mec_ids in reverse file order
    assert from_db["molecule_chembl_id"].tolist()[0] == rows[-1]["molecule_chembl_id"]


def test_load_mechanisms_dispatches_on_extension_and_magic(tmp_path):
    rows = small_rows()
    db = tmp_path / "chembl.sqlite3"
    _build_chembl_sqlite(db, rows)
    no_ext = tmp_path / "chembl_release"  # SQLite magic, no telling extension
    no_ext.write_bytes(db.read_bytes())
    csv = write_table(tmp_path / "m.csv", rows, ",")
    tsv = write_table(tmp_path / "m.txt", rows, "\t")  # not .csv -> tab
    expected = _sorted(D.load_table(tsv))
    for p in (db, no_ext, csv, tsv):
        got = D.load_mechanisms(p)
        pd.testing.assert_frame_equal(_sorted(got[D.RAW_COLUMNS]), expected, obj=str(p.name))


def test_sqlite_without_chembl_tables_is_user_error(tmp_path):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE foo (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(UserError, match="drug_mechanism"):
        D.load_mechanisms(db)


def test_load_mechanisms_rejects_a_folder(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        D.load_mechanisms(tmp_path)


# ------------------------------------------------------------------ clean
@pytest.fixture(scope="module")
def cleaned():
    return D.clean(pd.DataFrame(small_rows()), show_progress=False)


def test_clean_salt_merges_into_parent(cleaned):
    pairs, rep, merged = cleaned.pairs, cleaned.report, cleaned.merged
    acz = pairs[pairs["molecule_chembl_id"] == "CHEMBL20"]
    assert len(acz) == 1
    acz = acz.iloc[0]
    assert acz["parent_smiles"] == ACETAZOLAMIDE
    assert acz["molecule_chembl_ids"] == "CHEMBL20;CHEMBL1200814"
    assert acz["n_source_rows"] == 2
    assert acz["drug_name"] == "Acetazolamide"
    assert rep["rows_merged"] == 1
    assert merged[["row", "molecule_chembl_id", "merged_into", "target_chembl_id"]].values.tolist() == [
        [2, "CHEMBL1200814", "CHEMBL20", "CHEMBL205"]]
    assert merged.loc[0, "parent_inchikey"] == acz["parent_inchikey"]


def test_clean_salt_listed_first_still_keeps_parent_row():
    rows = small_rows()[:3]
    rows[0], rows[1] = rows[1], rows[0]  # the sodium salt first
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    acz = res.pairs.iloc[0]
    assert acz["molecule_chembl_id"] == "CHEMBL20"  # the row whose own structure is the parent
    assert acz["drug_name"] == "Acetazolamide"
    assert res.merged[["row", "molecule_chembl_id", "merged_into"]].values.tolist() == [[1, "CHEMBL1200814",
                                                                                          "CHEMBL20"]]


def test_clean_parent_in_non_canonical_smiles_still_wins_over_salt():
    """The parent row is told by structure, not by SMILES text (ChEMBL's SMILES are not RDKit-canonical)."""
    rows = small_rows()[:3]
    rows[0], rows[1] = rows[1], rows[0]  # the sodium salt first ...
    rows[1] = dict(rows[1], canonical_smiles="NS(=O)(=O)c1nnc(NC(C)=O)s1")  # ... the parent in another spelling
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    assert res.pairs.loc[0, "molecule_chembl_id"] == "CHEMBL20"
    assert res.pairs.loc[0, "parent_smiles"] == ACETAZOLAMIDE
    assert res.merged[["row", "molecule_chembl_id", "merged_into"]].values.tolist() == [[1, "CHEMBL1200814",
                                                                                          "CHEMBL20"]]
    assert res.report["parents_changed_by_standardisation"] == 0  # only respelled, nothing stripped


def test_clean_counts_salt_only_representative_as_changed():
    rows = [small_rows()[1], small_rows()[2]]  # the salt without its parent row, and aspirin
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    assert res.pairs.loc[0, "molecule_chembl_id"] == "CHEMBL1200814"
    assert res.pairs.loc[0, "parent_smiles"] == ACETAZOLAMIDE
    assert res.pairs.loc[0, "drug_name"] == "Acetazolamide"
    assert res.report["parents_changed_by_standardisation"] == 1


def test_clean_drops_with_reason_and_row(cleaned):
    d = cleaned.dropped
    assert d[["row", "molecule_chembl_id", "reason"]].values.tolist() == [
        [6, "CHEMBL9003", "invalid_smiles"],
        [7, "CHEMBL9004", "empty_mechanism"],
        [8, "CHEMBL9005", "missing_target"],
    ]
    assert cleaned.report["rows_dropped"] == {
        "missing_smiles": 0, "invalid_smiles": 1, "standardisation_failed": 0, "empty_parent": 0,
        "empty_mechanism": 1, "missing_target": 1, "malformed_row": 0}


def test_clean_missing_smiles_and_salt_only():
    rows = small_rows()[:1] + [
        raw_row("CHEMBL1", "NOTHING", "", "X inhibitor", "INHIBITOR", "CHEMBL205", "CA II"),
        raw_row("CHEMBL2", "SODIUM CHLORIDE", "[Na+].[Cl-]", "X inhibitor", "INHIBITOR", "CHEMBL205", "CA II"),
    ]
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    assert res.dropped[["row", "reason"]].values.tolist() == [[2, "missing_smiles"], [3, "empty_parent"]]
    assert res.report["rows_dropped"]["missing_smiles"] == 1
    # ChEMBL's parent rules keep a salt that is nothing but salt; thinbridge drops it, counted
    assert res.report["rows_dropped"]["empty_parent"] == 1
    assert res.pairs["parent_smiles"].tolist() == [ACETAZOLAMIDE]


@pytest.mark.parametrize("smiles, dropped", [
    ("[Na+].[Cl-]", True), ("[K+].[I-]", True), ("O=S(=O)([O-])[O-].[Zn+2]", True),  # no carbon
    ("CC(=O)[O-].CC(=O)[O-].[Fe+2]", True), ("[Li+].[Li+].[O-]C([O-])=O", True),   # metal + listed ions
    ("O=C([O-])Cc1ccccc1.[Na+]", False),  # sodium phenylacetate: the anion is the drug
    ("NC(CCCNC(=N)N)C(=O)O", False),       # arginine alone is a drug, though a counter-ion elsewhere
    ("CC(=O)Oc1ccccc1C(=O)O", False),
])
def test_salt_or_solvent_only_rule(smiles, dropped):
    if dropped:
        with pytest.raises(CS.StructureError, match="empty_parent"):
            CS.standardise_parent(smiles)
    else:
        assert CS.standardise_parent(smiles)[0]


def test_clean_accounting_and_counts(cleaned):
    rep = cleaned.report
    assert rep["rows_in"] == 8
    assert rep["pairs"] == 4 == len(cleaned.pairs)
    assert rep["rows_in"] == rep["pairs"] + sum(rep["rows_dropped"].values()) + rep["rows_merged"]
    assert rep["molecules"] == 4 and rep["targets"] == 4 and rep["source_molecules"] == 8
    assert cleaned.pairs["pair_id"].tolist() == ["P00000", "P00001", "P00002", "P00003"]
    assert list(cleaned.pairs.columns) == DP.PAIR_COLUMNS
    assert set(cleaned.pairs["parent_smiles"]) == {ACETAZOLAMIDE, ASPIRIN, CAFFEINE, HEXANOIC_ACID}


def test_clean_exact_duplicate_row_is_merged():
    rows = small_rows()[2:4]
    rows.append(dict(rows[0]))
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    assert res.report["pairs"] == 2 and res.report["rows_merged"] == 1
    assert res.merged[["row", "molecule_chembl_id", "merged_into"]].values.tolist() == [[3, "CHEMBL25", "CHEMBL25"]]
    assert res.pairs.loc[0, "molecule_chembl_ids"] == "CHEMBL25"  # not "CHEMBL25;CHEMBL25"


def test_clean_same_molecule_two_targets_stays_two_pairs():
    rows = small_rows()[2:3]
    rows.append(dict(rows[0], target_chembl_id="CHEMBL218", target_pref_name="Cyclooxygenase-2",
                     mechanism_of_action="Cyclooxygenase inhibitor"))
    res = D.clean(pd.DataFrame(rows), show_progress=False)
    assert res.report["pairs"] == 2 and res.report["rows_merged"] == 0 and res.report["molecules"] == 1


def test_clean_no_usable_rows():
    rows = small_rows()[5:]
    with pytest.raises(UserError, match="no usable rows: all 3 rows were dropped"):
        D.clean(pd.DataFrame(rows), show_progress=False)


# ------------------------------------------------------------------ names and texts
@pytest.mark.parametrize("raw, clean", [
    ("ACETAZOLAMIDE SODIUM", "Acetazolamide"),
    ("DEXAMETHASONE SODIUM PHOSPHATE", "Dexamethasone"),
    ("ASPIRIN", "Aspirin"),
    ("SODIUM", "Sodium"),                          # never strip the last word
    ("ATORVASTATIN CALCIUM TRIHYDRATE", "Atorvastatin"),
    ("MORPHINE SULFATE, PENTAHYDRATE", "Morphine Sulfate Pentahydrate"),  # unknown word stops stripping
    ("", ""),
])
def test_clean_drug_name(raw, clean):
    assert D.clean_drug_name(raw) == clean


def _one_pair(**kw) -> pd.DataFrame:
    base = dict(mechanism_of_action="Carbonic anhydrase II inhibitor", action_type="INHIBITOR",
                target_pref_name="Carbonic anhydrase II", target_chembl_id="CHEMBL205",
                target_organism="Homo sapiens", drug_name="Acetazolamide")
    base.update(kw)
    return pd.DataFrame([base])


def test_text_view_templates():
    p = _one_pair()
    assert D.TEXT_TEMPLATES["basic"] == "{mechanism}"
    assert D.text_view(p, "basic") == ["Carbonic anhydrase II inhibitor"]
    assert D.text_view(p, "basic", with_name=True) == ["Acetazolamide: Carbonic anhydrase II inhibitor"]
    assert D.text_view(p, "rich") == [
        "Carbonic anhydrase II inhibitor. Action type: inhibitor. Target: Carbonic anhydrase II (Homo sapiens)."]
    assert D.text_view(p, "rich", with_name=True) == [
        "Acetazolamide: Carbonic anhydrase II inhibitor. Action type: inhibitor. "
        "Target: Carbonic anhydrase II (Homo sapiens)."]


def test_text_view_rich_fallbacks():
    p = _one_pair(target_organism="", target_pref_name="", action_type="POSITIVE_ALLOSTERIC MODULATOR")
    assert D.text_view(p, "rich") == [
        "Carbonic anhydrase II inhibitor. Action type: positive allosteric modulator. Target: CHEMBL205."]
    assert D.text_view(_one_pair(action_type=""), "rich")[0].startswith(
        "Carbonic anhydrase II inhibitor. Action type: unknown.")


def test_text_view_unknown_view():
    with pytest.raises(UserError, match="unknown text view 'fancy'"):
        D.text_view(_one_pair(), "fancy")


# ------------------------------------------------------------------ prepare / load_pairs
def test_prepare_writes_files_and_load_pairs_reads_them(small_tsv, tmp_path):
    out = tmp_path / "prepared"
    res = D.prepare(small_tsv, out, show_progress=False)
    for f in ("pairs.tsv", "report.json", "dropped.tsv", "merged.tsv"):
        assert (out / f).is_file(), f
    rep = json.loads((out / "report.json").read_text())
    assert rep["pairs"] == 4 and rep["rows_merged"] == 1 and rep["rows_in"] == 8
    assert rep["input"] == {"name": "mechanisms.tsv", "sha256": sha256_file(small_tsv)}
    assert rep["pairs_sha256"] == D.data_hash(out)
    back = D.load_pairs(out)
    pd.testing.assert_frame_equal(back, res.pairs.astype({"n_source_rows": int}), check_dtype=False)
    assert back["n_source_rows"].tolist() == [2, 1, 1, 1]
    assert back.loc[3, "target_organism"] == ""  # hexanoic acid's empty organism survives the round trip
    dropped = pd.read_csv(out / "dropped.tsv", sep="\t")
    assert dropped["reason"].tolist() == ["invalid_smiles", "empty_mechanism", "missing_target"]
    merged = pd.read_csv(out / "merged.tsv", sep="\t")
    assert merged[["molecule_chembl_id", "merged_into"]].values.tolist() == [["CHEMBL1200814", "CHEMBL20"]]
    table = D.reasons_table(res.dropped, res.merged).set_index("reason")["rows"]
    assert table["invalid_smiles"] == 1 and table["duplicate_pair"] == 1 and table["missing_smiles"] == 0


def test_prepare_is_deterministic(small_tsv, tmp_path):
    D.prepare(small_tsv, tmp_path / "a", show_progress=False)
    D.prepare(small_tsv, tmp_path / "b", show_progress=False)
    assert (tmp_path / "a" / "pairs.tsv").read_bytes() == (tmp_path / "b" / "pairs.tsv").read_bytes()


def test_load_pairs_on_empty_dir(tmp_path):
    with pytest.raises(UserError, match="no pairs.tsv here"):
        D.load_pairs(tmp_path)


def test_load_pairs_rejects_other_tsv(tmp_path):
    (tmp_path / "pairs.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(UserError, match="not a thinbridge pairs file"):
        D.load_pairs(tmp_path)
