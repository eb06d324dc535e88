"""The frozen drug encoders: a molecule's SMILES to a fixed vector.

ECFP4 = RDKit Morgan fingerprint, radius 2, 2048 bits, through ``rdFingerprintGenerator``
(:data:`thinbridge.config.ECFP_RADIUS`, :data:`thinbridge.config.ECFP_BITS`), as the paper;
other RDKit encoders for comparison (:data:`DRUG_ENCODERS`: ECFP4 counts, ECFP6, FCFP4, atom
pairs, topological torsions, MACCS keys, 2-D descriptors, and ECFP4 with the descriptors).
:func:`encode_drugs` computes any of them; :mod:`thinbridge.features.cache` keeps them on disk.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from thinbridge._util.errors import UserError
from thinbridge._util.progress import progress
from thinbridge.config import ECFP_BITS, ECFP_RADIUS

ECFP_ID = f"ecfp4-morgan-r{ECFP_RADIUS}-{ECFP_BITS}"


# ----------------------------------------------------------------------------------------------
# drugs
# ----------------------------------------------------------------------------------------------
def _mols(smiles: Sequence[str], desc: str, show_progress: bool):
    """RDKit molecules of the SMILES, in order; an unparsable SMILES raises UserError."""
    from rdkit import Chem

    for i, smi in enumerate(progress(smiles, desc=desc, disable=not show_progress)):
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            raise UserError(f"invalid SMILES at position {i}: {smi[:80]!r}")
        yield mol


def _fingerprints(smiles, gen, counts: bool, desc: str, show_progress: bool) -> np.ndarray:
    """One 2,048-wide row per SMILES from an RDKit fingerprint generator: bits (uint8) or counts
    (float32, ``GetCountFingerprintAsNumPy``). An unparsable SMILES raises UserError."""
    out = np.zeros((len(smiles), ECFP_BITS), dtype=np.float32 if counts else np.uint8)
    for i, mol in enumerate(_mols(smiles, desc, show_progress)):
        out[i] = gen.GetCountFingerprintAsNumPy(mol) if counts else gen.GetFingerprintAsNumPy(mol)
    return out


def ecfp4(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """ECFP4 bit vectors, shape ``(n, 2048)``, dtype uint8. An unparsable SMILES raises UserError."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=ECFP_RADIUS, fpSize=ECFP_BITS)
    return _fingerprints(smiles, gen, False, "ECFP4", show_progress)


def _morgan(radius: int, counts: bool = False, features: bool = False):
    def compute(smiles, show_progress=False):
        from rdkit.Chem import rdFingerprintGenerator

        inv = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if features else None
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=ECFP_BITS, atomInvariantsGenerator=inv)
        return _fingerprints(smiles, gen, counts, f"Morgan r{radius}", show_progress)
    return compute


def _hashed(kind: str):
    def compute(smiles, show_progress=False):
        from rdkit.Chem import rdFingerprintGenerator

        make = {"atompair": rdFingerprintGenerator.GetAtomPairGenerator,
                "torsion": rdFingerprintGenerator.GetTopologicalTorsionGenerator}[kind]
        return _fingerprints(smiles, make(fpSize=ECFP_BITS), False, kind, show_progress)
    return compute


