"""Hidden graders of the chapter's concepts.

Inputs come from seeds kept here (this folder is invisible to the worker), so
memorised outputs of the public examples do not help.  Expected values are
computed in the grader with scikit-learn (imported by the graders that use it;
those on fixed inputs are looked up as reference figures, computed with it once);
from-scratch functions must match them to 1e-9.  Every sub-check goes through :func:`check`/:func:`check_call`,
so a failed one says what was called, what was expected, what came back and
where they first differ; everything the student's code returns is validated
(``judge/validate.py``) before it reaches a metric or an index.
"""

from functools import partial

import numpy as np
import pytest

from autograder.graders.common import (Property, Raises, check, check_call, describe_call, expected_once,
                                       mnist_subset)
from autograder.graders.explain import (Mistake, check_explained, missing_start_point, errors_only_mistakes, from_scratch_check,
                                        SVC_NEAR_CHANCE, normalize_mistakes, strict_prediction, strict_threshold, swapped_metric, transposed)
from autograder.graders.figures import confusion_counts, roc_case, score_curves, threshold_case
from autograder.judge.scoring import auc_se, macro_f1_se, plus_four_proportion_se, proportion_se
from autograder.judge.validate import (as_array, as_estimator, as_float, as_indicators, as_labels, as_records,
                                       as_remote)

SEED = 7_913_245
EXACT = 1e-9
#: (train, test) rows of the MNIST subsets that model questions use, per profile.
SUBSET = {"quick": (1000, 300), "full": (4000, 1000)}
#: The SGD the grader hands to manual_cross_val_score: a fixed number of epochs (tol=None), so it
#: never warns about convergence; such a warning would read as printed by the student's code.
GRADER_SGD = {"max_iter": 20, "tol": None}
#: An accuracy under this on ten digits is close to chance (0.10): a model that did not learn.
NEAR_CHANCE = 0.3


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
    from sklearn.linear_model import SGDClassifier
    X_train, y_train, X_test, _ = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED)
    five = y_train == 5
    model = as_remote(submission.module("binary_classifier").train_sgd(X_train, five), "train_sgd()",
                      "SGDClassifier")
    predicted = as_labels(model.call("predict", X_test), "train_sgd(...).predict()", length=len(X_test),
                          allowed=(False, True))
    expected = expected_once(profile, f"binary_classifier.sgd/{SEED}", lambda: SGDClassifier(random_state=42)
                             .fit(X_train, five).predict(X_test))
    agreeing = int(np.sum(predicted == expected))
    # agreement is a proportion of the test images; a faithful train_sgd agrees on all of them, where
    # the plain binomial SE is 0, so the "plus four" SE says what n images can resolve
    credit.band("agreement with SGDClassifier(random_state=42)", agreeing / len(X_test), band, n=len(X_test),
                se=plus_four_proportion_se(agreeing, len(X_test)))


@pytest.mark.question("cross_validation.manual")
def test_manual_cross_val_score(submission, data, profile, credit):
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    X, y, _, _ = mnist_subset(data.mnist, 1200, 1, seed=SEED + 1)
    five = y == 5
    cv = submission.module("cross_validation")
    checks = []
    for n_splits, seed in ((3, 11), (4, 12)):
        sgd = submission.library("cross_validation", "sklearn.linear_model", "SGDClassifier", random_state=seed,
                                 **GRADER_SGD)
        expected = expected_once(profile, f"cross_validation.manual/{SEED}/{n_splits}/{seed}", lambda: cross_val_score(
            SGDClassifier(random_state=seed, **GRADER_SGD), X, five, cv=n_splits))
        shuffled = expected_once(profile, f"cross_validation.manual/shuffled/{SEED}/{n_splits}/{seed}", lambda: [
            cross_val_score(SGDClassifier(random_state=seed, **GRADER_SGD), X, five,
                            cv=StratifiedKFold(n_splits, shuffle=True, random_state=state))
            for state in SHUFFLED_FOLD_SEEDS])
        check_explained(checks, f"n_splits={n_splits}", cv.manual_cross_val_score,
                        {"estimator": sgd, "X": X, "y": five}, {"n_splits": n_splits}, expected=expected, atol=EXACT,
                        validate=partial(as_array, shape=(n_splits,)), mistakes=[shuffled_folds(shuffled)])
    credit.checks(checks)


