"""The course server (`serve run`) under load, against baselines measured in the same run.

    python benchmarks/bench_service.py                        # a few minutes on 2 busy cores
    python benchmarks/bench_service.py --rate 20 --seconds 20 --class-size 8

Prints:
- receipt latency (POST of a one-module upload until its receipt), p50 / p99 / max, at a bounded
  rate (--rate requests a second for --seconds, open loop, from a thread pool) on 127.0.0.1,
  against the server's floor (GET of the sign-in page at the same rate): the ratio of the p50s;
- an idle server's result latency for a one-module check (`-q confusion --check`): the upload
  until the last question's result and until the final event, for `--executor cold` (a fresh
  process per submission) and `--executor warm` (the default): the ratio warm / cold; and for a
  full quick-profile grade of the reference (every question, hidden), warm: the upload until the
  first question's result, the last one's and the final event (``--only-idle``: only these);
- throughput for a small class (each student a distinct copy of the reference `confusion`
  module, hidden grading, -j 2): the service (uploads, queue, warm graders) vs `grade-all -j 2`
  on the same files: the ratio of the wall times.
- the deadline spike (``--spike N``, default 12; 60 for a lecture-sized class): N students each
  upload a hidden grading within ``--spike-window`` seconds (open loop, evenly spaced), and every
  other student a public check too; the same N files graded by `grade-all -j 2` in the same run.
  Reported: receipt p50/p95 during the spike, the time until the last grading finished and the
  class's throughput against grade-all's (the ratio), and the checks' p95 result latency (upload to
  finished, as the server recorded it) against an idle check's on the same server (the ratio).
  ``--only-spike`` runs only this part (``--only-receipts``, only the receipts).
Timings are wall-clock on this machine, under whatever else runs on it; compare the ratios.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from autograder.service.client import submit, watch  # noqa: E402
from tests.service_helpers import SOLUTIONS, Server, cli  # noqa: E402

MODULE = "confusion"


def course(folder: Path, students: int) -> tuple[Path, list[str]]:
    data = folder / "data"
    cli("serve", "init", str(data))
    roster = folder / "roster.csv"
    roster.write_text("id,name,email\n" + "".join(f"s{n:03d},Student {n},s{n}@example.org\n"
                                                  for n in range(students)))
    rows = csv.DictReader(io.StringIO(cli("serve", "students", str(data), str(roster)).stdout))
    return data, [row["token"] for row in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def open_loop(call, rate: float, seconds: float) -> tuple[list[float], int]:
    """``call()`` at ``rate`` a second for ``seconds`` (each at its scheduled time, whatever the
    earlier ones take); (latencies in seconds, failures)."""
    count = round(rate * seconds)
    start = time.perf_counter() + 0.2

    def one(n: int):
        time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        began = time.perf_counter()
        try:
            call(n)
        except Exception:  # noqa: BLE001 (counted, not raised: the run reports failures)
            return None
        return time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(count)))
    done = [r for r in results if r is not None]
    return done, count - len(done)


def receipts(data: Path, tokens: list[str], rate: float, seconds: float) -> None:
    upload = SOLUTIONS / f"{MODULE}.py"
    server = Server(data, "--workers", "1")
    try:
        def page(n):
            with urllib.request.urlopen(server.url, timeout=30) as response:
                response.read()

        def post(n):  # checks: not rate-limited per student; a newer one replaces a queued one
            submit(server.url, tokens[n % len(tokens)], upload, check=True, questions=[MODULE])

        page(0), post(0)  # one of each before the clock: the connection's first request, Django's first view
        floor, floor_failed = open_loop(page, rate, seconds)
        latencies, failed = open_loop(post, rate, seconds)
    finally:
        server.stop()
    p50, floor50 = percentile(latencies, 50), percentile(floor, 50)
    print(f"receipts at {rate:g}/s for {seconds:g} s: {len(latencies)} ok, {failed} failed; "
          f"p50 {p50 * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"  floor (GET /, same rate): {len(floor)} ok, {floor_failed} failed; p50 {floor50 * 1000:.0f} ms, "
          f"p99 {percentile(floor, 99) * 1000:.0f} ms; receipt p50 / floor p50 = {p50 / floor50:.1f}x")


def check_latency(data: Path, token: str, executor: str, repeats: int) -> tuple[float, float, float]:
    """Median seconds (to the first question's result, to the last one's, to the final event) of
    idle one-module checks, as `submit` receives them."""
    return idle_latency(data, [token], executor, repeats, SOLUTIONS / f"{MODULE}.py", check=True, questions=[MODULE])


def idle_latency(data: Path, tokens: list[str], executor: str, repeats: int, upload: Path, *, check: bool,
                 questions=()) -> tuple[float, float, float]:
    """Median seconds (to the first question's result, to the last one's, to the final event) of idle
    uploads of ``upload``, one at a time, as `submit` receives them; hidden gradings rotate through
    ``tokens`` (each student's are rate-limited)."""
    server = Server(data, "--workers", "1", "--executor", executor)
    firsts, lasts, finals = [], [], []
    try:
        for n in range(repeats + 1):  # the first one also starts the warm process: not counted
            began = time.perf_counter()
            seen = []
            token = tokens[n % len(tokens)]
            receipt = submit(server.url, token, upload, check=check, questions=questions)
            state = watch(receipt["url"], token, on_question=lambda q: seen.append(time.perf_counter()))
            assert state["status"] == "graded", state
            if n:
                firsts.append(seen[0] - began)
                lasts.append(seen[-1] - began)
                finals.append(time.perf_counter() - began)
    finally:
        server.stop()
    return statistics.median(firsts), statistics.median(lasts), statistics.median(finals)


def throughput(folder: Path, data: Path, tokens: list[str], size: int) -> None:
    classroom = class_folder(folder / "class", size)
    started = time.perf_counter()
    cli("grade-all", str(classroom), "--out", str(folder / "out"), "-j", "2", "-q", MODULE, "--quiet")
    batch = time.perf_counter() - started
    server = Server(data, "--workers", "2")
    try:
        started = time.perf_counter()
        urls = [submit(server.url, tokens[n], classroom / f"s{n:03d}", questions=[MODULE])["url"]
                for n in range(size)]
        states = [watch(url, tokens[n]) for n, url in enumerate(urls)]
        service = time.perf_counter() - started
        statuses = json.dumps([s["status"] for s in states])
    finally:
        server.stop()
    graded = sum(s["status"] == "graded" for s in states)
    print(f"class of {size} ({MODULE}, hidden grading, 2 graders): service {service:.1f} s "
          f"({size / service * 60:.1f} submissions/min, {graded} graded), "
          f"grade-all -j 2 {batch:.1f} s ({size / batch * 60:.1f}/min); service / grade-all = {service / batch:.2f}x")
    if graded != size:
        print(f"  statuses: {statuses}")


def class_folder(folder: Path, size: int) -> Path:
    """``size`` students, each a distinct copy of the reference module (nothing is graded once for several)."""
    reference = (SOLUTIONS / f"{MODULE}.py").read_text()
    for n in range(size):
        (folder / f"s{n:03d}").mkdir(parents=True)
        (folder / f"s{n:03d}" / f"{MODULE}.py").write_text(reference + f"\n# student {n}\n")
    return folder


def spike(folder: Path, data: Path, tokens: list[str], size: int, window: float, checks: int | None = None) -> None:
    """The deadline spike: ``size`` hidden gradings and ``checks`` checks (default ``size // 2``, every
    other student's) within ``window`` seconds."""
    classroom = class_folder(folder / "spike-class", size)
    started = time.perf_counter()
    cli("grade-all", str(classroom), "--out", str(folder / "spike-out"), "-j", "2", "-q", MODULE, "--quiet")
    batch = time.perf_counter() - started
    checks = size // 2 if checks is None else checks
    uploads = [("grade", n) for n in range(size)] + [("check", n) for n in range(0, size, 2)][:checks]
    uploads.sort(key=lambda u: (u[1], u[0] == "grade"))  # a student's check just before their grading
    server = Server(data, "--workers", "2")
    try:
        idle = []
        for n in range(3):  # the first also starts the warm graders: not counted
            receipt = submit(server.url, tokens[-1], classroom / "s000", check=True, questions=[MODULE])
            state = watch(receipt["url"], tokens[-1])
            assert state["status"] == "graded", state
            if n:
                idle.append(state["phases"]["finished"])
        receipts_: dict[int, tuple[float, float, dict]] = {}
        clock = time.perf_counter()

        def upload(k: int):
            kind, n = uploads[k]
            sent = time.perf_counter()
            receipt = submit(server.url, tokens[n], classroom / f"s{n:03d}", check=kind == "check",
                             questions=[MODULE])
            receipts_[k] = (sent - clock, time.perf_counter() - sent, receipt)

        latencies, failed = open_loop(upload, len(uploads) / window, window)
        states = {k: watch(receipts_[k][2]["url"], tokens[uploads[k][1]]) for k in sorted(receipts_)}
    finally:
        server.stop()
    graded = [k for k, (kind, _) in enumerate(uploads) if kind == "grade" and k in states
              and states[k]["status"] == "graded"]
    checked = [states[k]["phases"]["finished"] for k, (kind, _) in enumerate(uploads)
               if kind == "check" and k in states and states[k]["status"] == "graded"]
    drained = max(receipts_[k][0] + states[k]["phases"]["finished"] for k in graded) if graded else float("nan")
    p95 = percentile(checked, 95) if checked else float("nan")
    idle_check = statistics.median(idle)
    print(f"deadline spike: {size} hidden gradings + {len(uploads) - size} checks within {window:g} s, 2 graders; "
          f"{len(latencies)} receipts ok, {failed} failed; receipt p50 {percentile(latencies, 50) * 1000:.0f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.0f} ms")
    grading = [states[k]["phases"]["finished"] - states[k]["phases"]["started"] for k in graded
               if states[k]["phases"].get("started") is not None]
    if grading:
        print(f"  one hidden grading, claimed to stored (median): {statistics.median(grading):.2f} s; grade-all's "
              f"per submission and grader: {batch * 2 / size:.2f} s (its start-up included)")
    print(f"  last grading finished {drained:.1f} s after the first upload ({len(graded)}/{size} graded; "
          f"{size / drained * 60:.1f}/min); grade-all -j 2 on the same files {batch:.1f} s ({size / batch * 60:.1f}/min); "
          f"spike / grade-all = {drained / batch:.2f}x")
    if checked:
        print(f"  checks during the spike: p95 {p95:.2f} s upload to result ({len(checked)} graded); idle check "
              f"{idle_check:.2f} s; spike p95 / idle = {p95 / idle_check:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="receipt requests a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the receipt load lasts")
    parser.add_argument("--repeats", type=int, default=3, help="idle checks timed per executor")
    parser.add_argument("--class-size", type=int, default=6)
    parser.add_argument("--spike", type=int, default=12, help="students in the deadline spike (60: a large class)")
    parser.add_argument("--spike-window", type=float, default=10.0, help="seconds the spike's uploads span")
    parser.add_argument("--spike-checks", type=int, default=None,
                        help="checks among the spike's uploads (default: every other student's; 0: the same work "
                             "as grade-all's, for the throughput ratio)")
    parser.add_argument("--only-spike", action="store_true", help="run only the deadline spike")
    parser.add_argument("--only-receipts", action="store_true", help="run only the receipt latency")
    parser.add_argument("--only-idle", action="store_true",
                        help="run only the idle latencies (the check, cold and warm; the full grade, warm)")
    args = parser.parse_args()
    if args.rate * args.seconds > 2000 or args.seconds > 120:
        parser.error("keep the load bounded: at most 2000 requests and 120 s")
    if not 2 <= args.spike <= 60 or not 1 <= args.spike_window <= 120:
        parser.error("keep the spike bounded: 2 to 60 students within 1 to 120 s")
    scratch = Path(tempfile.mkdtemp(prefix="bench-service-"))
    try:
        data, tokens = course(scratch, max(args.class_size, args.spike + 1, 10))
        print(f"course server on 127.0.0.1 ({len(tokens)} students, SQLite), python {sys.version.split()[0]}")
        if args.only_spike:
            spike(scratch, data, tokens, args.spike, args.spike_window, args.spike_checks)
            return
        if not args.only_idle:
            receipts(data, tokens, args.rate, args.seconds)
        if args.only_receipts:
            return
        cold = check_latency(data, tokens[0], "cold", args.repeats)
        warm = check_latency(data, tokens[0], "warm", args.repeats)
        for name, times in (("cold", cold), ("warm", warm)):
            print(f"idle check -q {MODULE}, {name} (median of {args.repeats}): first question {times[0]:.2f} s, "
                  f"last question {times[1]:.2f} s, final {times[2]:.2f} s")
        print(f"  warm / cold (final) = {warm[2] / cold[2]:.2f}x")
        full = idle_latency(data, tokens[1:], "warm", args.repeats, SOLUTIONS, check=False)
        print(f"idle full quick-profile grade of the reference (every question, hidden grading), warm (median of "
              f"{args.repeats}): first question {full[0]:.2f} s, last question {full[1]:.2f} s, final {full[2]:.2f} s")
        if args.only_idle:
            return
        throughput(scratch, data, tokens, args.class_size)
        spike(scratch, data, tokens, args.spike, args.spike_window, args.spike_checks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
