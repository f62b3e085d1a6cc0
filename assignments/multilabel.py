"""Multilabel classification (chapter 3, "Multilabel Classification").

You learn that one sample can carry several binary labels, which models handle
that natively, how to average F1 over labels, and chain classifiers.
"""


def large_odd_targets(y):
    """Two labels per digit: is it large (>= 7), is it odd.

    Returns
    -------
    ndarray of bool, shape (n, 2)

    Examples
    --------
    >>> large_odd_targets(np.array([5, 8]))
    array([[False,  True],
           [ True, False]])
    """
    raise NotImplementedError("large_odd_targets: np.c_[...]")


def build_multilabel_model():
    """An unfitted classifier that supports multilabel targets (the book uses KNeighborsClassifier())."""
    raise NotImplementedError("build_multilabel_model")


def average_f1(Y_true, Y_pred, average="macro"):
    """F1 averaged over labels, from scratch (numpy only).

    Parameters
    ----------
    Y_true, Y_pred : (n, n_labels) binary indicator arrays, n_labels >= 2
    average : {"macro", "weighted"}
        "macro": plain mean of the per-label F1; "weighted": weighted by each
        label's support (number of true instances).

    Returns
    -------
    float, equal to ``f1_score(Y_true, Y_pred, average=average, zero_division=0)``.
    """
    raise NotImplementedError("average_f1")


def build_chain(random_state=42):
    """An unfitted ``ClassifierChain(SVC(), cv=3, random_state=random_state)``."""
    raise NotImplementedError("build_chain")
