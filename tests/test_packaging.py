"""Packaging: dependency lists agree (pyproject.toml, environment.yml and the lock file), py.typed
and the licence ship, one version, optional extras (cebook imports without matplotlib), lazy
submodules, importing cebook has no side effects.

The tests that read the repository's files (pyproject.toml, environment.yml) are marked
``repository``: tests/conftest.py skips them in the copy ``make wheel`` runs outside it.
"""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (the test extra installs it)
    import tomli as tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import cebook

ROOT = Path(__file__).resolve().parents[1]

# tests/conftest.py skips these outside the repository (make wheel)
needs_repository = pytest.mark.repository


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pyproject_requirements() -> set[str]:
    # An extra that names cebook's own extras ("cebook[plot,data]") adds nothing to the list.
    project = _project()
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements.extend(r for r in extra if not r.startswith("cebook["))
    return {re.sub(r"\s+", "", r) for r in requirements}


def _environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    pip_lines = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    return {re.sub(r"\s+", "", r) for r in pip_lines if r != "-e ."}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=;\[ ]", r)[0] for r in requirements}


@needs_repository
def test_environment_yml_matches_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def _lock() -> dict[str, tuple[str, int]]:
    """The lock file's pins: normalised name -> (version, number of hashes)."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pinned:
            name = canonicalize_name(pinned[1])
            assert name not in pins, f"{name} pinned twice"
            pins[name] = (pinned[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            pins[name] = (pins[name][0], pins[name][1] + 1)
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"not a pin with hashes: {line!r}")
    return pins


@needs_repository
def test_the_lock_pins_every_requirement_with_a_version_it_allows():
    # `make install` installs the lock with --require-hashes: every requirement of every extra
    # (and of environment.yml, the same list) must be in it at a version its specifier allows;
    # a requirement added to pyproject.toml without `make lock` fails here
    pins = _lock()
    assert pins, "an empty lock"
    assert all(hashes > 0 for _, hashes in pins.values())
    for text in sorted(_pyproject_requirements() | _environment_requirements()):
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for this Python (tomli below 3.11)
        name = canonicalize_name(requirement.name)
        if name == "torch":
            continue
        assert name in pins, f"{text} is not in requirements-lock.txt: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements-lock.txt pins {name}=={version}, outside {text}: run `make lock`"
        )


@needs_repository
def test_the_lock_leaves_torch_and_cebook_out_and_brings_no_cuda():
    # torch is installed first, the machine's build (CPU here, CUDA on a GPU); the lock never
    # pulls the CUDA build's libraries in, nor names a path of the machine it was made on
    pins = _lock()
    assert "torch" not in pins and "cebook" not in pins
    cuda = [name for name in pins if name.startswith("nvidia-") or name == "triton"]
    assert not cuda, f"the lock was resolved against torch's CUDA build: {cuda}"
    text = (ROOT / "requirements-lock.txt").read_text()
    assert "file://" not in text and " @ " not in text
    assert {"sympy", "networkx", "filelock"} <= set(pins)  # torch's own dependencies are pinned


@needs_repository
def test_runtime_dependencies_have_lower_bounds_only():
    # matplotlib (cebook.plot) and the data sets' packages are extras; tqdm draws fit's default
    # progress bar, so it stays (pure Python, no dependencies of its own).
    project = _project()
    assert _names(project["dependencies"]) == {"numpy", "torch", "tqdm"}
    for requirement in project["dependencies"]:
        assert ">=" in requirement and "<" not in requirement.replace(">=", ""), requirement


@needs_repository
def test_extras_install_what_their_users_import():
    extras = _project()["optional-dependencies"]
    assert _names(extras["plot"]) == {"matplotlib"}
    assert _names(extras["data"]) == {"scikit-learn", "statsmodels"}
    for name in ("book", "test"):  # the chapters and the tests plot and load the real data
        assert "cebook[plot,data]" in extras[name], name


@needs_repository
def test_linters_are_pinned_exactly():
    # a new ruff or mypy release may change the format or the checks: `make lint` must not drift
    test = {re.split(r"[<>=]", r)[0]: r for r in _project()["optional-dependencies"]["test"]}
    assert re.fullmatch(r"ruff==[\d.]+", test["ruff"]), test["ruff"]
    assert re.fullmatch(r"mypy==[\d.]+", test["mypy"]), test["mypy"]


@needs_repository
def test_jupyter_book_is_pinned_below_2():
    assert "jupyter-book>=1.0.4,<2" in _pyproject_requirements()


@needs_repository
def test_py_typed_and_the_licence_ship():
    # make wheel checks that both are inside the built wheel
    assert (ROOT / "cebook" / "py.typed").exists()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["cebook"]
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "The cebook authors" in licence


@needs_repository
def test_the_version_has_one_source():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cebook.__version__"}


def test_the_installed_version_is_the_package_version():
    # fails on an editable install whose metadata predates a version bump: reinstall
    assert importlib.metadata.version("cebook") == cebook.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", cebook.__version__)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


# Makes `import matplotlib` fail, as on an install without the plot extra.
_BLOCK_MATPLOTLIB = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, Block())
"""


