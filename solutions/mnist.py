"""Reference solution: MNIST as the chapter uses it (see ``assignments/mnist.py``)."""

import numbers
import numpy as np


IMAGE_SHAPE = (28, 28)


def split_train_test(X, y, n_train=60000):
    """First ``n_train`` rows for training, the rest for testing (MNIST is pre-split)."""
    X, y = np.asarray(X), _as_1d(y, "y")
    _same_length(X=X, y=y)
    n_train = _check_int(n_train, "n_train", low=1, high=len(X) - 1)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def _axes(ax):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.gca()


def plot_digit(image, ax=None):
    """Draw one 784-pixel image as 28x28 in black on white; returns the AxesImage."""
    image = np.asarray(image)
    if image.size != 784:
        raise ValueError(f"'image' must hold 784 pixels; got shape {image.shape}.")
    return _show(image.reshape(IMAGE_SHAPE), _axes(ax))


def plot_digits(images, images_per_row=10, ax=None):
    """Draw images in a grid, ``images_per_row`` per row; returns the AxesImage."""
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != 784 or len(images) == 0:
        raise ValueError(f"'images' must have shape (n_images, 784) with n_images >= 1; got {images.shape}.")
    per_row = _check_int(images_per_row, "images_per_row", low=1)
    n_rows = -(-len(images) // per_row)
    padded = np.zeros((n_rows * per_row, 784), dtype=images.dtype)
    padded[: len(images)] = images
    grid = padded.reshape(n_rows, per_row, *IMAGE_SHAPE).swapaxes(1, 2).reshape(n_rows * 28, per_row * 28)
    return _show(grid, _axes(ax))


def _show(pixels, ax):
    artist = ax.imshow(pixels, cmap="binary")
    ax.axis("off")
    return artist


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _as_1d(values, name: str, *, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got an array of shape {array.shape}.")
    if not allow_empty and array.size == 0:
        raise ValueError(f"'{name}' is empty; at least one value is required.")
    return array


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same length: {shown}.")


def _check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)
