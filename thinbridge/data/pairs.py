"""ChEMBL drug mechanisms -> clean drug–text pairs.

Three ways in, one table out (:data:`RAW_COLUMNS`), read by :mod:`thinbridge.data.loaders`:

* :func:`load_table` — a TSV/CSV export (or its gzip) with ChEMBL's column names;
* :func:`load_sqlite` — a ChEMBL SQLite release, through one SQL query;
* :mod:`thinbridge.data.download` — fetch the mechanism table or a whole release (network only).

:func:`clean` then standardises every structure to its ChEMBL parent with
``chembl_structure_pipeline`` (salts and solvents stripped), merges rows that describe the
same (parent, target, mechanism), and accounts for every input row: each is either a pair,
merged into a pair, or dropped with a reason. :func:`text_view` turns pairs into the texts the
text encoder sees; the templates live in :data:`TEXT_TEMPLATES`, defined once here.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
import pandas as pd

from thinbridge._util import jsonio
from thinbridge.config import TEXT_VIEWS
from thinbridge._util.errors import UserError
from thinbridge._util.jsonio import sha256_file
from thinbridge.chem.structures import STRUCTURE_REASONS, StructureError, map_structures
from thinbridge.data.loaders import check_columns, load_mechanisms

#: Text views, defined once. ``{name}`` is the cleaned drug name (see :func:`clean_drug_name`).
TEXT_TEMPLATES = {
    "basic": "{mechanism}",
    "rich": "{mechanism}. Action type: {action}. Target: {target}{organism}.",
}
NAME_TEMPLATE = "{name}: {text}"
assert tuple(TEXT_TEMPLATES) == TEXT_VIEWS, "the view names are defined in thinbridge.config"

#: Words that name a salt, solvate or formulation rather than the drug (ChEMBL preferred names).
SALT_WORDS = {
    "ACETATE", "ANHYDROUS", "BENZOATE", "BESILATE", "BESYLATE", "BITARTRATE", "BROMIDE", "CALCIUM",
    "CAMSYLATE", "CARBONATE", "CHLORIDE", "CITRATE", "DIHYDRATE", "DIHYDROCHLORIDE", "DIMESYLATE",
    "DIPOTASSIUM", "DISODIUM", "EDISYLATE", "ESYLATE", "FUMARATE", "GLUCONATE", "HCL", "HEMIFUMARATE",
    "HEMIHYDRATE", "HEMISULFATE", "HYCLATE", "HYDRATE", "HYDROBROMIDE", "HYDROCHLORIDE", "HYDROGEN",
    "IODIDE", "ISETHIONATE", "LACTATE", "LYSINE", "MALATE", "MALEATE", "MAGNESIUM", "MEGLUMINE",
    "MESILATE", "MESYLATE", "METHYLSULFATE", "MONOHYDRATE", "NAPSYLATE", "NITRATE", "OXALATE",
    "PAMOATE", "PHOSPHATE", "POTASSIUM", "SESQUIHYDRATE", "SODIUM", "SUCCINATE", "SULFATE",
    "SULPHATE", "TARTRATE", "TOSILATE", "TOSYLATE", "TRIHYDRATE", "TROMETHAMINE", "ZINC",
}

#: Why a row was dropped (keys of ``report["rows_dropped"]``).
DROP_REASONS = {
    **STRUCTURE_REASONS,
    "empty_mechanism": "empty mechanism_of_action text",
    "missing_target": "no target_chembl_id",
    "malformed_row": "the record has more or fewer fields than the header (line and count in the detail)",
}


# ----------------------------------------------------------------------------------------------
# names and structures
# ----------------------------------------------------------------------------------------------
def clean_drug_name(name: str) -> str:
    """ChEMBL preferred name without salt words, in title case: 'ACETAZOLAMIDE SODIUM' -> 'Acetazolamide'."""
    words = str(name or "").replace(",", " ").split()
    while len(words) > 1 and words[-1].upper() in SALT_WORDS:
        words.pop()
    return " ".join(w.capitalize() if w.isupper() or w.islower() else w for w in words)


# ----------------------------------------------------------------------------------------------
# cleaning
# ----------------------------------------------------------------------------------------------
PAIR_COLUMNS = [
    "pair_id", "parent_inchikey", "parent_smiles", "molecule_chembl_id", "molecule_chembl_ids",
    "drug_name", "mechanism_of_action", "action_type", "target_chembl_id", "target_pref_name",
    "target_organism", "n_source_rows",
]


@dataclass
class CleanResult:
    """What :func:`clean` returns: the pairs, the report, and every row that did not become a pair."""

    pairs: pd.DataFrame
    report: dict
    dropped: pd.DataFrame = field(repr=False)
    merged: pd.DataFrame = field(repr=False)


_KEY = ["parent_inchikey", "target_chembl_id", "mechanism_of_action"]


def _standardise_unique(smiles, show_progress: bool) -> tuple[dict, dict]:
    """Each distinct SMILES standardised once: ``{smiles: (parent, key) or StructureError}`` and
    RDKit's own SMILES of each usable input (to tell "already the parent" by structure)."""
    from rdkit import Chem

    uniq = sorted(set(smiles))
    parents = dict(zip(uniq, map_structures(uniq, show_progress)))
    canonical = {smi: Chem.MolToSmiles(Chem.MolFromSmiles(smi))
                 for smi, res in parents.items() if not isinstance(res, StructureError)}
    return parents, canonical


