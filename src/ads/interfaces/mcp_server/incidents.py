"""Incident tools: list and read incidents; with write tools, note, acknowledge, escalate, resolve.

Everything goes through the workflow context's PagerDuty facade, so the same calls work on a
real account and on the local PagerDuty-compatible server. Service names are ads.yaml's, which
is how an SRE names them; the facade finds the PagerDuty service behind each.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ...models import Incident
from .guards import add_tool, check_incident_id, echo, parse_time, service_config
from .results import IncidentList, IncidentStatus, IncidentSummary, NoteAdded
from .state import ServerState

__all__ = ["register"]

STATUSES = ("triggered", "acknowledged", "resolved")
MAX_NOTE_CHARS = 25_000  # PagerDuty's limit on a note's content
MAX_LISTED = 200  # incidents in one answer: more would crowd out the conversation


def _statuses(status: str | None) -> list[str] | None:
    if status is None or not status.strip():
        return None
    wanted = [s.strip().lower() for s in status.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise ToolError(
            f"unknown status {echo(', '.join(unknown))}; use {', '.join(STATUSES)} "
            "(comma-separated)"
        )
    return wanted


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the incident tools (the write ones only when the server allows writes)."""

    def list_incidents(
        status: str | None = None,
        service: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LISTED)] = 25,
    ) -> IncidentList:
        """List PagerDuty incidents, newest first (at most `limit`; `count` is how many matched).

        status: triggered, acknowledged or resolved (comma-separated for several; default all).
        service: a service name from ads.yaml. since/until: ISO 8601 times bounding creation.
        """
        statuses = _statuses(status)
        start, end = parse_time(since, "since"), parse_time(until, "until")
        if start and end and start > end:
            raise ToolError(f"since ({since}) is after until ({until})")
        pagerduty = state.context.pagerduty
        service_ids: list[str] | None = None
        filters: dict[str, str] = {}
        if service:
            config = service_config(state, service)
            service_ids = [str(pagerduty.find_service(config.pagerduty_name)["id"])]
            filters["service"] = config.name
        incidents = pagerduty.list_incidents(
            statuses=statuses, service_ids=service_ids, since=start, until=end
        )
        if statuses:
            filters["status"] = ",".join(statuses)
        filters.update({k: v for k, v in (("since", since), ("until", until)) if v})
        summaries = sorted(
            (IncidentSummary.of(i) for i in incidents), key=lambda s: s.created_at, reverse=True
        )
        return IncidentList(count=len(summaries), filters=filters, incidents=summaries[:limit])

    def get_incident(incident_id: str) -> Incident:
        """One incident with its alerts (with their custom_details) and its timeline."""
        incident_id = check_incident_id(incident_id)
        return state.context.pagerduty.get_incident(incident_id)

    add_tool(server, state, list_incidents, title="List incidents", read_only=True)
    add_tool(server, state, get_incident, title="Get incident", read_only=True)
    if not state.write_tools:
        return

    def add_incident_note(
        incident_id: str,
        content: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)],
    ) -> NoteAdded:
        """Add a note to an incident's timeline (visible to everyone on the incident)."""
        incident_id = check_incident_id(incident_id)
        if not content.strip():
            raise ToolError("the note is empty; give the text to add")
        note = state.context.pagerduty.add_note(incident_id, content)
        return NoteAdded(incident_id=incident_id, note_id=note.id, characters=len(content))

    def acknowledge_incident(incident_id: str) -> IncidentStatus:
        """Acknowledge an incident: stops its escalation; the responder is working on it."""
        incident_id = check_incident_id(incident_id)
        return _status(state.context.pagerduty.acknowledge(incident_id), "acknowledged")

    def escalate_incident(
        incident_id: str, level: Annotated[int, Field(ge=1, le=20)]
    ) -> IncidentStatus:
        """Escalate an incident to an escalation level (1 = first responders), paging it."""
        incident_id = check_incident_id(incident_id)
        incident = state.context.pagerduty.escalate(incident_id, level)
        return _status(incident, f"escalated to level {level}")

    def resolve_incident(incident_id: str) -> IncidentStatus:
        """Resolve an incident: the problem is fixed; PagerDuty stops paging for it."""
        incident_id = check_incident_id(incident_id)
        return _status(state.context.pagerduty.resolve(incident_id), "resolved")

    add_tool(
        server, state, add_incident_note, title="Add incident note", read_only=False,
        idempotent=False,
    )  # fmt: skip
    add_tool(server, state, acknowledge_incident, title="Acknowledge incident", read_only=False)
    add_tool(
        server, state, escalate_incident, title="Escalate incident", read_only=False,
        destructive=True,
    )  # fmt: skip
    add_tool(
        server, state, resolve_incident, title="Resolve incident", read_only=False,
        destructive=True,
    )  # fmt: skip


def _status(incident: Incident, done: str) -> IncidentStatus:
    number = f"#{incident.number}" if incident.number is not None else incident.id
    return IncidentStatus(
        incident_id=incident.id,
        number=incident.number,
        status=incident.status,
        assignees=list(incident.assignees),
        message=f"incident {number} {done}; status is now {incident.status}",
    )
