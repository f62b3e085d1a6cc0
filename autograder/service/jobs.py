"""The job queue is the ``Job`` table.

    enqueue   a Job for a new Submission; a queued job of the same student, assignment and kind
              is marked ``replaced`` in the same transaction (its submission too)
    claim     the next job (checks before grades, then oldest) that is queued, or running with an
              expired lease, and under ``max_attempts``: ``SELECT ... FOR UPDATE SKIP LOCKED`` where
              the database has it (PostgreSQL), else one atomic ``UPDATE`` (SQLite)
    renew     extends a lease its holder still has
    complete  stores the result, only for the lease's holder: a grader whose lease was taken over
              stores nothing, so a job is never graded twice into the database
    release   gives a job back after a failure that is not the student's (another attempt), or
              fails it after its last attempt
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from autograder.service.models import Job, Submission
from autograder.service.wakeup import jobs_queued, results_stored

LEASE_SECONDS = 60


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(submission: Submission) -> Job:
    """Queue ``submission``; call inside the transaction that created it."""
    older = Job.objects.filter(status=Job.Status.QUEUED, submission__student=submission.student,
                               submission__assignment=submission.assignment, submission__kind=submission.kind)
    replaced = list(older.values_list("submission_id", flat=True))
    if replaced:
        older.update(status=Job.Status.REPLACED, finished=timezone.now())
        Submission.objects.filter(pk__in=replaced).update(status=Submission.Status.REPLACED,
                                                          error=f"replaced by submission {submission.pk}")
        results_stored.ring_on_commit()
    job = Job.objects.create(submission=submission, priority=Job.PRIORITY[submission.kind])
    jobs_queued.ring_on_commit()
    return job


def _claimable(now):
    return (Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, lease_until__lt=now)) & Q(
        attempts__lt=F("max_attempts"))


def claim(worker: str | None = None, lease_seconds: float = LEASE_SECONDS) -> Job | None:
    """Take the next job with a lease; None when there is none."""
    fail_exhausted()
    now = timezone.now()
    token = secrets.token_hex(16)
    lease = dict(status=Job.Status.RUNNING, lease_token=token, lease_until=now + timedelta(seconds=lease_seconds),
                 attempts=F("attempts") + 1, worker=worker or worker_name())
    candidates = Job.objects.filter(_claimable(now)).order_by("priority", "id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            job = candidates.select_for_update(skip_locked=True).only("id").first()
            if job is None:
                return None
            Job.objects.filter(pk=job.pk).update(**lease)
        else:  # one statement: SQLite runs it under its write lock, so two claimers never get the same job
            if not Job.objects.filter(pk__in=candidates.values("pk")[:1]).filter(_claimable(now)).update(**lease):
                return None
        job = Job.objects.select_related("submission").get(lease_token=token)
        Submission.objects.filter(pk=job.submission_id).update(status=Submission.Status.RUNNING, started=now,
                                                                first_result=None)
        results_stored.ring_on_commit()
    return job


def renew(job: Job, lease_seconds: float = LEASE_SECONDS) -> bool:
    """Extend the lease; False when it is no longer ours (it expired and another grader took the job)."""
    until = timezone.now() + timedelta(seconds=lease_seconds)
    return bool(Job.objects.filter(pk=job.pk, lease_token=job.lease_token, status=Job.Status.RUNNING)
                .update(lease_until=until))


def complete(job: Job, **fields) -> bool:
    """Store the outcome on the submission (``fields``) and finish the job, if we still hold its lease."""
    status = fields.get("status", Submission.Status.GRADED)
    with transaction.atomic():
        held = Job.objects.filter(pk=job.pk, lease_token=job.lease_token, status=Job.Status.RUNNING).update(
            status=Job.Status.DONE if status == Submission.Status.GRADED else Job.Status.FAILED,
            finished=timezone.now(), lease_until=None)
        if held:
            Submission.objects.filter(pk=job.submission_id).update(finished=timezone.now(), **fields)
            results_stored.ring_on_commit()
    return bool(held)


def release(job: Job, reason: str) -> bool:
    """A failure that is not the student's: queue the job again, or fail it after its last attempt."""
    with transaction.atomic():
        current = Job.objects.filter(pk=job.pk, lease_token=job.lease_token, status=Job.Status.RUNNING).first()
        if current is None:
            return False
        if current.attempts >= current.max_attempts:
            return complete(job, status=Submission.Status.FAILED,
                            error=f"the grader failed {current.attempts} times: {reason}")
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, lease_token=None, lease_until=None,
                                             last_error=reason)
        Submission.objects.filter(pk=job.submission_id).update(status=Submission.Status.QUEUED)
        jobs_queued.ring_on_commit()
        results_stored.ring_on_commit()
    return True


def fail_exhausted() -> int:
    """Jobs whose last lease expired after their last attempt fail (their grader kept dying)."""
    now = timezone.now()
    with transaction.atomic():
        stuck = Job.objects.filter(status=Job.Status.RUNNING, lease_until__lt=now, attempts__gte=F("max_attempts"))
        ids = list(stuck.values_list("submission_id", flat=True))
        if not ids:
            return 0
        stuck.update(status=Job.Status.FAILED, finished=now, lease_token=None)
        Submission.objects.filter(pk__in=ids).update(
            status=Submission.Status.FAILED, error="the grader stopped (killed or lost) on every attempt")
    return len(ids)


def recover_local(host: str | None = None) -> int:
    """Leases held by dead processes of this host end now (a ``serve run`` killed with -9 restarts)."""
    host = host or socket.gethostname()
    dead = []
    for job in Job.objects.filter(status=Job.Status.RUNNING, worker__startswith=f"{host}:"):
        pid = job.worker.rsplit(":", 1)[1].split("/", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):
            dead.append(job.pk)
    return Job.objects.filter(pk__in=dead, status=Job.Status.RUNNING).update(lease_until=timezone.now()
                                                                            - timedelta(seconds=1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def depth() -> dict[str, int]:
    """Jobs waiting and running, by kind."""
    pending = Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    return {kind: pending.filter(submission__kind=kind).count() for kind in Submission.Kind.values}
