"""The submission service in this process (Django on a temporary data folder): tokens and ownership,
refusals, the queue's leases, replacing, the course rules, exports, and one grading through the queue."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.service_helpers import reference, zip_bytes  # noqa: E402


@pytest.fixture(autouse=True)
def clean(service):
    """Every test starts with no students or submissions and the assignment's defaults."""
    from autograder.service.models import Assignment, Student
    from django.contrib.auth import get_user_model

    Student.objects.all().delete()
    get_user_model().objects.filter(is_staff=False).delete()
    Assignment.objects.update(deadline=None, late_until=None, late_penalty_percent_per_day=0, hidden_per_hour=10,
                              max_upload_bytes=20 * 2**20, counted="best", questions=[])
    yield


def add_students(service, *rows, capsys=None):
    from autograder.service.commands import add_students as add

    roster = service.parent / "roster.csv"
    roster.write_text("id,name,email\n" + "".join(f"{r},{r.title()},{r}@example.org\n" for r in rows))
    buffer = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(buffer):
        add(service, roster, reissue=False)
    return {row["id"]: row["token"] for row in csv.DictReader(io.StringIO(buffer.getvalue()))}


def client():
    from django.test import Client

    return Client()


def post(upload: bytes, token: str, *, name="submission.zip", query="q=confusion"):
    return client().post(f"/api/submissions?{query}", data=upload, content_type="application/octet-stream",
                         headers={"Authorization": f"Bearer {token}", "X-Filename": name})


def blobs(service) -> int:
    return sum(1 for p in (service / "blobs").rglob("*") if p.is_file()) if (service / "blobs").exists() else 0


# ------------------------------------------------------------------ init and students

