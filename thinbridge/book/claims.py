"""The verdict as data: each claim of the paper, judged by a stated rule, as a record.

A :class:`Claim` holds what was claimed, the comparison or number it rests on (models, metric,
scope, split kind), the numbers (mean difference and its 95% interval across split seeds, the
query-level and split-level p-values, the splits won; or the paper's value beside our interval),
the status and a link to the section that computed it. The rules:

* a claim that A beats B (:func:`from_test`) is *confirmed* when A's mean is higher and the
  query-level test rejects equality at :data:`~thinbridge.evaluation.statistics.ALPHA`,
  *refuted* otherwise (no detectable gain, or a loss) — :func:`better`;
* a number of the paper (:func:`from_number`) is *confirmed* when it lies in our 95% interval
  across splits, else *refuted* with the side our interval lies on — :func:`value`.

Chapter 7 judges the paper's numbers (:func:`paper_numbers`, shown by :func:`numbers_table`);
chapters 7 and 8 build their claims with one call (:func:`replication_claims`,
:func:`encoder_claims`) and :func:`save` them; chapter 9 :func:`load`\\ s the records and renders
them (:func:`verdict_markdown`), reading fields, never text.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from thinbridge._util import jsonio
from thinbridge.evaluation.statistics import ALPHA, fmt_interval, fmt_p, pick, position

#: a claim's section in the book: the label of a {ref} target
REF = "verdict-{}"


@dataclass(frozen=True)
class Claim:
    """One judged claim. Numbers that do not apply, or are undefined (a p-value over one split),
    are ``None``, in memory as in the file (JSON ``null``), so a record reads back equal."""

    claim: str
    status: str
    evidence: str
    ref: str
    kind: str = "comparison"          # "comparison" (A beats B), "number" (the paper's value), "best cell"
    a: str | None = None              # the comparison: model a against model b (numbers: our model)
    b: str | None = None
    metric: str | None = None
    scope: str | None = None
    split: str | None = None
    mean_a: float | None = None
    mean_b: float | None = None
    diff: float | None = None         # mean difference a - b across split seeds, and its 95% interval
    lo: float | None = None
    hi: float | None = None
    p_queries: float | None = None    # sign-flip test over queries; paired t-test over split means
    p_splits: float | None = None
    wins: str | None = None           # splits where a is higher, "k/n"
    quantity: str | None = None       # a number of the paper: what it measures, its value, and our
    paper: float | None = None        # mean and 95% interval across split seeds
    ours: float | None = None
    ours_lo: float | None = None
    ours_hi: float | None = None
    reproduced: str | None = None     # a number: the protocols under which it lies inside our interval

    def __post_init__(self):
        for name in _FLOATS:  # numpy scalars to floats, NaN to None
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, float(v) if math.isfinite(v) else None)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Claim":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown claim fields: {sorted(unknown)}")
        return cls(**d)


_FLOATS = tuple(f.name for f in dataclasses.fields(Claim) if "float" in str(f.type))


# ------------------------------------------------------------------------------- the rules
def better(test: pd.Series, alpha: float = ALPHA) -> str:
    """A claim that A beats B: ``confirmed`` when A's mean is higher and the query-level test
    rejects equality at ``alpha``; ``refuted`` otherwise (no detectable gain, or a loss)."""
    return "confirmed" if test["diff"] > 0 and test["p_queries"] < alpha else "refuted"


def value(paper: float, row: pd.Series) -> str:
    """A number of the paper: ``confirmed`` when it lies in our 95% interval across splits, else
    ``refuted`` with the side our interval lies on (:func:`~thinbridge.evaluation.statistics.position`);
    ``undefined`` without an interval (one split)."""
    where = position(paper, row["lo"], row["hi"])
    return {"inside": "confirmed", "below": "refuted (ours higher)", "above": "refuted (ours lower)"}.get(where, where)


def evidence(test: pd.Series) -> str:
    """One line of evidence for a paired comparison."""
    return (f"{test['a']} {test['mean_a']:.3f} vs {test['b']} {test['mean_b']:.3f} ({test['metric']}, "
            f"{test['scope'].replace('_', ' ')}, {test['split']} splits): difference {test['diff']:+.3f} "
            f"[{test['lo']:+.3f}, {test['hi']:+.3f}], higher in {test['wins']} splits, "
            f"{fmt_p(test['p_queries'])} over queries, {fmt_p(test['p_splits'])} over splits")


def _comparison(test: pd.Series) -> dict:
    keys = ("a", "b", "metric", "scope", "split", "mean_a", "mean_b", "diff", "lo", "hi", "p_queries", "p_splits",
            "wins")
    return {k: test[k] for k in keys}


# ------------------------------------------------------------------------------- building claims
def from_test(claim: str, test: pd.Series, ref: str) -> Claim:
    """The claim that ``test["a"]`` beats ``test["b"]`` (a row of
    :func:`thinbridge.evaluation.statistics.paired`), judged by :func:`better`."""
    return Claim(claim=claim, status=better(test), evidence=evidence(test), ref=ref, **_comparison(test))


def from_number(quantity: str, paper: float, row: pd.Series, model: str, ref: str) -> Claim:
    """The paper's ``quantity`` = ``paper`` against our interval ``row`` (``mean``, ``lo``, ``hi``,
    ``split``, and ``metric``, ``scope`` if known: a row of
    :func:`~thinbridge.evaluation.statistics.interval_summary`) of ``model`` across split seeds,
    judged by :func:`value`."""
    return Claim(claim=f"Paper's number: {quantity} = {paper}", status=value(paper, row),
                 evidence=f"ours {fmt_interval(row['mean'], row['lo'], row['hi'])} ({model}, {row['split']} splits)",
                 ref=ref, kind="number", a=model, metric=row.get("metric"), scope=row.get("scope"),
                 split=row["split"], quantity=quantity, paper=paper, ours=row["mean"], ours_lo=row["lo"],
                 ours_hi=row["hi"])


#: the models of the protocol map, by label: (records' model, inputs). The paper's Table 1 setting
#: has no drug name in the text (the main configuration); the name is added to that configuration,
#: and to the paper's best ablation cell (T 0.05, m 0.15), which the paper's within-target numbers
#: come from
MAP_MODELS = {"NoDrug": ("bridge", "NoDrug"), "WithDrug": ("bridge, with the name", "WithDrug"),
              "WithDrug, best cell": ("bridge, paper's best cell", "WithDrug")}


#: a protocol field's value in words, for what several protocols share
_SAY = {"split": "a {} split".format, "inputs": str, "candidates": "{} candidates".format,
        "queries": {"2+": "groups of 2+", "all": "singletons counted as hits", "solvable": "solvable queries only"}.get,
        "reading": "grouped = {}".format}


def _shared(rows: pd.DataFrame) -> str:
    """What every protocol in ``rows`` has in common, in words (empty when nothing is shared)."""
    words = []
    for col, say in _SAY.items():
        vals = {v if isinstance(v, str) else None for v in rows[col]}
        if len(vals) == 1 and None not in vals:
            words.append(say(vals.pop()))
    return ", ".join(words)


#: how many reproducing protocols a number's evidence names (the closest to the paper's value)
LISTED = 3


def paper_numbers(pmap: pd.DataFrame, ref: str = REF.format("numbers")) -> list[Claim]:
    """One claim per paper number from its protocol map (:func:`thinbridge.evaluation.protocols.protocol_map`):
    judged by :func:`value` under the protocol the paper describes, with the protocols under which
    the paper's value lies inside our interval across split seeds (``reproduced``) in its record
    and in its evidence."""
    out = []
    for quantity, g in pmap.groupby("quantity", sort=False):
        row = g[g.described].iloc[0]
        inside = g[g.position == "inside"]
        c = from_number(quantity, row.paper, row, row.model, ref)
        here = f"ours {fmt_interval(row['mean'], row.lo, row.hi)} under the protocol the paper describes ({row.protocol})"
        if len(inside) == 0:
            near = g.loc[(g["mean"] - row.paper).abs().idxmin()]
            there = (f"the paper's value lies inside our interval under none of {len(g)} protocols (closest: "
                     f"{near.protocol}, {fmt_interval(near['mean'], near.lo, near.hi)})")
        else:
            shared = _shared(inside)
            near = inside.assign(gap=(inside["mean"] - row.paper).abs()).sort_values("gap", kind="stable")
            shown = near.head(LISTED)
            there = (f"reproduced under {len(inside)} of {len(g)} protocols"
                     + (f", all with {shared}" if shared else "")
                     + (": " if len(inside) <= LISTED else f"; the {LISTED} closest: ")
                     + "; ".join(f"{r.protocol} {fmt_interval(r['mean'], r.lo, r.hi)}" for _, r in shown.iterrows()))
        out.append(dataclasses.replace(c, evidence=f"{here}; {there}",
                                       reproduced="; ".join(inside.protocol) or None))
    return out


#: why a protocol is not a fair test of target-specific retrieval across new scaffolds
UNFAIR = {
    "random split": "their test molecules come from scaffolds the training set has seen",
    "any_match": "any molecule paired with the query's very text counts as correct, and drugs of one target "
                 "and mechanism share that text when it has no drug name",
    "singletons": "queries whose target has a single candidate ({}) count as hits at rank 1: recall with no "
                  "discrimination",
    "target asked": "they ask for the query's target, not for its drug",
}


def unfair(row: pd.Series) -> list[str]:
    """The keys of :data:`UNFAIR` that apply to a protocol of the map (a row of
    :func:`~thinbridge.evaluation.protocols.protocol_map`); empty for a fair test."""
    reading = row.reading if isinstance(row.reading, str) else None
    why = []
    if row.split == "random":
        why.append("random split")
    if row.candidates == "any_match" and row.inputs.startswith("NoDrug") and not reading:  # named texts differ
        why.append("any_match")
    if row.queries == "all" and not reading:
        why.append("singletons")
    if reading in ("share of the target in the top 3", "target in the top 3"):
        why.append("target asked")
    return why


def _span(x: pd.Series, fmt: str) -> str:
    lo, hi = fmt.format(x.min()), fmt.format(x.max())
    return lo if lo == hi else f"{lo}–{hi}"


def number_paragraph(pmap: pd.DataFrame, quantity: str) -> str:
    """A paragraph on one paper number: ours under the protocol the paper describes, which
    protocols reproduce it, and whether those are fair tests (:func:`unfair`), with a random
    ranking's value under them. Every figure in it is read from ``pmap``."""
    g = pmap[pmap.quantity == quantity]
    row = g[g.described].iloc[0]
    inside = g[g.position == "inside"]
    task = "target-specific retrieval" if row.scope == "within_target" else "retrieval"
    text = (f"**{quantity}** (paper {row.paper}). Under the protocol the paper describes ({row.protocol}) ours is "
            f"{fmt_interval(row['mean'], row.lo, row.hi)} (a random ranking: {row.chance:.3f}); the paper's value "
            f"lies {'inside' if row.position == 'inside' else row.position} our interval. ")
    if len(inside) == 0:
        where = ("above every one" if (g["hi"] < row.paper).all() else
                 "below every one" if (g["lo"] > row.paper).all() else "between them, inside none")
        text += (f"No protocol of the {len(g)} reproduces it: ours range from {g['mean'].min():.3f} to "
                 f"{g['mean'].max():.3f}, and the paper's value lies {where}.")
        for side, rows in (("below", g[g["hi"] < row.paper]), ("above", g[g["lo"] > row.paper])):
            if len(rows) and len(rows) < len(g):
                r = rows.loc[(rows["mean"] - row.paper).abs().idxmin()]
                fair = "a fair test" if not unfair(r) else "not a fair test: " + "; ".join(
                    UNFAIR[k].format(f"{r.singletons:.0%} of the queries") for k in unfair(r))
                text += (f" Closest {side} it: {r.protocol}, {fmt_interval(r['mean'], r.lo, r.hi)} (a random ranking "
                         f"{r.chance:.3f}; {fair}).")
        return text
    fair = [r for _, r in inside.iterrows() if not unfair(r)]
    text += f"It is reproduced under {len(inside)} of {len(g)} protocols. "
    if fair:
        text += (f"{len(fair)} of them {'is a fair test' if len(fair) == 1 else 'are fair tests'} of {task} across "
                 "new scaffolds" + (", e.g. " if len(fair) > LISTED else ": ")
                 + "; ".join(f"{r.protocol} ({r['mean']:.3f}, a random ranking {r.chance:.3f})" for r in fair[:LISTED])
                 + ". ")
    else:
        text += f"None of them is a fair test of {task} across new scaffolds. "
    for key, why in UNFAIR.items():
        rs = inside[[key in unfair(r) for _, r in inside.iterrows()]]
        if len(rs):
            share = f"{_span(rs.singletons, '{:.0%}')} of the queries"
            text += (f"{len(rs)} of them {'is' if len(rs) == 1 else 'are'} not fair because {why.format(share)} "
                     f"(a random ranking reaches {_span(rs.chance, '{:.3f}')} there). ")
    return text.strip()


