"""respond: what the webhook worker does with a job, and the escalation rules it applies.

A job is one ``incident.triggered``: it is remediated end to end (diagnosis, verified fix, PR,
note). Then, on every pass, the worker checks the brief's "escalate based on severity and
response time": an incident of a rule's severity still unacknowledged ``after_minutes`` after
ADS's note was posted is escalated to the rule's level, with a note saying why. Minutes are
divided by ``time_scale`` so demos and tests can run the rules on an accelerated clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import AdsError
from ..models import Remediation
from ..sources.storage import Job
from .context import Context
from .remediate import Stage, remediate

__all__ = ["evaluate_escalations", "respond"]


def respond(ctx: Context, job: Job, *, progress: Stage | None = None) -> Remediation:
    """Work one webhook job: the full remediation of its incident."""
    return remediate(ctx, job.incident_id, progress=progress)


def evaluate_escalations(ctx: Context, *, now: datetime | None = None) -> list[str]:
    """Escalate what the rules say is overdue; one line per escalation done."""
    now = now or datetime.now(UTC)
    done: list[str] = []
    for remediation in ctx.store.remediations():
        if remediation.noted_at is None or remediation.escalated_to is not None:
            continue
        diagnosis = ctx.store.diagnosis(remediation.incident_id)
        if diagnosis is None:
            continue
        try:
            service = ctx.settings.service(diagnosis.service)
        except AdsError:
            continue
        waited_minutes = (now - remediation.noted_at).total_seconds() * ctx.settings.time_scale / 60
        for rule in service.escalation:
            if (
                diagnosis.severity or ""
            ).lower() != rule.severity or waited_minutes < rule.after_minutes:
                continue
            incident = ctx.pagerduty.get_incident(remediation.incident_id)
            if incident.status != "triggered":
                break
            ctx.pagerduty.escalate(incident.id, rule.to_level)
            reason = (
                f"[ADS] Escalated to level {rule.to_level}: {rule.severity} incident still "
                f"unacknowledged {rule.after_minutes:g} min after the diagnosis was posted."
            )
            ctx.pagerduty.add_note(incident.id, reason)
            remediation.escalated_to = rule.to_level
            ctx.store.save_remediation(remediation)
            done.append(reason)
            break
    return done
