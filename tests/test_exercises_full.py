"""The four exercises on the real data: the reference solutions reach their targets.

Slow (about 6 minutes on 2 cores with the grading run below); skipped without the
full data. Prints each figure and its fit+predict time; the README's exercise
table comes from this output.
"""

import resource
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from autograder.data import load_mnist, load_spam, load_titanic
from autograder.grading import grade_path
from autograder.spec import load_spec
from solutions import ex1_knn97, ex2_augmentation, ex3_titanic, ex4_spam

pytestmark = [pytest.mark.full_data, pytest.mark.slow]
SPEC = load_spec()


@pytest.fixture(scope="module")
def mnist(data_dir):
    return load_mnist("full", data_dir=data_dir, allow_download=False)


def timed(label, func):
    start = time.perf_counter()
    result = func()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{label}: {time.perf_counter() - start:.1f} s wall, process peak RSS so far {peak:.0f} MB")
    return result


def test_default_knn_scores_the_books_0_9688(mnist):
    model = KNeighborsClassifier(n_jobs=-1).fit(mnist.X_train, mnist.y_train)
    assert timed("default KNN", lambda: model.score(mnist.X_test, mnist.y_test)) == 0.9688


def test_ex1_reaches_97_percent(mnist):
    model = clone(ex1_knn97.build_model())
    accuracy = timed("ex1 fit+predict", lambda: accuracy_score(
        mnist.y_test, model.fit(mnist.X_train, mnist.y_train).predict(mnist.X_test)))
    print(f"ex1 accuracy {accuracy}")
    assert accuracy == 0.9714  # the book's figure, reproduced exactly
    assert accuracy >= SPEC["ex1_knn97.accuracy"].band("full").full_at


def test_ex2_augmentation_beats_ex1(mnist):
    X_aug, y_aug = timed("ex2 augment", lambda: ex2_augmentation.augment(mnist.X_train, mnist.y_train))
    assert X_aug.shape == (300_000, 784)
    model = clone(ex2_augmentation.build_model())
    accuracy = timed("ex2 fit+predict", lambda: accuracy_score(mnist.y_test, model.fit(X_aug, y_aug).predict(mnist.X_test)))
    print(f"ex2 accuracy {accuracy}")
    assert accuracy == 0.9763  # the book's figure, reproduced exactly
    assert accuracy >= SPEC["ex2_augmentation.accuracy"].band("full").full_at and accuracy > 0.9714


def test_ex3_titanic_beats_the_gender_baseline(data_dir):
    titanic = load_titanic("full", data_dir=data_dir)
    model = clone(ex3_titanic.build_pipeline())
    accuracy = timed("ex3 fit+predict", lambda: accuracy_score(
        titanic.test_labels, model.fit(titanic.train, titanic.train["Survived"]).predict(titanic.test)))
    print(f"ex3 accuracy {accuracy}")
    assert accuracy == pytest.approx(0.7822966507177034, abs=1e-12)  # 327/418
    assert accuracy > 0.76555  # the women-only baseline on the test set; the band is on test + out of fold


def _books_split(ham, spam):
    X = np.empty(len(ham) + len(spam), dtype=object)
    X[:] = ham + spam
    y = np.array([0] * len(ham) + [1] * len(spam))
    return train_test_split(X, y, test_size=0.2, random_state=42)


@pytest.mark.parametrize("with_hard_ham, expected", [
    # The book (urlextract for URLs) prints 96.88% / 97.89%; our regex URL finder misses one
    # URL, so precision is one email lower: 93 of 97 predicted spams are right.
    (False, (93 / 97, 93 / 95)),
    # With hard_ham the book's pipeline is expected near 0.93 / 0.94: 100/107 and 100/104 here.
    (True, (100 / 107, 100 / 104)),
])
def test_ex4_spam_on_the_books_split(data_dir, with_hard_ham, expected):
    corpus = load_spam("full", data_dir=data_dir)
    ham = corpus.easy_ham + (corpus.hard_ham if with_hard_ham else [])
    X_train, X_test, y_train, y_test = _books_split(ham, corpus.spam)
    model = clone(ex4_spam.build_pipeline())
    predicted = timed("ex4 fit+predict", lambda: model.fit(X_train, y_train).predict(X_test))
    precision, recall = precision_score(y_test, predicted), recall_score(y_test, predicted)
    print(f"ex4 (hard_ham: {with_hard_ham}) precision {precision:.4f} recall {recall:.4f}")
    assert (precision, recall) == (pytest.approx(expected[0]), pytest.approx(expected[1]))


def test_grading_the_reference_on_full_data_gives_full_marks(data_dir, tmp_path):
    result = timed("grade solutions --data full", lambda: grade_path(
        __import__("submissions").PROJECT / "solutions", tmp_path / "out", profile="full", data_dir=data_dir))
    for q in result.questions:
        print(f"{q.id}: {q.points:g}/{q.max_points:g} {q.feedback.splitlines()[-1] if q.feedback else ''}")
    assert [q.id for q in result.questions if q.points < q.max_points] == []
