"""Assignment and Grade Services through a durable outbox.

    collect   for every student with an LTI identity, in every course (context) they are a member
              of that has a line-items service: a ``ScorePost`` row when their counted score differs
              from the last one recorded (so a rescore that changes nothing posts nothing); an older
              pending row for the same student and course is superseded
    deliver   posts the due rows: the access token by OAuth2 client credentials (pylti1p3 signs the
              assertion with the tool's key), the line item found by ``resourceId``/``tag`` or created
              once (its URL stored), then the Score; a 429 waits for its ``Retry-After``, and nothing
              else goes to that platform before it either; a 5xx, a timeout or a refused token are
              retried with backoff (at most ``MAX_BACKOFF_SECONDS``, so that a platform back from an
              outage of any length has every score within that and a round), another 4xx fails the
              row with why

Rows are committed before anything is sent, so a restart loses nothing; a row is marked sent only
after the platform accepted it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone as dt_timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import close_old_connections, transaction
from django.utils import timezone
from lti_tool.models import LtiContext
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.service_connector import ServiceConnector
import requests

from autograder.service.lti.http import TimeoutSession
from autograder.service.lti.models import LineItemLink, LtiStudent, ScorePost
from autograder.service.lti.tool import AGS_SCOPES
from autograder.service.models import Assignment
from autograder.service.policy import counted_submission

log = logging.getLogger("autograder.service.lti")
TAG = "ch3-autograder"
BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 240.0
#: In a row's ``last_error`` while the platform's Retry-After holds every row of its registration.
THROTTLED = "429 Too Many Requests"
#: A row being sent is not due for others during this long (several `serve run` on one database).
CLAIM_SECONDS = 120.0
#: The worker looks at every student at least this often (in rounds of ``interval`` seconds).
FULL_SCAN_ROUNDS = 60
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None):
        super().__init__(reason)
        self.after = after


class _Refused(Exception):
    pass


# ------------------------------------------------------------------ collect

def collect() -> int:
    """Record the scores that changed since they were last recorded; returns how many rows were added."""
    added = 0
    assignments = list(Assignment.objects.order_by("id"))
    totals = {a.pk: a.total() for a in assignments}
    for link in LtiStudent.objects.select_related("student", "lti_user"):
        contexts = LtiContext.objects.filter(memberships__user=link.lti_user, memberships__is_active=True)
        for context in contexts:
            for assignment in _posted_assignments(context, assignments):
                counted = counted_submission(link.student, assignment)
                if counted is None or counted.score is None:
                    continue
                added += _record(link, context, assignment, counted, totals[assignment.pk])
    return added


def _posted_assignments(context, assignments: list) -> list:
    """The assignments whose scores go to ``context``: those its links name (each has its line
    item), else, where the course links none but grants the line-items service, every assignment
    (found or created by its slug as resourceId)."""
    linked = set(LineItemLink.objects.filter(context=context).values_list("assignment_id", flat=True))
    if linked:
        return [a for a in assignments if a.pk in linked]
    return assignments if context.lineitems_url else []


def _record(link: LtiStudent, context, assignment, counted, total: float) -> int:
    rows = ScorePost.objects.filter(student=link.student, context=context, assignment=assignment)
    with transaction.atomic():
        last = rows.exclude(status=ScorePost.Status.SUPERSEDED).order_by("-id").first()
        if last is not None and last.score_given == counted.score and last.score_maximum == total:
            return 0
        pending = rows.filter(status=ScorePost.Status.PENDING)
        # a row waiting for the platform's Retry-After hands the wait on (it holds the platform's other rows)
        throttled = pending.filter(next_try__gt=timezone.now(), last_error__contains=THROTTLED) \
            .order_by("-next_try").first()
        pending.update(status=ScorePost.Status.SUPERSEDED, last_error="a newer score replaced it")
        ScorePost.objects.create(student=link.student, context=context, assignment=assignment, submission=counted,
                                 user_sub=link.lti_user.sub, score_given=counted.score, score_maximum=total,
                                 **({"next_try": throttled.next_try, "last_error": throttled.last_error}
                                    if throttled else {}))
    return 1


# ------------------------------------------------------------------ deliver

def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt_timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _check(response: requests.Response, what: str, now: datetime) -> requests.Response:
    if response.status_code == 429:
        after = _retry_after(response.headers.get("Retry-After"), now)
        raise _Retry(f"{what}: {THROTTLED}", after)
    if response.status_code >= 500:
        raise _Retry(f"{what}: {response.status_code} {response.reason}")
    if response.status_code >= 400:
        raise _Refused(f"{what}: {response.status_code} {response.reason}: {response.text[:300]}")
    return response


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


def _scores_url(lineitem: str) -> str:
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _line_item(session, headers, post: ScorePost, now: datetime) -> str:
    """The line item's URL: stored, else found on the platform by resourceId and tag, else created."""
    link = LineItemLink.objects.filter(context=post.context, assignment=post.assignment).first()
    if link is not None:
        return link.url
    container = post.context.lineitems_url
    found = _check(session.get(_with_query(container, resource_id=post.assignment.slug, tag=TAG),
                               headers={**headers, "Accept": LINEITEMS}), "finding the line item", now).json()
    items = [item for item in found if item.get("resourceId") == post.assignment.slug and item.get("tag") == TAG]
    if items:
        url = items[0]["id"]
    else:
        body = {"scoreMaximum": post.score_maximum, "label": post.assignment.title,
                "resourceId": post.assignment.slug, "tag": TAG}
        created = _check(session.post(container, data=json.dumps(body),
                                      headers={**headers, "Content-Type": LINEITEM, "Accept": LINEITEM}),
                         "creating the line item", now).json()
        url = created["id"]
    link, _ = LineItemLink.objects.get_or_create(context=post.context, assignment=post.assignment,
                                                 defaults={"url": url})
    return link.url


