"""Hidden graders of the four exercises: the grader fits what build_* returns, on data it controls.

Models are scored on held-out data whose labels never leave this process. A model
is also trained on shuffled labels: one that still scores far above chance did
not learn from its training data (it carries the public test labels), and gets 0.
"""

import collections

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.model_selection import StratifiedShuffleSplit

from autograder.graders.common import attempt, fit_predict, mnist_subset, permuted_label_accuracy
from autograder.graders.figures import confusion_counts, misclassified_digits, misclassified_emails
from autograder.judge.client import StudentCodeError
from autograder.judge.scoring import proportion_se
from autograder.judge.validate import InvalidOutput, as_array, as_labels, as_remote
from solutions import ex1_knn97 as reference_ex1
from solutions import ex2_augmentation as reference_ex2
from solutions import ex3_titanic as reference_ex3
from solutions import ex4_spam as reference_ex4

SEED = 5_550_123
#: Rows of the shuffled-label check (enough for KNN to be far above chance if it learns).
PERMUTED_ROWS = {"quick": 1000, "full": 3000}
SPAM_SPLITS = 5


def _check_not_hard_coded(question, build, X, y, X_test, y_test, allowed, credit):
    accuracy = permuted_label_accuracy(build, X, y, X_test, y_test, seed=SEED, allowed=allowed)
    credit.note(f"accuracy after training on shuffled labels: {accuracy:.3f} (flagged above {question.permuted_limit})")
    assert accuracy <= question.permuted_limit, (
        f"after training on shuffled labels the model still scores {accuracy:.3f} on the test set; a model "
        "that learns from its training data scores about chance. These predictions do not come from the "
        "training data (for example, test labels stored in the code), so this question scores 0.")


def _score_accuracy(credit, band, reference, key, y_test, predicted, reference_predictions, metric="test accuracy"):
    """Band the student's accuracy; the band is relative to the reference's (cached) on the quick profile."""
    expected = reference.get(key, lambda: accuracy_score(y_test, reference_predictions()))
    credit.band(metric, accuracy_score(y_test, predicted), band.resolve(expected), n=len(y_test), reference=expected)
    credit.measure("confusion_matrix", confusion_counts(y_test, predicted, sorted(set(np.unique(y_test)))))


def _mnist_full_split(data):
    m = data.mnist
    return np.asarray(m.X_train), np.asarray(m.y_train), np.asarray(m.X_test), np.asarray(m.y_test)


@pytest.mark.question("ex1_knn97.tune")
def test_tune(submission, data, credit):
    X, y, _, _ = mnist_subset(data.mnist, 600, 1, seed=SEED)
    ex1 = submission.module("ex1_knn97")
    search = as_remote(ex1.tune(X, y, cv=3), "tune()", "GridSearchCV")
    grid = ex1.param_grid()
    grids = grid if isinstance(grid, list) else [grid]
    checks = []
    best = search.get("best_params_")
    attempt(checks, "best_params_ comes from param_grid()", lambda: isinstance(best, dict) and any(
        all(k in g and best[k] in g[k] for k in best) for g in grids))
    attempt(checks, "cv=3 was used", lambda: search.get("n_splits_") == 3)
    credit.checks(checks)


@pytest.mark.question("ex1_knn97.accuracy")
def test_knn_accuracy(submission, data, profile, question, band, reference, credit):
    X_train, y_train, X_test, y_test = _mnist_full_split(data)
    ex1 = submission.module("ex1_knn97")
    n = PERMUTED_ROWS[profile]
    _check_not_hard_coded(question, ex1.build_model, X_train[:n], y_train[:n], X_test, y_test, range(10), credit)
    predicted = fit_predict(ex1.build_model(), "ex1_knn97.build_model()", X_train, y_train, X_test, range(10))
    _score_accuracy(credit, band, reference, "ex1_knn97.accuracy", y_test, predicted,
                    lambda: reference_ex1.build_model().fit(X_train, y_train).predict(X_test))
    credit.measure("misclassified_digits", misclassified_digits(X_test, y_test, predicted))


def _random_images(rng, n):
    return rng.integers(0, 256, (n, 784)).astype(np.uint8) * (rng.random((n, 784)) < 0.3)