def maccs(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """MACCS keys (167 bits, RDKit's numbering), uint8."""
    from rdkit.Chem import MACCSkeys

    return np.asarray([np.frombuffer(MACCSkeys.GenMACCSKeys(m).ToBitString().encode(), np.uint8) - ord("0")
                       for m in _mols(smiles, "MACCS", show_progress)], dtype=np.uint8).reshape(len(smiles), 167)


def rdkit2d(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """RDKit's 2-D descriptors (``Descriptors._descList``, in its order), float32, standardised by a
    fixed transform: ``sign(x) * log1p(|x|)``, non-finite values 0. The transform uses no data, so
    the encoder stays frozen and a query molecule needs no stored statistics; it brings counts,
    weights and areas (1 to 10^4) to a common scale of about 0 to 10."""
    from thinbridge._util.parallel import parallel_map

    smiles = list(smiles)
    step = 256  # ~10 ms a molecule: parts of 256 on every core
    parts = parallel_map(_descriptors, [smiles[i:i + step] for i in range(0, len(smiles), step)],
                         n_jobs=None, show_progress=show_progress, desc="RDKit 2-D")
    x = np.vstack(parts) if parts else np.zeros((0, len(_descriptor_functions())))
    with np.errstate(all="ignore"):
        x = np.sign(x) * np.log1p(np.abs(x))
    return np.where(np.isfinite(x), x, 0.0).astype(np.float32)


def _descriptor_functions():
    """``Descriptors._descList``'s functions, in its order; ``Ipc`` and ``AvgIpc`` share one
    characteristic polynomial per molecule (:func:`_ipc`), the same values at half the cost."""
    from rdkit.Chem import Descriptors

    shared = {"Ipc": _ipc, "AvgIpc": lambda mol: _ipc(mol, avg=True)}
    return [shared.get(name, f) for name, f in Descriptors._descList]


def _ipc(mol, avg: bool = False) -> float:
    """RDKit's ``GraphDescriptors.Ipc(mol, avg)``, its O(n^4) characteristic polynomial of the
    adjacency matrix computed once per molecule and kept on it. RDKit computes it twice, for ``Ipc``
    and ``AvgIpc``, and the two took ~45% of all the 2-D descriptors' time on the shipped drugs
    (``benchmarks/chem.json``: ~1.3x faster with it shared)."""
    from rdkit import Chem
    from rdkit.Chem import Graphs
    from rdkit.ML.InfoTheory import entropy

    poly = getattr(mol, "_thinbridge_char_poly", None)
    if poly is None:
        d = getattr(mol, "_adjMat", None)  # RDKit's own cache of the topological distance matrix
        if d is None:
            d = mol._adjMat = Chem.GetDistanceMatrix(mol, False)
        poly = mol._thinbridge_char_poly = abs(Graphs.CharacteristicPolynomial(mol, np.equal(d, 1)))
    info = entropy.InfoEntropy(poly)
    return info if avg else sum(poly) * info


def _descriptors(smiles: list[str]) -> np.ndarray:
    from rdkit import rdBase

    fns = _descriptor_functions()
    with rdBase.BlockLogs():
        return np.asarray([[_descriptor(f, m) for f in fns] for m in _mols(smiles, "", False)],
                          dtype=np.float64).reshape(len(smiles), len(fns))


def _descriptor(fn, mol) -> float:
    try:
        return float(fn(mol))
    except Exception:  # a descriptor RDKit cannot compute for this molecule: NaN, then 0 (see rdkit2d)
        return float("nan")


#: the frozen drug encoders ``--drug-encoder`` names: name -> (identity for caches and run files, function)
DRUG_ENCODERS = {
    "ecfp4": (ECFP_ID, lambda smiles, show_progress=False: ecfp4(smiles, show_progress)),  # late-bound
    "ecfp4-count": (f"ecfp4count-morgan-r2-{ECFP_BITS}", _morgan(2, counts=True)),
    "ecfp6": (f"ecfp6-morgan-r3-{ECFP_BITS}", _morgan(3)),
    "fcfp4": (f"fcfp4-morgan-feat-r2-{ECFP_BITS}", _morgan(2, features=True)),
    "atompair": (f"atompair-{ECFP_BITS}", _hashed("atompair")),
    "torsion": (f"torsion-{ECFP_BITS}", _hashed("torsion")),
    "maccs": ("maccs-167", maccs),
    "rdkit2d": ("rdkit2d-signedlog", rdkit2d),
    "ecfp4+rdkit2d": (f"{ECFP_ID}+rdkit2d-signedlog", None),  # the two side by side
}
#: encoders that are other encoders side by side (each part cached on its own)
CONCATENATIONS = {"ecfp4+rdkit2d": ("ecfp4", "rdkit2d")}


def drug_encoder(name: str = "ecfp4"):
    """``(identity, function)`` of a drug encoder named in :data:`DRUG_ENCODERS`."""
    if name not in DRUG_ENCODERS:
        raise UserError(f"unknown drug encoder {name!r}; choose from {', '.join(DRUG_ENCODERS)}")
    return DRUG_ENCODERS[name]


def encode_drugs(smiles: Sequence[str], name: str = "ecfp4", show_progress: bool = False) -> np.ndarray:
    """The drug encoder ``name`` on SMILES, uncached (queries and index builds)."""
    drug_encoder(name)
    if name in CONCATENATIONS:
        return np.hstack([encode_drugs(smiles, part, show_progress).astype(np.float32) for part in CONCATENATIONS[name]])
    return DRUG_ENCODERS[name][1](list(smiles), show_progress=show_progress)

