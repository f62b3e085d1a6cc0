"""Fair scores and feedback a student can act on, for the ten concept modules.

Each case grades a submission written in a student's spirit, kept in
``tests/fixtures/fairness/concepts_*``: legitimate other styles (loops, numpy
scalars and 0-d arrays, lists instead of tuples, no scikit-learn), a half-done
module, typical bugs (a transposed confusion matrix, ``>`` for ``>=``, swapped
target columns, inverted weights) and hostile-but-plausible output (dicts for
tuples, a regressor's fractions, ``fit`` without ``return self``, ``None`` for a
model).  Only the questions a fixture needs are graded.
"""

import ast
import doctest
import importlib
import shutil

import numpy as np
import pytest

from autograder.judge.rescore import measured_fraction
from autograder.contract import CONTRACT
from autograder.grading import grade_path
from autograder.judge.scoring import Check, Credit
from autograder.judge.validate import InvalidOutput, as_float, as_records
from autograder.plugin import GradingPlugin
from autograder.spec import SpecError, load_spec, parse_spec
from autograder.worker import protocol
from submissions import PROJECT

FIXTURES = PROJECT / "tests" / "fixtures" / "fairness"
CONCEPTS = [m for m in CONTRACT if not m.startswith("ex")]
SPEC = load_spec()


def graded(name, questions):
    result = grade_path(FIXTURES / name, questions=questions)
    assert not result.grader_errors, result.grader_errors
    return {q.id: q for q in result.questions}


@pytest.fixture(scope="module")
def loops():
    return graded("concepts_numpy_loops", ["confusion", "tradeoff.threshold", "multilabel.average_f1",
                                           "multilabel.targets", "cross_validation"])


@pytest.fixture(scope="module")
def other_styles():
    return graded("concepts_other_styles", ["error_analysis", "roc.points", "roc.plot", "mnist", "tradeoff"])


@pytest.fixture(scope="module")
def bugs():
    return graded("concepts_common_bugs", ["confusion.public_example", "confusion.hidden_inputs",
                                           "tradeoff.threshold", "multilabel.targets", "error_analysis.plot"])


@pytest.fixture(scope="module")
def hostile():
    return graded("concepts_hostile", ["error_analysis.top", "multilabel.models", "cross_validation.never",
                                       "multioutput.denoiser"])


# ------------------------------------------------------------------ legitimate approaches lose nothing

def test_loops_numpy_scalars_and_0d_arrays_get_full_marks(loops):
    """Plain loops; precision returns np.array(2/3), recall np.float64, average_f1 a 0-d array."""
    assert {qid: (q.points, q.status) for qid, q in loops.items()} == {
        qid: (SPEC[qid].points, "passed") for qid in loops}
    assert len(loops) == 8


def test_other_styles_get_full_marks(other_styles):
    """A (k, 3) array from top_confusions, lists for tuples, a tuple of lines, np.bincount, no sklearn."""
    assert {qid: (q.points, q.status) for qid, q in other_styles.items()} == {
        qid: (SPEC[qid].points, "passed") for qid in other_styles}
    assert len(other_styles) == 9


def test_warnings_of_the_graders_own_estimators_are_not_blamed_on_the_student(loops):
    """manual_cross_val_score fits the SGD the grader passes in: it prints nothing (no ConvergenceWarning)."""
    assert loops["cross_validation.manual"].output == ""


def test_zero_d_arrays_cross_the_wire_as_they_are():
    assert protocol.decode(protocol.encode(np.array(2 / 3))).shape == ()
    assert as_float(np.array(2 / 3), "precision()") == 2 / 3
    with pytest.raises(InvalidOutput, match=r"returned an array of shape \(1,\) and dtype float64; expected a float"):
        as_float(np.array([0.5]), "precision()")
    with pytest.raises(InvalidOutput, match=r"shape \(\) and dtype bool"):
        as_float(np.array(True), "precision()")


def test_records_accept_lists_tuples_and_arrays_of_rows():
    expected = [(1, 2, 0.5)]
    for value in ([(1, 2, 0.5)], [[1, 2, 0.5]], np.array([[1, 2, 0.5]]), ((1.0, 2, np.float64(0.5)),)):
        assert as_records(value, "top_confusions()", width=3, kinds="iif") == expected
    assert as_records(np.array([]), "top_confusions()", width=3, kinds="iif") == []
    with pytest.raises(InvalidOutput, match="item 0, field 0"):
        as_records([(1.5, 2, 0.5)], "top_confusions()", width=3, kinds="iif")


