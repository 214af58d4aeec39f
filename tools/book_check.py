"""Open the built book in headless Chromium and check what a reader would see.

    python tools/book_check.py [--html _build/html] [--screenshots build/screenshots] [--chromium PATH]

Every page of the book (each ``.html`` outside the ``_static``-like folders) must load with no console
error, its math must be typeset by MathJax (every Sphinx ``.math`` element holds an ``mjx-container``,
and no raw ``$$``, ``\\(`` or ``\\[`` is left in the visible text outside code), every ``<img>`` must
load (``naturalWidth > 0``), no line of code (a ``<pre>`` that is not a cell's output) may be wider
than 100 characters, and no request may leave the machine: every request whose URL is not
``file:``, ``data:``, ``blob:`` or ``about:`` is recorded, blocked and fails the check. Screenshots of
the intro, chapter 01 and the results summary (when the book has one) go to ``--screenshots``.

Drives the system Chromium (Debian's ``chromium``) through Playwright; no browser is downloaded.
Exits 0 when every check passes, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
MAX_CODE_WIDTH = 100  # characters a line of code the book shows without a scroll bar
REDIRECT = re.compile(
    r'<meta http-equiv="refresh"', re.IGNORECASE
)  # Sphinx's index.html -> the root page
# Pages to photograph: (screenshot name, page path inside the built site); a missing page is skipped.
SCREENSHOTS = (
    ("intro", "book/intro.html"),
    ("chapter01", "build/notebooks/01_gradient_suppression.html"),
    ("results", "book/results.html"),
)
# Chromium stays quiet offline: no background fetches of its own (updates, sync, safe browsing).
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in containers; the pages are the book's own files
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
# Waits for MathJax to finish typesetting (when the page loads it), then for every image to settle.
SETTLE_JS = """async () => {
  const timeout = new Promise(done => setTimeout(done, 20000));
  const settle = async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null :
    new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  };
  await Promise.race([settle(), timeout]);
}"""
# What the reader sees: math elements, untypeset ones, broken images, raw TeX in visible text and
# lines of code wider than ``maxWidth`` (cell outputs are printed results, not code).
INSPECT_JS = """(maxWidth) => {
  const math = [...document.querySelectorAll('.math')];
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !el.getClientRects().length) continue;
    const m = node.textContent.match(/\\$\\$|\\\\\\(|\\\\\\[/);
    if (m) raw.push(node.textContent.trim().slice(0, 60));
  }
  return {
    math: math.length,
    typeset: document.querySelectorAll('mjx-container').length,
    untypeset: math.filter(el => !el.querySelector('mjx-container')).length,
    images: document.images.length,
    broken: [...document.images].filter(img => !(img.complete && img.naturalWidth > 0))
                                .map(img => img.getAttribute('src')),
    raw: raw,
    wide: [...document.querySelectorAll('pre')].filter(pre => !pre.closest('.cell_output'))
          .flatMap(pre => pre.textContent.split('\\n')).filter(line => line.length > maxWidth)
          .map(line => `${line.length} characters: ${line.trim().slice(0, 50)}`),
  };
}"""


@dataclass
class Report:
    """What the check saw, summed over pages, and every problem as one readable line."""

    pages: int = 0
    math_pages: int = 0
    images: int = 0
    blocked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    not_photographed: list[str] = field(
        default_factory=list
    )  # screenshot pages the book does not have

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"book check: {self.pages} pages loaded, {self.math_pages} with math, "
            f"{self.images} images, {len(self.blocked)} requests blocked, "
            f"{len(self.problems)} problems"
        )


def book_pages(html: Path) -> list[Path]:
    """Every page of the built book: each .html file outside folders whose name starts with '_'."""
    return sorted(
        p
        for p in html.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html).parts[:-1])
    )


def check_page(
    context, path: Path, name: str, report: Report, screenshot: Path | None = None
) -> None:
    """Load one page in a fresh tab, add what it shows to ``report``; photograph it when asked."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught {exc}"))
    blocked_before = len(report.blocked)
    try:
        uri = path.resolve().as_uri()
        response = page.goto(uri, wait_until="load")
        if response is not None and not response.ok:
            report.problems.append(f"{name}: did not load ({response.status})")
        if REDIRECT.search(path.read_text(errors="replace")):
            page.wait_for_url(lambda url: url != uri, wait_until="load")
            if not page.url.startswith("file:"):
                report.problems.append(
                    f"{name}: redirects to a page that does not load ({page.url})"
                )
        page.evaluate(SETTLE_JS)
        seen = page.evaluate(INSPECT_JS, MAX_CODE_WIDTH)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            report.screenshots.append(screenshot)
    except Exception as exc:  # a page that cannot be opened or inspected is a failed page, named
        report.problems.append(f"{name}: did not load: {str(exc).splitlines()[0]}")
        page.close()
        return
    page.close()
    report.pages += 1
    report.images += seen["images"]
    if seen["math"]:
        report.math_pages += 1
    if seen["untypeset"] or (seen["math"] and not seen["typeset"]):
        report.problems.append(
            f"{name}: {seen['untypeset']} of {seen['math']} math elements not typeset by MathJax"
        )
    for text in seen["raw"]:
        report.problems.append(f"{name}: raw TeX left in the text: {text!r}")
    for line in seen["wide"]:
        report.problems.append(
            f"{name}: a line of code wider than {MAX_CODE_WIDTH} characters ({line})"
        )
    for src in seen["broken"]:
        report.problems.append(f"{name}: image did not load: {src}")
    for url in report.blocked[blocked_before:]:
        report.problems.append(f"{name}: request leaves the machine (blocked): {url}")
    for text in errors:
        if "net::ERR_FAILED" in text and len(report.blocked) > blocked_before:
            continue  # the console's echo of a request blocked above
        report.problems.append(f"{name}: console error: {text}")


