"""Run every docstring example in cebook; fail if a public function has none."""

import doctest
import importlib
import inspect
import pkgutil

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
    for name in ["device", "seed", "fit", "set_validation", "validation", "validation_enabled"]:
        assert ">>>" in (inspect.getdoc(getattr(cebook, name)) or ""), name
