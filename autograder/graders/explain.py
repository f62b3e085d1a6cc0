"""Feedback that names the cause: the chapter's common mistakes, recognised from what came back.

:func:`common.check` says what was called, what was expected, what came back and where they
first differ. The helpers here add the likely cause when the value matches a known mistake
(a transposed matrix, ``np.roll`` instead of a shift, a NaN row, shuffled folds, ...), so the
message names it instead of leaving the student to guess from the symptom.

``MISTAKES`` is the catalogue: per student function, the mistakes the graders recognise, each
with the sentence a student sees. ``tests/test_feedback_mistakes.py`` builds each one and
checks that its failed check carries that sentence. Everything here runs in the judge process
on plain data that came back from the worker.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from autograder.graders.common import check, describe_call
from autograder.judge.scoring import Check
from autograder.messages import listed


class Mistake(NamedTuple):
    """A known mistake: its catalogue key, the sentence that names it, and how to recognise it.

    ``matches(got)`` sees the raw value the student's code returned (before validation) and
    returns True when that value is what the mistake produces on the check's inputs.
    """

    key: str
    message: str
    matches: Callable[[object], bool]
    credit: float = 0.0  # a share of the check kept when the mistake misses the lesson's point only narrowly


#: The common mistakes of each function of the chapter, as the graders name them. Keys are
#: ``module.function``; each entry is (catalogue key, the message's first words). Tests walk it.
MISTAKES: dict[str, dict[str, str]] = {
    "confusion.binary_confusion_matrix": {
        "transposed": "the matrix is transposed: rows are the true labels, columns the predictions",
        "uses_sklearn_metrics": "calls sklearn.metrics",
    },
    "confusion.precision": {"swapped": "precision and recall are swapped"},
    "confusion.recall": {"swapped": "precision and recall are swapped"},
    "tradeoff.threshold_for_precision": {
        "strict_inequality": "the next threshold up: compare precisions with >= target",
    },
    "tradeoff.predict_at_threshold": {
        "strict_inequality": "a score equal to the threshold is predicted negative",
    },
    "roc.roc_points": {"uses_sklearn_metrics": "calls sklearn.metrics",
                       "no_start_point": "the curve does not start at (0, 0)"},
    "cross_validation.manual_cross_val_score": {
        "shuffled_folds": "the folds were shuffled",
    },
    "error_analysis.normalize_confusion": {
        "wrong_axis": "normalised along the other axis",
        "nan_rows": "an all-zero row became NaN",
    },
    "error_analysis.errors_only": {
        "normalised_then_zeroed": "normalised first and zeroed the diagonal after",
        "nan_rows": "an all-zero row became NaN",
    },
    "multilabel.large_odd_targets": {"swapped_columns": "the two columns are swapped"},
    "ex1_knn97.param_grid": {"dict_not_function": "param_grid must be a function"},
    "ex1_knn97.build_model": {"grid_search_as_model": "build_model() returned a GridSearchCV"},
    "ex2_augmentation.shift_image": {
        "wraps_around": "ink leaving one edge reappears on the other",
        "dx_dy_swapped": "dx and dy are swapped",
        "opposite_direction": "the image moved the opposite way",
        "wrong_distance": "the image moved by",
    },
    "ex2_augmentation.augment": {"lists": "Python lists are not arrays"},
    "multiclass.train_svc": {"near_chance": "accuracy near chance"},
}


def _same(got, expected, atol: float = 1e-9) -> bool:
    """True when ``got`` is an array-like equal to ``expected`` (numbers within ``atol``)."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=float)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=0, atol=atol, equal_nan=True))


def first_mistake(mistakes, got) -> Mistake | None:
    """The first of ``mistakes`` that ``got`` matches; a detector that fails on odd data matches nothing."""
    for mistake in mistakes:
        try:
            if mistake.matches(got):
                return mistake
        except Exception:  # noqa: BLE001 - the value came from student code: anything may fail on it
            continue
    return None


