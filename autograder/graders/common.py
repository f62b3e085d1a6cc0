"""Helpers shared by grader tests.  No hidden inputs here: this file is visible to the worker.

Hidden seeds and slices live in ``graders/hidden/``, which the worker cannot see.
"""

from __future__ import annotations

import numpy as np

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
