"""Drug structures to ChEMBL parents: the one standardisation every stage uses.

:func:`standardise_parent` parses a SMILES, standardises it and strips salts and solvents with
ChEMBL's rules (:mod:`thinbridge.chem.parent`), and returns the parent SMILES and InChIKey; a
structure that cannot be used raises :class:`StructureError` with a :data:`STRUCTURE_REASONS`
key. :func:`map_structures` runs it over many SMILES on every core, :func:`standardise_batch`
collects the reasons instead of raising (index builds), :func:`standardise_one` turns a reason
into a user's one-line error (queries). Imports only :mod:`thinbridge._util` and RDKit.
"""
from __future__ import annotations

from functools import lru_cache

from thinbridge._util.errors import UserError

#: Why a structure cannot be used (keys of ``report["rows_dropped"]`` and of ``skipped.tsv``).
STRUCTURE_REASONS = {
    "missing_smiles": "no structure (empty canonical_smiles)",
    "invalid_smiles": "RDKit could not parse the SMILES",
    "standardisation_failed": "chembl_structure_pipeline could not standardise the structure",
    "empty_parent": "no parent left: only salts, solvents or lone (metal) ions (ChEMBL's salt and solvent lists)",
}


class StructureError(Exception):
    """A structure that cannot be used; ``reason`` is a :data:`STRUCTURE_REASONS` key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


@lru_cache(maxsize=1)
def _carbon():
    """The SMARTS ``[#6]`` (any carbon), parsed once."""
    from rdkit import Chem

    return Chem.MolFromSmarts("[#6]")


#: metals that are never the active part of a salt (the anion is the drug: sodium phenylacetate)
_SPECTATOR_METALS = {"Na", "K"}


def salt_or_solvent_only(mol) -> bool:
    """Whether a ChEMBL parent leaves no organic drug for a fingerprint to describe.

    True (thinbridge drops the row as ``empty_parent``) when

    1. the parent has no carbon atom: salts, ions and inorganic compounds (``[Na+].[Cl-]``,
       zinc sulfate, water, arsenic trioxide, nitric oxide), or
    2. it is a metal salt of ChEMBL-listed counter-ions: a lone metal ion other than sodium or
       potassium, and every other fragment on ChEMBL's salt or solvent lists (iron acetate,
       calcium acetate, lithium carbonate): the active part is the metal.

    ChEMBL's own pipeline keeps such structures whole, because nothing is left to call the
    parent. Sodium and potassium salts of listed anions (sodium phenylacetate, edetate
    disodium) are kept: there the anion is the drug.
    """
    from rdkit import Chem

    if not mol.HasSubstructMatch(_carbon()):
        return True
    if len(Chem.GetMolFrags(mol)) == 1:  # one organic fragment: a drug
        return False
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    lone = [f for f in frags if f.GetNumHeavyAtoms() == 1]
    metals = {f.GetAtomWithIdx(0).GetSymbol() for f in lone
              if not f.GetAtomWithIdx(0).GetSymbol() in {"C", "N", "O", "S", "P", "F", "Cl", "Br", "I", "H"}}
    if not metals - _SPECTATOR_METALS:
        return False

    from thinbridge.chem.parent import is_listed

    return all(f.GetNumHeavyAtoms() == 1 or is_listed(f) for f in frags)


def standardise_parent(smiles: str) -> tuple[str, str]:
    """ChEMBL parent of a SMILES: ``(parent_smiles, parent_inchikey)``.

    RDKit parses, ``standardize_mol`` standardises and ``get_parent_mol`` strips salts and
    solvents: ChEMBL's own rules, offline (``chembl_structure_pipeline``'s algorithms with what
    they rebuild per molecule built once, :mod:`thinbridge.chem.parent`).
    Raises ``StructureError`` with a :data:`STRUCTURE_REASONS` key.
    """
    from rdkit import Chem

    from thinbridge.chem.parent import get_parent_mol, standardize_mol

    if not smiles:
        raise StructureError("missing_smiles")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise StructureError("invalid_smiles", smiles[:80])
    try:
        std = standardize_mol(mol)
        parent, _excluded = get_parent_mol(std)
    except Exception as e:  # the pipeline raises assorted RDKit errors on odd input
        raise StructureError("standardisation_failed", f"{type(e).__name__}: {e}"[:120]) from None
    if parent is None or parent.GetNumAtoms() == 0 or salt_or_solvent_only(parent):
        raise StructureError("empty_parent", smiles[:80])
    psmi = Chem.MolToSmiles(parent)
    key = Chem.MolToInchiKey(parent) or ("SMILES:" + psmi)
    return psmi, key


def _standardise_or_reason(smiles: str):
    try:
        return standardise_parent(smiles)
    except StructureError as e:
        return e


#: below this many distinct structures, standardise in this process
PARALLEL_MIN = 500


def map_structures(smiles: list[str], show_progress: bool):
    """:func:`standardise_parent` over many SMILES, in input order, on every core when worth it.

    Standardisation is CPU-bound (about a millisecond a molecule); results do not depend on the
    number of processes.
    """
    from thinbridge._util.parallel import parallel_map

    return parallel_map(_standardise_or_reason, smiles, n_jobs=None, desc="standardising",
                        show_progress=show_progress, chunksize=32, min_items=PARALLEL_MIN)


# ----------------------------------------------------------------------------------------------
# many structures, and one that a user typed
# ----------------------------------------------------------------------------------------------
def standardise_batch(smiles: list[str]) -> list[tuple[str, str, str, str]]:
    """``(parent_smiles, parent_inchikey, reason, detail)`` per SMILES; reason empty when it worked.
    """
    from rdkit import rdBase

    out = []
    with rdBase.BlockLogs():
        for s in smiles:
            try:
                p, key = standardise_parent(s)
                out.append((p, key, "", ""))
            except StructureError as e:
                out.append(("", "", e.reason, e.detail))
    return out


def standardise_one(smiles: str, what: str = "SMILES") -> tuple[str, str]:
    if not isinstance(smiles, str) or not smiles.strip():
        raise UserError(f"empty {what}: give a molecule, e.g. --smiles \"CC(=O)Oc1ccccc1C(=O)O\"")
    p, key, reason, detail = standardise_batch([smiles.strip()])[0]
    if reason:
        raise UserError(f"invalid {what} {smiles.strip()[:80]!r}: {STRUCTURE_REASONS.get(reason, reason)}")
    return p, key

