"""Data: ChEMBL drug mechanisms to clean drug-text pairs, and the splits.

``loaders`` reads a mechanism table (TSV/CSV export or a ChEMBL SQLite release), ``download``
fetches one (network only, failing fast offline), ``pairs`` cleans it into pairs with every
row accounted for and turns pairs into texts, ``splits`` splits pairs by Bemis-Murcko scaffold
or at random and audits leakage. May import :mod:`thinbridge.chem`, :mod:`thinbridge.config`
and :mod:`thinbridge._util`.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "RAW_COLUMNS": "thinbridge.data.loaders",
    "load_table": "thinbridge.data.loaders",
    "load_sqlite": "thinbridge.data.loaders",
    "load_mechanisms": "thinbridge.data.loaders",
    "check_columns": "thinbridge.data.loaders",
    "DROP_REASONS": "thinbridge.data.pairs",
    "TEXT_TEMPLATES": "thinbridge.data.pairs",
    "CleanResult": "thinbridge.data.pairs",
    "clean": "thinbridge.data.pairs",
    "clean_drug_name": "thinbridge.data.pairs",
    "prepare": "thinbridge.data.pairs",
    "load_pairs": "thinbridge.data.pairs",
    "text_view": "thinbridge.data.pairs",
    "data_hash": "thinbridge.data.pairs",
    "reasons_table": "thinbridge.data.pairs",
    "SPLITS": "thinbridge.data.splits",
    "murcko_scaffold": "thinbridge.data.splits",
    "scaffold_split": "thinbridge.data.splits",
    "random_split": "thinbridge.data.splits",
    "split_pairs": "thinbridge.data.splits",
    "molecules_table": "thinbridge.data.splits",
    "save_split": "thinbridge.data.splits",
    "load_split": "thinbridge.data.splits",
    "split_filename": "thinbridge.data.splits",
    "split_summary": "thinbridge.data.splits",
    "assert_no_leak": "thinbridge.data.splits",
    "leakage_audit": "thinbridge.data.splits",
})
