# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Using the bridge: searching chemistry it never saw
#
# The paper's point is target-specific drug retrieval: ask "which compounds act as EGFR
# inhibitors?" and get a ranked list. Here we load the scaffold-split bridge trained without
# drug names (the training chapter) through the same API the `thinbridge query` command uses,
# and search **only the held-out test molecules**: scaffolds the bridge never saw in training.
# The hits are drawn, and judged against the mechanisms ChEMBL records for them.
#
# ```python
# from thinbridge import Retriever
# r = Retriever.load("artifacts/runs/scaffold_rich_noname")
# r.search_text("EGFR kinase inhibitor", k=5)        # molecules for a text
# r.search_smiles("CC(=O)Oc1ccccc1C(=O)O", k=5)       # mechanism texts for a molecule
# ```
#
# **In class.** To let students ask their own questions live, start the search page on the
# same bridge: `thinbridge serve artifacts/runs/scaffold_rich_noname` (then open
# <http://127.0.0.1:8000/>; add `--host 0.0.0.0` to reach it from the room's network, and
# `--index FOLDER` to search a library built as in the section on your own library). A typed
# mechanism returns the molecules drawn by RDKit with their rank, cosine score, ChEMBL id and
# recorded mechanisms; a SMILES returns mechanism texts. The scores are the cosine similarities
# this chapter explains, and a JSON API beside the page returns what `thinbridge query --json`
# prints (the README has the details).

# %% [markdown]
# **Parameters.** The next cell holds this chapter's parameters and their defaults (papermill
# knows it by its `parameters` tag). To run the chapter with other values, pass them by name, e.g.
# `python scripts/run_notebooks.py --only 06 -p k 10` from the repository root (it runs
# what the chapter needs first), or `papermill book/06_retrieval.ipynb out.ipynb --cwd book -p k 10`;
# in JupyterLab, edit the cell and run all cells.

# %% tags=["parameters"]
profile = "full"
run_name = "scaffold_rich_noname"
k = 5
# (free-text query, a word that must appear in a hit's recorded target for it to count as right)
queries = [
    ("EGFR kinase inhibitor", "Epidermal growth factor receptor"),
    ("dopamine D2 receptor antagonist", "Dopamine D2"),
    ("glucocorticoid receptor agonist", "Glucocorticoid receptor"),
    ("HMG-CoA reductase inhibitor", "HMG-CoA reductase"),
    ("histamine H1 receptor antagonist", "Histamine H1"),
    ("beta-2 adrenergic receptor agonist", "Beta-2 adrenergic"),
    ("serotonin transporter inhibitor", "Serotonin transporter"),
    ("cyclooxygenase inhibitor", "Cyclooxygenase"),
]
# the library size and the cluster sizes the scale-up section projects to
projected_size = 10**9
projected_workers = [1, 10, 100, 1000]

# %%
from thinbridge import book  # first: pins the CPU kernels

# a parameter that cannot be used stops the chapter here, in one line naming it
book.check_parameters(
    profile=profile,
    run_name=run_name,
    k=k,
    queries=queries,
    projected_size=projected_size,
    projected_workers=projected_workers,
)


# %%
from thinbridge import book  # first: pins the CPU kernels

import pandas as pd
from IPython.display import Markdown, display

from thinbridge.book import plots
from thinbridge.book import projection
from thinbridge import (
    Retriever,
    molecules_with_target,
)

paths = book.setup(max_colwidth=70)
r = Retriever.load(paths.run_dir(run_name))
pairs = r.pairs
split = book.load_split(paths, pairs, r.cfg.split, r.cfg.split_seed)
test_mask = split == "test"
test_keys = sorted(set(pairs.parent_inchikey[test_mask]))
print(
    f"bridge: {r.cfg.split} split, text view {r.cfg.text_view!r}, drug name "
    f"in text: {r.cfg.with_name}"
)
print(
    f"candidates: {len(test_keys)} held-out test molecules (of "
    f"{pairs.parent_inchikey.nunique()})"
)

# %% [markdown]
# ## Free-text queries against unseen scaffolds
#
# For each query: the top hits among the test molecules, and whether each hit's recorded
# mechanism involves the queried target. The last column says how many test molecules have
# such a mechanism at all — the best a perfect ranking could find in the top k.

# %%
summary, results = [], {}
for q, word in queries:
    hits = r.search_text(q, k=k, candidates=test_keys)
    rel = molecules_with_target(pairs, word, test_mask)
    hits["right target"] = hits.parent_inchikey.isin(rel)
    results[q] = hits
    summary.append(
        {
            "query": q,
            f"right in top {k}": int(hits["right target"].sum()),
            "possible": min(len(rel), k),
            "test molecules with the target": len(rel),
            "first right hit at rank": int(
                hits["rank"][hits["right target"]].min()
            )
            if hits["right target"].any()
            else None,
        }
    )
summary = pd.DataFrame(summary)
summary

# %%
answerable = summary[summary.possible > 0]
print(
    f"precision@{k} over queries with at least one relevant test molecule: "
    f"{answerable[f'right in top {k}'].sum() / answerable['possible'].sum():.2f} of what was possible"
)

