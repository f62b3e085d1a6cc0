"""The book's own forms of a contract name are graded on what they do: a plotting function that draws
on the current axes and returns None, the 2nd edition's signature without ``threshold``, a column of
predictions. Where the book's form is not the contract's (a ``fit`` that returns None), the check says
exactly what differs."""

from __future__ import annotations

from autograder.grading import grade_path
from submissions import write_submission

BOOK_PLOTS = {
    "roc.py": '''
import matplotlib.pyplot as plt

def plot_roc_curve(fpr, tpr, label=None):
    plt.plot(fpr, tpr, linewidth=2, label=label)
    plt.plot([0, 1], [0, 1], 'k--')
    plt.axis([0, 1, 0, 1])
    plt.xlabel('False Positive Rate (Fall-Out)', fontsize=16)
    plt.grid(True)

plot_roc = plot_roc_curve  # the book's name for it
''',
    "tradeoff.py": '''
import matplotlib.pyplot as plt

def plot_precision_recall_vs_threshold(precisions, recalls, thresholds):
    plt.plot(thresholds, precisions[:-1], "b--", label="Precision", linewidth=2)
    plt.plot(thresholds, recalls[:-1], "g-", label="Recall", linewidth=2)
    plt.legend(loc="center right", fontsize=16)
    plt.grid(True)
''',
    "mnist.py": '''
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

def plot_digit(data):
    image = data.reshape(28, 28)
    plt.imshow(image, cmap=mpl.cm.binary, interpolation="nearest")
    plt.axis("off")

def plot_digits(instances, images_per_row=10, **options):
    size = 28
    images_per_row = min(len(instances), images_per_row)
    n_rows = (len(instances) - 1) // images_per_row + 1
    n_empty = n_rows * images_per_row - len(instances)
    padded_instances = np.concatenate([instances, np.zeros((n_empty, size * size))], axis=0)
    image_grid = padded_instances.reshape((n_rows, images_per_row, size, size))
    big_image = image_grid.transpose(0, 2, 1, 3).reshape(n_rows * size, images_per_row * size)
    plt.imshow(big_image, cmap=mpl.cm.binary, **options)
    plt.axis("off")
''',
    "cross_validation.py": '''
import numpy as np
from sklearn.base import BaseEstimator

class Never5Classifier(BaseEstimator):
    def fit(self, X, y=None):
        pass
    def predict(self, X):
        return np.zeros((len(X), 1), dtype=bool)

NeverClassifier = Never5Classifier
''',
}


def test_the_books_plotting_functions_and_never5_are_graded_on_what_they_do(tmp_path):
    folder = write_submission(tmp_path / "submission", files=BOOK_PLOTS)
    result = grade_path(folder, questions=["roc.plot", "tradeoff.plot", "mnist.plot", "cross_validation.never"])
    by_id = {q.id: q for q in result.questions}
    for qid in ("roc.plot", "tradeoff.plot", "mnist.plot"):
        assert by_id[qid].points == by_id[qid].max_points, (qid, by_id[qid].feedback)
    never = {c["name"]: c for c in by_id["cross_validation.never"].measurements["checks"]}
    assert never["predict returns len(X) Falses"]["passed"]            # the book's column of Falses
    assert not never["fit returns self"]["passed"]                      # the book's fit ends in `pass`
    assert "a `fit` ending in `pass` returns None" in never["fit returns self"]["detail"]
