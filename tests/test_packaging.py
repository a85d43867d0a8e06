"""Packaging: dependency lists agree, py.typed ships, importing cebook has no side effects."""

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (the test extra installs it)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements.extend(extra)
    return {re.sub(r"\s+", "", r) for r in requirements}


def _environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    pip_lines = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    return {re.sub(r"\s+", "", r) for r in pip_lines if r != "-e ."}


def test_environment_yml_matches_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_runtime_dependencies_have_lower_bounds_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {re.split(r"[<>=]", d)[0] for d in project["dependencies"]} == {
        "numpy",
        "torch",
        "matplotlib",
        "tqdm",
    }
    for requirement in project["dependencies"]:
        assert ">=" in requirement and "<" not in requirement.replace(">=", ""), requirement


def test_jupyter_book_is_pinned_below_2():
    assert "jupyter-book>=1.0.4,<2" in _pyproject_requirements()


def test_py_typed_ships():
    assert (ROOT / "cebook" / "py.typed").exists()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["cebook"]


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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
