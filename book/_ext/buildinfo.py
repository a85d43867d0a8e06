"""Sphinx extension of the book: every page's footer names the cebook version and the commit the
book was built from, and the licences of the code and the text."""

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


def _footer(app: Any, config: Any) -> None:
    config.html_theme_options["extra_footer"] = (
        f"<p>Built with <code>cebook</code> {cebook.__version__} from commit "
        f"<code>{commit()}</code>. Code: MIT licence; text and figures: CC BY 4.0.</p>"
    )


def setup(app: Any) -> dict[str, bool]:
    app.connect("config-inited", _footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
