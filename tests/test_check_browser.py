"""scripts/check_browser.py on tiny fake books: what it reports about the rendered content.

The text helpers are tested directly; the browser tests open two fake built books (one with
a Markdown table left as text, code cut at its box's edge and other faults; one clean) in
headless Chromium. They need Chromium (/usr/bin/chromium or $CHROMIUM) and Playwright,
and are skipped without them. Nothing here uses the network: the pages are served on
127.0.0.1 by the script's own server, which it stops at the end.
"""
from __future__ import annotations

import argparse
import base64
import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_browser", ROOT / "scripts" / "check_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cb = _load_checker()

needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() or importlib.util.find_spec("playwright") is None,
    reason=f"needs Chromium at {CHROMIUM} (or $CHROMIUM) and the playwright package",
)


def _page(body: str, title: str = "Page") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><main><article class='bd-article'><section><h1>{title}</h1>{body}"
            f"</section></article></main></body></html>")


def _book(html: Path, page_body: str) -> Path:
    html.mkdir(parents=True)
    (html / "index.html").write_text(_page("<p>Start here: <a href='page.html'>the page</a>.</p>", "Index"))
    (html / "page.html").write_text(_page(page_body))
    (html / "plot.png").write_bytes(PNG)
    return html


LONG_LINE = "x = " + "1234567890" * 30  # 304 characters, far wider than 200 px

# ---------------------------------------------------------------- the text helpers


def test_pipe_table_found_in_text():
    assert cb.pipe_table_at("| a | b |\n|---|---|\n| 1 | 2 |") == 0
    assert cb.pipe_table_at("intro\n| a | b |\n|\u2014|\u2014|\n| 1 | 2 |") == 6  # smart dashes
    assert cb.pipe_table_at("| a | b |\n|:--|--:|") == 0
    assert cb.pipe_table_at("one | two | three | four") == 0
    assert cb.pipe_table_at("either a | b, or c | d") is None  # two pipes: prose
    assert cb.pipe_table_at("100%|#####| 10/10") is None
    # in an output's <pre>: two rows of cells, or a separator
    assert cb.pipe_table_at("| a | b |\n| 1 | 2 |", rows_needed=2) == 0
    assert cb.pipe_table_at("one | row | only |", rows_needed=2) is None


def test_raw_tex_found_in_text():
    found = lambda s: cb.RAW_TEX.search(s) is not None
    assert found("the loss $L = \\sum_i x_i$ is") and found("$$x$$") and found("\\(x\\)")
    assert found("with $x$ and") and found("\\begin{align}")
    assert not found("it cost $5 to $10") and not found("US$ 30") and not found("no math here")


def test_alt_that_is_only_the_file_name_counts_as_missing():
    src = "../_images/b0b61de7.png"
    assert cb.alt_is_missing(None, src) and cb.alt_is_missing("  ", src)
    assert cb.alt_is_missing(src, src) and cb.alt_is_missing("b0b61de7.png", src)
    assert cb.alt_is_missing("figure.svg", src)
    assert not cb.alt_is_missing("Recall@1 against the temperature", src)


def test_expect_table_argument():
    assert cb.parse_expect_table("09_verdict.html:5") == ("09_verdict.html", 5, "")
    with pytest.raises(argparse.ArgumentTypeError):
        cb.parse_expect_table("09_verdict.html")
    tables = [{"header": "claim verdict evidence", "bodyRows": 3}]
    assert cb.table_problems("book/09_verdict.html", tables, [("09_verdict.html", 1, "verdict")]) == []
    assert cb.table_problems("book/09_verdict.html", tables, [("09_verdict.html", 4, "")])
    assert cb.table_problems("book/09_verdict.html", [], [("09_verdict.html", 1, "verdict")])
    assert cb.table_problems("book/other.html", [], [("09_verdict.html", 1, "verdict")]) == []


# ---------------------------------------------------------------- in the browser


@needs_browser
def test_browser_check_reports_what_a_reader_would_see(tmp_path, capsys):
    html = _book(tmp_path / "bad", (
        "<p>| a | b |\n|---|---|\n| 1 | 2 |</p>"
        f"<pre style='overflow:hidden; width:200px'>{LONG_LINE}</pre>"
        "<p>The loss is $L = x^2$ here.</p>"
        "<img src='plot.png' alt='plot.png'>"
    ))
    rc = cb.main([str(html), "--no-screenshots", "--chromium", CHROMIUM,
                  "--expect-table", "page.html:1"])
    out = capsys.readouterr().out
    assert rc == 1, out
    problems = [line for line in out.splitlines() if "PROBLEM" in line]
    assert all(line.split("PROBLEM ")[1].startswith("page.html: ") for line in problems), out
    assert any("Markdown table syntax shown as text" in p and "| a | b |" in p for p in problems), out
    assert any("code cut at the column edge" in p and "overflow-x hidden" in p for p in problems), out
    assert any("TeX left unrendered" in p and "$L = x^2$" in p for p in problems), out
    assert any("image without alt text or caption: plot.png" in p for p in problems), out
    assert any("expected a <table> with at least 1 body row" in p for p in problems), out
    assert len(problems) == 5, out
    assert not (tmp_path / "bad" / "screenshots").exists()


@needs_browser
def test_browser_check_passes_a_clean_page_and_saves_screenshots(tmp_path, capsys):
    html = _book(tmp_path / "clean" / "_build" / "html", (
        "<table><thead><tr><th>claim</th><th>verdict</th></tr></thead>"
        "<tbody><tr><td>a</td><td>confirmed</td></tr><tr><td>b</td><td>refuted</td></tr></tbody></table>"
        f"<pre style='overflow-x:auto; width:200px'>{LONG_LINE}</pre>"
        "<p>A price of $5 to $10, and a pipe: a | b.</p>"
        "<figure><img src='plot.png' alt=''><figcaption>Figure 1: one pixel.</figcaption></figure>"
        "<img src='plot.png' alt='One white pixel'>"
    ))
    rc = cb.main([str(html), "--chromium", CHROMIUM, "--expect-table", "page.html:2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 pages, 2 images, 0 problems" in out
    shots = tmp_path / "clean" / "_build" / "screenshots"  # the default: beside the HTML
    for width in ("desktop", "phone"):
        for name in ("index.png", "page.png"):
            assert (shots / width / name).stat().st_size > 0
