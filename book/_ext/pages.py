"""Sphinx extension of the book's pages.

Every page's footer names the cebook version and the commit the book was built from, and the
licences of the code and the text. Every chapter's executed notebook, which the page's download
menu offers (``_build/html/_sources/<chapter>.ipynb``), gets a first cell that ``%pip install``s
the cebook of that commit with the extras (and pinned packages) that the chapter's imports need,
so that it runs in any Jupyter (tests/book/test_notebooks.py runs one in a fresh virtual
environment). The MathJax macros of _config.yml are defined for LaTeX too (the PDF, `make pdf`).
Two fixes keep the browser's console free of errors (the
browser test, tests/browser, fails on any): sphinx-thebe adds its inline configuration script
twice (a second ``const THEBE_JS_URL`` is a SyntaxError), and the theme's colour mode defaults to
"" (pydata-sphinx-theme logs "invalid theme mode" and falls back to "auto", which we set).
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from sphinx.errors import ExtensionError

import cebook

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def commit() -> str:
    """The short hash of HEAD, marked when tracked files differ from it; or say it is unknown."""
    try:
        sha = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit (not a git checkout)"
    return f"{sha} with local changes" if dirty else sha


# What a chapter imports -> what its install cell installs. The modules of cebook's extras name
# the extra; the others, outside cebook's dependencies, are pinned at the version the book was
# built with. cebook.data's toy generators need nothing; its real data sets (load_*) need "data".
EXTRAS = {
    "cebook.plot": "plot",
    "matplotlib": "plot",
    "cebook.data.load_": "data",
    "sklearn": "data",
    "statsmodels": "data",
    **dict.fromkeys(["tensorflow", "tensorflow_probability", "keras", "tf_keras", "jax", "optax"],
                    "frameworks"),
}
PINNED = {"scipy": "scipy", "myst_nb": "myst-nb"}  # module -> distribution
NEEDS_NOTHING = {"cebook", "torch", "numpy", "tqdm", *sys.stdlib_module_names}


def imported_names(code: str) -> set[str]:
    """Dotted names a chapter's code imports or reaches (``cebook.data.load_engel``)."""
    source = "\n".join(
        line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute):
            chain = [node.attr]
            value = node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id == "cebook":
                names.add(".".join(["cebook", *reversed(chain)]))
    return names


def requirements(page: str, code: str) -> tuple[list[str], list[str]]:
    """The cebook extras and the pinned packages that a chapter's code needs."""
    extras, pinned = set(), set()
    for name in imported_names(code):
        top = name.split(".")[0]
        extra = [e for prefix, e in EXTRAS.items() if name == prefix or name.startswith(prefix)]
        if extra:
            extras.update(extra)
        elif top in PINNED:
            distribution = PINNED[top]
            pinned.add(f"{distribution}=={importlib.metadata.version(distribution)}")
        elif top not in NEEDS_NOTHING:
            raise ExtensionError(
                f"{page} imports {name}: say in book/_ext/pages.py (EXTRAS or PINNED) what "
                "its downloadable notebook must install for it"
            )
    return sorted(extras), sorted(pinned)


def install_cell(repository: str, sha: str, extras: list[str], pinned: list[str]) -> str:
    """The notebook's first cell: this commit's cebook, with what the chapter imports."""
    target = f"cebook[{','.join(extras)}]" if extras else "cebook"
    packages = " ".join(f'"{p}"' for p in [f"{target} @ git+{repository}@{sha}", *pinned])
    return (
        f"# This chapter of the book as it was built: cebook at commit {sha[:12]}, with the\n"
        "# packages the chapter imports. Restart the kernel if cebook was already imported.\n"
        f"%pip install {packages}"
    )


def _is_chapter(source: Path) -> bool:
    text = source.read_text() if source.suffix == ".md" else ""
    return text.startswith("---\njupytext:") and "format_name: myst" in text.split("\n---", 1)[0]


def _write_notebook(app: Any, page: str, template: str, context: dict, doctree: Any) -> None:
    """Put the install cell first in the chapter's executed notebook, the download menu's .ipynb.

    sphinx-book-theme copies the notebook that myst-nb executed to ``_sources/<page>.ipynb`` and
    links it (its launch buttons, priority 500); this runs after it and rewrites that copy.
    """
    if app.builder.format != "html" or page not in app.env.found_docs:
        return
    if not _is_chapter(Path(app.env.doc2path(page))):
        return
    target = Path(app.outdir) / "_sources" / f"{page}.ipynb"
    if context.get("ipynb_source") != f"{page}.ipynb" or not target.exists():
        raise ExtensionError(f"{page}: sphinx-book-theme wrote no {target} to download")
    try:
        sha = _git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError) as error:
        raise ExtensionError(
            "the downloadable notebooks install cebook at the commit built: build the book from "
            f"a git checkout ({error})"
        ) from error
    notebook = nbformat.read(target, as_version=4)
    for key in ("jupytext", "source_map"):  # the MyST pairing and myst-nb's own bookkeeping
        notebook.metadata.pop(key, None)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    repository = app.config.html_theme_options["repository_url"]
    cell = nbformat.v4.new_code_cell(install_cell(repository, sha, *requirements(page, code)))
    cell.metadata["tags"] = ["install"]
    notebook.cells.insert(0, cell)
    for number, each in enumerate(notebook.cells):  # stable ids: the same notebook each build
        each["id"] = f"cell-{number}"
    nbformat.validate(notebook)
    nbformat.write(notebook, target)


def latex_macros(macros: dict[str, str]) -> str:
    """The MathJax macros of _config.yml as LaTeX definitions, for the PDF."""
    return "".join(f"\\providecommand{{\\{name}}}{{{body}}}\n" for name, body in macros.items())


def _config(app: Any, config: Any) -> None:
    macros = config.mathjax3_config["tex"]["macros"]
    config.latex_elements["preamble"] = latex_macros(macros)
    config.html_context.setdefault("default_mode", "auto")  # the template reads it; unset otherwise
    config.html_theme_options["extra_footer"] = (
        f"<p>Built with <code>cebook</code> {cebook.__version__} from commit "
        f"<code>{commit()}</code>. Code: MIT licence; text and figures: CC BY 4.0.</p>"
    )


def _one_of_each_script(app: Any, page: str, template: str, context: dict, doctree: Any) -> None:
    """Drop repeated scripts: the same file, or the same inline body (filed under None or "")."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = sorted(getattr(script, "attributes", {}).items())
        key = (getattr(script, "filename", None) or "", repr(attributes))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, bool]:
    app.connect("config-inited", _config)
    app.connect("html-page-context", _one_of_each_script, priority=900)
    # after sphinx-book-theme's launch buttons (priority 500), which copy the notebook
    app.connect("html-page-context", _write_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
