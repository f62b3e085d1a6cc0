"""Reference solution: multiclass classification (see ``assignments/multiclass.py``)."""

from sklearn.linear_model import SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def train_svc(X, y):
    """``SVC(random_state=42)`` fitted on (X, y): one-versus-one under the hood."""
    return SVC(random_state=42).fit(X, y)


def train_ovr_svc(X, y):
    """``OneVsRestClassifier(SVC(random_state=42))`` fitted on (X, y)."""
    return OneVsRestClassifier(SVC(random_state=42)).fit(X, y)


def scaled_sgd(random_state=42):
    """Unfitted ``Pipeline(StandardScaler(), SGDClassifier(random_state))``."""
    return make_pipeline(StandardScaler(), SGDClassifier(random_state=random_state))
