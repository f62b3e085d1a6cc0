"""A `serve run` killed with -9 while jobs are queued, and started again with the same command:
every acknowledged submission is graded exactly once (a small version of
benchmarks/bench_service_recovery.py)."""

from __future__ import annotations

import csv
import io
import sqlite3
import time

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from autograder.service.client import submit  # noqa: E402
from tests.service_helpers import SOLUTIONS, ServeRun, cli, gradings_logged  # noqa: E402


@pytest.mark.slow
def test_a_serve_run_killed_with_queued_jobs_grades_each_acknowledged_submission_once(tmp_path):
    data = tmp_path / "data"
    cli("serve", "init", str(data))
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\n" + "".join(f"s{n},Student {n},s{n}@example.org\n" for n in range(6)))
    tokens = [row["token"] for row in csv.DictReader(io.StringIO(cli("serve", "students", str(data),
                                                                     str(roster)).stdout))]
    server = ServeRun(data, "--workers", "1")
    try:
        receipts = [submit(server.url, token, SOLUTIONS / "confusion.py", questions=["confusion"])
                    for token in tokens]
        ids = [receipt["id"] for receipt in receipts]
        database = sqlite3.connect(f"file:{data / 'db.sqlite3'}?mode=ro", uri=True, timeout=30)
        queued = database.execute("SELECT COUNT(*) FROM service_job WHERE status = 'queued'").fetchone()[0]
        assert queued >= 3  # one grader: most of them wait when the server dies
        killed = server.kill()
        server.start()  # the same command, the same port
        assert server.process.pid != killed and server.url in receipts[0]["url"]
        deadline = time.monotonic() + 240
        while database.execute("SELECT COUNT(*) FROM service_submission WHERE status IN ('queued', 'running')"
                               ).fetchone()[0]:
            assert time.monotonic() < deadline, server.text()[-3000:]
            time.sleep(0.5)
        submissions = database.execute("SELECT id, status, score FROM service_submission ORDER BY id").fetchall()
        jobs = database.execute("SELECT submission_id, status FROM service_job ORDER BY submission_id").fetchall()
        database.close()
    finally:
        server.stop()
    assert [(i, status, score) for i, status, score in submissions] == [(i, "graded", 10) for i in ids]
    assert jobs == [(i, "done") for i in ids]  # one job each, finished once
    assert gradings_logged(server.text()) == {i: 1 for i in ids}  # each stored exactly once
