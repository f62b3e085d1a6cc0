"""The launch's frame credential (autograder.service.frame): whom it names, and how long it lasts,
on a clock the tests set (Django's signing and the credential both read ``time.time``)."""

from __future__ import annotations

import time
import zlib

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

ORIGINS = ("https://lms.example.edu", "https://school.example.edu")


@pytest.fixture
def clock(service, monkeypatch):
    """``time.time`` as the tests set it: ``clock.now`` seconds since the epoch."""

    class Clock:
        now = 1_700_000_000.0

    monkeypatch.setattr(time, "time", lambda: Clock.now)
    return Clock


def test_a_student_and_a_staff_credential_name_each_its_own_kind(clock):
    from django.core import signing

    from autograder.service import frame

    student = frame.read(frame.launch(frame.STUDENT, 7, ORIGINS).value)
    staff = frame.read(frame.launch(frame.STAFF, 7, ORIGINS).value)
    assert (student.kind, student.student_pk, student.staff_pk) == (frame.STUDENT, 7, None)
    assert (staff.kind, staff.staff_pk, staff.student_pk) == (frame.STAFF, 7, None)
    assert student.origins == staff.origins == ORIGINS
    assert frame.read(student.value).kind == frame.STUDENT and frame.read(staff.value).kind == frame.STAFF

    # The kind is signed: a value without one (the earlier student-only form), with another, or
    # with it changed after signing is no credential.
    for data in ({"s": 7, "o": []}, {"k": "admin", "id": 7, "o": [], "t": int(clock.now)},
                 {"k": "staff", "id": "7", "o": [], "t": int(clock.now)}):
        with pytest.raises(frame.Refused, match="not valid"):
            frame.read(signing.dumps(data, salt=frame.SALT, compress=True))
    payload, signed = student.value.split(":", 1)  # the student's kind swapped for staff, the signature kept
    data = zlib.decompress(signing.b64_decode(payload[1:].encode())).replace(b'"student"', b'"staff"')
    assert b'"k":"staff"' in data
    for value in (f".{signing.b64_encode(zlib.compress(data)).decode()}:{signed}",
                  signing.dumps({"k": frame.STAFF, "id": 7, "o": [], "t": int(clock.now)}, salt="another salt")):
        with pytest.raises(frame.Refused, match="changed or is not from this tool"):
            frame.read(value)
    with pytest.raises(ValueError):
        frame.launch("admin", 7)


def test_each_read_renews_the_credential_with_the_launch_time_kept(clock):
    from autograder.service import frame

    launched = frame.launch(frame.STUDENT, 3, ORIGINS)
    clock.now += frame.FRAME_SECONDS - 60  # used just before it expires
    renewed = frame.read(launched.value)
    assert renewed.value != launched.value and renewed.launched == launched.launched == int(1_700_000_000)
    assert (renewed.kind, renewed.pk, renewed.origins) == (frame.STUDENT, 3, ORIGINS)
    clock.now += frame.FRAME_SECONDS - 60  # the first would have expired; the renewed one has not
    with pytest.raises(frame.Refused, match="not used for 2 hours"):
        frame.read(launched.value)
    again = frame.read(renewed.value)
    assert again.launched == launched.launched and again.kind == frame.STUDENT


def test_an_idle_credential_expires(clock):
    from autograder.service import frame

    value = frame.launch(frame.STAFF, 1, ORIGINS).value
    clock.now += frame.FRAME_SECONDS
    assert frame.read(value).staff_pk == 1  # at the limit
    clock.now += 1
    with pytest.raises(frame.Refused, match="has expired: it was not used for 2 hours"):
        frame.read(value)


def test_renewals_stop_at_the_cap_from_the_launch(clock):
    from autograder.service import frame

    credential = frame.launch(frame.STUDENT, 5, ORIGINS)
    start = clock.now
    while clock.now - start + 3600 <= frame.LAUNCH_SECONDS:  # busy all day: a page every hour
        clock.now += 3600
        credential = frame.read(credential.value)
    assert clock.now - start == frame.LAUNCH_SECONDS and credential.launched == int(start)
    clock.now += 60  # just used, so not idle, but past the cap
    with pytest.raises(frame.Refused, match="has ended: it lasts 12 hours from when you opened the assignment"):
        frame.read(credential.value)
    assert frame.read(frame.launch(frame.STUDENT, 5, ORIGINS).value).student_pk == 5  # a new launch: a new one
