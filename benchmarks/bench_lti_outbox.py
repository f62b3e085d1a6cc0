"""The LTI score outbox through a flaky platform, an outage and the recovery, on a simulated clock.

    python benchmarks/bench_lti_outbox.py                  # 50 students, about half a minute
    python benchmarks/bench_lti_outbox.py --students 200 --down-minutes 120

A mock platform (tests/lti_platform.py) on 127.0.0.1 serves the token endpoint, NRPS and AGS. The
class comes from NRPS (``nrps.sync_context``), every student gets a graded submission, and the
outbox's own steps run as ``serve run``'s outbox thread runs them: ``collect`` when the scores'
fingerprint changed, then ``deliver``, every 5 seconds. The phases:

- flaky (``--flaky-minutes``, 10): 30 % of the AGS calls (line items, scores) fail, a third each
  with 500, 429 with a Retry-After of 10 to 60 s, and a timeout (the tool's HTTP timeout is set
  to 0.25 s, the platform stalls 0.5 s); some students are graded again (new scores to post);
- down (``--down-minutes``, 30): every call (token, line items, scores) answers 503; more students
  are graded again;
- recovered: no failures, until every final score has arrived (or 30 simulated minutes).

Time is simulated: a clock starts at the real time and moves 5 s a round; ``deliver(now=clock)``
computes its backoff and next tries from it (the outbox takes ``now`` as an argument), and the
mock platform stamps each request with the same clock (``MockPlatform.clock``). Only the HTTP
calls and the database take real time.

Prints: the calls and failures per phase; for each student's final score, when it arrived after
the recovery (max and p50, in simulated seconds); score POSTs accepted per user and line item
against the distinct scores sent (duplicates); line items created; after each 429, any request
sent before its Retry-After.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.lti_platform import ROLES, MockPlatform  # noqa: E402
from tests.service_helpers import cli  # noqa: E402

ROUND_SECONDS = 5.0  # the outbox thread's interval in `serve run`
AGS = ("lineitems", "scores")


class Clock:
    def __init__(self):
        self.now = datetime.now(dt_timezone.utc)
        self.start = self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def seconds(self) -> float:
        return (self.now - self.start).total_seconds()

    def timestamp(self) -> float:
        return self.now.timestamp()


class Chaos:
    """What the platform answers a request the schedule leaves alone: the current phase decides."""

    def __init__(self, seed: int, rate: float):
        self.random, self.rate, self.phase = random.Random(seed), rate, "flaky"

    def __call__(self, kind: str, method: str):
        if self.phase == "down" and kind in ("token", *AGS):
            return 503
        if self.phase == "flaky" and kind in AGS and self.random.random() < self.rate:
            return self.random.choice([500, (429, self.random.randint(10, 60)), "timeout"])
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--flaky-minutes", type=float, default=10.0)
    parser.add_argument("--down-minutes", type=float, default=30.0)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.students <= 500 or not 0 < args.down_minutes <= 24 * 60 or not 0 < args.flaky_minutes <= 120:
        parser.error("keep it bounded: 1 to 500 students, up to a day down, up to 2 hours flaky")
    scratch = Path(tempfile.mkdtemp(prefix="bench-lti-outbox-"))
    try:
        run(scratch, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(scratch: Path, args) -> None:
    data = scratch / "data"
    cli("serve", "init", str(data))
    from autograder.service import setup

    setup(data)
    from lti_tool.models import Key, LtiContext, LtiDeployment

    from autograder.service.lti import http, nrps, outbox
    from autograder.service.lti.models import LineItemLink, LtiStudent, ScorePost
    from autograder.service.lti.tool import add_platform
    from autograder.service.models import Assignment, Submission
    from autograder.service.policy import counted_submission

    http.TIMEOUT_SECONDS = 0.25
    logging.getLogger("autograder.service.lti").setLevel(logging.WARNING)  # a line per retry otherwise
    clock, chaos = Clock(), Chaos(args.seed, args.failure_rate)
    rng = random.Random(args.seed + 1)
    with MockPlatform(timeout=0.5) as platform:
        add_platform(**platform.registration)
        platform.tool_jwks = Key.objects.as_jwks
        platform.clock, platform.chaos = clock.timestamp, chaos
        platform.members = [{"user_id": f"u{n:03d}", "name": f"Student {n}", "email": f"s{n}@example.org",
                             "roles": [ROLES["Learner"]], "status": "Active"} for n in range(args.students)]
        context = LtiContext.objects.create(
            deployment=LtiDeployment.objects.get(), id_on_platform="course-1", title="Machine learning",
            lineitems_url=f"{platform.url}/course-1/lineitems", memberships_url=f"{platform.url}/course-1/memberships")
        nrps.sync_context(context)
        links = list(LtiStudent.objects.select_related("student", "lti_user").order_by("lti_user__sub"))
        assignment = Assignment.objects.get()
        total = outbox.assignment_total(assignment)

        def grade(link) -> None:
            score = float(rng.randint(int(total * 0.4), int(total)))
            Submission.objects.create(student=link.student, assignment=assignment, sha256="0" * 64, blob="x",
                                      filename="s.zip", status="graded", raw_score=score, score=score,
                                      max_score=total)

        flaky_end = args.flaky_minutes * 60
        recovery = flaky_end + args.down_minutes * 60
        # (simulated second, students graded then): everyone at the start, a third again while the
        # platform is flaky, a third again during the outage, a few just before the recovery
        third = max(1, len(links) // 3)
        events = sorted([(0.0, links), (flaky_end / 3, rng.sample(links, third)),
                         (flaky_end + (recovery - flaky_end) / 2, rng.sample(links, third)),
                         (recovery - 2 * ROUND_SECONDS, rng.sample(links, max(1, len(links) // 10)))],
                        key=lambda e: e[0])
        phase_of = {}  # request index -> phase
        seen, rounds, started = None, 0, time.perf_counter()
        recovered_by = None
        while True:
            t = clock.seconds()
            chaos.phase = "flaky" if t < flaky_end else "down" if t < recovery else "up"
            while events and events[0][0] <= t:
                for link in events.pop(0)[1]:
                    grade(link)
            now = outbox.fingerprint()
            if now != seen or rounds % outbox.FULL_SCAN_ROUNDS == 0:
                outbox.collect()
                seen = now
            rounds += 1
            before = len(platform.requests)
            outbox.deliver(now=clock.now)
            for index in range(before, len(platform.requests)):
                phase_of[index] = chaos.phase
            pending = ScorePost.objects.filter(status=ScorePost.Status.PENDING).exists()
            if chaos.phase == "up" and not pending and not events:
                recovered_by = t
                break
            if t > recovery + 30 * 60:
                break
            clock.advance(ROUND_SECONDS)
            if datetime.now(dt_timezone.utc) > clock.now:
                print("warning: the simulated clock fell behind the real one")
        wall = time.perf_counter() - started

    requests = platform.requests
    print(f"LTI score outbox: {len(links)} students (NRPS), mock platform on 127.0.0.1; "
          f"{args.flaky_minutes:g} min flaky ({args.failure_rate:.0%} of AGS calls fail: 500, 429 with "
          f"Retry-After 10-60 s, timeout), {args.down_minutes:g} min down (503), then recovered")
    print(f"  time simulated: a clock moved {ROUND_SECONDS:g} s a round, passed to outbox.deliver(now=...) and "
          f"stamped on the platform's requests; {rounds} rounds, {clock.seconds() / 60:.1f} simulated min "
          f"in {wall:.1f} s of real time")
    for phase in ("flaky", "down", "up"):
        mine = [r for i, r in enumerate(requests) if phase_of.get(i) == phase]
        ags = sum(r["kind"] in AGS for r in mine)
        failed = Counter(str(r["status"]) for r in mine if r["status"] not in (200, 201))
        print(f"  {phase:>5}: {len(mine)} calls ({ags} AGS, {len(mine) - ags} token), {sum(failed.values())} failed"
              f"{': ' + ', '.join(f'{k} x{v}' for k, v in sorted(failed.items())) if failed else ''}")

    # every final score arrived, and when
    accepted = [r for r in requests if r["kind"] == "scores" and r["method"] == "POST" and r["status"] == 200]
    last_post: dict[str, dict] = {}
    for r in accepted:
        last_post[_json(r)["userId"]] = r
    late, missing, wrong = [], [], []
    for link in links:
        counted = counted_submission(link.student, assignment)
        post = last_post.get(link.lti_user.sub)
        if post is None:
            missing.append(link.lti_user.sub)
            continue
        if _json(post)["scoreGiven"] != counted.score:
            wrong.append(link.lti_user.sub)
        arrived = post["time"] - clock.start.timestamp()
        if arrived >= recovery:
            late.append(arrived - recovery)
    print(f"  final scores: {len(links) - len(missing)}/{len(links)} arrived, {len(wrong)} not the counted score; "
          f"{len(late)} arrived after the recovery: max {max(late, default=0):.0f} s, "
          f"p50 {statistics.median(late) if late else 0:.0f} s after it (simulated; target under 300 s)"
          + (f"; everything delivered {recovered_by - recovery:.0f} s after it" if recovered_by is not None
             else "; NOT everything delivered within 30 min of the recovery"))

    # nothing posted twice, one line item
    per_key: dict[tuple, list] = defaultdict(list)
    for r in accepted:
        body = _json(r)
        per_key[(body["userId"], r["path"])].append((body["scoreGiven"], body["timestamp"]))
    posts = sum(len(v) for v in per_key.values())
    distinct = sum(len(set(v)) for v in per_key.values())
    sent_rows = ScorePost.objects.filter(status=ScorePost.Status.SENT).count()
    created = [r for r in requests if r["kind"] == "lineitems" and r["method"] == "POST" and r["status"] == 201]
    print(f"  score POSTs accepted: {posts} for {len(per_key)} user x line item pairs; distinct scores {distinct}; "
          f"posted twice: {posts - distinct}; outbox rows sent {sent_rows}, superseded "
          f"{ScorePost.objects.filter(status=ScorePost.Status.SUPERSEDED).count()}, failed "
          f"{ScorePost.objects.filter(status=ScorePost.Status.FAILED).count()}")
    print(f"  line items on the platform: {len(platform.line_items)} (created by {len(created)} POST(s)); "
          f"links stored: {LineItemLink.objects.count()}")

    # after a 429, nothing before its Retry-After
    early, throttled = 0, [(i, r) for i, r in enumerate(requests) if "retry_after" in r]
    gaps = []
    for i, r in throttled:
        until = r["time"] + r["retry_after"]
        after = [s for s in requests[i + 1:] if s["time"] < until]
        early += len(after)
        following = requests[i + 1:i + 2]
        if following:
            gaps.append(following[0]["time"] - r["time"] - r["retry_after"])
    print(f"  429s: {len(throttled)}; requests sent before a 429's Retry-After had passed: {early}"
          + (f"; the next request came {min(gaps):.0f} s after the Retry-After at the earliest" if gaps else ""))
    ok = (not missing and not wrong and posts == distinct and len(platform.line_items) == 1 and early == 0
          and recovered_by is not None and max(late, default=0) <= 300)
    print(f"  {'all held' if ok else 'NOT ALL HELD'}: every final score within 5 min of the recovery, none posted "
          "twice, one line item, nothing before a Retry-After")


def _json(record: dict) -> dict:
    import json

    return json.loads(record["body"])


if __name__ == "__main__":
    main()
