"""The one scoring step: what a question measured in, its points, band, integrity verdict out.

    grading (graders + plugin)  ->  measurements + a typed outcome per question
    policy.score                ->  fraction of the points, status, resolved band, integrity verdicts
    disclosure / reporters      ->  what each audience may see

``grade``, ``grade-all`` (fresh or from the cache), ``rescore`` and the reports all score through
:func:`score`; ``Credit`` (what a grader test records) uses :func:`check_weights` and
:func:`checks_fraction` for the same arithmetic. :func:`apply_review` then holds a figure no honest answer reaches, on code the staff flagged, for a
person's review (status "held"). Nothing here runs student code or reads data.
"""

from autograder.policy.review import HELD, HELD_TEXT, apply_review, hold
from autograder.policy.scoring import (INFRASTRUCTURE, MEASURED, OUTCOMES, STUDENT, Scored, bounded_points,
                                       check_weights, checks_fraction, integrity_failures, score, spec_band,
                                       status_for)

__all__ = ["HELD", "HELD_TEXT", "apply_review", "hold", "INFRASTRUCTURE", "MEASURED", "OUTCOMES", "STUDENT", "Scored", "bounded_points", "check_weights",
           "checks_fraction", "integrity_failures", "score", "spec_band", "status_for"]
