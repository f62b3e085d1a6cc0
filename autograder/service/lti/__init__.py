"""The service as an LTI 1.3 tool, on django-lti (``lti_tool``) and pylti1p3.

    /lti/login       OIDC third-party login initiation (GET or POST): redirects to the platform (with
                     ``lti_storage_target``, a page that first keeps the state in the platform's storage)
    /lti/launch      the id_token (checked by pylti1p3: state, signature against the platform's JWKS,
                     exp, nonce, registration, deployment, message) lands a Learner on their token
                     page, an Instructor or Teaching Assistant on the class page, a deep-linking
                     request on a signed LtiDeepLinkingResponse
    /lti/jwks.json   the tool's public keys;  /lti/config.json  Canvas's developer-key JSON
    /lti/register/<one-time secret>   dynamic registration (:mod:`.dynamic`), opened by the LMS
    /lti/staff/      refused launches and the score outbox (staff)

Scores go to the platform through an outbox table (:mod:`.outbox`); memberships come from NRPS
(:mod:`.nrps`). ``python -m autograder serve lti ...`` registers platforms and rotates keys.
"""

import importlib.util


def available() -> bool:
    """django-lti (the serve extra) is installed."""
    return importlib.util.find_spec("lti_tool") is not None
