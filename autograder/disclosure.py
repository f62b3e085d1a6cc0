"""Oracle limits: what a student sees of each question before the deadline.

Feedback on hidden data is an oracle: a student who resubmits fifty times and reads
the exact hidden accuracy each time can fit the hidden test set. Each question
declares in ``questions.toml`` how much of its result a student sees
(``disclosure = "exact" | "band" | "pass_fail" | "none"``); :func:`for_students`
applies it. Every student-facing renderer (``results.json``, ``report.md``,
``feedback.html``, the terminal table) gets the redacted copy; ``grading.json``
keeps the full figures for staff.

    exact      everything: the figure, its standard error, the reference, the checks, the plots
    band       where the figure lies: full marks, inside the partial-credit band, or zero;
               the band as declared (offsets, not the reference's hidden figure). Partial
               points are withheld: inside a band they are a linear function of the figure.
               A question scored by pass/fail sub-checks shows how many passed (and so its
               points); when one of its checks is itself a figure in a band, that check shows
               only its region and the points are withheld (they would give the figure away).
    pass_fail  full marks or not
    none       only that the question was graded

Failures of the student's own code (timeout, crash, import error, not implemented)
carry no hidden figure and stay visible under "band" and "pass_fail".
"""

from __future__ import annotations

import dataclasses

from autograder.reporters.text import student_visible
from autograder.results import GradingResult, QuestionResult
from autograder.spec import DISCLOSURES, load_spec

#: Statuses that say what the student's code did, not what it scored on hidden data.
CODE_FAILURES = ("timeout", "crashed", "import_error", "error", "not_implemented", "not_run", "grader_error")
WITHHELD = "withheld"

_AFTER = "The exact result is shown after the deadline."


def region(band: dict) -> str:
    """Where a measured figure lies against its band: "full", "partial" or "zero"."""
    value = band.get("value")
    if value is None or not value == value:  # NaN: nothing measured
        return "zero"
    if value >= band["full_at"]:
        return "full"
    return "zero" if value <= band["zero_at"] else "partial"


def _declared_band(question, profile: str) -> dict | None:
    """The band as questions.toml declares it (offsets for relative bands: no hidden reference figure)."""
    declared = question.bands.get(profile) if question else None
    if declared is None:
        return None
    return {"full_at": declared.full_at, "zero_at": declared.zero_at, "relative_to": declared.relative_to}


