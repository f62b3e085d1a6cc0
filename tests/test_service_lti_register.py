"""LTI Dynamic Registration against the mock platform (tests/lti_platform.py): a one-time URL from
`serve lti registration-url`, the platform's OpenID configuration and registration endpoint, then a
launch on what was registered; a wrong issuer, a missing or wrong registration token, a used,
unknown or expired URL are refused and logged, and registering again duplicates nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")
pytest.importorskip("lti_tool", reason="LTI needs django-lti (the serve extra)")

from tests.lti_platform import MockPlatform  # noqa: E402
from tests.test_service_lti import launch, tool_jwks  # noqa: E402

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


@pytest.fixture
def unregistered(service):
    """A running mock platform the tool does not know yet; no LTI data from other tests."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from lti_tool.models import LtiRegistration

    from autograder.service.lti.models import LaunchRefusal, RegistrationInvite, ScorePost, UsedNonce
    from autograder.service.models import Student

    LtiRegistration.objects.all().delete()
    for model in (Student, LaunchRefusal, ScorePost, UsedNonce, RegistrationInvite):
        model.objects.all().delete()
    get_user_model().objects.exclude(username="staff").delete()
    cache.clear()
    with MockPlatform() as mock:
        mock.tool_jwks = tool_jwks
        yield mock


def registration_url(service) -> str:
    from typer.testing import CliRunner

    from autograder.service.commands import serve_app

    result = CliRunner().invoke(serve_app, ["lti", "registration-url", str(service), "--hours", "2"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[0]
    assert url.startswith("https://grader.example.edu/lti/register/") and "valid once" in result.output
    return urlsplit(url).path


def open_registration(path: str, platform, **params):
    from django.test import Client

    query = {"openid_configuration": platform.openid_configuration_url,
             "registration_token": platform.registration_token, **params}
    return Client().get(path, {k: v for k, v in query.items() if v is not None})


def test_the_lms_registers_the_tool_and_a_launch_then_works(service, unregistered):
    from lti_tool.models import LtiDeployment, LtiRegistration

    path = registration_url(service)
    page = open_registration(path, unregistered)
    text = page.content.decode()
    assert page.status_code == 200, text
    assert "(window.opener || window.parent).postMessage({subject: \"org.imsglobal.lti.close\"}, \"*\")" in text
    nonce = text.split('<script nonce="')[1].split('"')[0]
    csp = page["Content-Security-Policy"]
    assert f"script-src 'nonce-{nonce}'" in csp and unregistered.url in csp.split("frame-ancestors")[1]

    [sent] = unregistered.registered
    assert sent["application_type"] == "web" and sent["response_types"] == ["id_token"]
    assert set(sent["grant_types"]) == {"implicit", "client_credentials"}
    assert sent["initiate_login_uri"] == "https://grader.example.edu/lti/login"
    assert sent["redirect_uris"] == ["https://grader.example.edu/lti/launch"]
    assert sent["jwks_uri"] == "https://grader.example.edu/lti/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
    tool = sent[TOOL_CONFIGURATION]
    assert tool["domain"] == "grader.example.edu" and tool["target_link_uri"] == sent["redirect_uris"][0]
    assert {"iss", "sub", "name", "email"} <= set(tool["claims"])
    assert [m["type"] for m in tool["messages"]] == ["LtiDeepLinkingRequest"]  # no Canvas placement for others

    registration = LtiRegistration.objects.get()
    assert (registration.issuer, registration.client_id) == (unregistered.issuer, unregistered.client_id)
    assert (registration.auth_url, registration.token_url, registration.keyset_url) == (
        f"{unregistered.url}/auth", f"{unregistered.url}/token", f"{unregistered.url}/jwks")
    assert [d.deployment_id for d in LtiDeployment.objects.filter(registration=registration, is_active=True)] == [
        unregistered.deployment_id]

    _, landed = launch(unregistered, roles=("Learner",), sub="learner-1", name="Ada Lovelace")
    assert landed.status_code == 200 and "Ada Lovelace" in landed.content.decode()

    again = open_registration(path, unregistered)  # the same one-time URL
    assert again.status_code == 403 and "already used" in again.content.decode()
    assert len(unregistered.registered) == 1

    second = open_registration(registration_url(service), unregistered)  # a new URL, the same platform
    assert second.status_code == 200 and len(unregistered.registered) == 2
    assert LtiRegistration.objects.count() == 1 and LtiDeployment.objects.count() == 1


def test_a_configuration_whose_issuer_is_elsewhere_is_refused_and_logged(service, unregistered, caplog):
    from lti_tool.models import LtiRegistration

    from autograder.service.lti.models import LaunchRefusal, RegistrationInvite

    unregistered.config_issuer = "https://lms.example.edu"
    with caplog.at_level(logging.WARNING, logger="autograder.service.lti"):
        page = open_registration(registration_url(service), unregistered)
    text = page.content.decode()
    assert page.status_code == 403 and "This registration was refused" in text
    assert "names the issuer &#x27;https://lms.example.edu&#x27;" in text and unregistered.url in text
    assert "script-src 'none'" in page["Content-Security-Policy"]
    [refusal] = LaunchRefusal.objects.all()
    assert refusal.step == "register" and refusal.issuer == "https://lms.example.edu"
    assert any("LTI register refused" in r.getMessage() for r in caplog.records)
    assert unregistered.registered == [] and not LtiRegistration.objects.exists()
    assert RegistrationInvite.objects.get().used is None  # the URL still works once the LMS is fixed


def test_a_missing_or_wrong_registration_token_is_refused(service, unregistered):
    from lti_tool.models import LtiRegistration

    from autograder.service.lti.models import LaunchRefusal

    path = registration_url(service)
    absent = open_registration(path, unregistered, registration_token=None)
    assert absent.status_code == 403 and "sent no registration_token" in absent.content.decode()
    assert not any(r["path"].startswith("/.well-known") for r in unregistered.requests)  # nothing was asked

    wrong = open_registration(path, unregistered, registration_token="reg-guessed")
    assert wrong.status_code == 403 and "could not be read" in wrong.content.decode()
    assert "401" in wrong.content.decode()

    unregistered.fail("register", [401])  # the configuration is read, the registration itself refused
    late = open_registration(path, unregistered)
    assert late.status_code == 403 and "refused the registration token (HTTP 401)" in late.content.decode()
    assert not LtiRegistration.objects.exists() and unregistered.registered == []
    assert LaunchRefusal.objects.filter(step="register").count() == 3

    fine = open_registration(path, unregistered)  # none of those used the URL up
    assert fine.status_code == 200 and LtiRegistration.objects.count() == 1


def test_an_unknown_or_expired_registration_url_asks_the_platform_nothing(service, unregistered):
    from django.utils import timezone

    from autograder.service.lti.models import RegistrationInvite

    unknown = open_registration("/lti/register/not-a-secret-the-tool-made", unregistered)
    assert unknown.status_code == 403 and "not one the tool made" in unknown.content.decode()
    path = registration_url(service)
    RegistrationInvite.objects.update(expires=timezone.now() - timedelta(seconds=1))
    expired = open_registration(path, unregistered)
    assert expired.status_code == 403 and "has expired" in expired.content.decode()
    assert unregistered.requests == []