@pytest.mark.question("ex2_augmentation.shift")
def test_shift_image(submission, credit):
    ex2 = submission.module("ex2_augmentation")
    rng = np.random.default_rng(SEED + 1)
    checks = []
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1), (2, -3), (-4, 5)]
    for i, (image, (dx, dy)) in enumerate(zip(_random_images(rng, 12), moves * 2)):
        square = i >= len(moves)  # half the cases as 28x28, half as 784-vectors
        given = image.reshape(28, 28) if square else image
        expected = ndimage.shift(image.reshape(28, 28), [dy, dx], order=0, cval=0, mode="constant")
        attempt(checks, f"dx={dx}, dy={dy}, shape {given.shape}", lambda given=given, expected=expected, dx=dx, dy=dy:
                np.array_equal(as_array(ex2.shift_image(given, dx, dy), "shift_image()", shape=given.shape),
                               expected.reshape(given.shape)))
    credit.checks(checks)


def _rows_with_labels(X, y):
    return collections.Counter((row.tobytes(), int(label)) for row, label in zip(X, y))


@pytest.mark.question("ex2_augmentation.augment")
def test_augment(submission, data, credit):
    X, y, _, _ = mnist_subset(data.mnist, 40, 1, seed=SEED + 2)
    result = submission.module("ex2_augmentation").augment(X, y)
    assert isinstance(result, tuple) and len(result) == 2, "augment() should return (X_augmented, y_augmented)"
    X_aug = as_array(result[0], "augment()[0]", shape=(5 * len(X), 784))
    y_aug = as_array(result[1], "augment()[1]", shape=(5 * len(X),))
    images = X.reshape(-1, 28, 28)
    expected_X = np.concatenate([X] + [np.stack([ndimage.shift(im, [dy, dx], order=0, cval=0) for im in images])
                                       .reshape(len(X), 784) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))])
    checks = []
    attempt(checks, "dtype kept", lambda: X_aug.dtype == X.dtype)
    attempt(checks, "originals and four one-pixel shifts, each with its label", lambda:
            _rows_with_labels(X_aug.astype(X.dtype), y_aug) == _rows_with_labels(expected_X, np.tile(y, 5)))
    credit.checks(checks)


@pytest.mark.question("ex2_augmentation.accuracy")
def test_augmented_accuracy(submission, data, profile, question, band, reference, credit):
    X_train, y_train, X_test, y_test = _mnist_full_split(data)
    ex2 = submission.module("ex2_augmentation")
    n = PERMUTED_ROWS[profile]
    _check_not_hard_coded(question, ex2.build_model, X_train[:n], y_train[:n], X_test, y_test, range(10), credit)
    augmented = ex2.augment(X_train, y_train, keep=True)  # 5N rows stay in the worker
    X_aug, y_aug = augmented.item(0, keep=True), augmented.item(1, keep=True)
    shape = X_aug.get("shape")
    assert tuple(shape) == (5 * len(X_train), 784), f"augment(X_train) has shape {tuple(shape)}; expected (5N, 784)"
    model = ex2.build_model()
    model.call("fit", X_aug, y_aug)
    predicted = as_labels(model.call("predict", X_test), "build_model().predict()", length=len(X_test),
                          allowed=range(10))

    def reference_predictions():
        return reference_ex2.build_model().fit(*reference_ex2.augment(X_train, y_train)).predict(X_test)

    _score_accuracy(credit, band, reference, "ex2_augmentation.accuracy", y_test, predicted, reference_predictions)


@pytest.mark.question("ex3_titanic.accuracy")
def test_titanic_accuracy(submission, data, question, band, reference, credit):
    titanic = data.titanic
    X_train, y_train = titanic.train.drop(columns="Survived"), titanic.train["Survived"].to_numpy()
    ex3 = submission.module("ex3_titanic")
    _check_not_hard_coded(question, ex3.build_pipeline, X_train, y_train, titanic.test, titanic.test_labels,
                          (0, 1), credit)
    predicted = fit_predict(ex3.build_pipeline(), "build_pipeline()", X_train, y_train, titanic.test, (0, 1))
    _score_accuracy(credit, band, reference, "ex3_titanic.accuracy", titanic.test_labels, predicted,
                    lambda: reference_ex3.build_pipeline().fit(X_train, y_train).predict(titanic.test),
                    metric="accuracy on the hidden labels")


CRAFTED = [
    b"Subject: x\n\nWIN money NOW at http://spam.example.com/x 1000 times!!\n",
    b"Content-Type: text/html\n\n<p>Cheap <a href='http://a.b'>pills</a> 25 dollars</p>\n",
    b"Subject: meeting\n\nSee you at the meeting, the meeting is at 10.\n",
]


