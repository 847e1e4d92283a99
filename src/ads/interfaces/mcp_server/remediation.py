"""Remediation tools: suggest the fix; with write tools, verify it and open the pull request.

``suggest_remediation`` runs nothing and writes nothing (the workflow's
``suggest_remediation``). ``verify_fix`` re-runs the service under its memory limit before and
after that fix (the verification action, the same one ``remediate`` runs) and changes nothing
else; ``create_remediation_pr`` is the workflow's whole ``remediate``: the branch
``ads/incident-<number>-fix-memory-leak`` (never the default branch), the PR or PR file, and
the note on the incident. Both act on the machine or the world, so they exist only when the
server was started with ``--enable-write-tools``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from ...workflow import remediate, suggest_remediation, verify_incident
from .diagnosis import stored_or_new_diagnosis
from .guards import add_tool, check_incident_id
from .results import PullRequestResult, RemediationSuggestion, VerifyResult
from .state import ServerState

__all__ = ["register"]


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``suggest_remediation``, and the write tools when the server allows writes."""

    def suggest_remediation_tool(incident_id: str) -> RemediationSuggestion:
        """The fix for an incident's root cause as a unified diff, the rollback (the commit that
        introduced it, kubectl rollout undo) and a temporary mitigation (a higher memory limit,
        not recommended long-term). Nothing is applied."""
        diagnosis = stored_or_new_diagnosis(state, check_incident_id(incident_id))
        return RemediationSuggestion.of(suggest_remediation(state.context, diagnosis))

    add_tool(
        server, state, suggest_remediation_tool, name="suggest_remediation",
        title="Suggest remediation", read_only=True, open_world=False,
    )  # fmt: skip
    if not state.write_tools:
        return

    def verify_fix(incident_id: str) -> VerifyResult:
        """Verify the fix by reproduction: build and run the current code under the service's
        memory limit (it must be OOM-killed), then the patched code (memory must stay flat).
        Makes no branch, opens no PR and writes no note. Takes seconds to a minute."""
        diagnosis = stored_or_new_diagnosis(state, check_incident_id(incident_id))
        suggestion, result = verify_incident(state.context, diagnosis)
        return VerifyResult(
            incident_id=diagnosis.incident.id,
            outcome=result.outcome,
            detail=result.detail,
            fix_diff=suggestion.fix_diff,
            verification=result,
        )

    def create_remediation_pr(
        incident_id: str, verify: bool = True, write_note: bool = True
    ) -> PullRequestResult:
        """Diagnose, verify the fix (unless verify is false), commit it on the branch
        ads/incident-<number>-fix-memory-leak, open the pull request (GitHub) or write its text
        next to the branch, and add a note with the diagnosis and the PR to the incident.
        Running it again for the same incident updates the same branch, PR and note."""
        remediation = remediate(
            state.context, check_incident_id(incident_id), verify=verify, write_note=write_note
        )
        return PullRequestResult.of(remediation)

    add_tool(server, state, verify_fix, title="Verify fix", read_only=False, open_world=False)
    add_tool(
        server, state, create_remediation_pr, title="Create remediation PR", read_only=False,
    )  # fmt: skip
