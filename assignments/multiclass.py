"""Multiclass classification (chapter 3, "Multiclass Classification").

You learn that scikit-learn picks one-versus-one or one-versus-rest for you,
how to force OvR, and that scaling the inputs helps SGD.
SVCs are slow on big data: train them on a few thousand images, as the book does.
"""


def train_svc(X, y):
    """``SVC(random_state=42)`` fitted on (X, y) (it trains one-versus-one internally)."""
    raise NotImplementedError("train_svc")


def train_ovr_svc(X, y):
    """``OneVsRestClassifier(SVC(random_state=42))`` fitted on (X, y): one binary SVC per class."""
    raise NotImplementedError("train_ovr_svc")


def scaled_sgd(random_state=42):
    """An UNFITTED pipeline: ``StandardScaler`` then ``SGDClassifier(random_state=random_state)``.

    Pitfall: fitting the scaler on the whole data before cross-validation leaks
    the validation folds; a pipeline refits it per fold.
    """
    raise NotImplementedError("scaled_sgd: make_pipeline(...)")
