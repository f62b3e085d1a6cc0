"""Public graders of the chapter's concepts: fixed inputs, run by `check` on the embedded sample."""

import numpy as np
import pytest

from autograder.graders.common import attempt, raises_value_error
from autograder.judge.validate import as_array, as_float, as_remote

DIGITS = np.arange(5 * 784).reshape(5, 784) % 256


@pytest.mark.question("mnist.split")
def test_split_train_test(submission, credit):
    mnist = submission.module("mnist")
    X, y = np.arange(20 * 784).reshape(20, 784) % 255, np.arange(20) % 10
    parts = mnist.split_train_test(X, y, n_train=15)
    assert isinstance(parts, tuple) and len(parts) == 4, "split_train_test() should return 4 arrays"
    X_train, X_test, y_train, y_test = (as_array(p, "mnist.split_train_test()") for p in parts)
    checks = []
    attempt(checks, "X_train is the first 15 rows", lambda: np.array_equal(X_train, X[:15]))
    attempt(checks, "X_test is the last 5 rows", lambda: np.array_equal(X_test, X[15:]))
    attempt(checks, "y_train/y_test follow X", lambda: np.array_equal(y_train, y[:15]) and np.array_equal(y_test, y[15:]))
    attempt(checks, "different lengths raise ValueError", lambda: raises_value_error(
        lambda: mnist.split_train_test(X, y[:3], n_train=2)))
    credit.checks(checks)


@pytest.mark.question("mnist.plot")
def test_plot_digits(submission, credit):
    mnist = submission.module("mnist")
    checks = []

    def digit():
        image = as_remote(mnist.plot_digit(DIGITS[1]), "mnist.plot_digit()", "AxesImage")
        pixels = as_array(image.call("get_array"), "AxesImage.get_array()", shape=(28, 28))
        axes = image.get("axes", keep=True)
        return (np.array_equal(pixels, DIGITS[1].reshape(28, 28)) and image.call("get_cmap").get("name") == "binary"
                and axes.get("axison") is False)

    def mosaic():
        image = as_remote(mnist.plot_digits(DIGITS, images_per_row=2), "mnist.plot_digits()", "AxesImage")
        pixels = as_array(image.call("get_array"), "AxesImage.get_array()", shape=(84, 56))
        return np.array_equal(pixels[28:56, 28:56], DIGITS[3].reshape(28, 28)) and not pixels[56:, 28:].any()

    attempt(checks, "plot_digit draws the 28x28 image in cmap 'binary', axis off", digit)
    attempt(checks, "plot_digits draws a padded 3x2 mosaic", mosaic)
    credit.checks(checks)


@pytest.mark.question("binary_classifier.target")
def test_make_binary_target(submission):
    target = submission.module("binary_classifier").make_binary_target(np.array([5, 0, 4, 5, 9]), digit=5)
    result = as_array(target, "binary_classifier.make_binary_target()", shape=(5,), kinds="b")
    assert result.tolist() == [True, False, False, True, False], f"got {result.tolist()} for y=[5, 0, 4, 5, 9]"


@pytest.mark.question("cross_validation.never")
def test_never_classifier(submission, credit, data):
    cv = submission.module("cross_validation")
    X = data.mnist.X_train[:40]
    checks = []
    never = as_remote(cv.NeverClassifier(), "NeverClassifier()", "BaseEstimator")  # any estimator class
    attempt(checks, "fit returns self", lambda: never.call("fit", X, data.mnist.y_train[:40] == 5).handle == never.handle)
    attempt(checks, "predict returns len(X) Falses", lambda: as_array(
        never.call("predict", X[:7]), "NeverClassifier.predict()", shape=(7,), kinds="b").sum() == 0)
    fresh = cv.NeverClassifier()
    attempt(checks, "predict before fit raises (NotFittedError)", lambda: raises_value_error(
        lambda: fresh.call("predict", X[:2]), also=("NotFittedError", "AttributeError")))
    credit.checks(checks)


