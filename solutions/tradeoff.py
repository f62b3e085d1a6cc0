"""Reference solution: the precision/recall trade-off (see ``assignments/tradeoff.py``)."""

import numpy as np
from sklearn.metrics import precision_recall_curve


def threshold_for_precision(y_true, scores, target=0.90):
    """Lowest threshold whose precision reaches ``target``."""
    y_true, scores = _as_binary(y_true, "y_true"), _as_scores(scores, "scores")
    _same_length(y_true=y_true, scores=scores)
    if not 0 < target <= 1:
        raise ValueError(f"'target' must be in (0, 1]; got {target}.")
    precisions, _, thresholds = precision_recall_curve(y_true, scores)
    reached = precisions[:-1] >= target  # the last point (precision 1, recall 0) has no threshold
    if not reached.any():
        raise ValueError(f"No threshold reaches precision {target}; the best is {precisions[:-1].max():.4f}.")
    return float(thresholds[reached.argmax()])


def predict_at_threshold(scores, threshold):
    """Positive where ``scores >= threshold`` (bool array)."""
    return _as_scores(scores, "scores") >= threshold


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
