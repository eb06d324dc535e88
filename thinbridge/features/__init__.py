"""Features: the two frozen encoders, cached on disk.

``drugs`` holds the drug encoders (ECFP4 as the paper, and others for comparison), ``text``
the sentence-embedding model (all-MiniLM-L6-v2 offline by default, any name or path) and
``minibert`` the same BERT in numpy; ``cache`` computes each feature once per distinct input
and keeps it as safetensors. May import :mod:`thinbridge.data`, :mod:`thinbridge.chem`,
:mod:`thinbridge.config` and :mod:`thinbridge._util`.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "ECFP_ID": "thinbridge.features.drugs",
    "DRUG_ENCODERS": "thinbridge.features.drugs",
    "CONCATENATIONS": "thinbridge.features.drugs",
    "ecfp4": "thinbridge.features.drugs",
    "maccs": "thinbridge.features.drugs",
    "rdkit2d": "thinbridge.features.drugs",
    "drug_encoder": "thinbridge.features.drugs",
    "encode_drugs": "thinbridge.features.drugs",
    "DEFAULT_TEXT_MODEL": "thinbridge.features.text",
    "resolve_text_model": "thinbridge.features.text",
    "text_encoder_id": "thinbridge.features.text",
    "load_text_model": "thinbridge.features.text",
    "encode_queries": "thinbridge.features.text",
    "token_count": "thinbridge.features.text",
    "text_backend": "thinbridge.features.text",
    "embed_texts_uncached": "thinbridge.features.text",
    "CACHE_FORMAT": "thinbridge.features.cache",
    "inputs_sha256": "thinbridge.features.cache",
    "cache_path": "thinbridge.features.cache",
    "user_cache_dir": "thinbridge.features.cache",
    "cached": "thinbridge.features.cache",
    "drug_features": "thinbridge.features.cache",
    "text_features": "thinbridge.features.cache",
    "describe_cache": "thinbridge.features.cache",
})
