"""One scoring policy, typed outcomes: what can go wrong between a student's code and the gradebook.

Each test names the mechanism it guards: infrastructure failures are never the student's,
grader bugs are grader errors, the cache key follows every input that changes a measurement
(and no policy field), disclosure works on typed measurements, rescoring can loosen as well as
tighten, student-visible text carries no grader frames, stored results are checked before use.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from autograder import policy
from autograder.disclosure import for_students
from autograder.graders.common import Raises, attempt, check
from autograder.judge.client import Remote, StudentCodeError
from autograder.judge.scoring import Credit
from autograder.results import GradingResult, QuestionResult
from autograder.spec import Band, Limits, Question
from submissions import PROJECT

LIMITS = Limits(timeout=60, memory_mb=4096, threads=2, processes=256, file_mb=64, output_kb=64)


def question(qid="ex.metric", points=4.0, band=None, **fields) -> Question:
    return Question(id=qid, title="t", points=points, visibility="hidden", limits=LIMITS,
                    bands={"quick": band} if band else {}, **fields)


# --------------------------------------------------------------- grader bugs are grader errors

@pytest.mark.parametrize("bug", [KeyError("typo"), IndexError("list index out of range"),
                                 AttributeError("'list' object has no attribute 'shape'"),
                                 ValueError("grader arithmetic"), TypeError("grader call"),
                                 ZeroDivisionError("division by zero")])
def test_an_exception_in_the_graders_own_code_is_not_a_failed_check(bug):
    def grader_side():
        raise bug

    with pytest.raises(type(bug)):
        check([], "a check", "f()", grader_side, 1.0)
    with pytest.raises(type(bug)):
        attempt([], "a check", grader_side)


def test_the_students_own_errors_still_fail_the_check():
    def student_raises():
        raise StudentCodeError("confusion.precision() raised ZeroDivisionError: division by zero\n")

    results = []
    outcome = check(results, "zero rows", "confusion.precision()", student_raises, 1.0)
    assert not outcome.passed and outcome.reason == "error" and "ZeroDivisionError" in outcome.detail
    assert check([], "raises", "f()", student_raises, Raises("ZeroDivisionError")).passed
    attempt(results, "asserted", lambda: False)
    assert results[-1][1] is False


# --------------------------------------------------- infrastructure failures are never the student's

def _grade_one(tmp_path, monkeypatch, fault):
    from autograder.grading import grade
    from autograder.intake import prepare
    from autograder.options import GradingOptions

    fault(monkeypatch)
    return grade(prepare(PROJECT / "solutions"), GradingOptions(questions=("confusion.public_example",),
                                                                visibilities=("public",)))


def _refuse_memory(monkeypatch):
    from autograder.worker.sandbox import LimitUnavailable

    def refuse(limits):
        raise LimitUnavailable(f"this question needs memory_mb = {limits.memory_mb}, but the grader process may "
                               "allocate at most 512 MB")
    monkeypatch.setattr("autograder.plugin.check_memory", refuse)
    monkeypatch.setattr("autograder.judge.client.check_memory", refuse)


def _no_worker(monkeypatch):
    from autograder.judge.client import Submission
    from autograder.worker.sandbox import WorkerError

    def cannot_start(self):
        raise WorkerError("bwrap: setting up uid map: Permission denied")
    monkeypatch.setattr(Submission, "_start", cannot_start)


@pytest.mark.parametrize("fault", [_refuse_memory, _no_worker], ids=["memory limit refused", "worker cannot start"])
def test_a_machine_fault_is_an_infrastructure_failure_not_the_students(tmp_path, monkeypatch, fault):
    result = _grade_one(tmp_path, monkeypatch, fault)
    [q] = result.questions
    assert q.outcome == "infrastructure" and q.status == "grader_error"
    assert q.status not in ("not_run", "crashed")
    assert result.grader_errors and result.needs_regrade
    assert "not your fault" in q.feedback


def test_results_that_need_regrading_are_never_cached(tmp_path):
    from autograder.bulk.batch import cacheable
    from autograder.bulk.store import grader_hash

    fine = GradingResult("s", "quick", "bwrap", [QuestionResult("m.q", "m: q", "public", 1.0, 1.0, "passed",
                                                                 outcome="measured")])
    broken = dataclasses.replace(fine, questions=[dataclasses.replace(fine.questions[0], points=0.0,
                                                                      status="grader_error",
                                                                      outcome="infrastructure")],
                                 grader_errors=["m.q: the sandbox could not start a worker"])
    installed = grader_hash()
    assert cacheable({"result": fine.to_dict(), "grader": installed})
    assert not cacheable({"result": broken.to_dict(), "grader": installed})
    assert not cacheable({"result": fine.to_dict(), "grader": "another copy"})  # graded by other code
    assert not cacheable({"result": fine.to_dict()})  # by an unknown grader


# ------------------------------------------------------------------ the cache key

class _Project:
    """A throwaway copy of what the cache key reads: grader code, spec, solutions, figures."""

    def __init__(self, root):
        self.root = root
        files = {"autograder/judge/scoring.py": "X = 1\n", "autograder/graders/hidden/test_x.py": "Y = 1\n",
                 "autograder/worker/entry.py": "Z = 1\n", "autograder/judge/reference_figures.json": "{}\n",
                 "solutions/confusion.py": "def f(): return 1\n",
                 "autograder/questions.toml": (PROJECT / "autograder" / "questions.toml").read_text()}
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)

    def key(self, files=None, **options):
        from autograder.bulk.store import cache_key, measurement_inputs
        from autograder.intake import PreparedSubmission

        inputs = measurement_inputs(self.root / "autograder", self.root / "solutions")
        return cache_key(PreparedSubmission(files or {"confusion.py": b"x = 1\n"}),
                         {"profile": "quick", "isolation": "bwrap", **options}, inputs=inputs)


@pytest.mark.parametrize("change", [
    "graded code", "grader code", "worker code", "reference solution", "reference figures", "limits",
    "isolation", "profile", "numpy", "scipy", "pandas", "scikit-learn", "nltk", "python", "data"])
def test_the_cache_key_follows_every_input_that_changes_a_measurement(tmp_path, monkeypatch, change):
    import autograder.bulk.store as store

    project = _Project(tmp_path)
    before = project.key()
    edits = {"grader code": "autograder/graders/hidden/test_x.py", "worker code": "autograder/worker/entry.py",
             "reference solution": "solutions/confusion.py",
             "reference figures": "autograder/judge/reference_figures.json"}
    options = {}
    files = None
    if change in edits:
        with open(tmp_path / edits[change], "a") as fh:
            fh.write("\n# changed\n")
    elif change == "graded code":
        files = {"confusion.py": b"x = 2\n"}
    elif change == "limits":
        options = {"limits": {"timeout": 5}}
    elif change == "isolation":
        options = {"isolation": "rlimits"}
    elif change == "profile":
        options = {"profile": "full"}
    elif change == "python":
        monkeypatch.setattr(store.platform, "python_version", lambda: "3.99.0")
    elif change == "data":
        monkeypatch.setattr(store, "data_version", lambda profile: "other-data")
    else:
        real = store.library_versions()
        assert change in real, f"{change} is not among the libraries the key records: {sorted(real)}"
        monkeypatch.setattr(store, "library_versions", lambda: {**real, change: real[change] + ".post1"})
    assert project.key(files, **options) != before


@pytest.mark.parametrize("field, value", [("points", 40.0), ("full_at", 0.5), ("permuted_limit", 0.9),
                                          ("weights", None), ("disclosure", "pass_fail"), ("review_above", 0.95)])
def test_the_cache_key_ignores_policy_fields_of_questions_toml(tmp_path, field, value):
    project = _Project(tmp_path)
    before = project.key()
    toml = (tmp_path / "autograder/questions.toml").read_text()
    edited = {
        "points": lambda t: re.sub(r"(?m)^points = [0-9.]+", f"points = {value}", t, count=1),
        "full_at": lambda t: re.sub(r"full_at = [-0-9.]+", f"full_at = {value}", t, count=1),
        "permuted_limit": lambda t: re.sub(r"permuted_limit = [0-9.]+", f"permuted_limit = {value}", t, count=1),
        "weights": lambda t: re.sub(r"(weights = \{[^}]*?= )([0-9.]+)", r"\g<1>7", t, count=1),
        "disclosure": lambda t: re.sub(r'disclosure = "[a-z_]+"', f'disclosure = "{value}"', t, count=1),
        "review_above": lambda t: re.sub(r"(?m)^review_above = [0-9.]+", f"review_above = {value}", t, count=1),
    }[field](toml)
    assert edited != toml, f"questions.toml has no {field} to edit"
    (tmp_path / "autograder/questions.toml").write_text(edited)
    assert project.key() == before


def test_the_cache_key_follows_a_measurement_field_of_questions_toml(tmp_path):
    project = _Project(tmp_path)
    before = project.key()
    toml = (tmp_path / "autograder/questions.toml").read_text()
    edited = re.sub(r"memory_mb = [0-9]+", "memory_mb = 1234", toml, count=1)
    assert edited != toml
    (tmp_path / "autograder/questions.toml").write_text(edited)
    assert project.key() != before


def test_the_reference_cache_follows_the_reference_solutions(tmp_path, monkeypatch):
    from autograder.judge import reference

    first = reference.ReferenceCache("quick", tmp_path).path
    monkeypatch.setattr(reference, "solutions_version", lambda: "changed")
    assert reference.ReferenceCache("quick", tmp_path).path != first


# -------------------------------------------------------- disclosure works on typed measurements

def test_band_disclosure_withholds_points_that_would_reveal_a_banded_checks_figure():

    spec_band = Band(full_at=0.9, zero_at=0.5)
    q = question("ex.multilabel", band=None, disclosure="band")
    credit = Credit()
    credit.checks([("returns an estimator", True),
                   credit.band_check("macro F1", "macro F1", 0.7321, spec_band, n=500)])
    recorded = QuestionResult(q.id, q.name, q.visibility, round(q.points * credit.value, 4), q.points, "partial",
                              feedback="\n".join(credit.lines), measurements=credit.measurements)
    shown = for_students(GradingResult("s", "quick", "bwrap", [recorded]), {q.id: q}).questions[0]
    text = json.dumps(dataclasses.asdict(shown))
    assert shown.points == 0.0 and shown.status == "withheld"
    assert "0.732" not in text and "0.7321" not in text
    # nothing shown fixes the figure: the points would (4 * (1/2 + 1/2 * (F1 - 0.5) / 0.4))
    assert str(recorded.points) not in text


# ------------------------------------------------------------------ rescoring can loosen

def test_loosening_the_shuffled_label_limit_gives_back_what_it_took():
    from autograder.judge.rescore import rescore_question

    band = Band(full_at=0.9, zero_at=0.5)
    strict = question(band=band, permuted_limit=0.2)
    measurements = {"band": {"metric": "test accuracy", "value": 0.95, "full_at": 0.9, "zero_at": 0.5,
                             "reference": None, "se": 0.01, "n": 1000},
                    "shuffled_labels": {"accuracy": 0.3, "limit": 0.2, "rows": 600}}
    verdict = "test accuracy not counted: after training on shuffled labels ..."
    # what the plugin records when a grader's integrity assertion fails after the figure was measured
    graded = QuestionResult(strict.id, strict.name, "hidden", 0.0, 4.0, "failed", feedback=verdict,
                            measurements={**measurements, "integrity_note": verdict}, outcome="measured")
    loose = dataclasses.replace(strict, permuted_limit=0.5)
    rescored = rescore_question(graded, loose, "quick")
    assert (rescored.points, rescored.status) == (4.0, "passed")
    assert "not counted" not in rescored.feedback
    again = rescore_question(rescored, strict, "quick")
    assert (again.points, again.status) == (0.0, "failed") and "not counted" in again.feedback


# ------------------------------------------------------- student-visible text has no grader frames

def test_student_visible_text_has_no_grader_paths_or_frames():
    import autograder

    grader = str(PROJECT / "autograder")
    trace = ("confusion.precision() raised ZeroDivisionError: division by zero\n"
             "Traceback (most recent call last):\n"
             f'  File "{grader}/worker/entry.py", line 88, in _call\n    value = function(*args)\n'
             '  File "/tmp/ch3-grade-x/submission/confusion.py", line 12, in precision\n'
             "    return tp / (tp + fp)\nZeroDivisionError: division by zero")
    q = QuestionResult("confusion.hidden_inputs", "confusion: hidden", "hidden", 0.0, 2.0, "error",
                       feedback=trace, output=f"warning from {autograder.__file__}")
    result = GradingResult("s", "quick", "bwrap", [q], notes=[f"skipped {grader}/x.py"])
    shown = for_students(result)
    text = json.dumps(shown.to_dict())
    assert "entry.py" not in text and grader not in text and "autograder/" not in text
    assert "confusion.py\\\", line 12" in text or 'confusion.py", line 12' in shown.questions[0].feedback
    assert "ZeroDivisionError: division by zero" in shown.questions[0].feedback
    assert grader in json.dumps(result.to_dict())  # the staff copy keeps them


# ------------------------------------------------------------------- rescore trusts nothing on disk

def _batch(tmp_path, points=1.5):
    from autograder.bulk.store import BatchStore

    q = QuestionResult("confusion.public_example", "confusion: x", "public", points, 2.0, "partial",
                       measurements={"checks": [{"name": "a", "passed": True, "weight": 0.75},
                                                {"name": "b", "passed": False, "weight": 0.25}]},
                       outcome="measured")
    result = GradingResult("alice", "quick", "bwrap", [q])
    store = BatchStore(tmp_path)
    record = {"id": "alice", "source": "alice", "name": "", "email": "", "status": "graded",
              "result": "students/alice/grading.json", "score": result.score, "max_score": result.max_score}
    store.write_student(record, result, "log", {"confusion.py": b"x = 1\n"})
    store.write_manifest({"version": 1, "settings": {"profile": "quick", "roster": None}, "entries": [record]})
    return store


def test_rescore_refuses_a_hand_edited_grading_json(tmp_path):
    from autograder.bulk.rescore import rescore_batch

    _batch(tmp_path)
    path = tmp_path / "students/alice/grading.json"
    data = json.loads(path.read_text())
    data["questions"][0]["points"] = 80.0
    data["questions"][0]["status"] = "error"  # a status whose points rescoring keeps as they are
    path.write_text(json.dumps(data))
    manifest = rescore_batch(tmp_path)
    [entry] = manifest["entries"]
    assert entry["score"] is None or (entry["score"] != 80.0 and entry["score"] <= entry["max_score"])
    assert "grading.json" in entry.get("error", "")


def test_rescored_points_never_leave_zero_to_max():
    from autograder.judge.rescore import rescore_question

    q = question("confusion.public_example", points=2.0)
    claimed = QuestionResult(q.id, q.name, "hidden", 80.0, 2.0, "error", outcome="student")
    assert 0 <= rescore_question(claimed, q, "quick").points <= 2.0
    negative = dataclasses.replace(claimed, points=-5.0)
    assert rescore_question(negative, q, "quick").points == 0.0


def test_a_preplanted_staged_folder_is_replaced_by_the_verified_files(tmp_path):
    from autograder.bulk.batch import stage_verified

    files = {"confusion.py": b"def precision(a, b): return 0.5\n"}
    key = "k" * 24
    planted = tmp_path / "submissions" / key
    planted.mkdir(parents=True)
    (planted / "confusion.py").write_bytes(b"# the reference, copied here by someone else\n")
    (planted / "extra.py").write_bytes(b"import os\n")
    folder = stage_verified(tmp_path, key, files)
    staged = {p.name: p.read_bytes() for p in __import__("pathlib").Path(folder).iterdir()}
    assert staged == files


# ------------------------------------------------------------------ the real class, not its name

def _remote(mro):
    return Remote(submission=None, module="ex_multiclass", handle=1, type=mro[0], mro=mro)


def test_isinstance_of_checks_the_real_library_class_not_a_name_suffix():
    impostor = _remote(["ex_multiclass.SVC", "sklearn.linear_model._logistic.LogisticRegression",
                        "sklearn.linear_model._base.LinearClassifierMixin", "sklearn.base.BaseEstimator",
                        "builtins.object"])
    real = _remote(["sklearn.svm._classes.SVC", "sklearn.svm._base.BaseSVC", "sklearn.base.BaseEstimator",
                    "builtins.object"])
    assert not impostor.isinstance_of("SVC") and not impostor.isinstance_of("sklearn.svm.SVC")
    assert real.isinstance_of("SVC") and real.isinstance_of("sklearn.svm.SVC")
    assert impostor.isinstance_of("LogisticRegression")


# ------------------------------------------- rescore after a policy edit == a fresh grade under it

CLASS_QUESTIONS = ("binary_classifier.sgd", "confusion.hidden_inputs", "tradeoff.threshold", "multilabel.models",
                   "ex3_titanic.accuracy")


def _edited_policy(spec: dict) -> dict:
    """Every policy field moved: points, band numbers, weights, the shuffled-label limit."""
    edited = {}
    for qid, q in spec.items():
        bands = {p: dataclasses.replace(b, full_at=b.full_at - 0.01, zero_at=b.zero_at - 0.2)
                 for p, b in q.bands.items()}
        weights = {g: w + i for i, (g, w) in enumerate(q.weights.items())}
        limit = 0.5 if q.permuted_limit is not None else None  # below the Titanic reference's 0.62: scores 0
        edited[qid] = dataclasses.replace(q, points=q.points * 3, bands=bands, weights=weights,
                                          permuted_limit=limit)
    return edited


@pytest.mark.slow
def test_rescore_after_a_policy_edit_equals_a_fresh_grade_on_a_mixed_class(tmp_path, monkeypatch):
    from autograder.judge.rescore import rescore_result
    from autograder.grading import grade_path
    from autograder.spec import load_spec
    from submissions import write_submission

    broken = (PROJECT / "solutions" / "confusion.py").read_text() + (
        "\n\ndef precision(y_true, y_pred):\n    import numpy as np\n"
        "    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n"
        "    return float(np.sum(y_true & y_pred) / max(len(y_true), 1))\n")
    class_ = {"reference": PROJECT / "solutions", "stubs": PROJECT / "assignments",
              "mixed": write_submission(tmp_path / "mixed", honest=("binary_classifier", "tradeoff", "ex3_titanic"),
                                        files={"confusion.py": broken})}
    spec = load_spec()
    edited = _edited_policy(spec)
    graded = {name: grade_path(path, questions=CLASS_QUESTIONS) for name, path in class_.items()}
    rescored = {name: rescore_result(result, edited) for name, result in graded.items()}
    monkeypatch.setattr("autograder.plugin.load_spec", lambda: edited)
    fresh = {name: grade_path(path, questions=CLASS_QUESTIONS) for name, path in class_.items()}

    def scored(result):
        return [(q.id, q.points, q.max_points, q.status, q.outcome,
                 {k: q.measurements["band"][k] for k in ("full_at", "zero_at")} if "band" in q.measurements else None)
                for q in result.questions]
    for name in class_:
        assert scored(rescored[name]) == scored(fresh[name]), name
    assert rescored["reference"].score != graded["reference"].score  # the edit changed something
    titanic = {q.id: q for q in rescored["reference"].questions}["ex3_titanic.accuracy"]
    assert titanic.points == 0 and "not counted" in titanic.feedback


@pytest.mark.slow
def test_an_injected_memory_fault_loses_no_points_and_is_retried(tmp_path):
    """grade-all under a memory limit the machine refuses: exit 3, the submissions named, nothing
    cached; --retry-failed without the limit gives every student their points."""
    import subprocess
    import sys

    for student, folder in (("alice", "solutions"), ("bob", "assignments")):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "confusion.py").write_bytes((PROJECT / folder / "confusion.py").read_bytes())
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "class"), "--out", str(out),
               "-q", "confusion.public_example", "-j", "1", "--quiet"]
    refused = subprocess.run(["bash", "-c", 'ulimit -v 3000000; exec "$@"', "bash", *command],
                             capture_output=True, text=True, timeout=600)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "alice: confusion.public_example" in refused.stderr and "bob: confusion.public_example" in refused.stderr
    assert not list((out / "cache").glob("*.json")) if (out / "cache").exists() else True
    retried = subprocess.run([sys.executable, "-m", "autograder", "grade-all", "--retry-failed", "--out", str(out),
                              "-j", "1", "--quiet"], capture_output=True, text=True, timeout=600)
    assert retried.returncode == 0, retried.stderr[-2000:]
    entries = {e["id"]: e for e in json.loads((out / "batch.json").read_text())["entries"]}
    assert entries["alice"]["score"] == entries["alice"]["max_score"] > 0
    assert entries["bob"]["score"] == 0 and not entries["bob"].get("infrastructure")


@pytest.mark.parametrize("points, max_points, status", [
    (1.0, 1.0, "passed"), (1.2, 1.0, "passed"), (0.5, 1.0, "partial"), (0.0, 1.0, "failed"), (-0.1, 1.0, "failed"),
    (3.0, 3.0, "passed"), (2.9999, 3.0, "partial"), (0.0, 0.0, "passed"),
])
def test_status_follows_from_the_points_earned(points, max_points, status):
    assert policy.status_for(points, max_points) == status


def test_percent_has_one_rounding_and_nothing_to_score_is_zero():
    from autograder.results import percent

    assert percent(2, 3) == 66.67 and percent(2, 3, places=1) == 66.7
    assert percent(2, 3, places=None) == pytest.approx(200 / 3)
    assert percent(5, 0) == 0.0