def _send(post: ScorePost, connectors: dict, now: datetime) -> None:
    registration = post.context.deployment.registration
    connector = connectors.get(registration.pk)
    if connector is None:
        session = TimeoutSession()
        connector = connectors[registration.pk] = (ServiceConnector(registration.to_registration(),
                                                                    requests_session=session), session)
    service, session = connector
    try:
        token = service.get_access_token(AGS_SCOPES)
    except LtiServiceException as exc:  # a refused token is retried too: the registration can be fixed
        try:
            _check(exc.response, "the access token", now)
        except _Refused as refused:
            raise _Retry(str(refused)) from None
        raise _Retry(f"the access token: {exc}") from None
    headers = {"Authorization": f"Bearer {token}"}
    lineitem = _line_item(session, headers, post, now)
    score = {"userId": post.user_sub, "scoreGiven": post.score_given, "scoreMaximum": post.score_maximum,
             "activityProgress": "Completed", "gradingProgress": "FullyGraded",
             "timestamp": post.timestamp.isoformat(timespec="milliseconds")}
    _check(session.post(_scores_url(lineitem), data=json.dumps(score),
                        headers={**headers, "Content-Type": SCORE}), "posting the score", now)


def _held(now: datetime) -> dict[int, datetime]:
    """Registrations whose platform answered a 429 with a Retry-After that has not passed (a pending
    row waits for it): until when, by registration id. Nothing is sent to them before then."""
    from django.db.models import Max

    throttled = ScorePost.objects.filter(status=ScorePost.Status.PENDING, next_try__gt=now,
                                         last_error__contains=THROTTLED)
    return {row["context__deployment__registration"]: row["until"] for row in
            throttled.values("context__deployment__registration").annotate(until=Max("next_try"))}


def deliver(now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Post the due rows once each; counts by outcome (sent, retry, failed). A platform's 429 holds
    every row of its registration until its Retry-After, this round's and later ones'."""
    now = now or timezone.now()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    connectors: dict = {}
    held = _held(now)
    due = ScorePost.objects.filter(status=ScorePost.Status.PENDING, next_try__lte=now) \
        .select_related("context__deployment__registration", "assignment").order_by("id")[:limit]
    for post in due:
        registration = post.context.deployment.registration_id
        if registration in held:
            continue
        claimed = ScorePost.objects.filter(pk=post.pk, status=ScorePost.Status.PENDING, next_try=post.next_try) \
            .update(next_try=now + timedelta(seconds=CLAIM_SECONDS))
        if not claimed:  # another `serve run` on the same database took it
            continue
        post.attempts += 1
        try:
            _send(post, connectors, now)
        except _Retry as exc:
            wait = exc.after if exc.after is not None else min(BACKOFF_SECONDS * 2 ** (post.attempts - 1),
                                                               MAX_BACKOFF_SECONDS)
            post.next_try, post.last_error = now + timedelta(seconds=wait), str(exc)
            counts["retry"] += 1
            if THROTTLED in post.last_error:
                held[registration] = post.next_try
        except (requests.RequestException, LtiException, ValueError, KeyError) as exc:
            wait = min(BACKOFF_SECONDS * 2 ** (post.attempts - 1), MAX_BACKOFF_SECONDS)
            post.next_try, post.last_error = now + timedelta(seconds=wait), f"{type(exc).__name__}: {exc}"
            counts["retry"] += 1
        except _Refused as exc:
            post.status, post.last_error = ScorePost.Status.FAILED, str(exc)
            counts["failed"] += 1
        else:
            post.status, post.sent, post.last_error = ScorePost.Status.SENT, now, ""
            counts["sent"] += 1
        ScorePost.objects.filter(pk=post.pk, status=ScorePost.Status.PENDING).update(
            status=post.status, attempts=post.attempts, next_try=post.next_try, last_error=post.last_error,
            sent=post.sent)
        if post.status != ScorePost.Status.SENT:
            log.info("score post %s (attempt %d): %s", post.pk, post.attempts, post.last_error)
    return counts


def fingerprint() -> tuple:
    """Changes whenever a counted score may have: gradings, their scores, the LTI links and
    memberships, the assignments' rules (a few aggregate queries instead of a scan of every student)."""
    from django.db.models import Count, Max, Sum
    from lti_tool.models import LtiMembership

    from autograder.service.models import Submission

    graded = Submission.objects.filter(status=Submission.Status.GRADED).aggregate(
        n=Count("id"), top=Max("id"), total=Sum("score"))
    rules = list(Assignment.objects.order_by("id").values_list("id", "counted", "spec_file", "questions"))
    return (graded["n"], graded["top"], graded["total"], LtiStudent.objects.count(),
            LtiMembership.objects.filter(is_active=True).count(), str(rules))


class OutboxWorker:
    """A thread of ``serve run``: collect and deliver every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 5.0):
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="lti-outbox", daemon=True)

    def start(self) -> "OutboxWorker":
        self.thread.start()
        return self

    def _loop(self) -> None:
        seen, rounds = None, 0
        while not self.stopping.is_set():
            close_old_connections()
            try:
                if LtiStudent.objects.exists():
                    now = fingerprint()
                    # a grading, a rescore, a new link or membership: look for changed scores (and a full
                    # look every FULL_SCAN_ROUNDS rounds, for changes the fingerprint cannot see)
                    if now != seen or rounds % FULL_SCAN_ROUNDS == 0:
                        collect()
                        seen = now
                    rounds += 1
                    deliver()
            except Exception:  # a database or network hiccup must not end the thread
                log.exception("the LTI score outbox failed; trying again")
            self.stopping.wait(self.interval)
