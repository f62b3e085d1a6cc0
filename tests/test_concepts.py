"""Reference solutions of the chapter's concepts, checked against scikit-learn.

From-scratch functions get property tests on many random inputs (hypothesis),
including edge cases: all-negative predictions, a single class, tied scores.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score

from autograder.data import load_mnist
from solutions import (binary_classifier, confusion, cross_validation, error_analysis, mnist, multiclass,
                       multilabel, multioutput, roc, tradeoff)

PROPERTY = settings(max_examples=300, deadline=None)


@st.composite
def binary_pairs(draw, min_size=1, max_size=60):
    n = draw(st.integers(min_size, max_size))
    labels = arrays(np.int64, n, elements=st.integers(0, 1))
    return draw(labels), draw(labels)


@st.composite
def scored_labels(draw):
    """Binary labels with both classes, and scores with many ties."""
    n = draw(st.integers(2, 60))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    y[0], y[1] = 0, 1
    scores = draw(arrays(np.float64, n, elements=st.integers(-5, 5).map(float) | st.floats(-1e3, 1e3)))
    return y, scores


@pytest.fixture(scope="module")
def quick():
    return load_mnist("quick")


# ------------------------------------------------------------------ confusion (from scratch)

@PROPERTY
@given(binary_pairs())
def test_confusion_metrics_match_sklearn(pair):
    y_true, y_pred = pair
    np.testing.assert_array_equal(confusion.binary_confusion_matrix(y_true, y_pred),
                                  metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]))
    for ours, theirs in ((confusion.precision, metrics.precision_score),
                         (confusion.recall, metrics.recall_score), (confusion.f1, metrics.f1_score)):
        assert ours(y_true, y_pred) == pytest.approx(theirs(y_true, y_pred, zero_division=0), abs=1e-12)


@pytest.mark.parametrize("y_true, y_pred", [
    ([0, 0, 0], [0, 0, 0]),  # single class, nothing predicted positive
    ([1, 1, 0], [0, 0, 0]),  # all-negative predictions
    ([1, 1, 1], [1, 1, 1]),  # only positives
    (np.array([True, False]), np.array([True, True])),  # booleans
])
def test_confusion_edge_cases(y_true, y_pred):
    assert confusion.precision(y_true, y_pred) == metrics.precision_score(y_true, y_pred, zero_division=0)
    assert confusion.recall(y_true, y_pred) == metrics.recall_score(y_true, y_pred, zero_division=0)
    assert confusion.f1(y_true, y_pred) == metrics.f1_score(y_true, y_pred, zero_division=0)
    assert confusion.binary_confusion_matrix(y_true, y_pred).sum() == len(y_true)


@pytest.mark.parametrize("args, message", [
    (([0, 2], [0, 1]), "'y_true' must hold binary labels"),
    (([0, 1], [0, 1, 1]), "same length"),
    (([], []), "'y_true' is empty"),
    (([[0, 1]], [[0, 1]]), "'y_true' must be 1-dimensional"),
    ((["a", "b"], [0, 1]), "'y_true' must hold binary labels"),
])
def test_confusion_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        confusion.binary_confusion_matrix(*args)


# ------------------------------------------------------------------------ ROC (from scratch)

@PROPERTY
@given(scored_labels())
def test_roc_points_match_sklearn(data):
    y, scores = data
    fpr, tpr, thresholds = roc.roc_points(y, scores)
    ref = metrics.roc_curve(y, scores, drop_intermediate=False)
    for ours, theirs in zip((fpr, tpr, thresholds), ref):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert roc.auc(fpr, tpr) == pytest.approx(metrics.roc_auc_score(y, scores), abs=1e-12)


@PROPERTY
@given(st.lists(st.floats(0, 1), min_size=2, max_size=40), st.booleans())
def test_auc_matches_sklearn_either_direction(values, decreasing):
    x = np.sort(np.asarray(values))[::-1 if decreasing else 1]
    y = np.linspace(0, 1, len(x))
    assert roc.auc(x, y) == pytest.approx(metrics.auc(x, y), abs=1e-12)


def test_roc_rejects_single_class_and_non_monotonic():
    with pytest.raises(ValueError, match="single class"):
        roc.roc_points([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="monotonic"):
        roc.auc([0, 1, 0.5], [0, 1, 1])


def test_forest_positive_scores_are_probabilities(quick):
    y5 = quick.y_train[:600] == 5
    scores = roc.forest_positive_scores(quick.X_train[:600], y5, cv=3)
    assert scores.shape == (600,) and ((0 <= scores) & (scores <= 1)).all()
    assert metrics.roc_auc_score(y5, scores) > 0.9


# ---------------------------------------------------------------------- average F1 (scratch)

@PROPERTY
# k >= 2: scikit-learn reads a single indicator column as a binary 1-D problem, not multilabel.
@given(st.integers(1, 30), st.integers(2, 4), st.sampled_from(["macro", "weighted"]), st.data())
def test_average_f1_matches_sklearn(n, k, average, data):
    Y_true = data.draw(arrays(np.int64, (n, k), elements=st.integers(0, 1)))
    Y_pred = data.draw(arrays(np.int64, (n, k), elements=st.integers(0, 1)))
    expected = metrics.f1_score(Y_true, Y_pred, average=average, zero_division=0)
    assert multilabel.average_f1(Y_true, Y_pred, average) == pytest.approx(expected, abs=1e-12)


def test_average_f1_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        multilabel.average_f1(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="'average' must be one of"):
        multilabel.average_f1(np.zeros((3, 2)), np.zeros((3, 2)), average="micro")


# --------------------------------------------------------------------------- the trade-off

@PROPERTY
@given(scored_labels(), st.sampled_from([0.5, 0.75, 0.9, 1.0]))
def test_threshold_for_precision_is_the_books_threshold(data, target):
    y, scores = data
    precisions, recalls, thresholds = metrics.precision_recall_curve(y, scores)
    reached = precisions[:-1] >= target
    if not reached.any():
        with pytest.raises(ValueError, match="No threshold reaches"):
            tradeoff.threshold_for_precision(y, scores, target)
        return
    threshold = tradeoff.threshold_for_precision(y, scores, target)
    assert threshold == thresholds[reached.argmax()]
    predicted = tradeoff.predict_at_threshold(scores, threshold)
    assert metrics.precision_score(y, predicted) >= target
    assert predicted.dtype == bool


def test_plot_precision_recall_vs_threshold_returns_lines():
    y, scores = np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.8, 0.4, 0.35, 0.9])
    p, r, t = metrics.precision_recall_curve(y, scores)
    lines = tradeoff.plot_precision_recall_vs_threshold(p, r, t, threshold=0.4)
    assert [line.get_label() for line in lines] == ["Precision", "Recall"]
    np.testing.assert_array_equal(lines[0].get_xdata(), t)
    plt.gcf().canvas.draw()


# ------------------------------------------------------------------------- error analysis

@PROPERTY
@given(st.integers(2, 6), st.data(), st.sampled_from(["true", "pred"]))
def test_normalize_confusion_matches_sklearn(k, data, normalize):
    n = data.draw(st.integers(1, 40))
    y_true = data.draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    y_pred = data.draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    cm = metrics.confusion_matrix(y_true, y_pred, labels=range(k))
    expected = metrics.confusion_matrix(y_true, y_pred, labels=range(k), normalize=normalize)
    np.testing.assert_allclose(error_analysis.normalize_confusion(cm, normalize), expected, atol=1e-12)
    errors = error_analysis.errors_only(cm, normalize)
    assert np.all(np.diag(errors) == 0) and np.isfinite(errors).all()
    assert cm.trace() == metrics.confusion_matrix(y_true, y_pred, labels=range(k)).trace()  # not mutated


def test_top_confusions_order_and_rates():
    cm = np.array([[8, 2, 0], [1, 5, 4], [0, 3, 7]])
    assert error_analysis.top_confusions(cm, k=3) == [(1, 2, 0.4), (2, 1, 0.3), (0, 1, 0.2)]
    assert len(error_analysis.top_confusions(np.eye(3, dtype=int) * 5)) == 0


def test_plot_confusion_errors_only_hides_the_diagonal():
    y_true, y_pred = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 1, 1])
    image = error_analysis.plot_confusion(y_true, y_pred, normalize="true", errors_only=True)
    assert np.all(np.diag(image.get_array()) == 0)


# --------------------------------------------------------------------------- MNIST basics

def test_split_train_test_keeps_order(quick):
    X, y = np.r_[quick.X_train, quick.X_test], np.r_[quick.y_train, quick.y_test]
    X_train, X_test, y_train, y_test = mnist.split_train_test(X, y, n_train=3000)
    np.testing.assert_array_equal(X_train, quick.X_train)
    np.testing.assert_array_equal(y_test, quick.y_test)
    with pytest.raises(ValueError, match="'n_train' must be in"):
        mnist.split_train_test(X, y, n_train=len(X))


def test_plot_digit_and_digits(quick):
    image = mnist.plot_digit(quick.X_train[0])
    assert image.get_array().shape == (28, 28) and image.get_cmap().name == "binary"
    assert not image.axes.axison
    mosaic = mnist.plot_digits(quick.X_train[:25], images_per_row=10)
    assert mosaic.get_array().shape == (3 * 28, 10 * 28)
    np.testing.assert_array_equal(mosaic.get_array()[28:56, 28:56], quick.X_train[11].reshape(28, 28))
    plt.gcf().canvas.draw()
    with pytest.raises(ValueError, match="'image' must hold 784 pixels"):
        mnist.plot_digit(np.zeros(10))


def test_plot_roc_returns_the_curve():
    line = roc.plot_roc(np.array([0, 0.5, 1]), np.array([0, 0.8, 1]), label="SGD")
    assert line.get_label() == "SGD"
    plt.gcf().canvas.draw()


# ----------------------------------------------------------- binary, CV, multiclass, etc.

def test_binary_target_and_sgd(quick):
    y5 = binary_classifier.make_binary_target(quick.y_train)
    assert y5.dtype == bool and y5.sum() == (quick.y_train == 5).sum()
    with pytest.raises(ValueError, match="'digit' must be in"):
        binary_classifier.make_binary_target(quick.y_train, digit=10)
    model = binary_classifier.train_sgd(quick.X_train, y5)
    assert isinstance(model, SGDClassifier) and model.random_state == 42


def test_manual_cross_val_score_equals_cross_val_score(quick):
    X, y5 = quick.X_train[:900], quick.y_train[:900] == 5
    sgd = SGDClassifier(random_state=42)
    np.testing.assert_allclose(cross_validation.manual_cross_val_score(sgd, X, y5, 3),
                               cross_val_score(sgd, X, y5, cv=3), atol=1e-12)


def test_never_classifier_follows_the_estimator_contract(quick):
    never = cross_validation.NeverClassifier()
    with pytest.raises(NotFittedError):
        never.predict(quick.X_train[:2])
    assert never.fit(quick.X_train, quick.y_train == 5) is never
    predictions = clone(never).fit(quick.X_train, quick.y_train == 5).predict(quick.X_test)
    assert predictions.dtype == bool and not predictions.any() and len(predictions) == len(quick.X_test)


def test_multiclass_models(quick):
    X, y = quick.X_train[:300], quick.y_train[:300]
    svc = multiclass.train_svc(X, y)
    assert svc.decision_function(X[:1]).shape == (1, 10)
    ovr = multiclass.train_ovr_svc(X, y)
    assert len(ovr.estimators_) == 10
    pipeline = multiclass.scaled_sgd()
    assert not hasattr(pipeline, "classes_") and [name for name, _ in pipeline.steps] == \
        ["standardscaler", "sgdclassifier"]


def test_multilabel_and_multioutput(quick):
    targets = multilabel.large_odd_targets(np.array([5, 8, 7, 0]))
    np.testing.assert_array_equal(targets, [[False, True], [True, False], [True, True], [False, False]])
    noisy = multioutput.add_noise(quick.X_train[:5], np.random.default_rng(0))
    assert noisy.dtype == np.int64 and 0 <= (noisy - quick.X_train[:5]).min() and (noisy - quick.X_train[:5]).max() < 100
    with pytest.raises(TypeError, match="'rng' must be a numpy.random.Generator"):
        multioutput.add_noise(quick.X_train[:5], 42)
    denoiser = multioutput.build_denoiser().fit(noisy, quick.X_train[:5])
    assert denoiser.predict(noisy[:1]).shape == (1, 784)
    chain = multilabel.build_chain()
    assert chain.cv == 3 and chain.random_state == 42
