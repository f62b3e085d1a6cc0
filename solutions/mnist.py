"""Reference solution: MNIST as the chapter uses it (see ``assignments/mnist.py``)."""

import numpy as np

from solutions._validation import as_1d, check_int, same_length

IMAGE_SHAPE = (28, 28)


def split_train_test(X, y, n_train=60000):
    """First ``n_train`` rows for training, the rest for testing (MNIST is pre-split)."""
    X, y = np.asarray(X), as_1d(y, "y")
    same_length(X=X, y=y)
    n_train = check_int(n_train, "n_train", low=1, high=len(X) - 1)
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
    per_row = check_int(images_per_row, "images_per_row", low=1)
    n_rows = -(-len(images) // per_row)
    padded = np.zeros((n_rows * per_row, 784), dtype=images.dtype)
    padded[: len(images)] = images
    grid = padded.reshape(n_rows, per_row, *IMAGE_SHAPE).swapaxes(1, 2).reshape(n_rows * 28, per_row * 28)
    return _show(grid, _axes(ax))


def _show(pixels, ax):
    artist = ax.imshow(pixels, cmap="binary")
    ax.axis("off")
    return artist
