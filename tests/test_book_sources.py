"""Checks of the book's sources: the table of contents, the chapters' form, and git hygiene."""

import ast
import re
import subprocess

import pytest

from tests._book import ROOT, chapters, is_notebook, toc_files


def test_every_toc_entry_exists():
    for entry in toc_files():
        assert (ROOT / f"{entry}.md").exists(), entry


def test_every_notebook_under_book_is_in_the_toc():
    notebooks = {
        str(p.relative_to(ROOT).with_suffix(""))
        for p in (ROOT / "book").rglob("*.md")
        if is_notebook(p)
    }
    assert notebooks == set(chapters())
    assert len(chapters()) >= 1


def test_make_chapters_executes_every_chapter():
    # The list nbval runs comes from the Makefile's own pattern; it once matched nothing in CI.
    listed = subprocess.run(
        ["make", "--no-print-directory", "-s", "print-chapters"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(p.removesuffix(".md") for p in listed) == sorted(chapters())


def test_no_notebook_is_committed():
    tracked = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert tracked == ""


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_has_the_parts_of_a_chapter(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    assert "name: python3" in text, "kernel must be python3"
    hidden = re.findall(r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n(.*?)```", text, re.S)
    assert any("assert" in cell for cell in hidden), "no hidden assert cell"
    assert "plt.show()" in text or "savefig" in text, "no figure"
    assert ":::{dropdown}" in text, "no exercise solution in a dropdown"
    assert "{cite}" in text, "no citation"
    assert "cebook.device()" in text, "does not run on cebook.device()"
    assert re.search(r"^## Exercises", text, re.M), "no exercises section"


def test_cited_keys_exist():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for path in (ROOT / "book").rglob("*.md"):
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", path.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name}: unknown citation {key}"


def _glued_names(text: str) -> list[re.Pattern]:
    """The names a chapter glues, as patterns (an f-string name matches any value of its fields)."""
    patterns = []
    for cell in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", text, re.S):
        code = "\n".join(
            "" if line.startswith((":", "%", "!")) else line for line in cell.splitlines()
        )
        for node in ast.walk(ast.parse(code)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue"):
                continue
            name = node.args[0]
            if isinstance(name, ast.Constant):
                patterns.append(re.compile(re.escape(name.value)))
            elif isinstance(name, ast.JoinedStr):
                parts = [
                    re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in name.values
                ]
                patterns.append(re.compile("".join(parts)))
    return patterns


@pytest.mark.parametrize("chapter", chapters())
def test_every_glue_reference_is_glued_in_its_chapter(chapter):
    # The prose states computed numbers through myst-nb's glue; a reference to a name the chapter
    # never glues would render as a warning, or a stale number if another page glued it.
    text = (ROOT / f"{chapter}.md").read_text()
    glued = _glued_names(text)
    for role, name in re.findall(r"\{glue(:[a-z]*)?\}`([^`:]+)", text):
        assert any(p.fullmatch(name) for p in glued), f"{{glue{role}}}`{name}` is never glued"
    for name in re.findall(r"```\{glue(?::[a-z]+)?\} *(\S+)", text):
        assert any(p.fullmatch(name) for p in glued), f"glue directive {name} is never glued"


def test_docstrings_link_chapters_of_the_book_by_their_rendered_url():
    # the URL of the book's HTML (pyproject's Documentation) plus the chapter's path, .md -> .html
    pyproject = (ROOT / "pyproject.toml").read_text()
    base = re.search(r'^Documentation = "(.+)"$', pyproject, re.M).group(1)
    linked = set()
    for path in (ROOT / "cebook").glob("*.py"):
        text = path.read_text()
        assert "``book/" not in text, f"{path.name}: a chapter named by its repository path"
        for page in re.findall(re.escape(base) + r"([\w/]+)\.html", text):
            assert page in chapters(), f"{path.name}: {base}{page}.html is no chapter"
            linked.add(page)
    assert len(linked) >= 10
