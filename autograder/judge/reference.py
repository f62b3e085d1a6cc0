"""Reference figures: what the reference solution scores on the grader's own data.

Some targets depend on the library version (e.g. the spam pipeline's precision on
hidden splits), so figures are looked up, in order:

1. ``reference_figures.json`` beside this file: precomputed by ``scripts/reference_figures.py``
   for one scikit-learn version and data version per profile, so that grading never recomputes
   the reference on the critical path (a cold cache doubled ex1's time and ex2's memory);
2. the local cache under the data cache (one file per scikit-learn version, profile, data);
3. computing it in the grading process (the solutions are trusted code), then caching it.

Graders whose band is absolute need the figure only for feedback: they use :meth:`peek`,
which never computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

from autograder.data import cache_dir, pinned_checksums

PRECOMPUTED_PATH = Path(__file__).with_name("reference_figures.json")
SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"
#: Set to "compute" (as scripts/reference_figures.py does) to ignore the shipped figures and
#: compute every figure a grader asks for, including those only shown in feedback.
MODE_ENV = "CH3_REFERENCE_FIGURES"


def data_version(profile: str) -> str:
    """A digest of the pinned checksums of the profile's data: new data, new cache file."""
    pins = pinned_checksums(profile)
    return hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]


def solutions_version() -> str:
    """A digest of the reference solutions and the libraries that compute their figures: a changed
    solution or library version computes its figures afresh instead of reusing old ones."""
    from importlib import metadata

    h = hashlib.sha256()
    for name in ("numpy", "scipy", "pandas", "nltk"):
        try:
            h.update(f"{name} {metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name} absent\0".encode())
    for path in sorted(SOLUTIONS_DIR.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it (its import takes a second)."""
    from importlib import metadata

    return metadata.version("scikit-learn")


def precomputed_figures(profile: str, path: Path = PRECOMPUTED_PATH) -> dict:
    """The shipped figures for ``profile`` if they were measured with this scikit-learn and data, else {}."""
    try:
        shipped = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    entry = shipped.get(profile, {})
    if entry.get("sklearn") != sklearn_version() or entry.get("data") != data_version(profile):
        return {}
    return dict(entry.get("reference", {}))


class ReferenceCache:
    def __init__(self, profile: str, folder: Path | None = None, precomputed: Path | None = PRECOMPUTED_PATH):
        folder = Path(folder) if folder else cache_dir() / "references"
        self.path = folder / (f"sklearn-{sklearn_version()}-{profile}-data-{data_version(profile)}"
                              f"-solutions-{solutions_version()}.json")
        self.compute_all = os.environ.get(MODE_ENV) == "compute"
        self.shipped = precomputed_figures(profile, precomputed) if precomputed and not self.compute_all else {}
        try:
            self.figures = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.figures = {}
        #: Keys asked for during this run (the script that writes the shipped file reads them).
        self.used: dict = {}

    def peek(self, key: str):
        """The figure if shipped or cached, else None (never computes)."""
        value = self.shipped.get(key, self.figures.get(key))
        if value is not None:
            self.used[key] = value
        return value

    def figure(self, key: str, compute: Callable[[], object], *, needed: bool):
        """:meth:`get` when the figure is ``needed`` (a relative band), else :meth:`peek` (feedback only)."""
        return self.get(key, compute) if needed or self.compute_all else self.peek(key)

    def get(self, key: str, compute: Callable[[], object]):
        """The figure for ``key`` (question id plus a fingerprint of its inputs): shipped, cached, else computed."""
        if key in self.shipped:
            value = self.shipped[key]
        else:
            if key not in self.figures:
                self.figures[key] = compute()
                self._save()
            value = self.figures[key]
        self.used[key] = value
        return value

    def _save(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".json")
            with os.fdopen(fd, "w") as fh:
                json.dump(self.figures, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # an unwritable cache only costs recomputation
