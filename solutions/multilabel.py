"""Reference solution: multilabel classification."""

import numpy as np
from sklearn.multioutput import ClassifierChain
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC


def large_odd_targets(y):
    """(n, 2) bool targets: ``[y >= 7, y is odd]``."""
    y = _as_1d(y, "y").astype(int)
    return np.c_[y >= 7, y % 2 == 1]


def build_multilabel_model():
    """An unfitted KNeighborsClassifier (it supports multilabel targets natively)."""
    return KNeighborsClassifier()


def average_f1(Y_true, Y_pred, average="macro"):
    """F1 per label, averaged equally ("macro") or by support ("weighted"); numpy only."""
    Y_true, Y_pred = np.asarray(Y_true), np.asarray(Y_pred)
    if Y_true.ndim != 2 or Y_true.shape != Y_pred.shape or Y_true.size == 0:
        raise ValueError(f"'Y_true' and 'Y_pred' must be non-empty 2-D arrays of the same shape; "
                         f"got {Y_true.shape} and {Y_pred.shape}.")
    for name, Y in (("Y_true", Y_true), ("Y_pred", Y_pred)):
        if not np.isin(Y, (0, 1)).all():
            raise ValueError(f"'{name}' must hold binary indicators (0/1 or bool).")
    _check_choice(average, "average", ("macro", "weighted"))
    T, P = Y_true.astype(bool), Y_pred.astype(bool)
    tp = (T & P).sum(axis=0)
    denominator = 2 * tp + (~T & P).sum(axis=0) + (T & ~P).sum(axis=0)
    per_label = np.divide(2 * tp, denominator, out=np.zeros(T.shape[1]), where=denominator > 0)
    if average == "macro":
        return float(per_label.mean())
    support = T.sum(axis=0)
    return float(per_label @ support / support.sum()) if support.sum() else 0.0


def build_chain(random_state=42):
    """Unfitted ``ClassifierChain(SVC(), cv=3, random_state=random_state)``."""
    return ClassifierChain(SVC(), cv=3, random_state=random_state)


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {tuple(choices)}; got {value!r}.")
    return value
