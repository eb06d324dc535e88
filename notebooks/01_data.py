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
# # Data: ChEMBL mechanisms to drug–text pairs
#
# The bridge learns from pairs of a **drug** (its structure) and a **text** (its mechanism of
# action). This chapter reads ChEMBL's drug-mechanism table, standardises every structure to
# its ChEMBL parent, merges duplicates, accounts for every input row, defines the text views
# the text encoder sees, and computes the two frozen feature sets once (they are cached on
# disk for the chapters that follow).
#
# **Data and licence.** The data are ChEMBL's: the `drug_mechanism` table joined with
# `molecule_dictionary`, `compound_structures` and `target_dictionary`. Our offline copy comes
# from the public repository `quantori/MultiRef3D` (file `chembl_moa.tsv`, commit 0752eea,
# added 2021); the source does not name the ChEMBL release (its molecule ids place it around
# ChEMBL 26–27; the paper used ChEMBL 28). ChEMBL is published by EMBL-EBI under
# [CC BY-SA 3.0](https://creativecommons.org/licenses/by-sa/3.0/); cite Mendez et al.,
# *ChEMBL: towards direct deposition of bioassay data*, Nucleic Acids Res. 47(D1):D930–D940
# (2019). Everything derived from it in this book carries the same licence. The file ships with
# the project as `data/chembl_moa/chembl_moa.tsv` (with its provenance and licence beside it;
# its sha256 is checked when it is read); the parameter `data_path` or the environment variable
# `THINBRIDGE_DATA` point at another table. Users with network can fetch the current mechanism
# table with `thinbridge download --mechanisms-only`, or a full ChEMBL release with
# `thinbridge download`, and prepare it the same way.

# %% [markdown]
# **Parameters.** The next cell holds this chapter's parameters and their defaults (papermill
# knows it by its `parameters` tag). To run the chapter with other values, pass them by name, e.g.
# `python scripts/run_notebooks.py --only 01 -p data_path ../my_table.tsv` from the repository root (it runs
# what the chapter needs first), or `papermill book/01_data.ipynb out.ipynb --cwd book -p data_path ../my_table.tsv`;
# in JupyterLab, edit the cell and run all cells.

# %% tags=["parameters"]
# None: $THINBRIDGE_DATA, else the shipped data/chembl_moa/chembl_moa.tsv
data_path = None
# None: the offline all-MiniLM-L6-v2; or any sentence-transformers name or folder
text_model = None
profile = "full"  # "full" or "fast" (this chapter does the same work in both)

# %%
from thinbridge import book  # first: pins the CPU kernels

# a parameter that cannot be used stops the chapter here, in one line naming it
book.check_parameters(
    profile=profile, data_path=data_path, text_model=text_model
)


# %%
from thinbridge import book  # first: pins the CPU kernels
from thinbridge import (
    ECFP_ID,
    NAME_TEMPLATE,
    TEXT_TEMPLATES,
    TEXT_VIEWS,
    describe_cache,
    drug_features,
    load_mechanisms,
    load_pairs,
    prepare,
    reasons_table,
    resolve_data_path,
    sha256_file,
    text_encoder_id,
    text_features,
    text_view,
)

import json

import pandas as pd
from IPython.display import display


paths = book.setup()
DATA = paths.data
SOURCE = resolve_data_path(data_path)
print("input file:", SOURCE.name)

# %% [markdown]
# ## The raw table
#
# Ten columns with ChEMBL's own names. The loader needs eight of them (extra columns are
# ignored; a missing one is an error that names it). The sha256 identifies the exact file.

# %%
raw = load_mechanisms(SOURCE)
print(f"sha256 {sha256_file(SOURCE)}")
print(
    f"{len(raw)} rows, {raw.molecule_chembl_id.nunique()} molecules, "
    f"{raw.target_chembl_id.nunique()} targets, "
    f"{raw.mechanism_of_action.nunique()} distinct mechanism texts"
)
multi = raw.canonical_smiles.str.contains(".", regex=False)
print(
    f"{raw.loc[multi, 'molecule_chembl_id'].nunique()} molecules have "
    "multi-fragment SMILES (salts, solvates)"
)
raw.head(3)

# %% [markdown]
# ## Cleaning: parents, duplicates and an account of every row
#
# Each structure is standardised with ChEMBL's own `chembl_structure_pipeline`
# (`standardize_mol`, then `get_parent_mol`, which strips salts and solvents), so that
# ACETAZOLAMIDE and ACETAZOLAMIDE SODIUM become one parent molecule. Rows with the same
# (parent InChIKey, target, mechanism) are merged; rows that cannot be used are dropped with
# a reason. Nothing disappears silently: the report below adds up.

