"""The built book in a real browser: Chromium, driven by Playwright, on a local server with every
other request blocked (the book must work offline).

Each page of _toc.yml loads with no console error and no failed request, its math is typeset by
MathJax without an error, its images load, and it has no horizontal scroll at a phone's width; the
search finds "Poisson"; the launch and download buttons point where they should (the download
menu offers the MyST source and the notebook). A screenshot of every page goes to
_build/screenshots/. `make browser` runs this after the book is built (`make test` does);
Chromium is Debian's `chromium` where it is installed, Playwright's own otherwise (`playwright
install chromium`).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests._book import ROOT, chapters, toc_files

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
REPOSITORY = "cebook/cross-entropy-regression"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    assert (HTML / "index.html").exists(), "build the book first (make book)"
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


class Visit:
    """A page opened with the network blocked, recording console errors and failed requests."""

    def __init__(self, browser: Browser, server: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.route("**/*", self._route(server))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))

    def _route(self, server: str):
        def route(route):
            if route.request.url.startswith(server) or route.request.url.startswith("data:"):
                return route.continue_()
            self.blocked.append(route.request.url)
            return route.abort()

        return route

    def open(self, url: str) -> Page:
        self.page.goto(url, wait_until="load")
        # MathJax 3 typesets after load: wait for its promise (pages without math have none)
        ready = "!window.MathJax || (MathJax.startup && MathJax.startup.promise)"
        self.page.wait_for_function(ready)
        self.page.evaluate("window.MathJax ? MathJax.startup.promise : null")
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, server) -> Iterator[Visit]:
    opened = Visit(browser, server)
    yield opened
    opened.close()


@pytest.mark.parametrize("entry", toc_files())
def test_page_loads_typesets_shows_its_images_and_fits_a_phone(visit, server, entry):
    page = visit.open(f"{server}/{entry}.html")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{entry.replace('/', '__')}.png"), full_page=True)
    math = page.locator("mjx-container").count()
    assert page.locator("mjx-merror").count() == 0, "MathJax could not typeset a formula"
    if entry in chapters():
        assert math > 0, "a chapter without typeset math"
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"images that did not load: {broken}"
    assert not visit.errors, visit.errors
    # only the outside world is blocked (a MathJax font from a CDN, say, would be an error)
    assert not visit.blocked, f"requests to outside the book: {visit.blocked}"
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.wait_for_timeout(200)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{overflow} px wider than a phone's screen"


def test_search_finds_poisson(visit, server):
    page = visit.open(f"{server}/search.html?q=Poisson")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=20_000)
    assert results.count() >= 2
    assert "counts" in " ".join(results.locator("a").evaluate_all("l => l.map(a => a.href)"))
    assert not visit.errors, visit.errors


def test_launch_and_download_buttons_point_where_they_should(visit, server):
    chapter = chapters()[0]
    page = visit.open(f"{server}/{chapter}.html")
    links = page.eval_on_selector_all("a[href]", "l => l.map(a => a.href)")
    binder = [link for link in links if "mybinder.org" in link]
    assert binder, "no Binder launch button"
    assert all(f"/v2/gh/{REPOSITORY}/main" in link and chapter in link for link in binder)
    assert any(link == f"https://github.com/{REPOSITORY}" for link in links), "no repository"
    sources = [link for link in links if link.endswith(f"/_sources/{chapter}.md")]
    assert sources, "no download of the chapter's source"
    notebooks = [link for link in links if link.endswith(f"/_sources/{chapter}.ipynb")]
    assert notebooks, "no download of the chapter as a notebook"
    assert all(link.startswith(server) for link in sources + notebooks)
    for source in sources:  # the download is served: the MyST notebook itself
        text = page.request.get(source).text()
        assert text.startswith("---\njupytext:"), source
    for notebook in notebooks:  # and the .ipynb, whose first cell installs cebook
        cells = page.request.get(notebook).json()["cells"]
        assert "".join(cells[0]["source"]).count("%pip install") == 1, notebook
