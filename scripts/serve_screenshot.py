#!/usr/bin/env python
"""The README's pictures of `thinbridge serve`: the page used as the browser test uses it.

    python scripts/serve_screenshot.py                       # artifacts/runs/scaffold_rich_noname -> docs/serve*.png
    python scripts/serve_screenshot.py --run RUN --out docs

Starts ``thinbridge serve RUN`` on a free port of 127.0.0.1 (stopped at the end in any case),
walks the page in headless Chromium with :func:`thinbridge.testing.page.walk` (the code
``tests/test_serve.py`` runs: type "HMG-CoA reductase inhibitor", submit, wait for the drawn
molecules; then aspirin in SMILES mode), and saves the text results at desktop width
(``serve.png``, 1280 px) and phone width (``serve-phone.png``, 390 px), reduced to a 64-colour
palette so that they stay small in the repository. Exits 1 if the page showed a problem.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "artifacts" / "runs" / "scaffold_rich_noname"))
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args(argv)

    from PIL import Image

    from thinbridge.testing.page import walk
    from thinbridge.testing.server import ServerProcess

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shots = {"desktop": Path(tmp) / "desktop.png", "phone": Path(tmp) / "phone.png"}
        with ServerProcess(Path(a.run).resolve(), Path(tmp) / "serve.log") as s:
            seen = walk(s.base, a.chromium, shots)
        problems = seen["errors"] + seen["outside"] + seen["failed"] + \
            [f"{w} scrolls sideways" for w, px in seen["overflow"].items() if px > 0]
        if len(seen["text_cards"]) < 5:
            problems.append(f"only {len(seen['text_cards'])} result cards")
        for name, target in (("desktop", "serve.png"), ("phone", "serve-phone.png")):
            img = Image.open(shots[name]).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
            img.save(out / target, optimize=True)
            print(f"wrote {out / target} ({(out / target).stat().st_size / 1024:.0f} kB)")
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
