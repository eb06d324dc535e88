"""thinbridge.parent: ChEMBL's parent rules with cached pattern lists give the library's parents."""
from __future__ import annotations

import pandas as pd

from thinbridge import parent as P
from thinbridge.paths import shipped_data_path


def test_same_parents_as_chembl_structure_pipeline_on_real_structures():
    from chembl_structure_pipeline import standardizer as S
    from rdkit import Chem

    df = pd.read_csv(shipped_data_path(), sep="\t", dtype=str, keep_default_na=False)
    smiles = [s for s in df["canonical_smiles"].unique() if s]
    # every multi-fragment structure (where salts and solvents matter) and a stride through the rest
    sample = [s for s in smiles if "." in s] + [s for s in smiles if "." not in s][::10]
    assert len(sample) > 300
    for s in sample:
        std = S.standardize_mol(Chem.MolFromSmiles(s))
        lib, lib_excl = S.get_parent_mol(std)
        ours, ours_excl = P.get_parent_mol(std)
        assert (Chem.MolToSmiles(ours), ours_excl) == (Chem.MolToSmiles(lib), lib_excl), s
