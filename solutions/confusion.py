"""Reference solution: confusion matrix, precision, recall and F1 from scratch (numpy only)."""

import numpy as np


def binary_confusion_matrix(y_true, y_pred):
    """``[[TN, FP], [FN, TP]]`` as a 2x2 int64 array, rows = actual, columns = predicted."""
    y_true, y_pred = _as_binary(y_true, "y_true"), _as_binary(y_pred, "y_pred")
    _same_length(y_true=y_true, y_pred=y_pred)
    counts = np.bincount(2 * y_true.astype(int) + y_pred.astype(int), minlength=4)
    return counts.reshape(2, 2).astype(np.int64)


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator else 0.0  # zero_division=0


def precision(y_true, y_pred):
    """TP / (TP + FP); 0.0 when nothing is predicted positive."""
    (_, fp), (_, tp) = binary_confusion_matrix(y_true, y_pred)
    return _ratio(tp, tp + fp)


def recall(y_true, y_pred):
    """TP / (TP + FN); 0.0 when there are no positives."""
    (_, _), (fn, tp) = binary_confusion_matrix(y_true, y_pred)
    return _ratio(tp, tp + fn)


def f1(y_true, y_pred):
    """Harmonic mean of precision and recall, 2TP / (2TP + FP + FN); 0.0 when undefined."""
    (_, fp), (fn, tp) = binary_confusion_matrix(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def _as_binary(values, name: str) -> np.ndarray:
    """A 1-D array of labels in {0, 1} (or booleans), returned as bool."""
    array = _as_1d(values, name)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        found = np.unique(array)[:5]
        raise ValueError(f"'{name}' must hold binary labels (0/1 or False/True); found {found}.")
    return array.astype(bool)


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same length: {shown}.")
