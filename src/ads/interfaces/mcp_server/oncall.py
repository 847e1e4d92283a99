"""On-call tool: who is on call for a service (or an incident's service), by escalation level.

GitHub handles come from ads.yaml's ``github_handles`` (by email) when set, else from what
PagerDuty knows of the user, the same rule the diagnosis uses to tag the PR's reviewer.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ...config import ServiceConfig
from ...errors import UnknownServiceError
from ...models import OnCall
from .guards import add_tool, check_incident_id, service_config
from .results import OnCallLevels
from .state import ServerState

__all__ = ["register"]


def _with_handles(oncalls: list[OnCall], config: ServiceConfig | None) -> list[OnCall]:
    handles = config.github_handles if config else {}
    return sorted(
        (o.model_copy(update={"github": handles.get(o.email or "", o.github)}) for o in oncalls),
        key=lambda o: o.level,
    )


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``get_oncall``."""

    def get_oncall(service: str | None = None, incident_id: str | None = None) -> OnCallLevels:
        """Who is on call now for a service (ads.yaml name) or for an incident's service.

        Give one of service or incident_id. Levels are the escalation policy's: level 1 is
        paged first, level 2 when level 1 does not acknowledge in time.
        """
        settings = state.settings
        incident_id = check_incident_id(incident_id) if incident_id else None
        if not service and not incident_id:
            if len(settings.services) != 1:
                known = ", ".join(sorted(settings.services))
                raise ToolError(f"give service (one of: {known}) or incident_id")
            service = next(iter(settings.services))
        pagerduty = state.context.pagerduty
        config: ServiceConfig | None = None
        if incident_id:
            incident = pagerduty.get_incident(incident_id)
            if not incident.service_id:
                raise ToolError(f"incident {incident_id} has no service in PagerDuty")
            service_id, name = incident.service_id, incident.service_name or incident.service_id
            try:
                config = settings.service_for_pagerduty(name)
            except UnknownServiceError:  # a service ADS does not manage: no handle mapping
                config = None
        else:
            config = service_config(state, service or "")
            service_id = str(pagerduty.find_service(config.pagerduty_name)["id"])
            name = config.name
        levels = _with_handles(pagerduty.oncalls_for_service(service_id), config)
        return OnCallLevels(
            service=config.name if config else name,
            pagerduty_service_id=service_id,
            incident_id=incident_id,
            levels=levels,
        )

    add_tool(server, state, get_oncall, title="Get on-call", read_only=True)
