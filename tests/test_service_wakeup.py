"""Wake-ups inside one `serve run` process: an idle grader thread claims a job the moment this
process queues it, and an open event stream reads a result the moment it is stored, whatever the
poll intervals (here made a minute long, so only a wake-up can explain a prompt answer)."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.test_service import _queued, add_students, clean, client  # noqa: E402

FIXTURES = (clean,)  # test_service's clean slate before every test
LONG_POLL = 60.0
PROMPT = 15.0  # far below LONG_POLL: an answer this soon came from a wake-up, not a poll


def test_a_ring_between_the_count_and_the_wait_is_not_lost():
    from autograder.service.wakeup import Bell

    bell = Bell()
    seen = bell.count()
    assert bell.wait(seen, 0.01) is False  # nothing rang: the wait runs out
    bell.ring()
    assert bell.wait(seen, LONG_POLL) is True  # rang after the count, before the wait: seen at once
    seen = bell.count()
    threading.Timer(0.05, bell.ring).start()
    assert bell.wait(seen, LONG_POLL) is True


def test_queuing_rings_after_the_transaction_commits(service):
    from django.db import transaction

    from autograder.service import wakeup

    tokens = add_students(service, "s1")
    queued, stored = wakeup.jobs_queued.count(), wakeup.results_stored.count()
    with transaction.atomic():
        job = _queued(service, tokens["s1"])
        assert wakeup.jobs_queued.count() == queued  # a woken grader would not see the job yet
    assert wakeup.jobs_queued.count() > queued
    from autograder.service import jobs

    claimed = jobs.claim("test")
    assert claimed.pk == job.pk and wakeup.results_stored.count() > stored  # its page hears "running"
    stored = wakeup.results_stored.count()
    assert jobs.complete(claimed, status="graded", score=1, max_score=1)
    assert wakeup.results_stored.count() > stored


def test_an_idle_grader_thread_claims_a_queued_job_at_once(service, monkeypatch):
    from autograder.service import dispatcher, jobs
    from autograder.service.models import Job

    monkeypatch.setattr(dispatcher, "POLL_SECONDS", LONG_POLL)
    monkeypatch.setattr(dispatcher, "grade_job", lambda job, *a, **k: jobs.complete(job, status="graded", score=1,
                                                                                       max_score=1) and "graded")
    tokens = add_students(service, "s1")
    running = dispatcher.Dispatcher(threads=1, executor="cold").start()
    try:
        time.sleep(0.5)  # its first claim found nothing: it waits for its next poll, a minute away
        began = time.monotonic()
        job = _queued(service, tokens["s1"])
        while Job.objects.get(pk=job.pk).status != Job.Status.DONE:
            assert time.monotonic() - began < PROMPT, "the idle grader waited for its poll"
            time.sleep(0.05)
    finally:
        running.stop()


def test_an_open_event_stream_hears_the_result_at_once(service, monkeypatch):
    from autograder.service import jobs, views

    monkeypatch.setattr(views, "EVENTS_POLL", LONG_POLL)
    tokens = add_students(service, "s1")
    job = _queued(service, tokens["s1"])

    def grade_soon():
        time.sleep(0.5)  # the stream has read the queued state and waits
        claimed = jobs.claim("test")
        jobs.complete(claimed, status="graded", score=1, max_score=1)

    threading.Thread(target=grade_soon, daemon=True).start()
    began = time.monotonic()
    response = client().get(f"/submissions/{job.submission_id}/events",
                            headers={"Authorization": f"Bearer {tokens['s1']}"})
    body = b"".join(response.streaming_content)
    assert b"event: done" in body
    assert time.monotonic() - began < PROMPT, "the stream waited for its poll"
