"""Per-call time limits that follow the reference's measured cost, and short limits for a function
that already hung in the same submission.

``tests/test_limits_fixtures.py`` (slow) checks that no legitimate solution is cut by them.
"""

import dataclasses

import pytest

from autograder.grading import grade_path
from autograder.judge.client import Submission
from autograder.judge.limits import call_timeout, question_limits, reference_costs
from autograder.spec import SpecError, load_spec, parse_spec
from submissions import reference_source, write_submission

SPEC = load_spec()
CONFUSION = SPEC["confusion.hidden_inputs"]
HANGING_PRECISION = reference_source("confusion") + '''

def precision(y_true, y_pred):  # a threshold search that never ends
    while True:
        pass
'''


def test_every_question_declares_how_its_limit_follows_the_work():
    for q in SPEC.values():
        assert 0 < q.limits.hung_timeout <= q.limits.timeout_floor <= q.limits.timeout, q.id  # the shipped ones
        assert q.limits.timeout_multiple >= 1, q.id


def test_the_limit_is_a_multiple_of_the_reference_cost_between_the_floor_and_the_ceiling():
    limits = dataclasses.replace(CONFUSION.limits, timeout=60, timeout_floor=10, timeout_multiple=20)
    costs = {"quick": {"q.fast": {"slowest_call": 0.002}, "q.mid": {"slowest_call": 1.5},
                       "q.slow": {"slowest_call": 30.0}}}
    assert call_timeout("q.fast", "quick", limits, costs) == 10     # the floor
    assert call_timeout("q.mid", "quick", limits, costs) == 30      # 20 x 1.5 s
    assert call_timeout("q.slow", "quick", limits, costs) == 60     # the ceiling
    assert call_timeout("q.never_measured", "quick", limits, costs) == 60
    assert call_timeout("q.fast", "full", limits, costs) == 60      # measured on another profile only


def test_a_millisecond_question_is_not_given_a_minute():
    measured = reference_costs()["quick"]["confusion.hidden_inputs"]["slowest_call"]
    assert measured < 1
    assert call_timeout(CONFUSION.id, "quick", CONFUSION.limits) < CONFUSION.limits.timeout


def test_a_question_is_graded_under_its_limits_with_the_frontends_caps_and_its_derived_call_limit():
    graded = question_limits(CONFUSION.id, "quick", CONFUSION.limits, {"timeout": 7, "memory_mb": 900})
    assert (graded.timeout, graded.memory_mb, graded.threads) == (7, 900, CONFUSION.limits.threads)
    capped = dataclasses.replace(CONFUSION.limits, timeout=7, memory_mb=900)
    assert graded.call_timeout == call_timeout(CONFUSION.id, "quick", capped) <= 7
    assert question_limits(CONFUSION.id, "quick", CONFUSION.limits).timeout == CONFUSION.limits.timeout


def test_student_code_runs_only_under_a_started_questions_limits(tmp_path):
    submission = Submission(write_submission(tmp_path / "s", honest=["confusion"]))
    try:
        with pytest.raises(RuntimeError, match="start_question"):
            submission.module("confusion").precision([0, 1], [0, 1])
        with pytest.raises(TypeError, match="'limits' parameter must be a Limits"):
            submission.start_question({"timeout": 5})
        submission.start_question(CONFUSION.limits, from_scratch=("sklearn.metrics",))
        assert submission.module("confusion").precision([0, 1, 1], [0, 1, 0]) == 1.0
        assert submission.slowest_call > 0 and submission.from_scratch == ("sklearn.metrics",)
        submission.start_question(CONFUSION.limits)  # the next question counts afresh
        assert (submission.slowest_call, submission.from_scratch, submission.library_calls) == (0.0, (), [])
    finally:
        submission.close()


def test_the_limit_fields_are_validated_like_the_others():
    document = {"questions": {"m.q": {"title": "t", "points": 1, "visibility": "public", "timeout": 5,
                                      "memory_mb": 1, "threads": 1, "processes": 1, "file_mb": 1, "output_kb": 1,
                                      "timeout_multiple": -2}}}
    with pytest.raises(SpecError, match="'timeout_multiple' field of question 'm.q' must be a number > 0"):
        parse_spec(document)
    document["questions"]["m.q"].update(timeout_multiple=3, hung_timeout="short")
    with pytest.raises(SpecError, match="'hung_timeout' field of question 'm.q' must be a number > 0"):
        parse_spec(document)
    assert parse_spec({"questions": {"m.q": {**document["questions"]["m.q"], "hung_timeout": 1}}})


def test_a_function_that_hung_gets_a_short_limit_on_its_next_calls_with_a_note(tmp_path):
    folder = write_submission(tmp_path / "s", files={"confusion.py": HANGING_PRECISION})
    result = grade_path(folder, questions=("confusion",), limits={"timeout_floor": 3, "timeout_multiple": 1, "hung_timeout": 1})
    by_id = {q.id: q for q in result.questions}
    assert [q.status for q in result.questions] == ["timeout"] * 3
    first, later = by_id["confusion.public_example"], [by_id["confusion.hidden_inputs"], by_id["confusion.validation"]]
    assert "within 3 s" in first.feedback and "already" not in first.feedback
    for q in later:
        assert "within 1 s" in q.feedback and "already run out of time earlier in this submission" in q.feedback
    # recorded with the results: the limit each question ran under
    assert {qid: limit["limit_s"] for qid, limit in result.time_limits.items()} == {qid: 3 for qid in by_id}
