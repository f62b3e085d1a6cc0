"""CSV exports: every submission, or the gradebook (one row per roster student, graded or not)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from autograder.service.models import Assignment, Student, Submission
from autograder.service.policy import counted_submission


def _url(submission: Submission) -> str:
    return settings.BASE_URL.rstrip("/") + reverse("submission", args=[submission.pk])


def _figure(value) -> str:
    return "" if value is None else f"{value:g}"


def submission_rows():
    yield ["id", "student", "status", "attempts", "score", "max_score", "url"]
    for s in Submission.objects.select_related("student", "job").order_by("id"):
        job = getattr(s, "job", None)
        yield [s.pk, s.student.student_id, s.status, job.attempts if job else 0, _figure(s.score),
               _figure(s.max_score), _url(s)]


def gradebook_rows():
    assignment = Assignment.objects.order_by("id").first()
    yield ["id", "name", "email", "score", "max_score", "late_days", "submission", "status", "url"]
    for student in Student.objects.order_by("student_id"):
        counted = counted_submission(student, assignment) if assignment else None
        if counted is None:
            yield [student.student_id, student.name, student.email, "", "", "", "", "not graded", ""]
        else:
            yield [student.student_id, student.name, student.email, _figure(counted.score),
                   _figure(counted.max_score), counted.late_days, counted.pk, counted.status, _url(counted)]