# ------------------------------------------------------------------ partial credit follows the lesson

def test_half_done_multilabel_gets_the_part_that_works():
    q = graded("concepts_half_done", ["multilabel.models"])["multilabel.models"]
    assert (q.points, q.status) == (1.0, "partial")
    lines = q.feedback.splitlines()
    assert lines[0] == ("1/2 checks passed (50% of the points; model 1/1 x1, chain 0/1 x1): failed build_chain")
    assert lines[1] == ("- build_chain: called multilabel.build_chain(random_state=3): not implemented yet "
                        "(it raises NotImplementedError)")
    assert lines[2].startswith("macro F1 of the multilabel model 0.9162 on 300 held-out samples (standard error "
                               "0.0164); full marks at >= ")
    assert [c["weight"] for c in q.measurements["checks"]] == [0.5, 0.5]
    assert "band" not in q.measurements and q.measurements["checks"][0]["band"]["metric"].startswith("macro F1")
    assert measured_fraction(q.measurements, None) == 0.5  # a rescore reproduces the parts' credit


def test_exact_thresholds_without_the_value_error_keep_three_quarters():
    """The lesson is the threshold: missing the ValueError costs its weight (1 of 4), not 6/14 of the points."""
    q = graded("concepts_no_value_error", ["tradeoff.threshold"])["tradeoff.threshold"]
    assert (q.points, q.status) == (3.0, "partial")
    assert q.feedback.splitlines()[0].startswith(
        "8/14 checks passed (75% of the points; threshold 4/4 x2, predictions 4/4 x1, unreachable 0/6 x1): "
        "failed case 2: unreachable target raises;")
    assert "; expected it raises ValueError; got " in q.feedback.splitlines()[1]


def test_exact_thresholds_with_strict_predictions_get_the_declared_weights(bugs):
    """Thresholds exact, ValueError right, predictions use '>': weights 2/1/1 give 3 of 4 points."""
    q = bugs["tradeoff.threshold"]
    assert SPEC["tradeoff.threshold"].weights == {"threshold": 2.0, "predictions": 1.0, "unreachable": 1.0}
    assert (q.points, q.status) == (3.0, "partial")
    assert q.feedback.splitlines()[0] == (
        "10/14 checks passed (75% of the points; threshold 4/4 x2, predictions 0/4 x1, unreachable 6/6 x1): "
        "failed case 0: predictions; case 1: predictions; case 5: predictions; case 7: predictions")
    checks = q.measurements["checks"]
    assert sum(c["weight"] for c in checks) == pytest.approx(1)
    assert sum(c["weight"] for c in checks if c["passed"]) == pytest.approx(0.75)  # a rescore reproduces it
    assert {c["group"] for c in checks} == {"threshold", "predictions", "unreachable"}


# ------------------------------------------------------------------ typical bugs fail where a student can see them

def test_public_example_catches_a_transposed_matrix_and_swapped_precision_recall(bugs):
    q = bugs["confusion.public_example"]
    assert (q.points, q.status) == (0.5, "partial")  # only F1, symmetric in FP and FN, passes
    lines = q.feedback.splitlines()
    # names say what is checked, never the expected value; the detail names the mistake
    assert lines[0] == ("1/4 checks passed: failed matrix on the docstring example; precision on the docstring "
                        "example; recall on the docstring example")
    assert lines[1].endswith("expected int64 array [[1, 1], [2, 2]]; got int64 array [[1, 2], [1, 2]]; "
                             "first difference at [0, 1]: got 2, expected 1 (2 of 4 differ); likely cause: the matrix "
                             "is transposed: rows are the true labels, columns the predictions ([[TN, FP], [FN, TP]])")
    assert lines[2].endswith("expected 0.6666666666666666; got 0.5; off by -0.167; likely cause: precision and recall "
                             "are swapped: this value is the recall (precision divides TP by TP + FP)")
    assert lines[3].endswith("expected 0.5; got 0.6666666666666666; off by +0.167; likely cause: precision and recall "
                             "are swapped: this value is the precision (recall divides TP by TP + FN)")
    # matrix 2/30, precision 3/30, recall 3/30, F1 30/30, from scratch 1/1: a fifth of the points each
    assert bugs["confusion.hidden_inputs"].points == pytest.approx(6 * (8 / 30 + 2) / 5, abs=1e-4)