def check_explained(results: list, name: str, function, args: dict | None = None, kwargs: dict | None = None, *,
                    expected, validate=None, atol: float = 0.0, group: str | None = None,
                    mistakes=(), keep: list | None = None) -> Check:
    """:func:`common.check_call`, plus the cause when the raw value matches one of ``mistakes``.

    The failed check's detail ends with "likely cause: ..." (the mistake's message); a mistake
    with ``credit`` keeps that share of the check. ``keep`` receives the validated value (for a
    picture of a wrong answer).
    """
    call = describe_call(function, args, kwargs)
    what = call.split("(", 1)[0] + "()"
    raw = []

    def run():
        value = function(*(args or {}).values(), **(kwargs or {}))
        raw.append(value)
        value = validate(value, what) if validate else value
        if keep is not None:
            keep.append(value)
        return value

    result = check(results, name, call, run, expected, atol=atol, group=group)
    if result.passed or not raw:
        return result
    mistake = first_mistake(mistakes, raw[0])
    if mistake is None:
        return result
    result = result._replace(detail=f"{result.detail}; likely cause: {mistake.message}",
                             score=mistake.credit or None)
    results[-1] = result
    return result


# ------------------------------------------------------------------ matrices and metrics

def transposed(expected) -> Mistake:
    return Mistake("transposed", "the matrix is transposed: rows are the true labels, columns the predictions "
                   "([[TN, FP], [FN, TP]])", lambda got: not _same(expected, np.transpose(expected)) and
                   _same(got, np.transpose(expected)))


def swapped_metric(expected: float, other_value: float, this: str, other: str) -> Mistake:
    """``this`` metric returned the ``other`` one's value (where the two differ on the inputs)."""
    return Mistake("swapped", f"precision and recall are swapped: this value is the {other} "
                   f"({this} divides TP by {'TP + FP' if this == 'precision' else 'TP + FN'})",
                   lambda got: abs(expected - other_value) > 1e-9 and abs(float(got) - other_value) < 1e-9)


def strict_threshold(strict: float | None) -> Mistake:
    """threshold_for_precision compared with ``>`` where the contract says ``>=``."""
    return Mistake("strict_inequality", "the next threshold up: compare precisions with >= target, not > (the "
                   "first threshold whose precision reaches the target)",
                   lambda got: strict is not None and abs(float(got) - strict) < 1e-9)


def strict_prediction(scores, threshold: float) -> Mistake:
    """predict_at_threshold with ``>``: a score equal to the threshold left out."""
    return Mistake("strict_inequality", "a score equal to the threshold is predicted negative: use scores >= "
                   "threshold (the threshold itself is the first positive)",
                   lambda got: _same(np.asarray(got).astype(float), np.asarray(scores) > threshold))


def missing_start_point(fpr, tpr) -> Mistake:
    """roc_points without the first point, (0, 0) at threshold inf."""
    return Mistake("no_start_point", "the curve does not start at (0, 0): add the point at threshold np.inf (no "
                   "sample predicted positive) before the first distinct score",
                   lambda got: _same(got[0], fpr[1:]) and _same(got[1], tpr[1:]))


def swapped_columns(expected) -> Mistake:
    return Mistake("swapped_columns", "the two columns are swapped: column 0 is y >= 7 (large), column 1 y odd",
                   lambda got: _same(np.asarray(got).astype(float), np.asarray(expected)[:, ::-1]))


def nan_rows(what: str) -> Mistake:
    def matches(got):
        got = np.asarray(got, dtype=float)
        return got.ndim == 2 and bool(np.isnan(got).any())

    def message_for(got):
        return np.flatnonzero(np.isnan(np.asarray(got, dtype=float)).any(axis=1)).tolist()

    return _Dynamic("nan_rows", matches, lambda got: (
        f"an all-zero row became NaN (row {listed(message_for(got))} of the result): that class has "
        f"no {what}, and 0/0 is NaN; the contract keeps such a row at zeros "
        "(np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0))"))


class _Dynamic:
    """A mistake whose message depends on the value (e.g. which rows are NaN)."""

    def __init__(self, key, matches, message_of):
        self.key, self._matches, self._message_of, self.credit = key, matches, message_of, 0.0
        self.message = key

    def matches(self, got) -> bool:
        if self._matches(got):
            self.message = self._message_of(got)
            return True
        return False


def rows_normalised(cm, axis: int):
    cm = np.asarray(cm, dtype=float)
    totals = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)


