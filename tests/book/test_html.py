"""Checks of the built HTML (run after `jupyter-book build`; `make test` runs them last)."""

import re

import pytest

from tests._book import ROOT, chapters, toc_files

HTML = ROOT / "_build" / "html"


def _page(entry: str) -> str:
    path = HTML / f"{entry}.html"
    assert path.exists(), f"{path} missing: run the book build first"
    return path.read_text()


@pytest.mark.parametrize("entry", toc_files())
def test_page_built(entry):
    assert "<html" in _page(entry)


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_shows_figures_math_and_no_errors(chapter):
    page = _page(chapter)
    assert re.search(r'<img [^>]*src="[^"]+\.png"', page), "no figure in the page"
    assert "\\[" in page or "\\(" in page or "math notranslate" in page, "no math in the page"
    assert "Traceback (most recent call last)" not in page, "an uncaught error in an output"
    assert "remove-cell" not in page, "a hidden check leaked into the page"
    assert "{glue" not in page, "a glue reference was not resolved"


def test_mathjax_is_served_offline():
    page = _page(toc_files()[1] if len(toc_files()) > 1 else toc_files()[0])
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    assert mathjax, "no MathJax script"
    assert all(not s.startswith("http") for s in mathjax), mathjax


def test_bibliography_lists_cited_works():
    page = _page("book/bibliography")
    assert "Cover" in page and "Elements of Information Theory" in page
