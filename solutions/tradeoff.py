"""Reference solution: the precision/recall trade-off (see ``assignments/tradeoff.py``)."""

import numpy as np
from sklearn.metrics import precision_recall_curve

from solutions._validation import as_binary, as_scores, same_length


def threshold_for_precision(y_true, scores, target=0.90):
    """Lowest threshold whose precision reaches ``target``."""
    y_true, scores = as_binary(y_true, "y_true"), as_scores(scores, "scores")
    same_length(y_true=y_true, scores=scores)
    if not 0 < target <= 1:
        raise ValueError(f"'target' must be in (0, 1]; got {target}.")
    precisions, _, thresholds = precision_recall_curve(y_true, scores)
    reached = precisions[:-1] >= target  # the last point (precision 1, recall 0) has no threshold
    if not reached.any():
        raise ValueError(f"No threshold reaches precision {target}; the best is {precisions[:-1].max():.4f}.")
    return float(thresholds[reached.argmax()])


def predict_at_threshold(scores, threshold):
    """Positive where ``scores >= threshold`` (bool array)."""
    return as_scores(scores, "scores") >= threshold


def plot_precision_recall_vs_threshold(precisions, recalls, thresholds, threshold=None, ax=None):
    """Precision (dashed) and recall (solid) against the threshold; returns the two Line2D."""
    import matplotlib.pyplot as plt

    thresholds = np.asarray(thresholds)
    if len(precisions) != len(thresholds) + 1 or len(recalls) != len(thresholds) + 1:
        raise ValueError("'precisions' and 'recalls' must have one more value than 'thresholds', "
                         "as precision_recall_curve returns them.")
    ax = ax if ax is not None else plt.gca()
    lines = ax.plot(thresholds, precisions[:-1], "b--", label="Precision") + \
        ax.plot(thresholds, recalls[:-1], "g-", label="Recall")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="dotted", label="threshold")
    ax.set_xlabel("Threshold")
    ax.grid(True)
    ax.legend(loc="center right")
    return lines