@pytest.mark.parametrize("qid, first_difference", [
    ("multilabel.targets", "first difference at [0, 0]: got True, expected False (4 of 8 differ)"),
    ("error_analysis.plot", "first difference at [0, 0]: got 1.0, expected 0.0 (6 of 9 differ)"),
])
def test_public_examples_catch_swapped_columns_and_inverted_weights(bugs, qid, first_difference):
    q = bugs[qid]
    assert (q.points, q.status) == (0.0, "failed")
    assert first_difference in q.feedback.splitlines()[1]


def test_public_examples_match_the_docstrings_and_the_reference():
    """The docstrings' examples hold for the reference; the public confusion example is the docstring's.

    (The other modules' examples need MNIST in scope; these two stand alone.)
    """
    for module in ("confusion", "multilabel"):
        stub, reference = (importlib.import_module(f"{package}.{module}") for package in ("assignments", "solutions"))
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        for test in doctest.DocTestFinder().find(stub):
            test.globs = {**vars(reference), "np": np}
            runner.run(test)
        assert runner.failures == 0, f"a docstring example of assignments/{module}.py is wrong"
    grader = (PROJECT / "autograder/graders/public/test_concepts_public.py").read_text()
    assert '"y_true": np.array([0, 1, 1, 0, 1, 1]), "y_pred": np.array([0, 1, 1, 1, 0, 0])' in grader
    assert "binary_confusion_matrix([0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0])" in \
        (PROJECT / "assignments/confusion.py").read_text()


# ------------------------------------------------------------------ hostile but plausible: a failed check

def test_hostile_output_fails_its_check_with_a_clear_message(hostile):
    assert {qid: (q.points, q.status) for qid, q in hostile.items()} == {
        "error_analysis.top": (0.0, "failed"), "multilabel.models": (1.0, "partial"),
        "cross_validation.never": (1.3333, "partial"), "multioutput.denoiser": (0.0, "failed")}
    assert "returned a list whose item 0 is a dict; expected a 3-tuple" in hostile["error_analysis.top"].feedback
    assert ("build_multilabel_model().predict() returned values other than 0/1 or False/True: [0.2, 0.4, 0.6, 0.8]"
            in hostile["multilabel.models"].feedback)
    assert "expected the estimator itself (`return self`: scikit-learn chains" in hostile["cross_validation.never"].feedback
    assert "a `fit` ending in `pass` returns None); got None" in hostile["cross_validation.never"].feedback
    assert hostile["multioutput.denoiser"].feedback == \
        "build_denoiser() returned None; expected an unfitted estimator"


# ------------------------------------------------------------------ feedback: headline first, then what failed

def test_every_failed_check_says_what_was_called_expected_and_returned(loops, other_styles, bugs, hostile):
    failed = [(qid, c) for run in (loops, other_styles, bugs, hostile) for qid, q in run.items()
              for c in q.measurements.get("checks", []) if not c["passed"]]
    assert len(failed) > 50
    for qid, c in failed:
        detail = c["detail"] or ""
        assert detail.startswith("called ") and "; expected " in detail, (qid, c)
        assert "; got " in detail or "; but " in detail or "not implemented" in detail, (qid, c)
    for run in (bugs, hostile):
        for q in run.values():  # the headline says the result; the details follow it
            checks = q.measurements.get("checks")
            if checks:
                headline = f"{sum(c['passed'] for c in checks)}/{len(checks)} checks passed"
                assert q.feedback.splitlines()[0].startswith(headline), q.feedback
                assert all(line.startswith("- ") for line in q.feedback.splitlines()[1:] if "called" in line)


def test_concept_graders_give_every_assert_a_message():
    for path in (PROJECT / "autograder/graders/public/test_concepts_public.py",
                 PROJECT / "autograder/graders/hidden/test_concepts_hidden.py"):
        bare = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Assert) and node.msg is None]
        assert bare == [], f"{path.name}: asserts without a message at lines {bare}"


