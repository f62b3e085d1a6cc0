"""Registrations, the tool's keys, Canvas's configuration JSON, and who a launch is in the service."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from lti_tool.models import Key, LtiDeployment, LtiRegistration, LtiUser
from lti_tool.utils import DjangoToolConfig

from autograder.service.lti.models import LaunchRefusal, LtiStaff, LtiStudent, UsedNonce
from autograder.service.models import Student

log = logging.getLogger("autograder.service.lti")

ROLE_PREFIX = "http://purl.imsglobal.org/vocab/lis/v2/membership"
STAFF_ROLES = {"Instructor", "TeachingAssistant"}
AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
#: pylti1p3 keeps an issued nonce for a day (its launch data lifetime); a used one is kept twice as long.
NONCE_KEPT = timedelta(days=2)
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


class StrictToolConfig(DjangoToolConfig):
    """django-lti's configuration, except that a deployment must have been registered (django-lti
    would create an inactive one for any deployment id it sees)."""

    def find_deployment(self, iss, deployment_id):
        return None

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        found = LtiDeployment.objects.filter(registration__issuer=iss, registration__client_id=client_id,
                                             registration__is_active=True, deployment_id=deployment_id,
                                             is_active=True).select_related("registration").first()
        if found is None:
            return None
        self.deployment = found
        from pylti1p3.deployment import Deployment

        return Deployment().set_deployment_id(found.deployment_id)


# ------------------------------------------------------------------ keys

def ensure_key() -> Key:
    """The tool's signing key (RSA 2048), generated on first use."""
    key = Key.objects.active().order_by("-datetime_created", "-id").first()
    return key or Key.objects.generate()


def rotate_keys() -> tuple[Key, list[Key]]:
    """A new signing key; the older ones stay published (in the JWKS) until :func:`retire_keys`."""
    with transaction.atomic():
        old = list(Key.objects.active().order_by("datetime_created"))
        new = Key.objects.generate()
    return new, old


def retire_keys() -> int:
    """Unpublish every key but the newest."""
    newest = ensure_key()
    return Key.objects.active().exclude(pk=newest.pk).update(is_active=False)


def signing_key_pem() -> tuple[str, str]:
    key = ensure_key()
    return key.public_key, key.private_key


# ------------------------------------------------------------------ registration

def add_platform(*, issuer: str, client_id: str, deployment_ids: list[str], auth_url: str, token_url: str,
                 jwks_url: str, name: str = "", audience: str = "") -> LtiRegistration:
    """Register a platform (or update the one with this issuer and client id) and its deployments:
    the one way in for ``serve lti add-platform`` and dynamic registration alike. ValueError names
    the first field that is not an http(s) URL or is empty."""
    for value, field in ((issuer, "issuer"), (auth_url, "auth-url"), (token_url, "token-url"),
                         (jwks_url, "jwks-url")):
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ValueError(f"--{field} takes an http(s) URL")
    if not client_id:
        raise ValueError("--client-id is empty")
    ensure_key()
    with transaction.atomic():
        registration, _ = LtiRegistration.objects.update_or_create(
            issuer=issuer, client_id=client_id,
            defaults={"name": name or issuer, "auth_url": auth_url, "token_url": token_url,
                      "keyset_url": jwks_url, "audience": audience, "is_active": True})
        for deployment_id in deployment_ids:
            LtiDeployment.objects.update_or_create(registration=registration, deployment_id=deployment_id,
                                                   defaults={"is_active": True})
    return registration


def base_url() -> str:
    return settings.BASE_URL.rstrip("/")


def canvas_config() -> dict:
    """The tool's configuration in Canvas's developer-key JSON format (LTI Key, "Paste JSON")."""
    url = base_url()
    domain = url.split("://", 1)[-1].split("/", 1)[0]
    launch = f"{url}/lti/launch"
    return {
        "title": "Chapter 3 autograder",
        "description": "Submit the Classification chapter's exercises and get them graded.",
        "oidc_initiation_url": f"{url}/lti/login",
        "target_link_uri": launch,
        "public_jwk_url": f"{url}/lti/jwks.json",
        "scopes": AGS_SCOPES + [NRPS_SCOPE],
        "extensions": [{
            "platform": "canvas.instructure.com",
            "domain": domain,
            "privacy_level": "public",
            "settings": {
                "placements": [
                    {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                     "target_link_uri": launch},
                    {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                     "target_link_uri": launch},
                    {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                     "target_link_uri": launch},
                ],
            },
        }],
        "custom_fields": {},
    }