#: random_state values of the book's shuffled StratifiedKFold (42) and of other common choices.
SHUFFLED_FOLD_SEEDS = (42, 0)
#: Share of a check kept by shuffled folds: a correct k-fold loop with clones, but not the contract's folds.
SHUFFLED_FOLDS_CREDIT = 0.5


def shuffled_folds(candidates):
    return Mistake("shuffled_folds", "the folds were shuffled (StratifiedKFold(..., shuffle=True), as in some "
                   "printings of the book): the loop is right, but the contract's folds are "
                   f"StratifiedKFold(n_splits) without shuffling, which cross_val_score uses; this check keeps "
                   f"{SHUFFLED_FOLDS_CREDIT:.0%} of its points",
                   lambda got: any(np.allclose(np.asarray(got, dtype=float), c, rtol=0, atol=EXACT)
                                   for c in candidates), credit=SHUFFLED_FOLDS_CREDIT)


def _confusion_expected(cases) -> list:
    """scikit-learn's figures for each (y_true, y_pred) case: the 2x2 matrix, precision, recall, F1."""
    from sklearn import metrics

    expected = []
    for y_true, y_pred in cases:
        matrix = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
        # one call for the three figures: scikit-learn's input validation is most of its cost here
        figures = metrics.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)[:3]
        expected.append([matrix, *map(float, figures)])
    return expected


@pytest.mark.question("confusion.hidden_inputs")
def test_confusion_hidden_inputs(submission, reference, credit):
    confusion = submission.module("confusion")
    checks = []
    cases = _cases(SEED + 2, 30)
    # looked up like a reference figure (shipped, else computed once and cached): scikit-learn's
    # import would otherwise be most of a cold grade of this module
    expected = reference.get(f"confusion.hidden_inputs/{SEED + 2}/30", lambda: _confusion_expected(cases))
    for i, ((y_true, y_pred), (matrix, *values)) in enumerate(zip(cases, expected)):
        inputs = {"y_true": y_true, "y_pred": y_pred}
        expected_matrix = np.asarray(matrix, dtype=np.int64)
        check_explained(checks, f"case {i}: matrix", confusion.binary_confusion_matrix, inputs, group="matrix",
                        expected=expected_matrix, validate=partial(as_array, shape=(2, 2)),
                        mistakes=[transposed(expected_matrix)])
        figures = dict(zip(("precision", "recall", "f1"), values))
        for name, other in (("precision", "recall"), ("recall", "precision"), ("f1", None)):
            check_explained(checks, f"case {i}: {name}", getattr(confusion, name), inputs, group=name,
                            expected=figures[name], validate=as_float, atol=EXACT,
                            mistakes=[swapped_metric(figures[name], figures[other], name, other)] if other else [])
    from_scratch_check(checks, submission, "confusion")
    credit.checks(checks)


@pytest.mark.question("confusion.validation")
def test_confusion_validation(submission, credit):
    confusion = submission.module("confusion")
    checks = []
    for name, function, inputs in (
            ("labels 0/2 rejected", confusion.precision, {"y_true": [0, 2, 1], "y_pred": [0, 1, 1]}),
            ("different lengths rejected", confusion.binary_confusion_matrix, {"y_true": [0, 1, 1], "y_pred": [0, 1]}),
            ("empty input rejected", confusion.recall, {"y_true": [], "y_pred": []}),
            ("2-D input rejected", confusion.f1, {"y_true": [[0, 1]], "y_pred": [[0, 1]]})):
        check_call(checks, name, function, inputs, expected=Raises("ValueError", "TypeError"))
    credit.checks(checks)


