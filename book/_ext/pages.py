"""Sphinx extension of the book's pages.

Every page's footer names the cebook version and the commit the book was built from, and the
licences of the code and the text. Two fixes keep the browser's console free of errors (the
browser test, tests/browser, fails on any): sphinx-thebe adds its inline configuration script
twice (a second ``const THEBE_JS_URL`` is a SyntaxError), and the theme's colour mode defaults to
"" (pydata-sphinx-theme logs "invalid theme mode" and falls back to "auto", which we set).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

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


def _config(app: Any, config: Any) -> None:
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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
