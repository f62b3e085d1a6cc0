"""The course rules, applied in this one place: deadline, extension, late window and penalty,
the hourly limit of hidden gradings, and which submission counts (best or last)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from autograder.service.models import Assignment, Extension, Student, Submission


class Refused(Exception):
    """A submission the service will not accept; ``str`` is the one-line reason, ``status`` the HTTP code."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def student_deadline(student: Student, assignment: Assignment) -> datetime | None:
    """The assignment's deadline, or this student's extension."""
    extension = Extension.objects.filter(student=student, assignment=assignment).first()
    return extension.until if extension else assignment.deadline


def last_accepted(student: Student, assignment: Assignment) -> datetime | None:
    """When hidden gradings stop being accepted: the late window's end, or the student's deadline
    (whichever is later); None without a deadline."""
    deadline = student_deadline(student, assignment)
    if deadline is None:
        return None
    return max(deadline, assignment.late_until) if assignment.late_until else deadline


def late_days(student: Student, assignment: Assignment, when: datetime) -> int:
    """Started days after the student's deadline (0 when on time)."""
    deadline = student_deadline(student, assignment)
    if deadline is None or when <= deadline:
        return 0
    return math.ceil((when - deadline) / timedelta(days=1))


def check_allowed(student: Student, assignment: Assignment, kind: str, now: datetime) -> int:
    """Refuse a submission the rules forbid; return its late days.

    Public checks are always accepted (they show only public tests); hidden gradings stop at
    :func:`last_accepted` and are limited to ``assignment.hidden_per_hour`` in any hour.
    """
    if kind != Submission.Kind.GRADE:
        return 0
    cutoff = last_accepted(student, assignment)
    if cutoff is not None and now > cutoff:
        raise Refused(f"the deadline for {assignment.title} was {cutoff:%Y-%m-%d %H:%M} UTC and you have "
                      "no extension past it", 403)
    recent = Submission.objects.filter(student=student, assignment=assignment, kind=Submission.Kind.GRADE,
                                       created__gt=now - timedelta(hours=1)).order_by("created")
    count = recent.count()
    if count >= assignment.hidden_per_hour:
        next_at = recent[count - assignment.hidden_per_hour].created + timedelta(hours=1)
        raise Refused(f"rate limit: {assignment.hidden_per_hour} hidden gradings per hour for {assignment.title}; "
                      f"the next is accepted at {next_at:%H:%M:%S} UTC (checks with --check are not limited)", 429)
    return late_days(student, assignment, now)


def penalised(raw_score: float, days: int, assignment: Assignment) -> float:
    """The score after the late penalty (never below zero)."""
    factor = max(0.0, 1.0 - assignment.late_penalty_percent_per_day * days / 100.0)
    return round(raw_score * factor, 4)


def counted_submission(student: Student, assignment: Assignment) -> Submission | None:
    """The graded hidden grading that counts: the best (ties: the earliest) or the last."""
    graded = Submission.objects.filter(student=student, assignment=assignment, kind=Submission.Kind.GRADE,
                                       status=Submission.Status.GRADED)
    if assignment.counted == Assignment.Counted.LAST:
        return graded.order_by("-created", "-id").first()
    return graded.order_by("-score", "created", "id").first()