# %%
res = prepare(SOURCE, DATA, show_progress=False)
report = res.report
accounted = (
    report["pairs"]
    + sum(report["rows_dropped"].values())
    + report["rows_merged"]
)
assert accounted == report["rows_in"]
print(
    f"rows in {report['rows_in']} = pairs {report['pairs']} + merged "
    f"{report['rows_merged']} "
    f"+ dropped {sum(report['rows_dropped'].values())}"
)
print(
    f"{report['molecules']} parent molecules (from "
    f"{report['source_molecules']} ChEMBL molecules), "
    f"{report['targets']} targets, {report['targets_with_2plus_molecules']} "
    "targets with two or more molecules"
)
reasons_table(res.dropped, res.merged)

# %% [markdown]
# What counts as *no parent* (`empty_parent` in the table above): ChEMBL's pipeline keeps a
# structure whole when every fragment is a salt or solvent, because nothing is left to call the
# parent. We drop such structures: a parent without carbon (inorganic compounds such as
# arsenic trioxide or nitric oxide, whose fingerprints describe no organic drug) or a metal
# other than sodium or potassium paired only with listed counter-ions (lithium carbonate,
# calcium acetate: the active part is the metal, which ECFP4 cannot see). The rows, by name:

# %%
empty = res.dropped[res.dropped.reason == "empty_parent"]
print(sorted(set(raw.loc[empty.row - 1, "molecule_pref_name"])))

# %% [markdown]
# Salt and formulation forms merge into their parent. A few of the merged rows, with the pair
# each was merged into:

# %%
names = raw.set_index("molecule_chembl_id")["molecule_pref_name"].to_dict()
m = res.merged.assign(
    name=res.merged.molecule_chembl_id.map(names),
    merged_into_name=res.merged.merged_into.map(names),
)
m[
    [
        "row",
        "molecule_chembl_id",
        "name",
        "merged_into",
        "merged_into_name",
        "target_chembl_id",
    ]
].head(8)

# %% [markdown]
# The source notes one exact duplicate row and name it as baloxavir marboxil. The file says
# otherwise: the exact duplicate is found by comparing whole rows, and baloxavir marboxil's two
# rows differ in their target (the polymerase acidic protein of influenza A and of influenza B),
# so they are two pairs, correctly kept.

# %%
dup = raw[raw.duplicated(keep=False)]
print("exact duplicate rows:", sorted(dup.molecule_pref_name.unique()))
display(
    m[m.name.isin(dup.molecule_pref_name)][
        ["row", "molecule_chembl_id", "name", "merged_into"]
    ]
)
pairs_all = load_pairs(DATA)
pairs_all[pairs_all.drug_name.str.startswith("Baloxavir")][
    ["pair_id", "drug_name", "target_chembl_id", "target_organism"]
]

# %% [markdown]
# ## The pairs
#
# One row per (parent molecule, target, mechanism). Action types, most common first:

# %%
pairs = pairs_all
print(pd.Series(report["action_types"]).head(8).to_string())
per_target = pairs.groupby("target_chembl_id").parent_inchikey.nunique()
print(
    f"\nmolecules per target: median {per_target.median():.0f}, max "
    f"{per_target.max()} "
    f"({pairs.loc[pairs.target_chembl_id == per_target.idxmax(), 'target_pref_name'].iloc[0]})"
)

# %% [markdown]
# ## Text views
#
# The text encoder sees one of two views of a pair, each with or without the drug name
# (defined once, in `thinbridge.data.pairs.TEXT_TEMPLATES`). Drug names lose salt words
# (`clean_drug_name("ACETAZOLAMIDE SODIUM")` gives `Acetazolamide`). The paper's `text_rich`
# is our `rich`; its "WithDrug" ablation is `rich` with the name.

# %%
print(
    "templates:",
    json.dumps(TEXT_TEMPLATES, indent=1),
    "\nwith name:",
    NAME_TEMPLATE,
)
example = pairs[pairs.drug_name == "Acetazolamide"].head(1)
pd.DataFrame(
    [
        {"view": v, "drug name": n, "text": text_view(example, v, n)[0]}
        for v in TEXT_VIEWS
        for n in (False, True)
    ]
)

