"""Pages and the submission API.

    GET  /                              a student's upload page and submissions (token login first)

Pages see who is asking through :func:`caller` only: the CLI's Bearer token, else the LTI launch's
credential that a page inside the LMS's frame carries (:mod:`.frame`; the views marked
:func:`frame_page`, and the staff pages, marked :func:`staff_page`), else the session. The Django
admin takes the session only.

    POST /login, /logout                a web session from a token (Django's session and CSRF)
    POST /submit                        the upload form (session + CSRF); redirects to the page
    POST /api/submissions               the API (``Authorization: Bearer TOKEN``): the upload as the
                                        body (``X-Filename``) or multipart ``file`` fields; answers
                                        the receipt as JSON (201), a refusal as ``{"error": ...}``
    GET  /submissions/<id>/             status and feedback (HTML), or JSON with ``Accept:
                                        application/json``: for the owner and staff only (404 else)
    GET  /submissions/<id>/feedback.html  the student feedback page, under a strict CSP
    GET  /submissions/<id>/events       Server-Sent Events: each question's result as it is graded
                                        (``question``, its ``id`` the sequence number; a reconnect
                                        with ``Last-Event-ID`` resumes), ``status`` changes, then
                                        ``done`` with the score; owner and staff only
    GET  /live.js                       the submission page's script (EventSource; no inline script)
    GET  /staff/                        the class: each student's counted score, the queue depth,
                                        the similarity flags between counted submissions
    GET  /staff/export/submissions|csv  ``serve export``'s CSV files, as downloads
    POST /staff/export/canvas|moodle    Canvas's or Moodle's gradebook file (the upload ``gradebook``)
                                        filled in with the final grades, as a download
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from urllib.parse import unquote, urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.views import redirect_to_login
from django.middleware.csrf import CsrfViewMiddleware
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from autograder.service import frame, jobs, wakeup
from autograder.service.intake import accept, read_limited
from autograder.service.models import Assignment, QuestionProgress, Student, Submission
from autograder.service.policy import Refused, counted_submission, last_accepted, student_deadline

PAGE_CSP = "default-src 'self'; frame-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " \
           "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
#: The submission page runs one script of ours (live.js, from this origin) and nothing inline.
LIVE_PAGE_CSP = PAGE_CSP.replace("script-src 'none'", "script-src 'self'")
#: An events stream polls the database every EVENTS_POLL seconds for at most EVENTS_SECONDS; a
#: browser then reconnects (EventSource does, after ``retry``) and resumes from its last event.
EVENTS_POLL = 0.25
EVENTS_SECONDS = 120.0
#: Seconds of silence after which the stream sends a comment line.
EVENTS_KEEPALIVE = 15.0
#: feedback.html is the pipeline's self-contained page: inline styles and data: images, nothing else.
FEEDBACK_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


class ContentSecurityPolicy:
    """Every page gets :data:`PAGE_CSP` unless its view set a stricter one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response


def _assignment(request) -> Assignment:
    """The assignment a page or an upload is for: ``?assignment=SLUG``, else the course's first."""
    try:
        return Assignment.chosen(request.GET.get("assignment"))
    except Assignment.DoesNotExist as exc:
        raise Http404(str(exc)) from None


def _assignments() -> list[Assignment]:
    return list(Assignment.objects.order_by("id"))


