"""Reference solution: ROC curve and AUC from scratch, plus the forest's scores."""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_predict


def roc_points(y_true, scores):
    """(fpr, tpr, thresholds) at every distinct score, highest first, starting at +inf.

    The same points as ``roc_curve(y_true, scores, drop_intermediate=False)``.
    """
    y_true, scores = _as_binary(y_true, "y_true"), _as_scores(scores, "scores")
    _same_length(y_true=y_true, scores=scores)
    n_pos = y_true.sum()
    if n_pos in (0, len(y_true)):
        raise ValueError("'y_true' holds a single class; the ROC curve needs positives and negatives.")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_true = scores[order], y_true[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(sorted_scores) - 1]
    tps = np.cumsum(sorted_true)[last_of_each]
    fps = last_of_each + 1 - tps
    fpr = np.r_[0.0, fps / (len(y_true) - n_pos)]
    tpr = np.r_[0.0, tps / n_pos]
    return fpr, tpr, np.r_[np.inf, sorted_scores[last_of_each]]


def auc(fpr, tpr):
    """Area under a curve by the trapezoidal rule; x may be increasing or decreasing."""
    x, y = _as_scores(fpr, "fpr"), _as_scores(tpr, "tpr")
    _same_length(fpr=x, tpr=y)
    if len(x) < 2:
        raise ValueError(f"'fpr' needs at least 2 points to compute an area; got {len(x)}.")
    dx = np.diff(x)
    if (dx < 0).any() and (dx > 0).any():
        raise ValueError("'fpr' must be monotonic (increasing or decreasing).")
    direction = -1.0 if (dx < 0).any() else 1.0
    return float(direction * np.sum(dx * (y[1:] + y[:-1]) / 2))


def forest_positive_scores(X, y, cv=3, random_state=42):
    """Out-of-fold probability of the positive class from a RandomForestClassifier."""
    y = _as_1d(y, "y")
    forest = RandomForestClassifier(random_state=random_state)
    return cross_val_predict(forest, X, y, cv=cv, method="predict_proba")[:, 1]


def plot_roc(fpr, tpr, label=None, ax=None):
    """The ROC curve with the diagonal of a random classifier; returns the curve's Line2D."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    (line,) = ax.plot(fpr, tpr, linewidth=2, label=label)
    ax.plot([0, 1], [0, 1], "k:", label="Random classifier's ROC curve")
    ax.set_xlabel("False Positive Rate (Fall-Out)")
    ax.set_ylabel("True Positive Rate (Recall)")
    ax.grid(True)
    return line


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


def _as_scores(values, name: str) -> np.ndarray:
    array = _as_1d(values, name)
    if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise ValueError(f"'{name}' must be finite numbers; got dtype {array.dtype}.")
    return array.astype(float)


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same length: {shown}.")
