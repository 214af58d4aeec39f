"""The committed notebooks are the golden quick-profile runs: they must carry their outputs."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dglnb import paper
from dglnb.paths import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def golden_problems(path: Path) -> list[str]:
    """Why ``path`` is not a usable golden notebook (empty when it is)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    problems = []
    if (
        not code
        or "parameters" not in code[0].metadata.get("tags", [])
        or "profile" not in code[0].source
    ):
        problems.append("the first code cell must be tagged 'parameters' and set `profile`")
    unexecuted = [i for i, c in enumerate(code) if c.execution_count is None]
    if unexecuted:
        problems.append(f"{len(unexecuted)} code cell(s) have no stored outputs")
    if any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])):
        problems.append("a cell stored an error")
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    if any('profile = "quick"' not in c.source for c in injected):
        problems.append("it was executed with a profile other than quick")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_a_golden_quick_run(path):
    problems = golden_problems(path)
    assert not problems, (
        f"{path.name}: {'; '.join(problems)}. Run `make golden` and commit the notebook."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_in_the_book(path):
    assert f"build/notebooks/{path.stem}" in (repo_root() / "_toc.yml").read_text()


def test_a_notebook_without_outputs_is_caught(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert golden_problems(tmp_path / "x.ipynb") == ["2 code cell(s) have no stored outputs"]


# ----------------------------------------------------------------------------- numbers in prose
GLUED = re.compile(r"\{glue:[a-z]+\}`[^`]*`")  # myst-nb glue roles: the number comes from the run
NOT_PROSE = re.compile(
    r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`|\]\([^)]*\)|§\s*\d+(\.\d+)*", re.S
)  # math, code, links, §
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*%|(?<![\w.])\d+\.\d+(?![\w.])")


def paper_numbers() -> set[str]:
    """Every number of dglnb.paper as printed (two decimals), and with one."""
    values: list[float] = []

    def collect(x):
        if isinstance(x, dict):
            for v in x.values():
                collect(v)
        elif isinstance(x, (tuple, list)):
            for v in x:
                collect(v)
        elif isinstance(x, float):
            values.append(x)

    for name in dir(paper):
        if name.isupper():
            collect(getattr(paper, name))
    return {f"{v:.2f}" for v in values} | {f"{v:.1f}" for v in values}


def unglued_numbers(markdown: str, allowed: set[str]) -> list[str]:
    """Decimal numbers and percentages in ``markdown`` that are neither glued nor the paper's."""
    prose = NOT_PROSE.sub(" ", GLUED.sub(" ", markdown))
    found = [m.group(0) for m in NUMBER.finditer(prose)]
    return [n for n in found if n.rstrip(" %") not in allowed]


def test_prose_number_check_catches_typed_results_and_allows_glue_paper_and_math():
    allowed = {"77.48"}
    text = (
        "DGL reaches {glue:text}`dgl_acc:.1f` % against the paper's 77.48 %; $x = 0.5$, `lr=0.01`, §3.1. "
        "Vanilla gets 87.9 %, a gain of 4 %."
    )
    assert unglued_numbers(text, allowed) == ["87.9 %", "4 %"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_in_prose_are_glued_from_the_run_or_the_papers(path):
    nb = nbformat.read(path, as_version=4)
    allowed = paper_numbers()
    typed = [
        n for c in nb.cells if c.cell_type == "markdown" for n in unglued_numbers(c.source, allowed)
    ]
    assert not typed, (
        f"{path.name} types these numbers in its prose; glue them from the run: {typed}"
    )


# ----------------------------------------------------------------------------- the book as read
MAX_CODE_WIDTH = 100  # characters a line of code the book shows without a scroll bar


def long_code_lines(path: Path) -> list[str]:
    """Every line of a code cell of ``path`` (shown in the book or not) longer than MAX_CODE_WIDTH."""
    nb = nbformat.read(path, as_version=4)
    return [
        f"cell {i}: {line.strip()[:40]}... ({len(line)} characters)"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > MAX_CODE_WIDTH
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_page(path):
    assert not long_code_lines(path), "\n".join(long_code_lines(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameter_cells_are_hidden_in_the_book(path):
    nb = nbformat.read(path, as_version=4)
    parameters = [
        c
        for c in nb.cells
        if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))
    ]
    assert parameters and all("remove-cell" in c.metadata["tags"] for c in parameters)


def test_hide_parameters_tags_papermills_cells_remove_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            '# Parameters\nprofile = "full"\n', metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nbformat.write(nb, tmp_path / "x.ipynb")
    script = repo_root() / "tools" / "hide_parameters.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "x.ipynb")], check=True)
    cells = nbformat.read(tmp_path / "x.ipynb", as_version=4).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    assert tags == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], []]
    assert cells[1].source == '# Parameters\nprofile = "full"'  # as ruff's formatter leaves it
