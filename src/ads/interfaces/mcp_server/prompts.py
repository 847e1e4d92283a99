"""The ``investigate_incident`` prompt: the SRE's investigation as a sequence of ADS tool calls.

A client shows prompts as ready-made requests ("/investigate_incident Q1ABC"). This one walks
the brief's flow — incident, on-call, changes, root cause, fix — and asks the assistant to
present the six-line analysis and to propose, not perform, anything that writes.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from .guards import check_incident_id
from .state import ServerState

__all__ = ["investigation_text", "register"]


def investigation_text(incident_id: str, *, write_tools: bool) -> str:
    """The prompt's text for one incident."""
    steps = [
        f"Investigate PagerDuty incident {incident_id} with the ADS tools:",
        f"1. get_incident {incident_id}: what fired, the alerts' custom_details (memory limit, "
        "exit code 137, seconds to kill) and the timeline.",
        f"2. get_oncall with incident_id {incident_id}: who is on call at each escalation level.",
        "3. list_recent_changes for the incident's service: commits and manifest changes "
        "(memory limits) in the days before it.",
        f"4. analyze_incident {incident_id}, then get_root_cause {incident_id}.",
        f"5. suggest_remediation {incident_id}: the fix diff, the rollback and the mitigation.",
        "",
        "Answer with the analysis block first:",
        "- File, Function, Line, Issue, Impact, Confidence (with its reasons),",
        "then the commit that introduced the problem, the proposed fix as a diff, who is on "
        "call, and the rollback and mitigation options.",
    ]
    if write_tools:
        steps += [
            "",
            "Write tools are enabled (verify_fix, create_remediation_pr, add_incident_note, "
            "acknowledge_incident, escalate_incident, resolve_incident). Do not call them "
            "before the user has confirmed; propose them with what they will do.",
        ]
    else:
        steps += [
            "",
            "This server is read-only: to verify the fix and open the PR, the user runs "
            f"`ads remediate {incident_id}` or restarts `ads mcp --enable-write-tools`.",
        ]
    return "\n".join(steps)


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the ``investigate_incident`` prompt."""

    def investigate_incident(incident_id: str) -> str:
        """Investigate an OOMKilled incident end to end: incident, on-call, recent changes,
        root cause (file, function, line), fix, rollback and mitigation."""
        try:
            checked = check_incident_id(incident_id)
        except ToolError as exc:  # the SDK would say only "Error rendering prompt"
            raise MCPError(INVALID_PARAMS, str(exc)) from None
        return investigation_text(checked, write_tools=state.write_tools)

    server.prompt(title="Investigate incident")(investigate_incident)
