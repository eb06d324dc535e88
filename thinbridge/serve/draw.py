"""Molecules drawn as SVG by RDKit, on the server, once per molecule.

:func:`svg` draws a SMILES with ``rdMolDraw2D.MolDraw2DSVG`` (atoms as paths with
``class='atom-N'``, bonds as ``class='bond-N'``), without the XML prolog and without a fixed
size, so the page can put it inline and size it with CSS; results are kept in an LRU cache
(:data:`CACHE_SIZE` molecules, a few kB each). Imports only :mod:`thinbridge._util`,
:mod:`thinbridge.chem` and RDKit.
"""
from __future__ import annotations

import re
from functools import lru_cache

from thinbridge._util.errors import UserError
from thinbridge.chem.structures import STRUCTURE_REASONS

CACHE_SIZE = 4096
WIDTH, HEIGHT = 300, 220
_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*")
_SIZE = re.compile(r"(<svg[^>]*?)\s+width='[^']*'\s+height='[^']*'")


@lru_cache(maxsize=CACHE_SIZE)
def svg(smiles: str) -> str:
    """The molecule as an SVG document (a string starting ``<svg``), or a one-line UserError."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        raise UserError(f"invalid SMILES {smiles[:80]!r}: {STRUCTURE_REASONS['invalid_smiles']}")
    d = rdMolDraw2D.MolDraw2DSVG(WIDTH, HEIGHT)
    opts = d.drawOptions()
    opts.clearBackground = False  # the card's background shows through (light and dark themes)
    opts.minFontSize = 14  # atom labels readable on a phone and from the back of a room
    opts.bondLineWidth = 2
    opts.padding = 0.06
    try:
        mol = rdMolDraw2D.PrepareMolForDrawing(mol)
    except (RuntimeError, ValueError):  # e.g. kekulisation of an odd aromatic system: draw it as given
        pass
    d.DrawMolecule(mol)
    d.FinishDrawing()
    text = _PROLOG.sub("", d.GetDrawingText())
    text = _SIZE.sub(r"\1", text, count=1)
    return text.replace("<svg ", "<svg role='img' ", 1).strip() + "\n"
