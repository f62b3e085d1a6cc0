"""The four exercises' reference solutions on the embedded sample (fast, no full data)."""

import email.message

import numpy as np
import pytest
from scipy import ndimage
from scipy.sparse import issparse
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

from autograder.data import load_mnist, load_spam, load_titanic
from solutions import ex1_knn97, ex2_augmentation, ex3_titanic, ex4_spam


@pytest.fixture(scope="module")
def quick():
    return load_mnist("quick")


# ---------------------------------------------------------------------------- exercise 1

def test_ex1_grid_and_tuning(quick):
    grid = ex1_knn97.param_grid()
    keys = set().union(*grid) if isinstance(grid, list) else set(grid)
    assert {"weights", "n_neighbors"} <= keys
    search = ex1_knn97.tune(quick.X_train[:500], quick.y_train[:500], cv=3)
    assert isinstance(search, GridSearchCV) and search.best_params_["n_neighbors"] in (3, 4, 5, 6)


def test_ex1_model_beats_default_knn_on_sample(quick):
    model = clone(ex1_knn97.build_model()).fit(quick.X_train, quick.y_train)
    assert accuracy_score(quick.y_test, model.predict(quick.X_test)) > 0.90


# ---------------------------------------------------------------------------- exercise 2

@pytest.mark.parametrize("dx, dy", [(1, 0), (-1, 0), (0, 1), (0, -1), (3, -2), (-5, 4)])
@pytest.mark.parametrize("seed", range(5))
def test_shift_image_equals_ndimage_shift(dx, dy, seed):
    image = np.random.default_rng(seed).integers(0, 256, size=(28, 28)).astype(np.uint8)
    expected = ndimage.shift(image, [dy, dx], order=0, cval=0, mode="constant")
    np.testing.assert_array_equal(ex2_augmentation.shift_image(image, dx, dy), expected)
    flat = ex2_augmentation.shift_image(image.ravel(), dx, dy)
    assert flat.shape == (784,) and flat.dtype == np.uint8
    np.testing.assert_array_equal(flat, expected.ravel())


def test_shift_image_directions_follow_the_docstring():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10, 10] = 255
    assert ex2_augmentation.shift_image(image, 1, 0)[10, 11] == 255   # right
    assert ex2_augmentation.shift_image(image, 0, 1)[11, 10] == 255   # down
    with pytest.raises(ValueError, match="'image' must have shape"):
        ex2_augmentation.shift_image(np.zeros(100), 1, 0)
    with pytest.raises(TypeError, match="'dx' must be an int"):
        ex2_augmentation.shift_image(image, 0.5, 0)


def test_augment_keeps_labels_with_their_images(quick):
    X, y = quick.X_train[:50], quick.y_train[:50]
    X_aug, y_aug = ex2_augmentation.augment(X, y)
    assert X_aug.shape == (250, 784) and X_aug.dtype == X.dtype and y_aug.shape == (250,)
    expected = {(ex2_augmentation.shift_image(x, dx, dy).tobytes(), label)
                for x, label in zip(X, y) for dx, dy in [(0, 0), *ex2_augmentation.SHIFTS]}
    assert {(row.tobytes(), label) for row, label in zip(X_aug, y_aug)} == expected


def test_ex2_model_trains_on_augmented_sample(quick):
    X_aug, y_aug = ex2_augmentation.augment(quick.X_train, quick.y_train)
    model = clone(ex2_augmentation.build_model()).fit(X_aug, y_aug)
    assert accuracy_score(quick.y_test, model.predict(quick.X_test)) > 0.92


# ---------------------------------------------------------------------------- exercise 3

def test_titanic_pipeline_takes_raw_kaggle_frames():
    titanic = load_titanic("quick")
    model = clone(ex3_titanic.build_pipeline()).fit(titanic.train, titanic.train["Survived"])
    predictions = model.predict(titanic.test)
    assert set(np.unique(predictions)) <= {0, 1} and len(predictions) == len(titanic.test)
    assert accuracy_score(titanic.test_labels, predictions) > 0.7


# ---------------------------------------------------------------------------- exercise 4

PLAIN = b"From: a@b.com\nSubject: hi\n\nVisit http://example.com/x?y=1 now, it costs 12.50 dollars!\n"
HTML = (b"From: a@b.com\nContent-Type: text/html\n\n<html><head><title>T</title></head>"
        b"<body><a href='http://x.org'>click</a> &amp; WIN</body></html>")
MULTIPART = (b"From: a@b.com\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n"
             b"--XX\nContent-Type: text/html\n\n<b>bold</b>\n--XX\nContent-Type: text/plain\n\nplain part\n--XX--\n")
LATIN1 = "Subject: caf\xe9\nContent-Type: text/plain; charset=iso-8859-1\n\nun caf\xe9 cr\xe8me\n".encode("latin-1")
BOGUS_CHARSET = b"Content-Type: text/plain; charset=x-unknown-42\n\nstill readable\n"
NO_TEXT = b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"


@pytest.mark.parametrize("raw, expected", [
    (PLAIN, "Visit http://example.com"), (HTML, "HYPERLINK"), (MULTIPART, "plain part"),
    (LATIN1, "un café crème"), (BOGUS_CHARSET, "still readable"), (NO_TEXT, ""),
])
def test_email_to_text_handles_the_corpus_oddities(raw, expected):
    message = ex4_spam.parse_email(raw)
    assert isinstance(message, email.message.EmailMessage)
    text = ex4_spam.email_to_text(message)
    assert expected in text
    if raw is HTML:
        assert "<" not in text and "& WIN" in text and "T" not in text.split()


def test_parse_email_rejects_text():
    with pytest.raises(TypeError, match="'raw' must be bytes"):
        ex4_spam.parse_email("not bytes")


def test_word_counter_switches():
    counts = ex4_spam.EmailToWordCounter().transform([PLAIN])[0]
    assert counts["url"] == 1 and counts["number"] == 1 and "visit" in counts and "!" not in counts
    raw = ex4_spam.EmailToWordCounter(lower_case=False, replace_urls=False, replace_numbers=False,
                                      remove_punctuation=False, stemming=False).transform([PLAIN])[0]
    assert "Visit" in raw and "12.50" in raw and "dollars!" in raw
    with_headers = ex4_spam.EmailToWordCounter(strip_headers=False).transform([PLAIN])[0]
    assert "subject" in with_headers


def test_word_counter_to_vector_shapes():
    counters = ex4_spam.EmailToWordCounter().transform([PLAIN, HTML, MULTIPART])
    vectorizer = ex4_spam.WordCounterToVector(vocabulary_size=5).fit(counters)
    matrix = vectorizer.transform(counters)
    assert issparse(matrix) and matrix.shape == (3, 6) and len(vectorizer.vocabulary_) == 5
    assert matrix.sum() == sum(sum(c.values()) for c in counters)  # column 0 keeps the rest


def test_spam_pipeline_on_sample():
    corpus = load_spam("quick")
    X = corpus.easy_ham + corpus.spam
    y = np.array([0] * len(corpus.easy_ham) + [1] * len(corpus.spam))
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:350], order[350:]
    model = clone(ex4_spam.build_pipeline()).fit([X[i] for i in train], y[train])
    assert accuracy_score(y[test], model.predict([X[i] for i in test])) > 0.9
