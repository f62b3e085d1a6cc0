"""The same submissions score the same under the lock (the record: tests/locked_scores.py)."""

import json

import pytest

from autograder import lock
from tests import locked_scores


def test_the_record_is_for_the_locked_versions():
    recorded = json.loads(locked_scores.RECORD.read_text())
    assert recorded["measuring_libraries"] == locked_scores.locked_measuring_versions(), (
        "the lock moved a library that computes figures: install under the new lock and run "
        "`python scripts/lock.py --scores`, then review the record's diff")
    assert set(recorded["submissions"]) == set(locked_scores.SUBMISSIONS)


@pytest.mark.slow
@pytest.mark.skipif(lock.lock_record()["off_lock"] != {}, reason="this environment is not installed under the lock "
                    "(CI is; the figures may differ off it)")
def test_the_same_submissions_score_the_same_under_the_lock(tmp_path):
    recorded = json.loads(locked_scores.RECORD.read_text())
    now = locked_scores.current(tmp_path)
    moved = locked_scores.differences(recorded, now)
    assert moved == [], "graded differently from the record under the same lock:\n" + "\n".join(moved)


def test_a_moved_figure_or_point_is_named():
    q = {"status": "passed", "points": 10.0, "figures": {"band": 0.7876}}
    recorded = {"submissions": {"s": {"a.accuracy": q, "a.contract": q}}}
    now = {"submissions": {"s": {"a.accuracy": {**q, "points": 9.5, "figures": {"band": 0.78}},
                                 "a.contract": {**q, "figures": {"band": 0.7876 * (1 + 1e-9)}}}}}
    assert locked_scores.differences(recorded, now) == ["s a.accuracy: passed 10 -> passed 9.5",
                                                        "s a.accuracy band: 0.7876 -> 0.78"]
