"""The same bits on any x86-64 machine: which CPU kernels and how many threads.

Floating-point results depend on the order of operations, and the numerical libraries pick
that order from the CPU they find: an AVX-512 Xeon and an AVX2-only EPYC run different
matrix-multiply, reduction and activation kernels, and a different thread count splits sums
differently. Measured here, the same sentence encoder gave different embeddings (in the last
bits) under torch's AVX-512 and AVX2 kernels, and the same ECFP4 × weight product differed
between one and two MKL threads; by the time a test metric is rounded to three decimals such
differences had moved Table 1 cells on another CPU.

So thinbridge pins each library to one kernel family that every x86-64 server CPU since
about 2015 has, and to one thread, **before the libraries load**:

=============================  ============  ==================================================
variable                       value         what it pins
=============================  ============  ==================================================
``MKL_CBWR``                   COMPATIBLE    MKL (torch's BLAS: every ``Linear`` and attention
                                             matmul) runs its SSE2 branch without ``rcpps``; the
                                             only conditional-numerical-reproducibility branch
                                             that Intel documents as identical on Intel and
                                             non-Intel CPUs (``AVX2`` falls back to the CPU's own
                                             branch on AMD)
``ATEN_CPU_CAPABILITY``        avx2          torch's own vectorised kernels (layer norm, softmax,
                                             reductions, AdamW) use 8-wide AVX2 code everywhere,
                                             not 16-wide AVX-512 where the CPU has it
``ONEDNN_MAX_CPU_ISA``         AVX2          oneDNN's JIT kernels (the encoder's GELU) capped at
                                             AVX2
``OPENBLAS_CORETYPE``          Haswell       numpy's and scipy's OpenBLAS (PCA, CCA, similarity
                                             matrices) use the Haswell (AVX2) kernels, not
                                             SkylakeX or Zen ones
``NPY_DISABLE_CPU_FEATURES``   X86_V4 ...    numpy's own SIMD loops stop at AVX2 (X86_V3)
``OMP_NUM_THREADS`` and the    1             one thread for every BLAS and OpenMP region: sums
BLAS thread variables                        split the same way on every machine. The book's
                                             parallelism is across processes (ablation cells,
                                             structure standardisation), which changes no bits.
=============================  ============  ==================================================

:func:`configure` sets them in ``os.environ``; ``import thinbridge`` calls it, so the CLI,
the notebook runner, nbval's kernels and the tests all go through here. Values already in
the environment are *overridden* (a shell that exports ``ATEN_CPU_CAPABILITY=default`` or
``OMP_NUM_THREADS=8`` gets the same numbers as any other). Set ``THINBRIDGE_NUMERICS=native``
to leave the environment alone (faster on big machines; results then follow the CPU).

Where a library was imported before thinbridge, its kernels were chosen already: the
thread counts are still fixed at run time (threadpoolctl, ``torch.set_num_threads``), and a
warning says which library may not follow. Import thinbridge first, or export the variables
(``python -m thinbridge._util.numerics`` prints them for a shell).

The cost, measured on 2 cores: sentence-transformers runs about 2x slower than with AVX-512
kernels and two threads (MKL's COMPATIBLE branch is SSE2). The default text model therefore
runs in numpy (:mod:`thinbridge.features.minibert`), on OpenBLAS's AVX2 kernels; its output is cached,
so a book build pays it once.
"""
from __future__ import annotations

import os
import sys
import warnings

MODE_ENV = "THINBRIDGE_NUMERICS"
#: the kernel family and thread count every number in the book is computed with
PROFILE = "portable-x86-avx2-1thread"
THREADS = 1

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS")
#: the variables :func:`configure` sets (see the module docstring for why each)
ENV = {
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    **{v: str(THREADS) for v in _THREAD_VARS},
}
#: library modules whose kernels are chosen when they load (module -> the variables it reads)
_LOAD_TIME = {
    "numpy": ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES"),
    "scipy": ("OPENBLAS_CORETYPE",),
    "torch": ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"),
}

_state: dict = {"configured": False, "late": []}


def enabled() -> bool:
    """False when the user asked for native kernels (``THINBRIDGE_NUMERICS=native``)."""
    return os.environ.get(MODE_ENV, "portable").strip().lower() not in {"native", "off", "0", "no", "false"}


def configure(warn: bool = True) -> list[str]:
    """Pin kernels and threads (see the module docstring); return the libraries loaded too early.

    Idempotent; cheap (imports nothing heavy). With ``THINBRIDGE_NUMERICS=native`` it does nothing.
    """
    if not enabled():
        _state["configured"] = True
        return []
    before = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    late = [mod for mod, keys in _LOAD_TIME.items()
            if mod in sys.modules and any(before[k] != ENV[k] for k in keys)]
    _fix_threads_at_run_time()
    if late and warn and not _state["late"]:
        warnings.warn(
            f"thinbridge: {', '.join(late)} loaded before thinbridge, with this CPU's own kernels; numbers may "
            "differ in the last digits on another machine. Import thinbridge first, or export the variables that "
            "`python -m thinbridge._util.numerics` prints.", RuntimeWarning, stacklevel=3)
    _state.update(configured=True, late=late)
    return late


def _fix_threads_at_run_time() -> None:
    """Thread counts of libraries that are already loaded (the environment only reaches new ones)."""
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if hasattr(torch, "set_num_threads") and torch.get_num_threads() != THREADS:
            torch.set_num_threads(THREADS)
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=THREADS)
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            pass


def describe() -> dict:
    """What is in force, for ``config.json`` and the book: profile, variables, libraries loaded early."""
    if not enabled():
        return {"profile": "native", "note": f"{MODE_ENV}=native: kernels and threads follow this machine"}
    return {"profile": PROFILE, "threads": THREADS, "env": dict(ENV), "loaded_before_thinbridge": list(_state["late"])}


def shell_exports() -> str:
    """``export NAME=value`` lines for a shell (``eval "$(python -m thinbridge._util.numerics)"``)."""
    return "\n".join(f"export {k}='{v}'" for k, v in ENV.items())


if __name__ == "__main__":  # pragma: no cover
    print(shell_exports())