def test_init_makes_a_private_config_a_wal_database_and_the_assignment(service):
    from autograder.service.models import Assignment
    from django.contrib.auth import get_user_model

    assert (service / "service.json").stat().st_mode & 0o077 == 0
    assert len(json.loads((service / "service.json").read_text())["secret_key"]) > 40
    assert (service / "questions.toml").read_bytes() == (Path(__file__).parents[1] / "autograder"
                                                          / "questions.toml").read_bytes()
    with sqlite3.connect(service / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Assignment.objects.get().title == "Chapter 3: Classification"
    assert get_user_model().objects.get(username="staff").is_superuser


def test_the_migrations_match_the_models(service):
    from django.core.management import call_command

    call_command("makemigrations", "service", check=True, dry_run=True, verbosity=0)  # exits 1 on a change


def test_students_get_tokens_shown_once_and_stored_hashed(service):
    from autograder.service.models import Student, hash_token

    tokens = add_students(service, "s1", "s2")
    assert set(tokens) == {"s1", "s2"} and all(len(t) >= 40 for t in tokens.values())
    s1 = Student.objects.get(student_id="s1")
    assert s1.token_hash == hash_token(tokens["s1"]) and tokens["s1"] not in s1.token_hash
    again = add_students(service, "s1", "s3")
    assert again["s1"] == "" and again["s3"]  # an existing student keeps the token; a new one gets one


# ------------------------------------------------------------------ tokens and ownership

def test_a_receipt_at_once_and_the_page_for_its_owner_only(service):
    from autograder.service.models import Job, Submission

    tokens = add_students(service, "s1", "s2")
    response = post(reference(), tokens["s1"])
    assert response.status_code == 201, response.content
    receipt = response.json()
    assert receipt["url"] == f"http://testserver/submissions/{receipt['id']}/"
    assert receipt["status"] == "queued" and len(receipt["sha256"]) == 64
    stored = service / Submission.objects.get(pk=receipt["id"]).blob
    assert stored.name.startswith(receipt["sha256"]) and stored.is_file()
    assert Job.objects.get(submission_id=receipt["id"]).status == "queued"

    path = f"/submissions/{receipt['id']}/"
    owner = client().get(path, headers={"Authorization": f"Bearer {tokens['s1']}", "Accept": "application/json"})
    assert owner.status_code == 200 and owner.json()["status"] == "queued" and owner.json()["score"] is None
    other = client().get(path, headers={"Authorization": f"Bearer {tokens['s2']}", "Accept": "application/json"})
    assert other.status_code == 404
    assert client().get(path).status_code == 404  # no credentials
    assert client().get(f"/submissions/{receipt['id']}/feedback.html",
                        headers={"Authorization": f"Bearer {tokens['s2']}"}).status_code == 404


def test_wrong_and_revoked_tokens_are_refused_with_one_line(service):
    from autograder.service.models import Student

    tokens = add_students(service, "s1")
    assert post(reference(), "not-a-token").status_code == 401
    Student.objects.filter(student_id="s1").update(token_revoked=True)
    refused = post(reference(), tokens["s1"])
    assert refused.status_code == 401 and refused.json() == {"error": "the token is wrong or was revoked"}
    assert client().post("/api/submissions", data=b"x", content_type="application/zip").status_code == 401


def test_a_web_session_from_a_token_with_csrf(service):
    from django.test import Client

    tokens = add_students(service, "s1")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/")
    assert b'name="token"' in page.content and "Content-Security-Policy" in page.headers
    assert browser.post("/login", {"token": tokens["s1"]}).status_code == 403  # no CSRF token
    csrf = browser.cookies["csrftoken"].value
    assert browser.post("/login", {"token": tokens["s1"], "csrfmiddlewaretoken": csrf}).status_code == 302
    csrf = browser.cookies["csrftoken"].value  # a login rotates the CSRF token
    upload = io.BytesIO(reference())
    upload.name = "mine.zip"
    answer = browser.post("/submit", {"file": upload, "kind": "check", "questions": "confusion",
                                      "csrfmiddlewaretoken": csrf})
    assert answer.status_code == 302 and "/submissions/" in answer.url
    page = browser.get(answer.url)
    assert b"queued" in page.content and b"mine.zip" in page.content


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("name,upload,reason", [
    ("up.zip", zip_bytes({"../confusion.py": b"x = 1\n"}), "points outside the archive"),
    ("up.zip", zip_bytes({"/abs/confusion.py": b"x = 1\n"}), "points outside the archive"),
    ("up.zip", zip_bytes({"confusion.py": b"x = 1\n"}, links=("roc.py",)), "symbolic link"),
    ("up.zip", b"PK\x03\x04 not really a zip", "not a readable .zip"),
    ("up.zip", zip_bytes({"notes.txt": b"hello"}), "holds no module of the assignment"),
    ("up.exe", b"MZ", "only .zip, .ipynb and .py files"),
    ("up.zip", zip_bytes({"confusion.py": b"\0" * (60 * 2**20)}), "more than 50 MB"),  # a zip bomb
])
def test_bad_uploads_are_refused_whole(service, name, upload, reason):
    from autograder.service.models import Submission

    tokens = add_students(service, "s1")
    before = blobs(service)
    refused = post(upload, tokens["s1"], name=name)
    assert refused.status_code == 400 and reason in refused.json()["error"], refused.content
    assert "\n" not in refused.json()["error"] and "Traceback" not in refused.json()["error"]
    assert blobs(service) == before and not Submission.objects.exists()


def test_the_size_limit_is_per_assignment(service):
    from autograder.service.models import Assignment

    tokens = add_students(service, "s1")
    Assignment.objects.update(max_upload_bytes=1000)
    before = blobs(service)
    refused = post(reference(), tokens["s1"])
    assert refused.status_code == 413 and "larger than" in refused.json()["error"]
    huge = post(b"\0" * (3 * 2**20), tokens["s1"])  # refused by its Content-Length, before it is read
    assert huge.status_code == 413 and blobs(service) == before


def test_an_unknown_question_is_refused(service):
    tokens = add_students(service, "s1")
    refused = post(reference(), tokens["s1"], query="q=no_such_module")
    assert refused.status_code == 400 and refused.json()["error"] == "-q no_such_module: no such question or module"


def test_deadline_extension_and_late_window(service):
    from django.utils import timezone

    from autograder.service.models import Assignment, Extension, Student

    tokens = add_students(service, "s1", "s2")
    now = timezone.now()
    Assignment.objects.update(deadline=now - timedelta(days=2) + timedelta(hours=1))  # 1 day 23 h ago
    late = post(reference(), tokens["s1"])
    assert late.status_code == 403 and "no extension" in late.json()["error"]
    assert post(reference(), tokens["s1"], query="kind=check&q=confusion").status_code == 201  # checks stay open
    Extension.objects.create(student=Student.objects.get(student_id="s2"), assignment=Assignment.objects.get(),
                             until=now + timedelta(hours=1))
    on_time = post(reference(), tokens["s2"])
    assert on_time.status_code == 201
    Assignment.objects.update(late_until=now + timedelta(days=1), late_penalty_percent_per_day=10)
    accepted = post(reference(), tokens["s1"])
    assert accepted.status_code == 201
    from autograder.service.models import Submission

    assert Submission.objects.get(pk=accepted.json()["id"]).late_days == 2


def test_hidden_gradings_are_rate_limited_per_hour(service):
    from autograder.service.models import Assignment

    tokens = add_students(service, "s1")
    Assignment.objects.update(hidden_per_hour=2)
    assert [post(reference(), tokens["s1"]).status_code for _ in range(2)] == [201, 201]
    refused = post(reference(), tokens["s1"])
    assert refused.status_code == 429 and "2 hidden gradings per hour" in refused.json()["error"]
    assert post(reference(), tokens["s1"], query="kind=check").status_code == 201


def test_assignment_rules_are_validated():
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from autograder.service.models import Assignment

    now = timezone.now()
    for fields in ({"late_until": now}, {"deadline": now, "late_until": now - timedelta(hours=1)},
                   {"deadline": now, "late_penalty_percent_per_day": 10}, {"late_penalty_percent_per_day": 150},
                   {"hidden_per_hour": 0}):
        with pytest.raises(ValidationError):
            Assignment(slug="x", title="x", spec_file="questions.toml", **fields).full_clean()


def test_late_penalty_and_best_or_last(service):
    from autograder.service.models import Assignment, Student, Submission
    from autograder.service.policy import counted_submission, penalised

    assignment = Assignment.objects.get()
    assignment.late_penalty_percent_per_day = 25
    assert penalised(8.0, 2, assignment) == 4.0 and penalised(8.0, 9, assignment) == 0.0
    add_students(service, "s1")
    student = Student.objects.get()
    common = dict(student=student, assignment=assignment, sha256="0" * 64, blob="-", filename="x.zip",
                  status="graded", max_score=10)
    best = Submission.objects.create(score=9, **common)
    last = Submission.objects.create(score=4, **common)
    Submission.objects.create(score=10, **{**common, "status": "failed"})
    assert counted_submission(student, assignment) == best
    Assignment.objects.update(counted="last")
    assert counted_submission(student, Assignment.objects.get()) == last


# ------------------------------------------------------------------ the queue

def _queued(service, token, query="q=confusion"):
    from autograder.service.models import Job

    response = post(reference(), token, query=query)
    assert response.status_code == 201, response.content
    return Job.objects.get(submission_id=response.json()["id"])


def test_checks_are_claimed_before_gradings_and_a_job_once(service):
    from autograder.service import jobs

    tokens = add_students(service, "s1", "s2")
    grading = _queued(service, tokens["s1"])
    check = _queued(service, tokens["s2"], "kind=check")
    first, second = jobs.claim("a"), jobs.claim("b")
    assert (first.pk, second.pk) == (check.pk, grading.pk)
    assert jobs.claim("c") is None  # both leased


def test_an_expired_lease_is_claimed_again_and_the_old_holder_stores_nothing(service):
    from autograder.service import jobs
    from autograder.service.models import Job, Submission

    tokens = add_students(service, "s1")
    queued = _queued(service, tokens["s1"])
    killed = jobs.claim("killed-grader", lease_seconds=60)
    assert jobs.claim("other") is None
    Job.objects.filter(pk=killed.pk).update(lease_until=killed.lease_until - timedelta(minutes=5))
    again = jobs.claim("other")
    assert again.pk == queued.pk and again.attempts == 2 and again.worker == "other"
    assert not jobs.renew(killed) and not jobs.complete(killed, status="graded", score=1)
    assert jobs.complete(again, status="graded", score=7, max_score=10)
    assert not jobs.complete(again, status="graded", score=3)  # stored once
    assert Submission.objects.get(pk=queued.submission_id).score == 7
    assert jobs.claim("third") is None


def test_a_job_fails_after_its_last_attempt(service):
    from autograder.service import jobs
    from autograder.service.models import Job, Submission

    tokens = add_students(service, "s1")
    queued = _queued(service, tokens["s1"])
    for attempt in range(1, 4):
        job = jobs.claim("w")
        assert job.attempts == attempt
        Job.objects.filter(pk=job.pk).update(lease_until=job.lease_until - timedelta(minutes=5))
    assert jobs.claim("w") is None
    assert Job.objects.get(pk=queued.pk).status == "failed"
    assert "every attempt" in Submission.objects.get(pk=queued.submission_id).error


def test_a_dead_local_grader_is_recovered_at_start(service):
    from autograder.service import jobs

    tokens = add_students(service, "s1")
    _queued(service, tokens["s1"])
    import socket

    jobs.claim(f"{socket.gethostname()}:999999999/0")  # no such process
    assert jobs.claim("x") is None
    assert jobs.recover_local() == 1
    assert jobs.claim("x").attempts == 2


def test_a_newer_submission_replaces_one_still_queued(service):
    from autograder.service import jobs
    from autograder.service.models import Job, Submission

    tokens = add_students(service, "s1", "s2")
    old = _queued(service, tokens["s1"])
    other = _queued(service, tokens["s2"])
    check = _queued(service, tokens["s1"], "kind=check")
    new = _queued(service, tokens["s1"])
    assert Job.objects.get(pk=old.pk).status == "replaced"
    assert Submission.objects.get(pk=old.submission_id).status == "replaced"
    assert {j.status for j in Job.objects.filter(pk__in=[other.pk, check.pk, new.pk])} == {"queued"}
    running = jobs.claim("w")  # the check; a running job is never replaced
    newest = _queued(service, tokens["s1"], "kind=check")
    assert Job.objects.get(pk=running.pk).status == "running" and newest.status == "queued"


# ------------------------------------------------------------------ grading through the queue

def test_the_reference_is_graded_through_the_queue(service):
    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import Submission

    tokens = add_students(service, "s1", "s2")
    receipt = post(reference(), tokens["s1"]).json()
    job = jobs.claim("test")
    assert grade_job(job) == "graded"
    submission = Submission.objects.get(pk=receipt["id"])
    assert (submission.status, submission.score, submission.max_score) == ("graded", 10, 10)
    answer = client().get(receipt["url"], headers={"Authorization": f"Bearer {tokens['s1']}",
                                                   "Accept": "application/json"}).json()
    assert answer["score"] == 10 and answer["max_score"] == 10 and answer["attempts"] == 1
    assert {q["id"].split(".")[0] for q in answer["questions"]} == {"confusion"}
    assert all(q["status"] == "passed" for q in answer["questions"])
    assert "grader_errors" not in json.dumps(answer["questions"])
    feedback = client().get(f"/submissions/{receipt['id']}/feedback.html",
                            headers={"Authorization": f"Bearer {tokens['s1']}"})
    assert feedback.status_code == 200 and "default-src 'none'" in feedback.headers["Content-Security-Policy"]
    assert b"confusion" in feedback.content


def test_the_owner_reads_no_grader_traceback_or_staff_flag():
    from autograder.results import GradingResult, QuestionResult
    from autograder.service.dispatcher import student_result

    full = GradingResult(submission="/srv/ch3/blobs/ab/abc.zip", profile="quick", isolation="bwrap",
                         questions=[QuestionResult("confusion.public", "confusion", "public", 1, 2, "partial")],
                         grader_errors=["Traceback: /srv/hidden/test_confusion.py line 3"],
                         data_flags=[{"file": "confusion.py", "line": 1, "kind": "table", "evidence": "x"}])
    shown = student_result(full, "mine.zip")
    assert shown["grader_errors"] == [] and shown["data_flags"] == [] and shown["submission"] == "mine.zip"
    assert shown["score"] == 1 and "/srv/" not in json.dumps(shown)


def test_a_notebook_is_graded_as_its_module_and_loose_py_files_are_packed(service):
    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import Submission
    from tests.service_helpers import SOLUTIONS

    tokens = add_students(service, "s1", "s2")
    code = (SOLUTIONS / "confusion.py").read_text()
    notebook = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                      "source": code}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    receipt = post(notebook.encode(), tokens["s1"], name="confusion.ipynb").json()
    assert Submission.objects.get(pk=receipt["id"]).filename == "confusion.ipynb"
    loose = client().post("/api/submissions", {"file": [_named(code.encode(), "confusion.py"),
                                                        _named(b"x = 1\n", "notes.py")], "q": "confusion"},
                          headers={"Authorization": f"Bearer {tokens['s2']}"})
    assert loose.status_code == 201, loose.content
    assert Submission.objects.get(pk=loose.json()["id"]).filename == "submission.zip"
    import zipfile

    packed = zipfile.ZipFile(service / Submission.objects.get(pk=loose.json()["id"]).blob)
    assert sorted(packed.namelist()) == ["confusion.py", "notes.py"]
    assert grade_job(jobs.claim("test")) == "graded"  # the notebook (the older job)
    notebook_graded = Submission.objects.get(pk=receipt["id"])
    assert (notebook_graded.status, notebook_graded.score, notebook_graded.max_score) == ("graded", 10, 10)


