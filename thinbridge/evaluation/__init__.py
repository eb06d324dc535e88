"""Evaluation: how well a bridge retrieves, and how sure we are of it.

``metrics`` holds Recall@k, MRR and their bootstrap intervals over any score matrix,
``within_target`` the within-target view (each query ranks only its target's candidates),
``tasks`` the retrieval tasks built from a test split under each protocol, ``statistics``
intervals across split seeds and paired tests of two models. Needs numpy and pandas only; may
import :mod:`thinbridge.config` and :mod:`thinbridge._util` (nothing that trains).
"""
from thinbridge.evaluation.metrics import ranks, summarize, cmc, bootstrap_ci, global_metrics
from thinbridge.evaluation.within_target import group_mask, within_target_metrics, random_expectation
from thinbridge.evaluation.tasks import Task, build_tasks, score_tasks
from thinbridge.evaluation.statistics import summary, paired, per_split, fmt_interval, fmt_p

__all__ = ["ranks", "summarize", "cmc", "bootstrap_ci", "global_metrics", "group_mask", "within_target_metrics", "random_expectation", "Task", "build_tasks", "score_tasks", "summary", "paired", "per_split", "fmt_interval", "fmt_p"]
