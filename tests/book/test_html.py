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


def test_api_reference_documents_every_public_name():
    """Each name of each module's __all__ has its entry (an anchor) on the API pages; a name the
    package re-exports at the top level (cebook.fit, cebook.Reduction) is documented there once."""
    import importlib

    pages = "".join(_page(entry) for entry in toc_files() if entry.startswith("book/appendix/api"))
    anchors = set(re.findall(r'id="(cebook[\w.]*)"', pages))
    missing = []
    for name in ("", ".train", ".losses", ".heads", ".bins", ".metrics", ".data", ".plot"):
        module = importlib.import_module(f"cebook{name}")
        for public in module.__all__:
            if not {f"cebook{name}.{public}", f"cebook.{public}"} & anchors:
                missing.append(f"cebook{name}.{public}")
    assert not missing, f"not in the API reference: {missing}"
    assert len(anchors) > 80


def test_footer_names_the_version_and_the_commit_built():
    import subprocess

    import cebook

    page = _page(toc_files()[0])
    footer = re.search(r'<div class="extra_footer">(.*?)</div>', page, re.S)
    assert footer, "no footer"
    assert f"cebook</code> {cebook.__version__}" in footer.group(1)
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    assert sha and sha in footer.group(1), footer.group(1)
    assert "MIT" in footer.group(1) and "CC BY 4.0" in footer.group(1)
