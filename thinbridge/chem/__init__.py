"""Chemistry: a drug structure to its ChEMBL parent.

``parent`` holds ChEMBL's standardisation and parent rules (``chembl_structure_pipeline``'s
algorithms with what they rebuild per molecule built once); ``structures`` applies them to
SMILES (:func:`standardise_parent`, many at once, a user's one) and names why a structure
cannot be used. May import :mod:`thinbridge._util` and :mod:`thinbridge.config` only.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "STRUCTURE_REASONS": "thinbridge.chem.structures",
    "StructureError": "thinbridge.chem.structures",
    "standardise_parent": "thinbridge.chem.structures",
    "standardise_one": "thinbridge.chem.structures",
})
