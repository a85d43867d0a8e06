"""Execute the book's chapters into its cache, as many at a time as there are cores.

myst-nb executes a book's notebooks one after the other, and on two cores that is most of
``make book``. ``python tests/execute_chapters.py CHAPTER.md ...`` runs them in parallel with
jupyter-cache's ``local-parallel`` executor, into the cache the build reads
(``_build/.jupyter_cache``: ``execute_notebooks: cache`` in ``_config.yml``) and with myst-nb's own
reader, so that ``jupyter-book build`` finds each chapter executed and only renders it. A chapter
that fails here is not cached: the build executes it again and reports its error. Chapters already
in the cache (same code) are not run again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

CACHE = "_build/.jupyter_cache"
READER = {"name": "myst_nb_md", "type": "plugin"}  # myst-nb's reader, as the build reads


def main(paths: list[str]) -> None:
    cache = get_cache(CACHE)
    uris = [str(Path(p).absolute()) for p in paths]
    for uri in uris:
        cache.add_nb_to_project(uri, read_data=READER)
    executor = load_executor("local-parallel", cache=cache)
    result = executor.run_and_cache(filter_uris=uris, timeout=300, allow_errors=False)
    print(f"executed {len(result.succeeded)}, failed {len(result.errored)} (the build reruns them)")


if __name__ == "__main__":
    main(sys.argv[1:])
