"""Training a binary classifier: the 5-detector (chapter 3, "Training a Binary Classifier").

You learn: how to turn a 10-class problem into a yes/no one and train
``SGDClassifier`` on it, with a fixed ``random_state`` so results repeat.
"""


def make_binary_target(y, digit=5):
    """Binary labels for a one-digit detector.

    Parameters
    ----------
    y : 1-D array of digit labels (ints 0-9)
    digit : int in [0, 9], default 5

    Returns
    -------
    ndarray of bool, shape (n,)
        True where ``y == digit``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or ``digit`` is outside 0-9; TypeError if ``digit`` is not an int.

    Examples
    --------
    >>> make_binary_target(np.array([5, 0, 4, 5]))
    array([ True, False, False,  True])

    Pitfall: OpenML gives labels as strings ('5'); compare integers (our loaders give ints).
    """
    raise NotImplementedError("make_binary_target: compare y with digit")


def train_sgd(X, y, random_state=42):
    """Fit a stochastic gradient descent classifier.

    Returns
    -------
    sklearn.linear_model.SGDClassifier
        ``SGDClassifier(random_state=random_state)`` fitted on (X, y).

    Pitfall: leaving ``random_state`` out makes every run (and the grader's check) differ.
    """
    raise NotImplementedError("train_sgd: SGDClassifier(random_state=...).fit(X, y)")
