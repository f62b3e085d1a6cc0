"""The service as an LTI 1.3 tool, driven by an in-repository mock platform (tests/lti_platform.py):
registration and keys, OIDC login and launch for each role, every refusal, the score outbox through
scheduled failures, NRPS sync and deep linking."""

from __future__ import annotations

import csv
import html
import io
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")
pytest.importorskip("lti_tool", reason="LTI needs django-lti (the serve extra)")

from tests.lti_platform import LTI, MockPlatform, rsa_key  # noqa: E402


@pytest.fixture
def platform(service):
    """A running mock platform, registered with the tool; no LTI data from other tests."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from lti_tool.models import LtiRegistration

    from autograder.service.lti.models import LaunchRefusal, ScorePost, UsedNonce
    from autograder.service.lti.tool import add_platform
    from autograder.service.models import Student

    LtiRegistration.objects.all().delete()
    for model in (Student, LaunchRefusal, ScorePost, UsedNonce):
        model.objects.all().delete()
    get_user_model().objects.exclude(username="staff").delete()
    cache.clear()
    with MockPlatform() as mock:
        add_platform(**mock.registration)
        mock.tool_jwks = tool_jwks
        yield mock


def tool_jwks() -> dict:
    from lti_tool.models import Key

    return Key.objects.as_jwks()


def client():
    from django.test import Client

    return Client()


def login(browser, platform, **params) -> tuple[str, str]:
    """The OIDC login initiation; (state, nonce) from the redirect to the platform's auth URL."""
    query = {"iss": platform.issuer, "login_hint": "hint-1", "target_link_uri": "https://grader.example.edu/lti/launch",
             "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id, **params}
    response = browser.get("/lti/login", query)
    assert response.status_code == 302, response.content[:500]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{platform.url}/auth"
    sent = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert sent["response_type"] == "id_token" and sent["client_id"] == platform.client_id
    assert sent["redirect_uri"].endswith("/lti/launch") and sent["login_hint"] == "hint-1"
    return sent["state"], sent["nonce"]


def launch(platform, browser=None, *, sign=None, **claims):
    browser = browser or client()
    state, nonce = login(browser, platform)
    body = platform.claims(nonce, **claims)
    token = sign(body) if sign else platform.sign(body)
    return browser, browser.post("/lti/launch", {"id_token": token, "state": state})


# ------------------------------------------------------------------ registration and keys

def test_add_platform_keys_config_and_rotation_through_the_cli(service, platform):
    from lti_tool.models import LtiDeployment, LtiRegistration
    from typer.testing import CliRunner

    from autograder.service.commands import serve_app

    runner = CliRunner()
    args = ["lti", "add-platform", str(service), "--issuer", "https://canvas.example.edu", "--client-id", "10000000001",
            "--deployment-id", "d-1", "--deployment-id", "d-2", "--auth-url", "https://canvas.example.edu/auth",
            "--token-url", "https://canvas.example.edu/token", "--jwks-url", "https://canvas.example.edu/jwks"]
    result = runner.invoke(serve_app, args)
    assert result.exit_code == 0, result.output
    assert "registered https://canvas.example.edu (client 10000000001; deployments d-1, d-2)" in result.output
    registration = LtiRegistration.objects.get(issuer="https://canvas.example.edu")
    assert set(LtiDeployment.objects.filter(registration=registration, is_active=True)
               .values_list("deployment_id", flat=True)) == {"d-1", "d-2"}
    bad = runner.invoke(serve_app, args[:-1] + ["not-a-url"])
    assert bad.exit_code == 2 and "--jwks-url takes an http(s) URL" in bad.output

    config = client().get("/lti/config.json").json()
    assert config["oidc_initiation_url"] == "https://grader.example.edu/lti/login"
    assert config["target_link_uri"] == "https://grader.example.edu/lti/launch"
    assert config["public_jwk_url"] == "https://grader.example.edu/lti/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    placements = config["extensions"][0]["settings"]["placements"]
    assert {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": config["target_link_uri"]} in placements

    first = client().get("/lti/jwks.json").json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and "d" not in first[0]
    rotated = runner.invoke(serve_app, ["lti", "rotate-keys", str(service)])
    assert rotated.exit_code == 0 and first[0]["kid"] in rotated.output
    both = client().get("/lti/jwks.json").json()["keys"]
    assert len(both) == 2 and first[0]["kid"] in {k["kid"] for k in both}  # the overlap
    retired = runner.invoke(serve_app, ["lti", "rotate-keys", str(service), "--retire"])
    assert "unpublished 1 older key(s)" in retired.output
    last = client().get("/lti/jwks.json").json()["keys"]
    assert [k["kid"] for k in last] == [k["kid"] for k in both if k["kid"] != first[0]["kid"]]


# ------------------------------------------------------------------ launches

def test_a_learner_lands_on_their_name_and_cli_token(platform):
    from autograder.service.lti.models import LtiStudent
    from autograder.service.models import Student

    browser, page = launch(platform, roles=("Learner",), sub="learner-7", name="Ada Lovelace")
    text = page.content.decode()
    assert page.status_code == 200 and "Ada Lovelace" in text
    token = text.split('<code id="token">')[1].split("</code>")[0]
    student = Student.by_token(token)
    assert student is not None and student.lti.lti_user.sub == "learner-7" and student.name == "Ada Lovelace"
    assert platform.url in page["Content-Security-Policy"] and "X-Frame-Options" not in page
    _, school = launch(platform, sub="learner-7", **{LTI + "launch_presentation": {
        "return_url": "https://school.example.edu/courses/1/return", "document_target": "iframe"}})
    ancestors = school["Content-Security-Policy"].split("frame-ancestors")[1]
    assert "https://school.example.edu" in ancestors and platform.url in ancestors  # the course's own host
    assert browser.get("/").context["student"] == student  # signed in to the upload page
    _, again = launch(platform, roles=("Learner",), sub="learner-7")
    assert again.status_code == 200 and token not in again.content.decode() and "New token" in again.content.decode()
    assert LtiStudent.objects.count() == 1 and Student.by_token(token) == student  # the token still works
    renewed = browser.post("/lti/token")
    fresh = renewed.content.decode().split('<code id="token">')[1].split("</code>")[0]
    assert Student.by_token(fresh) == student and Student.by_token(token) is None

    credential = _form(again.content.decode(), "frame")  # the form's credential: all a cookieless frame has
    cookieless = client().post("/lti/token", {"frame": credential})
    newest = cookieless.content.decode().split('<code id="token">')[1].split("</code>")[0]
    assert Student.by_token(newest) == student and Student.by_token(fresh) is None
    Student.objects.filter(pk=student.pk).update(token_revoked=True)  # the staff revoke the student's access
    for refused in (client().post("/lti/token", {"frame": credential}), browser.post("/lti/token")):
        assert refused.status_code == 403 and '<code id="token">' not in refused.content.decode()
    assert Student.objects.get(pk=student.pk).token_revoked  # not undone by asking for a new token


def test_a_learner_is_matched_to_the_roster_by_email(platform):
    from django.contrib.auth import get_user_model

    from autograder.service.models import Student

    user = get_user_model().objects.create_user("student-s042")
    roster = Student.objects.create(user=user, student_id="s042", name="Grace Hopper", email="grace@example.org")
    _, page = launch(platform, sub="grace-sub", name="Grace Hopper", email="GRACE@example.org")
    assert page.status_code == 200 and Student.objects.count() == 1
    assert Student.objects.get().lti.lti_user.sub == "grace-sub" and roster.student_id in page.content.decode()


@pytest.mark.parametrize("role", ["Instructor", "TeachingAssistant"])
def test_staff_roles_land_on_the_class_page_signed_in_as_staff(platform, role):
    browser, page = launch(platform, roles=(role,), sub=f"{role}-1", name="Alan Turing", email="alan@example.org")
    assert page.status_code == 200 and "the class" in page.content.decode()
    assert browser.get("/staff/").status_code == 200
    assert browser.get("/lti/staff/").status_code == 200
    assert client().get("/staff/").status_code == 302  # another browser is not staff


# ------------------------------------------------------------------ refusals

def _refusals():
    from autograder.service.lti.models import LaunchRefusal

    return list(LaunchRefusal.objects.order_by("id").values_list("reason", flat=True))


def test_login_from_an_unknown_issuer_or_client_is_refused(platform):
    response = client().get("/lti/login", {"iss": "https://evil.example", "login_hint": "x",
                                           "target_link_uri": "https://grader.example.edu/lti/launch",
                                           "client_id": platform.client_id})
    assert response.status_code == 400 and "not registered" in response.content.decode()
    response = client().get("/lti/login", {"iss": platform.issuer, "login_hint": "x", "client_id": "other",
                                           "target_link_uri": "https://grader.example.edu/lti/launch"})
    assert response.status_code == 400 and "not registered" in response.content.decode()
    assert len(_refusals()) == 2


CASES = {
    "unknown issuer": ({"iss": "https://evil.example"}, "not registered"),
    "wrong audience": ({"aud": "someone-else"}, "not registered"),
    "several audiences, no azp": ({"aud": ["tool-client-1", "other"]}, "several audiences"),
    "foreign azp": ({"azp": "other"}, "azp"),
    "expired": ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 400}, "expired"),
    "unregistered deployment": ({LTI + "deployment_id": "deploy-unknown"}, "deployment is not registered"),
    "no roles claim": ({LTI + "roles": None}, "no roles claim"),
    "submission review": ({"message_type": "LtiSubmissionReviewRequest", "lineitem": "https://lms.example/items/1",
                           LTI + "resource_link": {"id": "link-1"},
                           LTI + "for_user": {"user_id": "u"}},
                          "does not take LtiSubmissionReviewRequest"),
    "unknown role only": ({"roles": ("http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",)}, "roles"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_launch_is_refused_with_a_page_and_logged(platform, case):
    from autograder.service.models import Student

    claims, words = CASES[case]
    _, page = launch(platform, **claims)
    assert page.status_code == 403 and words in page.content.decode()
    assert "Traceback" not in page.content.decode() and Student.objects.count() == 0
    assert len(_refusals()) == 1 and words in _refusals()[0]
    from autograder.service.lti.models import LaunchRefusal

    logged = LaunchRefusal.objects.get()  # what the token claimed, for the staff (unverified)
    assert logged.step == "launch" and logged.address == "127.0.0.1"
    if case != "unknown issuer":
        assert logged.issuer == platform.issuer


def test_a_launch_without_a_token_or_with_garbage_is_refused(platform):
    for form in ({}, {"state": "x"}, {"id_token": "not.a.jwt", "state": "x"}, {"id_token": "a.b", "state": "x"}):
        browser = client()
        state, _ = login(browser, platform)
        page = browser.post("/lti/launch", {**form, "state": state} if form else {})
        assert page.status_code == 403 and "This launch was refused" in page.content.decode(), form
    assert client().get("/lti/launch").status_code == 405
    assert len(_refusals()) == 4


def test_a_signature_by_a_key_not_in_the_jwks_is_refused(platform):
    rogue = rsa_key()
    _, same_kid = launch(platform, sign=lambda body: platform.sign(body, key=rogue))
    _, other_kid = launch(platform, sign=lambda body: platform.sign(body, key=rogue, kid="rogue"))
    assert same_kid.status_code == other_kid.status_code == 403
    assert "signature does not match" in same_kid.content.decode()
    assert "key the platform does not publish" in other_kid.content.decode()


def test_a_token_for_several_audiences_names_the_tool_by_azp(platform):
    _, page = launch(platform, aud=["another-tool", platform.client_id], azp=platform.client_id)
    assert page.status_code == 200 and not _refusals()


def test_a_replayed_token_and_a_nonce_not_issued_are_refused(platform):
    browser = client()
    state, nonce = login(browser, platform)
    token = platform.sign(platform.claims(nonce))
    assert browser.post("/lti/launch", {"id_token": token, "state": state}).status_code == 200
    replay = browser.post("/lti/launch", {"id_token": token, "state": state})
    assert replay.status_code == 403 and "already used" in replay.content.decode()
    state, _ = login(browser, platform)
    forged = browser.post("/lti/launch", {"id_token": platform.sign(platform.claims("made-up")), "state": state})
    assert forged.status_code == 403 and "nonce was not issued" in forged.content.decode()
    stateless = client().post("/lti/launch", {"id_token": token, "state": "guessed"})
    assert stateless.status_code == 403 and "login state" in stateless.content.decode()
    assert len(_refusals()) == 3


# ------------------------------------------------------------------ scores (AGS outbox)

def _graded(student, score: float, assignment=None):
    from autograder.service.models import Assignment, Submission

    return Submission.objects.create(student=student, assignment=assignment or Assignment.objects.get(),
                                     sha256="0" * 64,
                                     blob="x", filename="s.zip", status="graded", raw_score=score, score=score,
                                     max_score=126)


def test_the_outbox_posts_a_grade_once_through_scheduled_failures(platform, monkeypatch):
    from django.utils import timezone

    from autograder.service.lti import http, outbox
    from autograder.service.lti.models import LineItemLink, ScorePost
    from autograder.service.models import Student

    monkeypatch.setattr(http, "TIMEOUT_SECONDS", 0.3)
    platform.timeout = 0.8
    launch(platform, sub="learner-1")
    student = Student.objects.get()
    assert outbox.collect() == 0  # nothing graded yet
    _graded(student, 100.5)
    assert outbox.collect() == 1 and outbox.collect() == 0
    platform.fail("token", [500])
    platform.fail("lineitems", ["timeout"])
    platform.fail("scores", [(429, 30), 503])
    t0 = timezone.now()
    assert outbox.deliver(now=t0)["retry"] == 1  # token 500: back off 5 s
    assert outbox.deliver(now=t0 + timedelta(seconds=4)) == {"sent": 0, "retry": 0, "failed": 0}
    assert outbox.deliver(now=t0 + timedelta(seconds=5))["retry"] == 1  # line items time out: 10 s
    assert outbox.deliver(now=t0 + timedelta(seconds=15))["retry"] == 1  # created; the score gets 429
    post = ScorePost.objects.get()
    assert "429" in post.last_error and post.next_try == t0 + timedelta(seconds=45)
    before = len(platform.requests)
    assert outbox.deliver(now=t0 + timedelta(seconds=44))["retry"] == 0
    assert len(platform.requests) == before  # nothing sent before Retry-After
    assert outbox.deliver(now=t0 + timedelta(seconds=45))["retry"] == 1  # 503: back off 40 s
    assert outbox.deliver(now=t0 + timedelta(seconds=85))["sent"] == 1
    assert outbox.deliver(now=t0 + timedelta(seconds=10_000)) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(platform.scores) == 1 and len(platform.line_items) == 1
    score = platform.scores[0]
    assert (score["userId"], score["scoreGiven"], score["scoreMaximum"]) == ("learner-1", 100.5, 126.0)
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    item = next(iter(platform.line_items.values()))
    assert item["resourceId"] == "ch3" and item["tag"] == "ch3-autograder" and item["scoreMaximum"] == 126.0
    assert LineItemLink.objects.get().url == item["id"]

    _graded(student, 100.5)  # a rescore with the same grade posts nothing
    assert outbox.collect() == 0
    _graded(student, 110)  # a better one is posted to the same line item
    LineItemLink.objects.all().delete()  # as if the tool stopped before storing it: found again by resourceId
    assert outbox.collect() == 1 and outbox.deliver()["sent"] == 1
    assert [s["scoreGiven"] for s in platform.scores] == [100.5, 110] and len(platform.line_items) == 1
    assert {s["lineitem"] for s in platform.scores} == {item["id"]}


def test_a_429_holds_every_row_of_the_platform_until_its_retry_after(platform):
    from django.utils import timezone

    from autograder.service.lti import outbox
    from autograder.service.lti.models import ScorePost
    from autograder.service.models import Student

    for sub in ("learner-a", "learner-b"):
        launch(platform, sub=sub, name=f"Ann {sub}", email=f"{sub}@example.org")
    first, second = Student.objects.order_by("id")
    _graded(first, 90)
    _graded(second, 80)
    assert outbox.collect() == 2
    platform.fail("scores", [(429, 30)])
    t0 = timezone.now()
    assert outbox.deliver(now=t0) == {"sent": 0, "retry": 1, "failed": 0}  # the second row waits too
    posts = [r for r in platform.requests if r["kind"] == "scores"]
    assert len(posts) == 1 and posts[0]["retry_after"] == 30
    _graded(first, 95)  # a new row while the platform's Retry-After holds: it waits as well
    assert outbox.collect() == 1
    before = len(platform.requests)
    assert outbox.deliver(now=t0 + timedelta(seconds=29)) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(platform.requests) == before
    assert outbox.deliver(now=t0 + timedelta(seconds=30)) == {"sent": 2, "retry": 0, "failed": 0}
    assert sorted(s["scoreGiven"] for s in platform.scores) == [80, 95]
    assert ScorePost.objects.filter(status="superseded").count() == 1


def test_backoff_is_capped_so_a_recovered_platform_gets_scores_within_minutes(platform):
    from django.utils import timezone

    from autograder.service.lti import outbox
    from autograder.service.lti.models import ScorePost
    from autograder.service.models import Student

    launch(platform, sub="learner-c")
    _graded(Student.objects.get(), 70)
    outbox.collect()
    ScorePost.objects.update(attempts=12)  # a row that has failed through a long outage
    platform.fail("token", [503])
    now = timezone.now()
    assert outbox.deliver(now=now)["retry"] == 1
    assert ScorePost.objects.get().next_try == now + timedelta(seconds=outbox.MAX_BACKOFF_SECONDS)
    assert outbox.MAX_BACKOFF_SECONDS <= 240


def test_a_refused_score_fails_with_why_on_the_staff_page(platform, service):
    from django.contrib.auth import get_user_model

    from autograder.service.lti import outbox
    from autograder.service.lti.models import ScorePost
    from autograder.service.models import Student

    launch(platform, sub="learner-2")
    _graded(Student.objects.get(), 50)
    platform.fail("scores", [400])
    outbox.collect()
    assert outbox.deliver()["failed"] == 1
    assert ScorePost.objects.get().status == "failed" and "400" in ScorePost.objects.get().last_error
    from typer.testing import CliRunner

    from autograder.service.commands import serve_app

    _graded(Student.objects.get(), 60)  # a newer score: posted by `serve lti post`
    result = CliRunner().invoke(serve_app, ["lti", "post", str(service)])
    assert result.exit_code == 0 and "1 new score(s); sent 1, retry later 0, failed 0; 0 pending" in result.output
    assert [s["scoreGiven"] for s in platform.scores] == [60]
    staff = client()
    staff.force_login(get_user_model().objects.get(username="staff"))
    page = staff.get("/lti/staff/").content.decode()
    assert "failed" in page and "posting the score: 400" in page


# ------------------------------------------------------------------ NRPS and deep linking

def test_nrps_sync_adds_every_learner_and_the_export_lists_them(platform, service):
    from typer.testing import CliRunner

    from autograder.service.commands import serve_app
    from autograder.service.export import gradebook_rows
    from autograder.service.models import Assignment, Student

    learner = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    platform.members = [
        {"user_id": "m1", "name": "Ann Lee", "email": "ann@example.org", "roles": [learner], "status": "Active"},
        {"user_id": "m2", "name": "Bo Chen", "email": "bo@example.org", "roles": [learner], "status": "Active",
         "lis_person_sourcedid": "s002"},
        {"user_id": "t1", "name": "Alan Turing", "email": "alan@example.org", "status": "Active",
         "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]}]
    launch(platform, roles=("Instructor",), sub="t1", name="Alan Turing")  # records the NRPS URL and syncs
    assert set(Student.objects.values_list("name", flat=True)) == {"Ann Lee", "Bo Chen"}
    platform.members.append({"user_id": "m3", "name": "Cy Young", "email": "cy@example.org", "roles": [learner],
                             "status": "Active"})
    result = CliRunner().invoke(serve_app, ["lti", "sync", str(service)])
    assert result.exit_code == 0 and "4 member(s), 3 learner(s), 1 new student(s)" in result.output
    rows = list(csv.DictReader(io.StringIO("\n".join(",".join(map(str, r))
                                                     for r in gradebook_rows(Assignment.chosen())))))
    assert {r["name"] for r in rows} == {"Ann Lee", "Bo Chen", "Cy Young"}
    assert {r["id"] for r in rows if r["name"] == "Bo Chen"} == {"s002"}


@pytest.fixture
def second(platform):
    """A second assignment in the course (removed after the test, with what refers to it)."""
    from autograder.service.models import Assignment

    first = Assignment.chosen()
    assignment = Assignment.objects.create(slug="ch3-exercises", title="Chapter 3: exercises",
                                           spec_file=first.spec_file)
    yield assignment
    assignment.delete()


def _form(text: str, field: str) -> str:
    return text.split(f'name="{field}" value="')[1].split('"')[0]


def _response_claims(platform, page) -> dict:
    """The deep-linking response the page posts to the platform, verified with the tool's keys."""
    import jwt
    from jwt.algorithms import RSAAlgorithm

    text = page.content.decode()
    assert page.status_code == 200 and f'action="{platform.url}/deep_link_return"' in text, text[:2000]
    assert platform.url in page["Content-Security-Policy"].split("form-action")[1].split(";")[0]
    token = _form(text, "JWT")
    keys = {k["kid"]: k for k in client().get("/lti/jwks.json").json()["keys"]}
    public = RSAAlgorithm.from_jwk(json.dumps(keys[jwt.get_unverified_header(token)["kid"]]))
    return jwt.decode(token, public, algorithms=["RS256"], audience=platform.issuer)


DL_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"


def test_deep_linking_returns_a_resource_link_signed_by_the_tool(platform):
    _, page = launch(platform, roles=("Instructor",), message_type="LtiDeepLinkingRequest")
    text = page.content.decode()
    assert page.status_code == 200 and 'action="/lti/deep-link"' in text
    assert 'value="ch3" id="assignment-ch3" checked' in text  # the only assignment: one click
    assert platform.url in page["Content-Security-Policy"].split("frame-ancestors")[1]
    chosen = client().post("/lti/deep-link", {"launch": _form(text, "launch"), "assignment": "ch3"})
    claims = _response_claims(platform, chosen)
    assert claims["iss"] == platform.client_id
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-dl-data"
    [item] = claims[DL_ITEMS]
    assert item["type"] == "ltiResourceLink" and item["url"].endswith("/lti/launch")
    assert item["custom"] == {"assignment": "ch3"}
    assert item["lineItem"]["resourceId"] == "ch3" and item["lineItem"]["scoreMaximum"] == 126.0
    _, learner = launch(platform, roles=("Learner",), message_type="LtiDeepLinkingRequest")
    assert learner.status_code == 403 and "only an Instructor" in learner.content.decode()


def test_the_deep_linking_picker_links_each_chosen_assignment(platform, second):
    _, page = launch(platform, roles=("Instructor",), message_type="LtiDeepLinkingRequest")
    text = page.content.decode()
    assert page.status_code == 200 and "Machine learning" in text
    for slug, title in (("ch3", "Chapter 3: Classification"), ("ch3-exercises", "Chapter 3: exercises")):
        assert f'type="checkbox" name="assignment" value="{slug}"' in text and f">{title}</label>" in text
    assert text.count("<td>126</td>") == 2 and " checked" not in text  # points; two: nothing chosen for staff
    launch_id = _form(text, "launch")
    picker = client()  # another browser: the choice needs only the launch id, no cookie

    claims = _response_claims(platform, picker.post("/lti/deep-link", {"launch": launch_id,
                                                                        "assignment": "ch3-exercises"}))
    [item] = claims[DL_ITEMS]
    assert item["title"] == "Chapter 3: exercises" and item["custom"] == {"assignment": "ch3-exercises"}
    assert item["lineItem"] == {"scoreMaximum": 126.0, "label": "Chapter 3: exercises",
                                "resourceId": "ch3-exercises", "tag": "ch3-autograder"}
    both = _response_claims(platform, picker.post("/lti/deep-link", {"launch": launch_id,
                                                                      "assignment": ["ch3", "ch3-exercises"]}))
    assert [i["custom"]["assignment"] for i in both[DL_ITEMS]] == ["ch3", "ch3-exercises"]
    assert [i["lineItem"]["resourceId"] for i in both[DL_ITEMS]] == ["ch3", "ch3-exercises"]

    unknown = picker.post("/lti/deep-link", {"launch": launch_id, "assignment": ["ch3", "ch9"]})
    reason = "no assignment 'ch9'; this course has: ch3, ch3-exercises"
    assert unknown.status_code == 400 and reason in html.unescape(unknown.content.decode()) and "JWT" not in unknown.content.decode()
    assert _refusals()[-1] == reason
    none = picker.post("/lti/deep-link", {"launch": launch_id})
    assert none.status_code == 400 and "choose at least one assignment" in none.content.decode()
    forged = picker.post("/lti/deep-link", {"launch": "lti1p3-launch-not-issued", "assignment": "ch3"})
    assert forged.status_code == 400 and "unknown or has expired" in forged.content.decode()


def test_a_platform_taking_one_item_gets_a_single_choice(platform, second):
    settings = {"deep_link_return_url": f"{platform.url}/deep_link_return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe"], "accept_multiple": False}
    _, page = launch(platform, roles=("Instructor",), message_type="LtiDeepLinkingRequest",
                     **{"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": settings})
    text = page.content.decode()
    assert 'type="radio" name="assignment" value="ch3-exercises"' in text and 'type="checkbox"' not in text
    two = client().post("/lti/deep-link", {"launch": _form(text, "launch"), "assignment": ["ch3", "ch3-exercises"]})
    assert two.status_code == 400 and "one assignment per link" in two.content.decode()


def test_a_launch_opens_the_assignment_its_link_names(platform, second):
    from autograder.service.lti import outbox
    from autograder.service.lti.models import LineItemLink
    from autograder.service.models import Assignment, Student, Submission

    custom = {LTI + "custom": {"assignment": "ch3-exercises"}}
    item = f"{platform.url}/course-1/lineitems/7"
    browser, page = launch(platform, sub="learner-9", lineitem=item, **custom)
    text = page.content.decode()
    assert page.status_code == 200 and "<h1>Chapter 3: exercises</h1>" in text
    assert 'href="/?assignment=ch3-exercises&amp;frame=' in text and "--assignment ch3-exercises" in text
    assert [(link.assignment.slug, link.url) for link in LineItemLink.objects.all()] == [("ch3-exercises", item)]
    assert "<h1>Chapter 3: exercises</h1>" in browser.get("/?assignment=ch3-exercises").content.decode()
    renewed = browser.post("/lti/token?assignment=ch3-exercises").content.decode()
    assert "<h1>Chapter 3: exercises</h1>" in renewed and '<code id="token">' in renewed

    Submission.objects.create(student=Student.objects.get(), assignment=second, sha256="0" * 64, blob="x",
                              filename="s.zip", status="graded", raw_score=90, score=90, max_score=126)
    _graded(Student.objects.get(), 120, Assignment.chosen())  # the first: this course links no item for it
    assert outbox.collect() == 1 and outbox.deliver()["sent"] == 1
    assert [(s["scoreGiven"], s["lineitem"]) for s in platform.scores] == [(90, item)]  # its own line item
    assert len(platform.line_items) == 0  # none created for the assignment the course did not link

    _, staff = launch(platform, roles=("Instructor",), sub="teacher-9", lineitem=item, **custom)
    assert staff.status_code == 200 and "Chapter 3: exercises: the class" in staff.content.decode()
    _, again = launch(platform, sub="learner-9", lineitem=item)  # no custom parameter: its recorded line item
    assert "<h1>Chapter 3: exercises</h1>" in again.content.decode()


def test_a_link_without_an_assignment_opens_the_first(platform, second):
    from autograder.service.lti.models import LineItemLink

    item = f"{platform.url}/course-1/lineitems/1"
    _, page = launch(platform, sub="learner-10", lineitem=item)
    assert page.status_code == 200 and "<h1>Chapter 3: Classification</h1>" in page.content.decode()
    assert 'href="/?assignment=ch3&amp;frame=' in page.content.decode()
    assert [(link.assignment.slug, link.url) for link in LineItemLink.objects.all()] == [("ch3", item)]
    _, staff = launch(platform, roles=("Instructor",), sub="teacher-10")
    assert "Chapter 3: Classification: the class" in staff.content.decode()


def test_a_link_naming_an_unknown_assignment_is_refused(platform, second):
    from autograder.service.lti.models import LineItemLink

    _, page = launch(platform, sub="learner-11", lineitem=f"{platform.url}/course-1/lineitems/3",
                     **{LTI + "custom": {"assignment": "ch9"}})
    reason = "no assignment 'ch9'; this course has: ch3, ch3-exercises"
    assert page.status_code == 403 and reason in html.unescape(page.content.decode())
    assert reason in _refusals()[-1] and not LineItemLink.objects.exists()


def test_the_lti_migrations_match_the_models(service):
    from django.core.management import call_command

    call_command("makemigrations", "service_lti", check=True, dry_run=True, verbosity=0)


def test_the_outbox_fingerprint_changes_with_a_rescore_only(platform):
    from autograder.service.lti.outbox import fingerprint
    from autograder.service.models import Student

    launch(platform, sub="learner-3")
    first = fingerprint()
    assert fingerprint() == first
    submission = _graded(Student.objects.get(), 40)
    second = fingerprint()
    assert second != first
    submission.score = 45  # a rescore of the same submission
    submission.save(update_fields=["score"])
    assert fingerprint() != second


def test_used_nonces_are_kept_two_days(platform):
    from django.utils import timezone

    from autograder.service.lti.models import UsedNonce
    from autograder.service.lti.tool import use_nonce

    old = UsedNonce.objects.create(issuer=platform.issuer, nonce="old", used=timezone.now() - timedelta(days=3))
    recent = UsedNonce.objects.create(issuer=platform.issuer, nonce="recent", used=timezone.now() - timedelta(days=1))
    assert use_nonce(platform.issuer, "new") and not use_nonce(platform.issuer, "recent")
    assert set(UsedNonce.objects.values_list("nonce", flat=True)) == {"recent", "new"}
    assert not UsedNonce.objects.filter(pk=old.pk).exists() and UsedNonce.objects.filter(pk=recent.pk).exists()


# ------------------------------------------------------------------ state kept by the platform (postMessage storage)

def test_a_login_with_a_storage_target_keeps_its_state_in_the_platform_and_the_launch_checks_it(platform):
    from autograder.service.models import Student

    browser = client()
    query = {"iss": platform.issuer, "login_hint": "hint-1", "target_link_uri": "https://grader.example.edu/lti/launch",
             "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id,
             "lti_storage_target": "post_message_forwarding"}
    page = browser.get("/lti/login", query)
    assert page.status_code == 200  # a page that asks the platform to keep the state, not a redirect
    stored = json.loads(page.content.decode().split('<script id="lti-storage" type="application/json">')[1]
                        .split("</script>")[0])
    assert stored["target"] == "post_message_forwarding" and stored["origin"] == platform.url
    sent = {k: v[0] for k, v in parse_qs(urlsplit(stored["auth_url"]).query).items()}
    assert sent["state"] == stored["state"] and stored["auth_url"].startswith(f"{platform.url}/auth?")
    nonce = page.content.decode().split('<script nonce="')[1].split('"')[0]
    assert f"script-src 'nonce-{nonce}'" in page["Content-Security-Policy"]
    assert page.cookies[f"lti1p3-{sent['state']}"].value == sent["state"]  # the cookie too, where it is kept

    token = platform.sign(platform.claims(sent["nonce"], sub="stored-1", name="Ada Lovelace"))
    cookieless = client()  # the browser kept no cookie from the login
    check = cookieless.post("/lti/launch", {"id_token": token, "state": sent["state"]})
    text = check.content.decode()
    assert check.status_code == 200 and 'name="lti_storage_checked" value="1"' in text and token in text
    assert "lti.get_data" in text and not Student.objects.exists()  # nobody signed in before the check

    checked = {"id_token": token, "state": sent["state"], "lti_storage_checked": "1"}
    forged = cookieless.post("/lti/launch", checked, HTTP_ORIGIN="https://attacker.example", HTTP_SEC_FETCH_SITE="cross-site")
    assert forged.status_code == 403 and "must come from the tool&#x27;s own page" in forged.content.decode()
    no_origin = cookieless.post("/lti/launch", checked)
    assert no_origin.status_code == 403 and not Student.objects.exists()
    landed = cookieless.post("/lti/launch", checked, HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")
    assert landed.status_code == 200 and "Ada Lovelace" in landed.content.decode()
    again = cookieless.post("/lti/launch", checked, HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")
    assert again.status_code == 403 and "nonce replayed" in again.content.decode()


def test_a_cookie_login_cannot_be_finished_as_a_storage_checked_launch(platform):
    browser = client()
    state, nonce = login(browser, platform)  # no lti_storage_target: the state lives in a cookie only
    token = platform.sign(platform.claims(nonce))
    forged = client().post("/lti/launch", {"id_token": token, "state": state, "lti_storage_checked": "1"},
                           HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")
    assert forged.status_code == 403 and "cookies blocked?" in forged.content.decode()
    fine = browser.post("/lti/launch", {"id_token": token, "state": state})  # the cookie path still works
    assert fine.status_code == 200


# ------------------------------------------------------------------ the pages after a launch, without cookies

def _frame_credential(page) -> str:
    """The credential in the launch page's link to the upload page."""
    from html import unescape
    from urllib.parse import parse_qs, urlsplit

    href = unescape(page.content.decode().split('<a id="upload" href="')[1].split('"')[0])
    query = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "/" and set(query) == {"assignment", "frame"}
    return query["frame"][0]


def test_the_launch_credential_opens_the_students_own_pages_in_a_cookieless_frame(platform):
    import io

    from django.test import Client

    from autograder.service.models import Student, Submission
    from tests.service_helpers import SOLUTIONS

    _, ada_page = launch(platform, sub="ada-sub", name="Ada Lovelace", **{LTI + "launch_presentation": {
        "return_url": "https://school.example.edu/courses/1/return"}})
    _, grace_page = launch(platform, sub="grace-sub", name="Grace Hopper")
    ada, grace = Student.objects.get(name="Ada Lovelace"), Student.objects.get(name="Grace Hopper")
    credential = _frame_credential(ada_page)
    frame = Client(enforce_csrf_checks=True)  # a frame that keeps no cookie: every request carries the credential

    upload_page = frame.get("/", {"frame": credential})
    text = upload_page.content.decode()
    assert upload_page.status_code == 200 and "Ada Lovelace" in text and 'name="frame"' in text
    assert "csrfmiddlewaretoken" not in text and "Sign out" not in text
    ancestors = upload_page["Content-Security-Policy"].split("frame-ancestors")[1]
    assert platform.url in ancestors and "https://school.example.edu" in ancestors
    assert upload_page["Referrer-Policy"] == "no-referrer" and "X-Frame-Options" not in upload_page
    assert "Ada Lovelace" not in client().get("/").content.decode()  # without it: the sign-in page

    upload = io.BytesIO((SOLUTIONS / "confusion.py").read_bytes())
    upload.name = "confusion.py"
    answer = frame.post("/submit", {"file": upload, "kind": "check", "questions": "confusion", "frame": credential})
    assert answer.status_code == 302, answer.content[:500]  # no CSRF cookie needed with the credential
    [mine] = Submission.objects.filter(student=ada)
    assert answer.url.startswith(f"/submissions/{mine.pk}/?frame=")
    page = frame.get(answer.url)
    assert page.status_code == 200 and f"Submission {mine.pk}" in page.content.decode()
    assert f"/submissions/{mine.pk}/events?frame=" in page.content.decode()
    assert frame.get(f"/submissions/{mine.pk}/events", {"frame": credential}).status_code == 200
    upload.seek(0)
    for headers in ({"HTTP_ORIGIN": "https://attacker.example"}, {"HTTP_SEC_FETCH_SITE": "cross-site"}):
        forged = frame.post("/submit", {"file": upload, "frame": credential}, **headers)
        assert forged.status_code == 403 and "sent from another site" in forged.content.decode()
    same = frame.post("/submit", {"file": upload, "kind": "check", "frame": credential},
                      HTTP_ORIGIN="null", HTTP_SEC_FETCH_SITE="same-origin")  # Chromium, under no-referrer
    assert same.status_code == 302 and Submission.objects.filter(student=ada).count() == 2
    upload.seek(0)
    assert frame.post("/submit", {"file": upload, "kind": "check"}).status_code == 403  # no credential: CSRF as before

    theirs = Submission.objects.create(student=grace, assignment=mine.assignment, sha256="0" * 64, blob="x",
                                       filename="s.py", status="graded", feedback_html="<p>grace's</p>")
    for path in (f"/submissions/{theirs.pk}/", f"/submissions/{theirs.pk}/feedback.html",
                 f"/submissions/{theirs.pk}/events"):
        assert frame.get(path, {"frame": credential}).status_code == 404  # never another student's
    grace_credential = _frame_credential(grace_page)
    assert frame.get(f"/submissions/{theirs.pk}/feedback.html", {"frame": grace_credential}).status_code == 200


def test_an_expired_or_altered_launch_credential_is_refused_with_a_page(platform, monkeypatch):
    import io

    from django.core import signing

    from autograder.service import frame
    from autograder.service.models import Student, Submission

    _, page = launch(platform, sub="ada-sub", name="Ada Lovelace")
    credential = _frame_credential(page)
    ada = Student.objects.get()
    assert client().get("/", {"frame": credential}).status_code == 200

    altered = credential[:-3] + ("AAA" if not credential.endswith("AAA") else "BBB")
    forged = signing.dumps({"s": ada.pk, "o": []}, salt="another salt", compress=True)
    for value in (altered, forged, "garbage"):
        refused = client().get("/", {"frame": value})
        text = refused.content.decode()
        assert refused.status_code == 403 and "changed or is not from this tool" in text and "Ada" not in text
    upload = io.BytesIO(b"x = 1\n")
    upload.name = "confusion.py"
    assert client().post("/submit", {"file": upload, "frame": altered}).status_code == 403
    assert not Submission.objects.exists()

    monkeypatch.setattr(frame, "FRAME_SECONDS", -1)  # every credential is older than that
    expired = client().get("/", {"frame": credential})
    assert expired.status_code == 403 and "has expired" in expired.content.decode()
    assert "frame-ancestors *" in expired["Content-Security-Policy"]  # shown in whichever LMS frame

    monkeypatch.setattr(frame, "FRAME_SECONDS", 3600)
    Student.objects.filter(pk=ada.pk).update(token_revoked=True)
    assert client().get("/", {"frame": credential}).status_code == 403  # a revoked student, as for a session


def _graded_submission(student, feedback: str):
    from autograder.service.models import Assignment, Submission

    return Submission.objects.create(student=student, assignment=Assignment.chosen(), sha256="0" * 64, blob="x",
                                     filename="s.py", status="graded", score=7, raw_score=7, max_score=10,
                                     feedback_html=feedback)


def test_a_staff_launch_opens_the_class_pages_in_a_cookieless_frame(platform):
    from html import unescape

    from django.test import Client

    from autograder.service import frame as frame_credential
    from autograder.service.models import Student

    launch(platform, sub="ada-sub", name="Ada Lovelace")
    mine = _graded_submission(Student.objects.get(name="Ada Lovelace"), "<p>ada's feedback</p>")
    _, page = launch(platform, roles=("Instructor",), sub="alan-sub", name="Alan Turing", **{
        LTI + "launch_presentation": {"return_url": "https://school.example.edu/courses/1/return"}})
    text = unescape(page.content.decode())
    assert page.status_code == 200 and "the class" in text and page["Referrer-Policy"] == "no-referrer"
    assert "csrfmiddlewaretoken" not in text  # every form carries the credential instead
    credential = _form(text, "frame")
    assert frame_credential.read(credential).staff_pk is not None
    assert f"/submissions/{mine.pk}/?frame=" in text and "/lti/staff/?frame=" in text
    assert "/staff/export/csv?assignment=ch3&frame=" in text and "/staff/export/submissions?frame=" in text
    assert '<a href="/admin/" target="_blank" rel="noopener">Admin</a> (opens in a new tab' in text

    frame = Client(enforce_csrf_checks=True)  # a frame that keeps no cookie: every request carries the credential
    class_page = frame.get("/staff/", {"frame": credential})
    assert class_page.status_code == 200 and "Ada Lovelace" in class_page.content.decode()
    ancestors = class_page["Content-Security-Policy"].split("frame-ancestors")[1]
    assert platform.url in ancestors and "https://school.example.edu" in ancestors
    assert class_page["Referrer-Policy"] == "no-referrer" and "X-Frame-Options" not in class_page
    view = frame.get(f"/submissions/{mine.pk}/", {"frame": credential})  # a student's submission, as staff
    assert view.status_code == 200 and 'href="/staff/?assignment=ch3&amp;frame=' in view.content.decode()
    assert "ada's feedback" in frame.get(f"/submissions/{mine.pk}/feedback.html", {"frame": credential}) \
        .content.decode()
    download = frame.get("/staff/export/csv", {"assignment": "ch3", "frame": credential})
    assert download.status_code == 200 and download["Content-Disposition"] == 'attachment; filename="gradebook.csv"'
    assert frame.get("/staff/export/submissions", {"frame": credential}).status_code == 200
    outbox = frame.get("/lti/staff/", {"frame": credential})
    assert outbox.status_code == 200 and "Scores to post" in outbox.content.decode()
    refused = frame.post("/staff/export/moodle?assignment=ch3",
                         {"gradebook": io.BytesIO(b"name,grade\nAnn,3\n"), "frame": credential})
    assert refused.status_code == 400 and "cannot export moodle" in refused.content.decode()  # no session for a message

    rescored = frame.post("/staff/rescore?assignment=ch3", {"frame": credential},
                          HTTP_ORIGIN="null", HTTP_SEC_FETCH_SITE="same-origin")  # Chromium, under no-referrer
    assert rescored.status_code == 200 and 'role="status">rescored: ' in rescored.content.decode()
    for headers in ({"HTTP_ORIGIN": "https://attacker.example"}, {"HTTP_SEC_FETCH_SITE": "cross-site"}):
        forged = frame.post("/staff/rescore", {"frame": credential}, **headers)
        assert forged.status_code == 403 and "sent from another site" in forged.content.decode()
    assert frame.post("/staff/rescore").status_code == 403  # no credential: CSRF as before

    for path in ("/admin/", "/admin/service/submission/"):  # the admin takes its session only
        admin = frame.get(path, {"frame": credential})
        assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")


def test_a_staff_credential_is_no_student_and_a_students_opens_no_staff_page(platform):
    from django.contrib.auth import get_user_model

    from autograder.service import frame
    from autograder.service.models import Student, Submission

    _, ada_page = launch(platform, sub="ada-sub", name="Ada Lovelace")
    student = _frame_credential(ada_page)
    _, alan_page = launch(platform, roles=("TeachingAssistant",), sub="alan-sub", name="Alan Turing")
    staff = _form(alan_page.content.decode(), "frame")
    theirs = _graded_submission(Student.objects.get(), "<p>ada's</p>")

    for path in ("/staff/", "/staff/export/csv", "/staff/export/submissions", "/lti/staff/"):
        refused = client().get(path, {"frame": student})
        assert refused.status_code == 403 and "for the course's staff" in html.unescape(refused.content.decode()), path
    refused = client().post("/staff/rescore", {"frame": student})
    assert refused.status_code == 403 and "for the course's staff" in html.unescape(refused.content.decode())
    assert "rescored" not in refused.content.decode()

    home = client().get("/", {"frame": staff})  # a staff credential names no student: no upload page
    assert home.status_code == 200 and "Your token" in home.content.decode() and "Ada" not in home.content.decode()
    upload = io.BytesIO(b"x = 1\n")
    upload.name = "confusion.py"
    assert client().post("/submit", {"file": upload, "frame": staff}).status_code == 302
    assert Submission.objects.filter(pk__gt=theirs.pk).count() == 0
    assert client().post("/lti/token", {"frame": staff}).status_code == 403

    ada, alan = Student.objects.get(), get_user_model().objects.get(username__startswith="lti-staff-")
    same_pk = {"staff": frame.launch(frame.STAFF, ada.pk).value, "student": frame.launch(frame.STUDENT, alan.pk).value}
    assert "Ada" not in html.unescape(client().get("/", {"frame": same_pk["staff"]}).content.decode())
    assert client().get("/staff/", {"frame": same_pk["student"]}).status_code == 403  # by kind, whatever the pk

    get_user_model().objects.filter(username__startswith="lti-staff-").update(is_staff=False)
    demoted = client().get("/staff/", {"frame": staff})
    assert demoted.status_code == 403 and "no longer names a member of the course's staff" in \
        html.unescape(demoted.content.decode())
    assert client().get(f"/submissions/{theirs.pk}/", {"frame": staff}).status_code == 403


def test_each_page_renews_the_credential_so_a_working_user_goes_on(platform, monkeypatch):
    from html import unescape

    from autograder.service import frame

    start = time.time()
    now = [start]
    monkeypatch.setattr(time, "time", lambda: now[0])
    _, page = launch(platform, sub="ada-sub", name="Ada Lovelace")
    launched = _frame_credential(page)
    launch_time = frame.read(launched).launched
    credential = launched
    while now[0] + 1.5 * 3600 < start + frame.LAUNCH_SECONDS:  # a page every 1.5 hours, all day
        now[0] += 1.5 * 3600
        answer = client().get("/", {"frame": credential})
        assert answer.status_code == 200 and "Ada Lovelace" in answer.content.decode(), answer.content.decode()
        renewed = _form(unescape(answer.content.decode()), "frame")
        assert renewed != credential and frame.read(renewed).launched == launch_time
        credential = renewed
    assert now[0] - start > frame.FRAME_SECONDS  # long past the first credential's idle limit
    token_page = client().post("/lti/token", {"frame": credential})  # a new CLI token: the launch time is kept
    assert frame.read(_frame_credential(token_page)).launched == launch_time
    expired = client().get("/", {"frame": launched})
    assert expired.status_code == 403 and "has expired" in expired.content.decode()
    now[0] = start + frame.LAUNCH_SECONDS + 1  # the last renewal is fresh, but the launch is too old
    ended = client().get("/", {"frame": credential})
    assert ended.status_code == 403 and "has ended" in ended.content.decode() and "Ada" not in ended.content.decode()