@pytest.mark.question("tradeoff.threshold")
def test_threshold_for_precision(submission, credit):
    from sklearn import metrics
    tradeoff = submission.module("tradeoff")
    rng = np.random.default_rng(SEED + 3)
    checks = []
    for i in range(10):
        y, scores = _scores(rng, int(rng.integers(20, 300)))
        target = float(rng.choice([0.6, 0.75, 0.9]))
        precisions, recalls, thresholds = metrics.precision_recall_curve(y, scores)
        reached = precisions[:-1] >= target
        inputs = {"y_true": y, "scores": scores, "target": target}
        if not reached.any():
            check_call(checks, f"case {i}: unreachable target raises", tradeoff.threshold_for_precision, inputs,
                       expected=Raises("ValueError"), group="unreachable")
            continue
        expected = float(thresholds[reached.argmax()])
        above = precisions[:-1] > target
        got = []
        found = check_explained(checks, f"case {i}: threshold", tradeoff.threshold_for_precision, inputs,
                                expected=expected, validate=as_float, atol=EXACT, group="threshold", keep=got,
                                mistakes=[strict_threshold(float(thresholds[above.argmax()]) if above.any() else None)])
        drawn = credit.measurements.get("threshold_case")
        if not found.passed and (drawn is None or (drawn["student"] is None and got)):  # the first wrong one, drawn
            credit.measure("threshold_case", threshold_case(i, target, precisions, recalls, thresholds, expected,
                                                            got[0] if got else None))
        check_explained(checks, f"case {i}: predictions", tradeoff.predict_at_threshold,
                        {"scores": scores, "threshold": expected}, expected=scores >= expected, group="predictions",
                        validate=partial(as_array, shape=(len(y),), kinds="b"), mistakes=[strict_prediction(scores, expected)])
    credit.checks(checks)


