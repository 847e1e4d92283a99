"""A diagnosis as Markdown and JSON: what the note, the PR and the MCP tools show.

The Markdown opens with the product brief's "Expected MCP Analysis Output" block (File,
Function, Line, Issue, Impact, Confidence) so an SRE sees the answer first, then the evidence:
reasons, the commits in the window, the on-call. The JSON is the ``Diagnosis`` model's own
schema (``Diagnosis.model_json_schema()``), stable across versions of this renderer.
"""

from __future__ import annotations

import re

from ..models import ChangeRole, Diagnosis, Finding, Hypothesis, Verdict
from ..units import format_quantity

__all__ = [
    "analysis_block",
    "diagnosis_json",
    "diagnosis_markdown",
    "hypotheses_section",
    "line_span",
]


def line_span(finding: Finding) -> str:
    """ "26-27" for a leak allocated on 26 and last used on 27; "26" when they coincide."""
    if finding.end_line and finding.end_line != finding.line:
        return f"{finding.line}-{finding.end_line}"
    return str(finding.line)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


_EMAIL_IN_BRACKETS = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")


def keep_emails(text: str) -> str:
    """``Sam <sam@example.com>`` as Markdown that still shows the brackets: a bare ``<…@…>`` is
    an autolink (or HTML) to a Markdown renderer, which drops the brackets."""
    return _EMAIL_IN_BRACKETS.sub(r"&lt;\1&gt;", text)


def analysis_block(diagnosis: Diagnosis) -> list[str]:
    """The brief's six lines for the top finding (or what could not be concluded)."""
    return [keep_emails(line) for line in _analysis_block(diagnosis)]


def _cause_block(cause: Hypothesis) -> list[str]:
    """The brief's lines for a cause that is not in the code: the manifest (or constant) and
    its changed line stand where a function and line stand for a leak."""
    reasons = "; ".join(cause.reasons) if cause.reasons else "no reasons recorded"
    lines = [f"- **Root cause**: {_sentence(cause.summary)}"]
    if cause.file:
        lines.append(f"- **File**: `{cause.file}`")
    if cause.line is not None:
        lines.append(f"- **Line**: {cause.line}" + (f" (`{cause.text}`)" if cause.text else ""))
    lines += [
        f"- **Issue**: {_sentence(cause.issue or cause.kind.value)}",
        f"- **Impact**: {_sentence(cause.impact or 'unknown')}",
        f"- **Confidence**: {cause.confidence.value} ({reasons})",
    ]
    return lines


def hypotheses_section(diagnosis: Diagnosis) -> list[str]:
    """Every cause considered, with its verdict and why: the differential diagnosis."""
    if not diagnosis.hypotheses:
        return []
    lines = ["## Hypotheses considered", ""]
    for hypothesis in diagnosis.hypotheses:
        why = "; ".join(hypothesis.reasons[:3]) or hypothesis.summary
        lines.append(
            f"- **{hypothesis.verdict.value}** — {hypothesis.kind.value}: "
            + (hypothesis.summary if hypothesis.verdict is Verdict.SUPPORTED else why)
        )
    return [*lines, ""]


def _analysis_block(diagnosis: Diagnosis) -> list[str]:
    """The brief's six lines for the top finding (or what could not be concluded)."""
    cause = diagnosis.non_code_cause
    if cause is not None:
        return _cause_block(cause)
    if not diagnosis.findings:
        return ["- **Root cause**: not found in the analysed code", *_notes(diagnosis)]
    top = diagnosis.findings[0]
    reasons = "; ".join(top.reasons) if top.reasons else "no reasons recorded"
    return [
        f"- **File**: `{top.file}`",
        f"- **Function**: `{top.function}()`",
        f"- **Line**: {line_span(top)}",
        f"- **Issue**: {_sentence(top.issue)}",
        f"- **Impact**: {_sentence(diagnosis.impact or 'unknown')}",
        f"- **Confidence**: {top.confidence.value} ({reasons})",
    ]


def _notes(diagnosis: Diagnosis) -> list[str]:
    return [f"- {note}" for note in diagnosis.notes]


def diagnosis_markdown(diagnosis: Diagnosis) -> str:
    """The whole diagnosis as Markdown."""
    incident = diagnosis.incident
    number = f"#{incident.number}" if incident.number is not None else incident.id
    lines = [
        f"# Diagnosis of incident {number}: {incident.title}",
        "",
        f"Service **{diagnosis.service}** · severity **{diagnosis.severity or 'unknown'}** · "
        f"status {incident.status}"
        + (f" · [incident]({incident.html_url})" if incident.html_url else ""),
        "",
        "## Analysis",
        "",
        *analysis_block(diagnosis),
        "",
    ]
    lines += hypotheses_section(diagnosis)
    if diagnosis.oncall:
        lines += ["## On call", ""]
        for person in diagnosis.oncall:
            handle = f" (@{person.github})" if person.github else ""
            lines.append(f"- level {person.level}: {person.name}{handle}")
        lines.append("")
    others = diagnosis.findings[0 if diagnosis.non_code_cause else 1 :]
    if others:
        lines += ["## Other candidates", ""]
        for finding in others:
            lines.append(
                f"- `{finding.file}:{line_span(finding)}` in `{finding.function}()`: "
                f"{finding.kind.value}, confidence {finding.confidence.value}"
            )
        lines.append("")
    if diagnosis.changes:
        lines += ["## Changes before the incident (most recent first)", ""]
        by_time = sorted(diagnosis.changes, key=lambda c: c.before_incident_seconds or 0)
        for change in by_time:
            hours = (change.before_incident_seconds or 0) / 3600
            notes = f" — {'; '.join(change.notes)}" if change.notes else ""
            role = (
                f" **{change.role.value}**" if change.role not in (None, ChangeRole.OTHER) else ""
            )
            who = f"{change.author}, {hours:.1f} h before"
            lines.append(f"- `{change.sha[:7]}` {change.subject} ({who}){role}{notes}")
        lines.append("")
    if diagnosis.findings and diagnosis.findings[0].evidence and not diagnosis.non_code_cause:
        lines += ["## Evidence", "", *[f"- {e}" for e in diagnosis.findings[0].evidence], ""]
    if diagnosis.notes and (diagnosis.findings or diagnosis.non_code_cause):
        lines += ["## Notes", "", *_notes(diagnosis), ""]
    if diagnosis.predicted_seconds_to_oom is not None:
        limit = diagnosis_limit(diagnosis)
        lines.append(
            f"Predicted time to OOM: {diagnosis.predicted_seconds_to_oom:.1f} s{limit}; observed: "
            + (
                f"{diagnosis.observed_seconds_to_oom:.1f} s"
                if diagnosis.observed_seconds_to_oom is not None
                else "unknown"
            )
        )
    return keep_emails("\n".join(lines).rstrip() + "\n")


def diagnosis_limit(diagnosis: Diagnosis) -> str:
    for alert in diagnosis.incident.alerts:
        raw = alert.custom_details.get("memory_limit_bytes")
        if isinstance(raw, int):
            return f" at {format_quantity(raw)}"
    return ""


def diagnosis_json(diagnosis: Diagnosis) -> str:
    """The diagnosis in its documented JSON schema."""
    return diagnosis.model_dump_json(indent=2)
