"""What graders record for the feedback page (plain JSON for ``credit.measure``): no hidden inputs here.

Each helper turns what a grader already has (predictions, scores, emails) into a small
figure the report draws; the reporter never recomputes a student's work.
"""

from __future__ import annotations

import numpy as np


def confusion_counts(y_true, y_pred, labels) -> list[list[int]]:
    """The student's confusion matrix (counts), for the report's error-analysis plot."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()


def misclassified_digits(X_test, y_test, predicted, k: int = 12) -> dict:
    """The first ``k`` test digits the model got wrong: images (hex bytes, 28x28), true and predicted labels."""
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(y_test))[:k]
    return {"index": wrong.tolist(), "true": np.asarray(y_test)[wrong].tolist(),
            "predicted": np.asarray(predicted)[wrong].tolist(),
            "images_hex": [np.asarray(X_test[i], dtype=np.uint8).tobytes().hex() for i in wrong]}


def score_curves(y_true, scores, points: int = 120) -> dict:
    """ROC and precision/recall-vs-threshold curves of binary scores, thinned to about ``points`` points."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    def thin(*arrays):
        keep = np.unique(np.linspace(0, len(arrays[0]) - 1, min(points, len(arrays[0]))).round().astype(int))
        return [np.round(np.asarray(a, dtype=float)[keep], 5).tolist() for a in arrays]

    fpr, tpr, _ = roc_curve(y_true, scores)
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    roc_fpr, roc_tpr = thin(fpr, tpr)
    pr_precision, pr_recall, pr_thresholds = thin(precision[:-1], recall[:-1], thresholds)
    return {"fpr": roc_fpr, "tpr": roc_tpr, "precision": pr_precision, "recall": pr_recall,
            "thresholds": pr_thresholds}


def subject_line(raw: bytes, limit: int = 120) -> str:
    """An email's Subject header only (never its body), decoded and cut to ``limit`` characters."""
    import email
    import email.policy

    try:
        subject = email.message_from_bytes(raw, policy=email.policy.default).get("Subject", "")
    except Exception:  # a malformed header: the raw line is enough for a report
        subject = ""
    return " ".join(str(subject or "(no subject)").split())[:limit]


def misclassified_emails(corpus, wrong, spam: bool, limit: int = 25) -> dict:
    """Subject lines (only) of the emails a filter got wrong: spam missed (``spam``) or ham flagged.

    ``wrong`` indexes ``corpus.easy_ham + corpus.spam`` (the order the spam grader splits).
    """
    n_ham = len(corpus.easy_ham)
    emails = corpus.easy_ham + corpus.spam
    chosen = sorted({int(i) for i in wrong if (i >= n_ham) == spam})
    return {"kind": "spam missed" if spam else "ham flagged as spam", "count": len(chosen),
            "subjects": [subject_line(emails[i]) for i in chosen[:limit]]}


def thinned(points: int = 300, **arrays) -> dict:
    """Each of ``arrays`` (one length) as a list of at most ``points`` evenly spaced entries, rounded."""
    arrays = {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    n = len(next(iter(arrays.values())))
    keep = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int)) if n else np.array([], int)
    return {k: [None if not np.isfinite(x) else round(float(x), 5) for x in v[keep]] for k, v in arrays.items()}


def roc_case(case: int, got: dict, fpr, tpr) -> dict:
    """A failed ``roc_points`` case: the student's ROC points beside scikit-learn's on the same inputs."""
    return {"case": case, "student": thinned(fpr=got["fpr"], tpr=got["tpr"]) if len(got["fpr"]) == len(got["tpr"])
            else None, "reference": thinned(fpr=fpr, tpr=tpr)}


def threshold_case(case: int, target: float, precisions, recalls, thresholds, expected: float, got) -> dict:
    """A failed ``threshold_for_precision`` case: the precision/recall curves, the target, both thresholds."""
    return {"case": case, "target": target, "expected": expected,
            "student": None if got is None else float(got),
            **thinned(precision=precisions[:-1], recall=recalls[:-1], thresholds=thresholds)}
