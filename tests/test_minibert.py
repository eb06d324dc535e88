"""thinbridge.minibert: the default text model run in numpy gives the training-time features."""
from __future__ import annotations

import numpy as np

from thinbridge import features as F
from thinbridge.minibert import NumpyBert, supports


def test_query_embeddings_equal_the_training_features(text_model):
    texts = ["EGFR kinase inhibitor", "Carbonic anhydrase II inhibitor. Action type: inhibitor. Target: "
             "Carbonic anhydrase II (Homo sapiens).", "Aspirin: Cyclooxygenase inhibitor", "word " * 400]
    path = F.resolve_text_model(None)
    assert supports(path)
    ours = NumpyBert(path).encode(texts)
    ref = F.embed_texts_uncached(texts, text_model)
    np.testing.assert_allclose(ours, ref, atol=2e-6)
    np.testing.assert_allclose(F.encode_queries(texts), ref, atol=2e-6)


def test_token_count_and_unsupported_folders(tmp_path):
    n, cap = F.token_count("kinase " * 1000)
    assert n > 1000 and cap == 256
    assert not supports(tmp_path)  # not a sentence-transformers folder: sentence-transformers is used
