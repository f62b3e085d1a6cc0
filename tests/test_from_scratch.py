""""From scratch" is checked where the code runs: the worker records the library calls.

A from-scratch question (``from_scratch`` in questions.toml) fails its check when the student's
code enters a function of the named libraries while the grader runs it, whatever path reached it:
a helper module, ``importlib``, a function fetched with ``getattr``. Importing without calling
costs nothing; switching the record off is itself recorded.
"""

import time

import pytest

from autograder.grading import grade_path
from autograder.spec import SpecError, load_spec, parse_spec
from submissions import reference_source, write_submission

SPEC = load_spec()


def _confusion_via(helper: str) -> dict:
    """The reference confusion module whose matrix comes from ``helpers.matrix``."""
    source = reference_source("confusion").replace("def binary_confusion_matrix(", "def _own_matrix(")
    source += "\n\nfrom helpers import matrix as binary_confusion_matrix\n"
    return {"confusion.py": source, "helpers.py": helper}


HIDDEN_CALLS = {
    "helper": "from sklearn.metrics import confusion_matrix\n\ndef matrix(y_true, y_pred):\n"
              "    return confusion_matrix(y_true, y_pred, labels=[0, 1])\n",
    "importlib": "import importlib\n\ndef matrix(y_true, y_pred):\n"
                 "    m = importlib.import_module('sklearn' + '.metrics')\n"
                 "    return getattr(m, 'confusion_' + 'matrix')(y_true, y_pred, labels=[0, 1])\n",
    "switched_off": "import sys\nimport numpy as np\n\ndef matrix(y_true, y_pred):\n    sys.settrace(None)\n"
                    "    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n"
                    "    return np.array([[np.sum((y_true == t) & (y_pred == p)) for p in (0, 1)] for t in (0, 1)])\n",
}


def _from_scratch(question):
    return next(c for c in question.measurements["checks"] if c["group"] == "from_scratch")


def test_from_scratch_is_declared_once_in_the_spec():
    assert SPEC["confusion.hidden_inputs"].from_scratch == ("sklearn.metrics",)
    assert SPEC["roc.points"].from_scratch == ("sklearn.metrics",)
    assert all(q.from_scratch == () or "from_scratch" in q.weights for q in SPEC.values())
    valid = {"title": "t", "points": 2, "visibility": "public", "timeout": 5, "memory_mb": 1024, "threads": 1,
             "processes": 64, "file_mb": 8, "output_kb": 16}
    with pytest.raises(SpecError, match="'from_scratch' field of question 'm.q' must be a list of module names"):
        parse_spec({"questions": {"m.q": {**valid, "from_scratch": "sklearn.metrics"}}})


@pytest.mark.parametrize("route, named", [("helper", "sklearn.metrics.confusion_matrix"),
                                          ("importlib", "sklearn.metrics.confusion_matrix"),
                                          ("switched_off", "sys.settrace")])
def test_a_call_into_sklearn_metrics_through_any_module_is_recorded(tmp_path, route, named):
    folder = write_submission(tmp_path / route, files=_confusion_via(HIDDEN_CALLS[route]))
    question = grade_path(folder, None, questions=["confusion.hidden_inputs"]).questions[0]
    check = _from_scratch(question)
    assert not check["passed"], question.feedback
    assert f"got a call to {named}" in check["detail"] and "\n" not in check["detail"]
    assert question.points == pytest.approx(6 * 4 / 5)  # the four metric groups right, the fifth withheld


def test_an_import_that_is_never_called_costs_nothing(tmp_path):
    source = "import sklearn.metrics  # noqa: F401 (never called)\n" + reference_source("confusion")
    folder = write_submission(tmp_path / "unused", files={"confusion.py": source})
    question = grade_path(folder, None, questions=["confusion.hidden_inputs"]).questions[0]
    assert _from_scratch(question)["passed"] and question.points == 6, question.feedback


@pytest.mark.slow
def test_recording_costs_little_on_a_from_scratch_question(tmp_path, monkeypatch):
    """The reference's confusion and roc questions graded with and without the record."""
    import autograder.spec as spec_module

    folder = write_submission(tmp_path / "reference", honest=["confusion", "roc"])
    qids = ["confusion.hidden_inputs", "roc.points"]
    grade_path(folder, None, questions=qids)  # warm the caches
    timings = {}
    for recorded in (False, True, False, True):
        if not recorded:
            monkeypatch.setattr(spec_module.Question, "from_scratch", property(lambda self: ()))
        else:
            monkeypatch.undo()
        started = time.perf_counter()
        result = grade_path(folder, None, questions=qids)
        timings.setdefault(recorded, []).append(time.perf_counter() - started)
        assert all(q.points == q.max_points for q in result.questions)
    print({k: [round(t, 3) for t in v] for k, v in timings.items()})
    assert min(timings[True]) <= 1.5 * min(timings[False]) + 0.5
