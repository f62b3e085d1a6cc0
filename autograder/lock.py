"""The locked grading environment: the versions every grading install is pinned to.

``autograder/constraints.txt`` pins every package a grading install brings (the project's
dependencies and extras, and theirs). CI, ``build gradescope``, ``build otter`` and the student
bundle install with it as pip constraints, so a grade does not change mid-semester because a
library released a new version. ``python scripts/lock.py`` refreshes it (docs/development.md).

Every result records the lock's digest and the libraries that compute figures whose installed
version is not the locked one (:func:`lock_record`).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

LOCK_NAME = "constraints.txt"
LOCK_PATH = Path(__file__).resolve().parent / LOCK_NAME

#: Libraries that compute figures in the grader or the student's worker (a new version can move them):
#: their versions are in the cache key, and a result names those off the lock.
MEASURING_LIBRARIES = ("numpy", "scipy", "pandas", "scikit-learn", "nltk", "joblib", "threadpoolctl")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=None)
def locked_versions() -> dict[str, str]:
    """Canonical name -> pinned version, from the ``name==version`` lines of the lock ({} without one)."""
    try:
        text = LOCK_PATH.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def library_versions() -> dict[str, str]:
    """The installed version of each of :data:`MEASURING_LIBRARIES` ("absent" when not installed)."""
    versions = {}
    for name in MEASURING_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@lru_cache(maxsize=None)
def lock_record() -> dict:
    """What a result records of its environment: ``lock`` (the lock file's digest, "" without one)
    and ``off_lock`` (each measuring library whose installed version is not the locked one:
    ``{"name": {"installed": v, "locked": v}}``; empty when the install follows the lock)."""
    try:
        digest = hashlib.sha256(LOCK_PATH.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return {"lock": "", "off_lock": {}}
    pins = locked_versions()
    off = {name: {"installed": installed, "locked": pins.get(canonical(name), "not locked")}
           for name, installed in library_versions().items() if pins.get(canonical(name)) != installed}
    return {"lock": digest, "off_lock": off}
