"""The LTI endpoints: login initiation, launch, keys, configuration, the staff page."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl, urlsplit

import jwt

from django.contrib.auth import login
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from lti_tool.models import Key, LtiLaunch, LtiRegistration
from lti_tool.utils import sync_data_from_launch
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from pylti1p3.exception import LtiException, OIDCException

from autograder.service.lti import nrps
from autograder.service.lti.models import LaunchRefusal, LineItemLink, ScorePost
from autograder.service.lti.tool import (StrictToolConfig, base_url, canvas_config, ensure_key, record_refusal,
                                         service_role, staff_user_for, student_for, use_nonce)
from autograder.service import frame
from autograder.service.models import Assignment, Student
from autograder.service.views import caller, frame_page, staff_page

log = logging.getLogger("autograder.service.lti")
LTI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LIS_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lis"
CUSTOM_CLAIM = LTI_CLAIM + "custom"
#: The custom parameter of a resource link that names its assignment (by slug).
ASSIGNMENT_PARAM = "assignment"
#: How long a deep-linking request waits, server-side, for staff to pick its assignments.
PICKER_SECONDS = 3600


FRAME_ORIGINS = "lti_frame_origins"


def unverified_claims(request) -> dict:
    """The id_token's claims as posted, signature unchecked: to choose the audience to verify it
    for, and to log a refused launch; never to decide anything else."""
    try:
        claims = jwt.decode(request.POST.get("id_token", ""), options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


class ToolMessageLaunch(DjangoMessageLaunch):
    """pylti1p3's launch, except that a token for several audiences names this tool by ``azp``
    (OpenID Connect Core 3.1.3.7), not by being the first of them."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.posted_claims = unverified_claims(request)

    def get_client_id(self) -> str:
        claims = self._get_jwt_body() if self._restored else self.posted_claims
        aud, azp = claims.get("aud"), claims.get("azp")
        if isinstance(aud, list) and azp in aud:
            return azp  # the signature and the audience are then verified for this client id
        return super().get_client_id()


def _origin(url) -> str | None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _platform_origins(request) -> set[str]:
    """The origins that may frame the LTI pages: every registered platform's issuer and login
    host, and the course's own host that a launch named (a Canvas course is served from the
    school's host, not from the issuer's), kept in the session for the pages after the launch."""
    origins = set(request.session.get(FRAME_ORIGINS, []))
    for reg in LtiRegistration.objects.active().only("issuer", "auth_url"):
        origins.update(filter(None, (_origin(reg.issuer), _origin(reg.auth_url))))
    return origins


def _launch_origins(claims: dict) -> list[str]:
    urls = [(claims.get(LTI_CLAIM + "launch_presentation") or {}).get("return_url"),
            (claims.get(LTI_CLAIM + "tool_platform") or {}).get("url"),
            (claims.get(DL_CLAIM) or {}).get("deep_link_return_url")]
    return sorted(set(filter(None, map(_origin, urls))))


def _framable(response, request, form_action: str = "'self'", script_nonce: str = "", also_framed_by=()):
    """An LTI page: shown inside the platform's iframe, forms to ``form_action`` only, and no script
    but the one inline script carrying ``script_nonce`` where there is one."""
    ancestors = " ".join(["'self'", *sorted(_platform_origins(request) | set(filter(None, also_framed_by)))])
    scripts = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src {scripts}; "
        f"object-src 'none'; base-uri 'none'; form-action {form_action}; frame-ancestors {ancestors}")
    response.xframe_options_exempt = True
    return response


def _refuse(request, step: str, reason: str, claims=None, status: int = 403, **fields):
    record_refusal(step, reason, request, claims, **fields)
    return _framable(render(request, "lti/refused.html", {"reason": reason}, status=status), request)


def _explain(exc: Exception) -> str:
    """The library's reason, in words for the person in front of the LMS."""
    text = str(exc)
    known = [("Signature has expired", "the launch token has expired"),
             ("Unable to find public key", "the launch token is signed by a key the platform does not publish"),
             ("Signature verification failed", "the launch token's signature does not match the platform's key"),
             ("Registration not found", "this platform or client id is not registered with the tool"),
             ("Could not find registration", "this platform or client id is not registered with the tool"),
             ("Unable to find deployment", "this deployment is not registered with the tool"),
             ("State not found", "the login state is missing or does not match (cookies blocked?)"),
             ("Missing state", "the login state is missing"),
             ("Invalid Nonce", "the nonce was not issued by this tool's login"),
             ("Missing Roles Claim", "the launch has no roles claim")]
    for needle, words in known:
        if needle.lower() in text.lower():
            return f"{words} ({text})"
    return text


