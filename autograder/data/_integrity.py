"""Content hashing and the errors the data layer raises."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


class DataNotFoundError(FileNotFoundError):
    """A dataset could not be found in any of the places the loader looked."""


class ChecksumError(ValueError):
    """A data file exists but its content is not the pinned content."""


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's bytes in C order (independent of the container)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def corpus_digest(messages: dict[str, bytes]) -> str:
    """Digest of a set of named messages, independent of archive packing."""
    h = hashlib.sha256()
    for name in sorted(messages):
        h.update(name.encode() + b"\0" + hashlib.sha256(messages[name]).digest())
    return h.hexdigest()


def check_digest(actual: str, expected: str, *, what: str, path: Path | str) -> None:
    if actual != expected:
        raise ChecksumError(
            f"{what} in {path} failed its checksum: expected sha256 {expected}, "
            f"got {actual}. The file is corrupt or truncated; replace it with a fresh "
            f"copy (see the data README) and clear the cache "
            f"(python -m autograder data clear-cache)."
        )
