"""The data layer: every dataset the chapter needs, verified, in one place.

>>> from autograder.data import load_mnist
>>> load_mnist("quick").X_test.shape
(1000, 784)
"""

from ._integrity import ChecksumError, DataNotFoundError
from ._locations import CACHE_DIR_ENV, DATA_DIR_ENV, PROFILES, cache_dir, clear_cache, resolve_data_dir
from .loaders import MNIST, SpamCorpus, Titanic, load_mnist, load_spam, load_titanic

__all__ = [
    "CACHE_DIR_ENV", "DATA_DIR_ENV", "PROFILES", "ChecksumError", "DataNotFoundError",
    "MNIST", "SpamCorpus", "Titanic", "cache_dir", "clear_cache", "load_mnist", "load_spam",
    "load_titanic", "resolve_data_dir",
]