def _sort_rows(raw: pd.DataFrame, parents: dict, canonical: dict) -> tuple[list[dict], list[dict]]:
    """Every row either kept (with its parent) or dropped with a reason from :data:`DROP_REASONS`."""
    dropped, kept = [], []
    for i, row in enumerate(raw.itertuples(index=False)):
        row = row._asdict()
        reason = detail = None
        res = None if row.get("thinbridge_malformed") else parents[row["canonical_smiles"]]
        if res is None:
            reason, detail = "malformed_row", row["thinbridge_malformed"]
        elif isinstance(res, StructureError):
            reason, detail = res.reason, res.detail
        elif not row["mechanism_of_action"]:
            reason, detail = "empty_mechanism", ""
        elif not row["target_chembl_id"]:
            reason, detail = "missing_target", ""
        if reason:
            dropped.append({"row": i + 1, "molecule_chembl_id": row["molecule_chembl_id"],
                            "reason": reason, "detail": detail})
            continue
        row["parent_smiles"], row["parent_inchikey"] = res
        row["_row"] = i + 1
        row["_is_parent"] = canonical[row["canonical_smiles"]] == res[0]
        kept.append(row)
    return kept, dropped


def _merge_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """One representative row per (parent, target, mechanism): a row whose own structure is already
    the parent, then file order. Returns the representatives (with every molecule id of their
    group), the merged rows (with the pair each went into) and the representatives' is-parent flags."""
    df = df.sort_values(["_is_parent", "_row"], ascending=[False, True], kind="stable")
    first = ~df.duplicated(_KEY, keep="first")
    rep = df.loc[first].copy().set_index(_KEY)
    rep["molecule_chembl_ids"] = df.groupby(_KEY, sort=False)["molecule_chembl_id"].agg(
        lambda s: ";".join(dict.fromkeys(s)))
    rep["n_source_rows"] = df.groupby(_KEY, sort=False).size()
    rep = rep.reset_index().sort_values("_row", kind="stable").reset_index(drop=True)
    merged = df.loc[~first].merge(rep[_KEY + ["molecule_chembl_id"]], on=_KEY, suffixes=("", "_pair"))
    merged = merged.rename(columns={"_row": "row", "molecule_chembl_id_pair": "merged_into"})
    merged = merged[["row", "molecule_chembl_id", "merged_into", *_KEY]].sort_values("row").reset_index(drop=True)
    return rep, merged, df.loc[first, "_is_parent"]


