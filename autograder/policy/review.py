"""Held for review: a figure no honest answer reaches, on code the staff flagged, waits for a person.

A question is *held* when both are true:

- its figure (``measurements["band"]["value"]``) is above the question's ``review_above`` in
  questions.toml (e.g. a Titanic accuracy far beyond the reference's and any honest model's);
- the code that produced it carries a staff flag: a place that looks like data carried in the code
  (``autograder.embedded_data``) in the question's module or in a helper file it could import.

Either alone decides nothing (a strong model is not suspect; a flag is evidence, not a verdict).
A held question keeps ``outcome`` "measured" and gets ``status`` "held": its points count neither
as earned nor as lost (``points`` is 0 until staff release it; ``measurements["held"]["fraction"]``
keeps what the policy would give), the student reads that the score is pending review, and
``GradingResult.held`` lists it so that nothing treats the result as final.

:func:`apply_review` is pure in what it reads (the result's measurements, its data flags and the
spec) and idempotent: grading, a cached result and a rescore after an edit of ``review_above`` all
end in the same state.
"""

from __future__ import annotations

import math

from autograder.spec import Question

HELD = "held"

#: What the student reads: what happens, not what is suspected.
HELD_TEXT = ("Score pending review: this result is far above what the reference solution reaches, so a "
             "member of staff looks at it before its points count. Nothing is needed from you; the report "
             "will be updated once it has been reviewed.")


def _module_files(module: str, flags: list[dict]) -> list[dict]:
    """The flags in ``module``'s own file or in a helper file (a file that is no contract module)."""
    from autograder.contract import CONTRACT

    def counts(name: str) -> bool:
        stem = name[:-3] if name.endswith(".py") else name
        return stem == module or stem not in CONTRACT
    return [f for f in flags if isinstance(f, dict) and counts(str(f.get("file", "")))]


def hold(measurements: dict, question: Question | None, flags: list[dict]) -> dict | None:
    """Why the question is held (plain JSON for ``measurements["held"]``), or None when it is not."""
    ceiling = getattr(question, "review_above", None)
    band = measurements.get("band")
    if ceiling is None or not isinstance(band, dict):
        return None
    value = band.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= ceiling:
        return None
    evidence = _module_files(question.module, flags)
    if not evidence:
        return None
    return {"figure": float(value), "review_above": float(ceiling), "flags": len(evidence),
            "files": sorted({str(f.get("file")) for f in evidence})}


def apply_review(result, spec: dict[str, Question]) -> None:
    """Hold (or release) each measured question of ``result`` by :func:`hold`; see the module docstring."""
    from autograder.policy.scoring import MEASURED, bounded_points, status_for

    for q in result.questions:
        previous = q.measurements.pop("held", None) if isinstance(q.measurements, dict) else None
        if previous is not None:
            q.feedback = "\n".join(line for line in q.feedback.split("\n") if line != HELD_TEXT)
        if previous is not None and q.status == HELD:  # released unless still held: the policy's fraction
            fraction = float(previous.get("fraction", 0.0))
            q.points = bounded_points(q.max_points * fraction, q.max_points)
            q.status = status_for(fraction)
        if q.outcome != MEASURED or q.status not in ("passed", "partial"):
            continue
        reason = hold(q.measurements, spec.get(q.id), result.data_flags)
        if reason is None:
            continue
        reason["fraction"] = round(q.points / q.max_points, 6) if q.max_points else 0.0
        q.measurements["held"] = reason
        q.status, q.points = HELD, 0.0
        q.feedback = HELD_TEXT + ("\n" + q.feedback if q.feedback else "")
