"""thinbridge.features.minibert: the default text model run in numpy gives the training-time features."""
from __future__ import annotations

import numpy as np

from thinbridge import features as F
from thinbridge.features import text as FT
from thinbridge.features.minibert import NumpyBert, supports

TEXTS = ["EGFR kinase inhibitor", "Carbonic anhydrase II inhibitor. Action type: inhibitor. Target: "
         "Carbonic anhydrase II (Homo sapiens).", "Aspirin: Cyclooxygenase inhibitor", "word " * 400]


def test_numpy_backend_matches_sentence_transformers(text_model):
    path = F.resolve_text_model(None)
    assert supports(path) and F.text_backend(None) == "numpy" and F.text_backend(text_model) == "sentence-transformers"
    ours = NumpyBert(path).encode(TEXTS)
    ref = F.embed_texts_uncached(TEXTS, text_model)  # a loaded SentenceTransformer: its own backend
    np.testing.assert_allclose(ours, ref, atol=2e-6)
    np.testing.assert_array_equal(F.embed_texts_uncached(TEXTS), ours)  # the training-time features
    np.testing.assert_array_equal(F.encode_queries(TEXTS), ours)  # queries: the same code


def test_forced_sentence_transformers_backend(monkeypatch, text_model):
    monkeypatch.setenv(FT.BACKEND_ENV, "sentence-transformers")
    assert F.text_backend(None) == "sentence-transformers"
    np.testing.assert_array_equal(F.embed_texts_uncached(TEXTS[:2], n_jobs=1),
                                  F.embed_texts_uncached(TEXTS[:2], text_model, n_jobs=1))


def test_backend_variable_is_checked(monkeypatch, tmp_path):
    import pytest

    from thinbridge._util.errors import UserError

    monkeypatch.setenv(FT.BACKEND_ENV, "sentence_transformers")  # a typo is an error, not numpy
    with pytest.raises(UserError, match="not one of"):
        F.text_backend(None)
    monkeypatch.setenv(FT.BACKEND_ENV, "numpy")
    assert F.text_backend(None) == "numpy"
    with pytest.raises(UserError, match="numpy can run"):
        F.text_backend(str(tmp_path))
    monkeypatch.setenv(FT.BACKEND_ENV, "auto")
    assert F.text_backend(None) == "numpy"


def test_text_embeddings_depend_on_the_set_of_texts_only():
    """Batches are fixed by the texts' tokens: order and processes change no bit."""
    bert = FT._quick_model(None)
    texts = [f"inhibitor number {i} of target {i % 7}" + " with a longer tail" * (i % 3) for i in range(120)]
    one = bert.encode(texts, n_jobs=1)
    np.testing.assert_array_equal(bert.encode(texts, n_jobs=2), one)
    np.testing.assert_array_equal(bert.encode(texts[::-1], n_jobs=1)[::-1], one)
    alone = np.stack([bert.encode([t])[0] for t in texts[:12]])
    np.testing.assert_allclose(alone, one[:12], atol=1e-6)  # other batches: equal to float tolerance
    assert len(bert.batches(texts, rows=64)) > len(bert.batches(texts))


def test_text_cache_names_its_backend(tmp_path):
    F.text_features(TEXTS[:2], None, tmp_path, show_progress=False)
    (entry,) = F.describe_cache(tmp_path)
    assert entry["encoder"].endswith("@numpy") and entry["rows"] == 2


def test_token_count_and_unsupported_folders(tmp_path):
    n, cap = F.token_count("kinase " * 1000)
    assert n > 1000 and cap == 256
    assert not supports(tmp_path)  # not a sentence-transformers folder: sentence-transformers is used
    assert F.text_backend(str(tmp_path)) == "sentence-transformers"


def test_gelu_is_the_exact_gelu_to_float_precision():
    from scipy.special import erf

    from thinbridge.features.minibert import gelu

    x = np.linspace(-12, 12, 200_001, dtype=np.float32).reshape(1, -1)  # more than one block
    ref = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    got = gelu(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got - ref).max() < 2e-6
    np.testing.assert_array_equal(gelu(x[:, ::-1]), got[:, ::-1])  # elementwise: no dependence on position
