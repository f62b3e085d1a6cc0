"""The assignment's contract holds in both packages, and every stub is still a stub."""

import importlib
import inspect

import pytest

from autograder.contract import CLASSES, CONTRACT

CASES = [(module, name) for module, names in CONTRACT.items() for name in names]


@pytest.mark.parametrize("package", ["assignments", "solutions"])
@pytest.mark.parametrize("module, name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_contract_name_exists(package, module, name):
    obj = getattr(importlib.import_module(f"{package}.{module}"), name, None)
    assert obj is not None, f"{package}.{module} lacks {name}"
    assert inspect.isclass(obj) == (name in CLASSES)


@pytest.mark.parametrize("module, name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_stub_signatures_match_solutions(module, name):
    stub = getattr(importlib.import_module(f"assignments.{module}"), name)
    solution = getattr(importlib.import_module(f"solutions.{module}"), name)
    if name in CLASSES:
        stub, solution = stub.__init__, solution.__init__
    assert list(inspect.signature(stub).parameters) == list(inspect.signature(solution).parameters)


def _stub_calls(module, name):
    obj = getattr(importlib.import_module(f"assignments.{module}"), name)
    if name not in CLASSES:
        n_required = sum(p.default is p.empty for p in inspect.signature(obj).parameters.values())
        return [lambda: obj(*[None] * n_required)]
    methods = [m for m in ("fit", "predict", "transform") if m in vars(obj)]
    return [lambda m=m: getattr(obj(), m)(None) for m in methods]


@pytest.mark.parametrize("module, name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_stub_raises_not_implemented(module, name):
    calls = _stub_calls(module, name)
    assert calls, f"assignments.{module}.{name} has nothing to call"
    for call in calls:
        with pytest.raises(NotImplementedError):
            call()


@pytest.mark.parametrize("module", CONTRACT)
def test_stub_module_docstrings_teach(module):
    stub = importlib.import_module(f"assignments.{module}")
    assert stub.__doc__ and len(stub.__doc__) > 100, f"assignments.{module} needs a module docstring"
    for name in CONTRACT[module]:
        assert inspect.getdoc(getattr(stub, name)), f"assignments.{module}.{name} has no docstring"
