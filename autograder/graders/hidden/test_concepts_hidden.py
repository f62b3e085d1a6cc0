"""Hidden graders of the chapter's concepts.

Inputs come from seeds kept here (this folder is invisible to the worker), so
memorised outputs of the public examples do not help.  Expected values are
computed in the grader with scikit-learn; from-scratch functions must match
them to 1e-9.
"""

import numpy as np
import pytest
from sklearn import metrics
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

from autograder.graders.common import attempt, fit_predict, mnist_subset, raises_value_error
from autograder.graders.figures import confusion_counts, score_curves
from autograder.judge.validate import as_array, as_float, as_labels, as_remote
from solutions import multilabel as reference_multilabel
from solutions import roc as reference_roc

SEED = 7_913_245
EXACT = 1e-9
#: (train, test) rows of the MNIST subsets that model questions use, per profile.
SUBSET = {"quick": (1000, 300), "full": (4000, 1000)}


def _cases(seed, n_cases):
    """Binary (y_true, y_pred) pairs: random, plus the zero_division edge cases."""
    rng = np.random.default_rng(seed)
    cases = [(np.zeros(5, int), np.zeros(5, int)), (np.array([1, 1, 0]), np.zeros(3, int)),
             (np.ones(4, int), np.ones(4, int)), (np.array([True, False, True]), np.array([False, False, True]))]
    for _ in range(n_cases - len(cases)):
        n = int(rng.integers(1, 200))
        cases.append((rng.random(n) < rng.random(), rng.random(n) < rng.random()))
    return [(t.astype(int) if rng.random() < 0.5 else t.astype(bool), p.astype(int)) for t, p in cases]


def _scores(rng, n):
    """Scores with many ties, and labels with both classes."""
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    scores = rng.integers(-6, 6, n).astype(float) if rng.random() < 0.5 else rng.normal(size=n).round(2)
    return y, scores


@pytest.mark.question("binary_classifier.sgd")
def test_train_sgd(submission, data, profile, band, credit):
    X_train, y_train, X_test, _ = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED)
    five = y_train == 5
    model = as_remote(submission.module("binary_classifier").train_sgd(X_train, five), "train_sgd()",
                      "SGDClassifier")
    predicted = as_labels(model.call("predict", X_test), "train_sgd(...).predict()", length=len(X_test),
                          allowed=(False, True))
    expected = SGDClassifier(random_state=42).fit(X_train, five).predict(X_test)
    credit.band("agreement with SGDClassifier(random_state=42)", float(np.mean(predicted == expected)), band)


@pytest.mark.question("cross_validation.manual")
def test_manual_cross_val_score(submission, data, credit):
    X, y, _, _ = mnist_subset(data.mnist, 1200, 1, seed=SEED + 1)
    five = y == 5
    cv = submission.module("cross_validation")
    checks = []
    for n_splits, seed in ((3, 11), (4, 12)):
        sgd = submission.library("cross_validation", "sklearn.linear_model", "SGDClassifier", random_state=seed)
        expected = cross_val_score(SGDClassifier(random_state=seed), X, five, cv=n_splits)
        attempt(checks, f"n_splits={n_splits}", lambda n=n_splits, sgd=sgd, expected=expected: np.allclose(
            as_array(cv.manual_cross_val_score(sgd, X, five, n_splits=n), "manual_cross_val_score()",
                     shape=(n,)), expected, atol=EXACT, rtol=0))
    credit.checks(checks)


@pytest.mark.question("confusion.hidden_inputs")
def test_confusion_hidden_inputs(submission, credit):
    confusion = submission.module("confusion")
    checks = []
    for i, (y_true, y_pred) in enumerate(_cases(SEED + 2, 30)):
        expected = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])
        attempt(checks, f"case {i}: matrix", lambda: np.array_equal(as_array(
            confusion.binary_confusion_matrix(y_true, y_pred), "binary_confusion_matrix()", shape=(2, 2)), expected))
        for name, ref in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                          ("f1", metrics.f1_score)):
            attempt(checks, f"case {i}: {name}", lambda name=name, ref=ref: abs(as_float(
                getattr(confusion, name)(y_true, y_pred), f"confusion.{name}()")
                - ref(y_true, y_pred, zero_division=0)) <= EXACT)
    credit.checks(checks)


