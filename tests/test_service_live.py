"""The student's loop in the service: question results recorded and streamed (Server-Sent Events)
while the grading runs, the phases' times, the warm grading process, and `serve rescore`."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.service_helpers import reference, zip_bytes  # noqa: E402
from tests.test_service import add_students, clean, client, post  # noqa: E402

FIXTURES = (clean,)  # test_service's clean slate before every test


def events(body: bytes) -> list[tuple[str, str | None, dict]]:
    from autograder.service.client import _events

    return [(name, event_id, json.loads(data)) for name, event_id, data in _events(body.splitlines(True))]


def stream(pk: int, token: str, last: int = 0) -> list:
    response = client().get(f"/submissions/{pk}/events",
                            headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(last)})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    return events(b"".join(response.streaming_content))


def test_question_results_are_recorded_while_grading_and_streamed(service):
    from django.db import connection

    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import QuestionProgress, Submission

    tokens = add_students(service, "s1", "s2")
    receipt = post(reference(), tokens["s1"]).json()
    job = jobs.claim("test")
    outcome = {}

    def run():
        try:
            outcome["value"] = grade_job(job)
        finally:
            connection.close()

    grader = threading.Thread(target=run)
    grader.start()
    seen_while_running = 0
    deadline = time.monotonic() + 120
    while grader.is_alive() and time.monotonic() < deadline:
        rows = QuestionProgress.objects.filter(submission_id=receipt["id"]).count()
        if Submission.objects.get(pk=receipt["id"]).status == "running":
            seen_while_running = max(seen_while_running, rows)
        time.sleep(0.05)
    grader.join()
    assert outcome["value"] == "graded"
    assert seen_while_running >= 1  # a question's result was in the database before the grading ended

    submission = Submission.objects.get(pk=receipt["id"])
    phases = submission.phases()
    assert 0 <= phases["queued"] <= phases["started"] <= phases["first_result"] < phases["finished"]

    streamed = stream(receipt["id"], tokens["s1"])
    questions = [e for e in streamed if e[0] == "question"]
    assert [q[2]["id"] for q in questions] == [q["id"] for q in submission.student_result["questions"]]
    assert [q[1] for q in questions] == [str(n) for n in range(1, len(questions) + 1)]
    assert all(q[2]["status"] == "passed" for q in questions)
    name, _, done = streamed[-1]
    assert name == "done" and (done["status"], done["score"], done["max_score"]) == ("graded", 10, 10)
    assert done["feedback"] == f"/submissions/{receipt['id']}/feedback.html"
    answer = client().get(receipt["url"], headers={"Authorization": f"Bearer {tokens['s1']}",
                                                   "Accept": "application/json"}).json()
    assert answer["phases"] == phases == done["phases"]
    resumed = [e for e in stream(receipt["id"], tokens["s1"], last=len(questions) - 1) if e[0] == "question"]
    assert [q[1] for q in resumed] == [str(len(questions))]
    assert client().get(f"/submissions/{receipt['id']}/events",
                        headers={"Authorization": f"Bearer {tokens['s2']}"}).status_code == 404


def test_a_queued_submission_streams_its_status_and_the_page_runs_only_our_script(service, monkeypatch):
    from autograder.service import views

    monkeypatch.setattr(views, "EVENTS_SECONDS", 0.6)
    monkeypatch.setattr(views, "EVENTS_KEEPALIVE", 0.2)
    tokens = add_students(service, "s1")
    receipt = post(reference(), tokens["s1"]).json()
    response = client().get(f"/submissions/{receipt['id']}/events",
                            headers={"Authorization": f"Bearer {tokens['s1']}"})
    body = b"".join(response.streaming_content)
    assert events(body) == [("status", None, {"status": "queued"})]  # bounded: the stream ends, the browser reconnects
    assert body.startswith(b"retry: 2000\n\n") and b"\n: waiting\n" in body  # kept alive while it waits
    page = client().get(receipt["url"], headers={"Authorization": f"Bearer {tokens['s1']}"})
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert re.search(rb'<script src="/live.js"></script>', page.content) and b"<script>" not in page.content
    assert b"EventSource" in client().get("/live.js").content


@pytest.mark.slow
def test_the_warm_process_keeps_its_sandbox_and_the_next_submission_finds_nothing_of_the_last(service):
    """The warm process grades submission after submission in one sandbox, reset between them as in
    grade-all: what one student's code leaves behind (a file, a daemon) never reaches the next
    student's grading; each grading follows the folder's questions.toml as it is then."""
    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import Submission
    from autograder.service.warmslot import WarmRunner
    from tests.service_helpers import process_tree
    from tests.submissions import reference_source
    from tests.test_kept_sandbox import LEAVE_BEHIND, LOOK_AROUND

    def upload(prelude: str) -> bytes:
        return zip_bytes({"confusion.py": (prelude + reference_source("confusion")).encode()})

    tokens = add_students(service, "s1", "s2", "s3")
    runner = WarmRunner()
    spec = service / "questions.toml"
    original = spec.read_text()
    try:
        first = post(upload(LEAVE_BEHIND), tokens["s1"], query="kind=check&q=confusion").json()
        assert grade_job(jobs.claim("test"), runner=runner) == "graded"
        assert Submission.objects.get(pk=first["id"]).score == 2  # the public question only
        warm_pid = runner.process.pid
        sandbox = process_tree().get(warm_pid, [])
        assert sandbox, "no sandbox was kept after the grading: this test would prove nothing"
        spec.write_text(original.replace('title = "confusion matrix and metrics on the docstring example"\n'
                                         'points = 2', 'title = "confusion matrix and metrics on the docstring '
                                         'example"\npoints = 3'))
        second = post(upload(LOOK_AROUND), tokens["s2"], query="kind=check&q=confusion").json()
        assert grade_job(jobs.claim("test"), runner=runner) == "graded"
        assert runner.process.pid == warm_pid and process_tree().get(warm_pid, []) == sandbox  # both kept
        graded = Submission.objects.get(pk=second["id"])
        printed = "\n".join(q["output"] for q in json.loads(graded.grading_json)["questions"])
        assert "left behind: False" in printed and "other processes: 0" in printed, printed
        assert "submission files: ['confusion.py']" in printed, printed
        assert graded.score == 3  # the edited copy, not a stale one
        runner.process.kill()  # a dead warm process: the next submission starts another
        runner.process.wait()
        third = post(upload(""), tokens["s3"], query="kind=check&q=confusion").json()
        assert grade_job(jobs.claim("test"), runner=runner) == "graded"
        assert runner.process.pid != warm_pid and Submission.objects.get(pk=third["id"]).status == "graded"
    finally:
        runner.close()
        spec.write_text(original)


def sandbox_processes(warm_pid: int) -> list[int]:
    """The processes of the sandbox a warm grading process keeps (its folder is ``ch3-kept-PID-...``)."""
    from tests.service_helpers import cmdline

    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and f"ch3-kept-{warm_pid}-" in cmdline(int(entry.name))]


@pytest.mark.slow
def test_a_grading_whose_lease_is_taken_over_ends_the_warm_process_and_its_sandbox(service, monkeypatch):
    """The dispatcher stops a grading it no longer holds the lease of: the warm process ends with its
    sandbox (nothing of that submission is left running), nothing is stored, and the next
    submission gets a new warm process."""
    from autograder.service import dispatcher, jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import Submission
    from autograder.service.warmslot import WarmRunner
    from tests.submissions import reference_source

    tokens = add_students(service, "s1", "s2")
    slow = zip_bytes({"confusion.py": ("import time\ntime.sleep(20)\n" + reference_source("confusion")).encode()})
    first = post(slow, tokens["s1"], query="kind=check&q=confusion").json()
    runner = WarmRunner()
    try:
        runner.prepare()
        warm_pid = runner.process.pid
        seen = []

        def renew(job, seconds):  # another grader took the job over, once its sandbox was running
            seen.extend(sandbox_processes(warm_pid))
            return not seen
        monkeypatch.setattr(dispatcher.jobs, "renew", renew)
        began = time.monotonic()
        assert grade_job(jobs.claim("test", lease_seconds=0.6), lease_seconds=0.6, runner=runner) == "lost"
        assert seen and time.monotonic() - began < 10  # it had a sandbox, and was stopped, not waited for
        assert runner.process is None and not Path(f"/proc/{warm_pid}").exists()  # the warm process is gone,
        assert sandbox_processes(warm_pid) == []  # its sandbox too ...
        assert Submission.objects.get(pk=first["id"]).status == "running"  # ... and nothing was stored
        monkeypatch.undo()
        second = post(reference(), tokens["s2"], query="kind=check&q=confusion").json()
        assert grade_job(jobs.claim("test"), runner=runner) == "graded"
        assert runner.process.pid != warm_pid and Submission.objects.get(pk=second["id"]).status == "graded"
    finally:
        runner.close()


def test_rescore_follows_the_edited_questions_without_grading_again(service):
    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job
    from autograder.service.models import Job, Submission
    from autograder.service.rescore import rescore_all

    tokens = add_students(service, "s1", "s2")
    graded = post(reference(), tokens["s1"]).json()
    assert grade_job(jobs.claim("test")) == "graded"
    failed = post(reference(), tokens["s2"]).json()
    jobs.complete(jobs.claim("test"), status="failed", error="cannot grade")
    assert rescore_all() == {"changed": 0, "unchanged": 1}  # the same questions.toml changes nothing
    spec = service / "questions.toml"
    original = spec.read_text()
    try:
        spec.write_text(original.replace('title = "matrix, precision, recall, F1 equal scikit-learn on hidden inputs"'
                                         '\npoints = 6', 'title = "matrix, precision, recall, F1 equal scikit-learn '
                                         'on hidden inputs"\npoints = 12'))
        assert spec.read_text() != original
        before = Submission.objects.get(pk=graded["id"])
        assert rescore_all() == {"changed": 1, "unchanged": 0}
        after = Submission.objects.get(pk=graded["id"])
        assert (after.score, after.max_score) == (16, 16) and after.rescored is not None
        assert after.feedback_html != before.feedback_html and "16" in after.feedback_html
        assert Job.objects.get(submission_id=graded["id"]).attempts == 1 and Job.objects.count() == 2
        assert Submission.objects.get(pk=failed["id"]).status == "failed"  # nothing graded anew
        answer = client().get(graded["url"], headers={"Authorization": f"Bearer {tokens['s1']}",
                                                      "Accept": "application/json"}).json()
        assert {q["id"]: q["max_points"] for q in answer["questions"]}["confusion.hidden_inputs"] == 12
    finally:
        spec.write_text(original)


@pytest.mark.slow
def test_a_claimed_job_is_graded_on_a_dask_cluster(service):
    distributed = pytest.importorskip("distributed", reason="the dask extra")
    from autograder.service import jobs
    from autograder.service.dispatcher import grade_job, make_runner
    from autograder.service.models import Job, QuestionProgress, Submission

    tokens = add_students(service, "s1")
    receipt = post(reference(), tokens["s1"], query="kind=check&q=confusion").json()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        runner = make_runner("dask://" + cluster.scheduler_address.removeprefix("tcp://"))
        try:
            job = jobs.claim("test")  # the database stays the queue: the cluster grades a claimed job
            assert grade_job(job, runner=runner) == "graded"
        finally:
            runner.close()
    submission = Submission.objects.get(pk=receipt["id"])
    assert (submission.status, submission.score, submission.max_score) == ("graded", 2, 2)
    assert Job.objects.get(pk=job.pk).status == "done" and "confusion" in submission.feedback_html
    assert QuestionProgress.objects.filter(submission=submission).count() == 1


def test_the_class_page_shows_the_phases_and_its_button_rescores(service):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from autograder.service.models import Submission

    tokens = add_students(service, "s1")
    receipt = post(reference(), tokens["s1"]).json()
    submission = Submission.objects.get(pk=receipt["id"])
    Submission.objects.filter(pk=submission.pk).update(
        started=submission.received + timezone.timedelta(seconds=11.5),
        first_result=submission.received + timezone.timedelta(seconds=14))
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="staff"))
    page = staff.get("/staff/").content.decode()
    assert re.search(r"queued [0-9.]+, started 11\.50, first_result 14, finished -", page), page
    assert client().post("/staff/rescore").status_code == 302 and client().post("/staff/rescore")["Location"] \
        .startswith("/admin/login/")  # staff only
    done = staff.post("/staff/rescore", follow=True)
    assert "rescored: 0 changed, 0 unchanged" in done.content.decode()


def test_rescore_refuses_a_broken_questions_file_in_one_line(service):
    from autograder.service.rescore import run_rescore

    spec = service / "questions.toml"
    original = spec.read_text()
    try:
        spec.write_text(original + "\n[questions.\n")
        ok, line = run_rescore()
    finally:
        spec.write_text(original)
    assert not ok and line.startswith("serve: cannot rescore: ") and "\n" not in line


def test_the_relay_copies_whole_lines_and_a_retry_numbers_on(service, tmp_path):
    from autograder.service.dispatcher import ProgressRelay
    from autograder.service.models import QuestionProgress, Submission

    tokens = add_students(service, "s1")
    submission = Submission.objects.get(pk=post(reference(), tokens["s1"]).json()["id"])
    progress = tmp_path / "progress.jsonl"
    relay = ProgressRelay(submission, progress)
    assert relay.pump() == 0  # no file yet
    progress.write_text('{"id": "confusion.public_example", "status": "passed"}\n{"id": "confusion.hid')
    assert relay.pump() == 1  # the half-written line waits for its end
    with open(progress, "a") as handle:
        handle.write('den_inputs", "status": "partial"}\n')
    assert relay.pump() == 1
    rows = list(QuestionProgress.objects.filter(submission=submission).values_list("seq", "question__status"))
    assert rows == [(1, "passed"), (2, "partial")]
    assert Submission.objects.get(pk=submission.pk).first_result is not None
    retry = tmp_path / "retry.jsonl"
    retry.write_text('{"id": "confusion.public_example", "status": "passed"}\n')
    relay = ProgressRelay(submission, retry)  # another attempt: its rows replace the first's, numbered on
    assert relay.pump() == 1
    assert list(QuestionProgress.objects.filter(submission=submission).values_list("seq", flat=True)) == [3]
