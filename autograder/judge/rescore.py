"""Rescore one graded result under a changed ``questions.toml`` without running any student code.

Every question records what it measured (``QuestionResult.measurements``) and its typed
``outcome``. Rescoring hands the measurements to the one scoring step, :func:`autograder.policy.score`,
the same function that scored them when they were graded:

- ``measured``: the policy recomputes the fraction from the spec's current points, bands (re-resolved
  against the recorded reference figure when relative), check weights and integrity limits, so a
  looser limit gives back what a stricter one took, and a stricter one takes it;
- ``student`` (the student's code raised, timed out, did not import): 0 stays 0;
- ``infrastructure`` (the grader or the machine failed): the result is not final and is not
  rescored (its callers refuse it: ``grade-all --rescore``, ``serve rescore``).

Points never leave [0, max]. :mod:`autograder.bulk.rescore` applies it to a class folder,
``serve rescore`` to a course server's stored results.
"""

from __future__ import annotations

import copy
import dataclasses
import math

from autograder import policy
from autograder.judge.scoring import band_feedback
from autograder.results import GradingResult, QuestionResult
from autograder.spec import Band, Question, load_spec

#: Statuses a score decided by measurements can end in; every other status keeps its points' fraction.
SCORED = ("passed", "partial", "failed")
TOLERANCE = 1e-3  # points are rounded to 4 decimals in the results
#: Statuses that say the student's code failed before anything was measured (results without an outcome).
STUDENT_FAILURES = ("error", "timeout", "crashed", "import_error", "not_implemented", "not_run")


def measured_fraction(measurements: dict, band: Band | None, question: Question | None = None) -> float | None:
    """The fraction of the points ``measurements`` earn under ``band``: :func:`autograder.policy.score`
    with ``question``'s spec (its integrity limits included), or with ``band`` alone."""
    given = "given"  # a profile name for ``band`` alone
    if question is None:
        question = Question(id="x.x", title="", points=1.0, visibility="public", limits=None)
    bands = {**question.bands, given: band} if band is not None else {}
    scored = policy.score(measurements, dataclasses.replace(question, bands=bands), given)
    return None if scored is None else scored.fraction


def _recorded_band(measurements: dict) -> Band | None:
    band = measurements.get("band")
    return Band(band["full_at"], band["zero_at"]) if band else None


def _outcome(q: QuestionResult) -> str:
    """The recorded outcome; for results written before outcomes were recorded, inferred as before:
    measured when the recorded points follow from the recorded measurements."""
    if q.outcome in policy.OUTCOMES:
        return q.outcome
    if q.status == "grader_error":
        return policy.INFRASTRUCTURE
    if q.status not in SCORED or not q.measurements:
        return policy.STUDENT
    recorded = measured_fraction(q.measurements, _recorded_band(q.measurements))
    old_fraction = q.points / q.max_points if q.max_points else 0.0
    if recorded is not None and abs(recorded - old_fraction) * max(q.max_points, 1) <= TOLERANCE:
        return policy.MEASURED
    return policy.STUDENT


def rescore_question(q: QuestionResult, question: Question, profile: str) -> QuestionResult:
    """``q`` under ``question``'s current points and bands; statuses stay consistent with the points."""
    new = copy.deepcopy(q)
    new.max_points = question.points
    recorded_max = q.max_points if isinstance(q.max_points, (int, float)) and math.isfinite(q.max_points) else 0.0
    old_fraction = q.points / recorded_max if recorded_max > 0 and isinstance(q.points, (int, float)) else 0.0
    fraction = min(max(old_fraction, 0.0), 1.0) if math.isfinite(old_fraction) else 0.0
    outcome = _outcome(q)
    new.outcome = outcome
    scored = policy.score(q.measurements, question, profile) if outcome == policy.MEASURED else None
    if scored is not None:
        fraction = scored.fraction
        if scored.band is not None and "band" in new.measurements:
            _rewrite_band(new, scored.band)
        _rewrite_integrity(new, scored)
        keep = q.status in ("not_implemented", "error") and fraction <= 0
        new.status = q.status if keep else scored.status
    elif outcome == policy.STUDENT and q.status in STUDENT_FAILURES:
        fraction = 0.0  # the student's code failed: nothing was measured, nothing is given
    new.points = policy.bounded_points(question.points * fraction, question.points)
    return new


def _rewrite_integrity(q: QuestionResult, scored) -> None:
    """Keep the feedback's integrity verdict in step with the policy's."""
    note = q.measurements.get("integrity_note")
    if scored.integrity and not note:
        note = "not counted: " + "; ".join(scored.integrity) + ", so this question scores 0."
        q.measurements["integrity_note"] = note
        q.feedback = note + ("\n" + q.feedback if q.feedback else "")
    elif not scored.integrity and note:
        q.measurements.pop("integrity_note")
        q.feedback = "\n".join(line for line in q.feedback.split("\n") if line != note)


def _rewrite_band(q: QuestionResult, band: Band) -> None:
    """Update the recorded band and the feedback line that states it."""
    recorded = q.measurements["band"]
    details = {k: recorded.get(k) for k in ("n", "se", "reference")}
    old_line = band_feedback(recorded["metric"], recorded["value"], _recorded_band(q.measurements),
                             **{k: v for k, v in details.items() if v is not None and k != "se"},
                             se=recorded.get("se"))
    new_line = band_feedback(recorded["metric"], recorded["value"], band,
                             **{k: v for k, v in details.items() if v is not None and k != "se"},
                             se=recorded.get("se"))
    recorded.update(full_at=band.full_at, zero_at=band.zero_at)
    if old_line in q.feedback:
        q.feedback = q.feedback.replace(old_line, new_line)


def rescore_result(result: GradingResult, spec: dict[str, Question] | None = None) -> GradingResult:
    """Every question of ``result`` rescored under ``spec`` (default: the current questions.toml).

    A question no longer declared is dropped; names, titles and hints follow the spec.
    """
    spec = spec if spec is not None else load_spec()
    rescored = copy.deepcopy(result)
    questions = []
    for q in result.questions:
        question = spec.get(q.id)
        if question is None:
            continue
        new = rescore_question(q, question, result.profile)
        new.name, new.hint, new.visibility = question.name, question.hint, question.visibility
        questions.append(new)
    rescored.questions = questions
    policy.apply_review(rescored, spec)
    return rescored
