"""Input checks shared by the reference solutions; every message names the argument."""

from __future__ import annotations

import numbers

import numpy as np


def as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def as_binary(values, name: str) -> np.ndarray:
    """A 1-D array of labels in {0, 1} (or booleans), returned as bool."""
    array = as_1d(values, name)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        found = np.unique(array)[:5]
        raise ValueError(f"'{name}' must hold binary labels (0/1 or False/True); found {found}.")
    return array.astype(bool)


def as_scores(values, name: str) -> np.ndarray:
    array = as_1d(values, name)
    if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise ValueError(f"'{name}' must be finite numbers; got dtype {array.dtype}.")
    return array.astype(float)


def same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same length: {shown}.")


def as_images(X, name: str = "X") -> np.ndarray:
    array = np.asarray(X)
    if array.ndim != 2 or array.shape[1] != 784:
        raise ValueError(f"'{name}' must have shape (n_images, 784); got {array.shape}.")
    return array


def as_square_matrix(cm, name: str = "cm") -> np.ndarray:
    array = np.asarray(cm)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.size == 0:
        raise ValueError(f"'{name}' must be a non-empty square matrix; got shape {array.shape}.")
    if array.dtype.kind not in "iuf" or (array < 0).any():
        raise ValueError(f"'{name}' must hold non-negative counts; got dtype {array.dtype}.")
    return array


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {tuple(choices)}; got {value!r}.")
    return value
