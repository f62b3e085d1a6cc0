"""Per-call time limits that follow the work: a millisecond function is not given a minute.

A question's call limit is ``min(timeout, max(timeout_floor, timeout_multiple x cost))`` where
``cost`` is the reference solution's slowest call into student code on that question and
profile, measured by ``scripts/reference_costs.py`` into ``reference_costs.json`` beside this
module. ``timeout`` (questions.toml, or ``--timeout``) stays the ceiling; a question whose
reference cost was never measured gets the ceiling.

Within one submission, a function that has already run out of time gets at most
``hung_timeout`` on its next calls (see ``Submission``): a ``while`` loop that never ends
costs one full limit, not one per question.

Importing a student module keeps the question's ``timeout``: it includes starting the worker,
which no reference cost measures, and a module that hangs on import is tried once per
submission anyway (``Submission``).
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path

from autograder.spec import Limits

COSTS_PATH = Path(__file__).with_name("reference_costs.json")


@lru_cache(maxsize=None)
def reference_costs(path: Path = COSTS_PATH) -> dict:
    """``{profile: {question id: {"seconds": s, "slowest_call": s}}}``; empty when never measured."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data.get("profiles", {}) if isinstance(data, dict) else {}


def call_timeout(question_id: str, profile: str, limits: Limits, costs: dict | None = None) -> float:
    """The seconds one call into student code may take on this question (see the module doc)."""
    measured = (reference_costs() if costs is None else costs).get(profile, {}).get(question_id)
    if not measured:
        return limits.timeout
    derived = max(limits.timeout_floor, limits.timeout_multiple * float(measured["slowest_call"]))
    return min(limits.timeout, derived)


def question_limits(question_id: str, profile: str, limits: Limits, overrides=None) -> Limits:
    """The limits a question is graded under: its own (questions.toml) with ``overrides`` (a
    frontend's caps, any :class:`Limits` field but ``call_timeout``) and the per-call limit derived
    from the reference's costs (:func:`call_timeout`)."""
    limits = dataclasses.replace(limits, **dict(overrides or {}))
    return dataclasses.replace(limits, call_timeout=call_timeout(question_id, profile, limits))
