"""Measurements -> points: the only code that turns what a question measured into its score.

A question's ``measurements`` (plain JSON, see ``Credit.measurements``) hold

- ``band``: one figure against its band (``metric``, ``value``, ``reference``, ``n``, ``se``);
- ``checks``: sub-check outcomes (``passed``, ``group``, ``weight``, a partial ``score`` and its
  ``band`` for a metric scored inside a band);
- ``shuffled_labels`` / ``perturbation`` / ``shift``: the integrity figures (accuracy after training
  on shuffled labels; the drop in accuracy when the test images move by one intensity level; the
  drop, beyond the reference's, when they move by one pixel and turn a few degrees);
- ``rewritten_emails``: the spam filter's accuracy drop, beyond the reference's, when the test
  emails are rewritten (new headers, the subject reordered, one line of text left out).

:func:`score` applies the question's current spec (points, bands, weights, integrity limits) to
them. The same measurements and spec give the same score whether the question was just graded,
read from the cache or rescored after an edit of ``questions.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autograder.spec import Band, Question

#: A question's outcome: its score follows from its measurements; the student's code failed
#: (raised, timed out, did not import: scores 0 and stays 0 on rescore); or the grader or the
#: machine failed (a grader bug, a worker that could not start, a limit the machine refused):
#: never cached, never the student's, and regraded.
MEASURED, STUDENT, INFRASTRUCTURE = "measured", "student", "infrastructure"
OUTCOMES = (MEASURED, STUDENT, INFRASTRUCTURE)


@dataclass(frozen=True)
class Scored:
    """What the policy makes of one question's measurements."""

    fraction: float                      # of the question's points, in [0, 1]
    status: str                          # "passed", "partial" or "failed"
    band: Band | None = None             # the band the figure was scored against (resolved)
    integrity: list[str] = field(default_factory=list)   # why the figure was not counted, if it was not


def check_weights(groups: list, weights: dict[str, float] | None) -> list[float]:
    """Each check's share of the question (they sum to 1), from the groups the checks count under.

    Without weights every check weighs the same. With them, each group present gets its weight's
    share (among the groups present), split evenly among its checks.
    """
    if not groups:
        return []
    if not weights:
        return [1 / len(groups)] * len(groups)
    unknown = sorted({str(g) for g in groups if g not in weights})
    if unknown:
        raise ValueError(f"check group(s) {unknown} have no weight; the question's weights in "
                         f"questions.toml declare {sorted(weights)}")
    sizes = {g: sum(x == g for x in groups) for g in weights}
    total = sum(w for g, w in weights.items() if sizes[g])
    return [weights[g] / total / sizes[g] for g in groups]


def check_score(check: dict) -> float:
    """A check's credit in [0, 1]: its partial ``score`` (a metric in its band) or whether it passed."""
    value = check.get("score")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 0.0), 1.0)
    return float(bool(check.get("passed")))


def checks_fraction(checks: list[dict], weights: dict[str, float] | None = None) -> float:
    """The fraction sub-checks earn: the spec's ``weights`` when every check names one of its groups,
    else the weights recorded with the checks (equal when none are recorded)."""
    if not checks:
        return 0.0
    groups = [c.get("group") for c in checks]
    if weights and all(g in weights for g in groups):
        shares = check_weights(groups, weights)
    else:
        shares = [max(float(c.get("weight", 1.0)), 0.0) for c in checks]
    total = math.fsum(shares)
    if not total:
        return 0.0
    return _unit(round(math.fsum(s * check_score(c) for s, c in zip(shares, checks)) / total, 12))


def spec_band(question: Question, profile: str, measurements: dict) -> Band | None:
    """The spec's band for ``profile``, resolved against the recorded reference figure when relative;
    without a spec band, the band recorded with the figure."""
    recorded = measurements.get("band")
    if not isinstance(recorded, dict):
        return None
    declared = question.bands.get(profile) if question is not None else None
    if declared is None:
        return Band(float(recorded["full_at"]), float(recorded["zero_at"]))
    if declared.relative_to == "reference":
        reference = recorded.get("reference")
        return None if reference is None else declared.resolve(float(reference))
    return declared


def passes_shuffled_check(shuffled: float, question, resolved_band: Band) -> bool:
    """True when the figure after training on shuffled labels is under the declared limit and under
    the full-marks line: a model that ignores its labels scores the same either way, so a lookup
    that passes this check can never get full marks."""
    return shuffled <= question.permuted_limit and shuffled < resolved_band.full_at


def passes_perturbation_check(drop: float, question) -> bool:
    """True unless the model lost more than ``perturbed_drop_limit`` of accuracy when the test images
    moved by one intensity level (it recognised the exact public images)."""
    return question.perturbed_drop_limit is None or drop <= question.perturbed_drop_limit


#: A model's accuracy drop on test images moved one pixel may exceed the reference KNN's by this
#: many standard errors (never less than the question's ``perturbed_drop_limit``) before it is flagged.
SHIFT_EXCESS_SE = 3.0