@pytest.mark.question("confusion.public_example")
def test_confusion_docstring_example(submission, credit):
    confusion = submission.module("confusion")
    y_true, y_pred = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 1, 1, 0])
    checks = []
    attempt(checks, "matrix [[1, 1], [1, 2]]", lambda: as_array(
        confusion.binary_confusion_matrix(y_true, y_pred), "binary_confusion_matrix()", shape=(2, 2)).tolist()
        == [[1, 1], [1, 2]])
    for name, expected in (("precision", 2 / 3), ("recall", 2 / 3), ("f1", 2 / 3)):
        attempt(checks, f"{name} = {expected:.4f}", lambda name=name, expected=expected: abs(
            as_float(getattr(confusion, name)(y_true, y_pred), f"confusion.{name}()") - expected) < 1e-9)
    credit.checks(checks)


@pytest.mark.question("tradeoff.plot")
def test_precision_recall_plot(submission):
    p, r, t = np.array([0.5, 0.6, 1.0, 1.0]), np.array([1.0, 0.8, 0.4, 0.0]), np.array([0.1, 0.4, 0.8])
    lines = submission.module("tradeoff").plot_precision_recall_vs_threshold(p, r, t, threshold=0.4)
    assert isinstance(lines, list) and len(lines) == 2, "expected a list of two Line2D"
    for line, label, values in zip(lines, ("Precision", "Recall"), (p, r)):
        as_remote(line, "plot_precision_recall_vs_threshold()", "Line2D")
        assert line.call("get_label") == label, f"the {label} line is labelled {line.call('get_label')!r}"
        assert np.allclose(as_array(line.call("get_ydata"), f"{label} y data"), values[:-1])


@pytest.mark.question("roc.plot")
def test_plot_roc(submission):
    line = as_remote(submission.module("roc").plot_roc(np.array([0, .2, 1]), np.array([0, .9, 1]), label="SGD"),
                     "roc.plot_roc()", "Line2D")
    assert line.call("get_label") == "SGD"
    assert np.allclose(as_array(line.call("get_ydata"), "curve y data"), [0, .9, 1])


@pytest.mark.question("multiclass.scaled_sgd")
def test_scaled_sgd(submission):
    pipeline = as_remote(submission.module("multiclass").scaled_sgd(random_state=7), "scaled_sgd()", "Pipeline")
    assert pipeline.call("__len__") == 2, "expected two steps: StandardScaler then SGDClassifier"
    as_remote(pipeline.item(0, keep=True), "the first step", "StandardScaler")
    sgd = as_remote(pipeline.item(1, keep=True), "the second step", "SGDClassifier")
    assert sgd.get("random_state") == 7, "random_state is not passed to the SGDClassifier"
    assert not pipeline.call("__sklearn_is_fitted__"), "scaled_sgd() should return an unfitted pipeline"


@pytest.mark.question("error_analysis.plot")
def test_plot_confusion(submission):
    y_true, y_pred = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 1, 1])
    image = as_remote(submission.module("error_analysis").plot_confusion(y_true, y_pred, normalize="true",
                                                                         errors_only=True), "plot_confusion()",
                      "AxesImage")
    pixels = as_array(image.call("get_array"), "AxesImage.get_array()", shape=(3, 3))
    assert np.allclose(np.diag(pixels), 0), "errors_only=True should leave the diagonal at 0"


@pytest.mark.question("multilabel.targets")
def test_large_odd_targets(submission):
    targets = submission.module("multilabel").large_odd_targets(np.array([5, 8, 7, 0]))
    result = as_array(targets, "large_odd_targets()", shape=(4, 2), kinds="biu")
    assert result.astype(bool).tolist() == [[False, True], [True, False], [True, True], [False, False]]


@pytest.mark.question("multioutput.noise")
def test_add_noise(submission, credit):
    multioutput = submission.module("multioutput")
    rng = submission.library("multioutput", "numpy.random", "default_rng", seed=3)
    noisy = as_array(multioutput.add_noise(DIGITS.astype(np.uint8), rng), "add_noise()", shape=(5, 784))
    noise = noisy.astype(np.int64) - DIGITS
    checks = []
    attempt(checks, "noise in [0, 100)", lambda: noise.min() >= 0 and noise.max() < 100)
    attempt(checks, "no uint8 wrap-around", lambda: noisy.max() > 255 or noisy.dtype != np.uint8)
    attempt(checks, "rng.integers(low, high, size=X.shape)", lambda: np.array_equal(
        noise, np.random.default_rng(3).integers(0, 100, size=DIGITS.shape)))
    credit.checks(checks)
