"""A warm grading process per grader thread of ``serve run``: ``python -m autograder.service.gradejob
--serve`` imports the grader and starts its sandbox once, then grades one submission at a time
as a cold process would, in a sandbox reset between submissions as ``grade-all``'s grader
processes do (see :mod:`.gradejob`): nothing a submission changes outlives it.

If the warm process dies, the submission it was grading is given back to the queue (like a
crashed cold process) and the next submission starts a new warm process; a grading the
dispatcher stops (its lease was taken over) ends the warm process, its sandbox with it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

#: How long a new warm process may take to import the grader.
START_SECONDS = 120.0
#: How long a warm process may take to end on SIGTERM before it is killed.
STOP_SECONDS = 5.0
LOST = -signal.SIGKILL  # what a grading the warm process could not report on counts as


class WarmUnavailable(RuntimeError):
    """The warm process did not start."""


class WarmRunner:
    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.buffer = b""

    def _ensure(self) -> subprocess.Popen:
        if self.process is not None and self.process.poll() is None:
            return self.process
        self.close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.service.gradejob", "--serve", "--parent", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""
        ready = self.read_answer(START_SECONDS)
        if not ready or "ready" not in ready:
            self.close()
            raise WarmUnavailable("the warm grading process did not start")
        return self.process

    def prepare(self) -> None:
        """Start the warm process now (``serve run`` does, before the first submission arrives)."""
        self._ensure()

    def read_answer(self, timeout: float) -> dict | None:
        """The next answer, or None after ``timeout`` s or when the warm process has gone."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("the warm grading process ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def start(self, submission, argv: list[str], log: Path) -> "WarmChild":
        process = self._ensure()
        process.stdin.write((json.dumps({"argv": argv, "log": str(log)}) + "\n").encode())
        process.stdin.flush()
        started = self.read_answer(START_SECONDS)
        if not started or "pid" not in started:
            self.close()
            raise WarmUnavailable("the warm grading process did not start the grading")
        return WarmChild(self, int(started["pid"]))

    def close(self) -> None:
        """End the warm process: SIGTERM (it removes its sandbox's folder; the sandbox dies with it),
        then SIGKILL if it has not ended within :data:`STOP_SECONDS`."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                stream.close()
        self.process = None


class WarmChild:
    """One grading in the warm process (``pid``: the warm process's)."""

    def __init__(self, runner: WarmRunner, pid: int):
        self.runner, self.pid = runner, pid

    def wait(self, timeout: float) -> int | None:
        try:
            answer = self.runner.read_answer(timeout)
        except EOFError:  # the warm process died while grading: the job goes back to the queue
            self.runner.close()
            return LOST
        return None if answer is None else int(answer["exit"])

    def kill(self) -> None:
        """Stop the grading: the warm process ends with it (the next submission starts another)."""
        self.runner.close()
