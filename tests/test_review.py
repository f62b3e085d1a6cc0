"""Held for review: a figure no honest answer reaches, on code carrying data, waits for a person.

The policy holds a question only when both signs meet (a strong model alone, or a flag alone, decides
nothing); a held question is neither full nor zero anywhere (grading.json, the student's reports,
Gradescope, the class summary) and carries a machine-readable status that an export gate can test.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from autograder.judge.rescore import rescore_result
from autograder.disclosure import for_students
from autograder.policy import HELD_TEXT, apply_review, hold
from autograder.reporters.gradescope import to_gradescope
from autograder.reporters.markdown import to_markdown
from autograder.bulk.summary import lost_points, question_stats
from autograder.results import GradingResult, QuestionResult
from autograder.spec import Band, Limits, Question, SpecError, load_spec, parse_spec

LIMITS = Limits(timeout=60, memory_mb=4096, threads=2, processes=256, file_mb=64, output_kb=64)
BAND = Band(full_at=0.798, zero_at=0.776)
TITANIC = Question(id="ex3_titanic.accuracy", title="accuracy", points=10.0, visibility="hidden", limits=LIMITS,
                   bands={"full": BAND}, disclosure="band", review_above=0.9)
LOOKUP_FLAG = {"file": "ex3_titanic.py", "line": 12, "kind": "table literal",
               "evidence": "a dict display of 1,309 constants"}


def measured(value: float) -> dict:
    return {"band": {"metric": "accuracy", "value": value, "full_at": BAND.full_at, "zero_at": BAND.zero_at,
                     "reference": 0.8114, "se": 0.011, "n": 1307}}


def graded(value: float, flags: list[dict]) -> GradingResult:
    """A result as the plugin records it (full marks from the band), before the review step."""
    fraction = BAND.credit(value)
    q = QuestionResult(TITANIC.id, TITANIC.name, "hidden", round(10 * fraction, 4), 10.0,
                       "passed" if fraction >= 1 else "partial", feedback=f"accuracy {value:.3f}",
                       measurements=measured(value), outcome="measured")
    return GradingResult("student", "full", "bwrap", [q], data_flags=list(flags))


# ------------------------------------------------------------------ when a question is held

@pytest.mark.parametrize("value, flags, held", [
    (0.988, [LOOKUP_FLAG], True),                                   # both signs: held
    (0.988, [], False),                                             # a strong figure alone decides nothing
    (0.85, [LOOKUP_FLAG], False),                                   # a flag alone decides nothing
    (0.988, [{**LOOKUP_FLAG, "file": "ex4_spam.py"}], False),       # a flag in another question's module
    (0.988, [{**LOOKUP_FLAG, "file": "helpers.py"}], True),         # a helper file the module can import
])
def test_a_question_is_held_only_when_an_implausible_figure_meets_a_flag_on_its_code(value, flags, held):
    assert (hold(measured(value), TITANIC, flags) is not None) == held


def test_a_question_without_a_ceiling_is_never_held():
    assert hold(measured(0.999), dataclasses.replace(TITANIC, review_above=None), [LOOKUP_FLAG]) is None


# --------------------------------------------------------- what every reader sees of it

def test_a_held_question_is_neither_full_nor_zero_in_any_report():
    result = graded(0.988, [LOOKUP_FLAG])
    apply_review(result, {TITANIC.id: TITANIC})
    q = result.questions[0]
    assert (q.status, q.points, q.outcome) == ("held", 0.0, "measured")
    assert q.measurements["held"]["fraction"] == 1.0 and q.measurements["held"]["files"] == ["ex3_titanic.py"]
    stored = result.to_dict()
    assert stored["held_for_review"] == [TITANIC.id]
    assert GradingResult.from_dict(json.loads(json.dumps(stored))).held[0].id == TITANIC.id

    student = for_students(result, {TITANIC.id: TITANIC})
    shown = student.questions[0]
    assert shown.status == "held" and shown.feedback == HELD_TEXT
    text = json.dumps(dataclasses.asdict(shown))
    assert "0.988" not in text and "table literal" not in text  # no figure, no staff evidence
    assert not any(word in HELD_TEXT.lower() for word in ("cheat", "suspect", "lookup", "copied"))

    from autograder.reporters.html import to_html

    page = to_html(student)
    assert "held for review / 10" in page and "pending review by the course staff" in page
    report = to_markdown(student)
    assert "held for review / 10" in report and "| 0 / 10 |" not in report and "10 / 10" not in report
    gradescope = to_gradescope(for_students(result, {TITANIC.id: TITANIC}, keep_points=True))
    test = gradescope["tests"][0]
    assert "score" not in test and "status" not in test and test["extra_data"]["status"] == "held"
    assert "Pending review: 10 points" in gradescope["output"]

    assert lost_points(result) == []
    row = question_stats({"s": result})[0]
    assert row["statuses"] == {"held": 1} and row["zero_rate"] == 0.0


def test_an_honest_strong_model_keeps_its_points():
    result = graded(0.83, [LOOKUP_FLAG])
    apply_review(result, {TITANIC.id: TITANIC})
    assert (result.questions[0].status, result.questions[0].points) == ("passed", 10.0)
    assert result.to_dict()["held_for_review"] == []


# ------------------------------------------------------------------ rescoring

def test_rescoring_keeps_a_held_question_held_and_raising_the_ceiling_releases_it():
    result = graded(0.988, [LOOKUP_FLAG])
    apply_review(result, {TITANIC.id: TITANIC})
    again = rescore_result(result, {TITANIC.id: TITANIC})
    assert [q.status for q in again.questions] == ["held"]
    assert again.questions[0].feedback.count(HELD_TEXT) == 1
    released = rescore_result(again, {TITANIC.id: dataclasses.replace(TITANIC, review_above=0.995)})
    q = released.questions[0]
    assert (q.status, q.points) == ("passed", 10.0) and HELD_TEXT not in q.feedback and "held" not in q.measurements


def test_review_is_idempotent():
    result = graded(0.988, [LOOKUP_FLAG])
    spec = {TITANIC.id: TITANIC}
    apply_review(result, spec)
    first = result.to_dict()
    apply_review(result, spec)
    assert result.to_dict() == first


# ------------------------------------------------------------------ the spec field

VALID = {"title": "t", "points": 1, "visibility": "hidden", "timeout": 5, "memory_mb": 1024, "threads": 1,
         "processes": 64, "file_mb": 8, "output_kb": 16, "tolerance": {"full": {"full_at": 0.8, "zero_at": 0.7}}}


@pytest.mark.parametrize("change, message", [
    ({"review_above": "high"}, "The 'review_above' field of question 'm.q' must be a finite number"),
    ({"review_above": 0.75}, "must be a number above the full-marks line (0.8)"),
    ({"review_above": 0.9, "tolerance": {}}, "set only on a question scored in a band"),
])
def test_review_above_is_validated_like_the_other_fields(change, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec({"questions": {"m.q": {**VALID, **change}}})


def test_the_titanic_ceiling_lies_above_the_reference_and_its_full_marks_line():
    question = load_spec()["ex3_titanic.accuracy"]
    assert question.review_above > question.bands["full"].full_at + 0.05


# ------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_a_titanic_model_that_looks_passengers_up_in_the_public_list_is_held(tmp_path):
    """The lookup survives the shuffled-label check (the model learns to trust a column of known outcomes,
    which shuffled labels break) and scores far above any honest model: held, not full marks."""
    from autograder.data import load_titanic
    from autograder.grading import grade_path
    from submissions import write_submission

    titanic = load_titanic("quick")
    known = dict(zip(titanic.train["Name"], titanic.train["Survived"].astype(int)))
    known.update(zip(titanic.test["Name"], (int(v) for v in titanic.test_labels)))
    source = f"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

PASSENGERS = {known!r}


class KnownOutcome(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.array([[PASSENGERS.get(name, 0)] for name in X["Name"]])


def build_pipeline():
    return Pipeline([("known", KnownOutcome()), ("tree", DecisionTreeClassifier(max_depth=1))])
"""
    folder = write_submission(tmp_path / "submission", files={"ex3_titanic.py": source})
    out = tmp_path / "out"
    result = grade_path(folder, out, questions=["ex3_titanic.accuracy"])
    [q] = result.questions
    assert q.status == "held" and q.points == 0.0, q
    assert q.measurements["held"]["figure"] > 0.95 and q.measurements["held"]["fraction"] == 1.0
    staff = json.loads((out / "grading.json").read_text())
    assert staff["held_for_review"] == ["ex3_titanic.accuracy"]
    student = (out / "report.md").read_text()
    assert "held for review / 10" in student and "PASSENGERS" not in student
