"""A sentence-transformers BERT model run in numpy: the text features and quick queries.

Importing sentence-transformers (and through it torch and transformers) takes ~10 s, which a
one-off ``thinbridge query`` should not pay to embed one sentence; and under the portable
kernels of :mod:`thinbridge._util.numerics` torch's BLAS runs its SSE2 branch, while numpy's OpenBLAS
runs its AVX2 (Haswell) kernels on every x86-64 CPU. For the common case, a sentence-transformers
folder whose modules are a BERT encoder, mean pooling and (optionally) normalisation (the
default all-MiniLM-L6-v2 among them), :class:`NumpyBert` computes the same embedding with numpy
and the ``tokenizers`` library: load in ~0.1 s, a query in milliseconds, bulk encoding ~3x
faster than sentence-transformers here. Texts of one token length are stacked into one batch
with no padding, in an order fixed by their tokens, so the same set of texts gets the same bits
in any order and with any number of processes. It matches sentence-transformers to float tolerance
(``tests/test_minibert.py``); :func:`supports` says whether a folder fits, and other models go
through sentence-transformers (:func:`thinbridge.features.text.text_backend`).
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


#: Eigen's single-precision erf (``generic_fast_erf_float``): ``x * P(x^2) / Q(x^2)`` on [-4, 4],
#: highest powers first; outside that range erf is +-1 in float32
_ERF_P = np.array([-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
                   -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02], dtype=np.float32)
_ERF_Q = np.array([-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
                   -1.42647390514189e-02], dtype=np.float32)
#: elements per block of :func:`gelu` (32 rows of 1,536: the fastest block measured here, 16 to 128 rows)
_GELU_BLOCK = 49152


def gelu(u: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, ``0.5 u (1 + erf(u / sqrt 2))``, float32, with a rational erf in float32.

    ``scipy.special.erf`` computes each float32 element in double precision, one element at a
    time. This evaluates Eigen's float erf (the one XLA and TensorFlow use) with numpy's
    vectorised float32 arithmetic, in cache-sized blocks: several times faster
    (``benchmarks/train.json``; the book's text features ~14% faster in all), within ~1.4e-6 of
    the double-precision GELU over [-12, 12] (scipy's float32 erf: 4.5e-7;
    ``tests/test_minibert.py``). Only multiplications, additions, a division and a clip, each
    rounded once: the same bits on every CPU.
    """
    u = np.ascontiguousarray(u, dtype=np.float32)
    flat, out = u.reshape(-1), np.empty(u.size, dtype=np.float32)
    r2 = np.float32(1.0 / np.sqrt(2.0))
    for s in range(0, flat.size, _GELU_BLOCK):
        blk = flat[s:s + _GELU_BLOCK]
        x = np.multiply(blk, r2)
        np.clip(x, np.float32(-4.0), np.float32(4.0), out=x)
        x2 = x * x
        p = x2 * _ERF_P[0]
        p += _ERF_P[1]
        for c in _ERF_P[2:]:
            p *= x2
            p += c
        p *= x
        q = x2 * _ERF_Q[0]
        q += _ERF_Q[1]
        for c in _ERF_Q[2:]:
            q *= x2
            q += c
        p /= q  # erf(blk / sqrt 2)
        p += np.float32(1.0)
        p *= blk
        p *= np.float32(0.5)
        out[s:s + _GELU_BLOCK] = p
    return out.reshape(u.shape)


def _layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


#: tokens per batch (texts of one length stacked): large enough for the matrix products to run
#: near the CPU's peak, small enough to stay in cache
BATCH_ROWS = 2048


