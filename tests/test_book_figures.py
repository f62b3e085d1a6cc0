"""The chapter's figures, reproduced by the reference solutions on the full MNIST.

Slow (about 4 minutes on 2 cores, see the README); skipped without the full data.
Each expected value is the book's own, reproduced exactly with scikit-learn 1.9.
"""

import time

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict, cross_val_score

from autograder.data import load_mnist
from solutions import binary_classifier, confusion, cross_validation, multilabel, roc, tradeoff

pytestmark = [pytest.mark.full_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def mnist(data_dir):
    return load_mnist("full", data_dir=data_dir, allow_download=False)


@pytest.fixture(scope="module")
def five(mnist):
    return binary_classifier.make_binary_target(mnist.y_train, 5)


@pytest.fixture(scope="module")
def sgd_scores(mnist, five):
    """Out-of-fold decision scores of the 5-detector (the book's y_scores)."""
    return cross_val_predict(SGDClassifier(random_state=42), mnist.X_train, five, cv=3,
                             method="decision_function")


def _timed(label, func):
    start = time.perf_counter()
    result = func()
    print(f"{label}: {time.perf_counter() - start:.1f} s")
    return result


def test_cross_val_accuracy_of_the_5_detector(mnist, five):
    sgd = SGDClassifier(random_state=42)
    scores = _timed("cross_val_score", lambda: cross_val_score(sgd, mnist.X_train, five, cv=3))
    np.testing.assert_allclose(scores, [0.95035, 0.96035, 0.9604], atol=5e-6)
    manual = _timed("manual_cross_val_score",
                    lambda: cross_validation.manual_cross_val_score(sgd, mnist.X_train, five, 3))
    np.testing.assert_array_equal(manual, scores)


def test_never_classifier_is_90_percent_accurate(mnist, five):
    """3rd edition's DummyClassifier figure: stratified folds hold the same share of 5s."""
    scores = cross_val_score(cross_validation.NeverClassifier(), mnist.X_train, five, cv=3)
    np.testing.assert_allclose(scores, [0.90965, 0.90965, 0.90965], atol=5e-6)


def test_confusion_matrix_precision_recall(five, sgd_scores):
    predicted = sgd_scores > 0  # the decision threshold of predict()
    np.testing.assert_array_equal(confusion.binary_confusion_matrix(five, predicted), [[53892, 687], [1891, 3530]])
    assert confusion.precision(five, predicted) == pytest.approx(0.8370879772350012, abs=1e-12)
    assert confusion.recall(five, predicted) == pytest.approx(0.6511713705958311, abs=1e-12)
    assert confusion.f1(five, predicted) == pytest.approx(0.7325171197343846, abs=1e-12)


def test_threshold_for_90_percent_precision(five, sgd_scores):
    threshold = tradeoff.threshold_for_precision(five, sgd_scores, 0.90)
    assert threshold == pytest.approx(3370.0194991439557, abs=1e-6)
    predicted = tradeoff.predict_at_threshold(sgd_scores, threshold)
    assert confusion.precision(five, predicted) == pytest.approx(0.9000345901072293, abs=1e-12)
    assert confusion.recall(five, predicted) == pytest.approx(0.4799852425751706, abs=1e-12)


def test_roc_auc_of_sgd_and_forest(mnist, five, sgd_scores):
    fpr, tpr, _ = roc.roc_points(five, sgd_scores)
    assert roc.auc(fpr, tpr) == pytest.approx(0.9604938554008616, abs=1e-12)
    assert roc.auc(fpr, tpr) == pytest.approx(roc_auc_score(five, sgd_scores), abs=1e-12)
    forest = _timed("forest_positive_scores", lambda: roc.forest_positive_scores(mnist.X_train, five))
    assert roc_auc_score(five, forest) == pytest.approx(0.9983436731328145, abs=1e-9)


def test_multilabel_knn_macro_f1(mnist):
    targets = multilabel.large_odd_targets(mnist.y_train)
    predicted = _timed("multilabel cross_val_predict", lambda: cross_val_predict(
        multilabel.build_multilabel_model(), mnist.X_train, targets, cv=3))
    assert multilabel.average_f1(targets, predicted, "macro") == pytest.approx(0.976410265560605, abs=1e-9)