class SharedCacheStorage(DjangoCacheDataStorage):
    """pylti1p3's cache storage without its session-id cookie (which an iframe without third-party
    cookies never gets back): nonces and state parameters are keyed by their own random values."""

    def get_session_cookie_name(self):
        return None


class PlatformStorageLaunch(ToolMessageLaunch):
    """A launch whose state the browser checked against the platform's storage (LTI client-side
    postMessages) instead of a cookie: the state must be one this tool's login issued for a
    platform-storage login; everything else pylti1p3 checks as usual."""

    def validate_state(self):
        state = self._get_request_param("state")
        params = self._session_service.get_state_params(state) if state else None
        if not isinstance(params, dict) or not params.get(STORAGE_TARGET):
            raise LtiException("State not found")
        return self


STORAGE_TARGET = "lti_storage_target"
STORAGE_CHECKED = "lti_storage_checked"


def _storage_origin(issuer: str, client_id: str) -> str | None:
    """The origin the platform's storage answers from: its authorization endpoint's."""
    registrations = LtiRegistration.objects.active().filter(issuer=issuer)
    if client_id:
        registrations = registrations.filter(client_id=client_id)
    registration = registrations.order_by("id").first()
    return _origin(registration.auth_url) if registration is not None else None


def _same_origin(request) -> bool:
    """The request came from a page of this tool (the browser sets Origin and Sec-Fetch-Site; a page
    elsewhere cannot)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
        return False
    origin = request.headers.get("Origin", "")
    own = {_origin(request.build_absolute_uri("/")), _origin(base_url())}
    return bool(origin) and origin in own


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def login_view(request):
    params = request.POST if request.method == "POST" else request.GET
    fields = {"issuer": params.get("iss", ""), "client_id": params.get("client_id", ""),
              "deployment_id": params.get("lti_deployment_id", "")}
    if not params.get("target_link_uri"):
        return _refuse(request, "login", "the login request has no target_link_uri", status=400, **fields)
    ensure_key()
    target = params.get(STORAGE_TARGET, "")
    storage = SharedCacheStorage() if target else DjangoCacheDataStorage()
    oidc = DjangoOIDCLogin(request, StrictToolConfig(), launch_data_storage=storage)
    launch_url = request.build_absolute_uri(reverse("lti-launch"))
    try:  # no JavaScript cookie check: the state cookie is set on this redirect
        if not target:
            return oidc.disable_check_cookies().redirect(launch_url)
        origin = _storage_origin(fields["issuer"], fields["client_id"])
        redirect = oidc.disable_check_cookies().pass_params_to_launch(
            {STORAGE_TARGET: target}).get_redirect_object(launch_url)
    except (LtiException, OIDCException) as exc:
        return _refuse(request, "login", _explain(exc), status=400, **fields)
    # The platform keeps the state for this tool (lti.put_data); the cookie is set too, for a
    # browser that still accepts it.
    auth_url = redirect.get_redirect_url()
    state = dict(parse_qsl(urlsplit(auth_url).query)).get("state", "")
    nonce = secrets.token_urlsafe(16)
    page = render(request, "lti/storage_login.html", {"nonce": nonce, "storage": {
        "target": target, "origin": origin, "state": state, "auth_url": auth_url}})
    page.cookies.update(redirect.do_redirect().cookies)
    return _framable(page, request, script_nonce=nonce)


@csrf_exempt
@xframe_options_exempt
@require_POST
def launch_view(request):
    state = request.POST.get("state", "")
    storage = SharedCacheStorage()
    storage.set_request(DjangoRequest(request))
    state_params = storage.get_value(f"lti1p3-{state}") if state and not request.COOKIES.get(f"lti1p3-{state}") \
        else None
    if isinstance(state_params, dict) and state_params.get(STORAGE_TARGET):
        if request.POST.get(STORAGE_CHECKED) != "1":
            return _storage_check(request, state, state_params[STORAGE_TARGET])
        if not _same_origin(request):
            return _refuse(request, "launch", "a launch checked against the platform's storage must come from "
                                              "the tool's own page", unverified_claims(request))
        message_launch = PlatformStorageLaunch(request, StrictToolConfig(), launch_data_storage=storage)
    else:
        message_launch = ToolMessageLaunch(request, StrictToolConfig(), launch_data_storage=DjangoCacheDataStorage())
    claims = {}
    try:
        message_launch.validate()
        claims = message_launch.get_launch_data()
    except LtiException as exc:
        return _refuse(request, "launch", _explain(exc), message_launch.posted_claims)  # unverified: the log only
    aud = claims.get("aud")
    client_id = message_launch.get_client_id()
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        return _refuse(request, "launch", "the token has several audiences and no azp naming this tool", claims)
    if "azp" in claims and claims["azp"] != client_id:
        return _refuse(request, "launch", "the token's azp is not this tool's client id", claims)
    if not use_nonce(claims["iss"], claims["nonce"]):
        return _refuse(request, "launch", "this launch was already used (nonce replayed)", claims)
    role = service_role(claims.get("https://purl.imsglobal.org/spec/lti/claim/roles") or [])
    if role is None:
        return _refuse(request, "launch", "none of the launch's roles (Learner, Instructor, Teaching "
                                          "Assistant) is one this tool knows", claims)
    lti_launch = LtiLaunch(message_launch)
    if not (lti_launch.is_resource_launch or lti_launch.is_deep_link_launch):
        kind = claims.get(LTI_CLAIM + "message_type")
        return _refuse(request, "launch", f"this tool does not take {kind} messages yet", claims)
    if lti_launch.is_deep_link_launch and role != "staff":
        return _refuse(request, "launch", "only an Instructor may add the tool to a course", claims)
    sync_data_from_launch(lti_launch)
    request.session.cycle_key()
    request.session[FRAME_ORIGINS] = _launch_origins(claims)
    if lti_launch.is_deep_link_launch:
        return _deep_link(request, message_launch, claims)
    context = lti_launch.context if lti_launch.context_claim is not None else None
    try:
        assignment = launch_assignment(claims, context)
    except Assignment.DoesNotExist as exc:
        return _refuse(request, "launch", f"the link's assignment: {exc}", claims)
    lineitem = (claims.get(AGS_CLAIM) or {}).get("lineitem")
    if context is not None and lineitem:
        LineItemLink.objects.get_or_create(context=context, assignment=assignment, defaults={"url": lineitem})
    if role == "staff":
        user = staff_user_for(lti_launch.user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[FRAME_ORIGINS] = _launch_origins(claims)  # a new login may have flushed the session
        if context is not None and context.memberships_url:
            try:
                nrps.sync_context(context)
            except Exception as exc:  # the class page still opens; the sync is retried by `serve lti sync`
                log.warning("NRPS sync at an Instructor launch failed: %s", exc)
        from autograder.service import views

        # The class page's links and forms carry a staff credential: in a frame without cookies the
        # session cookie just set is dropped.
        request.frame = frame.launch(frame.STAFF, user.pk, _platform_origins(request))
        return _with_credential(_framable(views.class_page(request, assignment), request))
    lis = claims.get(LIS_CLAIM) or {}
    student, created = student_for(lti_launch.user, name=claims.get("name", ""), email=claims.get("email", ""),
                                   sourcedid=lis.get("person_sourcedid"))
    login(request, student.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[FRAME_ORIGINS] = _launch_origins(claims)
    token = student.issue_token() if created or not student.token_hash else ""
    return _with_credential(_framable(render(request, "lti/student.html",
                                             _student_page(request, student, token, assignment)), request))


def _with_credential(response):
    """A launch's page, whose links carry the launch's credential: it sends no Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _storage_check(request, state: str, target: str):
    """The page that asks the platform's storage (lti.get_data) for the state this browser's login
    put there, and posts the launch back to the tool only if it matches."""
    claims = unverified_claims(request)
    aud = claims.get("aud")
    client_id = claims.get("azp") or (aud[0] if isinstance(aud, list) and aud else aud) or ""
    origin = _storage_origin(str(claims.get("iss") or ""), str(client_id))
    if origin is None:
        return _refuse(request, "launch", "this platform or client id is not registered with the tool", claims)
    nonce = secrets.token_urlsafe(16)
    page = render(request, "lti/storage_launch.html", {
        "nonce": nonce, "id_token": request.POST.get("id_token", ""), "state": state,
        "storage": {"target": target, "origin": origin, "state": state}})
    return _framable(page, request, script_nonce=nonce)


