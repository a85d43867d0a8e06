"""Helpers shared by the tests that read the book's sources and its built HTML."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    """Every file named in _toc.yml (root first), without extension, relative to the root."""
    files = []
    for line in (ROOT / "_toc.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("root:"):
            files.append(stripped.split(":", 1)[1].strip())
        elif stripped.startswith("- file:"):
            files.append(stripped.split(":", 1)[1].strip())
    return files


def is_notebook(path: Path) -> bool:
    """A chapter is a MyST notebook: it carries a jupytext header."""
    head = path.read_text().split("\n---", 1)[0]
    return path.read_text().startswith("---\njupytext:") and "format_name: myst" in head


def chapters() -> list[str]:
    return [f for f in toc_files() if is_notebook(ROOT / f"{f}.md")]
