"""The protocols a paper number could have been measured under, and the readings of "grouped".

The paper reports single numbers without saying how each was measured. A *protocol* of text ->
drug retrieval here is:

* the split kind (``scaffold`` or ``random``) and the model (the records' ``model``, e.g. the
  main configuration without the drug name in the text, or the paper's best cell with it);
* the candidates (:data:`CANDIDATES`, defined in :func:`thinbridge.evaluation.tasks.build_tasks`):
  the distinct test molecules, the same with every molecule paired with the query's very text
  counted as correct (``any_match``), or every test pair with only the query's own correct
  (``pair``);
* for a within-target number, the queries averaged over (:data:`QUERY_SETS`): those whose target
  has two or more candidates (``2+``), all of them with a single-candidate target counted as a
  hit at rank 1 (``all``), or the ``solvable`` ones (2+, and no other molecule of the target
  shares the query's very text; :func:`thinbridge.evaluation.tasks.solvable`).

"Grouped Recall@3" may also mean something else than within-target Recall@3. The *readings*
(:data:`READINGS`, over the distinct test molecules):

``target`` (the protocol ``distinct``/``2+``)
    the query ranks only the molecules of its target; a hit when its own is in the top 3;
``target and action type``
    as ``target``, with groups made of a target *and* an action type (inhibitor, agonist, ...);
``per-target average``
    ``target``, averaged per target first and then over targets (a macro average);
``share of the target in the top 3``
    the query ranks every test molecule; the share of its target's molecules among the top 3
    (recall in the retrieval textbook's sense: capped at 3 / the target's size);
``target in the top 3``
    the query ranks every test molecule; a hit when a molecule of its target is in the top 3.

:func:`query_columns` computes, for one model on one test split, every per-query value these
need (or, without embeddings, the exact expectation of a random ranking); :func:`protocol_map`
turns records of such columns into a mean and a 95% interval across split seeds per protocol, by
the rule the verdict uses (:func:`thinbridge.evaluation.statistics.interval_summary`), and says
where a paper value lies (:func:`thinbridge.evaluation.statistics.position`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinbridge.config import PROTOCOLS
from thinbridge.evaluation import metrics as M
from thinbridge.evaluation import tasks as E
from thinbridge.evaluation import within_target as W
from thinbridge.evaluation.statistics import position, t_interval

#: candidate sets, in the order tables show them
CANDIDATES = PROTOCOLS
#: within-target query sets: name -> the per-query column that selects them (None: every query)
QUERY_SETS = {"2+": "in_group", "all": None, "solvable": "solvable"}
#: per-query value columns of a metric: global, within target
METRIC_COLUMNS = {"R@1": ("hit1", "wt_hit1"), "R@3": ("hit3", "wt_hit3"), "MRR": ("rr", "wt_rr")}
#: readings of "grouped Recall@3": name -> (value column, query-selecting column, macro over targets)
READINGS = {
    "target": ("distinct:wt_hit3", "distinct:in_group", False),
    "target and action type": ("ta:hit3", "ta:in_group", False),
    "per-target average": ("distinct:wt_hit3", "distinct:in_group", True),
    "share of the target in the top 3": ("share3", None, False),
    "target in the top 3": ("tgt_hit3", None, False),
}


def protocol_tasks(test_pairs: pd.DataFrame, texts: list[str]) -> dict[str, E.Task]:
    """The text -> drug task of the test pairs under every candidate protocol."""
    return {p: E.build_tasks(test_pairs, texts, p)["text_to_drug"] for p in CANDIDATES}


def _expected(n: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query hit@1, hit@3 and reciprocal rank a uniformly random ranking reaches in
    expectation, for ``n`` candidates of which ``p`` are correct."""
    cache = {}
    out = np.empty((len(n), 3))
    for i, key in enumerate(zip(n.tolist(), p.tolist())):
        if key not in cache:
            (r1, r3), mrr = W.random_one(key[0], key[1], (1, 3))
            cache[key] = (r1, r3, mrr)
        out[i] = cache[key]
    return {"hit1": out[:, 0], "hit3": out[:, 1], "rr": out[:, 2]}


