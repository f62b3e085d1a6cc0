"""Reference solution: the 5-detector (see ``assignments/binary_classifier.py``)."""

import numbers

import numpy as np
from sklearn.linear_model import SGDClassifier


def make_binary_target(y, digit=5):
    """True where the label is ``digit``."""
    y = _as_1d(y, "y")
    digit = _check_int(digit, "digit", low=0, high=9)
    return y.astype(int) == digit


def train_sgd(X, y, random_state=42):
    """An ``SGDClassifier(random_state=random_state)`` fitted on (X, y)."""
    return SGDClassifier(random_state=random_state).fit(X, y)


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def _check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)