def _named(content: bytes, name: str):
    upload = io.BytesIO(content)
    upload.name = name
    return upload


# ------------------------------------------------------------------ staff

def test_exports_list_submissions_and_every_roster_student(service, capsys):
    from autograder.service.commands import export_command
    from autograder.service.models import Assignment, Job, Student, Submission

    from autograder.results import GradingResult, QuestionResult

    add_students(service, "s1", "s2")
    s1 = Student.objects.get(student_id="s1")
    result = GradingResult(submission="x.zip", profile="quick", isolation="bubblewrap",
                           questions=[QuestionResult("confusion.f1", "f1", "hidden", 7.5, 10, "partial")])
    graded = Submission.objects.create(student=s1, assignment=Assignment.objects.get(), sha256="0" * 64, blob="-",
                                       filename="x.zip", status="graded", score=7.5, max_score=10,
                                       grading_json=json.dumps(result.to_dict()))
    Job.objects.create(submission=graded, status="done", attempts=1)
    capsys.readouterr()
    export_command(service, format="submissions", slug=None)
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["id", "student", "status", "attempts", "score", "max_score", "url"],
                    [str(graded.pk), "s1", "graded", "1", "7.5", "10",
                     f"https://grader.example.edu/submissions/{graded.pk}/"]]
    export_command(service, format="csv", slug=None)
    book = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["id"], r["score"], r["status"]) for r in book] == [("s1", "7.5", "graded"), ("s2", "", "not graded")]
    # the grading covered 10 points; the gradebook's maximum is the assignment's, as the LMS's is
    assert book[0]["max_score"] == "126" == f"{Assignment.objects.get().total():g}"