def numbers_table(claims: list[Claim]) -> pd.DataFrame:
    """The paper's numbers among ``claims`` beside ours under the protocol the paper describes,
    and how many protocols reproduce each."""
    return pd.DataFrame([{"quantity": c.quantity, "paper": c.paper, "model": c.a, "split": c.split,
                          "ours (mean [95% interval])": fmt_interval(c.ours, c.ours_lo, c.ours_hi),
                          "verdict": c.status,
                          "reproduced under": len(c.reproduced.split("; ")) if c.reproduced else 0}
                         for c in claims if c.kind == "number"])


def best_cell(cell_summary: pd.DataFrame, cell_tests: pd.DataFrame, paper_cell: str, ref: str) -> Claim:
    """The claim that ``paper_cell`` is the best ablation cell: ``confirmed`` when it has the highest
    mean, ``refuted`` when another is significantly better, ``inconclusive`` otherwise. The
    numbers are those of the first comparison in ``cell_tests``."""
    best = cell_summary.sort_values("mean", ascending=False).iloc[0]
    beaten = cell_tests[(cell_tests["diff"] > 0) & (cell_tests.p_queries < ALPHA)]
    status = "confirmed" if best.model == paper_cell else ("refuted" if len(beaten) else "inconclusive")
    text = (f"highest mean within-target R@1 across scaffold splits: {best.model} ({best['mean']:.3f}); "
            + "; ".join(evidence(r) for _, r in cell_tests.iterrows()))
    first = _comparison(cell_tests.iloc[0]) if len(cell_tests) else {}
    return Claim(claim="Best cell is WithDrug, T 0.05, m 0.15", status=status, evidence=text, ref=ref,
                 kind="best cell", **first)


