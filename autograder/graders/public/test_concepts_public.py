"""Public graders of the chapter's concepts: fixed inputs, run by `check` on the embedded sample.

The examples are asymmetric on purpose, so that the common mistakes fail here
already (a transposed confusion matrix, precision and recall swapped, the
wrong normalisation axis, swapped target columns), not only in the hidden tests.
Every sub-check says what was called, what was expected and what came back.
"""

from functools import partial

import numpy as np
import pytest

from autograder.graders.common import Property, Raises, check, check_call, describe_call, drawn, drawn_last, plotted
from autograder.graders.explain import check_explained, swapped_columns, swapped_metric, transposed
from autograder.judge.client import StudentCodeError
from autograder.judge.validate import as_array, as_float, as_remote

DIGITS = np.arange(5 * 784).reshape(5, 784) % 256
EXACT = 1e-9


def _four_arrays(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise AssertionError(f"{what} should return 4 arrays (X_train, X_test, y_train, y_test)")
    return tuple(as_array(v, what) for v in value)


@pytest.mark.question("mnist.split")
def test_split_train_test(submission, credit):
    mnist = submission.module("mnist")
    X, y = np.arange(20 * 784).reshape(20, 784) % 255, np.arange(20) % 10
    inputs, options = {"X": X, "y": y}, {"n_train": 15}
    checks = []
    for i, (name, expected) in enumerate((("X_train is the first 15 rows", X[:15]),
                                          ("X_test is the last 5 rows", X[15:]),
                                          ("y_train is the first 15 labels", y[:15]),
                                          ("y_test is the last 5 labels", y[15:]))):
        check_call(checks, name, mnist.split_train_test, inputs, options, expected=expected,
                   validate=lambda value, what, i=i: _four_arrays(value, what)[i])
    check_call(checks, "different lengths raise ValueError", mnist.split_train_test, {"X": X, "y": y[:3]},
               {"n_train": 2}, expected=Raises("ValueError", "TypeError"))
    credit.checks(checks)


def _mosaic(images, per_row):
    """The expected plot_digits picture: rows of ``per_row`` 28x28 images, padded with zeros."""
    n_rows = -(-len(images) // per_row)
    padded = np.zeros((n_rows * per_row, 784), dtype=images.dtype)
    padded[:len(images)] = images
    return padded.reshape(n_rows, per_row, 28, 28).swapaxes(1, 2).reshape(n_rows * 28, per_row * 28)


@pytest.mark.question("mnist.plot")
def test_plot_digits(submission, credit):
    mnist = submission.module("mnist")
    checks = []

    def image_of(call, what):
        """The AxesImage returned, or the one drawn by a function returning None (the book's plot_digit)."""
        returned, axes = plotted(submission, "mnist", call)
        return as_remote(drawn_last(returned, "images", what) if axes else returned, what, "AxesImage")

    def digit():
        image = image_of(lambda: mnist.plot_digit(DIGITS[1]), "mnist.plot_digit()")
        return {"pixels": as_array(image.call("get_array"), "AxesImage.get_array()"),
                "cmap": image.call("get_cmap").get("name"), "axis shown": image.get("axes", keep=True).get("axison")}

    def mosaic():
        image = image_of(lambda: mnist.plot_digits(DIGITS, images_per_row=2), "mnist.plot_digits()")
        return as_array(image.call("get_array"), "AxesImage.get_array()")

    check(checks, "plot_digit draws the 28x28 image in cmap 'binary', axis off",
          describe_call(mnist.plot_digit, {"image": DIGITS[1]}), digit,
          {"pixels": DIGITS[1].reshape(28, 28), "cmap": "binary", "axis shown": False})
    check(checks, "plot_digits draws a padded 3x2 mosaic",
          describe_call(mnist.plot_digits, {"images": DIGITS}, {"images_per_row": 2}), mosaic, _mosaic(DIGITS, 2))
    credit.checks(checks)


@pytest.mark.question("binary_classifier.target")
def test_make_binary_target(submission, credit):
    y = np.array([5, 0, 4, 5, 9])
    checks = []
    check_call(checks, "True where y == 5", submission.module("binary_classifier").make_binary_target, {"y": y},
               {"digit": 5}, expected=y == 5, validate=partial(as_array, shape=(5,), kinds="b"))
    credit.checks(checks)


@pytest.mark.question("cross_validation.never")
def test_never_classifier(submission, credit, data):
    cv = submission.module("cross_validation")
    X, y = data.mnist.X_train[:40], data.mnist.y_train[:40] == 5
    checks = []
    never = as_remote(cv.NeverClassifier(), "NeverClassifier()", "BaseEstimator")  # any estimator class
    check(checks, "fit returns self", describe_call("NeverClassifier().fit", {"X": X, "y": y}),
          lambda: never.call("fit", X, y),
          Property("the estimator itself (`return self`: scikit-learn chains `fit(X, y).predict(X)`; a `fit` "
                   "ending in `pass` returns None)", lambda got: getattr(got, "handle", None) == never.handle))

    def predictions():
        """len(X) booleans; the book's 2nd-edition column of them (``np.zeros((len(X), 1), dtype=bool)``),
        which cross_val_score scores the same, is taken as it is meant."""
        got = as_array(never.call("predict", X[:7]), "NeverClassifier.predict()", kinds="b")
        return as_array(got.ravel() if got.shape == (7, 1) else got, "NeverClassifier.predict()", shape=(7,))

    check(checks, "predict returns len(X) Falses", describe_call("NeverClassifier().fit(X, y).predict", {"X": X[:7]}),
          predictions, np.zeros(7, dtype=bool))
    fresh = cv.NeverClassifier()
    check(checks, "predict before fit raises (NotFittedError)",
          describe_call("NeverClassifier().predict", {"X": X[:2]}),
          lambda: fresh.call("predict", X[:2]), Raises("NotFittedError", "AttributeError", "ValueError", "TypeError"))
    credit.checks(checks)


#: TN = 1, FP = 1, FN = 2, TP = 2: a transposed matrix, or precision and recall swapped, fail here.
CONFUSION_EXAMPLE = {"y_true": np.array([0, 1, 1, 0, 1, 1]), "y_pred": np.array([0, 1, 1, 1, 0, 0])}


@pytest.mark.question("confusion.public_example")
def test_confusion_docstring_example(submission, credit):
    confusion = submission.module("confusion")
    checks = []
    # names say what is checked, not the expected value (a failed name would read as what came back)
    matrix = np.array([[1, 1], [2, 2]])  # [[TN, FP], [FN, TP]]
    check_explained(checks, "matrix on the docstring example", confusion.binary_confusion_matrix, CONFUSION_EXAMPLE,
                    expected=matrix, validate=partial(as_array, shape=(2, 2)), mistakes=[transposed(matrix)])
    figures = {"precision": 2 / 3, "recall": 1 / 2, "f1": 4 / 7}
    for name, other in (("precision", "recall"), ("recall", "precision"), ("f1", None)):
        check_explained(checks, f"{name} on the docstring example", getattr(confusion, name), CONFUSION_EXAMPLE,
                        expected=figures[name], validate=as_float, atol=EXACT,
                        mistakes=[swapped_metric(figures[name], figures[other], name, other)] if other else [])
    credit.checks(checks)


def _two_lines(value, what):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise AssertionError(f"{what} should return a list of two Line2D (precision, recall)")
    return [as_remote(line, what, "Line2D") for line in value]


@pytest.mark.question("tradeoff.plot")
def test_precision_recall_plot(submission, credit):
    p, r, t = np.array([0.5, 0.6, 1.0, 1.0]), np.array([1.0, 0.8, 0.4, 0.0]), np.array([0.1, 0.4, 0.8])
    function = submission.module("tradeoff").plot_precision_recall_vs_threshold
    call = describe_call(function, {"precisions": p, "recalls": r, "thresholds": t}, {"threshold": 0.4})
    what = "plot_precision_recall_vs_threshold()"

    def draw():
        try:
            return function(p, r, t, threshold=0.4)
        except StudentCodeError as exc:  # the book's (precisions, recalls, thresholds): no threshold to mark
            if "unexpected keyword argument 'threshold'" not in str(exc):
                raise
            return function(p, r, t)

    def lines():
        returned, axes = plotted(submission, "tradeoff", draw)
        if axes:  # the book's function returns None: its first two lines are precision and recall
            lines_drawn = drawn(returned, "lines")
            return _two_lines(lines_drawn[:2] if len(lines_drawn) >= 2 else lines_drawn, what)
        return _two_lines(returned, what)
    checks = []
    check(checks, "labels 'Precision' and 'Recall'", call, lambda: [line.call("get_label") for line in lines()],
          ["Precision", "Recall"])
    check(checks, "curves are precisions[:-1] and recalls[:-1] against the thresholds", call,
          lambda: tuple(as_array(line.call("get_ydata"), "Line2D.get_ydata()", ndim=1) for line in lines()),
          (p[:-1], r[:-1]), atol=EXACT)
    credit.checks(checks)


@pytest.mark.question("roc.plot")
def test_plot_roc(submission, credit):
    fpr, tpr = np.array([0, .2, 1]), np.array([0, .9, 1])
    function = submission.module("roc").plot_roc
    call = describe_call(function, {"fpr": fpr, "tpr": tpr}, {"label": "SGD"})

    def curve():
        returned, axes = plotted(submission, "roc", lambda: function(fpr, tpr, label="SGD"))
        # the book's plot_roc_curve returns None: its curve is the first line drawn (then the diagonal)
        first = (drawn(returned, "lines") or [None])[0] if axes else returned
        line = as_remote(first, "roc.plot_roc()", "Line2D")
        return {"label": line.call("get_label"), "x": as_array(line.call("get_xdata"), "Line2D.get_xdata()"),
                "y": as_array(line.call("get_ydata"), "Line2D.get_ydata()")}

    checks = []
    check(checks, "returns the ROC curve, labelled", call, curve, {"label": "SGD", "x": fpr, "y": tpr}, atol=EXACT)
    credit.checks(checks)


@pytest.mark.question("multiclass.scaled_sgd")
def test_scaled_sgd(submission, credit):
    function = submission.module("multiclass").scaled_sgd
    call = describe_call(function, kwargs={"random_state": 7})
    pipeline = lambda: as_remote(function(random_state=7), "scaled_sgd()", "Pipeline")  # noqa: E731
    checks = []
    check(checks, "steps: StandardScaler then SGDClassifier", f"{call}.steps",
          lambda: [step.type.rsplit(".", 1)[-1] if hasattr(step, "type") else step
                   for _, step in pipeline().get("steps")], ["StandardScaler", "SGDClassifier"])
    check(checks, "random_state reaches the SGDClassifier", f"{call}[-1].random_state",
          lambda: pipeline().item(-1, keep=True).get("random_state"), 7)
    check(checks, "unfitted", f"{call}.__sklearn_is_fitted__()",
          lambda: pipeline().call("__sklearn_is_fitted__"), False)
    credit.checks(checks)


#: Errors 1->2, 2->1, 2->0: normalised by row ("true") and by column ("pred") they differ.
CONFUSION_PLOT = {"y_true": np.array([0, 1, 2, 2, 1, 2]), "y_pred": np.array([0, 2, 2, 1, 1, 0])}


@pytest.mark.question("error_analysis.plot")
def test_plot_confusion(submission, credit):
    function = submission.module("error_analysis").plot_confusion
    options = {"normalize": "true", "errors_only": True}

    def pixels():
        image = as_remote(function(*CONFUSION_PLOT.values(), **options), "plot_confusion()", "AxesImage")
        return as_array(image.call("get_array"), "AxesImage.get_array()", shape=(3, 3))

    checks = []
    check(checks, "errors only, each row normalised", describe_call(function, CONFUSION_PLOT, options), pixels,
          np.array([[0, 0, 0], [0, 0, 1], [0.5, 0.5, 0]]), atol=EXACT)
    credit.checks(checks)


@pytest.mark.question("multilabel.targets")
def test_large_odd_targets(submission, credit):
    y = np.array([5, 8, 7, 0])
    checks = []
    expected = np.array([[False, True], [True, False], [True, True], [False, False]])
    check_explained(checks, "columns [y >= 7, y odd]", submission.module("multilabel").large_odd_targets, {"y": y},
                    expected=expected, validate=partial(as_array, shape=(4, 2), kinds="biu"),
                    mistakes=[swapped_columns(expected)])
    credit.checks(checks)


@pytest.mark.question("multioutput.noise")
def test_add_noise(submission, credit):
    multioutput = submission.module("multioutput")
    rng = submission.library("multioutput", "numpy.random", "default_rng", seed=3)
    images = DIGITS.astype(np.uint8)
    call = describe_call(multioutput.add_noise, {"X": images, "rng": rng})
    noisy = as_array(multioutput.add_noise(images, rng), "add_noise()", shape=(5, 784))
    noise = noisy.astype(np.int64) - DIGITS
    checks = []
    check(checks, "noise in [0, 100)", f"{call} - X", lambda: noise,
          Property("values in [0, 100)", lambda got: got.min() >= 0 and got.max() < 100))
    check(checks, "no uint8 wrap-around", call, lambda: noisy,
          Property("a dtype wider than uint8 (255 + 99 does not fit)",
                   lambda got: got.max() > 255 or got.dtype != np.uint8))
    check(checks, "rng.integers(low, high, size=X.shape)", f"{call} - X", lambda: noise,
          np.random.default_rng(3).integers(0, 100, size=DIGITS.shape))
    credit.checks(checks)