def test_a_counted_grading_of_part_of_the_assignment_is_shown_out_of_its_total(service):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from autograder.service.models import Assignment, Student, Submission

    tokens = add_students(service, "s1")
    assignment = Assignment.objects.get()
    Submission.objects.create(student=Student.objects.get(student_id="s1"), assignment=assignment, sha256="0" * 64,
                              blob="-", filename="x.zip", questions=["confusion"], status="graded", score=8.42,
                              max_score=10)
    page = client().get("/", headers={"Authorization": f"Bearer {tokens['s1']}"}).content.decode()
    assert "8.42 / 126</a> (that grading covered 10 of the 126 points: the rest of the assignment was not graded)" \
        in page
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("ta-partial", password="x", is_staff=True))
    assert "8.42 / 126</a> (graded: 10 points of it)" in staff.get("/staff/").content.decode()
    assignment.questions = ["confusion"]  # an assignment of confusion alone: the grading covered all of it
    assignment.save()
    assert assignment.total() == 10
    page = client().get("/", headers={"Authorization": f"Bearer {tokens['s1']}"}).content.decode()
    assert "8.42 / 10</a></p>" in page


def test_the_class_page_is_for_staff(service):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from autograder.service.models import Student

    tokens = add_students(service, "s1")
    Student.objects.update(name="<script>alert(1)</script>")
    post(reference(), tokens["s1"])
    assert client().get("/staff/").status_code == 302  # to the login
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="staff"))
    page = staff.get("/staff/")
    assert page.status_code == 200 and b"s1" in page.content and b"1 grading(s)" in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content and b"<script>" not in page.content
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    assert staff.get("/admin/service/submission/").status_code == 200


