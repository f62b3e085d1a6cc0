"""A mock LTI 1.3 platform for the tests, on 127.0.0.1 in a thread.

It has its own RSA key and signs id_tokens (PyJWT), serves its JWKS, an OAuth2 token endpoint that
checks the tool's client assertion against the tool's JWKS, AGS line items and scores, and NRPS
memberships. ``fail(kind, [500, (429, seconds), "timeout"])`` makes the next requests of a kind
(``token``, ``lineitems``, ``scores``, ``memberships``) fail in that order. ``chaos``, where a test
sets it, is asked ``chaos(kind, method)`` for every request the schedule leaves alone and answers a
failure of the same form or None (a platform failing at random, or down). ``clock`` stamps each
request's ``time`` (``time.time`` unless a benchmark runs on a simulated clock); a 429's record
keeps its ``retry_after``.

For dynamic registration it serves ``/.well-known/openid-configuration`` (its issuer is
``config_issuer`` where a test sets one) and ``/register``; both want ``registration_token`` as a
Bearer token, and ``/register`` answers with ``client_id`` and ``deployment_id`` (``registered``
keeps what the tool sent).

For a browser, ``/course?user=HINT&tool=URL`` is a course page that frames the tool's login
initiation, and ``/auth`` answers the OIDC authorization request with a form that posts the signed
id_token of ``users[HINT]`` (its ``claims`` keywords) to the tool's redirect URI. With
``&storage=NAME`` the login carries ``lti_storage_target=NAME`` and the course page holds the
platform's storage for the tool (LTI client-side postMessages: ``lti.put_data``/``lti.get_data``,
kept per origin), in a frame of that name as Canvas does, or in the page itself for ``_parent``.
``browser_host`` names the platform for the browser (the authorization endpoint and course pages),
so that it is another site than a tool on 127.0.0.1; the tool still reaches it on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES = {"Learner": "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
         "Instructor": "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
         "TeachingAssistant": "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"}


STORAGE_JS = """<script>
var kept = {};
window.addEventListener("message", function (event) {
  var data = event.data || {}, key = event.origin + " " + data.key, answer;
  if (data.subject === "lti.put_data") {
    kept[key] = data.value;
    answer = {subject: "lti.put_data.response", message_id: data.message_id, key: data.key, value: data.value};
  } else if (data.subject === "lti.get_data") {
    answer = {subject: "lti.get_data.response", message_id: data.message_id, key: data.key};
    if (key in kept) { answer.value = kept[key]; } else { answer.error = {code: "bad_request", message: "no such key"}; }
  } else { return; }
  event.source.postMessage(answer, event.origin);
});
</script>"""


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class MockPlatform:
    def __init__(self, *, client_id: str = "tool-client-1", deployment_id: str = "deploy-1", timeout: float = 1.0,
                 browser_host: str | None = None):
        self.key, self.kid = rsa_key(), f"platform-{uuid.uuid4().hex[:8]}"
        self.client_id, self.deployment_id = client_id, deployment_id
        self.timeout = timeout  # how long a scheduled "timeout" stalls
        self.tool_jwks = lambda: {"keys": []}  # the test points it at the tool's published keys
        self.failures: dict[str, list] = {}
        self.chaos = None  # chaos(kind, method) -> a failure or None, for requests the schedule leaves alone
        self.clock = time.time  # what stamps a request's "time"
        self.requests: list[dict] = []
        self.line_items: dict[str, dict] = {}
        self.scores: list[dict] = []
        self.members: list[dict] = []
        self.tokens: set[str] = set()
        self.users: dict[str, dict] = {}  # login_hint -> keywords of claims(), for the browser flow
        self.registration_token = f"reg-{uuid.uuid4().hex}"
        self.config_issuer: str | None = None  # an issuer other than its own, to test the check
        self.registered: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        port = self.server.server_address[1]
        self.browser_url = f"http://{browser_host}:{port}" if browser_host else self.url
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ registration values
    @property
    def registration(self) -> dict:
        return {"issuer": self.issuer, "client_id": self.client_id, "deployment_ids": [self.deployment_id],
                "auth_url": f"{self.browser_url}/auth", "token_url": f"{self.url}/token", "jwks_url": f"{self.url}/jwks"}

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def openid_configuration(self) -> dict:
        return {"issuer": self.config_issuer or self.issuer, "authorization_endpoint": f"{self.url}/auth",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "registration_endpoint": f"{self.url}/register",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"], "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "mock", "version": "1.0",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}]}}

    def fail(self, kind: str, schedule: list) -> None:
        with self.lock:
            self.failures.setdefault(kind, []).extend(schedule)

    # ------------------------------------------------------------ id_tokens
    def claims(self, nonce: str, *, roles=("Learner",), sub: str = "user-1", name: str = "Ada Lovelace",
               email: str = "ada@example.org", message_type: str = "LtiResourceLinkRequest", context: str = "course-1",
               lineitem: str | None = None, **extra) -> dict:
        now = int(time.time())
        body = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce,
            "name": name, "email": email, "given_name": name.split()[0], "family_name": name.split()[-1],
            LTI + "message_type": message_type, LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "http://testserver/lti/launch",
            LTI + "roles": [ROLES.get(r, r) for r in roles],
            LTI + "context": {"id": context, "label": "ML101", "title": "Machine learning",
                              "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": f"{self.url}/{context}/lineitems", **({"lineitem": lineitem} if lineitem else {})},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/{context}/memberships", "service_versions": ["2.0"]},
        }
        if message_type == "LtiResourceLinkRequest":
            body[LTI + "resource_link"] = {"id": "link-1", "title": "Chapter 3"}
        else:
            body["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep_link_return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "data": "opaque-dl-data"}
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def sign(self, claims: dict, *, key=None, kid: str | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    # ------------------------------------------------------------ HTTP
    def _next_failure(self, kind: str):
        with self.lock:
            schedule = self.failures.get(kind) or []
            return schedule.pop(0) if schedule else None

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=None, headers=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _html(self, status: int, text: str):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _browser(self, parts) -> bool:
                """The course page and the authorization endpoint (HTML for a browser)."""
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/course":
                    storage = query.get("storage")
                    login = (f"{query['tool']}lti/login?" + urlencode({
                        "iss": platform.issuer, "login_hint": query["user"], "client_id": platform.client_id,
                        "target_link_uri": f"{query['tool']}lti/launch", "lti_deployment_id": platform.deployment_id,
                        **({"lti_storage_target": storage} if storage else {})}))
                    keeper = ("" if not storage else STORAGE_JS if storage == "_parent" else
                              f'<iframe name="{escape(storage)}" src="/storage" hidden></iframe>')
                    self._html(200, f'<!doctype html><h1>Course</h1>{keeper}<iframe name="tool" id="tool" '
                                    f'src="{escape(login)}" style="width:900px;height:600px"></iframe>')
                    return True
                if parts.path == "/storage":
                    self._html(200, f"<!doctype html><title>storage</title>{STORAGE_JS}")
                    return True
                if parts.path == "/auth":
                    assert query["response_type"] == "id_token" and query["client_id"] == platform.client_id
                    token = platform.sign(platform.claims(query["nonce"], **platform.users[query["login_hint"]]))
                    self._html(200, f'<!doctype html><form id="f" method="post" action="{escape(query["redirect_uri"])}">'
                                    f'<input type="hidden" name="id_token" value="{token}">'
                                    f'<input type="hidden" name="state" value="{escape(query["state"])}"></form>'
                                    '<script>document.getElementById("f").submit()</script>')
                    return True
                return False

            def _kind(self, path: str) -> str:
                if path == "/token":
                    return "token"
                if path.endswith("/scores"):
                    return "scores"
                if path.endswith("/memberships"):
                    return "memberships"
                if "/lineitems" in path:
                    return "lineitems"
                return path.strip("/")

            def _handle(self, method: str):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                kind = self._kind(parts.path)
                record = {"method": method, "path": parts.path, "query": parts.query, "kind": kind,
                          "time": platform.clock(), "body": body, "status": None}
                with platform.lock:
                    platform.requests.append(record)
                failure = platform._next_failure(kind)
                if failure is None and platform.chaos is not None:
                    failure = platform.chaos(kind, method)
                if failure == "timeout":
                    record["status"] = "timeout"
                    time.sleep(platform.timeout)
                    try:  # the tool has given up by now
                        return self._send(503, {"error": "too late"})
                    except OSError:
                        return None
                if isinstance(failure, tuple):
                    record["status"], record["retry_after"] = failure
                    return self._send(failure[0], {"error": "slow down"}, {"Retry-After": str(failure[1])})
                if isinstance(failure, int):
                    record["status"] = failure
                    return self._send(failure, {"error": "scheduled failure"})
                status, answer, headers = self._answer(method, parts, kind, body)
                record["status"] = status
                self._send(status, answer, headers)

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                return header.startswith("Bearer ") and header[7:] in platform.tokens

            def _registration_token(self) -> bool:
                return self.headers.get("Authorization", "") == f"Bearer {platform.registration_token}"

            def _answer(self, method, parts, kind, body):
                if parts.path == "/.well-known/openid-configuration" and method == "GET":
                    if not self._registration_token():
                        return 401, {"error": "no or wrong registration token"}, None
                    return 200, platform.openid_configuration(), None
                if kind == "register" and method == "POST":
                    if not self._registration_token():
                        return 401, {"error": "no or wrong registration token"}, None
                    sent = json.loads(body)
                    platform.registered.append(sent)
                    tool = "https://purl.imsglobal.org/spec/lti-tool-configuration"
                    return 200, {**sent, "client_id": platform.client_id,
                                 tool: {**sent.get(tool, {}), "deployment_id": platform.deployment_id}}, None
                if kind == "jwks" and method == "GET":
                    return 200, {"keys": [public_jwk(platform.key, platform.kid)]}, None
                if kind == "token" and method == "POST":
                    form = {k: v[0] for k, v in parse_qs(body).items()}
                    try:  # the tool's assertion, signed with a key of its JWKS
                        header = jwt.get_unverified_header(form["client_assertion"])
                        keys = {k["kid"]: k for k in platform.tool_jwks()["keys"]}
                        public = RSAAlgorithm.from_jwk(json.dumps(keys[header["kid"]]))
                        claims = jwt.decode(form["client_assertion"], public, algorithms=["RS256"],
                                            audience=f"{platform.url}/token")
                        assert claims["iss"] == claims["sub"] == platform.client_id
                        assert form["grant_type"] == "client_credentials"
                    except Exception as exc:
                        return 400, {"error": "invalid_client", "error_description": str(exc)}, None
                    token = uuid.uuid4().hex
                    platform.tokens.add(token)
                    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                 "scope": form.get("scope", "")}, None
                if not self._authorised():
                    return 401, {"error": "no or wrong access token"}, None
                if kind == "lineitems" and method == "GET":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    found = [item for item in platform.line_items.values()
                             if all(item.get(field) == query[name] for name, field in
                                    (("resource_id", "resourceId"), ("tag", "tag")) if name in query)]
                    return 200, found, None
                if kind == "lineitems" and method == "POST":
                    item = json.loads(body)
                    item["id"] = f"{platform.url}{parts.path}/{len(platform.line_items) + 1}"
                    platform.line_items[item["id"]] = item
                    return 201, item, None
                if kind == "scores" and method == "POST":
                    score = json.loads(body)
                    score["lineitem"] = f"{platform.url}{parts.path[:-len('/scores')]}"
                    platform.scores.append(score)
                    return 200, None, None
                if kind == "memberships" and method == "GET":
                    return 200, {"id": f"{platform.url}{parts.path}", "context": {"id": "course-1"},
                                 "members": platform.members}, None
                return 404, {"error": "not found"}, None

            def do_GET(self):
                if not self._browser(urlsplit(self.path)):
                    self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return Handler