def test_cebook_imports_without_matplotlib():
    result = _run(
        _BLOCK_MATPLOTLIB
        + """
import cebook, cebook.losses, cebook.heads, cebook.bins, cebook.metrics, cebook.data, cebook.train
import torch
from cebook.heads import GaussianHead
from cebook.losses import gaussian_nll
gaussian_nll(*GaussianHead(3)(torch.zeros(2, 3)), torch.zeros(2))
assert not any(m.split(".")[0] == "matplotlib" for m in sys.modules), "matplotlib imported"
print("ok")
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cebook_plot_without_matplotlib_names_the_extra():
    result = _run(_BLOCK_MATPLOTLIB + "import cebook.plot\n")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ImportError: cebook.plot needs matplotlib; install it with `pip install 'cebook[plot]'`"
    ), result.stderr


def test_submodules_load_lazily_on_attribute_access():
    result = _run(
        """
import sys, cebook
lazy = ["bins", "data", "heads", "losses", "metrics", "plot"]
assert not [m for m in lazy if f"cebook.{m}" in sys.modules], "loaded by import cebook"
assert set(lazy) <= set(dir(cebook))
assert cebook.losses.gaussian_nll.__module__ == "cebook.losses"
assert "cebook.losses" in sys.modules and "cebook.heads" not in sys.modules
assert cebook.heads is sys.modules["cebook.heads"]
try:
    cebook.no_such_module
except AttributeError as error:
    assert str(error) == "module 'cebook' has no attribute 'no_such_module'", error
else:
    raise AssertionError("no AttributeError")
print("ok")
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_package_docstring_example_runs():
    # test_docstrings runs the submodules' examples; this one is the package's own
    import doctest

    result = doctest.testmod(cebook, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


def test_import_has_no_side_effects():
    # A fresh interpreter: importing every module must not seed, switch the matplotlib backend,
    # change rcParams, add warning filters or open sockets.
    code = """
import socket, warnings, random
import matplotlib
def refuse(*args, **kwargs):
    raise AssertionError("network access at import")
socket.socket.connect = refuse
backend = matplotlib.get_backend()
rc = dict(matplotlib.rcParams)
import torch
filters = list(warnings.filters)
random.seed(99); expected = random.random(); random.seed(99)
torch.manual_seed(99); torch_expected = torch.rand(1); torch.manual_seed(99)
import cebook, cebook.losses, cebook.bins, cebook.heads, cebook.metrics, cebook.data, cebook.plot
assert random.random() == expected, "python RNG touched"
assert torch.equal(torch.rand(1), torch_expected), "torch RNG touched"
assert matplotlib.get_backend() == backend, "backend switched"
assert dict(matplotlib.rcParams) == rc, "rcParams changed"
assert list(warnings.filters) == filters, "warning filters changed"
print("clean")
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


@needs_repository
def test_citation_file_and_licences_agree_with_the_package():
    yaml = pytest.importorskip("yaml")  # installed with the book's tools (jupyter-book needs it)
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] and citation["message"] and citation["authors"]
    assert "version" not in citation  # cebook.__version__ is the one source of the version
    assert citation["license"] == [_project()["license"], "CC-BY-4.0"]  # code, then text
    assert "CC BY 4.0" in (ROOT / "LICENSE-TEXT").read_text()
