"""ChEMBL's standardiser and parent rules, with what they rebuild on every call built once.

``chembl_structure_pipeline`` (1.2, © 2019 The ChEMBL group, MIT licence) re-creates work on
every molecule: ``get_parent_mol`` opens and parses its ``solvents.smi`` and ``salts.smi``
(about 170 SMARTS patterns; ~7 ms of the ~9 ms it took to standardise a drug),
``uncharge_mol`` builds a new ``Uncharger`` (three times per molecule), the tartrate rule
parses its SMARTS, and the H-removal, isotope and exclusion rules walk every atom in Python.
:func:`standardize_mol` and :func:`get_parent_mol` here are the same algorithms
(``standardize_mol``, ``get_isotope_parent_mol``, ``get_fragment_parent_mol``) with those
objects built once per process and the per-atom walks skipped where one query shows they
would change nothing (no hydrogen atoms, no isotopes, no charged atom, one fragment).
``tests/test_parent.py`` checks that they give the library's parent, molecule for molecule, on
the real data and on randomised SMILES of it.
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


# ----------------------------------------------------------------------------------------------
# the standardiser's steps, with their per-call objects built once
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _queries() -> dict:
    """Atom queries, built once: hydrogen atoms, isotope-labelled atoms, the exclusion rule's
    metals (by atomic number, from the library's own list) and boron, and any element other than
    those most drugs are made of (a molecule without one can be neither metallic nor boron-rich)."""
    from chembl_structure_pipeline.exclude_flag import METAL_LIST
    from rdkit import Chem
    from rdkit.Chem import rdqueries

    table = Chem.GetPeriodicTable()
    metals = sorted(table.GetAtomicNumber(sym) for sym in METAL_LIST)
    return {"h": Chem.MolFromSmarts("[#1]"), "isotope": rdqueries.IsotopeGreaterQueryAtom(0),
            "metal": Chem.MolFromSmarts("[" + ",".join(f"#{z}" for z in metals) + "]"),
            "boron": rdqueries.AtomNumEqualsQueryAtom(5), "charged": Chem.MolFromSmarts("[!+0]"),
            "unusual": Chem.MolFromSmarts("[" + ";".join(f"!#{z}" for z in (0, 1, 6, 7, 8, 9, 15, 16, 17, 35, 53))
                                          + "]")}


@lru_cache(maxsize=1)
def _uncharger():
    from rdkit.Chem.MolStandardize import rdMolStandardize

    return rdMolStandardize.Uncharger(canonicalOrder=True)


@lru_cache(maxsize=1)
def _tartrate():
    """The library's free-tartrate query (``flatten_tartrate_mol``), parsed once."""
    from rdkit import Chem

    tartrate = Chem.MolFromSmarts("OC(=O)C(O)C(O)C(=O)O")
    params = Chem.AdjustQueryParameters.NoAdjustments()
    params.adjustDegree = True
    params.adjustDegreeFlags = Chem.AdjustQueryWhichFlags.ADJUST_IGNORENONE
    return Chem.AdjustQueryProperties(tartrate, params)


def exclude_flag(m) -> bool:
    """The library's ``exclude_flag(m, includeRDKitSanitization=False)``: a metal from its list, or
    more than 7 boron atoms."""
    q = _queries()
    if not m.HasSubstructMatch(q["unusual"]):
        return False
    return m.HasSubstructMatch(q["metal"]) or len(m.GetAtomsMatchingQuery(q["boron"])) > 7


def uncharge_mol(m):
    """The library's ``uncharge_mol`` with one ``Uncharger`` per process; a molecule without a
    charged atom has nothing to neutralise and is copied as it is."""
    from rdkit import Chem

    res = _uncharger().uncharge(m) if m.HasSubstructMatch(_queries()["charged"]) else Chem.Mol(m)
    res.UpdatePropertyCache(strict=False)
    return res


def remove_hs_from_mol(m):
    """The library's ``remove_hs_from_mol``; its per-atom walk decides which hydrogen atoms to keep,
    so it is skipped when the molecule has none."""
    from chembl_structure_pipeline.standardizer import remove_hs_from_mol as library
    from rdkit import Chem

    if m.HasSubstructMatch(_queries()["h"]):
        return library(m)
    Chem.FastFindRings(m)
    if m.NeedsUpdatePropertyCache():
        m.UpdatePropertyCache(strict=False)
    return Chem.RemoveHs(m, sanitize=False)


def flatten_tartrate_mol(m):
    from rdkit import Chem

    matches = m.GetSubstructMatches(_tartrate())
    if matches:
        m = Chem.Mol(m)
        for match in matches:
            m.GetAtomWithIdx(match[3]).SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
            m.GetAtomWithIdx(match[5]).SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    return m


def standardize_mol(m):
    """The library's ``standardize_mol(m)`` (exclusion checked, then sanitised) with the steps above."""
    from chembl_structure_pipeline.standardizer import cleanup_drawing_mol, normalize_mol
    from rdkit import Chem

    if exclude_flag(m):
        return m
    m = Chem.Mol(m)
    m.UpdatePropertyCache(strict=False)
    Chem.ClearMolSubstanceGroups(m)
    Chem.Kekulize(m)
    m = remove_hs_from_mol(m)
    m = normalize_mol(m)
    m = uncharge_mol(m)
    m = flatten_tartrate_mol(m)
    m = cleanup_drawing_mol(m)
    Chem.SanitizeMol(m)
    return m


def get_isotope_parent_mol(m):
    """The library's ``get_isotope_parent_mol``: isotope labels cleared, then hydrogen atoms removed."""
    from rdkit import Chem

    q = _queries()
    if not m.GetAtomsMatchingQuery(q["isotope"]) and not m.HasSubstructMatch(q["h"]):  # nothing to do
        return Chem.Mol(m)
    m = Chem.Mol(m)
    for at in m.GetAtomsMatchingQuery(q["isotope"]):
        at.SetIsotope(0)
    return remove_hs_from_mol(m)


def get_fragment_parent_mol(m, check_exclusion: bool = False, neutralize: bool = False):
    """The library's ``get_fragment_parent_mol`` with cached patterns (same result). A molecule of
    one fragment is its own fragment parent whether or not that fragment is a listed salt or
    solvent (the library keeps a lone salt, and returns the input when only solvents are left),
    so the pattern search is skipped for it."""
    from rdkit import Chem

    if len(Chem.GetMolFrags(m)) == 1:
        exclude = exclude_flag(m) if check_exclusion else False
        return (uncharge_mol(m) if neutralize else Chem.Mol(m)), exclude
    input_frags = Chem.GetMolFrags(m, asMols=True, sanitizeFrags=False)
    frags = []
    for frag in input_frags:
        frag = Chem.RemoveHs(frag, sanitize=False)
        frag.UpdatePropertyCache(strict=False)
        Chem.SetAromaticity(frag)
        frags.append(frag)
    keep = _strip(frags, 0)
    if not max(keep):  # only solvents: the library returns the input molecule
        exclude = exclude_flag(m) if check_exclusion else False
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
    exclude = exclude_flag(res) if check_exclusion else False
    if exclude:  # still excluded after stripping salts: back to the solvent-stripped species
        res = input_frags[0]
        for frag in input_frags[1:]:
            res = Chem.CombineMols(res, frag)
    if neutralize:
        res = uncharge_mol(res)
    return res, exclude


def get_parent_mol(m, neutralize: bool = True, check_exclusion: bool = True):
    """ChEMBL's parent of a standardised molecule: isotopes removed, then the fragment parent."""
    return get_fragment_parent_mol(get_isotope_parent_mol(m), neutralize=neutralize, check_exclusion=check_exclusion)
