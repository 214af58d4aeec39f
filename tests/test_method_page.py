"""book/method.md shows, for each of the paper's eq. 1-15, the lines of dglnb that compute it.

Every ``literalinclude`` on the page is preceded by a comment naming the code it must show::

    % shows: `z.detach()` `loss_multi = model.loss(model.fuse(`
    ```{literalinclude} ../src/dglnb/methods/dgl.py
    :start-after: "[eq. 9-10]"
    :end-before: "[/eq. 9-10]"
    ```

An include selects a whole function or method (``:pyobject:``) or the lines between a pair of
marker comments in the source (``# [eq. 9-10]`` ... ``# [/eq. 9-10]``), never line numbers. The
lines are selected with Sphinx's own reader, exactly as the book renders them, and must contain
every fragment the comment names: moving a marker, editing the code away from what the page says
or renaming the object makes these tests fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from sphinx.directives.code import LiteralIncludeReader

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "method.md"
PACKAGE = ROOT / "src" / "dglnb"
MAX_MARKED_LINES = 12  # "the few lines that implement it"
MAX_OBJECT_LINES = 40

INCLUDE = re.compile(
    r"^% shows: (?P<shows>.+)\n```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)```$",
    re.M,
)
OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")
MARKER = re.compile(r"#\s*\[(/?)(eq\. [0-9]+(?:-[0-9]+)?)\]")
SECTION = re.compile(r"^## Eq\. (\d+)(?:[–-](\d+))?:", re.M)
CHAPTER_LINK = re.compile(r"\]\(\.\./build/notebooks/([\w-]+)\.ipynb\)")


def page_includes(text: str) -> list[dict]:
    """Each include on the page: its source file, its options and the code it must show."""
    found = []
    for match in INCLUDE.finditer(text):
        options = {}
        for line in match["options"].splitlines():
            name, value = OPTION.match(line).groups()
            options[name] = value.strip().strip('"')
        found.append(
            {
                "path": (PAGE.parent / match["path"]).resolve(),
                "options": options,
                "shows": re.findall(r"`([^`]+)`", match["shows"]),
                "line": text[: match.start()].count("\n") + 2,
            }
        )
    return found


def included_lines(include: dict) -> str:
    """The text the book shows for ``include``, selected by Sphinx's literalinclude reader."""
    selecting = ("pyobject", "start-after", "end-before", "dedent")
    options = {k: v for k, v in include["options"].items() if k in selecting}
    if "dedent" in options:
        options["dedent"] = int(options["dedent"])
    reader = LiteralIncludeReader(
        str(include["path"]), options, SimpleNamespace(source_encoding="utf-8")
    )
    return reader.read()[0]


MAX_LINE_CHARS = 100  # code in the book, as for the notebooks
TEXT = PAGE.read_text(encoding="utf-8")
INCLUDES = page_includes(TEXT)
IDS = [
    f"line {i['line']}: {i['options'].get('pyobject') or i['options'].get('start-after')}"
    for i in INCLUDES
]


def test_every_include_names_the_code_it_must_show():
    assert len(INCLUDES) == TEXT.count("{literalinclude}"), (
        "an include without a '% shows:' comment above it"
    )
    assert all(i["shows"] for i in INCLUDES), "a '% shows:' comment with no `code` fragment"


@pytest.mark.parametrize("include", INCLUDES, ids=IDS)
def test_include_selects_by_object_or_by_a_pair_of_markers(include):
    options = include["options"]
    assert "lines" not in options and "start-at" not in options and "end-at" not in options
    assert ("pyobject" in options) != ("start-after" in options), (
        "select by :pyobject: or by markers"
    )
    if "start-after" in options:
        start, end = options["start-after"], options["end-before"]
        assert MARKER.fullmatch(f"# {start}") and end == start.replace("[", "[/", 1)
        source = include["path"].read_text(encoding="utf-8").splitlines()
        starts = [n for n, line in enumerate(source) if start in line]
        ends = [n for n, line in enumerate(source) if end in line]
        assert len(starts) == 1, (
            f"{start} marks {len(starts)} lines of {include['path'].name}, not one"
        )
        assert len(ends) == 1, f"{end} marks {len(ends)} lines of {include['path'].name}, not one"
        assert starts[0] < ends[0], f"{end} comes before {start}"


@pytest.mark.parametrize("include", INCLUDES, ids=IDS)
def test_included_lines_contain_the_code_the_page_names(include):
    shown = included_lines(include)
    limit = MAX_OBJECT_LINES if "pyobject" in include["options"] else MAX_MARKED_LINES
    assert 0 < len(shown.splitlines()) <= limit
    missing = [code for code in include["shows"] if code not in shown]
    assert missing == [], f"{include['path'].name} no longer shows {missing} here:\n{shown}"


@pytest.mark.parametrize("include", INCLUDES, ids=IDS)
def test_included_code_fits_the_page(include):
    wide = [line for line in included_lines(include).splitlines() if len(line) > MAX_LINE_CHARS]
    assert wide == [], (
        f"lines of {include['path'].name} wider than {MAX_LINE_CHARS} characters on the page: {wide}"
    )


def test_every_marker_in_the_package_is_paired_and_on_the_page():
    used = {
        (i["path"], i["options"]["start-after"]) for i in INCLUDES if "start-after" in i["options"]
    }
    marked = set()
    for path in PACKAGE.rglob("*.py"):
        opened: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            for closing, name in MARKER.findall(line):
                if closing:
                    assert opened and opened.pop() == name, (
                        f"{path.name}: [/{name}] without [{name}]"
                    )
                else:
                    opened.append(name)
                    marked.add((path.resolve(), f"[{name}]"))
        assert opened == [], f"{path.name}: {opened} never closed"
    assert marked == used, "markers in the package and includes on the page differ"


def test_every_equation_from_1_to_15_has_exactly_one_section():
    covered = []
    for first, last in SECTION.findall(TEXT):
        covered += range(int(first), int(last or first) + 1)
    assert sorted(covered) == list(range(1, 16))


def test_every_equation_section_links_a_chapter_of_the_book():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    sections = SECTION.split(TEXT)[1:]
    for body in sections[2::3]:
        chapters = CHAPTER_LINK.findall(body.split("\n## ")[0])
        assert chapters, f"a section links no chapter: {body[:60]!r}"
        for chapter in chapters:
            assert (ROOT / "notebooks" / f"{chapter}.ipynb").is_file()
            assert f"file: build/notebooks/{chapter}\n" in toc
