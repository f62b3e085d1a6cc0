"""Concurrent claims on a service database: ``python tests/service_queue_check.py DIR`` prints JSON.

Run in its own process (Django is configured once per process): the PostgreSQL test points it at a
data folder made with ``serve init --database postgresql://...``.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import timedelta
from pathlib import Path

JOBS, THREADS = 40, 4


def main(data_dir: str) -> dict:
    from autograder.service import setup

    setup(Path(data_dir))
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from autograder.service import jobs
    from autograder.service.models import Assignment, Job, Student, Submission

    assignment = Assignment.objects.get()
    with transaction.atomic():
        for i in range(JOBS):
            user = get_user_model().objects.create_user(f"student-q{i}")
            student = Student.objects.create(user=user, student_id=f"q{i}")
            submission = Submission.objects.create(student=student, assignment=assignment, sha256="0" * 64,
                                                   blob="-", filename="x.zip",
                                                   kind="check" if i % 4 == 0 else "grade")
            jobs.enqueue(submission)
    claimed: list[tuple[int, str]] = []
    lock = threading.Lock()

    def claimer(name):
        from django.db import connection as own

        try:
            while (job := jobs.claim(name)) is not None:
                with lock:
                    claimed.append((job.pk, job.submission.kind))
        finally:
            own.close()
    threads = [threading.Thread(target=claimer, args=(f"t{i}",)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [pk for pk, _ in claimed]
    # one lease runs out: the job is claimed again, and only the new holder can store a result
    expired = Job.objects.order_by("id").first()
    old = Job.objects.get(pk=expired.pk)
    Job.objects.filter(pk=expired.pk).update(lease_until=old.lease_until - timedelta(minutes=10))
    again = jobs.claim("after-expiry")
    return {"vendor": connection.vendor, "skip_locked": connection.features.has_select_for_update_skip_locked,
            "claimed": len(ids), "distinct": len(set(ids)), "jobs": JOBS,
            "reclaimed": again is not None and again.pk == expired.pk and again.attempts == 2,
            "old_holder_stores": jobs.complete(old, status="graded", score=1),
            "new_holder_stores": jobs.complete(again, status="graded", score=2)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
