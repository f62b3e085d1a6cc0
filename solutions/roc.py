"""Reference solution: ROC curve and AUC from scratch, plus the forest's scores."""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_predict

from solutions._validation import as_1d, as_binary, as_scores, same_length


def roc_points(y_true, scores):
    """(fpr, tpr, thresholds) at every distinct score, highest first, starting at +inf.

    The same points as ``roc_curve(y_true, scores, drop_intermediate=False)``.
    """
    y_true, scores = as_binary(y_true, "y_true"), as_scores(scores, "scores")
    same_length(y_true=y_true, scores=scores)
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
    x, y = as_scores(fpr, "fpr"), as_scores(tpr, "tpr")
    same_length(fpr=x, tpr=y)
    if len(x) < 2:
        raise ValueError(f"'fpr' needs at least 2 points to compute an area; got {len(x)}.")
    dx = np.diff(x)
    if (dx < 0).any() and (dx > 0).any():
        raise ValueError("'fpr' must be monotonic (increasing or decreasing).")
    direction = -1.0 if (dx < 0).any() else 1.0
    return float(direction * np.sum(dx * (y[1:] + y[:-1]) / 2))


def forest_positive_scores(X, y, cv=3, random_state=42):
    """Out-of-fold probability of the positive class from a RandomForestClassifier."""
    y = as_1d(y, "y")
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
