"""Diagnosis tools: analyse an incident, its root cause in six answers, and the report.

``analyze_incident`` always runs the workflow's ``diagnose`` (and stores the result, as the CLI
and the webhook worker do). ``get_root_cause`` and ``get_report`` reuse the stored diagnosis of
the incident when there is one, so asking twice does not re-run gcc over the repository.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from ...models import Diagnosis
from ...workflow import diagnose, write_report
from ...workflow.report import diagnosis_markdown, line_span
from .guards import add_tool, check_incident_id
from .results import Report, RootCause
from .state import ServerState

__all__ = ["register", "stored_or_new_diagnosis"]


def stored_or_new_diagnosis(state: ServerState, incident_id: str) -> Diagnosis:
    """The stored diagnosis of the incident, or a new one (which is then stored)."""
    ctx = state.context
    return ctx.store.diagnosis(incident_id) or diagnose(ctx, incident_id)


def root_cause(diagnosis: Diagnosis) -> RootCause:
    """The top finding as the brief's six answers: file, function, line, issue, impact,
    confidence (``found`` false, with the diagnosis's notes, when no leak was found)."""
    cause = RootCause(
        incident_id=diagnosis.incident.id,
        found=bool(diagnosis.findings),
        diagnosed_at=diagnosis.created_at,
        notes=list(diagnosis.notes),
    )
    if not diagnosis.findings:
        return cause
    top = diagnosis.findings[0]
    introduced = top.introduced_by
    return cause.model_copy(
        update={
            "file": top.file,
            "function": f"{top.function}()",
            "line": line_span(top),
            "issue": top.issue,
            "impact": diagnosis.impact,
            "confidence": top.confidence,
            "reasons": list(top.reasons),
            "introduced_by": (
                f"{introduced.sha[:12]} {introduced.subject} ({introduced.author})"
                if introduced
                else None
            ),
        }
    )


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``analyze_incident``, ``get_root_cause`` and ``get_report``."""

    def analyze_incident(incident_id: str) -> Diagnosis:
        """Diagnose an incident now: ranked leak findings with evidence, the commits in the
        window before it, impact (predicted vs observed time to OOM), confidence with reasons,
        and who is on call. Stored for get_root_cause, get_report and the remediation tools."""
        return diagnose(state.context, check_incident_id(incident_id))

    def get_root_cause(incident_id: str) -> RootCause:
        """The root cause of an incident: file, function, line, issue, impact and confidence
        (with the reasons and the commit that introduced it). Diagnoses first if needed."""
        return root_cause(stored_or_new_diagnosis(state, check_incident_id(incident_id)))

    def get_report(incident_id: str, write_files: bool = True) -> Report:
        """The diagnosis report as Markdown; with write_files, also the self-contained HTML
        page (memory chart, diff) and the Markdown file, written under ADS's state directory."""
        diagnosis = stored_or_new_diagnosis(state, check_incident_id(incident_id))
        report = Report(incident_id=diagnosis.incident.id, markdown=diagnosis_markdown(diagnosis))
        if write_files:
            html_path, md_path = write_report(state.context, diagnosis)
            report.html_path, report.markdown_path = str(html_path), str(md_path)
        return report

    # Offered without --enable-write-tools (they change nothing outside ADS), but not read-only:
    # they store the diagnosis in ADS's database, and get_report writes the report files.
    add_tool(server, state, analyze_incident, title="Analyze incident", read_only=False)
    add_tool(server, state, get_root_cause, title="Get root cause", read_only=False)
    add_tool(server, state, get_report, title="Get report", read_only=False)