def _observed(scores: np.ndarray, positive: np.ndarray, allowed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    r = M.ranks(scores, positive, allowed)
    return {"hit1": (r == 1).astype(float), "hit3": (r <= 3).astype(float), "rr": 1.0 / r}


def _share_in_top(scores: np.ndarray, relevant: np.ndarray, k: int = 3) -> np.ndarray:
    """Per query: the share of its relevant candidates ranked in the top ``k`` (ties against the
    model: a relevant candidate's rank counts every candidate scored higher and every
    irrelevant one scored the same)."""
    out = np.empty(len(scores))
    for q, (s, rel) in enumerate(zip(scores, relevant)):
        v = s[rel][:, None]
        rank = 1 + (s[None, :] > v).sum(1) + ((s[None, :] == v) & ~rel[None, :]).sum(1)
        out[q] = (rank <= k).mean()
    return out


def _target_action_groups(test_pairs: pd.DataFrame, task: E.Task) -> tuple[np.ndarray, list]:
    """Query groups (target and action type of the query's pair) and candidate groups (those of
    every test pair of the candidate molecule) for a task over the distinct molecules."""
    key = (test_pairs["target_chembl_id"].astype(str) + " | " + test_pairs["action_type"].astype(str)).to_numpy()
    mol = test_pairs["parent_inchikey"].to_numpy()
    by_mol = pd.Series(key).groupby(mol).agg(frozenset)
    return key[task.query_rows], [by_mol[m] for m in mol[task.cand_rows]]


def query_columns(test_pairs: pd.DataFrame, tasks: dict[str, E.Task], z_drug: np.ndarray | None = None,
                  z_text: np.ndarray | None = None) -> pd.DataFrame:
    """Every per-query value the protocol map needs, for one model on one test split.

    ``tasks``: :func:`protocol_tasks` of ``test_pairs``; ``z_drug``, ``z_text``: the model's
    embeddings of the test pairs (rows in order), or None for the exact expectation of a uniformly
    random ranking. Columns, per candidate protocol ``p``: ``p:hit1``, ``p:hit3``, ``p:rr``
    (global), ``p:wt_hit1``, ``p:wt_hit3``, ``p:wt_rr`` (within target), ``p:in_group`` and
    ``p:solvable`` (the query sets); and for the readings of "grouped": ``ta:hit3``,
    ``ta:in_group`` (groups by target and action type), ``share3`` and ``tgt_hit3``, with the
    query's ``target``. One row per test pair, in order (every protocol's queries are the test
    pairs)."""
    random = z_drug is None
    cols: dict[str, np.ndarray] = {"target": test_pairs["target_chembl_id"].astype(str).to_numpy()}
    for p, task in tasks.items():
        allowed = E.allowed_mask(task)
        s = None if random else E.task_scores(task, z_drug, z_text)
        if random:
            glob = _expected(np.full(len(task.query_rows), task.positive.shape[1]), task.positive.sum(1))
            wt = _expected(allowed.sum(1), (task.positive & allowed).sum(1))
        else:
            glob, wt = _observed(s, task.positive), _observed(s, task.positive, allowed)
        cols.update({f"{p}:{k}": v for k, v in glob.items()})
        cols.update({f"{p}:wt_{k}": v for k, v in wt.items()})
        cols[f"{p}:in_group"] = allowed.sum(1) >= 2
        cols[f"{p}:solvable"] = E.solvable(task, allowed)
        if p != "distinct":
            continue
        qg, cg = _target_action_groups(test_pairs, task)
        ta = W.group_mask(qg, cg)
        n_c = task.positive.shape[1]
        if random:
            cols["ta:hit3"] = _expected(ta.sum(1), (task.positive & ta).sum(1))["hit3"]
            cols["share3"] = np.minimum(3, n_c) / np.full(len(qg), n_c, dtype=float)
            cols["tgt_hit3"] = _expected(np.full(len(qg), n_c), allowed.sum(1))["hit3"]
        else:
            cols["ta:hit3"] = _observed(s, task.positive, ta)["hit3"]
            cols["share3"] = _share_in_top(s, allowed)
            cols["tgt_hit3"] = _observed(s, allowed)["hit3"]
        cols["ta:in_group"] = ta.sum(1) >= 2
    return pd.DataFrame(cols)


@dataclass(frozen=True)
class Protocol:
    """One way to measure a number: split kind, inputs (``NoDrug``/``WithDrug``), candidates and,
    within target, the query set; or, for "grouped Recall@3", a reading of "grouped"."""

    split: str
    inputs: str                    # the text and model: NoDrug, WithDrug (a label of the map's models)
    candidates: str
    queries: str | None = None     # None for a global number
    reading: str | None = None     # a reading of "grouped" (then candidates are "distinct")

    @property
    def label(self) -> str:
        parts = [f"{self.split} split", self.inputs]
        if self.reading:
            return " · ".join(parts + [f"grouped = {self.reading}"])
        parts.append(f"{self.candidates} candidates")
        if self.queries:
            parts.append({"2+": "groups of 2+", "all": "all queries", "solvable": "solvable queries"}[self.queries])
        return " · ".join(parts)

    def column(self, metric: str, scope: str) -> tuple[str, str | None, bool]:
        """The records' value column, the column selecting its queries (None: all) and whether it
        is averaged per target first."""
        if self.reading:
            return READINGS[self.reading]
        g, w = METRIC_COLUMNS[metric]
        if scope == "global":
            return f"{self.candidates}:{g}", None, False
        sel = QUERY_SETS[self.queries]
        return f"{self.candidates}:{w}", (f"{self.candidates}:{sel}" if sel else None), False


def protocols(scope: str, metric: str, splits=("scaffold", "random"), inputs=("NoDrug", "WithDrug")) -> list[Protocol]:
    """Every protocol of a number of this scope (and, for within-target Recall@3, the readings of
    "grouped" other than ``target``, which is the protocol ``distinct``/``2+``)."""
    out = []
    for split in splits:
        for inp in inputs:
            for c in CANDIDATES:
                for q in ([None] if scope == "global" else list(QUERY_SETS)):
                    out.append(Protocol(split, inp, c, q))
            if scope != "global" and metric == "R@3":
                out += [Protocol(split, inp, "distinct", reading=r) for r in READINGS if r != "target"]
    return out


def per_split_value(records: pd.DataFrame, column: str, select: str | None = None, macro: bool = False) -> pd.Series:
    """One model's value per split seed: the mean over its (selected) queries of each query's value
    averaged over model seeds; with ``macro``, averaged per target first, then over targets."""
    d = records if select is None else records[records[select].astype(bool)]
    per_query = d.groupby(["split_seed", "query"], sort=True).agg(value=(column, "mean"), target=("target", "first"))
    if macro:
        per_query = per_query.groupby(["split_seed", "target"]).value.mean().to_frame()
    return per_query.groupby(level="split_seed").value.mean()


def protocol_map(records: pd.DataFrame, numbers: list[dict], models: dict[str, tuple[str, str]],
                 chance_model: str = "random ranking") -> pd.DataFrame:
    """Each number of ``numbers`` (``quantity``, ``paper``, ``metric``, ``scope``, ``protocol``: the
    :class:`Protocol` fields of the one the paper describes) under every protocol, across split seeds.

    ``records``: per-query rows with :func:`query_columns`' columns and ``split``, ``split_seed``,
    ``model``, ``inputs``, ``query``; ``models``: a label (the protocols' ``inputs``) -> the records'
    ``model`` and ``inputs`` it stands for (the random ranking of the same ``inputs`` gives the chance).
    One row per number and protocol: our mean, 95% t-interval over split seeds (the verdict's
    rule), the number of splits, a random ranking's mean under the same protocol (``chance``),
    the share of the queries that are counted as hits because their target has one candidate
    (``singletons``), where the paper's value lies (``position``: inside, above or below our
    interval) and whether the protocol is the one the paper describes (``described``). Protocols
    without records (a split kind or inputs not run) are left out."""
    rows = []
    for num in numbers:
        described = Protocol(**num["protocol"])
        for proto in protocols(num["scope"], num["metric"], inputs=tuple(models)):
            col, sel, macro = proto.column(num["metric"], num["scope"])
            model, inputs = models[proto.inputs]
            d = records[(records.split == proto.split) & (records.inputs == inputs)]
            ours = per_split_value(d[d.model == model], col, sel, macro)
            if ours.empty:  # no records of this split kind or inputs
                continue
            rand = d[d.model == chance_model]
            chance = per_split_value(rand, col, sel, macro)
            x = ours.to_numpy()
            lo, hi = t_interval(x)
            counted = proto.queries == "all" and not proto.reading  # singletons counted as hits
            single = (~rand[f"{proto.candidates}:in_group"].astype(bool)).mean() if counted else 0.0
            rows.append({"quantity": num["quantity"], "paper": num["paper"], "metric": num["metric"],
                         "model": model,
                         "scope": num["scope"], "protocol": proto.label, "split": proto.split,
                         "inputs": proto.inputs, "candidates": proto.candidates, "queries": proto.queries,
                         "reading": proto.reading, "mean": float(x.mean()), "lo": lo, "hi": hi, "n_splits": len(x),
                         "chance": float(chance.mean()), "singletons": float(single),
                         "position": position(num["paper"], lo, hi), "described": proto == described})
    return pd.DataFrame(rows)
