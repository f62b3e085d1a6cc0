"""Reference solution: the 5-detector (see ``assignments/binary_classifier.py``)."""

from sklearn.linear_model import SGDClassifier

from solutions._validation import as_1d, check_int


def make_binary_target(y, digit=5):
    """True where the label is ``digit``."""
    y = as_1d(y, "y")
    digit = check_int(digit, "digit", low=0, high=9)
    return y.astype(int) == digit


def train_sgd(X, y, random_state=42):
    """An ``SGDClassifier(random_state=random_state)`` fitted on (X, y)."""
    return SGDClassifier(random_state=random_state).fit(X, y)
