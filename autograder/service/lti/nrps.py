"""Names and Role Provisioning: the course's members from the platform, Learners added as students."""

from __future__ import annotations

from lti_tool.models import LtiContext
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector

from autograder.service.lti.http import TimeoutSession
from autograder.service.lti.tool import role_names, student_for


def sync_context(context: LtiContext) -> dict[str, int]:
    """Pull the context's membership (every page) and add its Learners as students; counts."""
    registration = context.deployment.registration.to_registration()
    service = NamesRolesProvisioningService(ServiceConnector(registration, requests_session=TimeoutSession()),
                                            {"context_memberships_url": context.memberships_url})
    members = service.get_members()
    context.update_memberships(members)
    added = learners = 0
    users = {u.sub: u for u in context.deployment.registration.users.filter(sub__in=[m["user_id"] for m in members])}
    for member in members:
        if "Learner" not in role_names(member.get("roles", [])) or member.get("status", "Active") != "Active":
            continue
        learners += 1
        _student, created = student_for(users[member["user_id"]], name=member.get("name", ""),
                                        email=member.get("email", ""),
                                        sourcedid=member.get("lis_person_sourcedid"))
        added += created
    return {"members": len(members), "learners": learners, "added": added}


def sync_all() -> list[tuple[LtiContext, dict[str, int]]]:
    """Every context a launch told us an NRPS URL for."""
    return [(context, sync_context(context))
            for context in LtiContext.objects.exclude(memberships_url="").select_related("deployment__registration")]