def _roc_triple(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else f"a {type(value).__name__}"
        raise AssertionError(f"{what} returned {got}; expected a tuple (fpr, tpr, thresholds)")
    return {name: as_array(v, what, ndim=1, finite=False) for name, v in zip(("fpr", "tpr", "thresholds"), value)}


@pytest.mark.question("roc.points")
def test_roc_points(submission, credit):
    from sklearn import metrics
    roc = submission.module("roc")
    rng = np.random.default_rng(SEED + 4)
    checks = []
    for i in range(12):
        y, scores = _scores(rng, int(rng.integers(5, 400)))
        fpr, tpr, thresholds = metrics.roc_curve(y, scores, drop_intermediate=False)
        got = []
        points = check_explained(checks, f"case {i}: points", roc.roc_points, {"y_true": y, "scores": scores},
                                 expected={"fpr": fpr, "tpr": tpr, "thresholds": thresholds}, validate=_roc_triple,
                                 atol=EXACT, group="points", keep=got, mistakes=[missing_start_point(fpr, tpr)])
        if not points.passed and got and "roc_case" not in credit.measurements:  # the first wrong curve, drawn
            credit.measure("roc_case", roc_case(i, got[0], fpr, tpr))
        check_call(checks, f"case {i}: auc", roc.auc, {"fpr": fpr, "tpr": tpr}, expected=float(metrics.auc(fpr, tpr)),
                   validate=as_float, atol=EXACT, group="auc")
    check_call(checks, "decreasing x", roc.auc, {"fpr": np.array([1.0, 0.5, 0.0]), "tpr": np.array([1.0, 0.8, 0.0])},
               expected=0.65, validate=as_float, atol=EXACT, group="auc")
    from_scratch_check(checks, submission, "roc")
    credit.checks(checks)


@pytest.mark.question("roc.forest")
def test_forest_scores(submission, data, profile, band, reference, credit):
    from sklearn import metrics
    from solutions import roc as reference_roc
    X, y, _, _ = mnist_subset(data.mnist, SUBSET[profile][0], 1, seed=SEED + 5)
    five = y == 5
    scores = as_array(submission.module("roc").forest_positive_scores(X, five), "forest_positive_scores()",
                      shape=(len(X),))
    outside = scores[(scores < 0) | (scores > 1)]
    assert not outside.size, (f"forest_positive_scores() should return probabilities in [0, 1]; "
                              f"got {outside.size} values outside, e.g. {outside[:3].tolist()}")
    expected = reference.get(f"roc.forest/{SEED}", lambda: metrics.roc_auc_score(
        five, reference_roc.forest_positive_scores(X, five)))
    # DeLong's SE: the AUC is a mean over (positive, negative) pairs, not a proportion of the n images
    credit.band("ROC AUC", metrics.roc_auc_score(five, scores), band.resolve(expected), reference=expected,
                n=len(X), se=auc_se(five, scores))
    credit.measure("curves", {"student": score_curves(five, scores), "reference": reference.get(
        f"roc.forest/curves/{SEED}", lambda: score_curves(five, reference_roc.forest_positive_scores(X, five)))})


@pytest.mark.question("multiclass.svc")
def test_train_svc(submission, data, profile, band, reference, credit):
    from sklearn.svm import SVC
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 6)
    svc = as_remote(submission.module("multiclass").train_svc(X_train, y_train), "train_svc()", "SVC")
    scores = as_array(svc.call("decision_function", X_test[:3]), "train_svc(...).decision_function()",
                      shape=(3, None))
    # 10 class scores ('ovr', the default) or the 45 pairwise ones (decision_function_shape='ovo'): both OvO
    assert scores.shape[1] in (10, 45), (f"train_svc(...).decision_function() returned {scores.shape[1]} scores "
                                         "per image; expected 10 (or 45 pairwise with decision_function_shape='ovo')")
    predicted = as_labels(svc.call("predict", X_test), "train_svc(...).predict()", length=len(X_test),
                          allowed=range(10))
    expected = reference.get(f"multiclass.svc/{SEED}", lambda: float(np.mean(
        SVC(random_state=42).fit(X_train, y_train).predict(X_test) == y_test)))
    accuracy = float(np.mean(predicted == y_test))  # a proportion of the test images: binomial SE
    credit.band("accuracy", accuracy, band.resolve(expected), reference=expected, n=len(y_test),
                se=proportion_se(accuracy, len(y_test)))
    if accuracy < min(band.resolve(expected).zero_at, NEAR_CHANCE):
        credit.note(f"likely cause: {SVC_NEAR_CHANCE}")
    credit.measure("confusion_matrix", confusion_counts(y_test, predicted, range(10)))


@pytest.mark.question("multiclass.ovr")
def test_train_ovr_svc(submission, data, profile, credit):
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 7)
    call = describe_call(submission.module("multiclass").train_ovr_svc, {"X": X_train, "y": y_train})
    ovr = as_remote(submission.module("multiclass").train_ovr_svc(X_train, y_train), "train_ovr_svc()",
                    "OneVsRestClassifier")
    checks = []
    check(checks, "10 binary SVCs", f"len({call}.estimators_)",
          lambda: ovr.get("estimators_", keep=True).call("__len__"), 10)
    check(checks, "each estimator is an SVC", f"{call}.estimator",
          lambda: ovr.get("estimator", keep=True), Property("an SVC", lambda e: e.isinstance_of("SVC")))
    check(checks, "accuracy >= 0.8 on held-out images", f"{call}.predict(X_test) compared with y_test",
          lambda: float(np.mean(as_labels(ovr.call("predict", X_test), "train_ovr_svc(...).predict()",
                                          length=len(X_test), allowed=range(10)) == y_test)),
          Property("an accuracy of at least 0.8", lambda accuracy: accuracy >= 0.8))
    credit.checks(checks)


