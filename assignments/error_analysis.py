"""Error analysis (chapter 3, "Error Analysis").

You learn to read a confusion matrix: normalise it, hide the correct
predictions to see the errors, and list the worst confusions.
"""


def normalize_confusion(cm, normalize="true"):
    """Normalise a confusion matrix.

    Parameters
    ----------
    cm : square array of non-negative counts (rows: actual, columns: predicted)
    normalize : {"true", "pred"}
        "true": each row sums to 1; "pred": each column sums to 1.

    Returns
    -------
    ndarray of float, same shape. A row (or column) of zeros stays zeros (no NaN).

    Raises
    ------
    ValueError
        If ``cm`` is not a non-empty square matrix of counts, or ``normalize`` is unknown.
    """
    raise NotImplementedError("normalize_confusion")


def errors_only(cm, normalize="true"):
    """The confusion matrix with the diagonal set to 0, then normalised.

    Do not modify ``cm`` in place.
    """
    raise NotImplementedError("errors_only")


def top_confusions(cm, k=5):
    """The k most frequent confusions.

    Returns
    -------
    list of (true_class, predicted_class, rate) tuples, rate = ``cm[t, p] / cm[t].sum()``,
    off-diagonal and non-zero only, sorted by rate descending (ties: by true, then predicted class).
    """
    raise NotImplementedError("top_confusions")


def plot_confusion(y_true, y_pred, normalize=None, errors_only=False, ax=None):
    """Plot the confusion matrix with ``ConfusionMatrixDisplay.from_predictions``.

    ``errors_only=True`` gives correct predictions zero weight
    (``sample_weight=(y_pred != y_true)``), as in the book's figure 3-10.

    Returns
    -------
    matplotlib AxesImage (the display's ``im_``).
    """
    raise NotImplementedError("plot_confusion")