def shift_excess_limit(se: float, question) -> float:
    """How much more than the reference's a model's accuracy may fall on test images moved one pixel."""
    return max(question.perturbed_drop_limit or 0.0, SHIFT_EXCESS_SE * float(se))


def passes_shift_check(excess: float, se: float, question) -> bool:
    """True unless the model's drop on shifted test images exceeds the reference's by more than the limit
    (it recognised the exact public images by their pixels, not their digits)."""
    return question.perturbed_drop_limit is None or excess <= shift_excess_limit(se, question)


#: A spam model's accuracy drop on rewritten test emails (new headers, the subject reordered, one line
#: of text left out) may exceed the reference pipeline's on the same emails by this many standard
#: errors, and at least by REWRITE_EXCESS_FLOOR, before it is flagged: it recognises the exact public
#: emails.
REWRITE_EXCESS_SE = 3.0
REWRITE_EXCESS_FLOOR = 0.01


def rewrite_excess_limit(se: float) -> float:
    """How much more than the reference's a spam model's accuracy may fall on rewritten emails."""
    return max(REWRITE_EXCESS_FLOOR, REWRITE_EXCESS_SE * float(se))


def passes_rewrite_check(excess: float, se: float) -> bool:
    return excess <= rewrite_excess_limit(se)


def integrity_failures(measurements: dict, question: Question, band: Band | None) -> list[str]:
    """Why the question's figure is not counted under ``question``'s limits (empty: it is)."""
    failures = []
    shuffled = measurements.get("shuffled_labels")
    if isinstance(shuffled, dict) and "accuracy" in shuffled and question.permuted_limit is not None:
        full_line = band if band is not None else Band(math.inf, 0.0)  # no band: only the declared limit
        accuracy = float(shuffled["accuracy"])
        if not passes_shuffled_check(accuracy, question, full_line):
            failures.append(f"after training on shuffled labels the model still scores {accuracy:.3f} (limit "
                            f"{min(question.permuted_limit, full_line.full_at):.3f}): these predictions do not "
                            "come from the training data")
    perturbation = measurements.get("perturbation")
    if isinstance(perturbation, dict) and "drop" in perturbation:
        drop = float(perturbation["drop"])
        if not passes_perturbation_check(drop, question):
            failures.append(f"accuracy drops by {drop:.4f} when the test images move by one intensity level "
                            f"(limit {question.perturbed_drop_limit}): the model recognises the exact public "
                            "images")
    shift = measurements.get("shift")
    if isinstance(shift, dict) and "excess" in shift and "se" in shift:
        excess, se = float(shift["excess"]), float(shift["se"])
        if not passes_shift_check(excess, se, question):
            failures.append(f"accuracy drops by {excess:.4f} more than the reference's when the test images move by "
                            f"one pixel and turn a few degrees (limit {shift_excess_limit(se, question):.4f}): the "
                            "model recognises the exact public images")
    rewritten = measurements.get("rewritten_emails")
    if isinstance(rewritten, dict) and "excess" in rewritten and "se" in rewritten:
        excess, se = float(rewritten["excess"]), float(rewritten["se"])
        if not passes_rewrite_check(excess, se):
            failures.append(f"accuracy drops by {excess:.4f} more than the reference's when the test emails are "
                            f"rewritten (limit {rewrite_excess_limit(se):.4f}): the model recognises the exact "
                            "public emails")
    return failures


def score(measurements: dict, question: Question, profile: str) -> Scored | None:
    """Score ``measurements`` under ``question``'s spec for ``profile``; None when they hold nothing
    that decides a score (the grader recorded only plain figures)."""
    band = spec_band(question, profile, measurements) if "band" in measurements else None
    if band is not None:
        fraction = _unit(band.credit(float(measurements["band"]["value"])))
    elif isinstance(measurements.get("checks"), list):
        fraction = checks_fraction(measurements["checks"], question.weights if question else None)
    else:
        return None
    failures = integrity_failures(measurements, question, band) if question is not None else []
    if failures:
        fraction = 0.0
    return Scored(fraction, status_for(fraction), band, failures)


def status_for(points: float, max_points: float = 1.0) -> str:
    """A scored question's status from the points it earned of ``max_points`` (the default 1: a
    fraction): "passed" with all of them, "partial" with some, "failed" with none."""
    if points >= max_points:
        return "passed"
    return "partial" if points > 0 else "failed"


def bounded_points(points: float, max_points: float) -> float:
    """Points within [0, max_points] (NaN and negative maxima count as 0), rounded as results store them."""
    top = max_points if isinstance(max_points, (int, float)) and math.isfinite(max_points) and max_points > 0 else 0.0
    if not isinstance(points, (int, float)) or not math.isfinite(points):
        return 0.0
    return round(min(max(float(points), 0.0), top), 4)


def _unit(value: float) -> float:
    return min(max(float(value), 0.0), 1.0) if math.isfinite(value) else 0.0
