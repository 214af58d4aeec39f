"""How to cite and under which licence: CITATION.cff names the paper first, the package says MIT."""

import re
import tomllib

import yaml

import dglnb
from dglnb.paths import repo_root


def test_the_citation_file_prefers_the_paper_and_names_the_project_as_the_software():
    cff = yaml.safe_load((repo_root() / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    assert cff["version"] == dglnb.__version__ and "dglnb" in cff["title"]
    paper = cff["preferred-citation"]
    assert (paper["type"], paper["year"]) == ("conference-paper", 2025)
    assert "ICCV" in paper["collection-title"]
    assert paper["title"] == "Boosting Multimodal Learning via Disentangled Gradient Learning"
    assert [(a["family-names"], a["given-names"]) for a in paper["authors"]] == [
        ("Wei", "Shicai"),
        ("Luo", "Chunbo"),
        ("Luo", "Yang"),
    ]


def test_the_citation_file_and_the_books_bibliography_name_the_same_paper():
    paper = yaml.safe_load((repo_root() / "CITATION.cff").read_text())["preferred-citation"]
    bib = (repo_root() / "book" / "references.bib").read_text()
    entry = re.search(r"@inproceedings\{wei2025dgl,(.*?)\n\}", bib, re.S).group(1)
    fields = dict(re.findall(r"(\w+)\s*=\s*\{(.*)\}", entry))
    assert fields["title"] == paper["title"] and int(fields["year"]) == paper["year"]
    names = [f"{a['family-names']}, {a['given-names']}" for a in paper["authors"]]
    assert fields["author"] == " and ".join(names)


def test_the_package_is_mit_licensed_with_the_licence_text_beside_it():
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    assert (project["license"], project["license-files"]) == ("MIT", ["LICENSE"])
    text = (repo_root() / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2025-2026 the dglnb authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
