"""The ROC curve and its area, from scratch (chapter 3, "The ROC Curve").

You learn what the ROC curve plots (true positive rate against false positive
rate as the threshold falls) and how the AUC summarises it. ``roc_points`` and
``auc`` use numpy only; the grader compares them with scikit-learn.
"""


def roc_points(y_true, scores):
    """The ROC curve at every distinct score.

    Returns
    -------
    fpr, tpr, thresholds : ndarrays
        The same points as ``roc_curve(y_true, scores, drop_intermediate=False)``:
        the first threshold is ``np.inf`` with (fpr, tpr) = (0, 0), then every
        distinct score from highest to lowest.

    Raises
    ------
    ValueError
        If ``y_true`` holds a single class (the curve is undefined) or inputs are invalid.

    Pitfall: tied scores form ONE point, not one per sample.
    """
    raise NotImplementedError("roc_points: sort by score, cumulate TPs and FPs at each distinct score")


def auc(fpr, tpr):
    """Area under the curve by the trapezoidal rule (like ``sklearn.metrics.auc``).

    Raises
    ------
    ValueError
        If fewer than 2 points, different lengths, or ``fpr`` is not monotonic.
    """
    raise NotImplementedError("auc: sum of trapezoids")


def forest_positive_scores(X, y, cv=3, random_state=42):
    """Out-of-fold scores of a random forest for the positive class.

    ``RandomForestClassifier(random_state=random_state)`` has no
    ``decision_function``: use ``cross_val_predict(..., method="predict_proba")``
    and keep the positive class's column.

    Returns
    -------
    ndarray of shape (n,)
    """
    raise NotImplementedError("forest_positive_scores: cross_val_predict(method='predict_proba')[:, 1]")


def plot_roc(fpr, tpr, label=None, ax=None):
    """Plot a ROC curve and the random classifier's diagonal.

    Returns
    -------
    matplotlib Line2D
        The curve (with ``label``), not the diagonal.
    """
    raise NotImplementedError("plot_roc: ax.plot(fpr, tpr) plus the diagonal")