# %% [markdown]
# Stripping salt words can give two parent molecules one name: an ester prodrug such as
# dexamethasone sodium phosphate is a different parent from dexamethasone (the phosphate is
# bonded, not a counter-ion), yet both read "Dexamethasone". These names cover more than one
# parent:

# %%
shared_names = pairs.groupby("drug_name").parent_inchikey.nunique()
print(
    f"{(shared_names > 1).sum()} names cover more than one parent molecule:",
    ", ".join(shared_names[shared_names > 1].index[:8]),
    "...",
)

# %% [markdown]
# Without the name, drugs that share a target and mechanism get *identical* texts, so no text
# can tell them apart; this is why within-target retrieval depends so much on the name.

# %%
counts = []
for view in TEXT_VIEWS:
    for with_name in (False, True):
        t = text_view(pairs, view, with_name)
        name = "with name" if with_name else "no name  "
        counts.append(
            f"{view:5s} {name}: {len(set(t)):5d} distinct texts for {len(t)} "
            "pairs"
        )
# one print: the output is one block, however the kernel flushes
print("\n".join(counts))

# %% [markdown]
# ## Frozen features, computed once
#
# *Drug*: ECFP4, the RDKit Morgan fingerprint with radius 2 and 2048 bits
# (`rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)`).
# *Text*: sentence embeddings from the text model (by default all-MiniLM-L6-v2, 384-d, offline;
# the paper used a biomedical encoder, which any user with network can pass as `text_model`).
# The default model runs in numpy (`thinbridge.features.minibert`: the same embeddings as
# sentence-transformers to float tolerance, faster under the portable kernels; its cache files
# say `@numpy`). Both are cached under `artifacts/data/cache`, keyed by encoder identity and a
# hash of the inputs.
# The book trains on the `rich` view, with and without the name.

# %%
fp = drug_features(
    pairs.parent_smiles.tolist(), DATA / "cache", show_progress=False
)
print(
    f"ECFP4: {fp.shape}, {fp.sum(1).mean():.1f} bits set per molecule on "
    "average"
)
for with_name in (False, True):
    emb = text_features(
        text_view(pairs, "rich", with_name),
        text_model,
        DATA / "cache",
        show_progress=False,
    )
    print(
        f"text ({text_encoder_id(text_model)}), rich, "
        f"{'with' if with_name else 'without'} name: {emb.shape}"
    )
# the cache entries this chapter made (later chapters add other encoders' features to it)
cache = pd.DataFrame(describe_cache(DATA / "cache"))
mine = cache.encoder.str.startswith((ECFP_ID, text_encoder_id(text_model)))
cache[mine][["encoder", "rows"]].reset_index(drop=True)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: data-ex-salts
#
# How many pairs would there be if salt forms were *not* merged into their parents, and
# what would that do to a scaffold split?
# ```
#
# ```{solution-start} data-ex-salts
# :class: dropdown
# ```
#
# Every merged row would be its own pair:

# %%
report["pairs"] + report["rows_merged"]

# %% [markdown]
# A salt and its parent have the same scaffold, so the scaffold split keeps them together, but
# as two "molecules" they inflate the data with near-copies whose fingerprints differ only by
# the counter-ion; under a random split they could land on two sides.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: data-ex-one-text
#
# Find the targets whose pairs all share one mechanism text. What does the `basic` view
# without the name give the text encoder for the drugs of such a target?
# ```
#
# ```{solution-start} data-ex-one-text
# :class: dropdown
# ```

# %%
per_target = pairs.groupby("target_chembl_id").agg(
    molecules=("parent_inchikey", "nunique"),
    texts=("mechanism_of_action", "nunique"),
)
one_text = per_target[(per_target.texts == 1) & (per_target.molecules >= 2)]
print(
    f"{len(one_text)} targets with two or more molecules share a single "
    "mechanism text"
)

# %% [markdown]
# For all their drugs the `basic` view is the same string, so the text encoder gives them one
# embedding, and no bridge can tell those drugs apart from the text alone.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: data-ex-cache
#
# Change `TEXT_TEMPLATES["rich"]` to leave out the organism. Which cached feature files are
# reused, and which are recomputed?
# ```
#
# ```{solution-start} data-ex-cache
# :class: dropdown
# ```
#
# The ECFP4 cache is reused (same SMILES, same encoder). Text caches are keyed by a hash of
# the texts, so the changed texts get new cache files; the old ones stay untouched.
#
# ```{solution-end}
# ```
