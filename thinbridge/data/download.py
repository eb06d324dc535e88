"""Fetching ChEMBL with network access: the mechanism table alone, or a whole SQLite release.

* :func:`download_mechanisms` (``thinbridge download --mechanisms-only``): ChEMBL's web
  services (``/mechanism``, ``/molecule``, ``/target``), a few megabytes, written as a TSV
  with the shipped file's ten columns (:data:`TSV_COLUMNS`), plus a ``.json`` provenance
  record beside it (release, date, counts, sha256).
* :func:`download_chembl` (``thinbridge download``): a pinned SQLite release through
  ``chembl_downloader`` (several GB); :func:`thinbridge.data.loaders.load_sqlite` reads it.

Both check that the server answers before anything else, so offline they fail within
seconds with a message that says how to use a local file. Plain ``requests`` calls with
timeouts; ``chembl_webresource_client`` is not used (it makes a network call on import).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from pathlib import Path
from typing import Callable, Iterable, Iterator

from thinbridge._util.errors import UserError
from thinbridge._util.progress import progress

#: the pinned release ``thinbridge download`` fetches as SQLite (the paper used ChEMBL 28)
CHEMBL_VERSION = "28"
API = "https://www.ebi.ac.uk/chembl/api/data"
API_HOST = "www.ebi.ac.uk"
PAGE = 1000          # records per page of /mechanism
ID_BATCH = 50        # ids per /molecule or /target request (keeps URLs short)
TIMEOUT = 60         # seconds per request
#: the columns of the shipped data/chembl_moa/chembl_moa.tsv, in its order
TSV_COLUMNS = [
    "molecule_chembl_id", "molecule_pref_name", "canonical_smiles", "standard_inchi_key", "standard_inchi",
    "mechanism_of_action", "mechanism_action_type", "target_chembl_id", "target_pref_name", "target_organism",
]
OFFLINE_HINT = ("Point thinbridge at a local file instead: `thinbridge prepare --input PATH` or "
                "THINBRIDGE_DATA=PATH, where PATH is a mechanism table (TSV/CSV) or a ChEMBL SQLite file; "
                "the shipped data/chembl_moa/chembl_moa.tsv is the default")


def network_reachable(host: str = "ftp.ebi.ac.uk", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------
# the mechanism table through the web services
# ----------------------------------------------------------------------------------------------
def _http_get_json(url: str, params: dict | None = None) -> dict:
    import requests

    try:
        r = requests.get(url, params=params, timeout=TIMEOUT, headers={"Accept": "application/json"})
        r.raise_for_status()
        return r.json()
    except (requests.RequestException, ValueError) as e:
        raise UserError(f"ChEMBL web services: {url} failed ({type(e).__name__}: {str(e)[:160]})") from None


def _pages(get: Callable[[str, dict | None], dict], resource: str, key: str, params: dict) -> Iterator[dict]:
    """Every record of a paged resource, following ``page_meta.next``."""
    url, query = f"{API}/{resource}.json", dict(params, limit=PAGE, offset=0)
    while url:
        page = get(url, query)
        yield from page.get(key) or []
        nxt = (page.get("page_meta") or {}).get("next")
        url, query = (f"https://{API_HOST}{nxt}" if nxt and nxt.startswith("/") else nxt), None


def _by_ids(get, resource: str, key: str, id_field: str, ids: Iterable[str], only: str,
            show_progress: bool) -> dict[str, dict]:
    ids = sorted({i for i in ids if i})
    out: dict[str, dict] = {}
    batches = [ids[i:i + ID_BATCH] for i in range(0, len(ids), ID_BATCH)]
    for batch in progress(batches, desc=f"{resource}s", disable=not show_progress):
        for rec in _pages(get, resource, key, {f"{id_field}__in": ",".join(batch), "only": only}):
            out[rec.get(id_field)] = rec
    return out


def _s(v) -> str:
    return "" if v is None else " ".join(str(v).split())


def mechanisms_table(mechanisms: list[dict], molecules: dict[str, dict], targets: dict[str, dict]):
    """Join web-service records into the shipped TSV's shape (one row per mechanism record).

    Every mechanism record becomes a row, also when its molecule has no structure or it has no
    target: ``thinbridge prepare`` then counts such rows under a drop reason, never silently.
    """
    import pandas as pd

    rows = []
    for m in mechanisms:
        mol = molecules.get(m.get("molecule_chembl_id")) or {}
        struct = mol.get("molecule_structures") or {}
        tgt = targets.get(m.get("target_chembl_id")) or {}
        rows.append({
            "molecule_chembl_id": _s(m.get("molecule_chembl_id")),
            "molecule_pref_name": _s(mol.get("pref_name")),
            "canonical_smiles": _s(struct.get("canonical_smiles")),
            "standard_inchi_key": _s(struct.get("standard_inchi_key")),
            "standard_inchi": _s(struct.get("standard_inchi")),
            "mechanism_of_action": _s(m.get("mechanism_of_action")),
            "mechanism_action_type": _s(m.get("action_type")),
            "target_chembl_id": _s(m.get("target_chembl_id")),
            "target_pref_name": _s(tgt.get("pref_name")),
            "target_organism": _s(tgt.get("organism")),
        })
    df = pd.DataFrame(rows, columns=TSV_COLUMNS)
    return df.sort_values(["target_chembl_id", "molecule_chembl_id", "mechanism_of_action"], kind="stable")


def download_mechanisms(out: str | Path, show_progress: bool = True,
                        get: Callable[[str, dict | None], dict] | None = None) -> dict:
    """Fetch ChEMBL's current drug-mechanism table into ``out`` (TSV) and ``out``.json (provenance).

    ``get(url, params) -> dict`` is the HTTP call (tests pass a fake one); by default
    ``requests`` with a timeout, after a 3-second reachability check.
    """
    import csv

    out = Path(out)
    if out.exists() and out.is_dir():
        raise UserError(f"--out {out} is a folder; give the path of the TSV file to write")
    if get is None:
        if not network_reachable(API_HOST, 443):
            raise UserError(f"cannot reach ChEMBL's web services at {API_HOST} (offline?). {OFFLINE_HINT}")
        get = _http_get_json
    release = (get(f"{API}/status.json", None) or {}).get("chembl_db_version", "unknown")
    mechs = list(progress(_pages(get, "mechanism", "mechanisms", {"only": ",".join(
        ["molecule_chembl_id", "mechanism_of_action", "action_type", "target_chembl_id", "mec_id"])}),
        desc="mechanisms", disable=not show_progress))
    if not mechs:
        raise UserError("ChEMBL web services returned no mechanism records")
    mols = _by_ids(get, "molecule", "molecules", "molecule_chembl_id", (m.get("molecule_chembl_id") for m in mechs),
                   "molecule_chembl_id,pref_name,molecule_structures", show_progress)
    tgts = _by_ids(get, "target", "targets", "target_chembl_id", (m.get("target_chembl_id") for m in mechs),
                   "target_chembl_id,pref_name,organism", show_progress)
    df = mechanisms_table(mechs, mols, tgts)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
    record = {
        "source": f"{API} (/mechanism, /molecule, /target)",
        "chembl_release": release,
        "downloaded": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rows": int(len(df)),
        "molecules": int(df.molecule_chembl_id.nunique()),
        "rows_without_structure": int((df.canonical_smiles == "").sum()),
        "targets": int(df.loc[df.target_chembl_id != "", "target_chembl_id"].nunique()),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "licence": "CC BY-SA 3.0, ChEMBL (EMBL-EBI); cite Mendez et al., Nucleic Acids Res. 47(D1):D930 (2019)",
    }
    out.with_suffix(out.suffix + ".json").write_text(json.dumps(record, indent=2) + "\n")
    return {"path": out, **record}


# ----------------------------------------------------------------------------------------------
# a whole SQLite release
# ----------------------------------------------------------------------------------------------
def download_chembl(version: str = CHEMBL_VERSION, cache_dir: str | Path | None = None) -> Path:
    """Download and extract a ChEMBL SQLite release (several GB) into a cache; return its path.

    Network only. ``chembl_downloader`` is imported here, never at package import time.
    """
    if not network_reachable():
        raise UserError(f"cannot reach the ChEMBL download server (offline?). {OFFLINE_HINT}")
    import os

    if cache_dir is not None:
        os.environ["PYSTOW_HOME"] = str(Path(cache_dir).resolve())
    import chembl_downloader  # network-facing import kept local

    try:
        return Path(chembl_downloader.download_extract_sqlite(version=version))
    except Exception as e:  # HTTP, disk and archive errors from the download library
        raise UserError(f"download of ChEMBL {version} failed: {type(e).__name__}: {str(e)[:200]}") from None
