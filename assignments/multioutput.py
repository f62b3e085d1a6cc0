"""Multioutput classification: removing noise from images (chapter 3, "Multioutput Classification").

You learn that a classifier can predict many labels with many classes each:
here one label per pixel, with 256 possible intensities.
"""


def add_noise(X, rng, low=0, high=100):
    """Add random integer noise to images.

    Parameters
    ----------
    X : array of shape (n, 784)
    rng : numpy.random.Generator
        Draw the noise with ``rng.integers(low, high, size=X.shape)``.
    low, high : int
        The noise is uniform on [low, high).

    Returns
    -------
    ndarray of int64, shape (n, 784): ``X + noise``, not clipped (as in the book).

    Raises
    ------
    TypeError if ``rng`` is not a Generator; ValueError for a wrong shape or low >= high.

    Pitfall: adding to a uint8 array wraps around at 255; convert first.
    """
    raise NotImplementedError("add_noise")


def build_denoiser():
    """An unfitted estimator that learns noisy image -> clean image (the book: KNeighborsClassifier())."""
    raise NotImplementedError("build_denoiser")