def _softmax_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale) -> np.ndarray:
    """``softmax(q k^T / scale) v`` over the last two axes (heads and any batch axes in front)."""
    s = q @ np.swapaxes(k, -1, -2) / scale
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


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
        # a second copy that never truncates, for tokens(): the encoding tokenizer's settings never
        # change, so threads may encode while another counts
        self._counter = Tokenizer.from_file(str(p / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        w = load_file(str(p / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.heads = int(self.config["num_attention_heads"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))

    def tokens(self, text: str) -> int:
        """How many tokens ``text`` has before truncation (special tokens included)."""
        return len(self._counter.encode(text).ids)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        """Mean-pooled last hidden states of texts of one token length: ``ids`` is ``(B, L)``
        (or ``(L,)`` for one text), the result ``(B, hidden)`` (or ``(hidden,)``).

        No padding: every text in a batch has the same length, so attention needs no mask and no
        work is spent on padding.
        """
        one = ids.ndim == 1
        ids = np.atleast_2d(ids)
        b, n = ids.shape
        h = self.heads

        def attend(q, k, v, scale):  # (b * n, hidden) each: all texts at once, as (b, heads, n, d)
            d = q.shape[1] // h
            q, k, v = (t.reshape(b, n, h, d).transpose(0, 2, 1, 3) for t in (q, k, v))
            return _softmax_attention(q, k, v, scale).transpose(0, 2, 1, 3).reshape(b * n, h * d)

        x = self._layers(self._embed(ids.ravel(), np.tile(np.arange(n), b)), attend)
        pooled = x.reshape(b, n, -1).mean(axis=1)
        return pooled[0] if one else pooled

    def _embed(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The embedding layer on tokens ``ids`` at ``positions`` (flat): ``(tokens, hidden)``."""
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions] \
            + w["embeddings.token_type_embeddings.weight"][0]
        return _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)

    def _layers(self, x: np.ndarray, attend) -> np.ndarray:
        """The encoder layers on token states ``x`` ``(tokens, hidden)``; ``attend(q, k, v, scale)``
        returns the attention context ``(tokens, hidden)`` (it decides which tokens see which)."""
        w, eps = self.w, self.eps
        scale = np.float32(np.sqrt(x.shape[1] // self.heads))
        for i in range(int(self.config["num_hidden_layers"])):
            pre = f"encoder.layer.{i}."

            def lin(t, name):
                return t @ w[pre + name + ".weight"].T + w[pre + name + ".bias"]

            ctx = attend(*(lin(x, f"attention.self.{m}") for m in ("query", "key", "value")), scale)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[pre + "attention.output.LayerNorm.weight"],
                            w[pre + "attention.output.LayerNorm.bias"], eps)
            u = gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(x + lin(u, "output.dense"), w[pre + "output.LayerNorm.weight"],
                            w[pre + "output.LayerNorm.bias"], eps)
        return x

    def batches(self, texts, rows: int = BATCH_ROWS) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(positions, ids)]``: the texts grouped by token length, each group ordered by its
        token ids and cut into batches of about ``rows`` tokens. The batches depend on the set of
        texts only, not on their order or on what runs them (in its last bits a row of a matrix
        product depends on where it sits in the batch)."""
        encs = self.tokenizer.encode_batch(list(texts))
        by_len: dict[int, list[int]] = {}
        for i, e in enumerate(encs):
            by_len.setdefault(len(e.ids), []).append(i)
        out = []
        for n in sorted(by_len):
            pos = sorted(by_len[n], key=lambda i: (encs[i].ids, i))
            per = max(1, rows // n)
            for j in range(0, len(pos), per):
                sel = np.asarray(pos[j:j + per], dtype=np.int64)
                out.append((sel, np.asarray([encs[i].ids for i in sel], dtype=np.int64)))
        return out

    def encode_batches(self, batches, n: int, n_jobs: int | None = 1, show_progress: bool = False,
                       desc: str = "encoding texts") -> np.ndarray:
        """Run :meth:`batches`' output (on ``n_jobs`` processes) into ``(n, hidden)`` float32, in text order."""
        from thinbridge._util.parallel import parallel_map

        parts = parallel_map(lambda bt: self._forward(bt[1]), batches, n_jobs=n_jobs, desc=desc,
                             show_progress=show_progress)
        out = np.zeros((n, int(self.config["hidden_size"])), dtype=np.float32)
        for (pos, _), part in zip(batches, parts):
            out[pos] = part
        if self.normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def encode(self, texts, n_jobs: int | None = 1, show_progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts``, float32 ``(n, hidden)``: the same bits for the same set of texts
        in any order and with any ``n_jobs``."""
        texts = list(texts)
        return self.encode_batches(self.batches(texts), len(texts), n_jobs=n_jobs, show_progress=show_progress)

    def encode_together(self, texts) -> np.ndarray:
        """Embeddings of a few texts of any lengths in one pass, float32 ``(n, hidden)``: their tokens
        are stacked for every linear layer (the weights are read once, not once per text) and attend
        only within their own text. One text gives :meth:`encode`'s bits exactly; several may differ
        from them in the last bits (~1e-6: a row of a matrix product depends on where it sits in the
        batch). For a server answering queries that arrive at the same moment."""
        texts = list(texts)
        if len(texts) <= 1:
            return self.encode(texts)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(texts)]
        out = self._forward_ragged(ids)
        if self.normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def _forward_ragged(self, ids: list[np.ndarray]) -> np.ndarray:
        """:meth:`_forward` for texts of different lengths: ``(len(ids), hidden)`` mean-pooled states.
        The linear layers see every text's tokens stacked; attention stays within each text."""
        h = self.heads
        lens = [len(i) for i in ids]
        cuts = np.cumsum([0] + lens)

        def attend(q, k, v, scale):
            d = q.shape[1] // h
            ctx = np.empty_like(q)
            for a, b in zip(cuts[:-1], cuts[1:]):  # attention within each text
                qq, kk, vv = (t[a:b].reshape(b - a, h, d).transpose(1, 0, 2) for t in (q, k, v))
                ctx[a:b] = _softmax_attention(qq, kk, vv, scale).transpose(1, 0, 2).reshape(b - a, h * d)
            return ctx

        x = self._layers(self._embed(np.concatenate(ids), np.concatenate([np.arange(n) for n in lens])), attend)
        return np.stack([x[a:b].mean(axis=0) for a, b in zip(cuts[:-1], cuts[1:])])