def normalize_mistakes(cm, how: str) -> list:
    other = 0 if how == "true" else 1
    return [nan_rows("samples" if how == "true" else "predictions"),
            Mistake("wrong_axis", f"normalised along the other axis: normalize='{how}' divides each "
                    f"{'row by its sum (true labels)' if how == 'true' else 'column by its sum (predictions)'}",
                    lambda got: _same(got, rows_normalised(cm, other)))]


def errors_only_mistakes(cm) -> list:
    normalised = rows_normalised(cm, 1)
    np.fill_diagonal(normalised, 0)
    return [nan_rows("errors"),
            Mistake("normalised_then_zeroed", "normalised first and zeroed the diagonal after (the 2nd edition's "
                    "order); the contract zeroes the diagonal first, then normalises each row over its errors",
                    lambda got: _same(got, normalised))]


# ------------------------------------------------------------------ from scratch

def from_scratch_check(results: list, submission, module: str, *, group: str = "from_scratch") -> Check:
    """One check: ``module``'s code called nothing of the libraries its question is written without.

    The question declares them (``from_scratch`` in questions.toml); the worker records, while the
    student's code runs, every function of theirs it enters, however it was reached (a helper
    module, ``importlib``), and the check names the first. It counts once one of the module's
    answers is right: an untouched stub, or code that raises on every input, earns nothing for
    calling nothing (the check takes their reason).
    """
    libraries = " or ".join(submission.from_scratch) or "the libraries it is written without"
    name = f"{module}.py from scratch (no {libraries})"
    if not any(getattr(c, "passed", False) for c in results):
        reasons = {getattr(c, "reason", None) for c in results}
        result = Check(name, False, reasons.pop() if len(reasons) == 1 else None, group,
                       f"recorded what {module}.py's code calls; expected that counted once one of its answers is "
                       "right; got no right answer yet")
        results.append(result)
        return result
    called = list(submission.library_calls)
    detail = ""
    if called:
        switched = [c for c in called if c.startswith(("sys.set", "threading.set"))]
        first = (switched or called)[0]
        detail = (f"recorded what {module}.py's code calls while the grader runs it; expected no call into "
                  f"{libraries} (this module is written from scratch with numpy; the grader compares it with "
                  f"scikit-learn); got a call to {listed([first] + [c for c in called if c != first], 1)}; "
                  "likely cause: "
                  + ("it switched off the grader's record of library calls; remove that call" if switched else
                     f"calls {libraries}; count with numpy instead, e.g. np.sum((y_true == 1) & (y_pred == 1)) "
                     "for TP"))
    result = Check(name, not called, None, group, detail)
    results.append(result)
    return result


# ------------------------------------------------------------------ ex2: shifting an image

def shifted(image28, dx: int, dy: int):
    """The contract's shift: ``scipy.ndimage.shift(order=0, cval=0)``, dx to the right, dy down."""
    from scipy import ndimage

    return ndimage.shift(image28, [dy, dx], order=0, cval=0, mode="constant")


def shift_mistakes(image28, dx: int, dy: int) -> list[Mistake]:
    """What a wrong shift usually is, recognised by redoing it: np.roll, swapped or opposite moves, off by one."""
    def same(candidate):
        return lambda got: _same(np.asarray(got).reshape(28, 28), candidate)

    mistakes = [Mistake("wraps_around", "ink leaving one edge reappears on the other: np.roll wraps around; "
                        "fill the uncovered rows and columns with 0 (scipy.ndimage.shift(..., cval=0) or slicing)",
                        same(np.roll(image28, (dy, dx), axis=(0, 1))))]
    if (dx, dy) != (dy, dx):
        mistakes.append(Mistake("dx_dy_swapped", "dx and dy are swapped: dx moves the image right (columns), dy "
                                "down (rows); scipy.ndimage.shift takes [dy, dx]", same(shifted(image28, dy, dx))))
    mistakes.append(Mistake("opposite_direction", "the image moved the opposite way: dx > 0 moves it right, "
                            "dy > 0 down", same(shifted(image28, -dx, -dy))))
    for ddx, ddy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        mistakes.append(Mistake("wrong_distance", f"the image moved by dx={dx + ddx}, dy={dy + ddy} instead of "
                                f"dx={dx}, dy={dy}: an off-by-one in the slice bounds",
                                same(shifted(image28, dx + ddx, dy + ddy))))
    return mistakes


