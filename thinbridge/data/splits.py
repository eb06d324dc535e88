"""Scaffold and random splits over parent molecules, and a leakage audit.

Splits are made over *parent molecules* (a drug's salt forms were merged into their parent
by :mod:`thinbridge.data.pairs`), and every pair follows its molecule, so a molecule never sits
on two sides. For the scaffold split the unit is the Bemis–Murcko scaffold group:
all molecules sharing a scaffold go to the same side. Acyclic molecules (RDKit's
``MurckoScaffold`` returns ``''`` for them) form one group of their own, :data:`ACYCLIC`.

Assignment (:func:`scaffold_split`, the "balanced" scheme of chemprop's ``scaffold_split``):
groups larger than half the validation or half the test target size go first, in random
order; the remaining groups follow in random order (``seed``). Walking that list, a group
goes to train if train stays within its target size, else to validation if that stays
within its size, else to test. Sizes are counted in molecules; fractions are targets,
so the realised fractions are reported, not assumed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from thinbridge._util.errors import UserError

ACYCLIC = "<acyclic>"
SPLITS = ("train", "valid", "test")


def murcko_scaffold(smiles: str) -> str:
    """Bemis–Murcko scaffold SMILES, or :data:`ACYCLIC` for a molecule without rings."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise UserError(f"invalid SMILES: {smiles[:80]!r}")
    scaf = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    return scaf or ACYCLIC


def _check_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    if len(sizes) != 3 or any(s < 0 for s in sizes) or abs(sum(sizes) - 1) > 1e-6:
        raise UserError(f"split sizes must be three non-negative fractions summing to 1, got {tuple(sizes)}")
    return tuple(float(s) for s in sizes)


