"""The chapters as notebooks to download (book/_ext/pages.py writes them into the built book).

Every chapter has ``_build/html/_sources/<chapter>.ipynb``: a valid notebook whose first cell
``%pip install``s cebook at the commit built, with the extras its imports need, then the chapter's
cells. One of them runs outside the repository: the wheel built from this checkout, a fresh virtual
environment with only torch and a kernel in it, the install cell pointed at that wheel (CI has no
GitHub to install from), and every cell executed by a kernel of that environment.
"""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch
from nbclient import NotebookClient

from tests._book import ROOT, chapters

SOURCES = ROOT / "_build" / "html" / "_sources"
REPOSITORY = "https://github.com/cebook/cross-entropy-regression"
# the chapter that runs outside: it needs both extras and a pin (scipy), and runs in about 30 s
RUN = "book/continuous/counts"
INSTALL = re.compile(
    r'^%pip install "cebook(?:\[(?P<extras>[a-z,]+)\])? @ git\+(?P<url>\S+)@(?P<sha>[0-9a-f]{40})"'
    r"(?P<pinned>(?: \"[A-Za-z0-9_.-]+==[^\"]+\")*)$",
    re.MULTILINE,
)


def _downloaded(chapter: str) -> nbformat.NotebookNode:
    path = SOURCES / f"{chapter}.ipynb"
    assert path.exists(), f"{path} not built (make book)"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def _install(notebook: nbformat.NotebookNode) -> re.Match[str]:
    first = notebook.cells[0]
    assert first.cell_type == "code" and first.metadata.get("tags") == ["install"]
    match = INSTALL.search(first.source)
    assert match, first.source
    return match


@pytest.mark.parametrize("chapter", chapters())
def test_each_chapter_downloads_as_a_notebook_that_installs_this_commit(chapter):
    notebook = _downloaded(chapter)
    match = _install(notebook)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert match["url"] == REPOSITORY
    assert match["sha"] == head, "the book was built from another commit: rebuild it (make book)"
    # the extras, read from the chapter's text: a plot needs "plot", a real data set "data",
    # TensorFlow or JAX "frameworks"
    text = (ROOT / f"{chapter}.md").read_text()
    extras = set((match["extras"] or "").split(",")) - {""}
    assert ("plot" in extras) == ("import matplotlib" in text or "cebook.plot" in text)
    data = r"\bload_[a-z]+\(|\b(import|from) (statsmodels|sklearn)\b"
    assert ("data" in extras) == bool(re.search(data, text))
    frameworks = r"\b(import|from) (tensorflow|keras|jax|optax)\b"
    assert ("frameworks" in extras) == bool(re.search(frameworks, text))
    assert ("scipy==" in match["pinned"]) == bool(re.search(r"\b(import|from) scipy\b", text))
    assert "myst-nb==" in match["pinned"]  # every chapter glues its numbers
    # then the chapter itself, cell for cell
    source = jupytext.read(ROOT / f"{chapter}.md")
    assert [c.source for c in notebook.cells[1:]] == [c.source for c in source.cells]
    assert "jupytext" not in notebook.metadata
    assert notebook.metadata.kernelspec.name == "python3"


def _python(environment: Path) -> Path:
    return environment / "bin" / "python"


def test_a_downloaded_notebook_runs_in_a_fresh_environment(tmp_path, monkeypatch):
    notebook = _downloaded(RUN)
    match = _install(notebook)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("cebook-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    # the reader's Jupyter: the torch this book was built with (from disk where pip finds it
    # there) and a kernel; the notebook's own cell installs everything else
    # (--no-compile: byte-compiling torch's files took a third of the test's time)
    pip = [str(_python(environment)), "-m", "pip", "install", "--quiet", "--no-compile"]
    subprocess.run([*pip, f"torch=={torch.__version__}", "ipykernel"], check=True)
    kernels = tmp_path / "jupyter"
    subprocess.run(
        [str(_python(environment)), "-m", "ipykernel", "install", "--prefix", str(kernels)]
        + ["--name", "fresh"],
        check=True,
        capture_output=True,
    )
    # the install cell, pointed at the wheel instead of GitHub; the extras and pins unchanged
    extras = f"[{match['extras']}]" if match["extras"] else ""
    line = f'%pip install --quiet --no-compile "cebook{extras} @ {wheel.as_uri()}"{match["pinned"]}'
    notebook.cells[0].source = INSTALL.sub(lambda _: line, notebook.cells[0].source)
    # proof that it ran outside the repository, on the installed wheel
    check = "import sys, cebook\nassert cebook.__file__.startswith(sys.prefix), cebook.__file__"
    notebook.cells.append(nbformat.v4.new_code_cell(check))
    work = tmp_path / "work"  # the kernel's folder: nothing of the repository is importable
    work.mkdir()
    # the kernel manager finds the kernel through JUPYTER_PATH, and the kernel inherits the rest
    monkeypatch.setenv("JUPYTER_PATH", str(kernels / "share" / "jupyter"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    client = NotebookClient(
        notebook, kernel_name="fresh", timeout=300, resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    errors = [o.text for o in notebook.cells[0].outputs if o.get("name") == "stderr"]
    assert not any("ERROR" in text for text in errors), errors
    assert all(c.execution_count for c in notebook.cells if c.cell_type == "code")
