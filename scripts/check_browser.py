#!/usr/bin/env python
"""Open every page of the built book in headless Chromium and report what is broken.

    python scripts/check_browser.py _build/html [--screenshot DIR | --no-screenshots]
                                                [--expect-table PAGE:MIN_ROWS ...]

The pages are served from a local HTTP server on 127.0.0.1 (a random free port,
stopped at the end; ``--file-urls`` opens them as file:// URLs instead) and loaded
by Debian's Chromium through Playwright, with a fresh profile. Requests to other
hosts (web fonts, MathJax, Binder...) are aborted at once: this check runs offline,
and their absence is not a fault of the book.

Each page is looked at on a desktop (1280 px wide) and on a phone (390 px wide);
a full-page screenshot of each is saved as ``DIR/desktop/<page>.png`` and
``DIR/phone/<page>.png`` (DIR: ``--screenshot DIR``, by default ``screenshots``
beside the HTML folder, i.e. ``_build/screenshots``).

A problem is
- an ``<img>`` whose ``naturalWidth`` is 0 once loading has finished (missing or
  broken image file),
- an uncaught JavaScript exception (``pageerror``),
- a local request (127.0.0.1 or file://) that fails or answers with an HTTP error,
- a relative ``<a href>`` or ``src`` whose file does not exist in the build,
and, in the page's content (``article.bd-article``),
- Markdown table syntax shown as text (outside ``<pre>``/``<code>``): a separator
  such as ``|---|``, ``|—|`` or ``|:--``, or a line of three or more ``|``; in a
  notebook's output (``div.cell_output``) this is "a table that is not an HTML
  ``<table>``", and a printed pipe table inside an output's ``<pre>`` counts too,
- a page without the ``<table>`` it is expected to have: ``--expect-table
  PAGE:MIN_ROWS`` (at least MIN_ROWS body rows; PAGE is the path under the HTML
  folder or just its file name), and by default ``09_verdict.html`` (when built)
  must have a table whose header mentions "verdict" with at least one body row,
- a code block or output (``pre``, ``div.highlight``, ``.cell_output``) whose text
  is wider than its box while neither it nor an enclosing element up to the
  content box scrolls horizontally (``overflow-x: auto|scroll``): the code is cut
  at the column edge, or runs over it; likewise a table, image or displayed
  equation wider than the column without a scrolling box around it,
- a page that scrolls sideways (content wider than the window), at either width,
- an image in the content with neither alt text nor a ``<figure>`` caption; an alt
  that is only the file's name (myst-nb's default for notebook outputs) is none,
- math left as TeX: ``$$``, ``\\(``, ``\\[`` or ``$...$`` in text outside code and
  outside the math elements; and, when MathJax loaded, its rendering errors
  (``mjx-merror``, ``.MathJax_Error``). When MathJax did not load (it comes from a
  CDN, which is blocked here), a note says how much math went unrendered.

Prints one line per problem, notes, and the summary
``browser check: N pages, M images, K problems``; exits 1 when K > 0.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
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
# (name, viewport) of the widths each page is looked at; the first is the one the
# page is loaded at, and the content checks run there
WIDTHS = [("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})]
# the table the verdict chapter must show (checked when the page exists)
DEFAULT_TABLES = [("09_verdict.html", 1, "verdict")]
EXCERPT = 80

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

# After a resize: let the layout happen, then wait for the theme's CSS transitions (its
# sidebars slide away below a width) to end, or the screenshot catches them half-way.
SETTLE_JS = """
async (timeoutMs) => {
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  await Promise.race([
    Promise.all(document.getAnimations()
      .filter((a) => !a.effect || a.effect.getComputedTiming().endTime !== Infinity)
      .map((a) => a.finished.catch(() => null))),
    new Promise((r) => setTimeout(r, Math.min(timeoutMs, 3000))),
  ]);
}
"""

# Shared by the two scripts below: the content box, and where an element is (its
# section's heading, and the first code line of its notebook cell).
_COMMON_JS = """
  const root = document.querySelector("article.bd-article") || document.querySelector("main")
    || document.body;
  const squash = (s) => s.replace(/\\s+/g, " ").trim();
  const heading = (el) => {
    for (let s = el.closest("section"); s; s = s.parentElement && s.parentElement.closest("section")) {
      const h = s.querySelector(":scope > h1, :scope > h2, :scope > h3, :scope > h4, :scope > h5, :scope > h6");
      if (h) return squash(h.textContent).replace(/\\s*[#¶]$/, "");
    }
    return "";
  };
  const where = (el) => {
    const cell = el.closest("div.cell");
    const src = cell && cell.querySelector(".cell_input pre");
    const code = src ? (src.textContent.split("\\n").map((l) => l.trim())
      .find((l) => l && !l.startsWith("#")) || "") : "";
    return {section: heading(el), code: code, output: !!el.closest(".cell_output")};
  };
"""

# What the reader sees in the content box: text outside code and math (grouped by the
# block it is in), the text of notebook outputs' <pre>, the tables, the images with
# their alt text and caption, and the state of MathJax.
CONTENT_JS = """
async (timeoutMs) => {
""" + _COMMON_JS + """
  const mj = window.MathJax;
  const mathLoaded = !!(mj && (mj.version || mj.Hub));
  if (mathLoaded && mj.startup && mj.startup.promise) {
    await Promise.race([Promise.resolve(mj.startup.promise).catch(() => null),
                        new Promise((r) => setTimeout(r, timeoutMs))]);
  }
  const SKIP = "pre, code, script, style, textarea, kbd, samp, tt, .math, mjx-container, "
    + ".MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_CHTML, .katex";
  const BLOCK = "p, li, dt, dd, th, td, h1, h2, h3, h4, h5, h6, caption, figcaption, "
    + "blockquote, div, section, article, main, body";
  const groups = new Map();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!parent || parent.closest(SKIP)) continue;
    const block = parent.closest(BLOCK) || root;
    if (!groups.has(block)) groups.set(block, []);
    groups.get(block).push(n.nodeValue);
  }
  const texts = [];
  for (const [block, parts] of groups) {
    const text = parts.join("");
    if (/[|$\\\\]/.test(text)) texts.push(Object.assign({text: text}, where(block)));
  }
  const outputPres = Array.from(root.querySelectorAll(".cell_output pre"))
    .filter((el) => el.textContent.includes("|"))
    .map((el) => Object.assign({text: el.textContent}, where(el)));
  const tables = Array.from(root.querySelectorAll("table")).map((t) => {
    const rows = Array.from(t.rows);
    let head = Array.from(t.tHead ? t.tHead.rows : []);
    if (!head.length && rows.length && rows[0].querySelector("th")
        && !rows[0].querySelector("td")) head = [rows[0]];
    const foot = Array.from(t.tFoot ? t.tFoot.rows : []);
    return {header: squash(head.map((r) => r.textContent).join(" ")),
            bodyRows: rows.length - head.length - foot.length};
  });
  const images = Array.from(root.querySelectorAll("img"))
    .filter((img) => img.getAttribute("aria-hidden") !== "true"
                     && img.getAttribute("role") !== "presentation")
    .map((img) => {
      const fig = img.closest("figure");
      const cap = fig && fig.querySelector("figcaption");
      return Object.assign({src: img.getAttribute("src") || "", alt: img.getAttribute("alt"),
                            caption: cap ? squash(cap.textContent) : ""}, where(img));
    });
  const mathErrors = Array.from(document.querySelectorAll("mjx-merror, .MathJax_Error, [data-mjx-error]"))
    .map((el) => squash(el.getAttribute("data-mjx-error") || el.getAttribute("title") || el.textContent));
  const mjScript = document.querySelector("script[src*='mathjax' i]");
  return {
    notebook: !!root.querySelector("div.cell"),
    texts: texts, outputPres: outputPres, tables: tables, images: images,
    math: root.querySelectorAll(".math, mjx-container, .MathJax").length,
    mathLoaded: mathLoaded, mathErrors: mathErrors,
    mathScript: mjScript ? mjScript.getAttribute("src") : "",
  };
}
"""

# Layout at the current width: boxes whose text is wider than the box with nothing
# scrolling sideways, things wider than the column, and a page that scrolls sideways.
LAYOUT_JS = """
() => {
""" + _COMMON_JS + """
  const rootRect = root.getBoundingClientRect();
  const label = (el) => el.tagName.toLowerCase()
    + Array.from(el.classList).slice(0, 2).map((c) => "." + c).join("");
  const ox = (el) => getComputedStyle(el).overflowX;
  const scrolls = (el) => ox(el) === "auto" || ox(el) === "scroll";
  const scrollBox = (el) => {
    for (let a = el; a; a = a.parentElement) {
      if (scrolls(a)) return true;
      if (a === root) break;
    }
    return false;
  };
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const longest = (el) => squash(el.textContent.split("\\n")
    .reduce((a, b) => (b.length > a.length ? b : a), ""));
  const cut = [];
  for (const el of root.querySelectorAll("pre, div.highlight, .cell_output")) {
    if (!shown(el) || el.scrollWidth <= el.clientWidth + 1 || scrollBox(el)) continue;
    cut.push(el);
  }
  const problems = cut.filter((el) => !cut.some((o) => o !== el && el.contains(o))).map((el) =>
    Object.assign({kind: "cut", what: label(el), overflow: ox(el), inner: el.scrollWidth,
                   box: el.clientWidth, text: longest(el)}, where(el)));
  for (const el of root.querySelectorAll("table, img, svg, video, iframe, div.math, mjx-container[display]")) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right <= rootRect.right + 1 && r.left >= rootRect.left - 1) continue;
    if (el.parentElement && scrollBox(el.parentElement)) continue;
    if (el.closest("pre, div.highlight")) continue;  // reported with its code block
    problems.push(Object.assign({kind: "wide", what: label(el), inner: Math.round(r.width),
                                 box: Math.round(rootRect.width), text: squash(el.textContent)
                                 || el.getAttribute("src") || ""}, where(el)));
  }
  const de = document.documentElement;
  const vw = de.clientWidth;
  const page = {scrollWidth: de.scrollWidth, width: vw, culprits: []};
  if (de.scrollWidth > vw + 1) {
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== de; a = a.parentElement) {
        if (ox(a) !== "visible") return true;
      }
      return false;
    };
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right <= vw + 1) continue;
      const p = el.parentElement;
      if (p && p !== document.body && p.getBoundingClientRect().right > vw + 1) continue;
      if (clipped(el) || getComputedStyle(el).position === "fixed") continue;
      page.culprits.push({what: label(el), right: Math.round(r.right),
                          text: squash(el.textContent).slice(0, 60)});
      if (page.culprits.length >= 3) break;
    }
  }
  return {problems: problems, page: page};
}
"""

# A Markdown table's separator row (|---|, |:--, and the en/em dashes that smart quotes
# make of -- and ---), and a row of cells
TABLE_SEP = re.compile(r"\|\s*:?[-\u2010-\u2015\u2212]+:?\s*\||\|\s*:-")
# TeX that MyST did not turn into math: $$, \( and \[ , \begin{...}, and $...$ (pandoc's
# rule: no space inside the dollars, no digit right after the closing one, so "$5 to $10"
# is not math)
RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\\begin\{"
                     r"|(?<![\\$\w])\$(?=[^\s$])[^$\n]{1,200}?(?<=[^\s$\\])\$(?![\w$])")
IMAGE_FILE = re.compile(r"\S+\.(?:png|jpe?g|gif|svg|webp|pdf)", re.IGNORECASE)


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


def excerpt(text: str, start: int = 0, width: int = EXCERPT) -> str:
    """``width`` characters of ``text`` from ``start``, white space squashed, quoted."""
    s = " ".join(text[start:].split())
    return '"' + (s if len(s) <= width else s[:width - 1] + "…") + '"'


def pipe_table_at(text: str, rows_needed: int = 1) -> int | None:
    """Where Markdown table syntax starts in ``text`` (None if there is none).

    That is a separator row (``|---|``, ``|—|``, ``|:--``) or ``rows_needed``
    consecutive lines with three or more ``|`` each.
    """
    m = TABLE_SEP.search(text)
    sep = None
    if m:  # the line the separator is on; the header row above it, if it has pipes
        sep = text.rfind("\n", 0, m.start()) + 1
        above = text.rfind("\n", 0, max(sep - 1, 0)) + 1
        if sep and "|" in text[above:sep]:
            sep = above
    run, pos, first = 0, 0, None
    for line in text.split("\n"):
        if line.count("|") >= 3:
            run += 1
            if run == 1:
                first = pos
            if run >= rows_needed:
                break
        else:
            run = 0
        pos += len(line) + 1
    rows = first if run >= rows_needed else None
    found = [i for i in (sep, rows) if i is not None]
    return min(found) if found else None


def alt_is_missing(alt: str | None, src: str) -> bool:
    """No alt text, or only the image's file name (myst-nb's default for an output)."""
    alt = (alt or "").strip()
    if not alt:
        return True
    def name(s: str) -> str:
        return unquote(urlsplit(s).path).rstrip("/").rsplit("/", 1)[-1]

    return alt == src or name(alt) == name(src) or bool(IMAGE_FILE.fullmatch(alt))


def where(item: dict) -> str:
    """' (in "8.1 Table 1"; cell "book.show(x)")' for a problem found in the content."""
    bits = []
    if item.get("section"):
        bits.append(f'in "{item["section"][:60]}"')
    if item.get("code"):
        code = item["code"] if len(item["code"]) <= 50 else item["code"][:49] + "…"
        bits.append(f'cell "{code}"')
    return f" ({'; '.join(bits)})" if bits else ""


def content_problems(info: dict) -> list[str]:
    """Problems in what one page shows (the result of CONTENT_JS)."""
    found = []
    for t in info["texts"]:
        at = pipe_table_at(t["text"])
        if at is not None:
            what = ("notebook output shows a Markdown table as text, not an HTML <table>"
                    if t["output"] else "Markdown table syntax shown as text")
            found.append(f"{what}{where(t)}: {excerpt(t['text'], at)}")
    for t in info["outputPres"]:
        at = pipe_table_at(t["text"], rows_needed=2)
        if at is not None:
            found.append(f"notebook output prints a pipe table, not an HTML <table>{where(t)}: "
                         f"{excerpt(t['text'], at)}")
    for img in info["images"]:
        if alt_is_missing(img["alt"], img["src"]) and not img["caption"]:
            alt = "" if img["alt"] is None else img["alt"]
            found.append(f"image without alt text or caption: {img['src']}"
                         f"{' (alt is just the file name)' if alt.strip() else ''}{where(img)}")
    for t in info["texts"]:
        m = RAW_TEX.search(t["text"])
        if m:
            found.append(f"TeX left unrendered in the text{where(t)}: "
                         f"{excerpt(t['text'], max(m.start() - 20, 0), 60)}")
    if info["mathLoaded"]:
        for err in dict.fromkeys(info["mathErrors"]):
            found.append(f"MathJax error: {excerpt(err, 0, 100)}")
    return found


def table_problems(rel: str, tables: list[dict], expectations: list[tuple[str, int, str]]) -> list[str]:
    """Problems with the tables the page is expected to show (page, min body rows, header word)."""
    found = []
    for page, min_rows, word in expectations:
        if not page_matches(rel, page):
            continue
        fit = [t for t in tables if word.lower() in t["header"].lower()]
        best = max((t["bodyRows"] for t in fit), default=None)
        about = f'a <table> whose header contains "{word}"' if word else "a <table>"
        if best is None:
            found.append(f"expected {about} with at least {min_rows} body row(s); "
                         f"{'none' if not tables else 'none of its ' + str(len(tables)) + ' tables fits'}")
        elif best < min_rows:
            found.append(f"expected {about} with at least {min_rows} body row(s); the largest has {best}")
    return found


def page_matches(rel: str, page: str) -> bool:
    page = page.strip("/")
    return rel == page or rel.endswith("/" + page)


def parse_expect_table(value: str) -> tuple[str, int, str]:
    page, sep, rows = value.rpartition(":")
    if not sep or not page or not rows.isdigit():
        raise argparse.ArgumentTypeError(f"expected PAGE:MIN_ROWS, e.g. 09_verdict.html:5; got {value!r}")
    return (page, int(rows), "")


def layout_problems(result: dict) -> dict[str, str]:
    """{key: message} for one width (the result of LAYOUT_JS); the key leaves out the sizes."""
    found = {}
    for p in result["problems"]:
        if p["kind"] == "cut":
            if p["overflow"] in ("hidden", "clip"):
                what = "code cut at the column edge" if not p["output"] else "output cut at the column edge"
            else:
                what = "code runs past its box" if not p["output"] else "output runs past its box"
            msg = (f"{what} ({p['what']}: {p['inner']} px of text in a {p['box']} px box, "
                   f"overflow-x {p['overflow']}, no horizontal scrolling){where(p)}: {excerpt(p['text'], 0, 60)}")
        else:
            msg = (f"{p['what']} wider than the column ({p['inner']} px in {p['box']} px) and not in a "
                   f"horizontally scrolling box{where(p)}: {excerpt(p['text'], 0, 60)}")
        found[f"{p['kind']} {p['what']} {p['text'][:200]} {p['section']}"] = msg
    page = result["page"]
    if page["scrollWidth"] > page["width"] + 1:
        who = "; ".join(f"{c['what']} reaches {c['right']} px {excerpt(c['text'], 0, 40)}"
                        for c in page["culprits"]) or "culprit not found"
        found["page scroll"] = (f"the page scrolls sideways ({page['scrollWidth']} px of content in a "
                                f"{page['width']} px window): {who}")
    return found


def screenshot_names(root: Path, pages: list[Path]) -> dict[Path, str]:
    """A PNG name per page: its file name, or its path with __ when two pages share a name."""
    stems = [p.stem for p in pages]
    return {p: (p.stem if stems.count(p.stem) == 1 else
                p.relative_to(root).as_posix().removesuffix(".html").replace("/", "__")) + ".png"
            for p in pages}


def check(root: Path, chromium: str, screenshot_dir: Path | None, file_urls: bool,
          timeout_s: float, expect_tables: list[tuple[str, int, str]] | None = None) -> int:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    pages = find_pages(root)
    if not pages:
        print(f"browser check: no HTML pages under {root}", file=sys.stderr)
        return 1
    if screenshot_dir:
        for name, _ in WIDTHS:
            (screenshot_dir / name).mkdir(parents=True, exist_ok=True)
    shot_names = screenshot_names(root, pages)
    rels = {p: p.relative_to(root).as_posix() for p in pages}
    expectations = list(expect_tables or [])
    for page, rows, word in expectations:
        if not any(page_matches(r, page) for r in rels.values()):
            print(f"  PROBLEM --expect-table {page}:{rows}: no such page in {root}")
            return 1
    expectations += [e for e in DEFAULT_TABLES if any(page_matches(r, e[0]) for r in rels.values())]

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
    notes: list[str] = []
    unrendered_math: list[str] = []
    math_script = ""
    n_images = 0
    n_external = 0
    n_shots = 0
    t0 = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=WIDTHS[0][1], service_workers="block")

            def route(r):
                nonlocal n_external
                if is_local(r.request.url, base):
                    r.continue_()
                else:
                    n_external += 1
                    r.abort("internetdisconnected")

            context.route("**/*", route)

            for path in pages:
                rel = rels[path]
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
                    if final.resolve() != path.resolve() and final.resolve() in {q.resolve() for q in pages}:
                        notes.append(f"{rel} redirects to {final.relative_to(root).as_posix()}"
                                     " (its content is checked there)")
                        continue

                    # what the page shows, at the first width
                    info = page.evaluate(CONTENT_JS, int(timeout_s * 1000))
                    found += content_problems(info)
                    found += table_problems(rel, info["tables"], expectations)
                    if info["math"] and not info["mathLoaded"]:
                        unrendered_math.append(f"{rel} ({info['math']} math elements)")
                        math_script = math_script or info["mathScript"]

                    # the layout at each width, and a screenshot
                    layout: dict[str, tuple[str, list[int]]] = {}
                    for i, (name, viewport) in enumerate(WIDTHS):
                        if i:
                            page.set_viewport_size(viewport)
                        page.evaluate(SETTLE_JS, int(timeout_s * 1000))
                        for key, msg in layout_problems(page.evaluate(LAYOUT_JS)).items():
                            layout.setdefault(key, (msg, []))[1].append(viewport["width"])
                        if screenshot_dir:
                            page.screenshot(path=str(screenshot_dir / name / shot_names[path]),
                                            full_page=True)
                            n_shots += 1
                    for msg, widths in layout.values():
                        found.append(f"{msg} [at {' and '.join(map(str, widths))} px]")
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

    if unrendered_math:
        host = urlsplit(math_script).netloc or math_script or "its script"
        notes.append(f"MathJax did not load (from {host}; external requests are blocked), so the math on "
                     f"{', '.join(unrendered_math)} is shown as TeX source here and was not checked for "
                     "rendering errors")
    for line in problems:
        print(f"  PROBLEM {line}")
    for line in notes:
        print(f"  NOTE {line}")
    shots = f", {n_shots} screenshots in {screenshot_dir}" if screenshot_dir else ""
    print(f"browser check: {len(pages)} pages, {n_images} images, {len(problems)} problems"
          f" ({n_external} external requests blocked{shots}, {time.perf_counter() - t0:.0f} s)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html_dir", nargs="?", default="_build/html", type=Path,
                    help="the built book (default: _build/html)")
    shots = ap.add_mutually_exclusive_group()
    shots.add_argument("--screenshot", metavar="DIR", type=Path,
                       help="save full-page PNGs of every page in DIR/desktop and DIR/phone "
                            "(default: screenshots beside HTML_DIR, e.g. _build/screenshots)")
    shots.add_argument("--no-screenshots", action="store_true", help="save no screenshots")
    ap.add_argument("--expect-table", metavar="PAGE:MIN_ROWS", action="append", default=[],
                    type=parse_expect_table,
                    help="require PAGE (e.g. 09_verdict.html) to show a <table> with at least "
                         "MIN_ROWS body rows (repeatable)")
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
    screenshot_dir = None if args.no_screenshots else (args.screenshot or root.parent / "screenshots")
    return check(root, args.chromium, screenshot_dir, args.file_urls, args.timeout, args.expect_table)


if __name__ == "__main__":
    sys.exit(main())