def test_a_course_with_two_assignments_serves_each_by_its_slug(service, capsys):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from autograder.service.commands import export_command
    from autograder.service.models import Assignment, Student, Submission

    tokens = add_students(service, "s1")
    first = Assignment.chosen()
    second = Assignment.objects.create(slug="ch3-exercises", title="Chapter 3: exercises",
                                       spec_file=first.spec_file)
    try:
        receipt = post(zip_bytes({"confusion.py": reference()}), tokens["s1"],
                       query="q=confusion&assignment=ch3-exercises")
        assert receipt.status_code == 201, receipt.content
        assert Submission.objects.get(pk=receipt.json()["id"]).assignment == second
        default = post(zip_bytes({"confusion.py": reference()}), tokens["s1"])
        assert Submission.objects.get(pk=default.json()["id"]).assignment == first  # no slug: the first
        unknown = post(zip_bytes({"confusion.py": reference()}), tokens["s1"], query="assignment=ch4")
        assert unknown.status_code == 404
        assert unknown.json()["error"] == f"no assignment 'ch4'; this course has: {first.slug}, ch3-exercises"

        page = Client()
        page.force_login(Student.objects.get(student_id="s1").user)
        html = page.get("/?assignment=ch3-exercises").content.decode()
        assert "<h1>Chapter 3: exercises</h1>" in html and f'href="?assignment={first.slug}"' in html
        assert 'action="/submit?assignment=ch3-exercises"' in html
        assert f'/submissions/{receipt.json()["id"]}/' in html and f'/submissions/{default.json()["id"]}/' not in html

        staff = Client()
        staff.force_login(get_user_model().objects.get(username="staff"))
        assert "Chapter 3: exercises: the class" in staff.get("/staff/?assignment=ch3-exercises").content.decode()
        assert staff.get("/staff/?assignment=ch4").status_code == 404

        capsys.readouterr()
        export_command(service, format="csv", slug="ch3-exercises")
        [row] = csv.DictReader(io.StringIO(capsys.readouterr().out))
        assert row["status"] == "not graded yet: 1 hidden grading(s) queued or running", row
    finally:
        Submission.objects.filter(assignment=second).delete()
        second.delete()
