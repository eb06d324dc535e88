"""Evaluation: how well a bridge retrieves, and how sure we are of it.

``metrics`` holds Recall@k, MRR and their bootstrap intervals over any score matrix,
``within_target`` the within-target view (each query ranks only its target's candidates),
``tasks`` the retrieval tasks built from a test split under each protocol, ``statistics``
intervals across split seeds and paired tests of two models, ``protocols`` every protocol and
reading a paper number could have been measured under, across split seeds. Needs numpy and pandas only; may
import :mod:`thinbridge.config` and :mod:`thinbridge._util` (nothing that trains).
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "ranks": "thinbridge.evaluation.metrics",
    "summarize": "thinbridge.evaluation.metrics",
    "cmc": "thinbridge.evaluation.metrics",
    "bootstrap_ci": "thinbridge.evaluation.metrics",
    "global_metrics": "thinbridge.evaluation.metrics",
    "group_mask": "thinbridge.evaluation.within_target",
    "within_target_metrics": "thinbridge.evaluation.within_target",
    "random_expectation": "thinbridge.evaluation.within_target",
    "Task": "thinbridge.evaluation.tasks",
    "build_tasks": "thinbridge.evaluation.tasks",
    "score_tasks": "thinbridge.evaluation.tasks",
    "interval_summary": "thinbridge.evaluation.statistics",
    "paired": "thinbridge.evaluation.statistics",
    "per_split": "thinbridge.evaluation.statistics",
    "fmt_interval": "thinbridge.evaluation.statistics",
    "fmt_p": "thinbridge.evaluation.statistics",
    "position": "thinbridge.evaluation.statistics",
    "Protocol": "thinbridge.evaluation.protocols",
    "protocol_map": "thinbridge.evaluation.protocols",
    "query_columns": "thinbridge.evaluation.protocols",
})