@pytest.mark.question("confusion.validation")
def test_confusion_validation(submission, credit):
    confusion = submission.module("confusion")
    checks = []
    attempt(checks, "labels 0/2 rejected", lambda: raises_value_error(lambda: confusion.precision([0, 2, 1], [0, 1, 1])))
    attempt(checks, "different lengths rejected", lambda: raises_value_error(
        lambda: confusion.binary_confusion_matrix([0, 1, 1], [0, 1])))
    attempt(checks, "empty input rejected", lambda: raises_value_error(lambda: confusion.recall([], [])))
    attempt(checks, "2-D input rejected", lambda: raises_value_error(lambda: confusion.f1([[0, 1]], [[0, 1]])))
    credit.checks(checks)


@pytest.mark.question("tradeoff.threshold")
def test_threshold_for_precision(submission, credit):
    tradeoff = submission.module("tradeoff")
    rng = np.random.default_rng(SEED + 3)
    checks = []
    for i in range(10):
        y, scores = _scores(rng, int(rng.integers(20, 300)))
        target = float(rng.choice([0.6, 0.75, 0.9]))
        precisions, _, thresholds = metrics.precision_recall_curve(y, scores)
        reached = precisions[:-1] >= target
        if not reached.any():
            attempt(checks, f"case {i}: unreachable target raises", lambda: raises_value_error(
                lambda: tradeoff.threshold_for_precision(y, scores, target)))
            continue
        expected = thresholds[reached.argmax()]
        attempt(checks, f"case {i}: threshold", lambda: abs(as_float(
            tradeoff.threshold_for_precision(y, scores, target), "threshold_for_precision()") - expected) <= EXACT)
        attempt(checks, f"case {i}: predictions", lambda: np.array_equal(as_array(
            tradeoff.predict_at_threshold(scores, expected), "predict_at_threshold()", shape=(len(y),), kinds="b"),
            scores >= expected))
    credit.checks(checks)


@pytest.mark.question("roc.points")
def test_roc_points(submission, credit):
    roc = submission.module("roc")
    rng = np.random.default_rng(SEED + 4)
    checks = []
    for i in range(12):
        y, scores = _scores(rng, int(rng.integers(5, 400)))
        fpr, tpr, thresholds = metrics.roc_curve(y, scores, drop_intermediate=False)

        def same_points():
            result = roc.roc_points(y, scores)
            assert isinstance(result, tuple) and len(result) == 3, "roc_points() should return (fpr, tpr, thresholds)"
            ours = [as_array(r, "roc_points()", shape=(len(fpr),), finite=False) for r in result]
            return all(np.allclose(a, b, atol=EXACT, rtol=0) for a, b in zip(ours, (fpr, tpr, thresholds)))

        attempt(checks, f"case {i}: points", same_points)
        attempt(checks, f"case {i}: auc", lambda: abs(as_float(roc.auc(fpr, tpr), "auc()") - metrics.auc(fpr, tpr)) <= EXACT)
    attempt(checks, "decreasing x", lambda: abs(as_float(roc.auc(np.array([1.0, 0.5, 0.0]), np.array([1.0, 0.8, 0.0])),
                                                         "auc()") - 0.65) <= EXACT)
    credit.checks(checks)


@pytest.mark.question("roc.forest")
def test_forest_scores(submission, data, profile, band, reference, credit):
    X, y, _, _ = mnist_subset(data.mnist, SUBSET[profile][0], 1, seed=SEED + 5)
    five = y == 5
    scores = as_array(submission.module("roc").forest_positive_scores(X, five), "forest_positive_scores()",
                      shape=(len(X),))
    assert ((scores >= 0) & (scores <= 1)).all(), "forest_positive_scores() should return probabilities in [0, 1]"
    expected = reference.get(f"roc.forest/{SEED}", lambda: metrics.roc_auc_score(
        five, reference_roc.forest_positive_scores(X, five)))
    credit.band("ROC AUC", metrics.roc_auc_score(five, scores), band.resolve(expected), reference=expected)
    credit.measure("curves", {"student": score_curves(five, scores), "reference": reference.get(
        f"roc.forest/curves/{SEED}", lambda: score_curves(five, reference_roc.forest_positive_scores(X, five)))})