@pytest.mark.question("ex4_spam.transformers")
def test_transformers(submission, credit):
    spam = submission.module("ex4_spam")
    checks = []
    counter = as_remote(spam.EmailToWordCounter(), "EmailToWordCounter()", "TransformerMixin")
    counters = counter.call("fit_transform", CRAFTED, keep=True)

    def counts(i):
        return dict(counters.item(i, keep=True).call("most_common"))

    attempt(checks, "one Counter per email", lambda: counters.call("__len__") == len(CRAFTED))
    attempt(checks, "URLs become 'url'", lambda: counts(0).get("url") == 1)
    attempt(checks, "numbers become 'number'", lambda: counts(0).get("number") == 1)
    attempt(checks, "lower case, no punctuation", lambda: "win" in counts(0) and not any(
        "!" in w or w != w.lower() for w in counts(0)))
    attempt(checks, "words counted and stemmed", lambda: counts(2).get("meet") == 2)
    vectorizer = as_remote(spam.WordCounterToVector(vocabulary_size=4), "WordCounterToVector()", "TransformerMixin")
    vectorizer.call("fit", counters)

    def vector_checks():
        matrix = as_array(vectorizer.call("transform", counters, keep=True).call("toarray"), "transform()",
                          shape=(3, 5))
        total = sum(sum(counts(i).values()) for i in range(3))
        return matrix.sum() == total and len(vectorizer.get("vocabulary_")) == 4

    attempt(checks, "vectors: (n_emails, vocabulary_size + 1), column 0 counts the rest", vector_checks)
    credit.checks(checks)


def _spam_scores(submission, data, reference, memo):
    """Mean precision and recall over hidden splits, for the student's and the reference pipeline."""
    if "spam" in memo:
        if isinstance(memo["spam"], Exception):
            raise memo["spam"]
        return memo["spam"]
    corpus = data.spam
    emails = corpus.easy_ham + corpus.spam
    y = np.array([0] * len(corpus.easy_ham) + [1] * len(corpus.spam))
    splits = list(StratifiedShuffleSplit(SPAM_SPLITS, test_size=0.2, random_state=SEED).split(emails, y))

    def run(build):
        """(mean precision, mean recall, predicted spams, actual spams) over the splits."""
        precisions, recalls, flagged, positives = [], [], 0, 0
        for train, test in splits:
            predicted = build([emails[i] for i in train], y[train], [emails[i] for i in test])
            memo.setdefault(f"spam-wrong/{build.__name__}", []).extend(test[predicted != y[test]].tolist())
            memo[f"spam-cm/{build.__name__}"] = np.add(memo.get(f"spam-cm/{build.__name__}", 0),
                                                       confusion_counts(y[test], predicted, (0, 1)))
            precisions.append(precision_score(y[test], predicted, zero_division=0))
            recalls.append(recall_score(y[test], predicted, zero_division=0))
            flagged, positives = flagged + int(np.sum(predicted == 1)), positives + int(np.sum(y[test]))
        return float(np.mean(precisions)), float(np.mean(recalls)), flagged, positives

    def student(train, y_train, test):
        return fit_predict(submission.module("ex4_spam").build_pipeline(), "build_pipeline()", train, y_train,
                           test, allowed=(0, 1))

    def book(train, y_train, test):
        return reference_ex4.build_pipeline().fit(train, y_train).predict(test)

    try:
        scores = {"student": run(student), "reference": tuple(reference.get(f"ex4_spam/v2/{SEED}", lambda: run(book)))}
    except (StudentCodeError, InvalidOutput) as exc:
        memo["spam"] = exc
        raise
    memo["spam"] = scores
    return scores


def _band_spam(credit, band, scores, metric, index):
    """Standard error from the pooled counts: predicted spams for precision, actual spams for recall."""
    value, expected = scores["student"][index], scores["reference"][index]
    counted = scores["student"][2 + index]
    credit.band(f"mean {metric} over {SPAM_SPLITS} hidden splits", value, band.resolve(expected),
                se=proportion_se(value, counted) if counted else None, reference=expected)


@pytest.mark.question("ex4_spam.precision")
def test_spam_precision(submission, data, band, reference, memo, credit):
    _band_spam(credit, band, _spam_scores(submission, data, reference, memo), "precision", 0)
    credit.measure("misclassified_emails", misclassified_emails(data.spam, memo["spam-wrong/student"], spam=False))
    credit.measure("confusion_matrix", np.asarray(memo["spam-cm/student"]).tolist())  # pooled over the splits


@pytest.mark.question("ex4_spam.recall")
def test_spam_recall(submission, data, band, reference, memo, credit):
    _band_spam(credit, band, _spam_scores(submission, data, reference, memo), "recall", 1)
    credit.measure("misclassified_emails", misclassified_emails(data.spam, memo["spam-wrong/student"], spam=True))
