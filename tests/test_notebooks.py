"""The committed notebooks are the golden quick-profile runs: they must carry their outputs."""

from pathlib import Path

import nbformat
import pytest

from dglnb.paths import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def golden_problems(path: Path) -> list[str]:
    """Why ``path`` is not a usable golden notebook (empty when it is)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    problems = []
    if not code or "parameters" not in code[0].metadata.get("tags", []) or "profile" not in code[0].source:
        problems.append("the first code cell must be tagged 'parameters' and set `profile`")
    unexecuted = [i for i, c in enumerate(code) if c.execution_count is None]
    if unexecuted:
        problems.append(f"{len(unexecuted)} code cell(s) have no stored outputs")
    if any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])):
        problems.append("a cell stored an error")
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    if any("profile = \"quick\"" not in c.source for c in injected):
        problems.append("it was executed with a profile other than quick")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_a_golden_quick_run(path):
    problems = golden_problems(path)
    assert not problems, f"{path.name}: {'; '.join(problems)}. Run `make golden` and commit the notebook."


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
