#!/usr/bin/env python
"""Benchmark: the per-molecule chemistry of an index build and of the rdkit2d encoder, old path
against new, in the same run on the same machine. One process, the distinct structures of the
shipped ChEMBL table.

Writes ``benchmarks/chem.json`` with

* **ChEMBL parent standardisation**: ``chembl_structure_pipeline``'s ``standardize_mol`` and
  ``get_parent_mol`` (the old path: the library as published) against :mod:`thinbridge.chem.parent`
  (the same rules with their objects built once and no-op steps skipped), on the parsed
  molecules, in alternating rounds (the median round of each), the ratio, and how many parents
  (SMILES, InChIKey, exclusion flag) are the same;
* **what a molecule costs an index build**, step by step on the new path, each step over every
  molecule: parse the SMILES, standardise and take the parent, the canonical parent SMILES, the
  InChIKey, and ECFP4 from the parent SMILES (re-parsed, as training computes it); their sum,
  and the molecules per second on one core it allows before reading, embedding and writing;
* **RDKit 2-D descriptors** (``--drug-encoder rdkit2d``) on a stride of the parents: RDKit's
  descriptor list (old) against thinbridge's (``Ipc`` and ``AvgIpc`` sharing one characteristic
  polynomial), the ratio and the largest difference of any value.

``python scripts/bench_chem.py [--rounds 3] [--descriptor-stride 4] [--out benchmarks/chem.json]``
(~2 minutes on 2 cores). Timings are wall clock: run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import thinbridge  # noqa: E402,F401  (first: pins the numerical kernels before numpy loads)
import numpy as np  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench_chem] {msg}", file=sys.stderr, flush=True)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def parents(mols, standardize, get_parent) -> list:
    """(parent SMILES, InChIKey, excluded) per molecule, or the error's type name."""
    from rdkit import Chem

    out = []
    for m in mols:
        try:
            p, excluded = get_parent(standardize(m))
            out.append((Chem.MolToSmiles(p), Chem.MolToInchiKey(p), bool(excluded)))
        except Exception as e:  # the same failure is the same answer
            out.append(type(e).__name__)
    return out


def standardise_only(mols, standardize, get_parent) -> None:
    for m in mols:
        try:
            get_parent(standardize(m))
        except Exception:
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--descriptor-stride", type=int, default=4, help="every Nth parent for the descriptors")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "chem.json"))
    a = ap.parse_args()

    import pandas as pd
    from chembl_structure_pipeline import standardizer as library
    from rdkit import Chem, rdBase
    from rdkit.Chem import Descriptors

    from thinbridge import features as F
    from thinbridge.chem import parent as P
    from thinbridge.chem.structures import salt_or_solvent_only
    from thinbridge._util.paths import shipped_data_path

    table = pd.read_csv(shipped_data_path(), sep="\t", dtype=str, keep_default_na=False)
    smiles = [s for s in table["canonical_smiles"].unique() if s]
    with rdBase.BlockLogs():
        mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    n = len(mols)
    log(f"{n} distinct structures of the shipped table")

    # ---- standardisation: the library against thinbridge, alternating rounds
    paths = {"chembl_structure_pipeline": (library.standardize_mol, library.get_parent_mol),
             "thinbridge.chem.parent": (P.standardize_mol, P.get_parent_mol)}
    with rdBase.BlockLogs():
        same = sum(x == y for x, y in zip(*(parents(mols, *fns) for fns in paths.values())))
        rounds = {name: [] for name in paths}
        for r in range(a.rounds):
            for name, fns in paths.items():
                rounds[name].append(timed(lambda: standardise_only(mols, *fns))[1] / n * 1e3)
            log(f"standardisation round {r + 1} of {a.rounds}: "
                + ", ".join(f"{k} {v[-1]:.3f} ms" for k, v in rounds.items()))
    ms = {k: statistics.median(v) for k, v in rounds.items()}
    standardisation = {"molecules": n, "rounds": a.rounds, "ms_per_molecule_median": ms,
                       "ms_per_molecule_rounds": rounds, "same_parents": same,
                       "speedup": ms["chembl_structure_pipeline"] / ms["thinbridge.chem.parent"]}

    # ---- one molecule's cost to an index build, step by step (new path)
    with rdBase.BlockLogs():
        _, t_parse = timed(lambda: [Chem.MolFromSmiles(s) for s in smiles])

        def parent_step():
            out = []
            for m in mols:
                try:
                    p, _ = P.get_parent_mol(P.standardize_mol(m))
                    out.append(None if p is None or p.GetNumAtoms() == 0 or salt_or_solvent_only(p) else p)
                except Exception:
                    out.append(None)
            return [p for p in out if p is not None]
        kept, t_parent = timed(parent_step)
        psmiles, t_smiles = timed(lambda: [Chem.MolToSmiles(p) for p in kept])
        _, t_key = timed(lambda: [Chem.MolToInchiKey(p) for p in kept])
        _, t_fp = timed(lambda: F.encode_drugs(psmiles, "ecfp4"))
    steps = {"parse": t_parse / len(smiles), "standardise_and_parent": t_parent / n,
             "parent_smiles": t_smiles / len(kept), "inchikey": t_key / len(kept),
             "ecfp4_from_parent_smiles": t_fp / len(kept)}
    steps_ms = {k: v * 1e3 for k, v in steps.items()}
    per_molecule = sum(steps_ms.values())
    log("steps (ms/molecule): " + ", ".join(f"{k} {v:.3f}" for k, v in steps_ms.items()))

    # ---- rdkit2d: RDKit's descriptor list against thinbridge's
    stride = psmiles[::a.descriptor_stride]
    old_fns = [f for _, f in Descriptors._descList]
    new_fns = FD._descriptor_functions()

    def descriptors(fns):
        with rdBase.BlockLogs():
            return np.asarray([[FD._descriptor(f, m) for f in fns] for m in (Chem.MolFromSmiles(s) for s in stride)])
    old, t_old = timed(lambda: descriptors(old_fns))
    new, t_new = timed(lambda: descriptors(new_fns))
    finite = np.isfinite(old) & np.isfinite(new)
    rdkit2d = {"molecules": len(stride), "descriptors": len(new_fns), "old_rdkit_descriptor_list_s": round(t_old, 2),
               "new_shared_characteristic_polynomial_s": round(t_new, 2), "speedup": t_old / t_new,
               "same_nan_positions": bool(np.array_equal(np.isnan(old), np.isnan(new))),
               "max_abs_difference": float(np.abs(old[finite] - new[finite]).max()) if finite.any() else 0.0}
    log(f"rdkit2d on {len(stride)} parents: {t_old:.1f} s -> {t_new:.1f} s")

    result = {
        "date": datetime.now(timezone.utc).date().isoformat(),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "load_average_1min": os.getloadavg()[0]},
        "standardisation": standardisation,
        "index_build_steps_ms_per_molecule": steps_ms,
        "index_build_steps_sum_ms": per_molecule,
        "molecules_per_second_per_core_from_these_steps": 1e3 / per_molecule,
        "rdkit2d": rdkit2d,
        "note": "one process, wall clock; the standardisation rows alternate round by round and report the "
                "median; the steps are the new path's, each over every molecule (parse over every SMILES, "
                "standardise over every parsed structure, the rest over the parents kept)",
    }
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