def check_book(html: Path, screenshots: Path | None, chromium: str) -> Report:
    """Open every page of the book at ``html`` in one headless Chromium and check it."""
    from playwright.sync_api import sync_playwright

    report = Report()
    pages = book_pages(html)
    if not pages:
        report.problems.append(f"no .html pages under {html}: build the book first (make html)")
        return report
    shots = (
        {html / rel: screenshots / f"{name}.png" for name, rel in SCREENSHOTS}
        if screenshots
        else {}
    )
    report.not_photographed = [str(path.relative_to(html)) for path in shots if not path.is_file()]

    def route(request_route):
        url = request_route.request.url
        if url.startswith(LOCAL_SCHEMES):
            request_route.continue_()
        else:
            report.blocked.append(url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", route)
        for path in pages:
            check_page(context, path, str(path.relative_to(html)), report, shots.get(path))
        browser.close()
    return report


def find_chromium(given: str | None) -> str:
    """The Chromium executable: ``given``, else ``chromium`` on PATH; a clear error otherwise."""
    found = shutil.which(given or "chromium")
    if found is None:
        raise SystemExit(
            f"book check: no Chromium at {given or 'chromium'!r}: install Debian's chromium "
            "(make chromium) or pass --chromium PATH"
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"), help="the built book")
    parser.add_argument("--screenshots", type=Path, default=Path("build/screenshots"))
    parser.add_argument("--chromium", help="Chromium executable (default: chromium on PATH)")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    start = time.perf_counter()
    report = check_book(args.html, args.screenshots, chromium)
    print(f"{report.summary()} ({time.perf_counter() - start:.1f} s)")
    for shot in report.screenshots:
        print(f"screenshot: {shot}")
    for page in report.not_photographed:
        print(f"no screenshot: the book has no {page}")
    for problem in report.problems:
        print(f"FAIL {problem}")
    if not report.ok:
        print(f"book check failed: {len(report.problems)} problems (listed above)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
