"""Checks on what student code returned: type, shape, dtype, finiteness, length.

Messages name the function and say what was expected and what arrived, like
scikit-learn's ``check_array``: "confusion.precision() returned a str;
expected a float". A failed check costs the question its points, nothing else.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np


class InvalidOutput(AssertionError):
    """Student code returned something of the wrong type, shape or kind."""


def _judges_student_values(check):
    """A check here looks only at what student code returned: whatever it raises is about that value.

    So an unexpected exception (numpy refusing an odd list, an overflow, ...) becomes an
    :class:`InvalidOutput` that fails the student's question, never a grader error.
    """
    @functools.wraps(check)
    def checked(value, what: str, *args, **kwargs):
        try:
            return check(value, what, *args, **kwargs)
        except InvalidOutput:
            raise
        except Exception as exc:
            raise InvalidOutput(f"{what} returned a value that could not be checked "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    return checked


def _describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    type_name = getattr(value, "type", None) if not isinstance(value, (str, bytes)) else None
    if type_name == "numpy.ndarray":  # arrays come back as data unless their dtype is object
        return "an array of dtype object (arrays of numbers, booleans or strings are expected)"
    if type_name and hasattr(value, "mro"):
        return f"an object of type {type_name}"
    return f"a {type(value).__name__}"


@_judges_student_values
def as_float(value, what: str) -> float:
    """A number: a Python or numpy int/float, or a 0-d numeric array (``np.array(2/3)``); not a bool."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidOutput(f"{what} returned {_describe(value)}; expected a float")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        raise InvalidOutput(f"{what} returned an integer too large for a float; expected a float") from None
    if not math.isfinite(number):
        raise InvalidOutput(f"{what} returned {number}; expected a finite float")
    return number


@_judges_student_values
def as_array(value, what: str, *, shape=None, length=None, ndim=None, kinds="biuf",
             finite=True) -> np.ndarray:
    """Check an array; ``shape`` may hold None for "any size" in that axis."""
    if isinstance(value, (list, tuple)) and not any(hasattr(v, "mro") for v in value):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # ragged, mixed, huge ints
            raise InvalidOutput(f"{what} returned a {type(value).__name__} that is not a rectangular array "
                                f"of numbers ({str(exc).splitlines()[0][:200]}); expected a numpy array") from None
    if not isinstance(value, np.ndarray):
        raise InvalidOutput(f"{what} returned {_describe(value)}; expected a numpy array")
    if value.dtype.kind not in kinds:
        raise InvalidOutput(f"{what} returned an array of dtype {value.dtype}; expected "
                            f"{'numbers' if kinds == 'biuf' else 'dtype kind in ' + repr(kinds)}")
    if ndim is not None and value.ndim != ndim:
        raise InvalidOutput(f"{what} returned an array of shape {value.shape}; expected {ndim} dimension(s)")
    if shape is not None and (value.ndim != len(shape) or
                              any(s is not None and s != v for s, v in zip(shape, value.shape))):
        expected = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise InvalidOutput(f"{what} returned an array of shape {value.shape}; expected {expected}")
    if length is not None and (value.ndim == 0 or len(value) != length):
        raise InvalidOutput(f"{what} returned {len(value) if value.ndim else 'a scalar'} values for "
                            f"{length} inputs; expected one per input")
    if finite and value.dtype.kind in "fc" and not np.isfinite(value).all():
        bad = ~np.isfinite(value)
        where = f" ({int(bad.sum())} of {value.size}, first at {[int(i) for i in np.argwhere(bad)[0]]})" \
            if value.ndim else ""
        raise InvalidOutput(f"{what} returned NaN or infinite values{where}")
    return value


@_judges_student_values
def as_labels(value, what: str, *, length: int, allowed) -> np.ndarray:
    """Predictions: one per input, each among ``allowed``."""
    array = as_array(value, what, ndim=1, length=length, kinds="biufUS")
    unknown = set(np.unique(array).tolist()) - set(np.asarray(list(allowed)).tolist())
    if unknown:
        raise InvalidOutput(f"{what} predicted labels outside {sorted(allowed)}: {sorted(unknown)[:5]}")
    return array


@_judges_student_values
def as_remote(value, what: str, expected: str):
    """A handle on an object of class ``expected`` (a dotted suffix, e.g. "SGDClassifier")."""
    if not hasattr(value, "isinstance_of"):
        raise InvalidOutput(f"{what} returned {_describe(value)}; expected a {expected}")
    if not value.isinstance_of(expected):
        raise InvalidOutput(f"{what} returned a {value.type}; expected a {expected}")
    return value


def as_indicators(value, what: str, *, shape) -> np.ndarray:
    """Binary indicators (0/1 or bool) of ``shape``, returned as int: safe to pass to a metric."""
    array = as_array(value, what, shape=shape, kinds="biuf")
    if not np.isin(array, (0, 1)).all():
        found = np.unique(array[~np.isin(array, (0, 1))])[:5].tolist()
        raise InvalidOutput(f"{what} returned values other than 0/1 or False/True: {found}")
    return array.astype(int)


def as_records(value, what: str, *, width: int, kinds: str) -> list[tuple]:
    """A list of ``width``-tuples of numbers, e.g. ``[(true, predicted, rate), ...]``.

    Lists, tuples and 2-D numeric arrays of rows are accepted; ``kinds`` says, per
    field, "i" (an integer) or "f" (a finite number).
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and (value.ndim == 2 or value.size == 0):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise InvalidOutput(f"{what} returned {_describe(value)}; expected a list of {width}-tuples")
    records = []
    for i, row in enumerate(value):
        if isinstance(row, np.ndarray) and row.ndim == 1:
            row = row.tolist()
        if not isinstance(row, (list, tuple)) or len(row) != width:
            shown = f"{len(row)} values" if isinstance(row, (list, tuple)) else _describe(row)
            raise InvalidOutput(f"{what} returned a list whose item {i} is {shown}; expected a {width}-tuple")
        fields = []
        for j, (field, kind) in enumerate(zip(row, kinds)):
            number = as_float(field, f"{what} (item {i}, field {j})")
            if kind == "i" and number != int(number):
                raise InvalidOutput(f"{what} returned {number!r} in item {i}, field {j}; expected an integer")
            fields.append(int(number) if kind == "i" else number)
        records.append(tuple(fields))
    return records


def as_estimator(value, what: str):
    """A handle on an object with ``fit`` (an unfitted estimator the grader will train)."""
    if not hasattr(value, "call"):
        raise InvalidOutput(f"{what} returned {_describe(value)}; expected an unfitted estimator")
    return value
