"""Wake-ups inside one ``serve run`` process.

The database is the system of record, and the grader threads and the event streams poll it
(another host's writes reach them only that way). Within one process they need not wait for their
next poll: queuing a job rings :data:`jobs_queued`, and an idle grader thread claims at once;
storing a question's result or a submission's new status rings :data:`results_stored`, and an
open event stream reads at once. A bell rings after the transaction commits, so whoever wakes
sees the row. A bell counts its rings, so a ring between a poll and the wait is never lost; a
missed one (another process) costs one poll interval, as before.
"""

from __future__ import annotations

import threading

from django.db import transaction


class Bell:
    """A counter that threads wait on until it moves."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    def count(self) -> int:
        """The rings so far: take it before a poll, and pass it to :meth:`wait` after."""
        with self._condition:
            return self._rings

    def ring(self) -> None:
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    def ring_on_commit(self) -> None:
        """Ring once the current transaction commits (at once outside one)."""
        transaction.on_commit(self.ring)

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for a ring after ``seen`` (a :meth:`count`); whether one came."""
        with self._condition:
            return self._condition.wait_for(lambda: self._rings != seen, timeout)


#: A job was queued (a new submission, or a job given back for another attempt).
jobs_queued = Bell()
#: A submission's question result or status was stored.
results_stored = Bell()