def test_pytest_assert_text_never_reaches_feedback(pytester):
    pytester.makepyfile(test_graders="""
import pytest

@pytest.mark.question("confusion.hidden_inputs")
def test_bare(credit):
    assert [1, 2, 3] * 20 == [1, 2, 4] * 20

@pytest.mark.question("confusion.validation")
def test_with_message(credit):
    got = "x" * 300
    assert got == "y" * 300, "the grader's own words"
""")
    plugin = GradingPlugin(PROJECT / "solutions", questions=["confusion.hidden_inputs", "confusion.validation"])
    pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[plugin])
    results = {q.id: q for q in plugin.result("s").questions}
    assert results["confusion.hidden_inputs"].feedback == \
        f"a check of '{SPEC['confusion.hidden_inputs'].title}' failed"
    assert results["confusion.validation"].feedback == "the grader's own words"
    for q in results.values():
        assert q.status == "failed" and "-v" not in q.feedback and "assert" not in q.feedback


# ------------------------------------------------------------------ the reference stands alone

def test_reference_modules_import_nothing_from_the_solutions_package():
    for path in sorted((PROJECT / "solutions").glob("*.py")):
        imported = [node.module for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "solutions"]
        assert imported == [], f"{path.name} imports {imported}: a student's copy of it would not import"


#: A quick question of each module (no plots, no model training): enough to import and run every module.
ONE_QUESTION_PER_MODULE = [
    "mnist.split", "binary_classifier.target", "cross_validation.never", "confusion.public_example",
    "tradeoff.threshold", "roc.points", "multiclass.scaled_sgd", "error_analysis.top", "multilabel.targets",
    "multioutput.noise", "ex1_knn97.grid", "ex2_augmentation.shift", "ex3_titanic.contract", "ex4_spam.parsing"]


def test_a_copy_of_the_reference_graded_elsewhere_gets_full_marks(tmp_path):
    """solutions/*.py copied into a bare folder: every module imports and scores (one cheap question each)."""
    for path in (PROJECT / "solutions").glob("*.py"):
        if path.name != "__init__.py":
            shutil.copy(path, tmp_path)
    result = grade_path(tmp_path, questions=ONE_QUESTION_PER_MODULE)
    assert {q.module for q in result.questions} == set(CONTRACT)  # every module, exercises included
    assert [(q.id, q.status) for q in result.questions if q.points < q.max_points] == []


# ------------------------------------------------------------------ weights: declared in questions.toml, validated

VALID = {"title": "t", "points": 2, "visibility": "public", "timeout": 5, "memory_mb": 1024, "threads": 1,
         "processes": 64, "file_mb": 8, "output_kb": 16}


@pytest.mark.parametrize("weights, message", [
    ({}, "The 'weights' field of question 'm.q' must be a table of check group -> number > 0"),
    ([1, 2], "The 'weights' field of question 'm.q' must be a table of check group -> number > 0"),
    ({"a": 0}, "The 'weights.a' field of question 'm.q' must be a number > 0. Got 0 instead."),
    ({"a": "2"}, "The 'weights.a' field of question 'm.q' must be a number > 0. Got '2' instead."),
    ({"a": True}, "The 'weights.a' field of question 'm.q' must be a number > 0. Got True instead."),
])
def test_weights_errors_name_the_field(weights, message):
    with pytest.raises(SpecError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_spec({"questions": {"m.q": {**VALID, "weights": weights}}})


def test_weights_parse_and_default_to_equal_checks():
    spec = parse_spec({"questions": {"m.q": {**VALID, "weights": {"a": 2, "b": 1}}, "m.r": VALID}})
    assert spec["m.q"].weights == {"a": 2.0, "b": 1.0} and spec["m.r"].weights == {}


def test_weighted_credit_splits_each_group_among_its_checks():
    credit = Credit(weights={"a": 2, "b": 1, "absent": 5})
    fraction = credit.checks([Check("a1", True, group="a"), Check("a2", False, group="a", detail="called f(); ..."),
                              Check("b1", True, group="b")])
    assert fraction == pytest.approx(2 / 3 * 1 / 2 + 1 / 3)  # groups without checks are left out
    assert [c["weight"] for c in credit.measurements["checks"]] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert credit.lines == ["2/3 checks passed (67% of the points; a 1/2 x2, b 1/1 x1): failed a2",
                            "- a2: called f(); ..."]
    unweighted = Credit()
    assert unweighted.checks([("one", True), ("two", False, None)]) == 0.5  # plain tuples still count
    with pytest.raises(ValueError, match=r"check group\(s\) \['c'\] have no weight"):
        Credit(weights={"a": 1}).checks([Check("c1", True, group="c")])
    partial = Credit(weights={"model": 1, "chain": 1})
    assert partial.checks([Check("model", False, group="model", score=0.5), Check("chain", True, group="chain")]) \
        == pytest.approx(0.75)
