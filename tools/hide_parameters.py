"""Hide papermill's parameter cells in the book: tag every cell tagged ``parameters`` or
``injected-parameters`` ``remove-cell`` too (papermill cannot tag the cell it injects). The injected
cell also loses the final newline papermill writes, which ruff's formatter (make lint) removes.

Usage: python tools/hide_parameters.py NOTEBOOK.ipynb...   (rewrites each notebook in place)
"""

import sys

import nbformat

PARAMETER_TAGS = {"parameters", "injected-parameters"}


def hide_parameters(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if PARAMETER_TAGS & set(tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if "injected-parameters" in tags:
            cell.source = cell.source.rstrip("\n")
    nbformat.write(nb, path)


if __name__ == "__main__":
    for notebook in sys.argv[1:]:
        hide_parameters(notebook)
