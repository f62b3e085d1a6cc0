"""Reference solution: error analysis on the confusion matrix."""

import numbers

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay


NORMALIZE = ("true", "pred")


def normalize_confusion(cm, normalize="true"):
    """Rows ("true") or columns ("pred") scaled to sum to 1; an all-zero row/column stays 0."""
    cm = _as_square_matrix(cm).astype(float)
    axis = 1 if _check_choice(normalize, "normalize", NORMALIZE) == "true" else 0
    totals = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def errors_only(cm, normalize="true"):
    """The confusion matrix with its diagonal zeroed, then normalized."""
    cm = _as_square_matrix(cm).copy()
    np.fill_diagonal(cm, 0)
    return normalize_confusion(cm, normalize)


def top_confusions(cm, k=5):
    """The ``k`` largest off-diagonal rates ``cm[t, p] / cm[t].sum()`` as (true, predicted, rate)."""
    rates = normalize_confusion(cm, "true")
    k = _check_int(k, "k", low=1)
    np.fill_diagonal(rates, 0)
    pairs = [(int(t), int(p), float(rates[t, p])) for t, p in zip(*np.nonzero(rates))]
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))[:k]


def plot_confusion(y_true, y_pred, normalize=None, errors_only=False, ax=None):
    """ConfusionMatrixDisplay of the predictions; returns its AxesImage."""
    y_true, y_pred = _as_1d(y_true, "y_true"), _as_1d(y_pred, "y_pred")
    _same_length(y_true=y_true, y_pred=y_pred)
    if normalize is not None:
        _check_choice(normalize, "normalize", NORMALIZE + ("all",))
    weight = (y_true != y_pred) if errors_only else None
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, normalize=normalize, sample_weight=weight, ax=ax,
        values_format=".0%" if normalize else None, colorbar=False,
    )
    return display.im_


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


def _as_square_matrix(cm, name: str = "cm") -> np.ndarray:
    array = np.asarray(cm)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.size == 0:
        raise ValueError(f"'{name}' must be a non-empty square matrix; got shape {array.shape}.")
    if array.dtype.kind not in "iuf" or (array < 0).any():
        raise ValueError(f"'{name}' must hold non-negative counts; got dtype {array.dtype}.")
    return array


def _check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)


def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {tuple(choices)}; got {value!r}.")
    return value
