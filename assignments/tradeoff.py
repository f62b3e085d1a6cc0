"""The precision/recall trade-off (chapter 3, "The Precision/Recall Trade-off").

You learn that a classifier's decision scores plus a threshold make the
predictions, and how to pick the threshold for a precision target.
Get scores with ``cross_val_predict(sgd, X, y, cv=3, method="decision_function")``.
"""


def threshold_for_precision(y_true, scores, target=0.90):
    """The lowest threshold whose precision reaches ``target``.

    Use ``precision_recall_curve`` and take the first threshold where precision
    is at least ``target`` (``(precisions >= target).argmax()`` in the book).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If no threshold reaches ``target``, ``target`` is outside (0, 1], or the inputs are invalid.

    Pitfall: ``precisions`` has one more entry than ``thresholds``; its last entry
    (precision 1 at recall 0) has no threshold.
    """
    raise NotImplementedError("threshold_for_precision: precision_recall_curve, then argmax")


def predict_at_threshold(scores, threshold):
    """Predictions at a threshold: ``scores >= threshold`` as a bool array."""
    raise NotImplementedError("predict_at_threshold: compare scores with the threshold")


def plot_precision_recall_vs_threshold(precisions, recalls, thresholds, threshold=None, ax=None):
    """Plot precision and recall against the threshold (the book's figure 3-5).

    Parameters
    ----------
    precisions, recalls, thresholds : arrays as returned by ``precision_recall_curve``
    threshold : float, optional
        Draw a vertical line there.
    ax : matplotlib Axes, optional

    Returns
    -------
    list of two matplotlib Line2D
        ``[precision_line, recall_line]``, labelled "Precision" and "Recall",
        each with ``len(thresholds)`` points.
    """
    raise NotImplementedError("plot_precision_recall_vs_threshold: two ax.plot calls")
