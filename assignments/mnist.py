"""MNIST: loading, splitting and looking at the digits (chapter 3, "MNIST").

You learn: what a 784-pixel row is, that MNIST comes pre-split into 60,000
training and 10,000 test images, and how to draw digits with matplotlib.
Get the data with ``autograder.data.load_mnist("quick")`` (or ``"full"``).
"""


def split_train_test(X, y, n_train=60000):
    """Split MNIST into its training and test sets, in order.

    MNIST is already shuffled and split: the first 60,000 images are the
    training set and the last 10,000 the test set. Do not shuffle.

    Parameters
    ----------
    X : array of shape (n, 784)
    y : array of shape (n,)
    n_train : int, default 60000
        Number of leading rows that form the training set (1 <= n_train < n).

    Returns
    -------
    X_train, X_test, y_train, y_test : arrays
        The same order as scikit-learn's ``train_test_split``.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length or ``n_train`` is out of range (name the argument).

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = split_train_test(X, y, n_train=60000)
    >>> len(X_train), len(X_test)
    (60000, 10000)

    Pitfall: returning (X_train, y_train, X_test, y_test) instead of the documented order.
    """
    raise NotImplementedError("split_train_test: slice the first n_train rows for training")


def plot_digit(image, ax=None):
    """Draw one digit.

    Parameters
    ----------
    image : array of 784 pixels (or 28x28)
    ax : matplotlib Axes, optional
        Where to draw; default ``plt.gca()``.

    Returns
    -------
    matplotlib.image.AxesImage
        What ``ax.imshow`` returned: the 28x28 image with ``cmap="binary"``,
        and the axis turned off (``ax.axis("off")``).

    Raises
    ------
    ValueError
        If ``image`` does not hold exactly 784 pixels.

    Pitfall: forgetting to reshape to 28x28 (imshow of a 784-vector draws a line).
    """
    raise NotImplementedError("plot_digit: reshape to 28x28 and imshow with cmap='binary'")


def plot_digits(images, images_per_row=10, ax=None):
    """Draw several digits as one mosaic, ``images_per_row`` per row.

    Parameters
    ----------
    images : array of shape (n_images, 784)
    images_per_row : int, default 10
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.image.AxesImage
        One ``imshow`` of the whole mosaic: shape (28 * n_rows, 28 * images_per_row),
        with empty cells of the last row left blank (zeros), ``cmap="binary"``, axis off.

    Pitfall: a last row that is not full; pad it with blank images.
    """
    raise NotImplementedError("plot_digits: pad, reshape to a grid of 28x28 tiles, imshow once")