# %% [markdown]
# ## The hits, drawn
#
# Each query's top hits with the name, the cosine score and a tick where ChEMBL records the
# queried target for that molecule.

# %% mystnb={"image": {"alt": "Grid of the top hits for a text query, each molecule drawn with its name, cosine score and a tick when ChEMBL records the queried target"}}
for q, _ in queries[:4]:
    print(q)
    display(plots.draw_hits(results[q], correct="right target"))
    display(
        results[q][
            ["rank", "score", "drug_name", "molecule_chembl_id", "mechanisms"]
        ]
    )

# %% [markdown]
# What the hits say, query by query (written from the table above by the cell, so it changes
# when the numbers do):

# %%
s = summary.set_index("query")
right = f"right in top {k}"
lines = []
for q, row in s.iterrows():
    have = int(row["test molecules with the target"])
    if have == 0:
        lines.append(
            f"- **{q}**: no test molecule has this target; nothing to find."
        )
        continue
    first = row["first right hit at rank"]
    where = (
        f"the first at rank {int(first)}"
        if pd.notna(first)
        else "none in the top"
    )
    lines.append(
        f"- **{q}**: {int(row[right])} of the top {k} act on the queried "
        "target "
        f"({have} test molecule(s) do); {where}."
    )
full = (s[right] == s["possible"]) & (s["possible"] > 0)
none = (s[right] == 0) & (s["possible"] > 0)
lines.append(
    f"\nAll possible hits found for {int(full.sum())} of "
    f"{int((s.possible > 0).sum())} answerable "
    f"queries; none for {int(none.sum())}."
)
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading the hits honestly.** Where a target's drugs share a conserved core (steroids,
# statins), the fingerprint carries the signal even on unseen scaffolds; where a query is
# phrased unlike ChEMBL's wording ("EGFR kinase inhibitor" against ChEMBL's "Epidermal growth
# factor receptor erbB1 inhibitor"), hits drift to related mechanisms on other targets. Our
# check is lenient: it looks at the target only, so a dopamine D2 *agonist* would count as a
# right hit for a D2 *antagonist* query. The tables and the list above, not this paragraph, are
# the evidence.
#
# ## From a molecule to mechanisms
#
# The other direction: a held-out molecule's SMILES, standardised to its ChEMBL parent, ranked
# against every distinct mechanism text of the data. `known` marks texts ChEMBL records for it.

# %%
examples = pairs[test_mask].drop_duplicates("parent_inchikey").head(3)
for row in examples.itertuples():
    hits = r.search_smiles(row.parent_smiles, k=k)
    rank_known = hits["rank"][hits.known]
    print(
        f"{row.drug_name}: recorded mechanism ranked "
        f"{int(rank_known.min()) if len(rank_known) else f'below {k}'}"
    )
    display(hits[["rank", "score", "text", "known"]])

# %% [markdown]
# ## Your own library
#
# `thinbridge index RUN --smiles-file FILE --out INDEX` standardises, fingerprints and embeds a
# SMILES file in chunks and stores float32 embeddings with their ids; invalid lines are
# reported with their line numbers, never dropped silently. Here the library is the test
# molecules written as a SMILES file, plus one broken line to show the report.

# %%
lib = paths.artifact(book.LIBRARY_DEMO)
lines = [
    f"{s} {cid}"
    for s, cid in zip(examples.parent_smiles, examples.molecule_chembl_id)
]
more = pairs[test_mask].drop_duplicates("parent_inchikey").iloc[3:60]
lines += [
    f"{row.parent_smiles} {row.molecule_chembl_id}"
    for row in more.itertuples()
]
lines.insert(2, "C1CC( not-a-smiles")
lib.write_text("\n".join(lines) + "\n")
info = r.build_index(
    lib, paths.artifact(book.INDEX_DEMO), show_progress=False
)
print(
    f"indexed {info['count']} molecules from {info['rows_read']} lines; "
    f"skipped {info['skipped']}"
)
skipped = pd.read_csv(
    paths.artifact(book.INDEX_DEMO) / "skipped.tsv", sep="\t"
)
display(skipped)
r.search_text(
    "glucocorticoid receptor agonist",
    k=3,
    index=paths.artifact(book.INDEX_DEMO),
)

# %% [markdown]
# ## Screening a large library: measured here, projected to 10^9
#
# The libraries chemists screen are large: 10^6-10^7 molecules in-house, 10^9-10^10
# make-on-demand. `thinbridge index` builds on a Dask cluster (`--scheduler ADDRESS`, or
# `--workers N` for a cluster on this machine), resumably, with the same bytes as a build in one
# process; `--kind hnsw` or `--kind ivfpq` adds approximate search with FAISS, its recall@10
# against exact search measured on the index's own molecules. `scripts/bench_index.py`
# measured, on this machine, builds on real SMILES (in one process with ChEMBL's own
# standardiser as the reference, then with thinbridge's, in one and two processes, and on one
# and two Dask workers: the same files every time), and each kind of
# index on synthetic libraries of 10^5-10^7 analogues of the run's molecules
# (`thinbridge.testing.synthetic`: each keeps most fingerprint bits of one parent and some of another,
# and the bridge embeds it). Recall is against exact search, for text queries (mechanism
# texts) and for the index's own molecules; rows marked not measured were projected by the
# script (`benchmarks/index.md` has every figure).

