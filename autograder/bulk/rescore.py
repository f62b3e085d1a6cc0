"""Rescore a graded batch under a changed ``questions.toml`` without running any student code.

Every question records what it measured (``QuestionResult.measurements``, see
``Credit.band`` / ``Credit.checks``). Rescoring re-applies the spec to those figures:

- ``band``: the profile's band from the spec, re-resolved against the recorded reference
  figure when it is relative, then the same linear credit;
- ``checks``: the proportion of passed checks (or each check's recorded partial ``score``),
  weighted by each check's recorded ``weight`` (1 when none is recorded);
- the integrity checks the exercise graders apply, with the same rules
  (``judge.scoring.passes_shuffled_check``, ``passes_perturbation_check``): a recorded
  ``shuffled_labels`` accuracy above the spec's ``permuted_limit`` or at the full-marks line,
  or a recorded ``perturbation`` drop above ``perturbed_drop_limit``, scores 0;
- points are rescaled to the spec's points.

Only a score the measurements decided is recomputed: a question whose recorded points do not
follow from its recorded measurements (an assertion failed after a figure was recorded, an
error, a timeout, a crash) keeps its fraction and status, so what ended in error stays 0.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

from autograder.judge.scoring import (Check, Credit, band_feedback, passes_perturbation_check, passes_shift_check,
                                      passes_shuffled_check)
from autograder.results import GradingResult, QuestionResult
from autograder.spec import Band, Question, load_spec

#: Statuses a score decided by measurements can end in; every other status keeps its points' fraction.
SCORED = ("passed", "partial", "failed")
TOLERANCE = 1e-3  # points are rounded to 4 decimals in the results


def measured_fraction(measurements: dict, band: Band | None,
                      question: Question | None = None) -> float | None:
    """The fraction of the points that ``measurements`` earn under ``band`` (None: nothing to go on).

    With ``question``, its integrity checks are re-applied to the recorded figures first."""
    if question is not None and not _passes_integrity_checks(measurements, question, band):
        return 0.0
    if "band" in measurements and band is not None:
        return band.credit(float(measurements["band"]["value"]))
    checks = measurements.get("checks")
    if isinstance(checks, list):
        weights = _check_weights(checks, question)
        total = sum(weights)
        scores = [c["score"] if isinstance(c.get("score"), (int, float)) else float(bool(c.get("passed")))
                  for c in checks]  # a check may carry partial credit (Credit.band_check)
        return sum(w * s for w, s in zip(weights, scores)) / total if total else 0.0
    return None


def _check_weights(checks: list[dict], question: Question | None) -> list[float]:
    """Each check's share: the spec's current group weights when every check names a declared group
    (the same rule as ``Credit.checks``), else the weights recorded when it was graded."""
    groups = [c.get("group") for c in checks]
    if question is not None and question.weights and all(g in question.weights for g in groups):
        return Credit(question.weights)._check_weights(
            [Check(str(c.get("name")), bool(c.get("passed")), group=c.get("group")) for c in checks])
    return [float(c.get("weight", 1.0)) for c in checks]


def _passes_integrity_checks(measurements: dict, question: Question, band: Band | None) -> bool:
    shuffled = measurements.get("shuffled_labels")
    if isinstance(shuffled, dict) and "accuracy" in shuffled and question.permuted_limit is not None:
        full_line = band if band is not None else Band(math.inf, 0.0)  # no band: only the declared limit
        if not passes_shuffled_check(float(shuffled["accuracy"]), question, full_line):
            return False
    shift = measurements.get("shift")
    if isinstance(shift, dict) and "excess" in shift and "se" in shift:
        if not passes_shift_check(float(shift["excess"]), float(shift["se"]), question):
            return False
    perturbation = measurements.get("perturbation")
    if isinstance(perturbation, dict) and "drop" in perturbation:
        return passes_perturbation_check(float(perturbation["drop"]), question)
    return True


def _recorded_band(measurements: dict) -> Band | None:
    band = measurements.get("band")
    return Band(band["full_at"], band["zero_at"]) if band else None


def _spec_band(question: Question, profile: str, measurements: dict) -> Band | None:
    """The spec's band for this profile, resolved against the recorded reference when relative."""
    if "band" not in measurements or profile not in question.bands:
        return None
    band = question.bands[profile]
    if band.relative_to == "reference":
        reference = measurements["band"].get("reference")
        if reference is None:
            return None
        return band.resolve(float(reference))
    return band


def rescore_question(q: QuestionResult, question: Question, profile: str) -> QuestionResult:
    """``q`` under ``question``'s current points and bands; statuses stay consistent with the points."""
    new = copy.deepcopy(q)
    new.max_points = question.points
    old_fraction = q.points / q.max_points if q.max_points else 0.0
    fraction = old_fraction
    decided = q.status in SCORED and bool(q.measurements)
    if decided:
        # Did the measurements decide the recorded score? (If an assertion failed afterwards, they did not.)
        recorded = measured_fraction(q.measurements, _recorded_band(q.measurements))
        decided = recorded is not None and abs(recorded - old_fraction) * max(q.max_points, 1) <= TOLERANCE
    if decided:
        band = _spec_band(question, profile, q.measurements)
        new_fraction = measured_fraction(q.measurements, band, question=question)
        if new_fraction is not None and math.isfinite(new_fraction):
            fraction = new_fraction
            if band is not None:
                _rewrite_band(new, band)
            new.status = "passed" if fraction >= 1 else "partial" if fraction > 0 else "failed"
    new.points = round(question.points * fraction, 4)
    return new


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
    return rescored


def rescore_batch(out: Path, spec: dict[str, Question] | None = None, on_event=None) -> dict:
    """Rewrite every output of the batch in ``out`` under the current questions.toml; runs no student code.

    Returns
    -------
    dict
        The rewritten manifest.
    """
    from autograder.bulk.batch import write_outputs
    from autograder.bulk.store import BatchStore

    store = BatchStore(out)
    manifest = store.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{Path(out) / 'batch.json'} does not exist: rescore needs a folder written by grade-all.")
    spec = spec if spec is not None else load_spec()
    results = {}
    for record in manifest["entries"]:
        result = store.load_result(record)
        if result is None:
            continue
        result = rescore_result(result, spec)
        results[record["id"]] = result
        record.update(score=result.score, max_score=result.max_score,
                      percent=round(100 * result.score / result.max_score, 2) if result.max_score else 0.0)
        store.rewrite_reports(record["id"], result, record)
        if on_event:
            on_event(record, result)
    manifest["rescored"] = True
    store.write_manifest(manifest)
    write_outputs(store, manifest, results)
    return manifest

