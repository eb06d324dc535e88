#!/usr/bin/env python
"""Open every page of the built book in headless Chromium and report what is broken.

    python scripts/check_browser.py _build/html [--screenshot DIR]

The pages are served from a local HTTP server on 127.0.0.1 (a random free port,
stopped at the end; ``--file-urls`` opens them as file:// URLs instead) and loaded
by Debian's Chromium through Playwright, with a fresh profile. Requests to other
hosts (web fonts, MathJax, Binder...) are aborted at once: this check runs offline,
and their absence is not a fault of the book.

A problem is
- an ``<img>`` whose ``naturalWidth`` is 0 once loading has finished (missing or
  broken image file),
- an uncaught JavaScript exception (``pageerror``),
- a local request (127.0.0.1 or file://) that fails or answers with an HTTP error,
- a relative ``<a href>`` or ``src`` whose file does not exist in the build.

Prints one line per problem and the summary
``browser check: N pages, M images, K problems``; exits 1 when K > 0.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "_panels_static"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
]

# Make every image load now (no lazy loading), wait until each has loaded or failed
# (bounded), then report what the browser got.
IMAGES_JS = """
async (timeoutMs) => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = "eager"; }
  const settle = (img) => new Promise((resolve) => {
    if (img.complete) return resolve();
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  await Promise.race([
    Promise.all(imgs.map(settle)),
    new Promise((r) => setTimeout(r, timeoutMs)),
  ]);
  return imgs.map((img) => ({
    src: img.currentSrc || img.src || img.getAttribute("src") || "",
    complete: img.complete,
    width: img.naturalWidth,
  }));
}
"""

LINKS_JS = """
() => Array.from(document.querySelectorAll("a[href], link[href], script[src]"))
  .map((el) => el.getAttribute("href") || el.getAttribute("src"))
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the output to problems and the summary
        pass


def find_pages(root: Path) -> list[Path]:
    pages = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root)
        if rel.parts[0] in SKIP_DIRS or rel.name in SKIP_PAGES:
            continue
        pages.append(p)
    # the landing page first
    pages.sort(key=lambda p: (p != root / "index.html", str(p)))
    return pages


def is_local(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript", "chrome", "chrome-extension"):
        return True
    if parts.scheme == "file":
        return True
    return url.startswith(base)


def broken_local_refs(root: Path, page: Path, refs: list[str]) -> list[str]:
    """Relative href/src values whose target file is missing from the build."""
    missing = []
    for ref in refs:
        if not ref or ref.startswith(("#", "mailto:", "javascript:", "data:", "tel:")):
            continue
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        target = (root / parts.path.lstrip("/")) if parts.path.startswith("/") else (page.parent / parts.path)
        target = Path(os.path.normpath(unquote(str(target))))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            missing.append(ref)
    return sorted(set(missing))


def check(root: Path, chromium: str, screenshot_dir: Path | None, file_urls: bool,
          timeout_s: float) -> int:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    pages = find_pages(root)
    if not pages:
        print(f"browser check: no HTML pages under {root}", file=sys.stderr)
        return 1
    if screenshot_dir:
        screenshot_dir.mkdir(parents=True, exist_ok=True)

    server = None
    if file_urls:
        base = root.resolve().as_uri() + "/"
    else:
        handler = functools.partial(QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"

    problems: list[str] = []
    n_images = 0
    n_external = 0
    t0 = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          service_workers="block")

            def route(r):
                nonlocal n_external
                if is_local(r.request.url, base):
                    r.continue_()
                else:
                    n_external += 1
                    r.abort("internetdisconnected")

            context.route("**/*", route)

            for path in pages:
                rel = path.relative_to(root).as_posix()
                url = base + rel
                page = context.new_page()
                found: list[str] = []
                page.on("pageerror", lambda exc, found=found: found.append(f"JavaScript error: {exc}"))

                def on_failed(req, found=found):
                    if is_local(req.url, base) and not req.url.startswith(("data:", "blob:")):
                        found.append(f"failed request {req.url[len(base):] or req.url}: {req.failure}")

                def on_response(resp, found=found):
                    if resp.url.startswith(base) and resp.status >= 400:
                        found.append(f"HTTP {resp.status} for {resp.url[len(base):]}")

                page.on("requestfailed", on_failed)
                page.on("response", on_response)
                try:
                    page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                    try:
                        page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
                    except PlaywrightError:
                        pass  # long-polling scripts: the images below are still checked
                    for attempt in range(3):  # a meta-refresh redirect (index.html) may navigate
                        try:
                            images = page.evaluate(IMAGES_JS, int(timeout_s * 1000))
                            refs = page.evaluate(LINKS_JS)
                            break
                        except PlaywrightError:
                            page.wait_for_load_state("load", timeout=timeout_s * 1000)
                    else:
                        raise RuntimeError("the page kept navigating")
                    here = page.url
                    if here.startswith(base):
                        final = root / unquote(urlsplit(here[len(base):]).path)
                    else:
                        final = Path(unquote(urlsplit(here).path))
                    for img in images:
                        n_images += 1
                        src = img["src"]
                        if not is_local(src, base):
                            continue
                        if img["width"] == 0:
                            short = src[len(base):] if src.startswith(base) else src[:80]
                            why = "not loaded" if not img["complete"] else "naturalWidth 0"
                            found.append(f"broken image {short} ({why})")
                    for ref in broken_local_refs(root, final, refs):
                        found.append(f"link to a missing file: {ref}")
                    if screenshot_dir:
                        shot = screenshot_dir / (rel.replace("/", "__").removesuffix(".html") + ".png")
                        page.screenshot(path=str(shot), full_page=True)
                except Exception as exc:  # noqa: BLE001 - any failure to load is a problem
                    found.append(f"could not load: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                finally:
                    page.close()
                for f in dict.fromkeys(found):  # keep order, drop repeats
                    problems.append(f"{rel}: {f}")
            context.close()
            browser.close()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()

    for line in problems:
        print(f"  PROBLEM {line}")
    print(f"browser check: {len(pages)} pages, {n_images} images, {len(problems)} problems"
          f" ({n_external} external requests blocked, {time.perf_counter() - t0:.0f} s)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html_dir", nargs="?", default="_build/html", type=Path,
                    help="the built book (default: _build/html)")
    ap.add_argument("--screenshot", metavar="DIR", type=Path,
                    help="save a full-page PNG of every page here")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    help="the Chromium executable (default: $CHROMIUM or /usr/bin/chromium)")
    ap.add_argument("--file-urls", action="store_true",
                    help="open the pages as file:// URLs instead of through a local HTTP server")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for one page (default: 30)")
    args = ap.parse_args(argv)

    root = args.html_dir.resolve()
    if not (root / "index.html").is_file():
        print(f"browser check: {root}/index.html not found (build the book first: make html)",
              file=sys.stderr)
        return 1
    if not Path(args.chromium).is_file():
        print(f"browser check: no Chromium at {args.chromium} "
              "(Debian: apt-get install -y chromium; or pass --chromium PATH)", file=sys.stderr)
        return 1
    return check(root, args.chromium, args.screenshot, args.file_urls, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
