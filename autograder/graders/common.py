"""Helpers shared by grader tests.  No hidden inputs here: this file is visible to the worker.

Hidden seeds and slices live in ``graders/hidden/``, which the worker cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from autograder.judge.client import ImportFailed, NotImplementedByStudent, SandboxStopped, StudentCodeError
from autograder.judge.scoring import Check
from autograder.judge.validate import InvalidOutput, as_labels


def attempt(results: list, name: str, check) -> None:
    """Run one sub-check; record (name, passed, reason), turning the student's errors into a failed check.

    A module that does not import, a timeout or a crashed worker is not a sub-check
    failure: it ends the question. Only the student's outcomes fail a check (their code
    raised, what it returned failed validation, an assertion about it failed): any other
    exception comes from the grader's own code (or the machine) and ends the question as a
    grader error, whatever its type.
    """
    reason = None
    try:
        ok = bool(check())
    except (ImportFailed, SandboxStopped):
        raise
    except NotImplementedByStudent as exc:
        ok, reason, name = False, "not_implemented", f"{name} ({exc})"
    except (StudentCodeError, InvalidOutput, AssertionError) as exc:
        name = f"{name} ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
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


#: Expected values computed from the grader's own data and seeds only, kept for this grader
#: process's later runs: grade-all grades many submissions in one process, and the data of a
#: profile is pinned by checksum, so (profile, key) names one value.
_EXPECTED: dict = {}


def expected_once(profile: str, key: str, compute):
    """``compute()`` the first time this process asks for (``profile``, ``key``), the kept value after.

    Only for values that no student code reaches (scikit-learn on the grader's data); arrays are
    made read-only so that no grader can change what the next submission is compared with."""
    if (profile, key) not in _EXPECTED:
        value = compute()
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        _EXPECTED[profile, key] = value
    return _EXPECTED[profile, key]


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


def titanic_folds(X_train, y_train, cross_validation, seed: int):
    """(train rows, validation rows) of the grader's repeated stratified k-fold on the training set.

    The seed lives in graders/hidden, so the folds are the grader's own.

    Passengers with a missing category (two lack Embarked) always stay in training: the hidden
    test set has none, and a book-style OrdinalEncoder cannot encode a missing value it never saw.
    """
    complete = np.flatnonzero(X_train[["Pclass", "Sex", "Embarked"]].notna().all(axis=1).to_numpy())
    always = np.setdiff1d(np.arange(len(X_train)), complete)
    from sklearn.model_selection import RepeatedStratifiedKFold

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


# ------------------------------------------------------------------ checks that say what failed

#: Array elements a summary shows in full; larger arrays show their shape and first values or range.
SHOWN_VALUES = 16


class Raises:
    """The expected outcome of a call that must raise one of ``names`` (default: ValueError or TypeError)."""

    def __init__(self, *names: str):
        self.names = names or ("ValueError", "TypeError")

    def __str__(self):
        return "it raises " + " or ".join(self.names)


class Property:
    """An expected outcome described in words and checked by ``test(got) -> bool``."""

    def __init__(self, description: str, test):
        self.description, self.test = description, test

    def __str__(self):
        return self.description


def summarize(value, depth: int = 0) -> str:
    """A short, truthful description of a value for feedback: type, shape, a few values."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"np.array({value.item()!r})"
        if value.size <= SHOWN_VALUES:
            return f"{value.dtype} array {value.tolist()}"
        text = f"{value.dtype} array of shape {value.shape}"
        if value.ndim == 1:
            return f"{text}, first values {str(value[:8].tolist())[:-1]}, ...]"
        if value.dtype.kind in "biuf":
            return f"{text}, values {value.min().item()!r} to {value.max().item()!r}"
        return text
    if hasattr(value, "isinstance_of"):  # a Remote handle
        return f"a {value.type.rsplit('.', 1)[-1]} object"
    if isinstance(value, (list, tuple)):
        if depth > 1:
            return f"a {type(value).__name__} of {len(value)}"
        inner = ", ".join(summarize(v, depth + 1) for v in value[:4]) + (", ..." if len(value) > 4 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        if depth > 0 or len(value) > 6:
            return f"a dict with keys {sorted(map(str, value))[:6]}"
        return "{" + ", ".join(f"{k!r}: {summarize(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (bool, int, float, np.generic)) or value is None:
        return repr(value.item() if isinstance(value, np.generic) else value)
    return f"a {type(value).__name__}"


def describe_call(function, args=None, kwargs=None) -> str:
    """``module.function(name=summary, ...)``; ``args`` is a dict of display name -> positional value."""
    label = function if isinstance(function, str) else \
        f"{getattr(function, 'module', '')}.{getattr(function, 'name', getattr(function, '__name__', 'call'))}"
    parts = [f"{n}={summarize(v)}" for n, v in (args or {}).items()]
    parts += [f"{n}={summarize(v)}" for n, v in (kwargs or {}).items()]
    return f"{label.lstrip('.')}({', '.join(parts)})"


def first_difference(got, expected, atol: float = 0.0) -> str | None:
    """None when ``got`` matches ``expected`` (numbers within ``atol``), else where they first differ."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return "a different value"
        for key, e in expected.items():
            where = first_difference(got[key], e, atol)
            if where:
                return f"{key}: got {summarize(got[key])}, expected {summarize(e)}" + \
                    (f" ({where})" if where != "a different value" else "")
        return None
    if isinstance(expected, tuple) and not isinstance(got, (tuple, list)):
        return f"expected a tuple of {len(expected)}"
    if isinstance(expected, tuple):
        if len(got) != len(expected):
            return f"{len(got)} values instead of {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            where = first_difference(g, e, atol)
            if where:
                return f"item {i}: {where}"
        return None
    if isinstance(expected, (np.ndarray, list)):
        if isinstance(expected, list) and isinstance(got, list) and len(got) != len(expected):
            return f"{len(got)} items instead of {len(expected)}"
        expected, got = np.asarray(expected), np.asarray(got)
        if got.shape != expected.shape:
            return f"shape {got.shape} instead of {expected.shape}"
        if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
            unequal = got != expected
        else:
            unequal = ~np.isclose(got.astype(float), expected.astype(float), rtol=0, atol=atol, equal_nan=True)
        if not unequal.any():
            return None
        index = tuple(int(i) for i in np.argwhere(unequal)[0])
        return (f"first difference at {list(index)}: got {summarize(got[index])}, "
                f"expected {summarize(expected[index])} ({int(unequal.sum())} of {unequal.size} differ)")
    if isinstance(expected, float) or (isinstance(expected, int) and not isinstance(expected, bool)):
        if isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - expected) <= atol:
            return None
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            return f"off by {got - expected:+.3g}"
        return "a different value"
    return None if type(got) is type(expected) and got == expected else "a different value"


def _student_line(text: str) -> str:
    """'(confusion.py, line 12)' for the deepest frame of the student's own files in a traceback."""
    frames = [f for f in re.findall(r'File "([^"]+\.py)", line (\d+)', text)
              if "site-packages" not in f[0] and "/autograder/" not in f[0] and "/lib/python" not in f[0]]
    return f" ({Path(frames[-1][0]).name}, line {frames[-1][1]})" if frames else ""


def check(results: list, name: str, call: str, run, expected, *, atol: float = 0.0,
          group: str | None = None) -> Check:
    """Run one sub-check and record a :class:`Check` whose detail says what failed.

    ``call`` describes what was called (see :func:`describe_call`), ``run()`` calls the
    student's code and returns its validated result, ``expected`` is the value it should
    equal (numbers within ``atol``), a :class:`Raises` or a :class:`Property`. The detail
    of a failed check reads: called ...; expected ...; got ...; first difference at ...
    A module that does not import, a timeout or a crashed worker ends the question, and so
    does an exception of the grader's own (neither the student's code nor validation raised
    it): that is a grader error, never a failed check.
    """
    reason, detail = None, ""
    try:
        got = run()
    except (ImportFailed, SandboxStopped):
        raise
    except NotImplementedByStudent:
        passed, reason = False, "not_implemented"
        detail = f"called {call}: not implemented yet (it raises NotImplementedError)"
    except StudentCodeError as exc:
        first = str(exc).splitlines()[0]
        raised = first.split(" raised ", 1)[1] if " raised " in first else None
        passed = isinstance(expected, Raises) and any((raised or "").startswith(f"{n}:") for n in expected.names)
        if not passed:
            reason = "error"
            what = f"it raised {raised[:300]}" if raised else f"but {first[:300]}"
            detail = f"called {call}; expected {_expected_text(expected)}; {what}{_student_line(str(exc))}"
    except (InvalidOutput, AssertionError) as exc:
        # what came back is not what the question asks for (validation said so); any other
        # exception is the grader's own bug and ends the question as a grader error
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        passed, detail = False, f"called {call}; expected {_expected_text(expected)}; but {message}"
    else:
        if isinstance(expected, Raises):
            passed, where = False, None
        elif isinstance(expected, Property):
            passed, where = bool(expected.test(got)), None
        else:
            where = first_difference(got, expected, atol)
            passed = where is None
        if not passed:
            detail = f"called {call}; expected {_expected_text(expected)}; got {summarize(got)}"
            if where and where != "a different value":
                detail += f"; {where}"
    result = Check(name, passed, reason, group, detail)
    results.append(result)
    return result


def _expected_text(expected) -> str:
    return str(expected) if isinstance(expected, (Raises, Property)) else summarize(expected)


def check_call(results: list, name: str, function, args: dict | None = None, kwargs: dict | None = None, *,
               expected, validate=None, atol: float = 0.0, group: str | None = None) -> Check:
    """:func:`check` on one call of a student function; ``validate(value, what)`` checks what came back.

    ``args`` maps display names to positional arguments (students may name parameters
    differently); ``kwargs`` are passed by keyword.
    """
    call = describe_call(function, args, kwargs)
    what = call.split("(", 1)[0] + "()"

    def run():
        value = function(*(args or {}).values(), **(kwargs or {}))
        return validate(value, what) if validate else value

    return check(results, name, call, run, expected, atol=atol, group=group)


def in_worker(submission, module: str, target: str, attr: str, *args, what: str | None = None, keep: bool = True,
              **kwargs):
    """Call the library function ``target.attr`` inside ``module``'s worker and keep the result there.

    The grader's own input for one student function, built where the function runs: a check that
    needs an object no plain value can carry (a parsed email, a ``Counter``) builds it itself
    instead of taking it from another contract function, so a missing or broken neighbour costs
    only its own checks. Arguments may be other kept objects (:class:`~autograder.judge.client.Remote`).
    ``keep=False``: plain data comes back as it is (a list of artists as a list of handles).
    """
    return submission.request(module, {"op": "call", "module": target, "attr": attr, "args": list(args),
                                        "kwargs": kwargs, "keep": keep}, what or f"{target}.{attr}()")


def parsed_email(submission, module: str, raw: bytes):
    """``raw`` parsed in ``module``'s worker as the reference parses it (``email.message_from_bytes`` with
    ``email.policy.default``): the input for ``email_to_text`` and the word counter, whatever the
    submission's ``parse_email`` does."""
    policies = in_worker(submission, module, "importlib", "import_module", "email.policy", what="email.policy")
    policy = policies.get("default", keep=True)
    return in_worker(submission, module, "email", "message_from_bytes", raw, policy=policy,
                     what="email.message_from_bytes()")


def plotted(submission, module: str, call):
    """Run a plotting call on a fresh figure in ``module``'s worker: ``(what it returned, False)``, or, when
    it returns None as the book's plotting functions do (they draw on the current axes), ``(the current
    axes, True)``: the book's form is graded on what it drew (the call is adapted, not the student)."""
    pyplot = in_worker(submission, module, "importlib", "import_module", "matplotlib.pyplot",
                       what="matplotlib.pyplot")
    pyplot.call("close", "all")
    returned = call()
    if returned is not None:
        return returned, False
    return pyplot.call("gca", keep=True), True


def drawn(axes, attribute: str) -> list:
    """The artists of ``attribute`` ("images", "lines") on ``axes`` (a handle), as a list of handles."""
    return in_worker(axes.submission, axes.module, "builtins", "list", axes.get(attribute, keep=True),
                     what=f"Axes.{attribute}", keep=False)


def drawn_last(axes, attribute: str, what: str):
    """The last artist of ``attribute`` ("images", "lines") on ``axes`` a plotting function drew on."""
    artists = drawn(axes, attribute)
    if not artists:
        raise InvalidOutput(f"{what} returned None and drew no {attribute[:-1]} on the current axes")
    return artists[-1]