def _bearer(request) -> tuple[bool, Student | None]:
    """(a Bearer header was sent, its student or None when wrong or revoked)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False, None
    return True, Student.by_token(header[len("Bearer "):].strip())


def _session_student(request) -> Student | None:
    if request.user.is_authenticated:
        return Student.objects.filter(user=request.user, token_revoked=False).first()
    return None


@dataclass(frozen=True)
class Caller:
    student: Student | None
    staff: bool = False


def caller(request) -> Caller:
    """Who is asking, by one rule for every page: an ``Authorization: Bearer`` token when one is sent
    (the CLI; a wrong one is nobody); else the launch's frame credential when the page carries one
    (:func:`frame_page` read it): a student's names that student only, a staff credential names
    staff and no student; else the session. A credential whose student was revoked, or whose staff
    login is no longer active staff, is refused (:class:`.frame.Refused`)."""
    sent, student = _bearer(request)
    if sent:
        return Caller(student)
    credential = getattr(request, "frame", None)
    if credential is not None and credential.student_pk is not None:
        student = Student.objects.filter(pk=credential.student_pk, token_revoked=False).select_related("user").first()
        if student is None:
            raise frame.Refused("This sign-in from your course no longer names a student of this course.")
        return Caller(student)
    if credential is not None:
        if not get_user_model().objects.filter(pk=credential.staff_pk, is_active=True, is_staff=True).exists():
            raise frame.Refused("This sign-in from your course no longer names a member of the course's staff.")
        return Caller(None, staff=True)
    return Caller(_session_student(request), staff=request.user.is_authenticated and request.user.is_staff)


_CSRF = CsrfViewMiddleware(lambda request: None)


def frame_page(view):
    """A page that also opens inside the LMS's frame with the launch's credential (see :mod:`.frame`)
    instead of a session. A request that carries the credential is not checked for Django's CSRF
    cookie: the credential is not ambient (the browser never adds it; another site cannot read or
    guess it), so carrying it is itself the proof that the tool's own page sent the request; a
    POST that the browser marks as sent from another site (``Origin``, ``Sec-Fetch-Site``) is
    still refused, so that no page elsewhere can post an upload under its own author's
    credential from a student's browser. Any other request is checked for CSRF as before. The
    answer to a credential request may be framed by the origins the launch named and sends no
    Referer; an expired or altered credential gets a page that says so (403)."""

    @wraps(view)
    def page(request, *args, **kwargs):
        try:
            request.frame = frame.from_request(request)
            if request.frame is not None and request.method == "POST" and not _from_own_page(request):
                raise frame.Refused("This form was sent from another site. Open the assignment again from your "
                                    "course.")
            if request.frame is None:
                refused = _CSRF.process_view(request, view, args, kwargs)
                if refused is not None:
                    return refused
            response = view(request, *args, **kwargs)
        except frame.Refused as exc:
            return _frame_refusal(request, str(exc))
        if request.frame is not None:
            _in_frame(response, request.frame.origins)
        return response

    return csrf_exempt(page)


def staff_page(view):
    """A staff page (the class page and what it links to): a :func:`frame_page` that answers only a
    caller who is staff (:func:`caller`). A credential that is not staff's (a student's) gets the
    refusal page (403); a request without one is sent to the admin's sign-in, as Django's
    ``staff_member_required`` does."""

    @wraps(view)
    def page(request, *args, **kwargs):
        if not caller(request).staff:
            if request.frame is not None:
                raise frame.Refused("This page is for the course's staff, and this sign-in from your course is "
                                    "a student's.")
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, *args, **kwargs)

    return frame_page(page)


def _from_own_page(request) -> bool:
    """The browser did not mark the request as sent from another origin (a client without these
    headers, such as a script, sends the credential it was given). Under ``no-referrer`` a browser
    sends ``Origin: null`` even from the tool's own page; ``Sec-Fetch-Site`` then tells."""
    from django.conf import settings

    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
        return False
    origin = request.headers.get("Origin")
    own = {request.build_absolute_uri("/").rstrip("/"), settings.BASE_URL.rstrip("/"),
           *settings.CSRF_TRUSTED_ORIGINS}
    return origin in (None, "null") or origin in own


def _in_frame(response, origins) -> None:
    ancestors = " ".join(["'self'", *origins])
    csp = response.headers.get("Content-Security-Policy", PAGE_CSP)
    response.headers["Content-Security-Policy"] = csp.replace("frame-ancestors 'self'",
                                                              f"frame-ancestors {ancestors}")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.xframe_options_exempt = True


def _frame_refusal(request, reason: str):
    request.frame = None
    response = render(request, "service/frame_refused.html", {"reason": reason}, status=403)
    # Nothing on this page acts, and a refused credential's origins cannot be trusted: any site may frame it.
    response.headers["Content-Security-Policy"] = PAGE_CSP.replace("frame-ancestors 'self'", "frame-ancestors *")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.xframe_options_exempt = True
    return response


def _frame_query(request) -> str:
    return frame.context(request)["frame_q"]


def _refusal(reason: str, status: int) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def receipt(request, submission: Submission) -> dict:
    return {"id": submission.pk, "time": submission.created.isoformat(), "sha256": submission.sha256,
            "url": request.build_absolute_uri(reverse("submission", args=[submission.pk])),
            "kind": submission.kind, "status": submission.status, "filename": submission.filename}