def launch_assignment(claims: dict, context) -> Assignment:
    """The assignment a resource-link launch opens: the one its link's custom parameter
    ``assignment`` names (the deep-linking picker sets it), else the one whose line item the launch
    carries (recorded at an earlier launch of the link), else, for a link made before links named
    their assignment, the course's first.

    Raises
    ------
    Assignment.DoesNotExist
        When the link names a slug the course has no assignment for (the message names the slug
        and the course's assignments).
    """
    custom = claims.get(CUSTOM_CLAIM)
    slug = custom.get(ASSIGNMENT_PARAM) if isinstance(custom, dict) else None
    if isinstance(slug, str) and slug.strip():
        return Assignment.chosen(slug.strip())
    lineitem = (claims.get(AGS_CLAIM) or {}).get("lineitem")
    if context is not None and lineitem:
        linked = LineItemLink.objects.filter(context=context, url=lineitem).select_related("assignment").first()
        if linked is not None:
            return linked.assignment
    return Assignment.chosen()


def _student_page(request, student: Student, token: str, assignment: Assignment) -> dict:
    """The launch's page for ``assignment``: the student's name, their CLI token when new, and the
    link to the upload page inside the frame, carrying the launch's credential
    (:mod:`autograder.service.frame`) since a browser that blocks third-party cookies keeps no
    session cookie in the frame: the one the request carried on (renewed, with its launch time),
    else a new one."""
    credential = getattr(request, "frame", None) or frame.launch(frame.STUDENT, student.pk, _platform_origins(request))
    return {"student": student, "token": token, "server": base_url() + "/", "assignment": assignment,
            "launch_frame": credential.value}