def scaffold_split(scaffolds: Sequence[str], sizes=(0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """Assign each molecule (given by its scaffold) to 'train' / 'valid' / 'test'; see the module doc."""
    train_f, valid_f, test_f = _check_sizes(sizes)
    scaffolds = np.asarray(scaffolds, dtype=object)
    n = len(scaffolds)
    n_train, n_valid = train_f * n, valid_f * n
    n_test = n - int(round(n_train)) - int(round(n_valid))
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(scaffolds):
        groups.setdefault(s, []).append(i)
    keys = sorted(groups)  # deterministic before shuffling
    rng = np.random.default_rng(seed)
    big = [k for k in keys if len(groups[k]) > n_valid / 2 or len(groups[k]) > n_test / 2]
    small = [k for k in keys if k not in set(big)]
    order = [big[i] for i in rng.permutation(len(big))] + [small[i] for i in rng.permutation(len(small))]
    labels = np.empty(n, dtype=object)
    counts = {"train": 0, "valid": 0}
    for k in order:
        idx = groups[k]
        if counts["train"] + len(idx) <= n_train:
            side = "train"
        elif counts["valid"] + len(idx) <= n_valid:
            side = "valid"
        else:
            side = "test"
        if side in counts:
            counts[side] += len(idx)
        labels[idx] = side
    return labels.astype(str)


def random_split(n: int, sizes=(0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """Assign n molecules uniformly at random (exact sizes, rounded) to train / valid / test."""
    train_f, valid_f, _ = _check_sizes(sizes)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_valid = int(round(train_f * n)), int(round(valid_f * n))
    labels = np.empty(n, dtype=object)
    labels[perm[:n_train]] = "train"
    labels[perm[n_train:n_train + n_valid]] = "valid"
    labels[perm[n_train + n_valid:]] = "test"
    return labels.astype(str)


def scaffold_cache(data_dir) -> Path | None:
    """The scaffold cache of a prepared data folder (``scaffolds.tsv``, :func:`molecules_table`), or
    None when the folder does not exist."""
    d = Path(data_dir)
    return d / "scaffolds.tsv" if d.is_dir() else None


def molecules_table(pairs: pd.DataFrame, cache: str | Path | None = None) -> pd.DataFrame:
    """One row per parent molecule (first-seen order) with its SMILES and scaffold.

    ``cache``: a TSV of ``parent_smiles -> scaffold`` (``scaffolds.tsv`` in a prepared data
    folder) read when it covers every molecule and (re)written otherwise, so the scaffolds of a
    data set are computed once, not for every run.
    """
    mols = pairs.drop_duplicates("parent_inchikey")[["parent_inchikey", "parent_smiles", "drug_name", "molecule_chembl_id"]]
    mols = mols.reset_index(drop=True)
    known: dict[str, str] = {}
    if cache is not None and Path(cache).is_file():
        try:
            c = pd.read_csv(cache, sep="\t", dtype=str, keep_default_na=False)
            known = dict(zip(c["parent_smiles"], c["scaffold"]))
        except (pd.errors.ParserError, KeyError, UnicodeDecodeError, OSError):
            known = {}
    missing = [s for s in mols["parent_smiles"] if s not in known]
    known.update({s: murcko_scaffold(s) for s in missing})
    mols["scaffold"] = mols["parent_smiles"].map(known)
    if cache is not None and missing:
        try:
            pd.DataFrame({"parent_smiles": list(known), "scaffold": list(known.values())}).to_csv(
                cache, sep="\t", index=False)
        except OSError:  # a read-only data folder: compute again next time
            pass
    return mols


def split_pairs(pairs: pd.DataFrame, kind: str = "scaffold", sizes=(0.8, 0.1, 0.1), seed: int = 0,
                mols: pd.DataFrame | None = None) -> pd.Series:
    """Split label for every pair, made over parent molecules (``kind``: 'scaffold' or 'random').

    Asserts that no parent molecule (and, for the scaffold split, no scaffold) is on two sides.
    ``mols`` (:func:`molecules_table` of ``pairs``) saves computing the scaffolds again.
    """
    mols = (molecules_table(pairs) if mols is None else mols).copy()
    if kind == "scaffold":
        mols["split"] = scaffold_split(mols["scaffold"].tolist(), sizes, seed)
    elif kind == "random":
        mols["split"] = random_split(len(mols), sizes, seed)
    else:
        raise UserError(f"unknown split kind {kind!r}; choose 'scaffold' or 'random'")
    label = pairs["parent_inchikey"].map(dict(zip(mols["parent_inchikey"], mols["split"])))
    label.name = "split"
    assert_no_leak(pairs.assign(split=label), by_scaffold=(kind == "scaffold"), mols=mols)
    return label


def assert_no_leak(pairs_with_split: pd.DataFrame, by_scaffold: bool = True, mols: pd.DataFrame | None = None) -> None:
    """Raise AssertionError if a parent molecule (or scaffold) appears in two splits."""
    per_mol = pairs_with_split.groupby("parent_inchikey")["split"].nunique()
    bad = per_mol[per_mol > 1]
    assert bad.empty, f"{len(bad)} parent molecule(s) on two sides of the split, e.g. {bad.index[0]}"
    if by_scaffold:
        mols = mols if mols is not None else molecules_table(pairs_with_split)
        side = pairs_with_split.drop_duplicates("parent_inchikey").set_index("parent_inchikey")["split"]
        scaf = mols.set_index("parent_inchikey")["scaffold"]
        per_scaf = pd.DataFrame({"scaffold": scaf, "split": side.reindex(scaf.index)}).groupby("scaffold")["split"].nunique()
        bad = per_scaf[per_scaf > 1]
        assert bad.empty, f"{len(bad)} scaffold(s) on two sides of the split, e.g. {bad.index[0]!r}"


def split_summary(pairs: pd.DataFrame, split, mols: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pairs, molecules, scaffolds and targets per side (``mols``: :func:`molecules_table`, if at hand)."""
    df = pairs.assign(split=np.asarray(split))
    mols = molecules_table(pairs) if mols is None else mols
    df["scaffold"] = df["parent_inchikey"].map(dict(zip(mols["parent_inchikey"], mols["scaffold"])))
    rows = []
    for s in SPLITS:
        d = df[df["split"] == s]
        rows.append({"split": s, "pairs": len(d), "molecules": d["parent_inchikey"].nunique(),
                     "scaffolds": d["scaffold"].nunique(), "targets": d["target_chembl_id"].nunique()})
    out = pd.DataFrame(rows).set_index("split")
    out["molecule_fraction"] = (out["molecules"] / out["molecules"].sum()).round(3)
    return out


def split_filename(kind: str, seed: int) -> str:
    """The file name a split is saved under: ``scaffold_seed0.tsv``."""
    return f"{kind}_seed{int(seed)}.tsv"


def save_split(path: str | Path, pairs: pd.DataFrame, labels) -> Path:
    """Write ``pair_id`` and ``split`` columns (TSV) for the pairs, in order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"pair_id": pairs["pair_id"].to_numpy(), "split": np.asarray(labels)}).to_csv(path, sep="\t", index=False)
    return path


def load_split(path: str | Path, pairs: pd.DataFrame) -> np.ndarray:
    """Split labels saved by :func:`save_split`, checked to belong to these pairs, in their order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"split file not found: {path} (the splits chapter or `save_split` writes it)")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if list(df.columns) != ["pair_id", "split"] or len(df) != len(pairs) or \
            (df["pair_id"].to_numpy() != pairs["pair_id"].to_numpy()).any():
        raise UserError(f"{path}: not a split of these pairs (pair ids differ); make the split again")
    bad = set(df["split"]) - set(SPLITS)
    if bad:
        raise UserError(f"{path}: unknown split label(s) {sorted(bad)}")
    return df["split"].to_numpy()


def split_leakage(pairs: pd.DataFrame, labels) -> tuple[np.ndarray, dict]:
    """:func:`leakage_audit` of one split: each distinct test parent molecule against the distinct
    training parents (``labels``: one split label per pair, as :func:`split_pairs` gives)."""
    lab = np.asarray(labels)

    def parents(part: str) -> list[str]:
        return pairs[lab == part].drop_duplicates("parent_inchikey").parent_smiles.tolist()

    return leakage_audit(parents("train"), parents("test"))


def leakage_audit(train_smiles: Sequence[str], test_smiles: Sequence[str]) -> tuple[np.ndarray, dict]:
    """For each test molecule, the ECFP4 Tanimoto similarity of its nearest training neighbour.

    Returns the per-molecule array and summary statistics (mean, quartiles, max, and the
    fraction of test molecules with a training neighbour at >= 0.4, >= 0.7 and 1.0).
    """
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from thinbridge.config import ECFP_BITS, ECFP_RADIUS

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=ECFP_RADIUS, fpSize=ECFP_BITS)
    fp = lambda s: gen.GetFingerprint(Chem.MolFromSmiles(s))  # noqa: E731
    train_fps = [fp(s) for s in train_smiles]
    nn = np.array([max(DataStructs.BulkTanimotoSimilarity(fp(s), train_fps)) for s in test_smiles])
    q = np.quantile(nn, [0.25, 0.5, 0.75]) if len(nn) else [np.nan] * 3
    summary = {
        "n_test": int(len(nn)), "n_train": int(len(train_fps)),
        "mean": float(nn.mean()) if len(nn) else float("nan"),
        "q25": float(q[0]), "median": float(q[1]), "q75": float(q[2]),
        "max": float(nn.max()) if len(nn) else float("nan"),
        "frac_ge_0.4": float((nn >= 0.4).mean()) if len(nn) else float("nan"),
        "frac_ge_0.7": float((nn >= 0.7).mean()) if len(nn) else float("nan"),
        "frac_eq_1.0": float((nn >= 1.0 - 1e-9).mean()) if len(nn) else float("nan"),
    }
    return nn, summary
