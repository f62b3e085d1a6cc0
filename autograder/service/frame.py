"""The launch's credential for the pages shown inside the LMS's frame.

A browser that blocks third-party cookies (Safari; Chromium with them blocked; Firefox keeps them
per top-level site) drops the session cookie that an LTI launch sets inside the course's iframe,
so the pages after the launch would not know who is there. A Partitioned (CHIPS) cookie fixes
that in Chromium and Firefox only, needs an ``https://`` server, and Django has no setting for it;
LTI tools that work everywhere instead carry a launch-scoped credential in the page itself. That is
what this is: the launch signs who launched, the origins that may frame the tool and the launch's
time with the server's secret key (:func:`launch`) and puts the value in the frame's links and forms
(the ``frame`` query parameter or hidden field), never in a cookie.

It names either a student (a Learner's launch) or a member of the course's staff (an Instructor's
or a Teaching Assistant's launch, by their staff login): the kind is part of the signed value, so a
student's credential never opens a staff page and a staff credential is never read as a student's.

Its expiry slides: every page answered to a valid credential carries a freshly signed one (same
person, same origins, same launch time; :attr:`Credential.value`), so a user who keeps working
keeps going, while a credential unused for :data:`FRAME_SECONDS` has expired. Whatever the
activity, :data:`LAUNCH_SECONDS` after the launch it is refused; a new launch from the course
gives a new one.

It is not an ambient credential: the browser never attaches it by itself, and a page of another
origin can neither read it from the tool's page nor guess it, so a request that carries it cannot
be forged across sites, and the views it authenticates skip Django's CSRF cookie check for it (a
request without it is checked as before). The pages it opens send ``Referrer-Policy: no-referrer``
so that it does not leave in a Referer header.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.core import signing

#: The query parameter and form field that carry the credential.
FIELD = "frame"
#: How long a credential opens the pages after it was signed (seconds): each page answered to it
#: carries a new one, so this is the longest a user may stay idle.
FRAME_SECONDS = 2 * 3600
#: How long after the launch the credential and its renewals open the pages at all (seconds): a
#: working day; relaunch from the course after.
LAUNCH_SECONDS = 12 * 3600
SALT = "autograder.service.frame"
#: The kinds of person a credential names.
STUDENT = "student"
STAFF = "staff"
KINDS = (STUDENT, STAFF)
#: What a framing origin looks like (it goes into a Content-Security-Policy header).
ORIGIN = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+")


class Refused(Exception):
    """The credential is expired, altered or not this server's: the reason, in words for the user."""


@dataclass(frozen=True)
class Credential:
    """A valid credential: who (``kind`` and ``pk``: a :class:`~autograder.service.models.Student`'s
    for :data:`STUDENT`, a staff login's for :data:`STAFF`), the origins that may frame its pages,
    the launch's time (seconds since the epoch), and ``value``, the credential to carry on in this
    request's answer: signed now, with the same person, origins and launch time."""

    kind: str
    pk: int
    origins: tuple[str, ...]
    launched: int
    value: str

    @property
    def student_pk(self) -> int | None:
        """The student it names; None for a staff credential."""
        return self.pk if self.kind == STUDENT else None

    @property
    def staff_pk(self) -> int | None:
        """The staff login it names; None for a student's credential."""
        return self.pk if self.kind == STAFF else None


def _sign(kind: str, pk: int, origins, launched: int) -> str:
    return signing.dumps({"k": kind, "id": pk, "o": sorted(set(origins)), "t": launched}, salt=SALT, compress=True)


def launch(kind: str, pk: int, origins=()) -> Credential:
    """The credential a launch gives: for ``kind`` and ``pk``, framable by ``origins`` (the launch's
    platform and course hosts), launched now."""
    if kind not in KINDS:
        raise ValueError(f"a credential names a {' or a '.join(KINDS)}, not {kind!r}")
    origins = tuple(sorted(set(origins)))
    launched = int(time.time())
    return Credential(kind, pk, origins, launched, _sign(kind, pk, origins, launched))


def read(value: str) -> Credential:
    """The credential ``value`` names, renewed (:attr:`Credential.value`); :class:`Refused` when it
    is altered or not this server's, unused for longer than :data:`FRAME_SECONDS`, or from a launch
    more than :data:`LAUNCH_SECONDS` ago."""
    try:
        data = signing.loads(value, salt=SALT, max_age=FRAME_SECONDS)
    except signing.SignatureExpired:
        raise Refused(f"This page's sign-in from your course has expired: it was not used for "
                      f"{_duration(FRAME_SECONDS)}. Open the assignment again from your course.") from None
    except signing.BadSignature:
        raise Refused("This link was changed or is not from this tool. Open the assignment again from your "
                      "course.") from None
    if not (isinstance(data, dict) and data.get("k") in KINDS and type(data.get("id")) is int
            and type(data.get("t")) is int):
        raise Refused("This link is not valid. Open the assignment again from your course.")
    if time.time() - data["t"] > LAUNCH_SECONDS:
        raise Refused(f"This page's sign-in from your course has ended: it lasts {_duration(LAUNCH_SECONDS)} "
                      f"from when you opened the assignment. Open the assignment again from your course.")
    origins = tuple(o for o in data.get("o", ()) if isinstance(o, str) and ORIGIN.fullmatch(o))
    return Credential(data["k"], data["id"], origins, data["t"], _sign(data["k"], data["id"], origins, data["t"]))


def _duration(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours:g} hour{'' if hours == 1 else 's'}" if hours >= 1 else f"{seconds // 60} minutes"


def from_request(request) -> Credential | None:
    """The credential the request carries (query string or form field), None when it carries none;
    :class:`Refused` when it carries a bad one."""
    value = request.GET.get(FIELD) or (request.POST.get(FIELD) if request.method == "POST" else "")
    return read(value) if value else None


def context(request) -> dict:
    """Templates: ``frame`` (the credential to carry on, renewed, or ""), and ``frame_q`` and
    ``frame_amp``, its query parameter to append to a URL without or with a query ("?frame=...",
    "&frame=...", or "")."""
    from urllib.parse import urlencode

    credential = getattr(request, "frame", None)
    if credential is None:
        return {"frame": "", "frame_q": "", "frame_amp": ""}
    query = urlencode({FIELD: credential.value})
    return {"frame": credential.value, "frame_q": "?" + query, "frame_amp": "&" + query}
