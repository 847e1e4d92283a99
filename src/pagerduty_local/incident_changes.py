"""What ``PUT /incidents/{id}`` and bulk ``PUT /incidents`` may change, checked and applied.

One incident's change (``status``, ``urgency``, ``title``, ``priority``, ``escalation_level``,
``escalation_policy``, ``assignments``, ``resolution``) is validated whole before anything is
applied, so a bad field changes nothing; each is then applied in PagerDuty's order (escalation
and reassignment before the status, so an incident reassigned and acknowledged in one request
ends acknowledged by its new assignee).
"""

from __future__ import annotations

from typing import Any

from .account import reference
from .http import ApiError, Server
from .incidents import Rejected

__all__ = [
    "FIELDS",
    "apply_change",
    "apply_checked",
    "check_change",
    "priority_ref",
    "user_refs",
]

Doc = dict[str, Any]
FIELDS = (
    "status",
    "urgency",
    "title",
    "priority",
    "escalation_level",
    "escalation_policy",
    "assignments",
    "resolution",
)
_IGNORED = {"id", "type", "summary", "self", "html_url", "incident_type", "conference_bridge"}


def user_refs(server: Server, assignments: Any, what: str = "assignments") -> list[Doc]:
    """``[{"assignee": {"id": …}}]`` as user references; 400 naming the first unknown user."""
    if not isinstance(assignments, list) or not assignments:
        raise ApiError.invalid(f"{what} must be a non-empty list")
    users: list[Doc] = []
    for assignment in assignments:
        assignee = assignment.get("assignee") if isinstance(assignment, dict) else None
        user_id = assignee.get("id") if isinstance(assignee, dict) else None
        user = server.account.store.get_object("user", str(user_id))
        if user is None:
            raise ApiError.invalid(f"Assignee {user_id!r} is not a user")
        users.append(reference("user", user["id"], user["summary"]))
    return users


def priority_ref(server: Server, value: Any) -> Doc | None:
    """A priority given as ``{"id": …}`` or by name (``"P1"``) as a priority reference."""
    if value is None:
        return None
    wanted = value.get("id") if isinstance(value, dict) else value
    for priority in server.account.priorities():
        if wanted in (priority["id"], priority["name"]):
            return {k: priority[k] for k in ("id", "summary", "self", "html_url")} | {
                "type": "priority_reference"
            }
    raise ApiError.invalid(f"Priority {wanted!r} not found")


def _checked(server: Server, change: Doc) -> Doc:
    unknown = sorted(set(change) - set(FIELDS) - _IGNORED)
    if unknown:
        raise ApiError.invalid(f"Unknown incident field(s): {', '.join(unknown)}")
    checked: Doc = {}
    status = change.get("status")
    if status is not None:
        if status not in ("acknowledged", "resolved", "triggered"):
            raise ApiError.invalid("status must be acknowledged, resolved or triggered")
        checked["status"] = status
    urgency = change.get("urgency")
    if urgency is not None:
        if urgency not in ("high", "low"):
            raise ApiError.invalid("urgency must be high or low")
        checked["urgency"] = urgency
    title = change.get("title")
    if title is not None:
        if not isinstance(title, str) or not title.strip():
            raise ApiError.invalid("title can't be blank")
        checked["title"] = title[:1024]
    if "priority" in change:
        checked["priority"] = priority_ref(server, change["priority"])
    level = change.get("escalation_level")
    if level is not None:
        if not isinstance(level, int) or isinstance(level, bool):
            raise ApiError.invalid("escalation_level must be an integer")
        checked["escalation_level"] = level
    policy = change.get("escalation_policy")
    if policy is not None:
        policy_id = policy.get("id") if isinstance(policy, dict) else None
        found = server.account.store.get_object("escalation_policy", str(policy_id))
        if found is None:
            raise ApiError.invalid(f"Escalation policy {policy_id!r} not found")
        checked["escalation_policy"] = reference("escalation_policy", found["id"], found["name"])
    if change.get("assignments") is not None:
        checked["assignments"] = user_refs(server, change["assignments"])
    resolution = change.get("resolution")
    if resolution is not None:
        if not isinstance(resolution, str):
            raise ApiError.invalid("resolution must be a string")
        checked["resolution"] = resolution[:25000]
    if not checked:
        raise ApiError.invalid("Nothing to update: give one of " + ", ".join(FIELDS))
    return checked


def check_change(server: Server, change: Any) -> Doc:
    """``change`` validated whole (400 naming the first bad field), ready for ``apply_checked``."""
    if not isinstance(change, dict):
        raise ApiError.invalid("incident is required")
    return _checked(server, change)


def apply_change(server: Server, incident_id: str, change: Any, agent: Doc) -> Doc:
    """Validate ``change`` whole, then apply it; the incident as it is afterwards."""
    return apply_checked(server, incident_id, check_change(server, change), agent)


def apply_checked(server: Server, incident_id: str, checked: Doc, agent: Doc) -> Doc:
    """Apply a change ``check_change`` accepted."""
    book = server.book
    fields: Doc = {
        k: checked[k]
        for k in ("title", "urgency", "priority", "escalation_policy", "resolution")
        if k in checked
    }
    found = server.account.store.get_incident(incident_id)
    if found is None:
        raise ApiError.not_found()
    incident = found[0]
    try:
        if fields:
            incident = book.set_fields(incident_id, fields, agent)
        if "escalation_level" in checked:
            incident = book.escalate(incident_id, checked["escalation_level"], agent)
        if "assignments" in checked:
            incident = book.reassign(incident_id, checked["assignments"], agent)
        status = checked.get("status")
        if status == "acknowledged":
            incident = book.acknowledge(incident_id, agent)
        elif status == "resolved":
            incident = book.resolve(incident_id, agent)
        elif status == "triggered" and incident["status"] != "triggered":
            raise Rejected("An incident cannot be moved back to triggered through the REST API")
    except Rejected as exc:
        raise ApiError.invalid(str(exc)) from None
    return incident
