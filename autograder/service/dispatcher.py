"""The dispatcher of ``serve run``: threads that claim jobs (:mod:`.jobs`), grade each in a grading
process (:mod:`.gradejob`: the thread's warm grading process, a fresh one, or one on a Dask
worker: :func:`make_runner`), renew the lease while it runs, copy each question's result into
the database as the grading reports it (:class:`ProgressRelay`), and store the result."""

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
import time
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from autograder.service import jobs, wakeup
from autograder.service.gradejob import PROGRESS_FILE
from autograder.service.models import Job, QuestionProgress, Submission
from autograder.service.policy import penalised

log = logging.getLogger("autograder.service")
POLL_SECONDS = 0.5
#: How often a grader looks for new question results (and its child's end) while it grades.
PROGRESS_SECONDS = 0.2


def isolation():
    """The service's isolation policy (settings.ALLOW_WEAK_SANDBOX: resource limits only where
    bubblewrap cannot start, opted in by the staff; else bubblewrap or nothing)."""
    from autograder.options import Isolation

    return Isolation.ALLOW_WEAK if settings.ALLOW_WEAK_SANDBOX else Isolation.STRICT


def job_argv(submission: Submission, reports: Path) -> list[str]:
    """The grading's arguments for ``submission`` (see :mod:`.gradejob`): the upload, the reports'
    folder and the :class:`~autograder.options.GradingOptions` as JSON (validated where it grades, against
    the assignment's copy of questions.toml)."""
    assignment = submission.assignment
    check = submission.kind == "check"
    options = {"profile": "quick" if check else assignment.profile,
               "questions": list(submission.questions or assignment.questions),
               "visibilities": ["public"] if check else ["public", "hidden"],
               "limits": {"timeout": assignment.timeout} if assignment.timeout else {},
               "isolation": isolation().value}
    return [str(settings.DATA_DIR / submission.blob), str(reports), "--name", submission.filename,
            "--spec", str(assignment.spec_path), "--options", json.dumps(options)]


class ProgressRelay:
    """Copies the child's progress.jsonl into ``QuestionProgress`` rows as lines appear."""

    def __init__(self, submission: Submission, path: Path):
        self.submission, self.path, self.offset, self.first = submission, path, 0, True
        earlier = QuestionProgress.objects.filter(submission=submission)  # an earlier attempt's: replaced,
        self.seq = max(earlier.values_list("seq", flat=True), default=0)  # numbered on so a stream resumes
        earlier.delete()

    def pump(self) -> int:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return 0
        complete = data[:data.rfind(b"\n") + 1]
        if not complete:
            return 0
        self.offset += len(complete)
        rows = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        now = timezone.now()
        with transaction.atomic():
            for question in rows:
                self.seq += 1
                QuestionProgress.objects.create(submission=self.submission, seq=self.seq, question=question,
                                                created=now)
            if rows and self.first:
                self.first = False
                Submission.objects.filter(pk=self.submission.pk).update(first_result=now)
            if rows:
                wakeup.results_stored.ring_on_commit()
        return len(rows)


def grade_job(job: Job, lease_seconds: float = jobs.LEASE_SECONDS, runner=None) -> str:
    """Grade one claimed job and store its outcome; returns what happened ("graded", "failed",
    "retry", "lost": the lease was taken over and nothing was stored). ``runner`` runs the
    grading: :class:`ColdRunner` (default), :class:`~autograder.service.warmslot.WarmRunner`
    or :class:`~autograder.service.remote.DaskRunner`."""
    submission = Submission.objects.select_related("assignment").get(pk=job.submission_id)
    out = Path(tempfile.mkdtemp(prefix=f"ch3-service-job{job.pk}-"))
    runner = runner or ColdRunner()
    try:
        reports = out / "reports"
        reports.mkdir()
        relay = ProgressRelay(submission, reports / PROGRESS_FILE)
        try:
            child = runner.start(submission, job_argv(submission, reports), out / "log.txt")
        except Exception as exc:  # noqa: BLE001 (no warm process, no cluster: another attempt, not a hang)
            return "retry" if jobs.release(job, f"the grader could not start: {type(exc).__name__}: {exc}") else "lost"
        renewed = time.monotonic()
        while True:
            code = child.wait(PROGRESS_SECONDS)
            relay.pump()
            if code is not None:
                break
            if time.monotonic() - renewed > lease_seconds / 3:
                renewed = time.monotonic()
                if not jobs.renew(job, lease_seconds):
                    child.kill()
                    return "lost"
        if code == 0 or (code == 3 and (reports / "grading.json").is_file()):
            return _store(job, submission, reports, grader_failed=code == 3)
        if code == 2:
            reason = (reports / "error.txt").read_text().strip() if (reports / "error.txt").is_file() else "cannot grade"
            return "failed" if jobs.complete(job, status=Submission.Status.FAILED, error=reason) else "lost"
        log_file = out / "log.txt"
        tail = log_file.read_bytes()[-2000:].decode(errors="replace") if log_file.is_file() else ""
        return "retry" if jobs.release(job, f"the grader exited with {code}: {tail}") else "lost"
    finally:
        shutil.rmtree(out, ignore_errors=True)


