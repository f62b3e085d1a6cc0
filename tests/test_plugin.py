"""The grading plugin on throwaway grader files (pytester): marks are checked, outcomes become results."""

import pytest

from autograder.plugin import GradingPlugin
from autograder.spec import parse_spec
from submissions import PROJECT

#: A spec of the test's own: two questions of one module (the real questions.toml plays no part).
SMALL_SPEC = parse_spec({"defaults": {
    "timeout": 10, "timeout_floor": 5, "timeout_multiple": 20, "hung_timeout": 1, "memory_mb": 1024, "threads": 1,
    "processes": 64, "file_mb": 16, "output_kb": 64, "source_kb": 128, "disclosure": "exact",
}, "questions": {
    "confusion.first": {"title": "the first check", "points": 4, "visibility": "hidden"},
    "confusion.second": {"title": "the second check", "points": 2, "visibility": "public"},
}})


def run(pytester, files: dict[str, str], questions=("confusion",), spec=None):
    for path, source in files.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    plugin = GradingPlugin(PROJECT / "solutions", questions=questions, spec=spec)
    outcome = pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[plugin])
    return outcome, plugin


HEADER = "import pytest\nimport numpy as np\n"


@pytest.mark.parametrize("files, message", [
    ({"public/test_a.py": HEADER + "def test_unmarked():\n    pass\n"}, "needs exactly one"),
    ({"public/test_a.py": HEADER + "@pytest.mark.question('confusion.nope')\ndef test_a():\n    pass\n"},
     "'confusion.nope' is not declared"),
    ({"public/test_a.py": HEADER + "@pytest.mark.question('confusion.hidden_inputs')\ndef test_a():\n    pass\n"},
     "is hidden in questions.toml but its test lives in graders/public/"),
    ({"hidden/test_a.py": HEADER + "@pytest.mark.question('confusion.hidden_inputs')\ndef test_a():\n    pass\n"
                                   "@pytest.mark.question('confusion.hidden_inputs')\ndef test_b():\n    pass\n"},
     "has more than one test"),
])
def test_collection_refuses_bad_marks(pytester, files, message):
    outcome, _ = run(pytester, files)
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    assert message in "\n".join(outcome.errlines + outcome.outlines)


def test_outcomes_become_results(pytester):
    source = HEADER + """
@pytest.mark.question("confusion.validation")  # unweighted checks
def test_partial(credit):
    credit.checks([("one", True), ("two", False), ("three", True), ("four", False)])

@pytest.mark.question("confusion.hidden_inputs")
def test_grader_bug():
    {}["missing"]

@pytest.mark.question("roc.points")
def test_outside_scope():
    pass
"""
    outcome, plugin = run(pytester, {"hidden/test_a.py": source})
    result = plugin.result("submission")
    by_id = {q.id: q for q in result.questions}
    partial = by_id["confusion.validation"]
    assert partial.status == "partial" and partial.points == partial.max_points / 2
    assert "2/4 checks passed: failed two; four" in partial.feedback
    bug = by_id["confusion.hidden_inputs"]
    assert bug.status == "grader_error" and bug.points == 0 and "not your fault" in bug.feedback
    assert any("KeyError" in error for error in result.grader_errors)
    never = by_id["confusion.public_example"]  # in scope, but no test ran for it
    assert never.status == "not_run" and "no grader test ran" in never.feedback
    assert "roc.points" not in by_id  # deselected: outside the questions asked for
    outcome.assert_outcomes(passed=1, failed=1, deselected=1)


def test_the_plugin_grades_against_the_spec_it_is_given(pytester):
    source = HEADER + """
@pytest.mark.question("confusion.first")
def test_first():
    pass
"""
    outcome, plugin = run(pytester, {"hidden/test_a.py": source}, spec=SMALL_SPEC)
    result = plugin.result("submission")
    assert [(q.id, q.status, q.points, q.max_points) for q in result.questions] == [
        ("confusion.first", "passed", 4, 4), ("confusion.second", "not_run", 0, 2)]
    assert result.max_score == 6
    outcome.assert_outcomes(passed=1)


def test_a_question_outside_the_given_spec_is_refused(pytester):
    source = HEADER + "@pytest.mark.question('confusion.validation')\ndef test_a():\n    pass\n"
    outcome, _ = run(pytester, {"hidden/test_a.py": source}, spec=SMALL_SPEC)
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    assert "'confusion.validation' is not declared" in "\n".join(outcome.errlines + outcome.outlines)
