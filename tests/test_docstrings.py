"""Run every docstring example in cebook; fail if a public function has none."""

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import cebook

MODULES = sorted(
    name
    for _, name, _ in pkgutil.iter_modules(cebook.__path__, "cebook.")
    if not name.startswith("cebook._")
)


def _public_callables(module):
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
            yield name, obj


def test_every_module_is_listed():
    assert {
        "cebook.losses",
        "cebook.bins",
        "cebook.heads",
        "cebook.metrics",
        "cebook.data",
        "cebook.plot",
        "cebook.train",
    } <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, module_name) if t.examples]
    assert tests, f"{module_name} has no docstring examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_function_has_an_example(module_name):
    module = importlib.import_module(module_name)
    missing = [
        name for name, obj in _public_callables(module) if ">>>" not in (inspect.getdoc(obj) or "")
    ]
    assert not missing, f"{module_name}: public callables without an example: {missing}"


def test_top_level_functions_have_examples():
    for name in [
        "device",
        "seed",
        "seed_offset",
        "fit",
        "History",
        "set_validation",
        "validation",
        "validation_enabled",
    ]:
        assert ">>>" in (inspect.getdoc(getattr(cebook, name)) or ""), name


def _documented_objects(module):
    yield module.__name__.rsplit(".", 1)[1], module
    for name, obj in _public_callables(module):
        yield name, obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.getdoc(member):
                    yield attr, member


@pytest.mark.repository
@pytest.mark.parametrize("module_name", MODULES)
def test_the_chapters_a_docstring_names_exist_and_use_it(module_name):
    root = Path(__file__).resolve().parents[1]
    module = importlib.import_module(module_name)
    for name, obj in _documented_objects(module):
        doc = " ".join((inspect.getdoc(obj) or "").split())
        for sentence in re.findall(r"Used in (.*?)(?:\.\s|\.$)", doc):
            for chapter in re.findall(r"``(book/[^`]+\.md)``", sentence):
                path = root / chapter
                assert path.exists(), f"{module_name}.{name}: {chapter} does not exist"
                assert re.search(rf"\b{name}\b", path.read_text()), f"{chapter} never names {name}"
