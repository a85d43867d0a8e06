"""The book as a PDF (`make pdf`: Jupyter Book's LaTeX builder, XeLaTeX, from the executed cache).

The PDF has every chapter (its title, in the contents and as a heading), every figure the HTML
chapters show, and LaTeX reported no character missing from the fonts and no unresolved reference
or citation. It needs poppler-utils (pdftotext, pdfimages), which `.ci/run` installs with TeX.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests._book import ROOT, chapters

LATEX = ROOT / "_build" / "latex"
PDF = LATEX / "book.pdf"


@pytest.fixture(scope="module")
def text() -> str:
    assert PDF.exists(), "build the PDF first (make pdf)"
    out = subprocess.run(["pdftotext", str(PDF), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def _title(chapter: str) -> str:
    source = (ROOT / f"{chapter}.md").read_text()
    return next(line[2:].strip() for line in source.splitlines() if line.startswith("# "))


@pytest.mark.parametrize("chapter", chapters())
def test_every_chapter_is_in_the_pdf(text, chapter):
    title = _title(chapter)
    assert text.count(title) >= 2, f"{title!r}: not in the contents and as a chapter"


def test_every_figure_of_the_html_is_in_the_pdf():
    html = [p.read_text() for c in chapters() for p in [ROOT / "_build" / "html" / f"{c}.html"]]
    figures = sum(len(re.findall(r'<img[^>]*src="[^"]*_images/', page)) for page in html)
    assert figures > 0
    tex = (LATEX / "book.tex").read_text()
    assert tex.count("\\sphinxincludegraphics") >= figures
    listing = subprocess.run(
        ["pdfimages", "-list", str(PDF)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    images = [line for line in listing if line.split()[2] == "image"]  # not their alpha masks
    assert len(images) >= figures, f"{len(images)} images in the PDF, {figures} in the HTML"


def test_latex_found_every_character_reference_and_citation():
    log = (LATEX / "book.log").read_text(errors="replace")
    assert "Missing character" not in log, re.findall(r"Missing character.*", log)[:5]
    undefined = re.findall(r"LaTeX Warning: (?:Reference|Citation) .* undefined.*", log)
    assert not undefined, undefined[:5]
