"""The data layer: every dataset the chapter needs, verified, in one place.

>>> from autograder.data import load_mnist
>>> load_mnist("quick").X_test.shape
(1000, 784)
"""

from ._checksums import pinned_checksums
from ._integrity import ChecksumError, DataNotFoundError, array_digest
from ._locations import CACHE_DIR_ENV, DATA_DIR_ENV, PROFILES, SAMPLE_DIR, cache_dir, clear_cache, resolve_data_dir
from .loaders import MNIST, SpamCorpus, Titanic, load_mnist, load_spam, load_titanic, read_spam_archive

__all__ = [
    "CACHE_DIR_ENV", "DATA_DIR_ENV", "PROFILES", "SAMPLE_DIR", "ChecksumError", "DataNotFoundError",
    "MNIST", "SpamCorpus", "Titanic", "array_digest", "cache_dir", "clear_cache", "load_mnist", "load_spam",
    "load_titanic", "pinned_checksums", "read_spam_archive", "resolve_data_dir",
]