@require_POST
@frame_page
def new_token_view(request):
    """A student signed in by a launch asks for a new CLI token (the old one stops working); the page
    stays on the assignment its form names. The form carries the launch's credential, so this works
    in a frame without cookies too; whoever the service's pages refuse (a student whose access the
    staff revoked) gets no token."""
    student = caller(request).student
    if student is None:
        return _framable(render(request, "lti/refused.html",
                                {"reason": "open the tool from your course first"}, status=403), request)
    try:
        assignment = Assignment.chosen(request.GET.get("assignment"))
    except Assignment.DoesNotExist as exc:
        return _framable(render(request, "lti/refused.html", {"reason": str(exc)}, status=404), request)
    return _framable(render(request, "lti/student.html", _student_page(request, student, student.issue_token(), assignment)),
                     request)


def _deep_link(request, message_launch, claims):
    """A deep-linking request: the launch is kept server-side (by its random launch id, for
    ``PICKER_SECONDS``) and staff get the page that picks the course's assignments to link."""
    return_url = (claims.get(DL_CLAIM) or {}).get("deep_link_return_url", "")
    if not return_url.startswith(("https://", "http://")):
        return _refuse(request, "launch", "the deep-linking request has no return URL", claims)
    assignments = list(Assignment.objects.order_by("id"))
    if not assignments:
        return _refuse(request, "launch", "the course has no assignment yet to add: add one on the server "
                                          "(serve init, or the admin), then add the tool again", claims)
    message_launch.set_launch_data_storage(SharedCacheStorage()).set_launch_data_lifetime(PICKER_SECONDS) \
        .save_launch_data()
    return _picker(request, message_launch.get_launch_id(), claims, assignments)


def _accepts_several(claims: dict) -> bool:
    """The platform takes several content items in one response unless its settings say it does not."""
    value = (claims.get(DL_CLAIM) or {}).get("accept_multiple", True)
    return value not in (False, "false")


def _picker(request, launch_id: str, claims: dict, assignments, error: str = "", status: int = 200):
    page = render(request, "lti/deep_link_pick.html", {
        "launch_id": launch_id, "several": _accepts_several(claims), "error": error,
        "assignments": [{"slug": a.slug, "title": a.title, "total": a.total()} for a in assignments],
        "course": (claims.get(LTI_CLAIM + "context") or {}).get("title", "")}, status=status)
    return _framable(page, request)


