"""The service's exports: every submission, the gradebook as CSV, and the Canvas and Moodle gradebook
files, written by ``grade-all``'s own writers (:mod:`autograder.bulk.exports`) from each student's
counted submission, read through the final gate's rules (:func:`autograder.bulk.final.result_verdict`).

    submissions   every submission: status, attempts, score, its page
    csv           every roster student: the counted score, or blank with the reason
    canvas        Canvas's gradebook import, filled in from its gradebook export (``--roster``)
    moodle        Moodle's grading worksheet, filled in from its download (``--moodle-worksheet``)

A student whose counted result is not final (held for review, or the grader or the machine failed
on it), or who has no graded hidden grading, gets no grade in any of them; :class:`Gradebook`'s
``notes`` say who and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from autograder.service.models import Assignment, Student, Submission
from autograder.service.policy import counted_submission

#: Where each LMS's file comes from, for a refusal that names what to pass.
GRADEBOOK_FILES = {
    "canvas": ("--roster", "Canvas's gradebook export (Grades > Export > Export Entire Gradebook)"),
    "moodle": ("--moodle-worksheet", "Moodle's grading worksheet (the assignment's View all submissions > "
                                     "Download grading worksheet)"),
}


class ExportRefused(ValueError):
    """A gradebook file cannot be written; ``str`` is the one-line reason."""


def _url(submission: Submission) -> str:
    return settings.BASE_URL.rstrip("/") + reverse("submission", args=[submission.pk])


def _figure(value) -> str:
    return "" if value is None else f"{value:g}"


def _first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else ""


# ------------------------------------------------------------------ the final grades

@dataclass
class FinalGrades:
    """Every roster student's grade as the gradebook exports see it."""

    students: list[Student]
    counted: dict[str, Submission]                         # student id -> the counted submission
    results: dict = field(default_factory=dict)            # student id -> its final GradingResult
    blank: dict[str, str] = field(default_factory=dict)    # student id -> why no grade is exported
    not_final: dict[str, str] = field(default_factory=dict)  # the blanks whose counted result is not final

    @property
    def points(self) -> dict[str, float]:
        """The counted score of each final result: after the late penalty."""
        return {sid: self.counted[sid].score for sid in self.results}


def _why_not_graded(student: Student, assignment: Assignment) -> str:
    gradings = Submission.objects.filter(student=student, assignment=assignment, kind=Submission.Kind.GRADE)
    waiting = gradings.filter(status__in=(Submission.Status.QUEUED, Submission.Status.RUNNING)).count()
    if waiting:
        return f"not graded yet: {waiting} hidden grading(s) queued or running"
    failed = gradings.filter(status=Submission.Status.FAILED).order_by("-created", "-id")
    if failed:
        return (f"could not be graded: {failed.count()} hidden grading(s) failed, the last with: "
                f"{_first_line(failed[0].error) or 'no reason recorded'}")
    return "not graded"


def final_grades(assignment: Assignment | None) -> FinalGrades:
    """Each roster student's counted submission, judged by the final gate's rules."""
    from autograder.bulk.final import Verdict, result_verdict
    from autograder.results import GradingResult

    grades = FinalGrades(students=list(Student.objects.order_by("student_id")), counted={})
    for student in grades.students:
        sid = student.student_id
        counted = counted_submission(student, assignment) if assignment else None
        if counted is None:
            grades.blank[sid] = _why_not_graded(student, assignment) if assignment else "not graded"
            continue
        grades.counted[sid] = counted
        try:
            verdict = result_verdict(sid, GradingResult.from_dict(json.loads(counted.grading_json)))
        except (ValueError, TypeError, KeyError, AttributeError):
            verdict = Verdict(sid, reason="its stored result is not a readable result")
        if verdict.final:
            grades.results[sid] = verdict.result
        else:
            grades.blank[sid] = grades.not_final[sid] = f"submission #{counted.pk}: {verdict.reason}"
    return grades


# ------------------------------------------------------------------ CSV

def submission_rows():
    yield ["id", "student", "status", "attempts", "score", "max_score", "url"]
    for s in Submission.objects.select_related("student", "job").order_by("id"):
        job = getattr(s, "job", None)
        yield [s.pk, s.student.student_id, s.status, job.attempts if job else 0, _figure(s.score),
               _figure(s.max_score), _url(s)]


