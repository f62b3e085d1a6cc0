"""Bounds on the text the grader builds from a student's values.

Every feedback line, check detail and integrity note can quote what a student's code returned or
raised; a value with millions of elements (every NaN row of an 8 MB matrix) must not become a
message of millions of characters in ``grading.json``, ``results.json`` and the reports. Lists
are shown through :func:`listed` (the first few, then "… N more"), and every message is cut by
:func:`bounded`, which says how much was left out.
"""

from __future__ import annotations

from collections.abc import Sized
from itertools import islice

#: Items a listed enumeration shows before "… N more".
LISTED_ITEMS = 10
#: The longest message (one feedback line, one check's detail) kept; a traceback fits.
MAX_MESSAGE_CHARS = 8_000


def listed(items, limit: int = LISTED_ITEMS, sep: str = ", ", render=str) -> str:
    """``items`` joined by ``sep``: the first ``limit``, then "… N more" for the others."""
    total = len(items) if isinstance(items, Sized) else None
    shown = [render(item) for item in islice(items, limit)]
    text = sep.join(shown)
    rest = (total - len(shown)) if total is not None else None
    if rest:
        text += f" … {rest:,} more"
    return text


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f" … {len(text) - limit:,} more characters (cut by the grader)"
