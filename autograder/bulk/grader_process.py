"""What a ``grade-all`` grader process sets up for itself when it starts: the entry point's own
signal handling, kept out of the judge."""

from __future__ import annotations

import os
import signal

from autograder.judge import client


def keep_sandboxes() -> None:
    """Keep one sandbox in this grader process from submission to submission
    (:func:`autograder.judge.client.keep_sandboxes`), and end the process on SIGTERM (how
    ``grade-all`` stops its grader processes) once the kept sandbox's folder is removed; the
    sandbox dies with the process (``--die-with-parent``)."""
    keeper = client.keep_sandboxes()

    def end(signum, frame):
        keeper.remove_home()
        os._exit(0)

    signal.signal(signal.SIGTERM, end)
