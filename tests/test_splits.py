"""thinbridge.data.splits: Murcko scaffolds, scaffold/random splits over parent molecules, leakage audit."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from conftest import ASPIRIN, CAFFEINE, HEXANOIC_ACID, varied_smiles
from thinbridge.data import splits as S
from thinbridge._util.errors import UserError


@pytest.fixture(scope="module")
def mols():
    smiles = varied_smiles(n_scaffolds=20, per_scaffold=3, n_acyclic=3)
    return smiles, [S.murcko_scaffold(s) for s in smiles]


def _pairs_for(smiles: list[str], targets_per_mol=(1, 2)) -> pd.DataFrame:
    """Pairs table: molecule i has 1 or 2 targets (alternating)."""
    rows = []
    for i, smi in enumerate(smiles):
        for t in range(targets_per_mol[i % len(targets_per_mol)]):
            rows.append({"parent_inchikey": f"KEY{i:03d}", "parent_smiles": smi, "drug_name": f"Drug {i}",
                         "molecule_chembl_id": f"CHEMBL{i}", "target_chembl_id": f"T{(i + t) % 7}"})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ scaffolds
def test_murcko_scaffold():
    assert S.murcko_scaffold(HEXANOIC_ACID) == S.ACYCLIC
    assert S.murcko_scaffold(ASPIRIN) == "c1ccccc1"
    assert S.murcko_scaffold("Cc1ccc(CCC2CCCC2)cc1") == S.murcko_scaffold("Clc1ccc(CCC2CCCC2)cc1")
    assert S.murcko_scaffold(CAFFEINE) != "c1ccccc1"
    with pytest.raises(UserError, match="invalid SMILES"):
        S.murcko_scaffold("C1CC(")


def test_generated_molecules_have_varied_scaffolds(mols):
    smiles, scaf = mols
    assert len(smiles) == 63
    counts = Counter(scaf)
    assert len(counts) == 21 and counts[S.ACYCLIC] == 3 and max(counts.values()) == 3


# ------------------------------------------------------------------ scaffold split
def test_scaffold_split_deterministic_and_seeded(mols):
    _, scaf = mols
    a = S.scaffold_split(scaf, seed=0)
    b = S.scaffold_split(scaf, seed=0)
    c = S.scaffold_split(scaf, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(a) == {"train", "valid", "test"}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scaffold_split_no_scaffold_on_two_sides_and_sizes(mols, seed):
    _, scaf = mols
    lab = S.scaffold_split(scaf, seed=seed)
    side_of = {}
    for s, l in zip(scaf, lab):
        assert side_of.setdefault(s, l) == l, f"scaffold {s} on two sides"
    frac = {k: v / len(lab) for k, v in Counter(lab).items()}
    assert 0.7 <= frac["train"] <= 0.85
    assert 0.05 <= frac["valid"] <= 0.2
    assert 0.05 <= frac["test"] <= 0.2


def test_scaffold_split_big_group_goes_whole():
    # one scaffold holds half the molecules: it must stay together, and it is placed first (train)
    scaf = ["A"] * 10 + [f"s{i}" for i in range(10)]
    lab = S.scaffold_split(scaf, seed=0)
    assert set(lab[:10]) == {"train"}


def test_scaffold_split_bad_sizes():
    for sizes in [(0.8, 0.1), (0.9, 0.2, 0.1), (1.2, -0.1, -0.1)]:
        with pytest.raises(UserError, match="split sizes"):
            S.scaffold_split(["a", "b", "c"], sizes=sizes)


# ------------------------------------------------------------------ random split
@pytest.mark.parametrize("n, want", [(100, (80, 10, 10)), (63, (50, 6, 7)), (10, (8, 1, 1))])
def test_random_split_exact_sizes(n, want):
    lab = S.random_split(n, seed=3)
    assert (Counter(lab)["train"], Counter(lab)["valid"], Counter(lab)["test"]) == want
    np.testing.assert_array_equal(lab, S.random_split(n, seed=3))
    assert not np.array_equal(lab, S.random_split(n, seed=4))


def test_random_split_other_sizes_and_bad_sizes():
    lab = S.random_split(20, sizes=(0.5, 0.25, 0.25), seed=0)
    assert Counter(lab) == {"train": 10, "valid": 5, "test": 5}
    with pytest.raises(UserError):
        S.random_split(20, sizes=(0.5, 0.5, 0.5))


# ------------------------------------------------------------------ split_pairs
@pytest.mark.parametrize("kind", ["scaffold", "random"])
def test_split_pairs_keeps_molecules_whole(mols, kind):
    smiles, _ = mols
    pairs = _pairs_for(smiles)
    lab = S.split_pairs(pairs, kind, seed=0)
    assert len(lab) == len(pairs) and lab.name == "split"
    per_mol = pairs.assign(split=lab.values).groupby("parent_inchikey")["split"].nunique()
    assert (per_mol == 1).all()
    assert set(lab) == {"train", "valid", "test"}
    summary = S.split_summary(pairs, lab)
    assert summary["pairs"].sum() == len(pairs)
    assert summary["molecules"].sum() == pairs["parent_inchikey"].nunique()
    if kind == "scaffold":
        # a scaffold split's molecule counts per side equal scaffold_split on the molecule table
        m = S.molecules_table(pairs)
        want = Counter(S.scaffold_split(m["scaffold"].tolist(), seed=0))
        assert summary["molecules"].to_dict() == {s: want[s] for s in S.SPLITS}


def test_split_pairs_unknown_kind(mols):
    with pytest.raises(UserError, match="unknown split kind"):
        S.split_pairs(_pairs_for(mols[0][:6]), "temporal")


def test_assert_no_leak_catches_a_molecule_on_two_sides():
    pairs = _pairs_for([ASPIRIN, CAFFEINE, HEXANOIC_ACID], targets_per_mol=(2,))
    ok = pairs.assign(split=["train", "train", "valid", "valid", "test", "test"])
    S.assert_no_leak(ok, by_scaffold=True)
    leak = pairs.assign(split=["train", "test", "valid", "valid", "test", "test"])  # aspirin on two sides
    with pytest.raises(AssertionError, match="parent molecule"):
        S.assert_no_leak(leak, by_scaffold=False)


def test_assert_no_leak_catches_a_scaffold_on_two_sides():
    pairs = _pairs_for(["Cc1ccccc1", "Clc1ccccc1", CAFFEINE], targets_per_mol=(1,))  # toluene and PhCl: benzene
    with pytest.raises(AssertionError, match="scaffold"):
        S.assert_no_leak(pairs.assign(split=["train", "test", "valid"]), by_scaffold=True)
    S.assert_no_leak(pairs.assign(split=["train", "test", "valid"]), by_scaffold=False)  # molecules are fine


# ------------------------------------------------------------------ leakage audit
def test_leakage_audit_identical_molecule_is_one():
    nn, summary = S.leakage_audit([ASPIRIN, CAFFEINE], [CAFFEINE, HEXANOIC_ACID])
    assert nn.shape == (2,)
    assert nn[0] == pytest.approx(1.0)
    assert 0.0 <= nn[1] < 0.5
    assert set(summary) == {"n_test", "n_train", "mean", "q25", "median", "q75", "max",
                            "frac_ge_0.4", "frac_ge_0.7", "frac_eq_1.0"}
    assert summary["n_test"] == 2 and summary["n_train"] == 2
    assert summary["max"] == pytest.approx(1.0)
    assert summary["frac_eq_1.0"] == 0.5
    assert summary["mean"] == pytest.approx(nn.mean())


def test_leakage_audit_nearest_neighbour_not_first():
    nn, _ = S.leakage_audit([HEXANOIC_ACID, CAFFEINE, ASPIRIN], [ASPIRIN])
    assert nn[0] == pytest.approx(1.0)  # the match is the last training molecule


def test_split_leakage_audits_distinct_parents_of_a_split():
    """One audit per split: distinct test parents against distinct training parents; a parent that
    appears in several pairs counts once."""
    import pandas as pd

    pairs = pd.DataFrame({"parent_inchikey": ["a", "a", "b", "c"],
                          "parent_smiles": [ASPIRIN, ASPIRIN, CAFFEINE, HEXANOIC_ACID]})
    nn, summary = S.split_leakage(pairs, ["train", "train", "test", "valid"])
    expect = S.leakage_audit([ASPIRIN], [CAFFEINE])
    np.testing.assert_array_equal(nn, expect[0])
    assert summary == expect[1] and len(nn) == 1
