"""thinbridge: thin contrastive bridges between frozen drug and text encoders.

A reproduction of Tupakula, *Thin Bridges for Drug Text Alignment* (arXiv 2510.03309). The
subpackages follow the road the data travel, each importing only those before it:

``chem`` (structures to ChEMBL parents) -> ``data`` (mechanisms to pairs, splits) ->
``features`` (frozen ECFP4 and sentence embeddings, cached) -> ``bridge`` (the two heads, run
folders, baselines) -> ``evaluation`` (metrics, tasks, statistics) -> ``training`` (the
batched trainer, one run, replicates) -> ``search`` (libraries, indexes, FAISS, Dask,
queries) -> ``book`` (what the chapters share: experiments, claims, plots) -> ``cli``;
``config`` (RunConfig and the named choices) and ``_util`` (errors, JSON, progress, processes,
numerics, paths) sit under all of them, and ``testing`` (reference code, synthetic libraries)
beside them, imported by nothing. ``.importlinter`` states the order and CI checks it.

The names below are the public API. Importing the package is cheap: a name's module loads when
it is first used (as datamol does), so ``import thinbridge`` pulls in neither torch, numpy nor
pandas. It first pins the numerical libraries' CPU kernels and thread counts
(:mod:`thinbridge._util.numerics`), so that every number comes out the same on any x86-64
machine.
"""
from __future__ import annotations

from thinbridge._util import numerics as _numerics
from thinbridge._util.lazy import attach

_numerics.configure()

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    # configuration and errors
    "RunConfig": "thinbridge.config",
    "TEXT_VIEWS": "thinbridge.config",
    "ECFP_RADIUS": "thinbridge.config",
    "ECFP_BITS": "thinbridge.config",
    "UserError": "thinbridge._util.errors",
    "set_progress": "thinbridge._util.progress",
    "resolve_data_path": "thinbridge._util.paths",
    "sha256_file": "thinbridge._util.jsonio",
    # data
    "prepare": "thinbridge.data.pairs",
    "load_pairs": "thinbridge.data.pairs",
    "text_view": "thinbridge.data.pairs",
    "reasons_table": "thinbridge.data.pairs",
    "TEXT_TEMPLATES": "thinbridge.data.pairs",
    "NAME_TEMPLATE": "thinbridge.data.pairs",
    "load_mechanisms": "thinbridge.data.loaders",
    "load_table": "thinbridge.data.loaders",
    "ACYCLIC": "thinbridge.data.splits",
    "scaffold_split": "thinbridge.data.splits",
    "split_pairs": "thinbridge.data.splits",
    "molecules_table": "thinbridge.data.splits",
    "scaffold_cache": "thinbridge.data.splits",
    "split_summary": "thinbridge.data.splits",
    "assert_no_leak": "thinbridge.data.splits",
    "leakage_audit": "thinbridge.data.splits",
    "split_leakage": "thinbridge.data.splits",
    "save_split": "thinbridge.data.splits",
    "load_split": "thinbridge.data.splits",
    # features
    "drug_features": "thinbridge.features.cache",
    "text_features": "thinbridge.features.cache",
    "describe_cache": "thinbridge.features.cache",
    "ECFP_ID": "thinbridge.features.drugs",
    "drug_encoder": "thinbridge.features.drugs",
    "text_encoder_id": "thinbridge.features.text",
    # the bridge, training, evaluation
    "Bridge": "thinbridge.bridge.model",
    "load_run": "thinbridge.bridge.model",
    "train_run": "thinbridge.training.run",
    "load_inputs": "thinbridge.training.run",
    "embed": "thinbridge.training.run",
    "score_run": "thinbridge.training.run",
    "replicate": "thinbridge.training.replicates",
    "cross": "thinbridge.training.replicates",
    "build_tasks": "thinbridge.evaluation.tasks",
    "score_tasks": "thinbridge.evaluation.tasks",
    "allowed_mask": "thinbridge.evaluation.tasks",
    "random_cmc": "thinbridge.evaluation.tasks",
    "global_metrics": "thinbridge.evaluation.metrics",
    "within_target_metrics": "thinbridge.evaluation.within_target",
    "SCOPES": "thinbridge.evaluation.statistics",
    "METRICS": "thinbridge.evaluation.statistics",
    "interval_summary": "thinbridge.evaluation.statistics",
    "interval_table": "thinbridge.evaluation.statistics",
    "per_split": "thinbridge.evaluation.statistics",
    "paired": "thinbridge.evaluation.statistics",
    "fmt_interval": "thinbridge.evaluation.statistics",
    "fmt_p": "thinbridge.evaluation.statistics",
    "position": "thinbridge.evaluation.statistics",
    "Protocol": "thinbridge.evaluation.protocols",
    "protocol_map": "thinbridge.evaluation.protocols",
    "query_columns": "thinbridge.evaluation.protocols",
    # search
    "Retriever": "thinbridge.search.retrieval",
    "molecules_with_target": "thinbridge.search.retrieval",
    "build_index": "thinbridge.search.build",
    "Index": "thinbridge.search.index",
}

__getattr__, __dir__, __all__ = attach(__name__, _LAZY)
__all__ = ["__version__", *__all__]
