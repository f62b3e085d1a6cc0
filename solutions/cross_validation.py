"""Reference solution: cross-validation by hand (see ``assignments/cross_validation.py``)."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data


def manual_cross_val_score(estimator, X, y, n_splits=3):
    """Per-fold accuracy with ``StratifiedKFold(n_splits)``; equals ``cross_val_score(..., cv=n_splits)``."""
    y = _as_1d(y, "y")
    _same_length(X=X, y=y)
    n_splits = _check_int(n_splits, "n_splits", low=2)
    scores = []
    for train_index, test_index in StratifiedKFold(n_splits=n_splits).split(X, y):
        model = clone(estimator).fit(X[train_index], y[train_index])
        scores.append(np.mean(model.predict(X[test_index]) == y[test_index]))
    return np.array(scores)


class NeverClassifier(ClassifierMixin, BaseEstimator):
    """Always predicts the negative class (``False``): the baseline that shows why accuracy misleads."""

    def fit(self, X, y=None):
        validate_data(self, X, reset=True)
        return self

    def predict(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False)
        return np.zeros(len(X), dtype=bool)


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same length: {shown}.")


def _check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)