def _count_matrices(seed, n, *, empty_row: bool):
    """Random k x k count matrices; with ``empty_row`` one class is never seen (its row is all zeros),
    without it every row holds errors, so the core normalisation is tested apart from that edge case."""
    rng = np.random.default_rng(seed)
    matrices = []
    for _ in range(n):
        k = int(rng.integers(2, 8))
        if empty_row:
            cm = rng.integers(0, 50, (k, k)) * (rng.random((k, k)) < 0.7)
            cm[rng.integers(k)] = 0  # a class never seen: its row must stay zeros
        else:
            cm = rng.integers(1, 50, (k, k))
        matrices.append(cm)
    return matrices


def _predictions_of(cm):
    """Expand counts into (y_true, y_pred) so scikit-learn computes the expected normalisation."""
    k = len(cm)
    pairs = np.repeat(np.arange(k * k), cm.ravel())
    return pairs // k, pairs % k


@pytest.mark.question("error_analysis.normalize")
def test_normalize_confusion(submission, credit):
    """The core (matrices whose rows all hold samples and errors) and the all-zero row apart: a
    normalisation right on every non-empty row keeps the core's weight."""
    from sklearn import metrics
    analysis = submission.module("error_analysis")
    checks = []
    cases = [("", m, None) for m in _count_matrices(SEED + 8, 6, empty_row=False)]
    cases += [(" (all-zero row)", m, "empty_row") for m in _count_matrices(SEED + 15, 3, empty_row=True)]
    for i, (label, cm, edge) in enumerate(cases):
        y_true, y_pred = _predictions_of(cm)
        labels = range(len(cm))
        square = partial(as_array, shape=cm.shape)
        for how in ("true", "pred"):
            check_explained(checks, f"matrix {i}{label} normalize={how}", analysis.normalize_confusion, {"cm": cm},
                            {"normalize": how}, validate=square, atol=EXACT, group=edge or "normalize",
                            expected=metrics.confusion_matrix(y_true, y_pred, labels=labels, normalize=how),
                            mistakes=normalize_mistakes(cm, how))
        errors = y_true != y_pred
        expected = np.zeros(cm.shape) if not errors.any() else np.nan_to_num(metrics.confusion_matrix(
            y_true[errors], y_pred[errors], labels=labels, normalize="true"))
        check_explained(checks, f"matrix {i}{label} errors_only", analysis.errors_only, {"cm": cm},
                        expected=expected, validate=square, atol=EXACT, group=edge or "errors_only",
                        mistakes=errors_only_mistakes(cm))
    credit.checks(checks)


def _confusion_rows(value, what):
    return as_records(value, what, width=3, kinds="iif")  # [(true, predicted, rate), ...]


@pytest.mark.question("error_analysis.top")
def test_top_confusions(submission, credit):
    from sklearn import metrics
    analysis = submission.module("error_analysis")
    checks = []
    for i, cm in enumerate(_count_matrices(SEED + 9, 6, empty_row=True)):
        y_true, y_pred = _predictions_of(cm)
        rates = metrics.confusion_matrix(y_true, y_pred, labels=range(len(cm)), normalize="true")
        pairs = sorted(((t, p, rates[t, p]) for t in range(len(cm)) for p in range(len(cm))
                        if t != p and rates[t, p] > 0), key=lambda x: (-x[2], x[0], x[1]))[:3]
        check_call(checks, f"matrix {i}", analysis.top_confusions, {"cm": cm}, {"k": 3}, atol=EXACT,
                   expected=[(int(t), int(p), float(r)) for t, p, r in pairs], validate=_confusion_rows)
    credit.checks(checks)


@pytest.mark.question("multilabel.average_f1")
def test_average_f1(submission, credit):
    from sklearn import metrics
    multilabel = submission.module("multilabel")
    rng = np.random.default_rng(SEED + 10)
    checks = []
    for i in range(16):
        shape = (int(rng.integers(1, 60)), int(rng.integers(2, 6)))
        Y_true, Y_pred = (rng.random(shape) < rng.random()).astype(int), (rng.random(shape) < rng.random()).astype(int)
        average = ("macro", "weighted")[i % 2]
        check_call(checks, f"case {i} ({average})", multilabel.average_f1, {"Y_true": Y_true, "Y_pred": Y_pred},
                   {"average": average}, validate=as_float, atol=EXACT,
                   expected=float(metrics.f1_score(Y_true, Y_pred, average=average, zero_division=0)))
    credit.checks(checks)


