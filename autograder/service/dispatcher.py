"""The dispatcher of ``serve run``: threads that claim jobs (:mod:`.jobs`), grade each in a child
process (:mod:`.gradejob`), renew the lease while it runs and store the result."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection

from autograder.service import jobs
from autograder.service.models import Job, Submission
from autograder.service.policy import penalised

log = logging.getLogger("autograder.service")
POLL_SECONDS = 0.5


def grade_job(job: Job, lease_seconds: float = jobs.LEASE_SECONDS) -> str:
    """Grade one claimed job and store its outcome; returns what happened ("graded", "failed",
    "retry", "lost": the lease was taken over and nothing was stored)."""
    submission = Submission.objects.select_related("assignment").get(pk=job.submission_id)
    assignment = submission.assignment
    out = Path(tempfile.mkdtemp(prefix=f"ch3-service-job{job.pk}-"))
    try:
        command = [sys.executable, "-m", "autograder.service.gradejob", str(settings.DATA_DIR / submission.blob),
                   str(out / "reports"), "--kind", submission.kind, "--name", submission.filename, "--profile", assignment.profile,
                   "--parent", str(os.getpid())]
        for q in submission.questions or assignment.questions:
            command += ["-q", q]
        if assignment.timeout:
            command += ["--timeout", str(assignment.timeout)]
        if settings.ALLOW_WEAK_SANDBOX:
            command.append("--allow-weak-sandbox")
        with open(out / "log.txt", "wb") as output:
            child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            while True:
                try:
                    code = child.wait(timeout=lease_seconds / 3)
                    break
                except subprocess.TimeoutExpired:
                    if not jobs.renew(job, lease_seconds):
                        child.kill()
                        child.wait()
                        return "lost"
        reports = out / "reports"
        if code == 0 or (code == 3 and (reports / "grading.json").is_file()):
            return _store(job, submission, reports, grader_failed=code == 3)
        if code == 2:
            reason = (reports / "error.txt").read_text().strip() if (reports / "error.txt").is_file() else "cannot grade"
            return "failed" if jobs.complete(job, status=Submission.Status.FAILED, error=reason) else "lost"
        tail = (out / "log.txt").read_bytes()[-2000:].decode(errors="replace")
        return "retry" if jobs.release(job, f"the grader exited with {code}: {tail}") else "lost"
    finally:
        shutil.rmtree(out, ignore_errors=True)


def student_result(result, filename: str) -> dict:
    """What the submission's owner may read: ``questions.toml``'s disclosure applied (as in their
    feedback.html), without the grader's tracebacks or the staff's data flags."""
    from autograder.disclosure import for_students

    view = dataclasses.replace(for_students(result), submission=filename, grader_errors=[], data_flags=[])
    return view.to_dict()


def _store(job: Job, submission: Submission, reports: Path, *, grader_failed: bool) -> str:
    from autograder.results import GradingResult

    result = GradingResult.load(reports / "grading.json")
    if grader_failed and jobs.release(job, "the grader failed on some questions: "
                                           + "; ".join(e.splitlines()[0] for e in result.grader_errors[:3])):
        current = Job.objects.get(pk=job.pk)
        if current.status == Job.Status.QUEUED:
            return "retry"
        return "failed"
    stored = jobs.complete(
        job, status=Submission.Status.GRADED, raw_score=result.score, max_score=result.max_score,
        score=penalised(result.score, submission.late_days, submission.assignment),
        student_result=student_result(result, submission.filename),
        feedback_html=(reports / "feedback.html").read_text(encoding="utf-8"),
        report_md=(reports / "report.md").read_text(encoding="utf-8"),
        grading_json=json.dumps(result.to_dict()))
    return "graded" if stored else "lost"


class Dispatcher:
    """``threads`` loops of claim, grade, store until :meth:`stop`."""

    def __init__(self, threads: int = 1, lease_seconds: float = jobs.LEASE_SECONDS):
        self.lease_seconds = lease_seconds
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), name=f"grader-{i}", daemon=True)
                        for i in range(threads)]

    def start(self) -> "Dispatcher":
        recovered = jobs.recover_local()
        if recovered:
            log.info("took back %d job(s) from a grader that was killed", recovered)
        connection.close()
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(wait)

    def _loop(self, index: int) -> None:
        worker = f"{jobs.worker_name()}/{index}"
        while not self.stopping.is_set():
            close_old_connections()
            try:
                job = jobs.claim(worker, self.lease_seconds)
                if job is None:
                    self.stopping.wait(POLL_SECONDS)
                    continue
                outcome = grade_job(job, self.lease_seconds)
                log.info("submission %s (attempt %d): %s", job.submission_id, job.attempts, outcome)
            except Exception:  # a database hiccup must not end the grader thread
                log.exception("the dispatcher failed; trying again")
                self.stopping.wait(POLL_SECONDS * 4)
        connection.close()
