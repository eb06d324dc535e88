"""thinbridge.bridge.model: the two-head bridge and its run folder (safetensors + JSON, no pickle)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thinbridge._util.errors import UserError
from thinbridge.bridge.model import CONFIG, WEIGHTS, Bridge, load_run, read_config, save_run

ENCODERS = {"drug": "ecfp4-morgan-r2-2048", "text": "sentence-transformers/all-MiniLM-L6-v2"}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = Bridge(drug_dim=64, text_dim=24, dim=8)
    run = tmp_path / "run"
    save_run(run, model, {"encoders": ENCODERS, "note": "test"})
    return run, model


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, (5, 64), generator=g).float(), torch.randn(5, 24, generator=g))


def test_bridge_outputs_are_unit_vectors():
    torch.manual_seed(0)
    m = Bridge(64, 24, 8)
    zd, zt = m(*_inputs())
    assert zd.shape == (5, 8) and zt.shape == (5, 8)
    torch.testing.assert_close(zd.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(zt.norm(dim=1), torch.ones(5))
    assert m.n_parameters() == 64 * 8 + 8 + 24 * 8 + 8
    assert m.dims == {"drug_dim": 64, "text_dim": 24, "dim": 8}


def test_round_trip_gives_identical_outputs(saved):
    run, model = saved
    loaded, cfg = load_run(run, expect={"text": ENCODERS["text"], "drug": ENCODERS["drug"], "text_dim": 24})
    assert not loaded.training
    x, e = _inputs()
    with torch.no_grad():
        a, b = model(x, e), loaded(x, e)
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)
    assert cfg["model"] == {"drug_dim": 64, "text_dim": 24, "dim": 8}
    assert cfg["note"] == "test" and cfg["encoders"] == ENCODERS
    assert read_config(run) == cfg


def test_run_folder_is_safetensors_and_json_not_pickle(saved):
    run, _ = saved
    assert sorted(p.name for p in run.iterdir()) == sorted([WEIGHTS, CONFIG])
    raw = (run / WEIGHTS).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")  # safetensors: 8-byte length, then a JSON header
    header = json.loads(raw[8:8 + header_len])
    assert set(header) - {"__metadata__"} == {"drug_head.weight", "drug_head.bias", "text_head.weight",
                                               "text_head.bias"}
    assert header["__metadata__"] == {"format": "thinbridge-bridge-1"}
    assert not raw.startswith(b"\x80") and b"torch._utils" not in raw  # no pickle stream anywhere
    json.loads((run / CONFIG).read_text())


@pytest.mark.parametrize("expect, what", [
    ({"text": "other"}, "text = 'sentence-transformers/all-MiniLM-L6-v2', not 'other'"),
    ({"drug": "maccs"}, "drug"),
    ({"text_dim": 768}, "text_dim = 24, not 768"),
])
def test_mismatched_expectation_is_user_error(saved, expect, what):
    run, _ = saved
    with pytest.raises(UserError, match=f"trained with {what}"):
        load_run(run, expect=expect)


def test_weights_with_other_shapes_than_config(saved):
    run, _ = saved
    save_run(run.parent / "bigger", Bridge(64, 24, 16), {"encoders": ENCODERS})
    (run / WEIGHTS).write_bytes((run.parent / "bigger" / WEIGHTS).read_bytes())  # config still says dim 8
    with pytest.raises(UserError, match="do not match the config"):
        load_run(run)


def test_config_without_model_dims(saved):
    run, _ = saved
    cfg = json.loads((run / CONFIG).read_text())
    del cfg["model"]
    (run / CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="no model dimensions"):
        load_run(run)


@pytest.mark.parametrize("remove", [WEIGHTS, CONFIG])
def test_missing_files(saved, remove):
    run, _ = saved
    (run / remove).unlink()
    with pytest.raises(UserError, match=f"incomplete run folder \\(no {remove.replace('.', '[.]')}\\)"):
        load_run(run)


def test_missing_folder_and_bad_files(tmp_path, saved):
    with pytest.raises(UserError, match="run folder not found"):
        load_run(tmp_path / "nothing")
    run, _ = saved
    (run / WEIGHTS).write_bytes(b"not a safetensors file at all")
    with pytest.raises(UserError, match="unreadable weights"):
        load_run(run)
    (run / CONFIG).write_text("{ not json")
    with pytest.raises(UserError, match="not valid JSON"):
        read_config(run)


def test_save_does_not_mutate_config_and_loads_on_cpu(tmp_path):
    cfg = {"encoders": ENCODERS}
    save_run(tmp_path / "r", Bridge(8, 4, 2), cfg)
    assert cfg == {"encoders": ENCODERS}
    model, _ = load_run(tmp_path / "r")
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert np.isfinite(model.drug_head.weight.detach().numpy()).all()


def test_embed_is_encode_in_numpy_and_checks_widths():
    import numpy as np

    from thinbridge._util.errors import UserError

    torch.manual_seed(0)
    m = Bridge(16, 8, 4)
    x = (np.random.default_rng(0).random((5, 16)) < 0.3).astype(np.uint8)
    z = m.embed(x, "drug", batch=2)
    with torch.no_grad():
        ref = m.encode_drug(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(z, ref, atol=1e-6)  # embed runs the sparse drug head
    np.testing.assert_array_equal(m.embed(x, "drug", batch=5), z)  # batching changes nothing
    assert z.dtype == np.float32 and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-6)
    with pytest.raises(UserError, match="expects 8 columns"):
        m.embed(np.zeros((2, 5)), "text")