def replication_claims(tests: pd.DataFrame, hard_tests: pd.DataFrame, name_tests: pd.DataFrame,
                       cell_summary: pd.DataFrame, cell_tests: pd.DataFrame, numbers: list[Claim]) -> list[Claim]:
    """Chapter 7's claims, from its tables of paired tests and the paper's numbers judged by
    :func:`paper_numbers`."""
    out = [from_test("Non-trivial cross-modal alignment (bridge beats its untrained heads, scaffold split)",
                     pick(tests, a="bridge", b="random heads", metric="MRR", scope="global", split="scaffold"),
                     REF.format("alignment"))]
    for other in ("random heads", "PCA+CCA"):
        t = pick(tests, a="bridge, paper's best cell", b=other, metric="R@1", scope="within_target",
                 split="scaffold")
        out.append(from_test(f"Within-target gain over frozen baselines: {other} (paper's best cell, scaffold split)",
                             t, REF.format("alignment")))
    t = pick(hard_tests, split="scaffold", scope="within_target", a="batches=target, hard_weight=4.0, margin=0.15")
    out.append(from_test("Hard-negative weighting and the margin help (with target batches)", t, REF.format("hard")))
    t = pick(name_tests, split="scaffold", scope="within_target", metric="R@1").copy()
    t["a"], t["b"] = "WithDrug", "NoDrug"
    out.append(from_test("The drug name in the text helps (within target, scaffold split)", t, REF.format("name")))
    out.append(best_cell(cell_summary, cell_tests, "paper's best cell", REF.format("best-cell")))
    out += [c for c in numbers if c.kind == "number"]
    return out


