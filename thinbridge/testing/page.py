"""The search page used as a person would use it, in headless Chromium (Playwright).

:func:`walk` opens a running ``thinbridge serve`` page, types a mechanism text, submits it and
waits for the result cards and their drawings; then switches to SMILES mode, types a SMILES and
waits for the mechanism texts. It returns what it saw (cards, their scores, atoms drawn in each
``<svg>``, the texts, JavaScript errors, failed or outside requests, sideways scrolling) for the
caller to judge, and takes screenshots at the widths given. Requests to any other host are
aborted (the page must work offline). Chromium is launched as ``scripts/check_browser.py`` does.
"""
from __future__ import annotations

from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--mute-audio"]
TEXT_QUERY = "HMG-CoA reductase inhibitor"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
#: (name, viewport) of the screenshots: a phone, a laptop, a projector
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900},
          "projector": {"width": 1920, "height": 1080}}

CARDS_JS = """() => [...document.querySelectorAll('#results .card.hit')].map(c => ({
  rank: c.querySelector('.rank')?.textContent, score: c.querySelector('.score')?.textContent,
  name: c.querySelector('.name')?.textContent || '', text: c.querySelector('.text')?.textContent || '',
  svgs: c.querySelectorAll('svg').length,
  atoms: c.querySelectorAll("svg path[class*='atom-'], svg text, svg ellipse").length,
  mechanisms: [...c.querySelectorAll('.mechs li')].map(li => li.textContent)}))"""
OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


def walk(base: str, chromium: str, screenshots: dict[str, Path] | None = None, text_query: str = TEXT_QUERY,
         smiles: str = ASPIRIN, timeout_s: float = 30, smiles_screenshot: Path | None = None) -> dict:
    """Use the page at ``base``; ``screenshots`` maps names of :data:`WIDTHS` to PNG paths to write
    (the text results at that width), ``smiles_screenshot`` is the SMILES results at desktop width.
    Returns what was seen."""
    from playwright.sync_api import sync_playwright

    seen = {"errors": [], "outside": [], "failed": [], "overflow": {}}
    ms = int(timeout_s * 1000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=WIDTHS["desktop"], service_workers="block")

            def route(r):
                if r.request.url.startswith((base, "data:")):
                    r.continue_()
                else:
                    seen["outside"].append(r.request.url)
                    r.abort("internetdisconnected")

            context.route("**/*", route)
            page = context.new_page()
            def error(text):
                if text not in seen["errors"]:
                    seen["errors"].append(text)

            page.on("pageerror", lambda e: error(str(e)))
            page.on("console", lambda m: m.type == "error" and error(m.text))
            page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url}: {r.failure}"))
            page.goto(base, wait_until="load", timeout=ms)
            page.wait_for_function("() => !document.getElementById('bridge').textContent.startsWith('Loading')",
                                   timeout=ms)
            seen["header"] = page.inner_text("header")
            seen["book_link"] = page.get_attribute("#book-link", "href")

            page.fill("#q", text_query)
            page.press("#q", "Enter")
            page.wait_for_function("() => { const c = document.querySelectorAll('#results .card.hit'); return "
                                   "c.length > 0 && [...c].every(x => x.querySelector('svg')); }", timeout=ms)
            seen["text_status"] = page.inner_text("#status")
            seen["text_cards"] = page.evaluate(CARDS_JS)
            for name, path in (screenshots or {}).items():
                page.set_viewport_size(WIDTHS[name])
                page.wait_for_timeout(200)
                seen["overflow"][name] = page.evaluate(OVERFLOW_JS)
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=False)
            page.set_viewport_size(WIDTHS["phone"])
            seen["overflow"].setdefault("phone", page.evaluate(OVERFLOW_JS))
            page.set_viewport_size(WIDTHS["desktop"])

            page.check("input[name=mode][value=smiles]")
            page.fill("#q", smiles)
            page.click("#go")
            page.wait_for_function("() => document.querySelectorAll('#results .text-card').length > 0 && "
                                   "document.querySelector('#query-molecule svg')", timeout=ms)
            seen["smiles_status"] = page.inner_text("#status")
            seen["smiles_cards"] = page.evaluate(CARDS_JS)
            if smiles_screenshot:
                page.screenshot(path=str(smiles_screenshot), full_page=False)
            seen["url"] = page.url
        finally:
            browser.close()
    return seen
