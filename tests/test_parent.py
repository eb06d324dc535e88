"""thinbridge.chem.parent: ChEMBL's standardiser and parent rules, with their per-call objects built
once and their no-op walks skipped, give the library's parents, molecule for molecule."""
from __future__ import annotations

import pandas as pd
import pytest

from thinbridge.chem import parent as P
from thinbridge._util.paths import shipped_data_path

#: structures that take every branch: explicit and isotopic hydrogens, isotopes, metals, boron
#: (one atom and more than seven), salts, solvents, a lone salt, tartrate, alkoxide, zwitterions
EDGE_CASES = [
    "[H][C@@]12CC[C@H](O)C[C@@H]1CC[C@@H]1[C@@H]2CC[C@]2(C)[C@@H](O)CC[C@@H]12",
    "[2H]C([2H])([2H])Oc1ccc(CC(N)=O)cc1", "[13CH3]C(=O)Oc1ccccc1C(=O)O", "[H]N([H])c1ccccc1", "F/C=C/[H]",
    "CCO.[H][H]",
    "N.N.Cl[Pt]Cl", "[Na+].[O-]C(=O)c1ccccc1", "OB(O)c1ccccc1", "BBBBBBBBBB", "B1B2B3B1B23",
    "OC(=O)[C@H](O)[C@@H](O)C(=O)O.CN1CCC[C@H]1c1cccnc1", "OC(=O)[C@H](O)[C@@H](O)C(=O)O",
    "CCO", "CCO.O", "[Na+].[Cl-]", "Cl", "C[N+](C)(C)CCO", "CC[O-].[Na+]", "[Na]OC(C)=O",
    "[NH3+]CC(=O)[O-]", "CCN(CC)CC.Cl", "[O-][n+]1ccccc1", "c1ccccc1.O", "CC(=O)O.CC(=O)O",
    "C[N+](C)(C)CC([O-])CC[O-]", "[Fe+2].[O-]C(=O)CCC(=O)[O-]", "*c1ccccc1", "C1=CC=CC=C1",
]


def _both(smiles: str):
    """(ours, the library's): parent SMILES, InChIKey and exclusion flag, or the error's type."""
    from chembl_structure_pipeline import standardizer as S
    from rdkit import Chem

    def run(standardize, parent):
        try:
            p, excluded = parent(standardize(Chem.MolFromSmiles(smiles)))
            return Chem.MolToSmiles(p), Chem.MolToInchiKey(p), excluded
        except Exception as e:  # the same failure is the same answer
            return type(e).__name__
    return run(P.standardize_mol, P.get_parent_mol), run(S.standardize_mol, S.get_parent_mol)


def _real_sample() -> list[str]:
    """Every multi-fragment structure of the shipped data (where salts and solvents matter), a
    stride through the rest, and randomised SMILES of a stride (other atom orders)."""
    from rdkit import Chem

    df = pd.read_csv(shipped_data_path(), sep="\t", dtype=str, keep_default_na=False)
    smiles = [s for s in df["canonical_smiles"].unique() if s]
    sample = [s for s in smiles if "." in s] + [s for s in smiles if "." not in s][::10]
    for s in smiles[::25]:
        sample += Chem.MolToRandomSmilesVect(Chem.MolFromSmiles(s), 2, randomSeed=7)
    return sample


@pytest.mark.parametrize("smiles", EDGE_CASES)
def test_same_parent_as_chembl_structure_pipeline_on_edge_cases(smiles):
    from chembl_structure_pipeline.exclude_flag import exclude_flag
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        ours, library = _both(smiles)
        assert ours == library, smiles
        mol = Chem.MolFromSmiles(smiles)
        assert P.exclude_flag(mol) == exclude_flag(mol, includeRDKitSanitization=False), smiles


def test_same_parents_as_chembl_structure_pipeline_on_real_structures():
    from rdkit import rdBase

    sample = _real_sample()
    assert len(sample) > 500
    with rdBase.BlockLogs():
        for s in sample:
            ours, library = _both(s)
            assert ours == library, s


def test_edge_cases_cover_every_branch():
    """The cases above reach the walks that are skipped elsewhere: hydrogen atoms kept after
    parsing, isotopes, several fragments, excluded molecules, charged and neutral molecules."""
    from rdkit import Chem

    mols = [Chem.MolFromSmiles(s) for s in EDGE_CASES]
    q = P._queries()
    assert sum(m.HasSubstructMatch(q["h"]) for m in mols) >= 2
    assert sum(bool(m.GetAtomsMatchingQuery(q["isotope"])) for m in mols) >= 2
    assert sum(len(Chem.GetMolFrags(m)) > 1 for m in mols) >= 10
    assert sum(P.exclude_flag(m) for m in mols) >= 3
    charged = [m.HasSubstructMatch(q["charged"]) for m in mols]  # the uncharger runs, or is skipped
    assert sum(charged) >= 8 and len(mols) - sum(charged) >= 8
    # hydrogen atoms but no isotope: the isotope parent's H removal still runs
    assert any(m.HasSubstructMatch(q["h"]) and not m.GetAtomsMatchingQuery(q["isotope"]) for m in mols)
