"""One partition of a library, standardised, fingerprinted and embedded.

:func:`embed_partition` takes a partition's rows (:class:`thinbridge.search.library.Row`),
standardises them to ChEMBL parents and fingerprints them (:func:`prepare_structures`; worker
processes may do this part), embeds them with the bridge's drug head, and returns a
:class:`PartitionResult`, which :class:`thinbridge.search.index.IndexWriter` appends to an
index and :mod:`thinbridge.search.shards` stores as a shard.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from thinbridge.chem.structures import standardise_batch
from thinbridge.search.library import UNREADABLE, Row, clean_field


# ----------------------------------------------------------------------------------------------
# one partition
# ----------------------------------------------------------------------------------------------
@dataclass
class PartitionResult:
    """One partition of a library, standardised and embedded: what a shard holds.

    ``entries`` are ``(line, id, smiles, parent_smiles, parent_inchikey)`` of the embedded
    rows, ``skipped`` are ``(line, id, smiles, reason, detail)``; every field is a cleaned
    string (:func:`thinbridge.search.library.clean_field`), exactly as the TSV files hold it.
    """

    file: str
    embeddings: np.ndarray
    entries: list[tuple[str, ...]]
    skipped: list[tuple[str, ...]]
    extra_fields: int = 0
    extra_lines: list[int] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.entries) + len(self.skipped)


def prepare_structures(smiles: list[str], drug_encoder: str) -> tuple[list[tuple[str, ...]], np.ndarray | None]:
    """The per-molecule work of a partition: :func:`standardise_batch`'s tuples for ``smiles``, and
    the run's drug encoder on the parents that worked (one row each, in order; None when none did).
    Rows are independent, so a partition's SMILES may be prepared in parts and joined."""
    from thinbridge.features.drugs import encode_drugs

    results = standardise_batch(smiles)
    parents = [r[0] for r in results if not r[2]]
    return results, (encode_drugs(parents, drug_encoder) if parents else None)


def join_prepared(parts: Sequence[tuple[list, np.ndarray | None]]) -> tuple[list, np.ndarray | None]:
    """:func:`prepare_structures` of consecutive parts of a list, as if of the whole list."""
    features = [f for _, f in parts if f is not None]
    return [r for res, _ in parts for r in res], (np.concatenate(features) if features else None)


def embed_partition(rows: Sequence[Row], heads, file: str, stats: dict | None = None,
                    prepared: tuple[list, np.ndarray | None] | None = None) -> PartitionResult:
    """Standardise, encode (the run's drug encoder) and embed one partition's rows with ``heads``
    (the bridge's :class:`~thinbridge.bridge.runfiles.NumpyHeads`); the drug head embeds the partition in
    one batch. Unreadable lines and structures that fail are kept as skipped rows with their
    reason. ``stats``: the layout's counts of rows with extra fields, filled while ``rows`` were
    read. ``prepared``: :func:`prepare_structures` of the readable rows' SMILES, if already done
    (by worker processes); else it runs here."""
    rows = list(rows)
    if prepared is None:
        prepared = prepare_structures([r.smiles for r in rows if not r.problem], heads.drug_encoder)
    results, features = iter(prepared[0]), prepared[1]
    entries, skipped = [], []
    for r in rows:
        p, key, reason, detail = ("", "", UNREADABLE, r.problem) if r.problem else next(results)
        if reason:
            skipped.append(tuple(clean_field(v) for v in (r.line, r.id, r.smiles, reason, detail)))
        else:
            entries.append(tuple(clean_field(v) for v in (r.line, r.id, r.smiles, p, key)))
    emb = (heads.embed(features, "drug") if entries else np.empty((0, heads.dim), dtype=np.float32))
    stats = stats or {}
    return PartitionResult(file, emb, entries, skipped, stats.get("rows_with_extra_fields", 0),
                           list(stats.get("extra_field_lines", [])))

