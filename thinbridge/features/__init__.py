"""Features: the two frozen encoders, cached on disk.

``drugs`` holds the drug encoders (ECFP4 as the paper, and others for comparison), ``text``
the sentence-embedding model (all-MiniLM-L6-v2 offline by default, any name or path) and
``minibert`` the same BERT in numpy; ``cache`` computes each feature once per distinct input
and keeps it as safetensors. May import :mod:`thinbridge.data`, :mod:`thinbridge.chem`,
:mod:`thinbridge.config` and :mod:`thinbridge._util`.
"""
from thinbridge.features.drugs import ECFP_ID, DRUG_ENCODERS, CONCATENATIONS, ecfp4, maccs, rdkit2d, drug_encoder, encode_drugs
from thinbridge.features.text import DEFAULT_TEXT_MODEL, resolve_text_model, text_encoder_id, load_text_model, encode_queries, token_count, text_backend, embed_texts_uncached
from thinbridge.features.cache import CACHE_FORMAT, inputs_sha256, cache_path, user_cache_dir, cached, drug_features, text_features, describe_cache

__all__ = ["ECFP_ID", "DRUG_ENCODERS", "CONCATENATIONS", "ecfp4", "maccs", "rdkit2d", "drug_encoder", "encode_drugs", "DEFAULT_TEXT_MODEL", "resolve_text_model", "text_encoder_id", "load_text_model", "encode_queries", "token_count", "text_backend", "embed_texts_uncached", "CACHE_FORMAT", "inputs_sha256", "cache_path", "user_cache_dir", "cached", "drug_features", "text_features", "describe_cache"]