def redact_question(q: QuestionResult, disclosure: str, *, declared_band: dict | None = None,
                    keep_points: bool = False) -> QuestionResult:
    """A copy of ``q`` showing only what ``disclosure`` allows (see the module docstring).

    Parameters
    ----------
    q : QuestionResult
        The full result, as the grader recorded it.
    disclosure : {"exact", "band", "pass_fail", "none"}
    declared_band : dict, optional
        The question's band as declared (full_at, zero_at, relative_to), shown under "band".
    keep_points : bool
        Keep the real points (Gradescope's results.json, whose scores are the grade and which
        Gradescope itself holds back for hidden questions until grades are published).

    Returns
    -------
    QuestionResult
        ``q`` itself for "exact", else a redacted copy whose ``measurements`` hold only
        ``{"disclosure": ..., ...what the level allows}``.
    """
    if disclosure not in DISCLOSURES:
        raise ValueError(f"The 'disclosure' parameter must be one of {DISCLOSURES}. Got {disclosure!r} instead.")
    if q.status == "held":  # pending review: the student reads only that (no figure, no points, no evidence)
        from autograder.policy.review import HELD_TEXT

        return dataclasses.replace(q, points=0.0, feedback=HELD_TEXT, measurements={"disclosure": disclosure,
                                                                                   "held": True})
    if disclosure == "exact":
        return q
    full = q.points >= q.max_points
    shown = {"disclosure": disclosure}
    if q.status in CODE_FAILURES and disclosure != "none":
        # What the student's own code did (its traceback, its output): no hidden figure in it.
        return dataclasses.replace(q, measurements=shown)
    band = q.measurements.get("band")
    checks = q.measurements.get("checks")
    if disclosure == "band":
        if band:
            shown["band"] = {"metric": band.get("metric"), "region": region(band), "declared": declared_band}
            where = {"full": "at or above the full-marks line",
                     "partial": "inside the partial-credit band",
                     "zero": "at or below the zero line"}[shown["band"]["region"]]
            text = f"Your {band.get('metric', 'figure')} lies {where}."
            if declared_band:
                text += " " + _describe(declared_band)
        elif checks:
            banded = [c for c in checks if _is_figure(c)]
            plain = [c for c in checks if not _is_figure(c)]
            passed = sum(bool(c.get("passed")) for c in plain)
            shown["checks_passed"], shown["checks_total"] = passed, len(plain)
            text = f"{passed}/{len(plain)} checks passed." if plain else ""
            for c in banded:
                where = region(c["band"]) if isinstance(c.get("band"), dict) else \
                    ("full" if c.get("passed") else "partial" if _partial(c) else "zero")
                shown.setdefault("banded_checks", []).append({"metric": (c.get("band") or {}).get("metric"),
                                                              "region": where})
                text += f" {(c.get('band') or {}).get('metric') or c.get('name')}: {_REGION_TEXT[where]}."
            text = text.strip()
        else:
            text = "Full marks." if full else ("No credit." if q.points <= 0 else "Partial credit.")
        # A count of passed pass/fail checks fixes the points and reveals nothing more; a figure
        # inside a band (the question's or one check's) would be recoverable from them.
        visible_points = full or q.points <= 0 or (checks and not band and not any(_partial(c) for c in checks))
    elif disclosure == "pass_fail":
        text = "Full marks." if full else "Not full marks yet."
        visible_points = full
    else:
        text = "Graded."
        visible_points = False
    status = q.status
    points = q.points
    if not visible_points and not keep_points:
        status, points = WITHHELD, 0.0
        text += f" Points are withheld until the deadline ({q.max_points:g} possible)."
    elif not visible_points:
        text += f" {_AFTER}"
    return dataclasses.replace(q, status=status, points=points, feedback=text, measurements=shown,
                               output=q.output if disclosure != "none" else "")


_REGION_TEXT = {"full": "at or above the full-marks line", "partial": "inside the partial-credit band",
                "zero": "at or below the zero line"}


def _is_figure(check: dict) -> bool:
    """A check scored by where a figure lies in a band (``Credit.band_check``), not pass/fail."""
    return isinstance(check.get("band"), dict) or _partial(check)


def _partial(check: dict) -> bool:
    score = check.get("score")
    return isinstance(score, (int, float)) and not isinstance(score, bool) and 0 < score < 1


def _describe(declared: dict) -> str:
    if declared["relative_to"] == "reference":
        return (f"Full marks from {declared['full_at']:+g} of the reference solution's figure, "
                f"zero at {declared['zero_at']:+g}.")
    return f"Full marks at {declared['full_at']:g}, zero at {declared['zero_at']:g}."


def for_students(result: GradingResult, spec: dict | None = None, *, keep_points: bool = False) -> GradingResult:
    """A copy of ``result`` with every question redacted to its declared disclosure.

    Parameters
    ----------
    result : GradingResult
        The full result (what ``grading.json`` stores).
    spec : dict, optional
        ``{question id: Question}``; default: ``questions.toml``. A question missing from it
        (an old result) is treated as "exact".
    keep_points : bool
        See :func:`redact_question`.
    """
    spec = load_spec() if spec is None else spec
    questions = []
    for q in result.questions:
        question = spec.get(q.id)
        disclosure = question.disclosure if question else "exact"
        questions.append(redact_question(q, disclosure, declared_band=_declared_band(question, result.profile),
                                         keep_points=keep_points))
    return dataclasses.replace(result, questions=[_without_grader_text(q) for q in questions],
                               notes=[student_visible(n) for n in result.notes],
                               data_flags=[])  # the staff's evidence


def _without_grader_text(q: QuestionResult) -> QuestionResult:
    """What the student may read carries no grader frames or paths (staff keep them in grading.json)."""
    return dataclasses.replace(q, feedback=student_visible(q.feedback), output=student_visible(q.output),
                               hint=student_visible(q.hint))