@csrf_exempt  # the launch id in the form is the secret only this page has; no cookie comes back in an iframe
@xframe_options_exempt
@require_POST
def deep_link_view(request):
    """The picker's choice: the deep-linking response (signed by pylti1p3 for the launch kept at
    the deep-linking request) with one resource link per chosen assignment. Only the launch id
    and the chosen slugs come from the browser."""
    launch_id = request.POST.get("launch", "")
    try:
        if not launch_id.startswith("lti1p3-launch-"):
            raise LtiException("Launch data not found")
        message_launch = ToolMessageLaunch.from_cache(launch_id, request, StrictToolConfig(),
                                                      launch_data_storage=SharedCacheStorage())
        claims = message_launch.get_launch_data()
    except LtiException as exc:
        return _refuse(request, "deep link", "this deep-linking request is unknown or has expired (it waits "
                                             f"{PICKER_SECONDS // 60} minutes): add the tool again from the "
                                             f"course ({exc})", status=400)
    if claims.get(LTI_CLAIM + "message_type") != "LtiDeepLinkingRequest":
        return _refuse(request, "deep link", "the kept launch is not a deep-linking request", claims, status=400)
    assignments = list(Assignment.objects.order_by("id"))
    slugs = list(dict.fromkeys(request.POST.getlist("assignment")))
    if not slugs:
        return _picker(request, launch_id, claims, assignments, "choose at least one assignment", status=400)
    known = {a.slug: a for a in assignments}
    unknown = [slug for slug in slugs if slug not in known]
    if unknown:
        return _refuse(request, "deep link", f"no assignment {', '.join(map(repr, unknown))}; this course has: "
                                             f"{', '.join(known) or 'none'}", claims, status=400)
    if len(slugs) > 1 and not _accepts_several(claims):
        return _picker(request, launch_id, claims, assignments,
                       "the platform takes one assignment per link: choose one", status=400)
    resources = [_resource_link(request, known[slug]) for slug in slugs]
    jwt_value = message_launch.get_deep_link().get_response_jwt(resources)
    return_url = claims[DL_CLAIM]["deep_link_return_url"]
    parts = urlsplit(return_url)
    nonce = secrets.token_urlsafe(16)
    response = render(request, "lti/deep_link.html", {"return_url": return_url, "jwt": jwt_value, "nonce": nonce,
                                                       "titles": [known[slug].title for slug in slugs]})
    return _framable(response, request, form_action=f"'self' {parts.scheme}://{parts.netloc}", script_nonce=nonce)


def _resource_link(request, assignment: Assignment) -> DeepLinkResource:
    """A resource link that opens ``assignment`` (its custom parameter) with its line item (its slug
    as resourceId, its points as scoreMaximum)."""
    from autograder.service.lti.outbox import TAG

    return (DeepLinkResource().set_url(request.build_absolute_uri(reverse("lti-launch")))
            .set_title(assignment.title).set_custom_params({ASSIGNMENT_PARAM: assignment.slug})
            .set_lineitem(LineItem().set_score_maximum(assignment.total()).set_label(assignment.title)
                          .set_resource_id(assignment.slug).set_tag(TAG)))


@xframe_options_exempt
@require_GET
def register_view(request, secret: str):
    """Dynamic registration, opened by the LMS with ``openid_configuration`` and ``registration_token``
    on a one-time URL from ``serve lti registration-url``; the page then asks the LMS to close it."""
    from autograder.service.lti import dynamic

    config_url = request.GET.get("openid_configuration", "")
    framer = _origin(config_url)
    try:
        invite = dynamic.open_invite(secret)
        if not config_url:
            raise dynamic.RegistrationRefused("open this URL from the LMS's tool registration page: it came "
                                              "without the LMS's openid_configuration")
        registration, deployments = dynamic.register(config_url, request.GET.get("registration_token", ""))
    except dynamic.RegistrationRefused as exc:
        record_refusal("register", str(exc), request, issuer=exc.issuer or framer or "")
        page = render(request, "lti/refused.html", {"reason": str(exc), "step": "register"}, status=403)
        return _framable(page, request, also_framed_by=[framer])
    invite.used, invite.registration = timezone.now(), registration
    invite.save(update_fields=["used", "registration"])
    log.info("LTI platform %s registered itself (client %s, deployments %s)", registration.issuer,
             registration.client_id, ", ".join(deployments) or "none")
    nonce = secrets.token_urlsafe(16)
    page = render(request, "lti/registered.html", {"registration": registration, "deployments": deployments,
                                                   "nonce": nonce})
    return _framable(page, request, script_nonce=nonce, also_framed_by=[framer])


@require_GET
def jwks_view(request):
    ensure_key()
    return JsonResponse(Key.objects.as_jwks())


@require_GET
def config_view(request):
    return JsonResponse(canvas_config())


@staff_page
def staff_view(request):
    posts = ScorePost.objects.select_related("student").exclude(status=ScorePost.Status.SENT) \
        .exclude(status=ScorePost.Status.SUPERSEDED).order_by("-id")[:200]
    return render(request, "lti/staff.html", {
        "posts": posts, "sent": ScorePost.objects.filter(status=ScorePost.Status.SENT).count(),
        "refusals": LaunchRefusal.objects.order_by("-created")[:50],
        "registrations": LtiRegistration.objects.prefetch_related("deployments").order_by("id")})