@pytest.mark.question("multilabel.models")
def test_multilabel_models(submission, data, profile, band, reference, credit):
    """Two parts, each worth its weight in questions.toml: the model (within its band) and the chain."""
    from sklearn import metrics
    from solutions import multilabel as reference_multilabel
    X_train, y_train, X_test, y_test = mnist_subset(data.mnist, *SUBSET[profile], seed=SEED + 11)
    targets = reference_multilabel.large_odd_targets(y_train)
    expected_targets = reference_multilabel.large_odd_targets(y_test)
    multilabel = submission.module("multilabel")
    parts = []

    predicted = []

    def predictions():
        model = as_estimator(multilabel.build_multilabel_model(), "build_multilabel_model()")
        model.call("fit", X_train, targets)
        predicted.append(as_indicators(model.call("predict", X_test), "build_multilabel_model().predict()",
                                       shape=(len(X_test), 2)))
        return predicted[-1]

    call = describe_call("build_multilabel_model().fit(X_train, Y_train).predict", {"X_test": X_test})
    model = check(parts, "build_multilabel_model", call, predictions,
                  Property("binary indicators of shape (n, 2)", lambda _: True), group="model")
    if model.passed:  # it ran: its credit is the macro F1 within the band
        expected = reference.get(f"multilabel.models/{SEED}", lambda: metrics.f1_score(
            expected_targets, reference_multilabel.build_multilabel_model().fit(X_train, targets).predict(X_test),
            average="macro"))
        # macro F1 is a ratio of counts, not a mean over images: its SE comes from a bootstrap over them
        parts[-1] = credit.band_check("build_multilabel_model", "macro F1 of the multilabel model",
                                      metrics.f1_score(expected_targets, predicted[-1], average="macro"),
                                      band.resolve(expected), group="model", reference=expected, n=len(X_test),
                                      se=macro_f1_se(expected_targets, predicted[-1], seed=SEED + 14))

    def chain_settings():
        chain = as_remote(multilabel.build_chain(random_state=3), "build_chain()", "ClassifierChain")
        return {"cv": chain.get("cv"), "random_state": chain.get("random_state")}

    check(parts, "build_chain", describe_call(multilabel.build_chain, kwargs={"random_state": 3}), chain_settings,
          {"cv": 3, "random_state": 3}, group="chain")
    credit.checks(parts)
    if model.passed and parts[0].passed:
        credit.note(parts[0].detail)  # the figure, even at full marks


@pytest.mark.question("multioutput.denoiser")
def test_denoiser(submission, data, profile, band, reference, credit):
    from scipy import stats
    X_train, _, X_test, _ = mnist_subset(data.mnist, SUBSET[profile][0], 100, seed=SEED + 12)
    rng = np.random.default_rng(SEED + 13)
    noisy_train = X_train + rng.integers(0, 100, X_train.shape)
    noisy_test = X_test + rng.integers(0, 100, X_test.shape)
    model = as_estimator(submission.module("multioutput").build_denoiser(), "build_denoiser()")
    model.call("fit", noisy_train, X_train)
    cleaned = as_array(model.call("predict", noisy_test), "build_denoiser().predict()", shape=X_test.shape)
    from solutions.multioutput import build_denoiser
    expected = reference.get(f"multioutput.denoiser/{SEED}", lambda: -float(np.abs(
        build_denoiser().fit(noisy_train, X_train).predict(noisy_test).astype(float) - X_test).mean()))
    image_errors = np.abs(cleaned.astype(float) - X_test).mean(axis=1)
    # the images are the independent samples (a digit's pixels err together): SE of the mean of
    # the per-image errors
    credit.band("minus the mean absolute pixel error", -float(image_errors.mean()), band.resolve(expected),
                reference=expected, n=len(X_test), se=float(stats.sem(image_errors)))
