"""ChEMBL's parent rules with their salt and solvent lists read once, not once per molecule.

``chembl_structure_pipeline.standardizer.get_parent_mol`` opens and parses its
``solvents.smi`` and ``salts.smi`` (about 170 SMARTS patterns) on every call, which is ~7 ms
of the ~9 ms it takes to standardise a drug. :func:`get_parent_mol` here is the same
algorithm (``get_fragment_parent_mol`` of chembl_structure_pipeline 1.2, © 2019 The ChEMBL
group, MIT licence) with the patterns parsed once per process; ``tests/test_parent.py``
checks that it gives the library's parent, molecule for molecule, on the real data.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _patterns() -> tuple[list, list]:
    from chembl_structure_pipeline import standardizer
    from rdkit import Chem

    def read(path):
        out = []
        with open(path) as fh:
            for line in fh:
                if not line or line[0] == "#":
                    continue
                parts = line.strip().split("\t")
                if len(parts) == 2:
                    out.append(Chem.MolFromSmarts(parts[1]))
        return out

    return read(standardizer._solvents_file), read(standardizer._salts_file)


@lru_cache(maxsize=2)
def _by_size(which: int) -> dict[tuple[int, int], list]:
    """The solvent (0) or salt (1) patterns grouped by (atoms, bonds): a fragment can only match a
    pattern of its own size (the library's rule), so most drug fragments meet no pattern at all."""
    out: dict[tuple[int, int], list] = {}
    for pat in _patterns()[which]:
        out.setdefault((pat.GetNumAtoms(), pat.GetNumBonds()), []).append(pat)
    return out


def is_listed(frag) -> bool:
    """Whether a fragment is on ChEMBL's solvent or salt list (prepared as the pipeline prepares it)."""
    from rdkit import Chem

    frag = Chem.RemoveHs(frag, sanitize=False)
    frag.UpdatePropertyCache(strict=False)
    Chem.SetAromaticity(frag)
    return not (_strip([frag], 0)[0] and _strip([frag], 1)[0])


def _strip(frags, which: int) -> list[int]:
    """1 for each fragment to keep: 0 where it matches a solvent (``which`` 0) or salt (1) pattern."""
    groups = _by_size(which)
    return [0 if any(f.HasSubstructMatch(p) for p in groups.get((f.GetNumAtoms(), f.GetNumBonds()), ())) else 1
            for f in frags]


def get_fragment_parent_mol(m, check_exclusion: bool = False, neutralize: bool = False):
    """The library's ``get_fragment_parent_mol`` with cached patterns (same result)."""
    from chembl_structure_pipeline.exclude_flag import exclude_flag
    from chembl_structure_pipeline.standardizer import uncharge_mol
    from rdkit import Chem

    input_frags = Chem.GetMolFrags(m, asMols=True, sanitizeFrags=False)
    frags = []
    for frag in input_frags:
        frag = Chem.RemoveHs(frag, sanitize=False)
        frag.UpdatePropertyCache(strict=False)
        Chem.SetAromaticity(frag)
        frags.append(frag)
    keep = _strip(frags, 0)
    if not max(keep):  # only solvents: the library returns the input molecule
        exclude = exclude_flag(m, includeRDKitSanitization=False) if check_exclusion else False
        return (uncharge_mol(m) if neutralize else Chem.Mol(m)), exclude
    frags = [f for f, k in zip(frags, keep) if k]
    input_frags = [f for f, k in zip(input_frags, keep) if k]
    keep = _strip(frags, 1)
    if not max(keep):  # only salts: keep everything
        keep = [1] * len(frags)
    kept = [i for i, k in enumerate(keep) if k]
    seen = set()
    for i in kept if len(kept) > 1 else ():  # one fragment left: the library's answer is that fragment
        cfrag = uncharge_mol(input_frags[i]) if neutralize else Chem.Mol(input_frags[i])
        cfrag = Chem.RemoveHs(cfrag, sanitize=False)
        cfrag.ClearComputedProps()
        cfrag.UpdatePropertyCache(False)
        Chem.SanitizeMol(cfrag, sanitizeOps=Chem.SANITIZE_SYMMRINGS | Chem.SANITIZE_FINDRADICALS
                         | Chem.SANITIZE_SETAROMATICITY | Chem.SANITIZE_ADJUSTHS)
        seen.add(Chem.MolToSmiles(cfrag))
    res = input_frags[kept[0]]
    if len(kept) > 1 and len(seen) != 1:
        for i in kept[1:]:
            res = Chem.CombineMols(res, input_frags[i])
    exclude = exclude_flag(res, includeRDKitSanitization=False) if check_exclusion else False
    if exclude:  # still excluded after stripping salts: back to the solvent-stripped species
        res = input_frags[0]
        for frag in input_frags[1:]:
            res = Chem.CombineMols(res, frag)
    if neutralize:
        res = uncharge_mol(res)
    return res, exclude


def get_parent_mol(m, neutralize: bool = True, check_exclusion: bool = True):
    """ChEMBL's parent of a standardised molecule: isotopes removed, then the fragment parent."""
    from chembl_structure_pipeline.standardizer import get_isotope_parent_mol

    return get_fragment_parent_mol(get_isotope_parent_mol(m), neutralize=neutralize, check_exclusion=check_exclusion)