# ------------------------------------------------------------------ refusals and nonces

def record_refusal(step: str, reason: str, request, claims: dict | None = None, **fields) -> LaunchRefusal:
    claims = claims or {}
    aud = claims.get("aud")
    row = LaunchRefusal.objects.create(
        step=step, reason=reason[:2000],
        issuer=str(fields.get("issuer") or claims.get("iss") or "")[:255],
        client_id=str(fields.get("client_id") or (aud[0] if isinstance(aud, list) and aud else aud) or "")[:255],
        deployment_id=str(fields.get("deployment_id")
                          or claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id") or "")[:255],
        sub=str(claims.get("sub") or "")[:255], address=request.META.get("REMOTE_ADDR", "")[:64])
    log.warning("LTI %s refused (%s, issuer %s, client %s): %s", step, row.address, row.issuer, row.client_id, reason)
    return row


def use_nonce(issuer: str, nonce: str) -> bool:
    """True the first time (issuer, nonce) is seen; False for a replay."""
    try:
        with transaction.atomic():
            UsedNonce.objects.create(issuer=issuer, nonce=nonce)
    except IntegrityError:
        return False
    UsedNonce.objects.filter(used__lt=timezone.now() - NONCE_KEPT).delete()
    return True


# ------------------------------------------------------------------ roles and people

def role_names(roles: list[str]) -> set[str]:
    """The short names of context roles (``...membership#Learner`` -> ``Learner``; a Teaching
    Assistant's sub-role ``...membership/Instructor#TeachingAssistant`` -> ``TeachingAssistant``)."""
    names = set()
    for role in roles or []:
        if role.startswith(ROLE_PREFIX) or "#" not in role and "/" not in role:
            names.add(role.rsplit("#", 1)[-1])
    return names


def service_role(roles: list[str]) -> str | None:
    """``staff`` (Instructor, Teaching Assistant), ``student`` (Learner) or None."""
    names = role_names(roles)
    if names & STAFF_ROLES:
        return "staff"
    if "Learner" in names:
        return "student"
    return None


def _new_student_id(lti_user: LtiUser, sourcedid: str | None) -> str:
    if sourcedid and not Student.objects.filter(student_id=sourcedid).exists():
        return sourcedid[:100]
    digest = hashlib.sha256(f"{lti_user.registration.issuer}|{lti_user.sub}".encode()).hexdigest()[:12]
    return f"lti-{digest}"


def student_for(lti_user: LtiUser, *, name: str = "", email: str = "", sourcedid: str | None = None
                ) -> tuple[Student, bool]:
    """The roster student of an LTI user: the one linked before, else the roster row with the same
    id (``lis.person_sourcedid``) or email, else a new one. (student, created)."""
    link = LtiStudent.objects.filter(lti_user=lti_user).select_related("student").first()
    if link is not None:
        return link.student, False
    with transaction.atomic():
        unlinked = Student.objects.filter(lti__isnull=True)
        student = (unlinked.filter(student_id=sourcedid).first() if sourcedid else None) or (
            unlinked.filter(email__iexact=email).first() if email else None)
        created = student is None
        if created:
            student_id = _new_student_id(lti_user, sourcedid)
            user = get_user_model().objects.create_user(f"student-{student_id}"[:150])
            user.set_unusable_password()
            user.save()
            student = Student.objects.create(user=user, student_id=student_id, name=name[:200], email=email)
        LtiStudent.objects.create(student=student, lti_user=lti_user)
    return student, created


def staff_user_for(lti_user: LtiUser):
    """The Django staff login (no admin rights beyond the class page) of an Instructor or TA."""
    link = LtiStaff.objects.filter(lti_user=lti_user).select_related("user").first()
    if link is not None:
        if not link.user.is_staff:
            link.user.is_staff = True
            link.user.save(update_fields=["is_staff"])
        return link.user
    digest = hashlib.sha256(f"{lti_user.registration.issuer}|{lti_user.sub}".encode()).hexdigest()[:12]
    with transaction.atomic():
        user = get_user_model().objects.create_user(f"lti-staff-{digest}", email=lti_user.email or "",
                                                    first_name=(lti_user.given_name or "")[:150],
                                                    last_name=(lti_user.family_name or "")[:150])
        user.is_staff = True
        user.set_unusable_password()
        user.save()
        LtiStaff.objects.create(user=user, lti_user=lti_user)
    return user
