"""The book's API reference (book/api.md, book/api/*.md) covers the whole package, public API first."""

import os
import pkgutil
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import dglnb

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "book" / "api.md", *sorted((ROOT / "book" / "api").glob("*.md"))]
MODULES = ["dglnb", *(m.name for m in pkgutil.walk_packages(dglnb.__path__, "dglnb."))]


def autosummary_entries(text: str) -> list[str]:
    """The names listed under every ``.. autosummary::`` of a page, without a leading ``~``."""
    blocks = re.findall(r"\.\. autosummary::\n\n((?:   \S.*\n)+)", text)
    return [line.strip().lstrip("~") for block in blocks for line in block.splitlines()]


def test_the_api_page_lists_every_public_name_where_it_is_documented():
    listed = autosummary_entries((ROOT / "book" / "api.md").read_text())
    public = [
        name for name in dglnb.__all__ if name != "__version__"
    ]  # the version is not an API entry
    wanted = [f"{getattr(dglnb, name).__module__}.{name}" for name in public] + [
        "dglnb.train.run.train"
    ]
    assert [name for name in wanted if name not in listed] == []


def test_every_listed_name_exists():
    listed = autosummary_entries((ROOT / "book" / "api.md").read_text())
    for name in listed:
        module, _, attr = name.rpartition(".")
        assert name in MODULES or hasattr(import_module(module), attr), name


def test_every_module_is_documented_once_on_a_page_of_the_book():
    text = "".join(page.read_text() for page in PAGES)
    documented = re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.MULTILINE)
    assert sorted(documented) == sorted(MODULES)
    toc = (ROOT / "_toc.yml").read_text()
    assert [
        p.name for p in PAGES if f"file: {p.relative_to(ROOT).with_suffix('')}\n" not in toc
    ] == []


def test_importing_every_module_trains_nothing_and_writes_nothing(tmp_path):
    """The book's autodoc imports every module: that must not run anything or write a file."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DGLNB_CACHE": str(tmp_path / "cache"),
        "DGLNB_RUNS": str(tmp_path / "runs"),
    }
    code = f"import importlib\nfor m in {MODULES!r}: importlib.import_module(m)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["cwd"]
