"""The course server (`serve run`) killed with -9 while it grades, and started again.

    python benchmarks/bench_service_recovery.py                    # 40 submissions, 2 to 3 minutes
    python benchmarks/bench_service_recovery.py --submissions 300 --kills 6

`serve run` is one process: the web server (waitress) and the dispatcher (its grader threads) run
in it, so "killing the web server" and "killing the dispatcher" are the same ``kill -9``. Each
grader thread has a warm grading process (``gradejob --serve``, a child of `serve run`), which
grades in a sandbox of its own (its child, kept from submission to submission). The benchmark uploads ``--submissions`` distinct copies of
the reference ``confusion`` module (hidden grading, ``-q confusion``), one per student, at
``--rate`` a second, and meanwhile kills, by the pid it reads from /proc, in turn: the `serve run`
process (then starts it again with the same command, on the same port), a warm grading process,
and a warm grading process's sandbox while it grades, ``--kills`` times each. An upload that gets no receipt (the server was
down) is sent again, as a student would. A kill never takes a job's last attempt (a job killed on
every one of its 3 attempts fails, by design): the killer waits while a running job has had two.

Then, from the database and the server's logs: every acknowledged submission (one that got a
receipt) graded, and stored exactly once (its job done, one "graded" log line), none lost; the
attempts the kills cost; and every student's counted score (`serve export --format csv`) against
a clean `grade-all -q confusion` of the same files.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

from bench_service import MODULE, class_folder, course  # noqa: E402

from autograder.service.client import SubmitError, submit  # noqa: E402
from tests.service_helpers import ServeRun, cli, gradings_logged  # noqa: E402

TARGETS = ("serve run (web server + dispatcher)", "warm grading process", "a grading's sandbox")


def database(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data / 'db.sqlite3'}?mode=ro", uri=True, timeout=30)


def rows(data: Path, query: str, *params) -> list[tuple]:
    with database(data) as db:
        return db.execute(query, params).fetchall()


class Uploads(threading.Thread):
    """Every student uploads once at ``rate`` a second; an upload without a receipt is sent again."""

    def __init__(self, server: ServeRun, tokens: list[str], classroom: Path, count: int, rate: float):
        super().__init__(daemon=True)
        self.server, self.tokens, self.classroom, self.count, self.rate = server, tokens, classroom, count, rate
        self.receipts: dict[int, dict] = {}
        self.resent = 0
        self.refused: dict[int, str] = {}

    def run(self) -> None:
        start = time.perf_counter()
        for n in range(self.count):
            time.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
            while True:
                try:
                    self.receipts[n] = submit(self.server.url, self.tokens[n], self.classroom / f"s{n:03d}",
                                              questions=[MODULE])
                    break
                except (SubmitError, OSError) as exc:
                    if isinstance(exc, SubmitError) and str(exc).startswith("refused (4"):
                        self.refused[n] = str(exc)
                        break
                    self.resent += 1  # the server is down or was killed while it answered
                    time.sleep(0.3)


def recover(folder: Path, data: Path, tokens: list[str], count: int, rate: float, kills: int, every: float,
            workers: int) -> dict:
    classroom = class_folder(folder / "class", count)
    started = time.perf_counter()
    cli("grade-all", str(classroom), "--out", str(folder / "out"), "-j", "2", "-q", MODULE, "--quiet")
    batch = time.perf_counter() - started
    server = ServeRun(data, "--workers", str(workers))
    killed: list[tuple[str, int]] = []
    restarts: list[float] = []
    try:
        uploads = Uploads(server, tokens, classroom, count, rate)
        began = time.perf_counter()
        uploads.start()
        plan = [target for _ in range(kills) for target in TARGETS]
        deadline = time.monotonic() + 60 + count * 6
        while plan and time.monotonic() < deadline:
            time.sleep(every)
            running = rows(data, "SELECT attempts, max_attempts FROM service_job WHERE status = 'running'")
            if any(attempts >= limit - 1 for attempts, limit in running):
                continue  # this kill could take a job's last attempt: wait
            target = plan[0]
            if target == TARGETS[0]:
                pid = server.kill()
                went = time.perf_counter()
                server.start()
                restarts.append(time.perf_counter() - went)
            else:
                pids = server.graders() if target == TARGETS[1] else server.sandboxes()
                if not pids or not running:
                    if not uploads.is_alive() and not rows(data, "SELECT 1 FROM service_job WHERE status IN "
                                                                 "('queued', 'running')"):
                        break  # nothing left to grade: the remaining kills have nothing to hit
                    continue
                pid = pids[0]
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            killed.append((target, pid))
            plan.pop(0)
        uploads.join(120)
        acknowledged = {receipt["id"] for receipt in uploads.receipts.values()}
        marks = ",".join("?" * len(acknowledged)) or "NULL"
        while time.monotonic() < deadline + 300:
            waiting = rows(data, f"SELECT COUNT(*) FROM service_submission WHERE id IN ({marks}) AND status IN "
                                 "('queued', 'running')", *acknowledged)[0][0]
            if not waiting:
                break
            time.sleep(0.5)
        drained = time.perf_counter() - began
        gradebook = cli("serve", "export", str(data), "--format", "csv").stdout
    finally:
        server.stop()

    states = dict(rows(data, f"SELECT id, status FROM service_submission WHERE id IN ({marks})", *acknowledged))
    jobs = rows(data, f"SELECT submission_id, status, attempts FROM service_job WHERE submission_id IN ({marks})",
                *acknowledged)
    jobs_per = {}
    for submission, _, _ in jobs:
        jobs_per[submission] = jobs_per.get(submission, 0) + 1
    logged = gradings_logged(server.text())
    unacknowledged = rows(data, f"SELECT id, status FROM service_submission WHERE id NOT IN ({marks})",
                          *acknowledged)
    service = {row["id"]: row["score"] for row in csv.DictReader(io.StringIO(gradebook))}
    clean = {}
    with open(folder / "out" / "grades.csv", newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            clean[row["id"]] = row["total"]
    students = [f"s{n:03d}" for n in range(count)]
    differ = [s for s in students if _number(service.get(s)) is None or _number(service.get(s)) != _number(clean.get(s))]
    return {
        "count": count, "acknowledged": len(acknowledged), "refused": uploads.refused, "resent": uploads.resent,
        "killed": killed, "restarts": restarts, "drained": drained, "batch": batch,
        "graded": sum(status == "graded" for status in states.values()),
        "not_graded": {i: s for i, s in states.items() if s != "graded"},
        "jobs_done": sum(status == "done" for _, status, _ in jobs),
        "several_jobs": [i for i, n in jobs_per.items() if n != 1],
        "graded_twice": [i for i in acknowledged if logged.get(i, 0) > 1],
        "graded_logged_once": sum(logged.get(i, 0) == 1 for i in acknowledged),
        "attempts": sum(attempts for _, _, attempts in jobs),
        "unacknowledged": unacknowledged, "differ": differ, "compared": len(students),
        "service_scores": service, "clean_scores": clean,
    }


def _number(value) -> float | None:
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40, help="students, one upload each (at most 300)")
    parser.add_argument("--rate", type=float, default=2.0, help="uploads a second")
    parser.add_argument("--kills", type=int, default=3, help="kills of each kind")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--workers", type=int, default=2, help="serve run -j")
    args = parser.parse_args()
    if not 2 <= args.submissions <= 300 or not 0 <= args.kills <= 20 or not 0.2 <= args.rate <= 20:
        parser.error("keep it bounded: 2 to 300 submissions, at most 20 kills of each kind, 0.2 to 20 uploads/s")
    scratch = Path(tempfile.mkdtemp(prefix="bench-service-recovery-"))
    try:
        data, tokens = course(scratch, args.submissions)
        print(f"course server on 127.0.0.1 ({args.submissions} students, SQLite, {args.workers} warm graders), "
              f"python {sys.version.split()[0]}")
        r = recover(scratch, data, tokens, args.submissions, args.rate, args.kills, args.every, args.workers)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    by_target = {t: [pid for target, pid in r["killed"] if target == t] for t in TARGETS}
    print(f"{r['count']} uploads of {MODULE} (hidden grading) at {args.rate:g}/s; kill -9 every {args.every:g} s, "
          "by pid: " + "; ".join(f"{t} x{len(p)}" for t, p in by_target.items()))
    print("  serve run is one process (web server and dispatcher threads): its kill is the web server's and "
          "the dispatcher's; restarted with the same command "
          + (f"(up again in {min(r['restarts']):.1f} to {max(r['restarts']):.1f} s)" if r["restarts"] else ""))
    print(f"  receipts: {r['acknowledged']}/{r['count']} acknowledged, {len(r['refused'])} refused, "
          f"{r['resent']} upload(s) sent again after no answer; {len(r['unacknowledged'])} submission(s) stored "
          f"without a receipt reaching the client ({', '.join(sorted({s for _, s in r['unacknowledged']})) or '-'})")
    print(f"  acknowledged and graded: {r['graded']}/{r['acknowledged']} (not graded: {r['not_graded'] or 'none'}); "
          f"jobs done {r['jobs_done']}, submissions with other than one job {len(r['several_jobs'])}; stored once "
          f"(one 'graded' log line) {r['graded_logged_once']}, stored twice {len(r['graded_twice'])}")
    print(f"  attempts: {r['attempts']} for {r['acknowledged']} jobs ({r['attempts'] - r['acknowledged']} "
          f"grading(s) started again after a kill)")
    print(f"  final grades: {r['compared'] - len(r['differ'])}/{r['compared']} students equal to a clean "
          f"grade-all -q {MODULE} of the same files (scores seen: "
          f"{', '.join(sorted({str(v) for v in r['service_scores'].values()}))})"
          + (f"; differ: {r['differ'][:10]}" if r["differ"] else ""))
    print(f"  time: every acknowledged submission final {r['drained']:.1f} s after the first upload; clean "
          f"grade-all -j 2 {r['batch']:.1f} s; with kills / grade-all = {r['drained'] / r['batch']:.2f}x")
    ok = (r["graded"] == r["acknowledged"] == r["count"] and not r["several_jobs"] and not r["graded_twice"]
          and not r["differ"])
    print(f"  {'all held' if ok else 'NOT ALL HELD'}: every acknowledged submission graded exactly once, final "
          "grades equal grade-all's")


if __name__ == "__main__":
    main()
