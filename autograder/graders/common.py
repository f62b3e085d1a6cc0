"""Helpers shared by grader tests.  No hidden inputs here: this file is visible to the worker.

Hidden seeds and slices live in ``graders/hidden/``, which the worker cannot see.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold

from autograder.judge.client import ImportFailed, NotImplementedByStudent, SandboxStopped, StudentCodeError
from autograder.judge.validate import InvalidOutput, as_labels


def attempt(results: list, name: str, check) -> None:
    """Run one sub-check; record (name, passed, reason), turning the student's errors into a failed check.

    A module that does not import, a timeout or a crashed worker is not a sub-check
    failure: it ends the question.
    """
    reason = None
    try:
        ok = bool(check())
    except (ImportFailed, SandboxStopped):
        raise
    except NotImplementedByStudent as exc:
        ok, reason, name = False, "not_implemented", f"{name} ({exc})"
    except (StudentCodeError, InvalidOutput, AssertionError, ValueError, TypeError) as exc:
        name = f"{name} ({str(exc).splitlines()[0][:160]})"
        ok = False
    results.append((name, ok, reason))


def raises_value_error(call, also=()) -> bool:
    """True if calling student code raised a ValueError or TypeError (the docstrings ask for one)."""
    try:
        call()
    except (NotImplementedByStudent, ImportFailed, SandboxStopped):
        raise
    except StudentCodeError as exc:
        return any(f"raised {name}:" in str(exc) for name in ("ValueError", "TypeError", *also))
    return False


def mnist_subset(mnist, n_train: int, n_test: int, seed: int):
    """A shuffled subset of MNIST's training and test sets (other seeds give other images)."""
    rng = np.random.default_rng(seed)
    train = rng.choice(len(mnist.X_train), size=min(n_train, len(mnist.X_train)), replace=False)
    test = rng.choice(len(mnist.X_test), size=min(n_test, len(mnist.X_test)), replace=False)
    return (np.asarray(mnist.X_train[train]), np.asarray(mnist.y_train[train]),
            np.asarray(mnist.X_test[test]), np.asarray(mnist.y_test[test]))


def fit_predict(model, what: str, X_train, y_train, X_test, allowed):
    """Fit a student's unfitted estimator in the worker and return validated predictions."""
    if not hasattr(model, "call"):
        raise InvalidOutput(f"{what} returned plain data ({type(model).__name__}); expected an unfitted estimator")
    model.call("fit", X_train, y_train)
    return as_labels(model.call("predict", X_test), f"{what}.predict()", length=len(X_test), allowed=allowed)


def permuted_label_accuracy(build, X_train, y_train, X_test, y_test, seed: int, allowed) -> float:
    """Accuracy after training on shuffled labels: about chance for a model that learns from its data.

    A "model" that carries the public test labels and looks images up keeps scoring
    high here; that is how hard-coded predictions are caught by behaviour.
    """
    shuffled = np.random.default_rng(seed).permutation(y_train)
    what = f"{build.module}.{build.name}()"  # build is the student's remote builder
    predictions = fit_predict(build(), what, X_train, shuffled, X_test, allowed)
    return float(np.mean(predictions == y_test))


def source_size_problem(directory, question, graded_modules) -> str | None:
    """Why ``question``'s module is over its ``source_kb`` cap, or None when it is within.

    The module's own file counts with the submission's helper files (those not named after a
    graded module), since it can import them: a cap on the file alone is split into helpers.
    Real solutions are a few KB; a module of hundreds of KB carries data (e.g. test labels).
    """
    from pathlib import Path

    directory = Path(directory)
    own = directory / f"{question.module}.py"
    helpers = [p for p in directory.glob("*.py") if p.stem not in graded_modules and p.is_file()]
    files = ([own] if own.is_file() else []) + helpers
    total = sum(p.stat().st_size for p in files)
    if total <= question.source_kb * 1024:
        return None
    largest = sorted(files, key=lambda p: -p.stat().st_size)[:3]
    return (f"{question.module}.py and the helper files it can import add up to {total / 1024:.0f} KB of source, "
            f"over the {question.source_kb} KB limit for this question (largest: "
            + ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KB" for p in largest)
            + "). Solutions are a few KB; large modules usually carry data tables, which are not allowed. "
            "Remove embedded data and grade again.")


def perturb_images(X, seed: int):
    """Every interior pixel (0 < value < 255) moves one intensity level up or down, staying interior.

    Background (0) and saturated ink (255) are untouched, so binarising models see the same
    images; distances move by a fraction of a percent. An exact match against the public test
    images (a hash lookup) no longer hits.
    """
    X = np.asarray(X)
    values = X.astype(np.int16)
    step = np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.int16), size=X.shape)
    interior = (values > 0) & (values < 255)
    return np.where(interior, np.clip(values + step, 1, 254), values).astype(X.dtype)


def passes_shuffled_check(shuffled: float, question, resolved_band) -> bool:
    """True when the figure after training on shuffled labels is under the declared limit and under
    the full-marks line: a model that ignores its labels scores the same either way, so a lookup
    that passes this check can never get full marks."""
    return shuffled <= question.permuted_limit and shuffled < resolved_band.full_at


def titanic_folds(X_train, y_train, cross_validation, seed: int):
    """(train rows, validation rows) of the grader's repeated stratified k-fold on the training set.

    The seed lives in graders/hidden, so the folds are the grader's own.

    Passengers with a missing category (two lack Embarked) always stay in training: the hidden
    test set has none, and a book-style OrdinalEncoder cannot encode a missing value it never saw.
    """
    complete = np.flatnonzero(X_train[["Pclass", "Sex", "Embarked"]].notna().all(axis=1).to_numpy())
    always = np.setdiff1d(np.arange(len(X_train)), complete)
    folds = RepeatedStratifiedKFold(n_splits=cross_validation.folds, n_repeats=cross_validation.repeats,
                                    random_state=seed)
    return [(np.concatenate([always, complete[train]]), complete[valid])
            for train, valid in folds.split(complete, y_train[complete])]


def titanic_figure(predict, X_train, y_train, X_test, y_test, folds, repeats, labels=None):
    """Accuracy over the training passengers (out of fold, averaged over repeats) and the hidden test ones.

    ``predict(X_fit, y_fit, X_new)`` fits a fresh model; ``labels`` (default ``y_train``) are the
    training labels it is given, e.g. shuffled ones; correctness is always against the true labels.
    ``test_predicted`` holds the predictions on ``X_test``.
    """
    labels = y_train if labels is None else labels
    cv_correct = sum(int(np.sum(predict(X_train.iloc[fit], labels[fit], X_train.iloc[valid]) == y_train[valid]))
                     for fit, valid in folds)
    test_predicted = np.asarray(predict(X_train, labels, X_test))
    test_correct = int(np.sum(test_predicted == y_test))
    n_cv = sum(len(valid) for _, valid in folds) // repeats
    return {"cross_validation": cv_correct / repeats / n_cv, "test": test_correct / len(y_test),
            "combined": (cv_correct / repeats + test_correct) / (n_cv + len(y_test)),
            "n_cross_validation": n_cv, "n_test": len(y_test), "n": n_cv + len(y_test),
            "test_predicted": test_predicted}
