"""Reference solution: error analysis on the confusion matrix."""

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from solutions._validation import as_1d, as_square_matrix, check_choice, check_int, same_length

NORMALIZE = ("true", "pred")


def normalize_confusion(cm, normalize="true"):
    """Rows ("true") or columns ("pred") scaled to sum to 1; an all-zero row/column stays 0."""
    cm = as_square_matrix(cm).astype(float)
    axis = 1 if check_choice(normalize, "normalize", NORMALIZE) == "true" else 0
    totals = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def errors_only(cm, normalize="true"):
    """The confusion matrix with its diagonal zeroed, then normalized."""
    cm = as_square_matrix(cm).copy()
    np.fill_diagonal(cm, 0)
    return normalize_confusion(cm, normalize)


def top_confusions(cm, k=5):
    """The ``k`` largest off-diagonal rates ``cm[t, p] / cm[t].sum()`` as (true, predicted, rate)."""
    rates = normalize_confusion(cm, "true")
    k = check_int(k, "k", low=1)
    np.fill_diagonal(rates, 0)
    pairs = [(int(t), int(p), float(rates[t, p])) for t, p in zip(*np.nonzero(rates))]
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))[:k]


def plot_confusion(y_true, y_pred, normalize=None, errors_only=False, ax=None):
    """ConfusionMatrixDisplay of the predictions; returns its AxesImage."""
    y_true, y_pred = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    same_length(y_true=y_true, y_pred=y_pred)
    if normalize is not None:
        check_choice(normalize, "normalize", NORMALIZE + ("all",))
    weight = (y_true != y_pred) if errors_only else None
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, normalize=normalize, sample_weight=weight, ax=ax,
        values_format=".0%" if normalize else None, colorbar=False,
    )
    return display.im_