def _name_pairs(rep: pd.DataFrame) -> pd.DataFrame:
    """The pairs table: one name per parent molecule (the representative's cleaned name, else any
    non-empty name, else its id), ChEMBL's action type, and pair ids in file order."""
    rep = rep.copy()
    rep["drug_name"] = rep["molecule_pref_name"].map(clean_drug_name)
    name_of = rep[rep["drug_name"] != ""].groupby("parent_inchikey")["drug_name"].first()
    rep["drug_name"] = rep["parent_inchikey"].map(name_of).fillna(rep["molecule_chembl_id"])
    rep = rep.rename(columns={"mechanism_action_type": "action_type"})
    rep["pair_id"] = [f"P{i:05d}" for i in range(len(rep))]
    return rep[PAIR_COLUMNS].copy()


def _report(raw: pd.DataFrame, rep: pd.DataFrame, pairs: pd.DataFrame, merged: pd.DataFrame,
            dropped: pd.DataFrame, is_parent: pd.Series) -> dict:
    reasons = dropped["reason"].value_counts().to_dict()
    report = {
        "rows_in": len(raw),
        "rows_dropped": {r: int(reasons.get(r, 0)) for r in DROP_REASONS},
        "rows_merged": int(len(merged)),
        "pairs": int(len(pairs)),
        "molecules": int(pairs["parent_inchikey"].nunique()),
        "source_molecules": int(raw["molecule_chembl_id"].nunique()),
        "targets": int(pairs["target_chembl_id"].nunique()),
        "mechanism_texts": int(pairs["mechanism_of_action"].nunique()),
        "targets_with_2plus_molecules": int((pairs.groupby("target_chembl_id")["parent_inchikey"].nunique() >= 2).sum()),
        "molecules_without_name": int((rep["molecule_pref_name"] == "").sum()),
        "parents_changed_by_standardisation": int((~is_parent).sum()),
        "action_types": {k: int(v) for k, v in pairs["action_type"].value_counts().items()},
        "drop_reasons": DROP_REASONS,
    }
    accounted = report["pairs"] + sum(report["rows_dropped"].values()) + report["rows_merged"]
    assert accounted == report["rows_in"], f"row accounting broken: {accounted} != {report['rows_in']}"
    return report


def clean(raw: pd.DataFrame, show_progress: bool = True) -> CleanResult:
    """Standardise, validate and de-duplicate raw mechanism rows into drug–text pairs.

    Every input row ends in exactly one of three places: a pair; ``merged`` (same parent
    InChIKey, target and mechanism as an earlier row: its molecule id is kept on the pair);
    ``dropped`` (with a reason from :data:`DROP_REASONS`). ``report["rows_in"]`` equals
    ``pairs + sum(rows_dropped) + rows_merged``, and that is asserted. The steps:
    :func:`_standardise_unique`, :func:`_sort_rows`, :func:`_merge_duplicates`,
    :func:`_name_pairs`, :func:`_report`.
    """
    nulls = dict(raw.attrs.get("null_values", {}))
    raw = check_columns(raw, "input")
    nulls = {c: nulls.get(c, 0) + raw.attrs["null_values"].get(c, 0) for c in {*nulls, *raw.attrs["null_values"]}}
    malformed = raw["thinbridge_malformed"] != "" if "thinbridge_malformed" in raw else pd.Series(False, index=raw.index)
    parents, canonical = _standardise_unique(raw.loc[~malformed, "canonical_smiles"], show_progress)
    kept, dropped = _sort_rows(raw, parents, canonical)
    if not kept:
        counts = pd.Series([d["reason"] for d in dropped]).value_counts().to_dict() if dropped else {}
        raise UserError(f"no usable rows: all {len(raw)} rows were dropped ({counts})")
    rep, merged, is_parent = _merge_duplicates(pd.DataFrame(kept))
    pairs = _name_pairs(rep)
    dropped_df = pd.DataFrame(dropped, columns=["row", "molecule_chembl_id", "reason", "detail"])
    report = _report(raw, rep, pairs, merged, dropped_df, is_parent)
    report["null_values_blanked"] = dict(sorted(nulls.items()))
    return CleanResult(pairs=pairs, report=report, dropped=dropped_df, merged=merged)


