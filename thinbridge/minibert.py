"""A sentence-transformers BERT model run in numpy, for quick queries without torch.

Importing sentence-transformers (and through it torch and transformers) takes ~10 s, which a
one-off ``thinbridge query`` should not pay to embed one sentence. For the common case, a
sentence-transformers folder whose modules are a BERT encoder, mean pooling and (optionally)
normalisation (the default all-MiniLM-L6-v2 among them), :class:`NumpyBert` computes the same
embedding with numpy and the ``tokenizers`` library: load in ~0.1 s, a query in milliseconds.
It matches sentence-transformers to float tolerance (``tests/test_minibert.py``); training-time
features keep coming from sentence-transformers. :func:`supports` says whether a folder fits.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_SUPPORTED_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                      "sentence_transformers.models.Normalize"}


def supports(folder: str | Path) -> bool:
    """Whether ``folder`` is a sentence-transformers BERT model with mean pooling (numpy can run it)."""
    p = Path(folder)
    try:
        modules = json.loads((p / "modules.json").read_text())
        config = json.loads((p / "config.json").read_text())
        pooling = json.loads((p / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    types = [m.get("type") for m in modules]
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
    return (set(types) <= _SUPPORTED_MODULES and types[:2] == ["sentence_transformers.models.Transformer",
                                                                "sentence_transformers.models.Pooling"]
            and config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute" and bool(mean_only)
            and (p / "tokenizer.json").is_file() and (p / "model.safetensors").is_file())


def _layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyBert:
    """``encode(texts) -> (n, hidden)`` float32, as sentence-transformers would give (see the module doc)."""

    def __init__(self, folder: str | Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        p = Path(folder)
        self.config = json.loads((p / "config.json").read_text())
        st = json.loads((p / "sentence_bert_config.json").read_text()) if (p / "sentence_bert_config.json").is_file() else {}
        self.max_seq_length = int(st.get("max_seq_length") or self.config.get("max_position_embeddings", 512))
        modules = json.loads((p / "modules.json").read_text())
        self.normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
        self.tokenizer = Tokenizer.from_file(str(p / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()
        w = load_file(str(p / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.heads = int(self.config["num_attention_heads"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))

    def tokens(self, text: str) -> int:
        """How many tokens ``text`` has before truncation (special tokens included)."""
        self.tokenizer.no_truncation()
        try:
            return len(self.tokenizer.encode(text).ids)
        finally:
            self.tokenizer.enable_truncation(self.max_seq_length)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        w, eps, h = self.w, self.eps, self.heads
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        d = x.shape[1] // h
        for i in range(int(self.config["num_hidden_layers"])):
            pre = f"encoder.layer.{i}."

            def lin(t, name):
                return t @ w[pre + name + ".weight"].T + w[pre + name + ".bias"]

            q, k, v = (lin(x, f"attention.self.{m}").reshape(n, h, d).transpose(1, 0, 2) for m in ("query", "key", "value"))
            s = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(d))
            s = np.exp(s - s.max(-1, keepdims=True))
            ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, h * d)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[pre + "attention.output.LayerNorm.weight"],
                            w[pre + "attention.output.LayerNorm.bias"], eps)
            u = lin(x, "intermediate.dense")
            u = (0.5 * u * (1.0 + erf(u / np.float32(np.sqrt(2.0))))).astype(np.float32)
            x = _layer_norm(x + lin(u, "output.dense"), w[pre + "output.LayerNorm.weight"],
                            w[pre + "output.LayerNorm.bias"], eps)
        return x.mean(axis=0)

    def encode(self, texts) -> np.ndarray:
        out = np.stack([self._forward(np.asarray(enc.ids)) for enc in self.tokenizer.encode_batch(list(texts))])
        if self.normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)