def gradebook_rows(assignment: Assignment):
    """One row per roster student for ``assignment``: the counted score when it is final, else blank with
    the reason as status."""
    grades, total = final_grades(assignment), _figure(assignment.total())
    yield ["id", "name", "email", "score", "max_score", "late_days", "submission", "status", "url"]
    for student in grades.students:
        sid = student.student_id
        counted = grades.counted.get(sid)
        if sid in grades.blank:
            yield [sid, student.name, student.email, "", "", counted.late_days if counted else "",
                   counted.pk if counted else "", grades.blank[sid], _url(counted) if counted else ""]
        else:
            yield [sid, student.name, student.email, _figure(counted.score), total,
                   counted.late_days, counted.pk, counted.status, _url(counted)]


# ------------------------------------------------------------------ Canvas and Moodle

@dataclass
class Gradebook:
    """An LMS gradebook file's text, and what a person should know about it (one line each)."""

    text: str
    notes: list[str]


def _notes(grades: FinalGrades, matched: set[str], lms: str) -> list[str]:
    notes = [f"{sid}: no grade exported: {reason}" for sid, reason in sorted(grades.blank.items())
             if sid in matched]
    notes += [f"{sid}: not in the {lms} file (no row matches its id or email): its grade is not exported"
              for sid in sorted(grades.results) if sid not in matched]
    return notes


def _checked_selection(assignment: Assignment, partial_export: bool) -> None:
    from autograder.bulk.exports import check_gradebook_selection

    try:
        check_gradebook_selection(assignment.questions, partial_export=partial_export, spec=assignment.spec_path)
    except ValueError as exc:
        raise ExportRefused(f"the assignment grades only {', '.join(assignment.questions)}: "
                            + str(exc).replace("-q grades", "that is")) from None


def gradebook(format: str, source: Path | None, assignment: Assignment, *, assignment_column: str | None = None,
              partial_export: bool = False) -> Gradebook:
    """The ``canvas`` or ``moodle`` gradebook file, filled in from ``source`` (the LMS's own download:
    it says who the students are there) with every matched student's final grade.

    Raises
    ------
    ExportRefused
        No ``source``, one that is not the LMS's file or matches none of the students, or the
        assignment grades a subset of the questions without ``partial_export``.
    """
    from autograder.bulk import exports
    from autograder.bulk.inputs import Entry, LayoutError, apply_roster, read_roster

    option, what = GRADEBOOK_FILES[format]
    if source is None:
        raise ExportRefused(f"--format {format} fills in {what}: pass it with {option} FILE")
    _checked_selection(assignment, partial_export)
    grades = final_grades(assignment)
    total = assignment.total()
    try:
        if format == "canvas":
            people = {s.student_id: Entry(id=s.student_id, source=f"student {s.student_id}", name=s.name,
                                          email=s.email) for s in grades.students}
            apply_roster(list(people.values()), read_roster(source))  # grade-all's matching
            matched = {sid for sid, e in people.items() if e.lms.get("roster")}
            entries = [{**e.manifest(), "status": "graded" if sid in grades.results else "not graded"}
                       for sid, e in people.items() if sid in matched]
            new_id = {sid: e.id for sid, e in people.items()}  # the roster's SIS id, where it has one
            text = exports.canvas_import_text(
                entries, {new_id[sid]: r for sid, r in grades.results.items() if sid in matched}, source,
                assignment_column, partial_export=partial_export,
                points={new_id[sid]: p for sid, p in grades.points.items()}, total=total)
        else:
            found = exports.moodle_participants(source, [{"id": s.student_id, "email": s.email}
                                                         for s in grades.students])
            matched = set(found)
            entries = [{"id": s.student_id, "name": s.name, "email": s.email, "moodle_participant": found[s.student_id],
                        "status": "graded" if s.student_id in grades.results else "not graded"}
                       for s in grades.students if s.student_id in matched]
            text = exports.moodle_worksheet_text(
                entries, {sid: r for sid, r in grades.results.items() if sid in matched}, source,
                partial_export=partial_export, not_final=grades.not_final, points=grades.points, total=total)
    except LayoutError as exc:
        raise ExportRefused(" ".join(str(exc).split())) from None
    if grades.students and not matched:
        raise ExportRefused(f"{source} matches none of the service's {len(grades.students)} student(s) by id or "
                            f"email: is it this course's {format.capitalize()} file?")
    return Gradebook(text, _notes(grades, matched, format.capitalize()))