def _accuracy_of(model, what, X_train, y_train, X_test, y_test):
    return float(np.mean(fit_predict(model, what, X_train, y_train, X_test, allowed=range(10)) == y_test))


@pytest.mark.question("multiclass.svc")
def test_train_svc(submission, data, profile, band, reference, credit):
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 6)
    svc = as_remote(submission.module("multiclass").train_svc(X_train, y_train), "train_svc()", "SVC")
    scores = as_array(svc.call("decision_function", X_test[:3]), "SVC.decision_function()", shape=(3, 10))
    predicted = as_labels(svc.call("predict", X_test), "train_svc(...).predict()", length=len(X_test),
                          allowed=range(10))
    expected = reference.get(f"multiclass.svc/{SEED}", lambda: float(np.mean(
        SVC(random_state=42).fit(X_train, y_train).predict(X_test) == y_test)))
    credit.band("accuracy", float(np.mean(predicted == y_test)), band.resolve(expected), reference=expected)
    credit.measure("confusion_matrix", confusion_counts(y_test, predicted, range(10)))
    assert np.all(np.isfinite(scores))


@pytest.mark.question("multiclass.ovr")
def test_train_ovr_svc(submission, data, profile, credit):
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 7)
    ovr = as_remote(submission.module("multiclass").train_ovr_svc(X_train, y_train), "train_ovr_svc()",
                    "OneVsRestClassifier")
    checks = []
    attempt(checks, "10 binary SVCs", lambda: ovr.get("estimators_", keep=True).call("__len__") == 10)
    attempt(checks, "each estimator is an SVC", lambda: as_remote(ovr.get("estimator", keep=True),
                                                                   "estimator", "SVC") is not None)
    attempt(checks, "accuracy >= 0.8 on held-out images", lambda: np.mean(as_labels(
        ovr.call("predict", X_test), "predict()", length=len(X_test), allowed=range(10)) == y_test) >= 0.8)
    credit.checks(checks)


def _count_matrices(seed, n):
    rng = np.random.default_rng(seed)
    matrices = []
    for _ in range(n):
        k = int(rng.integers(2, 8))
        cm = rng.integers(0, 50, (k, k)) * (rng.random((k, k)) < 0.7)
        cm[rng.integers(k)] = 0  # a class never seen: its row must stay zeros
        matrices.append(cm)
    return matrices


def _predictions_of(cm):
    """Expand counts into (y_true, y_pred) so scikit-learn computes the expected normalisation."""
    k = len(cm)
    pairs = np.repeat(np.arange(k * k), cm.ravel())
    return pairs // k, pairs % k


@pytest.mark.question("error_analysis.normalize")
def test_normalize_confusion(submission, credit):
    analysis = submission.module("error_analysis")
    checks = []
    for i, cm in enumerate(_count_matrices(SEED + 8, 6)):
        y_true, y_pred = _predictions_of(cm)
        labels = range(len(cm))
        for how in ("true", "pred"):
            expected = metrics.confusion_matrix(y_true, y_pred, labels=labels, normalize=how)
            attempt(checks, f"matrix {i} normalize={how}", lambda how=how, expected=expected: np.allclose(
                as_array(analysis.normalize_confusion(cm, normalize=how), "normalize_confusion()", shape=cm.shape),
                expected, atol=EXACT))
        errors = y_true != y_pred
        expected = np.nan_to_num(metrics.confusion_matrix(y_true[errors], y_pred[errors], labels=labels,
                                                          normalize="true"))
        attempt(checks, f"matrix {i} errors_only", lambda expected=expected: np.allclose(as_array(
            analysis.errors_only(cm), "errors_only()", shape=cm.shape), expected, atol=EXACT))
    credit.checks(checks)


