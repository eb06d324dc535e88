"""Data: ChEMBL drug mechanisms to clean drug-text pairs, and the splits.

``loaders`` reads a mechanism table (TSV/CSV export or a ChEMBL SQLite release), ``download``
fetches one (network only, failing fast offline), ``pairs`` cleans it into pairs with every
row accounted for and turns pairs into texts, ``splits`` splits pairs by Bemis-Murcko scaffold
or at random and audits leakage. May import :mod:`thinbridge.chem`, :mod:`thinbridge.config`
and :mod:`thinbridge._util`.
"""
from thinbridge.data.loaders import RAW_COLUMNS, load_table, load_sqlite, load_mechanisms, check_columns
from thinbridge.data.pairs import DROP_REASONS, TEXT_TEMPLATES, CleanResult, clean, clean_drug_name, prepare, load_pairs, text_view, data_hash, reasons_table
from thinbridge.data.splits import SPLITS, murcko_scaffold, scaffold_split, random_split, split_pairs, molecules_table, save_split, load_split, split_filename, split_summary, assert_no_leak, leakage_audit

__all__ = ["RAW_COLUMNS", "load_table", "load_sqlite", "load_mechanisms", "check_columns", "DROP_REASONS", "TEXT_TEMPLATES", "CleanResult", "clean", "clean_drug_name", "prepare", "load_pairs", "text_view", "data_hash", "reasons_table", "SPLITS", "murcko_scaffold", "scaffold_split", "random_split", "split_pairs", "molecules_table", "save_split", "load_split", "split_filename", "split_summary", "assert_no_leak", "leakage_audit"]
