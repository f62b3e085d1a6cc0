"""Exercise 2: data augmentation by shifting images one pixel.

Write a function that shifts an image by whole pixels (``scipy.ndimage.shift``
works; slicing a whole batch at once is much faster), make four shifted copies
of every training image (left, right, up, down), and train your best model on
the five-times-larger training set.

What the grader checks: ``shift_image`` against ``scipy.ndimage.shift(order=0,
cval=0)`` on hidden images in all four directions; ``augment`` for shape, dtype
and labels that follow their images; and it fits ``build_model()`` on
``augment(X_train, y_train)`` itself: full marks at test accuracy >= 0.974
(the book reaches 0.9763; one standard error is 0.0015), zero at 0.965, on test
images whose grey pixels are moved one intensity level. Keep it fast: 300,000 rows.
"""


def shift_image(image, dx, dy):
    """Shift an image by whole pixels, filling with zeros.

    Parameters
    ----------
    image : array of shape (784,) or (28, 28)
    dx : int
        Pixels to the right (negative: left).
    dy : int
        Pixels down (negative: up).

    Returns
    -------
    ndarray of the same shape and dtype as ``image``.

    Examples
    --------
    >>> shift_image(image, dx=1, dy=0)  # the digit moves one pixel right

    Pitfall: ``scipy.ndimage.shift`` takes ``[dy, dx]`` (rows first).
    """
    raise NotImplementedError("shift_image")


def augment(X, y):
    """The training set plus four one-pixel shifts of every image.

    Returns
    -------
    X_augmented : ndarray of shape (5 * n, 784), same dtype as ``X``
    y_augmented : ndarray of shape (5 * n,)
        ``y_augmented[i]`` is the label of ``X_augmented[i]``. Any row order is fine.
    """
    raise NotImplementedError("augment")


def build_model():
    """The UNFITTED estimator to train on the augmented set (the grader fits it)."""
    raise NotImplementedError("build_model")
