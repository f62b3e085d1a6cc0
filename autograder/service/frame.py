"""The launch's credential for the pages shown inside the LMS's frame.

A browser that blocks third-party cookies (Safari; Chromium with them blocked; Firefox keeps them
per top-level site) drops the session cookie that an LTI launch sets inside the course's iframe,
so the pages after the launch would not know who is there. A Partitioned (CHIPS) cookie fixes
that in Chromium and Firefox only, needs an ``https://`` server, and Django has no setting for it;
LTI tools that work everywhere instead carry a launch-scoped credential in the page itself. That is
what this is: the launch signs the student's id and the origins that may frame the tool with the
server's secret key (:func:`issue`) and puts the value in the frame's links and forms (the
``frame`` query parameter or hidden field), never in a cookie. It lasts :data:`FRAME_SECONDS`; a
new launch from the course gives a new one.

It is not an ambient credential: the browser never attaches it by itself, and a page of another
origin can neither read it from the tool's page nor guess it, so a request that carries it cannot
be forged across sites, and the views it authenticates skip Django's CSRF cookie check for it (a
request without it is checked as before). The pages it opens send ``Referrer-Policy: no-referrer``
so that it does not leave in a Referer header. It names one student and never staff: a submission
of someone else is a 404 as for any other student.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core import signing

#: The query parameter and form field that carry the credential.
FIELD = "frame"
#: How long a launch's credential opens the pages (seconds): a working session; relaunch after.
FRAME_SECONDS = 2 * 3600
SALT = "autograder.service.frame"
#: What a framing origin looks like (it goes into a Content-Security-Policy header).
ORIGIN = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+")


class Refused(Exception):
    """The credential is expired, altered or not this server's: the reason, in words for the student."""


@dataclass(frozen=True)
class Credential:
    student_pk: int
    origins: tuple[str, ...]
    value: str


def issue(student_pk: int, origins=()) -> str:
    """A credential for this student, framable by ``origins`` (the launch's platform and course hosts)."""
    return signing.dumps({"s": student_pk, "o": sorted(set(origins))}, salt=SALT, compress=True)


def read(value: str) -> Credential:
    try:
        data = signing.loads(value, salt=SALT, max_age=FRAME_SECONDS)
    except signing.SignatureExpired:
        raise Refused("This page's sign-in from your course has expired. Open the assignment again from "
                      "your course.") from None
    except signing.BadSignature:
        raise Refused("This link was changed or is not from this tool. Open the assignment again from your "
                      "course.") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise Refused("This link is not valid. Open the assignment again from your course.")
    origins = tuple(o for o in data.get("o", ()) if isinstance(o, str) and ORIGIN.fullmatch(o))
    return Credential(data["s"], origins, value)


def from_request(request) -> Credential | None:
    """The credential the request carries (query string or form field), None when it carries none;
    :class:`Refused` when it carries a bad one."""
    value = request.GET.get(FIELD) or (request.POST.get(FIELD) if request.method == "POST" else "")
    return read(value) if value else None


def context(request) -> dict:
    """Templates: ``frame`` (the credential to carry on, or ""), and ``frame_q`` and ``frame_amp``, its
    query parameter to append to a URL without or with a query ("?frame=...", "&frame=...", or "")."""
    from urllib.parse import urlencode

    credential = getattr(request, "frame", None)
    if credential is None:
        return {"frame": "", "frame_q": "", "frame_amp": ""}
    query = urlencode({FIELD: credential.value})
    return {"frame": credential.value, "frame_q": "?" + query, "frame_amp": "&" + query}
