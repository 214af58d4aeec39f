"""tools/book_check.py fails on what a reader would see broken, and names it.

Runs tiny pages in the system Chromium; skipped where Chromium or Playwright is missing (`make test`
installs Chromium before the unit tests).
"""

import base64
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (make chromium installs Debian's)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="playwright is not installed"
    ),
]
# A 1x1 PNG, written next to the pages so that a local image really loads.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII="
)


def load_book_check():
    spec = importlib.util.spec_from_file_location("book_check", ROOT / "tools" / "book_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["book_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


book_check = load_book_check()


def check(tmp_path, body, **files):
    """Build a one-page site whose page has ``body`` (plus ``files``), run the check over it."""
    (tmp_path / "page.html").write_text(f"<!DOCTYPE html><html><body>{body}</body></html>")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return book_check.check_book(tmp_path, None, CHROMIUM)


def test_a_clean_page_with_a_local_image_passes(tmp_path):
    report = check(
        tmp_path,
        '<p>No math here.</p><pre>code may say $$ or \\(</pre><img src="pixel.png">',
        **{"pixel.png": PIXEL},
    )
    assert report.problems == []
    assert (report.pages, report.images, report.math_pages, report.blocked) == (1, 1, 0, [])


def test_a_line_of_code_wider_than_100_characters_fails_but_a_wide_output_does_not(tmp_path):
    wide = "x" * 101
    report = check(
        tmp_path, f'<pre>{"y" * 100}\n{wide}</pre><div class="cell_output"><pre>{wide}</pre></div>'
    )
    assert report.problems == [
        f"page.html: a line of code wider than 100 characters (101 characters: {wide[:50]})"
    ]


def test_a_remote_image_is_blocked_named_and_fails(tmp_path):
    report = check(tmp_path, '<img src="https://example.org/figure.png">')
    assert report.blocked == ["https://example.org/figure.png"]
    assert (
        "page.html: request leaves the machine (blocked): https://example.org/figure.png"
        in report.problems
    )
    assert "page.html: image did not load: https://example.org/figure.png" in report.problems


def test_raw_display_math_in_the_text_fails(tmp_path):
    report = check(tmp_path, "<p>$$x^2$$</p>")
    assert report.problems == ["page.html: raw TeX left in the text: '$$x^2$$'"]


def test_math_that_mathjax_did_not_typeset_fails(tmp_path):
    report = check(tmp_path, '<span class="math notranslate nohighlight">\\(\\alpha\\)</span>')
    assert report.math_pages == 1
    assert "page.html: 1 of 1 math elements not typeset by MathJax" in report.problems


def test_a_missing_local_image_and_a_console_error_fail(tmp_path):
    report = check(tmp_path, '<img src="gone.png"><script>console.error("boom")</script>')
    assert "page.html: image did not load: gone.png" in report.problems
    assert "page.html: console error: boom" in report.problems


def test_pages_are_the_book_s_not_its_static_files(tmp_path):
    for rel in ("index.html", "book/intro.html", "_static/x.html", "_sources/y.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>")
    assert [p.relative_to(tmp_path).as_posix() for p in book_check.book_pages(tmp_path)] == [
        "book/intro.html",
        "index.html",
    ]


def test_an_empty_build_fails_with_what_to_do(tmp_path):
    report = book_check.check_book(tmp_path, None, CHROMIUM)
    assert report.problems == [f"no .html pages under {tmp_path}: build the book first (make html)"]


def test_screenshots_are_written_and_missing_pages_listed(tmp_path):
    site = tmp_path / "html"
    (site / "book").mkdir(parents=True)
    (site / "book" / "intro.html").write_text("<html><body><h1>Intro</h1></body></html>")
    report = book_check.check_book(site, tmp_path / "shots", CHROMIUM)
    assert report.screenshots == [tmp_path / "shots" / "intro.png"]
    assert (tmp_path / "shots" / "intro.png").read_bytes().startswith(b"\x89PNG")
    assert report.not_photographed == [
        "build/notebooks/01_gradient_suppression.html",
        "book/results.html",
    ]
