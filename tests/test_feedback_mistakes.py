"""Failed checks name their cause: the catalogue of common mistakes, and a walk over every failed check.

The detectors are tested on values built here (fast); the slow tests grade learners' solutions
with these mistakes (``tests/fixtures/fairness/mistakes_*``, ``concepts_common_bugs``) and walk
every failed check: each says what was expected and what came back, and the mistakes each
fixture holds are named.
"""

import numpy as np
import pytest

from autograder.graders.explain import (MISTAKES, errors_only_mistakes, first_mistake,
                                        normalize_mistakes, pixel_difference, shift_mistakes, shifted)
from autograder.grading import grade_path
from submissions import PROJECT

FAIRNESS = PROJECT / "tests" / "fixtures" / "fairness"
IMAGE = (np.random.default_rng(0).integers(0, 256, (28, 28)) * (np.random.default_rng(1).random((28, 28)) < 0.3)) \
    .astype(np.uint8)


def _named(mistakes, got):
    found = first_mistake(mistakes, got)
    return found.key if found else None


@pytest.mark.parametrize("wrong, key", [
    (lambda im, dx, dy: np.roll(im, (dy, dx), axis=(0, 1)), "wraps_around"),
    (lambda im, dx, dy: shifted(im, dy, dx), "dx_dy_swapped"),
    (lambda im, dx, dy: shifted(im, -dx, -dy), "opposite_direction"),
    (lambda im, dx, dy: shifted(im, dx + 1, dy), "wrong_distance"),
])
def test_wrong_shifts_are_named(wrong, key):
    dx, dy = 2, -3
    assert _named(shift_mistakes(IMAGE, dx, dy), wrong(IMAGE, dx, dy)) == key
    assert _named(shift_mistakes(IMAGE, dx, dy), shifted(IMAGE, dx, dy)) is None  # the right answer is no mistake
    assert key in MISTAKES["ex2_augmentation.shift_image"]


def test_pixel_difference_counts_pixels_and_shows_the_first():
    got = np.roll(IMAGE, 1, axis=1)
    text = pixel_difference(got, shifted(IMAGE, 1, 0))
    row = int(np.argwhere(got != shifted(IMAGE, 1, 0))[0][0])
    assert text.startswith(f"{int((got != shifted(IMAGE, 1, 0)).sum())} of 784 pixels differ from "
                           "scipy.ndimage.shift(order=0, cval=0); first at row ")
    assert f"row {row}, col 0: got {IMAGE[row, 27]}, expected 0" in text


def test_normalisation_mistakes_are_named_with_the_nan_rows():
    cm = np.array([[5, 1, 0], [0, 0, 0], [2, 3, 4]])
    with np.errstate(invalid="ignore"):
        second_edition = cm / cm.sum(axis=1, keepdims=True)
    mistake = first_mistake(normalize_mistakes(cm, "true"), second_edition)
    assert mistake.key == "nan_rows" and "row 1 of the result" in mistake.message
    assert _named(normalize_mistakes(cm, "true"), cm / np.maximum(cm.sum(axis=0, keepdims=True), 1)) == "wrong_axis"
    normalised_first = np.nan_to_num(second_edition)
    np.fill_diagonal(normalised_first, 0)
    assert _named(errors_only_mistakes(cm), normalised_first) == "normalised_then_zeroed"


# ------------------------------------------------------------------ learners' solutions, graded

#: fixture -> (questions, catalogue keys whose messages must appear among its failed checks)
CASES = {
    "concepts_common_bugs": (["confusion.public_example", "confusion.hidden_inputs", "tradeoff.threshold",
                              "multilabel.targets"],
                             [("confusion.binary_confusion_matrix", "transposed"), ("confusion.precision", "swapped"),
                              ("tradeoff.predict_at_threshold", "strict_inequality"),
                              ("multilabel.large_odd_targets", "swapped_columns")]),
    "mistakes_second_edition": (["error_analysis.normalize", "cross_validation.manual", "confusion.hidden_inputs",
                                 "roc.points", "tradeoff.threshold"],
                                [("error_analysis.normalize_confusion", "nan_rows"),
                                 ("error_analysis.errors_only", "normalised_then_zeroed"),
                                 ("cross_validation.manual_cross_val_score", "shuffled_folds"),
                                 ("confusion.binary_confusion_matrix", "uses_sklearn_metrics"),
                                 ("roc.roc_points", "no_start_point"),
                                 ("tradeoff.threshold_for_precision", "strict_inequality")]),
    "mistakes_exercises": (["ex2_augmentation.shift", "ex2_augmentation.augment", "ex1_knn97.grid",
                            "ex1_knn97.accuracy", "multiclass.svc"],
                           [("ex2_augmentation.shift_image", "wraps_around"), ("ex2_augmentation.augment", "lists"),
                            ("ex1_knn97.param_grid", "dict_not_function"),
                            ("ex1_knn97.build_model", "grid_search_as_model"),
                            ("multiclass.train_svc", "near_chance")]),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def fixture_result(request):
    questions, expected = CASES[request.param]
    result = grade_path(FAIRNESS / request.param, questions=questions)
    assert not result.grader_errors, result.grader_errors
    return request.param, result, expected


@pytest.mark.slow
def test_every_failed_check_says_what_was_expected_and_what_came_back(fixture_result):
    name, result, _ = fixture_result
    walked = 0
    for q in result.questions:
        for check in q.measurements.get("checks") or []:
            if check["passed"] or check.get("reason") == "not_implemented":
                continue
            detail = check.get("detail") or ""
            walked += 1
            assert detail, f"{name} {q.id} {check['name']}: no detail"
            assert "expected" in detail and any(w in detail for w in ("got", "raised", "but ")), (q.id, detail)
        if q.points < q.max_points and not q.measurements.get("checks"):
            assert q.feedback.strip(), f"{name} {q.id}: no feedback"  # a question-level failure says why
    assert walked


@pytest.mark.slow
def test_each_mistake_of_a_fixture_is_named(fixture_result):
    name, result, expected = fixture_result
    text = "\n".join(q.feedback + "\n" + "\n".join(c.get("detail") or "" for c in q.measurements.get("checks") or [])
                     for q in result.questions)
    for function, key in expected:
        assert MISTAKES[function][key] in text, f"{name}: {function} {key} not named"
