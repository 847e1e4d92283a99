"""What the MCP tools return: small pydantic models, so every answer is structured output.

An assistant reads these as JSON validated against each tool's output schema, so the shapes are
chosen for the questions an SRE asks ("who is on call at level 2?", "which line leaks?"), not for
ADS's internals. Where ADS's own models already answer the question (``Incident``, ``Diagnosis``,
``VerificationResult``) they are embedded as they are, so there is one schema per noun.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ...models import (
    Change,
    Confidence,
    Hypothesis,
    Incident,
    OnCall,
    Remediation,
    VerificationOutcome,
    VerificationResult,
)

__all__ = [
    "HypothesisList",
    "IncidentList",
    "IncidentStatus",
    "IncidentSummary",
    "NoteAdded",
    "OnCallLevels",
    "PullRequestResult",
    "RecentChanges",
    "RemediationSuggestion",
    "Report",
    "RootCause",
    "VerifyResult",
]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class IncidentSummary(_Result):
    """One line of an incident list: enough to pick the incident to look at."""

    id: str
    number: int | None = None
    title: str
    status: str
    urgency: str | None = None
    severity: str | None = None
    service: str | None = None
    created_at: datetime
    url: str | None = None

    @classmethod
    def of(cls, incident: Incident) -> IncidentSummary:
        return cls(
            id=incident.id,
            number=incident.number,
            title=incident.title,
            status=incident.status,
            urgency=incident.urgency,
            severity=incident.severity,
            service=incident.service_name,
            created_at=incident.created_at,
            url=incident.html_url,
        )


class IncidentList(_Result):
    """Incidents matching the filters, newest first; ``count`` matched, the first few listed."""

    count: int
    filters: dict[str, str] = Field(default_factory=dict)
    incidents: list[IncidentSummary] = Field(default_factory=list)


class IncidentStatus(_Result):
    """An incident after a write (acknowledge, escalate, resolve): its status and assignees."""

    incident_id: str
    number: int | None = None
    status: str
    assignees: list[str] = Field(default_factory=list)
    message: str


class NoteAdded(_Result):
    incident_id: str
    note_id: str
    characters: int


class OnCallLevels(_Result):
    """Who is on call for a service, by escalation level (level 1 is paged first)."""

    service: str
    pagerduty_service_id: str
    incident_id: str | None = None
    levels: list[OnCall] = Field(default_factory=list)


class RecentChanges(_Result):
    """Commits in a window that touch a service's code or manifests, with what mattered in each.

    ``before_incident_seconds`` in each change counts back from ``until`` (now).
    """

    service: str
    repository: str
    since: datetime
    until: datetime
    paths: list[str] = Field(default_factory=list)
    count: int
    changes: list[Change] = Field(default_factory=list)


class RootCause(_Result):
    """The brief's six answers for the top finding: file, function, line, issue, impact, confidence.

    ``found`` is false when the analysed code showed no leak; ``notes`` then say what was seen.
    """

    incident_id: str
    found: bool
    file: str | None = None
    function: str | None = None
    line: str | None = None
    issue: str | None = None
    impact: str | None = None
    confidence: Confidence | None = None
    reasons: list[str] = Field(default_factory=list)
    introduced_by: str | None = None
    diagnosed_at: datetime
    notes: list[str] = Field(default_factory=list)


class RemediationSuggestion(_Result):
    """The fix as a unified diff, the rollback and the (temporary) mitigation; nothing applied."""

    incident_id: str
    fix_summary: str
    fix_diff: str | None = None
    rollback: str | None = None
    mitigation: str | None = None

    @classmethod
    def of(cls, remediation: Remediation) -> RemediationSuggestion:
        return cls(
            incident_id=remediation.incident_id,
            fix_summary=remediation.fix_summary,
            fix_diff=remediation.fix_diff,
            rollback=remediation.rollback,
            mitigation=remediation.mitigation,
        )


class Report(_Result):
    """The diagnosis as Markdown, and where the HTML and Markdown files were written."""

    incident_id: str
    markdown: str
    html_path: str | None = None
    markdown_path: str | None = None


class VerifyResult(_Result):
    """What re-running the service under its memory limit showed, before and after the fix."""

    incident_id: str
    outcome: VerificationOutcome | None = None
    detail: str = ""
    fix_diff: str | None = None
    verification: VerificationResult | None = None


class PullRequestResult(_Result):
    """The fix branch (and PR or PR file), the verification outcome and the incident note."""

    incident_id: str
    branch: str | None = None
    pr_url: str | None = None
    pr_file: str | None = None
    pr_title: str | None = None
    pushed: bool = False
    verification: VerificationOutcome | None = None
    note_id: str | None = None
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, remediation: Remediation) -> PullRequestResult:
        verification = remediation.verification
        return cls(
            incident_id=remediation.incident_id,
            branch=remediation.branch,
            pr_url=remediation.pr_url,
            pr_file=remediation.pr_file,
            pr_title=remediation.pr_title,
            pushed=remediation.pushed,
            verification=verification.outcome if verification else None,
            note_id=remediation.note_id,
            notes=list(remediation.notes),
        )


class HypothesisList(_Result):
    """The differential diagnosis of one incident: the winning cause and every one weighed."""

    incident_id: str
    cause: Hypothesis | None = None
    hypotheses: list[Hypothesis] = Field(default_factory=list)
