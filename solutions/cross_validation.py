"""Reference solution: cross-validation by hand (see ``assignments/cross_validation.py``)."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from solutions._validation import as_1d, check_int, same_length


def manual_cross_val_score(estimator, X, y, n_splits=3):
    """Per-fold accuracy with ``StratifiedKFold(n_splits)``; equals ``cross_val_score(..., cv=n_splits)``."""
    y = as_1d(y, "y")
    same_length(X=X, y=y)
    n_splits = check_int(n_splits, "n_splits", low=2)
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