def pixel_difference(got, expected) -> str:
    """How many pixels differ from the expected image, and the first one (row, column, both values)."""
    got28, expected28 = np.asarray(got).reshape(28, 28), np.asarray(expected).reshape(28, 28)
    unequal = got28 != expected28
    row, col = (int(i) for i in np.argwhere(unequal)[0])
    return (f"{int(unequal.sum())} of 784 pixels differ from scipy.ndimage.shift(order=0, cval=0); first at "
            f"row {row}, col {col}: got {got28[row, col].item()!r}, expected {expected28[row, col].item()!r}")


def shift_check(results: list, name: str, shift_image, image, dx: int, dy: int) -> Check:
    """One case of ``shift_image``: called / expected / got, the pixels that differ and the likely cause."""
    from autograder.judge.validate import as_array

    image28 = np.asarray(image).reshape(28, 28)
    expected = shifted(image28, dx, dy).reshape(np.shape(image))
    call = describe_call(shift_image, {"image": image, "dx": dx, "dy": dy})
    raw = []

    def run():
        value = shift_image(image, dx, dy)
        raw.append(value)
        return as_array(value, "shift_image()", shape=np.shape(image))

    result = check(results, name, call, run, expected)
    if result.passed or not raw:
        return result
    try:
        got = np.asarray(raw[0])
        detail = f"called {call}; expected the image moved by dx={dx}, dy={dy} (shape {np.shape(image)}); " \
                 f"{pixel_difference(got, expected)}"
    except (TypeError, ValueError, IndexError):
        return result  # not an image of the right size: check's own message says so
    mistake = first_mistake(shift_mistakes(image28, dx, dy), raw[0])
    if mistake:
        detail += f"; likely cause: {mistake.message}"
    results[-1] = result = result._replace(detail=detail)
    return result


# ------------------------------------------------------------------ messages for errors raised by student code

#: (function, text in the error) -> what it usually means: a cause for a symptom.
ERROR_CAUSES = {
    ("param_grid", "'dict' object is not callable"):
        "param_grid must be a function returning the grid (def param_grid(): return {...}), not the dict itself",
    ("param_grid", "'list' object is not callable"):
        "param_grid must be a function returning the grid (def param_grid(): return [...]), not the list itself",
}


def cause_of_error(function: str, message: str) -> str | None:
    """The likely cause of an error ``function`` raised, from ``ERROR_CAUSES``, or None."""
    return next((cause for (name, text), cause in ERROR_CAUSES.items() if name == function and text in message), None)


def grid_search_as_model(what: str, n_images: int) -> str:
    return (f"{what} returned a GridSearchCV: the grader fits what build_model() returns on {n_images:,} training "
            "images, so it would run the whole grid search (every candidate on every fold) within the question's "
            "time limit. Return the best estimator you found with tune() instead, unfitted "
            "(e.g. KNeighborsClassifier(n_neighbors=4, weights='distance')).")


SVC_NEAR_CHANCE = ("accuracy near chance: the usual causes are unscaled pixels (0-255) with gamma='auto' "
                   "(1/784: every RBF kernel value is almost 0) or a large fixed gamma; keep SVC's default "
                   "gamma='scale', or scale the pixels (X / 255)")


def param_grid_of(ex1) -> list:
    """``ex1.param_grid()`` as a list of grids; an error it raises says its likely cause.

    A module-level ``param_grid = {...}`` (a dict, not a function) is the usual mistake: calling it
    raises "'dict' object is not callable", which names the symptom, not the fix.
    """
    from autograder.judge.client import NotImplementedByStudent, StudentCodeError

    try:
        grid = ex1.param_grid()
    except NotImplementedByStudent:
        raise
    except StudentCodeError as exc:
        first, _, rest = str(exc).partition("\n")
        cause = cause_of_error("param_grid", first)
        if cause is None:
            raise
        error = StudentCodeError(f"{first}; likely cause: {cause}\n{rest}")
        error.status = exc.status
        raise error from None
    return grid if isinstance(grid, list) else [grid]
