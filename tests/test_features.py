"""thinbridge.features.drugs: ECFP4, the safetensors cache, the offline sentence model."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from conftest import ACETAZOLAMIDE, ASPIRIN, CAFFEINE, HEXANOIC_ACID
from thinbridge import features as F
from thinbridge.features import cache as FC
from thinbridge.features import drugs as FD
from thinbridge.features import text as FT
from thinbridge._util.errors import UserError

SMILES = [ASPIRIN, CAFFEINE, HEXANOIC_ACID, ACETAZOLAMIDE]


def _rdkit_bits(smi: str) -> np.ndarray:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetFingerprint(Chem.MolFromSmiles(smi))
    v = np.zeros(2048, dtype=np.uint8)
    v[list(fp.GetOnBits())] = 1
    return v


# ------------------------------------------------------------------ ECFP4
def test_ecfp4_shape_dtype_and_bits():
    x = F.ecfp4(SMILES)
    assert x.shape == (4, 2048) and x.dtype == np.uint8
    assert set(np.unique(x)) <= {0, 1}
    for i, smi in enumerate(SMILES):
        np.testing.assert_array_equal(x[i], _rdkit_bits(smi))
    assert x[0].sum() > 10  # aspirin sets a couple of dozen bits
    assert not np.array_equal(x[0], x[1])


def test_ecfp4_invalid_smiles_names_position():
    with pytest.raises(UserError, match="invalid SMILES at position 1"):
        F.ecfp4([ASPIRIN, "C1CC("])


def test_drug_features_without_cache_keeps_order(tmp_path):
    x = F.drug_features([CAFFEINE, ASPIRIN, CAFFEINE], cache_dir=None, show_progress=False)
    np.testing.assert_array_equal(x[0], _rdkit_bits(CAFFEINE))
    np.testing.assert_array_equal(x[1], _rdkit_bits(ASPIRIN))
    np.testing.assert_array_equal(x[0], x[2])
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the cache
@pytest.fixture
def counting_ecfp4(monkeypatch):
    """Replace ecfp4 by a counting wrapper; returns the list of calls (each the items computed)."""
    calls = []
    real = F.ecfp4

    def wrapped(items, show_progress=False):
        calls.append(list(items))
        return real(items, show_progress)

    monkeypatch.setattr(FD, "ecfp4", wrapped)
    return calls


def _only_cache_file(cache_dir):
    files = sorted(cache_dir.glob("*.safetensors"))
    assert len(files) == 1, files
    return files[0]


def test_cache_second_call_reads_the_file(tmp_path, counting_ecfp4, monkeypatch):
    items = [ASPIRIN, CAFFEINE, ASPIRIN, HEXANOIC_ACID]
    a = F.drug_features(items, tmp_path, show_progress=False)
    assert counting_ecfp4 == [sorted({ASPIRIN, CAFFEINE, HEXANOIC_ACID})]  # once per distinct SMILES
    path = _only_cache_file(tmp_path)
    assert path.name.startswith("drug-ecfp4-morgan-r2-2048-")

    def boom(*a, **k):
        raise AssertionError("recomputed although the cache holds these inputs")

    monkeypatch.setattr(FD, "ecfp4", boom)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache reads without any warning
        b = F.drug_features(list(reversed(items)), tmp_path, show_progress=False)  # same set, other order
    np.testing.assert_array_equal(b, a[::-1])
    np.testing.assert_array_equal(a[0], _rdkit_bits(ASPIRIN))


def test_cache_corrupted_data_bytes_detected_and_rebuilt(tmp_path, counting_ecfp4):
    items = [ASPIRIN, CAFFEINE]
    good = F.drug_features(items, tmp_path, show_progress=False)
    path = _only_cache_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-64:] = bytes(255 - b for b in raw[-64:])  # flip bytes inside the tensor data, header intact
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="rebuilding"):
        again = F.drug_features(items, tmp_path, show_progress=False)
    np.testing.assert_array_equal(again, good)
    assert len(counting_ecfp4) == 2  # recomputed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(F.drug_features(items, tmp_path, show_progress=False), good)
    assert len(counting_ecfp4) == 2  # the rebuilt file is trusted again


def test_cache_garbage_header_detected_and_rebuilt(tmp_path, counting_ecfp4):
    items = [ASPIRIN, CAFFEINE]
    good = F.drug_features(items, tmp_path, show_progress=False)
    path = _only_cache_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[:40] = b"\x00" * 40
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="unreadable"):
        again = F.drug_features(items, tmp_path, show_progress=False)
    np.testing.assert_array_equal(again, good)
    assert len(counting_ecfp4) == 2


def test_cache_truncated_file_detected(tmp_path):
    items = [ASPIRIN, CAFFEINE]
    good = F.drug_features(items, tmp_path, show_progress=False)
    path = _only_cache_file(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match="cache file"):
        np.testing.assert_array_equal(F.drug_features(items, tmp_path, show_progress=False), good)


def test_cache_file_for_other_inputs_rejected(tmp_path, counting_ecfp4):
    mine, other = [ASPIRIN, CAFFEINE], [HEXANOIC_ACID, ACETAZOLAMIDE]
    d_other = tmp_path / "other"
    F.drug_features(other, d_other, show_progress=False)
    # put the other inputs' cache file under the name this input set will look for
    target = F.cache_path(tmp_path, "drug", F.ECFP_ID, sorted(mine))
    target.write_bytes(_only_cache_file(d_other).read_bytes())
    with pytest.warns(UserWarning, match="does not match"):
        x = F.drug_features(mine, tmp_path, show_progress=False)
    np.testing.assert_array_equal(x[0], _rdkit_bits(ASPIRIN))
    np.testing.assert_array_equal(x[1], _rdkit_bits(CAFFEINE))
    assert counting_ecfp4[-1] == sorted(mine)


def test_cache_names_differ_by_inputs_and_encoder(tmp_path):
    a = F.cache_path(tmp_path, "drug", F.ECFP_ID, [ASPIRIN])
    assert a != F.cache_path(tmp_path, "drug", F.ECFP_ID, [CAFFEINE])
    assert a != F.cache_path(tmp_path, "drug", "other-encoder", [ASPIRIN])
    # length-prefixed hashing: ["ab", "c"] and ["a", "bc"] are different inputs
    assert F.inputs_sha256(["ab", "c"]) != F.inputs_sha256(["a", "bc"])


# ------------------------------------------------------------------ texts
TEXTS = ["Carbonic anhydrase II inhibitor", "Cyclooxygenase inhibitor", "Carbonic anhydrase II inhibitor",
         "Adenosine receptor A2a antagonist"]


def test_text_encoder_id_of_offline_default():
    want = "sentence-transformers/all-MiniLM-L6-v2"
    assert F.text_encoder_id(None) == want
    assert F.text_encoder_id("all-MiniLM-L6-v2") == want
    assert F.text_encoder_id(F.resolve_text_model(None)) == want  # the installed folder is the same model
    assert F.text_encoder_id("some-org/some-model") == "some-org/some-model"


def test_text_encoder_id_of_local_folder_is_location_independent(tmp_path):
    for d in ("a/mymodel", "b/mymodel"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "config.json").write_text('{"hidden_size": 8}')
    ida, idb = F.text_encoder_id(str(tmp_path / "a/mymodel")), F.text_encoder_id(str(tmp_path / "b/mymodel"))
    assert ida == idb and ida.startswith("local:mymodel:")
    (tmp_path / "b/mymodel/config.json").write_text('{"hidden_size": 16}')
    assert F.text_encoder_id(str(tmp_path / "b/mymodel")) != ida


def test_text_features_shape_and_identical_rows(text_model, tmp_path):
    x = F.text_features(TEXTS, cache_dir=tmp_path, show_progress=False)
    assert x.shape == (4, 384) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], x[2])
    assert not np.allclose(x[0], x[1])
    assert np.all(np.isfinite(x))
    # the same vectors as the model itself gives
    direct = text_model.encode([TEXTS[1]], convert_to_numpy=True)
    np.testing.assert_allclose(x[1], direct[0], rtol=1e-4, atol=1e-5)
    # cached: the second call does not need the model
    cached = F.text_features(TEXTS, cache_dir=tmp_path, show_progress=False)
    np.testing.assert_array_equal(cached, x)
    assert any(p.name.startswith("text-sentence-transformers_all-MiniLM-L6-v2_numpy-") for p in tmp_path.iterdir())


def test_text_features_second_call_uses_cache(text_model, tmp_path, monkeypatch):
    F.text_features(TEXTS[:2], cache_dir=tmp_path, show_progress=False)

    def boom(*a, **k):
        raise AssertionError("re-embedded although cached")

    monkeypatch.setattr(FC, "embed_texts_uncached", boom)
    assert F.text_features(TEXTS[:2][::-1], cache_dir=tmp_path, show_progress=False).shape == (2, 384)
    with pytest.raises(AssertionError, match="re-embedded"):
        F.text_features(["a text never seen"], cache_dir=tmp_path, show_progress=False)


def test_text_features_rejects_empty_text():
    with pytest.raises(UserError, match="empty text"):
        F.text_features(["fine", "  "], show_progress=False)


@pytest.mark.parametrize("offline", [True, False])
@pytest.mark.parametrize("name", ["/nonexistent/dir/for/thinbridge-model", "no-such-org/no-such-thinbridge-model"])
def test_load_text_model_fails_fast_with_user_error(text_model, monkeypatch, offline, name):
    # text_model: sentence_transformers already imported, so the time below is the failure itself
    import huggingface_hub.constants as hub

    if offline:  # the hub read the variable at import; set both, as a process started offline would have
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
        # the machine has no network: probe nothing for real, answer as an offline machine would
        monkeypatch.setattr("thinbridge.data.download.network_reachable", lambda *a, **k: False)
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="text model"):
        F.load_text_model(name)
    assert time.perf_counter() - t0 < 15
    assert name not in FT._MODELS


def test_offline_variable_set_after_hub_import_still_fails_fast(text_model, monkeypatch):
    """HF_HUB_OFFLINE=1 set late (e.g. in a notebook) must not send a hub name into minutes of retries."""
    import huggingface_hub.constants as hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)  # what the hub read at import
    monkeypatch.setattr("thinbridge.data.download.network_reachable", lambda *a, **k: False)  # as on this offline machine
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="hub is unreachable"):
        F.load_text_model("no-such-org/no-such-thinbridge-model")
    assert time.perf_counter() - t0 < 15


def test_text_encoding_does_not_depend_on_the_number_of_processes(text_model):
    texts = [f"inhibitor number {i} of target {i % 7}" + " with a longer tail" * (i % 3) for i in range(300)]
    one = F.embed_texts_uncached(texts, text_model, n_jobs=1)
    two = F.embed_texts_uncached(texts, text_model, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(F.embed_texts_uncached(texts[:256], text_model), one[:256])  # a chunk alone
