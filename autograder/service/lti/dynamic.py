"""LTI Dynamic Registration: the LMS opens a one-time registration URL made by staff, the tool reads
the platform's OpenID configuration, registers itself there with the registration token the LMS gave,
and records the platform through :func:`.tool.add_platform`, as ``serve lti add-platform`` does.

Neither django-lti 0.10 nor pylti1p3 2.0 carries this flow. The add-on django-lti-dynamic-registration
0.1 does, but it accepts an issuer that is a mere prefix of the configuration URL's host, sends no
timeout, ignores the deployment id and saves the platform before the platform has said yes, so the
flow is written here on the tool's own HTTP session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.utils import timezone

from autograder.service.lti.http import TimeoutSession
from autograder.service.lti.models import RegistrationInvite
from autograder.service.lti.tool import AGS_SCOPES, NRPS_SCOPE, add_platform, base_url

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
INVITE_HOURS = 24
TITLE = "Chapter 3 autograder"


class RegistrationRefused(Exception):
    """Why a dynamic registration did not happen, in words for the LMS administrator."""

    def __init__(self, reason: str, issuer: str = ""):
        super().__init__(reason)
        self.issuer = issuer


# ------------------------------------------------------------------ the one-time URL

def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_invite(hours: float = INVITE_HOURS) -> tuple[str, RegistrationInvite]:
    """A registration URL that works once within ``hours``: (the URL, its row)."""
    secret = secrets.token_urlsafe(32)
    invite = RegistrationInvite.objects.create(secret_hash=_hash(secret),
                                               expires=timezone.now() + timedelta(hours=hours))
    return f"{base_url()}/lti/register/{secret}", invite


def open_invite(secret: str) -> RegistrationInvite:
    """The unused, unexpired invite of this secret; RegistrationRefused otherwise."""
    invite = RegistrationInvite.objects.filter(secret_hash=_hash(secret)).first()
    if invite is None:
        raise RegistrationRefused("this registration URL is not one the tool made (ask the course staff for a "
                                  "new one: serve lti registration-url)")
    if invite.used is not None:
        raise RegistrationRefused("this registration URL was already used; each one registers one platform once")
    if invite.expires <= timezone.now():
        raise RegistrationRefused("this registration URL has expired (ask the course staff for a new one)")
    return invite


# ------------------------------------------------------------------ the exchange

def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def client_metadata(platform: dict) -> dict:
    """The tool's registration request (OpenID client metadata with the LTI tool configuration)."""
    url = base_url()
    launch = f"{url}/lti/launch"
    product = (platform.get(PLATFORM_CONFIGURATION) or {}).get("product_family_code", "")
    messages = [{"type": "LtiDeepLinkingRequest", "target_link_uri": launch, "label": TITLE,
                 "placements": ["assignment_selection", "link_selection"]}]
    if product == "canvas":  # Canvas shows a resource link only where a placement names it
        messages.append({"type": "LtiResourceLinkRequest", "target_link_uri": launch, "label": TITLE,
                         "placements": ["course_navigation"]})
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{url}/lti/login",
        "redirect_uris": [launch],
        "client_name": TITLE,
        "jwks_uri": f"{url}/lti/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(AGS_SCOPES + [NRPS_SCOPE]),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(url).netloc,
            "description": "Submit the Classification chapter's exercises and get them graded.",
            "target_link_uri": launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": messages,
        },
    }


def fetch_configuration(config_url: str, registration_token: str, session: requests.Session) -> dict:
    """The platform's OpenID configuration, once its issuer is checked against the URL it came from."""
    if not config_url.startswith(("https://", "http://")):
        raise RegistrationRefused("the openid_configuration parameter is not an http(s) URL")
    try:
        response = session.get(config_url, headers={"Authorization": f"Bearer {registration_token}",
                                                    "Accept": "application/json"})
        response.raise_for_status()
        config = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise RegistrationRefused(f"the platform's OpenID configuration could not be read from {config_url}: "
                                  f"{exc}") from exc
    if not isinstance(config, dict):
        raise RegistrationRefused("the platform's OpenID configuration is not a JSON object")
    issuer = config.get("issuer")
    if not isinstance(issuer, str) or _origin(issuer) != _origin(config_url):
        raise RegistrationRefused(f"the platform's configuration names the issuer {issuer!r}, which is not "
                                  f"served from {_origin(config_url)} where the configuration came from",
                                  issuer=str(issuer or ""))
    missing = [name for name in ("registration_endpoint", "authorization_endpoint", "token_endpoint", "jwks_uri")
               if not isinstance(config.get(name), str) or not config[name].startswith(("https://", "http://"))]
    if missing:
        raise RegistrationRefused(f"the platform's configuration has no {', '.join(missing)}", issuer=issuer)
    return config


def register(config_url: str, registration_token: str, *, session: requests.Session | None = None):
    """Register the tool with the platform and the platform with the tool.

    Returns (LtiRegistration, deployment ids); RegistrationRefused says why not.
    """
    if not registration_token:
        raise RegistrationRefused("the LMS sent no registration_token; start the registration from the LMS")
    session = session or TimeoutSession()
    config = fetch_configuration(config_url, registration_token, session)
    issuer = config["issuer"]
    try:
        response = session.post(config["registration_endpoint"], json=client_metadata(config),
                                headers={"Authorization": f"Bearer {registration_token}",
                                         "Accept": "application/json"})
    except requests.RequestException as exc:
        raise RegistrationRefused(f"the platform's registration endpoint did not answer: {exc}", issuer) from exc
    if response.status_code in (401, 403):
        raise RegistrationRefused(f"the platform refused the registration token (HTTP {response.status_code}); "
                                  "it may have expired: start the registration again from the LMS", issuer)
    if not response.ok:
        raise RegistrationRefused(f"the platform refused the registration (HTTP {response.status_code}: "
                                  f"{response.text[:300]})", issuer)
    try:
        answer = response.json()
    except ValueError as exc:
        raise RegistrationRefused("the platform's registration answer is not JSON", issuer) from exc
    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationRefused("the platform's registration answer has no client_id", issuer)
    deployment = (answer.get(TOOL_CONFIGURATION) or {}).get("deployment_id")
    deployments = [str(deployment)] if deployment not in (None, "") else []
    product = (config.get(PLATFORM_CONFIGURATION) or {}).get("product_family_code") or ""
    name = f"{product} {urlsplit(issuer).netloc}".strip()
    registration = add_platform(issuer=issuer, client_id=client_id, deployment_ids=deployments,
                                auth_url=config["authorization_endpoint"], token_url=config["token_endpoint"],
                                jwks_url=config["jwks_uri"], name=name,
                                audience=config.get("authorization_server") or "")
    return registration, deployments
