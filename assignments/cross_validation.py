"""Measuring accuracy with cross-validation (chapter 3, "Performance Measures").

You learn: what ``cross_val_score`` does under the hood, and why accuracy is a
poor measure on skewed classes (a classifier that never says "5" is 90% right).
"""

from sklearn.base import BaseEstimator, ClassifierMixin


def manual_cross_val_score(estimator, X, y, n_splits=3):
    """Cross-validated accuracy, by hand.

    Use ``StratifiedKFold(n_splits=n_splits)`` (no shuffling: MNIST's training
    set is already shuffled), and for each fold fit a fresh ``clone(estimator)``
    on the training part and measure accuracy on the held-out part.

    Returns
    -------
    ndarray of shape (n_splits,)
        The per-fold accuracies; equal to ``cross_val_score(estimator, X, y, cv=n_splits)``.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length or ``n_splits < 2``.

    Pitfall: fitting ``estimator`` itself instead of a clone, so folds share state.
    """
    raise NotImplementedError("manual_cross_val_score: StratifiedKFold + clone + accuracy per fold")


class NeverClassifier(ClassifierMixin, BaseEstimator):
    """A classifier that always predicts the negative class (``False``).

    Follow scikit-learn's estimator contract: ``__init__`` takes no data,
    ``fit(X, y)`` records ``n_features_in_`` and returns ``self``, ``predict(X)``
    returns a bool array of ``len(X)`` Falses (and refuses to run before ``fit``).

    Examples
    --------
    >>> NeverClassifier().fit(X, y).predict(X[:3])
    array([False, False, False])
    """

    def fit(self, X, y=None):
        raise NotImplementedError("NeverClassifier.fit: remember n_features_in_, return self")

    def predict(self, X):
        raise NotImplementedError("NeverClassifier.predict: an array of False, one per row")