# ----------------------------------------------------------------------------------------------
# text views
# ----------------------------------------------------------------------------------------------
def text_view(pairs: pd.DataFrame, view: str = "rich", with_name: bool = False) -> list[str]:
    """The text the encoder sees for each pair, from :data:`TEXT_TEMPLATES`.

    ``basic``: the mechanism text; ``rich``: mechanism, action type, target name and organism.
    ``with_name`` prefixes the cleaned drug name (the paper's "WithDrug" ablation).
    """
    if view not in TEXT_TEMPLATES:
        raise UserError(f"unknown text view {view!r}; choose one of {', '.join(TEXT_VIEWS)}")
    out = []
    for r in pairs.itertuples(index=False):
        org = f" ({r.target_organism})" if r.target_organism else ""
        text = TEXT_TEMPLATES[view].format(
            mechanism=r.mechanism_of_action, action=str(r.action_type).lower().replace("_", " ") or "unknown",
            target=r.target_pref_name or r.target_chembl_id, organism=org,
        )
        out.append(NAME_TEMPLATE.format(name=r.drug_name, text=text) if with_name else text)
    return out


#: the files :func:`prepare` writes (other entries of its folder, such as a feature ``cache/``, are kept)
PREPARED_FILES = ("pairs.tsv", "report.json", "dropped.tsv", "merged.tsv")


def prepare(input_path: str | Path, out_dir: str | Path, show_progress: bool = True) -> CleanResult:
    """Load, clean and write ``pairs.tsv``, ``report.json``, ``dropped.tsv``, ``merged.tsv`` to ``out_dir``."""
    from thinbridge._util.paths import check_out_dir

    from thinbridge._util.outputs import replacing_folder

    input_path, out = Path(input_path), check_out_dir(out_dir)  # before the work, not after
    # one writer at a time; the four files appear together, replacing an earlier set only when complete
    with replacing_folder(out, PREPARED_FILES, "thinbridge prepare") as stage:
        res = clean(load_mechanisms(input_path), show_progress=show_progress)
        res.pairs.to_csv(stage / "pairs.tsv", sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar="\\")
        res.dropped.to_csv(stage / "dropped.tsv", sep="\t", index=False)
        res.merged.to_csv(stage / "merged.tsv", sep="\t", index=False)
        res.report["input"] = {"name": input_path.name, "sha256": sha256_file(input_path)}
        res.report["pairs_sha256"] = sha256_file(stage / "pairs.tsv")
        jsonio.write(stage / "report.json", res.report)
    return res


def load_pairs(data_dir: str | Path) -> pd.DataFrame:
    """Read what :func:`prepare` wrote (``pairs.tsv``), with a clear error when it is missing."""
    p = Path(data_dir) / "pairs.tsv"
    if not p.is_file():
        raise UserError(f"{data_dir}: no pairs.tsv here; run `thinbridge prepare --out {data_dir}` first")
    again = f"run `thinbridge prepare --out {data_dir}` again"
    try:
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE, escapechar="\\")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: unreadable pairs file ({str(e).splitlines()[0]}); {again}") from None
    missing = [c for c in PAIR_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{p}: not a thinbridge pairs file (missing {', '.join(missing)})")
    counts = pd.to_numeric(df["n_source_rows"], errors="coerce")
    if counts.isna().any() or (df[["pair_id", "parent_inchikey", "parent_smiles"]] == "").any(axis=None):
        bad = int(counts.isna().idxmax()) + 2 if counts.isna().any() else "?"
        raise UserError(f"{p}: truncated or damaged (line {bad} is incomplete); {again}")
    df["n_source_rows"] = counts.astype(int)
    return df


def data_hash(data_dir: str | Path) -> str:
    """sha256 of ``pairs.tsv``: the identity of a prepared data set."""
    return sha256_file(Path(data_dir) / "pairs.tsv")


def reasons_table(dropped: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """Counts per drop reason plus merges, with the reason explained (for the book)."""
    rows = [{"outcome": "dropped", "reason": r, "meaning": DROP_REASONS[r],
             "rows": int((dropped["reason"] == r).sum())} for r in DROP_REASONS]
    rows.append({"outcome": "merged", "reason": "duplicate_pair",
                 "meaning": "same parent, target and mechanism as an earlier row", "rows": int(len(merged))})
    return pd.DataFrame(rows)

