"""The note ADS writes back on the PagerDuty incident: the diagnosis in a few lines.

PagerDuty shows notes as plain text in the incident's timeline, so this is short and flat:
the brief's analysis block, the verification result and where the fix is. It carries a marker
line so ADS can tell its own note apart and not post it twice for the same branch.
"""

from __future__ import annotations

from ..models import Diagnosis, Remediation
from .report import line_span

__all__ = [
    "ADS_MARKERS",
    "NOTE_MARKER",
    "UPDATE_MARKER",
    "incident_note",
    "is_ads_note",
    "note_headline",
    "update_note",
]

NOTE_MARKER = "[ADS diagnosis]"
UPDATE_MARKER = "[ADS update]"
ADS_MARKERS = (NOTE_MARKER, UPDATE_MARKER)


def note_headline(remediation: Remediation) -> str | None:
    """The line that says where the fix is: the PR, else the branch; ``None`` before either."""
    if remediation.pr_url:
        return f"Pull request: {remediation.pr_url}"
    if remediation.branch:
        return f"Branch: {remediation.branch}"
    return None


def update_note(remediation: Remediation) -> str:
    """The follow-up when the fix got further than the first note could say (e.g. pushed now)."""
    return f"{UPDATE_MARKER} {note_headline(remediation) or 'no fix branch'}"


def incident_note(
    diagnosis: Diagnosis, remediation: Remediation, *, unfinished: str | None = None
) -> str:
    """The note text: root cause, impact, confidence, verification and the PR or branch.

    ``unfinished`` (why ADS stopped short: the push failed, say) is added last, and a branch not
    pushed is said to be local, so the note is true whenever it is written.
    """
    lines = [NOTE_MARKER]
    cause = diagnosis.non_code_cause
    if cause is not None:
        where = f" ({cause.file}" + (f":{cause.line}" if cause.line else "") + ")"
        lines += [
            f"Root cause: {cause.summary}{where if cause.file else ''}",
            f"Impact: {cause.impact or 'unknown'}",
            f"Confidence: {cause.confidence.value} ({'; '.join(cause.reasons) or 'no reasons'})",
        ]
    elif diagnosis.findings:
        top = diagnosis.findings[0]
        lines += [
            f"Root cause: {top.file}:{line_span(top)} in {top.function}() — {top.issue}",
            f"Impact: {diagnosis.impact or 'unknown'}",
            f"Confidence: {top.confidence.value} ({'; '.join(top.reasons) or 'no reasons'})",
        ]
        if top.introduced_by is not None:
            change = top.introduced_by
            lines.append(f"Introduced by: {change.sha[:12]} {change.subject} ({change.author})")
    else:
        lines.append("Root cause: not found in the analysed code")
    if remediation.verification is not None:
        lines.append(
            f"Fix verification: {remediation.verification.outcome.value}"
            + (f" — {remediation.verification.detail}" if remediation.verification.detail else "")
        )
    lines.append(f"Fix: {remediation.fix_summary}")
    headline = note_headline(remediation)
    if headline and unfinished and remediation.branch and not remediation.pushed:
        headline += " (local: in the service's repository where ADS runs, not pushed)"
    if headline:
        lines.append(headline)
    if remediation.rollback:
        lines.append(f"Rollback: {remediation.rollback.splitlines()[0]}")
    if unfinished:
        lines.append(f"Not finished: {unfinished}")
    return "\n".join(lines)


def is_ads_note(content: str, branch: str | None) -> bool:
    """Whether ``content`` is a note ADS already wrote for this branch."""
    return content.startswith(NOTE_MARKER) and (branch is None or branch in content)
