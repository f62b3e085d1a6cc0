"""Reference solution: confusion matrix, precision, recall and F1 from scratch (numpy only)."""

import numpy as np

from solutions._validation import as_binary, same_length


def binary_confusion_matrix(y_true, y_pred):
    """``[[TN, FP], [FN, TP]]`` as a 2x2 int64 array, rows = actual, columns = predicted."""
    y_true, y_pred = as_binary(y_true, "y_true"), as_binary(y_pred, "y_pred")
    same_length(y_true=y_true, y_pred=y_pred)
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
