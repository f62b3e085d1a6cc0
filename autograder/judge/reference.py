"""Reference figures: what the reference solution scores on the grader's own data, cached.

Some targets depend on the library version (e.g. the spam pipeline's precision on
hidden splits), so the grader computes the reference solution's figure itself, in
the grading process (the solutions are trusted code), once per scikit-learn
version, data profile and grader input, and caches it under the data cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import sklearn

from autograder.data import _checksums, cache_dir


def _data_version(profile: str) -> str:
    """A digest of the pinned checksums of the profile's data: new data, new cache file."""
    pins = _checksums.SAMPLE if profile == "quick" else {
        **_checksums.MNIST_FULL, **_checksums.TITANIC_FULL, **_checksums.SPAM_FULL}
    return hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]


class ReferenceCache:
    def __init__(self, profile: str, folder: Path | None = None):
        folder = Path(folder) if folder else cache_dir() / "references"
        self.path = folder / f"sklearn-{sklearn.__version__}-{profile}-data-{_data_version(profile)}.json"
        try:
            self.figures = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.figures = {}

    def get(self, key: str, compute: Callable[[], object]):
        """The cached figure for ``key`` (question id plus a fingerprint of its inputs), else compute it."""
        if key not in self.figures:
            self.figures[key] = compute()
            self._save()
        return self.figures[key]

    def _save(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".json")
            with os.fdopen(fd, "w") as fh:
                json.dump(self.figures, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # an unwritable cache only costs recomputation