class _Child:
    def __init__(self, process: subprocess.Popen):
        self.process = process

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class ColdRunner:
    """A fresh ``python -m autograder.service.gradejob`` per submission (pays the imports each time)."""

    def start(self, submission: Submission, argv: list[str], log: Path) -> _Child:
        with open(log, "wb") as output:
            return _Child(subprocess.Popen([sys.executable, "-m", "autograder.service.gradejob", *argv,
                                            "--parent", str(os.getpid())],
                                           stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))

    def close(self) -> None:
        pass


def student_result(result, filename: str, spec: dict | None = None) -> dict:
    """What the submission's owner may read: ``questions.toml``'s disclosure applied (as in their
    feedback.html), without the grader's tracebacks or the staff's data flags."""
    from autograder.disclosure import for_students

    view = dataclasses.replace(for_students(result, spec), submission=filename, grader_errors=[], data_flags=[])
    return view.to_dict()


def _store(job: Job, submission: Submission, reports: Path, *, grader_failed: bool) -> str:
    from autograder.results import GradingResult
    from autograder.spec import load_spec

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
        student_result=student_result(result, submission.filename, load_spec(submission.assignment.spec_path)),
        feedback_html=(reports / "feedback.html").read_text(encoding="utf-8"),
        report_md=(reports / "report.md").read_text(encoding="utf-8"),
        grading_json=json.dumps(result.to_dict()))
    return "graded" if stored else "lost"


def make_runner(executor: str):
    """The runner of one grader thread: ``warm`` (a warm grading process of its own, its sandbox
    reset between submissions), ``cold`` (a fresh process per submission) or ``dask://HOST:PORT``."""
    if executor == "cold":
        return ColdRunner()
    if executor == "warm":
        from autograder.service.warmslot import WarmRunner

        return WarmRunner()
    if executor.startswith("dask://"):
        from autograder.service.remote import DaskRunner

        return DaskRunner(executor)
    raise ValueError(f"--executor is warm, cold or dask://HOST:PORT, not {executor!r}")


class Dispatcher:
    """``threads`` loops of claim, grade, store until :meth:`stop`; each thread grades through its
    own runner (:func:`make_runner`)."""

    def __init__(self, threads: int = 1, lease_seconds: float = jobs.LEASE_SECONDS, executor: str = "warm"):
        make_runner(executor if not executor.startswith("dask://") else "cold")  # refuse a bad name now
        self.lease_seconds, self.executor = lease_seconds, executor
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
        wakeup.jobs_queued.ring()  # idle threads see the stop now
        for thread in self.threads:
            thread.join(wait)

    def _loop(self, index: int) -> None:
        worker = f"{jobs.worker_name()}/{index}"
        runner = None
        while not self.stopping.is_set():
            close_old_connections()
            try:
                if runner is None:
                    runner = make_runner(self.executor)
                    if hasattr(runner, "prepare"):
                        runner.prepare()  # the warm process imports while the queue is still empty
                seen = wakeup.jobs_queued.count()
                job = jobs.claim(worker, self.lease_seconds)
                if job is None:  # until the next poll, or at once when this process queues a job
                    wakeup.jobs_queued.wait(seen, POLL_SECONDS)
                    continue
                outcome = grade_job(job, self.lease_seconds, runner)
                log.info("submission %s (attempt %d): %s", job.submission_id, job.attempts, outcome)
            except Exception:  # a database hiccup must not end the grader thread
                log.exception("the dispatcher failed; trying again")
                self.stopping.wait(POLL_SECONDS * 4)
        if runner is not None:
            runner.close()
        connection.close()