@frame_page
def index(request):
    who = caller(request)
    if who.student is None:
        return render(request, "service/login.html", {"staff": who.staff})
    return _index_page(request, who.student, _assignment(request))


def _index_page(request, student: Student, assignment: Assignment, errors=(), status: int = 200):
    return render(request, "service/index.html", {
        "student": student, "assignment": assignment, "assignments": _assignments(),
        "deadline": student_deadline(student, assignment), "cutoff": last_accepted(student, assignment),
        "submissions": Submission.objects.filter(student=student, assignment=assignment).order_by("-created")[:50],
        "counted": counted_submission(student, assignment), "total": assignment.total(), "errors": errors},
        status=status)


@require_POST
def login_view(request):
    student = Student.by_token(request.POST.get("token", "").strip())
    if student is None:
        messages.error(request, "That token is wrong or was revoked.")
        return redirect("index")
    login(request, student.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("index")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("index")


def _questions(value: str) -> list[str]:
    return [q.strip() for q in value.replace(",", " ").split() if q.strip()]


@frame_page
@require_POST
def submit_form(request):
    student = caller(request).student
    if student is None:
        return redirect("index")
    assignment = _assignment(request)
    try:
        _check_length(request, assignment.max_upload_bytes)
        files = [(f.name, read_limited(f, assignment.max_upload_bytes)) for f in request.FILES.getlist("file")]
        submission = accept(student, assignment, files, kind=request.POST.get("kind", "grade"),
                            questions=_questions(request.POST.get("questions", "")))
    except Refused as exc:
        if request.frame is not None:  # no session in the frame to carry a message through a redirect
            return _index_page(request, student, assignment, errors=[f"Refused: {exc}"], status=400)
        messages.error(request, f"Refused: {exc}")
        return redirect(f"{reverse('index')}?{urlencode({'assignment': assignment.slug})}")
    return redirect(reverse("submission", args=[submission.pk]) + _frame_query(request))


@csrf_exempt  # token-authenticated only: no cookie is read, so there is no cross-site request to forge
@require_POST
def submit_api(request):
    sent, student = _bearer(request)
    if not sent:
        return _refusal("send your token as: Authorization: Bearer TOKEN", 401)
    if student is None:
        return _refusal("the token is wrong or was revoked", 401)
    try:
        assignment = Assignment.chosen(request.GET.get("assignment"))
    except Assignment.DoesNotExist as exc:
        return _refusal(str(exc), 404)
    limit = assignment.max_upload_bytes
    try:
        _check_length(request, limit)
        if request.content_type == "multipart/form-data":
            files = [(f.name, read_limited(f, limit)) for f in request.FILES.getlist("file")]
            kind, questions = request.POST.get("kind", "grade"), request.POST.getlist("q")
        else:
            name = unquote(request.headers.get("X-Filename", "upload"))
            files = [(name, read_limited(request, limit))]
            kind, questions = request.GET.get("kind", "grade"), request.GET.getlist("q")
        submission = accept(student, assignment, files, kind=kind, questions=questions)
    except Refused as exc:
        return _refusal(str(exc), exc.status)
    return JsonResponse(receipt(request, submission), status=201)


def _check_length(request, limit: int) -> None:
    """Refuse a body larger than the limit (and some room for the multipart framing) before reading it."""
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise Refused("a Content-Length that is not a number") from None
    if length > limit + 1024 * 1024:
        raise Refused(f"the upload is larger than the {limit / 2**20:g} MB allowed for this assignment", 413)


def _owned(who: Caller, pk: int) -> Submission:
    """The submission if the caller (see :func:`caller`) owns it or is staff; 404 for anyone else."""
    submission = Submission.objects.select_related("student", "assignment").filter(pk=pk).first()
    allowed = submission is not None and (
        (who.student is not None and submission.student_id == who.student.pk) or who.staff)
    if not allowed:
        raise Http404("no such submission")
    return submission


def submission_json(request, submission: Submission) -> dict:
    data = receipt(request, submission)
    job = getattr(submission, "job", None)
    result = submission.student_result or {}
    data.update({"attempts": job.attempts if job else 0, "score": submission.score,
                 "raw_score": submission.raw_score, "max_score": submission.max_score,
                 "late_days": submission.late_days, "error": submission.error or None,
                 "questions": result.get("questions", []), "notes": result.get("notes", []),
                 "phases": submission.phases(),
                 "result": submission.student_result})
    return data


@frame_page
@require_GET
def submission_view(request, pk: int):
    who = caller(request)
    submission = _owned(who, pk)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(submission_json(request, submission))
    response = render(request, "service/submission.html", {
        "submission": submission, "receipt": receipt(request, submission), "queue": jobs.depth(),
        "own": who.student is not None and submission.student_id == who.student.pk,
        "progress": submission.progress.all() if submission.status == Submission.Status.RUNNING else []})
    response.headers["Content-Security-Policy"] = LIVE_PAGE_CSP
    return response


@frame_page
@require_GET
def submission_events(request, pk: int):
    submission = _owned(caller(request), pk)
    try:
        after = int(request.headers.get("Last-Event-ID") or request.GET.get("after") or 0)
    except ValueError:
        after = 0
    response = StreamingHttpResponse(_events(submission.pk, after), content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _event(name: str, data, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def final_event(submission: Submission) -> dict:
    return {"status": submission.status, "score": submission.score, "raw_score": submission.raw_score,
            "max_score": submission.max_score, "late_days": submission.late_days,
            "error": submission.error or None, "phases": submission.phases(),
            "feedback": reverse("feedback", args=[submission.pk]) if Submission.objects.filter(
                pk=submission.pk).exclude(feedback_html="").exists() else None}


def _events(pk: int, after: int):
    """New question results and status changes, until the submission is final or EVENTS_SECONDS pass."""
    yield b"retry: 2000\n\n"
    deadline = time.monotonic() + EVENTS_SECONDS
    status = None
    sent = time.monotonic()
    while True:
        seen = wakeup.results_stored.count()
        for row in QuestionProgress.objects.filter(submission_id=pk, seq__gt=after).order_by("seq"):
            after, sent = row.seq, time.monotonic()
            yield _event("question", row.question, row.seq)
        submission = Submission.objects.defer("feedback_html", "report_md", "grading_json",
                                              "student_result").get(pk=pk)  # the large fields: not every poll
        if submission.status != status:
            status = submission.status
            yield _event("status", {"status": status})
        if status in (Submission.Status.GRADED, Submission.Status.FAILED, Submission.Status.REPLACED):
            yield _event("done", final_event(submission))
            return
        if time.monotonic() > deadline:
            return
        if time.monotonic() - sent > EVENTS_KEEPALIVE:  # a comment: proxies and clients see a live stream
            sent = time.monotonic()
            yield b": waiting\n\n"
        wakeup.results_stored.wait(seen, EVENTS_POLL)  # the next poll, or at once when this process stores


LIVE_JS = """// The submission page: each question's result as it is graded (Server-Sent Events), then the feedback.
(function () {
  var page = document.getElementById("live");
  if (!page || !window.EventSource) { return; }
  var rows = document.getElementById("live-rows");
  var status = document.getElementById("status");
  var source = new EventSource(page.dataset.events);
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  source.addEventListener("question", function (e) {
    var q = JSON.parse(e.data);
    var row = document.createElement("tr");
    row.className = "question " + q.status;
    cell(row, q.id); cell(row, q.status); cell(row, q.points + " / " + q.max_points);
    rows.appendChild(row);
  });
  source.addEventListener("status", function (e) { status.textContent = JSON.parse(e.data).status; });
  source.addEventListener("done", function (e) {
    source.close();
    var done = JSON.parse(e.data);
    status.textContent = done.status;
    var score = document.getElementById("live-score");
    if (done.score !== null) { score.textContent = "score: " + done.score + " / " + done.max_score; }
    else if (done.error) { score.textContent = done.error; }
    if (done.feedback) {
      var frame = document.createElement("iframe");
      frame.title = "feedback"; frame.src = page.dataset.feedback || done.feedback; frame.setAttribute("sandbox", "");
      document.getElementById("live-feedback").appendChild(frame);
    }
  });
})();
"""


@require_GET
def live_js(request):
    return HttpResponse(LIVE_JS, content_type="text/javascript; charset=utf-8")


@frame_page
@require_GET
def feedback_view(request, pk: int):
    submission = _owned(caller(request), pk)
    if not submission.feedback_html:
        raise Http404("not graded yet")
    response = HttpResponse(submission.feedback_html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = FEEDBACK_CSP
    return response


@staff_page
def class_view(request):
    return class_page(request, _assignment(request))


def class_page(request, assignment: Assignment, errors=(), notes=(), status: int = 200):
    """The class page for ``assignment`` (the caller checked that the user is staff: the page's
    view, or an LTI launch by an Instructor), with ``errors`` and ``notes`` above it."""
    from autograder.service.export import final_grades
    from autograder.service.similarity import similar_counted

    grades = final_grades(assignment)
    similar, compared = similar_counted(grades.counted)
    pairs = [{"a": p.a, "b": p.b, "score": p.score, "modules": p.modules,
              "a_submission": grades.counted[p.a], "b_submission": grades.counted[p.b]} for p in similar]
    rows = []
    for student in grades.students:
        latest = Submission.objects.filter(student=student, assignment=assignment).order_by("-created").first()
        rows.append({"student": student, "counted": grades.counted.get(student.student_id), "latest": latest,
                     "phases": latest.phases() if latest else None,
                     "blank": grades.blank.get(student.student_id, "")})
    from django.conf import settings

    return render(request, "service/class.html", {"assignment": assignment, "assignments": _assignments(),
                                                  "rows": rows, "queue": jobs.depth(), "lti": settings.LTI,
                                                  "total": assignment.total(),
                                                  "pairs": pairs, "compared": compared, "errors": errors,
                                                  "notes": notes}, status=status)


def _back_to_class(request, line: str, ok: bool, status: int = 200):
    """A staff form's outcome on the class page: through the session's messages and a redirect, or,
    in the frame (no session there to carry a message), the class page itself."""
    if request.frame is not None:
        return class_page(request, _assignment(request), errors=() if ok else [line], notes=[line] if ok else (),
                          status=status)
    (messages.info if ok else messages.error)(request, line)
    return redirect("class")


#: The largest gradebook file (Canvas's export, Moodle's worksheet) the class page takes.
GRADEBOOK_BYTES = 20 * 2**20


def _csv_download(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@staff_page
def export_view(request, format: str):
    """The class page's downloads: ``serve export``'s files. GET: submissions and csv; POST (with the
    LMS's own file as ``gradebook``): canvas and moodle. A refusal goes back to the class page."""
    import tempfile

    from autograder.bulk.exports import csv_text
    from autograder.service.export import ExportRefused, gradebook, gradebook_rows, submission_rows

    if format in ("submissions", "csv"):
        if request.method != "GET":
            return HttpResponse(status=405, headers={"Allow": "GET"})
        assignment = _assignment(request)
        header, *rows = submission_rows() if format == "submissions" else gradebook_rows(assignment)
        return _csv_download(csv_text(header, rows, verbatim=("url",)),
                             "submissions.csv" if format == "submissions" else "gradebook.csv")
    if format not in ("canvas", "moodle"):
        raise Http404("no such export")
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    upload, source = request.FILES.get("gradebook"), None
    try:
        if upload is None:
            raise ExportRefused(f"choose the {format.capitalize()} file to fill in")
        if upload.size > GRADEBOOK_BYTES:
            raise ExportRefused(f"the file is larger than {GRADEBOOK_BYTES / 2**20:g} MB")
        with tempfile.TemporaryDirectory(prefix="ch3-export-") as folder:
            source = Path(folder) / "gradebook.csv"
            source.write_bytes(upload.read())
            book = gradebook(format, source, _assignment(request),
                             assignment_column=request.POST.get("assignment") or None,
                             partial_export=bool(request.POST.get("partial_export")))
    except ExportRefused as exc:
        reason = str(exc).replace(str(source), f"the file {upload.name}") if source else str(exc)
        return _back_to_class(request, f"cannot export {format}: {reason}", ok=False, status=400)
    name = "canvas_import.csv" if format == "canvas" else "moodle_grading_worksheet.csv"
    return _csv_download(book.text, name)


@staff_page
@require_POST
def rescore_view(request):
    """The class page's button: ``serve rescore`` on this data folder (see :mod:`.rescore`)."""
    from autograder.service.rescore import run_rescore

    ok, line = run_rescore()
    return _back_to_class(request, line, ok)