# %%
bench = projection.load_benchmark(paths.root / "benchmarks" / "index.json")
builds = pd.DataFrame(bench["build"]["results"])
display(
    builds[
        ["engine", "seconds", "startup_s", "molecules_per_s_after_startup"]
    ].round(1)
)
search = pd.DataFrame(bench["search"]).assign(
    latency_p50_ms=[
        s.get("latency_ms", {}).get("p50") for s in bench["search"]
    ]
)
search[
    [
        "n",
        "kind",
        "measured",
        "build_s",
        "bytes_per_molecule",
        "latency_p50_ms",
        "recall_at_10_text",
        "recall_at_10_own",
    ]
].round(3)

# %% [markdown]
# **A projection, not a measurement.** The tables below scale the costs measured above to a
# library of `projected_size` molecules: the build split evenly over N workers each as fast as
# the one measured here (no start-up, no stragglers, a shared file system that keeps up);
# storage at the bytes per molecule measured for each kind; one exact query scanned by N
# machines in parallel; the approximate structures built on one thread as thinbridge builds
# them. Each table says what it rests on in its `basis` column. Read them as orders of
# magnitude.

# %%
display(
    projection.build_time(bench, projected_size, projected_workers).round(1)
)
display(projection.storage(bench, projected_size).round(2))
display(
    projection.exact_search_time(
        bench, projected_size, projected_workers
    ).round(2)
)
projection.structure_build_time(bench, projected_size).round(1)

# %% [markdown]
# The projection in words (written by the cell from the tables above):

# %%
build = projection.build_time(
    bench, projected_size, projected_workers
).set_index("workers")
store = projection.storage(bench, projected_size).set_index("kind")
scan = projection.exact_search_time(
    bench, projected_size, projected_workers
).set_index("workers")
most = max(projected_workers)
display(
    Markdown(
        f"- Embedding {projected_size:,} molecules: about "
        f"{build.loc[1, 'days']:,.0f} days on one worker, "
        f"{build.loc[most, 'hours']:,.1f} hours on {most:,} (projected).\n"
        f"- Storage: {store.loc['exact', 'total TB']:,.1f} TB for an exact "
        "index (float32 embeddings and ids); "
        f"ivfpq adds {store.loc['ivfpq', 'search structure TB']:,.2f} TB of "
        "codes and hnsw "
        f"{store.loc['hnsw', 'search structure TB']:,.1f} TB of vectors and "
        "graph, each held in memory "
        "to search (projected).\n"
        f"- One exact query: about {scan.loc[1, 'seconds per query']:,.0f} s "
        "on one machine, "
        f"{scan.loc[most, 'seconds per query']:,.2f} s spread over {most:,} "
        "(projected); the approximate "
        "kinds are built to avoid that scan."
    )
)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: retrieval-ex-wording
#
# Rephrase "EGFR kinase inhibitor" in ChEMBL's own words (look the target up in `pairs`).
# Does the first right hit move up?
# ```
#
# ```{solution-start} retrieval-ex-wording
# :class: dropdown
# ```
#
# ChEMBL's phrasing, then the same search with it:

# %%
egfr = pairs[
    pairs.target_pref_name.str.contains(
        "Epidermal growth factor receptor", regex=False
    )
]
wording = egfr.mechanism_of_action.value_counts().index[0]
hits = r.search_text(wording, k=k, candidates=test_keys)
rel = molecules_with_target(
    pairs, "Epidermal growth factor receptor", test_mask
)
print(
    f"{wording!r}: {int(hits.parent_inchikey.isin(rel).sum())} of the top "
    f"{k} right "
    f"(the short query: "
    f"{int(summary.set_index('query').loc['EGFR kinase inhibitor', right])})"
)

# %% [markdown]
# Queries in the training texts' wording sit closer to what the text head learned.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: retrieval-ex-train
#
# Search the *training* molecules instead of the test molecules for the same queries. Why is
# this an unfair test of the bridge?
# ```
#
# ```{solution-start} retrieval-ex-train
# :class: dropdown
# ```
#
# Training molecules were matched to their own texts during training: the bridge can recall
# them, so their ranks measure memory, not retrieval of new chemistry.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: retrieval-ex-name
#
# Use the WithDrug bridge (`run_name = "scaffold_rich_name"`) with a query that names a drug.
# What does the bridge do with a name it has never seen?
# ```
#
# ```{solution-start} retrieval-ex-name
# :class: dropdown
# ```
#
# The name enters only through the frozen sentence encoder; an unseen name contributes
# sub-word pieces (for example "-tinib", "-olol") that carry some class information, and
# nothing more.
#
# ```{solution-end}
# ```
