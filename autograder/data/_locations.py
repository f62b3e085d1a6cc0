"""Where data and the extraction cache live: one place for both environment variables."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Environment variable naming the full-data directory (layout of ``shared/data``).
DATA_DIR_ENV = "CH3_DATA_DIR"
#: Environment variable overriding the extraction cache's location.
CACHE_DIR_ENV = "CH3_CACHE_DIR"

PROFILES = ("quick", "full")

SAMPLE_DIR = Path(__file__).with_name("sample")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(
            f"The 'profile' parameter must be one of {PROFILES}. Got {profile!r} instead."
        )
    return profile


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The full-data directory: the argument, else ``$CH3_DATA_DIR``, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return Path(chosen).expanduser().resolve() if chosen is not None else None


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The extraction cache: the argument, else ``$CH3_CACHE_DIR``, else ``~/.cache/ch3-autograder``."""
    chosen = cache if cache is not None else os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().resolve() / "ch3-autograder"


def clear_cache(cache: str | os.PathLike | None = None) -> Path:
    """Delete the extraction cache (it is rebuilt from the data on the next load)."""
    path = cache_dir(cache)
    shutil.rmtree(path, ignore_errors=True)
    return path