@pytest.mark.question("error_analysis.top")
def test_top_confusions(submission, credit):
    analysis = submission.module("error_analysis")
    checks = []
    for i, cm in enumerate(_count_matrices(SEED + 9, 6)):
        y_true, y_pred = _predictions_of(cm)
        rates = metrics.confusion_matrix(y_true, y_pred, labels=range(len(cm)), normalize="true")
        pairs = sorted(((t, p, rates[t, p]) for t in range(len(cm)) for p in range(len(cm))
                        if t != p and rates[t, p] > 0), key=lambda x: (-x[2], x[0], x[1]))[:3]

        def same(pairs=pairs, cm=cm):
            got = analysis.top_confusions(cm, k=3)
            assert isinstance(got, list), f"top_confusions() returned a {type(got).__name__}; expected a list"
            return len(got) == len(pairs) and all(
                int(g[0]) == t and int(g[1]) == p and abs(float(g[2]) - r) <= EXACT for g, (t, p, r) in zip(got, pairs))

        attempt(checks, f"matrix {i}", same)
    credit.checks(checks)


@pytest.mark.question("multilabel.average_f1")
def test_average_f1(submission, credit):
    multilabel = submission.module("multilabel")
    rng = np.random.default_rng(SEED + 10)
    checks = []
    for i in range(16):
        shape = (int(rng.integers(1, 60)), int(rng.integers(2, 6)))
        Y_true, Y_pred = (rng.random(shape) < rng.random()).astype(int), (rng.random(shape) < rng.random()).astype(int)
        average = ("macro", "weighted")[i % 2]
        expected = metrics.f1_score(Y_true, Y_pred, average=average, zero_division=0)
        attempt(checks, f"case {i} ({average})", lambda: abs(as_float(
            multilabel.average_f1(Y_true, Y_pred, average=average), "average_f1()") - expected) <= EXACT)
    credit.checks(checks)


@pytest.mark.question("multilabel.models")
def test_multilabel_models(submission, data, profile, band, reference, credit):
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 11)
    targets, expected_targets = reference_multilabel.large_odd_targets(y_train), reference_multilabel.large_odd_targets(y_test)
    multilabel = submission.module("multilabel")
    model = multilabel.build_multilabel_model()
    model.call("fit", X_train, targets)
    predicted = as_array(model.call("predict", X_test), "build_multilabel_model().predict()", shape=(len(X_test), 2))
    chain = as_remote(multilabel.build_chain(random_state=3), "build_chain()", "ClassifierChain")
    assert chain.get("cv") == 3 and chain.get("random_state") == 3, "build_chain() should use cv=3 and random_state"
    expected = reference.get(f"multilabel.models/{SEED}", lambda: metrics.f1_score(
        expected_targets, reference_multilabel.build_multilabel_model().fit(X_train, targets).predict(X_test),
        average="macro"))
    f1 = metrics.f1_score(expected_targets, predicted.astype(int), average="macro")
    credit.band("macro F1 of the multilabel model", f1, band.resolve(expected), reference=expected)


@pytest.mark.question("multioutput.denoiser")
def test_denoiser(submission, data, profile, band, reference, credit):
    X_train, _, X_test, _ = mnist_subset(data.mnist, SUBSET[profile][0], 100, seed=SEED + 12)
    rng = np.random.default_rng(SEED + 13)
    noisy_train = X_train + rng.integers(0, 100, X_train.shape)
    noisy_test = X_test + rng.integers(0, 100, X_test.shape)
    model = submission.module("multioutput").build_denoiser()
    model.call("fit", noisy_train, X_train)
    cleaned = as_array(model.call("predict", noisy_test), "build_denoiser().predict()", shape=X_test.shape)
    from solutions.multioutput import build_denoiser
    expected = reference.get(f"multioutput.denoiser/{SEED}", lambda: -float(np.abs(
        build_denoiser().fit(noisy_train, X_train).predict(noisy_test).astype(float) - X_test).mean()))
    error = -float(np.abs(cleaned.astype(float) - X_test).mean())
    credit.band("minus the mean absolute pixel error", error, band.resolve(expected), reference=expected)
