"""Skip the tests that read the repository's own files when the tests run from a copy outside it.

``make wheel`` runs a copy of tests/ against the installed wheel, away from book/, _toc.yml and
pyproject.toml. Tests marked ``repository`` then skip with that reason; everywhere else they run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_REPOSITORY = all((ROOT / name).exists() for name in ("pyproject.toml", "_toc.yml", "book"))
_REASON = "reads the repository's files (book/, _toc.yml, pyproject.toml): absent in this copy"

# test_book_sources parametrizes over the chapters at import: it cannot even be collected.
collect_ignore = [] if IN_REPOSITORY else ["test_book_sources.py"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"repository: {_REASON}")


def pytest_report_header(config: pytest.Config) -> str | None:
    if IN_REPOSITORY:
        return None
    return (
        "not in the repository: test_book_sources.py is not collected, and the tests that read "
        "the repository's files skip"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_REPOSITORY:
        return
    skip = pytest.mark.skip(reason=_REASON)
    for item in items:
        if "repository" in item.keywords:
            item.add_marker(skip)