def encoder_claims(records: pd.DataFrame, reference: str) -> list[Claim]:
    """Chapter 8's claims: the trained linear bridge against a closed-form fit and against
    nearest text neighbours (global MRR, scaffold splits)."""
    from thinbridge.evaluation.statistics import paired

    ref = "verdict-encoders"
    return [
        from_test("A trained thin bridge beats a closed-form linear fit (ridge) between the frozen spaces",
                  paired(records, reference, "ridge (ECFP4)", "MRR", "global").iloc[0], ref),
        from_test("A trained thin bridge beats text-to-text nearest neighbours (no training)",
                  paired(records, reference, "text neighbours (ECFP4)", "MRR", "global").iloc[0], ref),
    ]


# ------------------------------------------------------------------------------- files and the verdict
def save(claims: list[Claim], path: str | Path) -> Path:
    """The records as strict JSON (undefined numbers as null)."""
    return jsonio.write(path, [c.to_dict() for c in claims])


def load(*paths: str | Path) -> list[Claim]:
    """The records of one or more claims files, in order."""
    import json

    return [Claim.from_dict(d) for p in paths for d in json.loads(Path(p).read_text(encoding="utf-8"))]


def table(claims: list[Claim]) -> pd.DataFrame:
    """One row per claim: its fields as columns."""
    return pd.DataFrame([c.to_dict() for c in claims])


def verdict_markdown(claims: list[Claim]) -> str:
    """The verdict as a Markdown table: one row per claim, its status, its evidence and a link to
    the section that computed it."""
    lines = ["| claim | verdict | evidence |", "|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.claim} | **{c.status}** | {c.evidence} ({{ref}}`computed here <{c.ref}>`) |")
    return "\n".join(lines)


def shown(x: float | None) -> float:
    """A number as the evidence prints it (three decimals), as a float; NaN when undefined."""
    return float("nan") if x is None else float(f"{x:+.3f}")
