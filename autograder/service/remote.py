"""``serve run --executor dask://HOST:PORT``: a claimed job is graded on a Dask cluster.

The database stays the queue of record: a grader thread claims a job with a lease, as always,
then hands that one grading to the cluster and renews the lease while it runs; the result comes
back to the thread, which stores it only if it still holds the lease. The task on a worker runs
the same grading as a cold local grader (``python -m autograder.service.gradejob``, a fresh
process per submission, in the worker's sandbox) on the upload and the data folder's
``questions.toml``, both sent with the task, and sends back its exit code and report files. The
question results reach the page when the task ends (the worker has no path to the database).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPORT_FILES = ("results.json", "report.md", "feedback.html", "grading.json", "error.txt", "progress.jsonl")


def grade_on_worker(upload: bytes, suffix: str, spec: bytes, argv: list[str]) -> dict:
    """On a Dask worker: the grading on these bytes; ``{"code", "files", "log"}``."""
    work = Path(tempfile.mkdtemp(prefix="ch3-service-remote-"))
    try:
        (work / ("upload" + suffix)).write_bytes(upload)
        (work / "questions.toml").write_bytes(spec)
        command = [sys.executable, "-m", "autograder.service.gradejob", str(work / ("upload" + suffix)),
                   str(work / "reports"), *argv, "--spec", str(work / "questions.toml"), "--parent", str(os.getpid())]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=3600)
        reports = work / "reports"
        files = {name: (reports / name).read_text(encoding="utf-8") for name in REPORT_FILES
                 if (reports / name).is_file()}
        return {"code": done.returncode, "files": files, "log": (done.stdout + done.stderr)[-4000:].decode(
            errors="replace")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


class DaskRunner:
    """Grades each job of one grader thread on the cluster at ``dask://HOST:PORT``."""

    def __init__(self, executor: str):
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("--executor dask:// needs Dask: pip install 'ch3-autograder[dask]'") from None
        self.client = Client("tcp://" + executor[len("dask://"):], timeout="30s")  # as grade-all --scheduler

    def start(self, submission, argv: list[str], log: Path) -> "DaskChild":
        upload, reports = Path(argv[0]), Path(argv[1])
        options = list(argv[2:])
        if "--spec" in options:  # the worker gets the file's bytes instead of a local path
            at = options.index("--spec")
            del options[at:at + 2]
        spec = submission.assignment.spec_path.read_bytes()
        future = self.client.submit(grade_on_worker, upload.read_bytes(), upload.suffix, spec, options, pure=False,
                                    key=f"ch3-service-{submission.pk}-{os.urandom(4).hex()}")
        return DaskChild(future, reports, log)

    def close(self) -> None:
        self.client.close()


class DaskChild:
    def __init__(self, future, reports: Path, log: Path):
        self.future, self.reports, self.log = future, reports, log

    def wait(self, timeout: float) -> int | None:
        from distributed import TimeoutError as DaskTimeout, wait

        try:
            wait(self.future, timeout=timeout)
        except (DaskTimeout, TimeoutError):
            return None
        try:
            reply = self.future.result()
        except Exception as exc:  # a worker lost, or the task raised: the job goes back to the queue
            self.log.write_text(f"the cluster could not run the job: {type(exc).__name__}: {exc}")
            return -1
        self.reports.mkdir(parents=True, exist_ok=True)
        for name, text in reply["files"].items():
            (self.reports / name).write_text(text, encoding="utf-8")
        self.log.write_text(reply["log"])
        return int(reply["code"])

    def kill(self) -> None:
        self.future.cancel()
