"""The confusion matrix, precision, recall and F1, from scratch (chapter 3).

You learn what the four cells of a binary confusion matrix are and how the
metrics derive from them. Use numpy only: no ``sklearn.metrics`` here (the
grader compares you with scikit-learn on hidden random inputs, to 1e-9).
Labels are binary: 0/1 or False/True.
"""


def binary_confusion_matrix(y_true, y_pred):
    """The 2x2 confusion matrix.

    Returns
    -------
    ndarray of int, shape (2, 2)
        ``[[TN, FP], [FN, TP]]``: rows are actual classes, columns predicted ones,
        as ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])``.

    Raises
    ------
    ValueError
        If an input is empty, not 1-D, not binary, or the lengths differ (name the argument).

    Examples
    --------
    >>> binary_confusion_matrix([0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0])
    array([[1, 1],
           [2, 2]])

    (TN = 1, FP = 1, FN = 2, TP = 2.) Pitfall: a class absent from both arrays must
    still get its row and column; and ``[[TN, FN], [FP, TP]]`` (the transpose) is wrong.
    """
    raise NotImplementedError("binary_confusion_matrix: count the four (actual, predicted) pairs")


def precision(y_true, y_pred):
    """TP / (TP + FP) as a float; 0.0 when nothing is predicted positive (``zero_division=0``).

    Examples
    --------
    >>> precision([0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0])
    0.6666666666666666
    """
    raise NotImplementedError("precision: TP / (TP + FP)")


def recall(y_true, y_pred):
    """TP / (TP + FN) as a float; 0.0 when there are no actual positives.

    Examples
    --------
    >>> recall([0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0])
    0.5
    """
    raise NotImplementedError("recall: TP / (TP + FN)")


def f1(y_true, y_pred):
    """The harmonic mean of precision and recall; 0.0 when both are 0.

    Examples
    --------
    >>> f1([0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0])  # 2TP / (2TP + FP + FN) = 4 / 7
    0.5714285714285714

    Pitfall: ``2 * p * r / (p + r)`` divides by zero when p = r = 0; ``2TP / (2TP + FP + FN)`` is the same value and safe.
    """
    raise NotImplementedError("f1: harmonic mean of precision and recall")
