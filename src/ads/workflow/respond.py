"""respond: what the webhook worker does with a job, and the escalation rules it applies.

A job is one ``incident.triggered``: it is remediated end to end (diagnosis, verified fix, PR,
note). Then, on every pass, the worker checks the brief's "escalate based on severity and
response time": an incident of a rule's severity still unacknowledged ``after_minutes`` after
ADS's note was posted is escalated to the rule's level, with a note saying why. Minutes are
divided by ``time_scale`` so demos and tests can run the rules on an accelerated clock.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from ..errors import AdsError
from ..models import Remediation
from ..sources.storage import Job
from .context import Context
from .remediate import Point, Stage, remediate

__all__ = ["evaluate_escalations", "respond"]

log = logging.getLogger("ads.escalation")


def respond(
    ctx: Context, job: Job, *, progress: Stage | None = None, at_point: Point | None = None
) -> Remediation:
    """Work one webhook job: the full remediation of its incident (resumed from its checkpoint
    when an earlier attempt crashed or met a temporary error)."""
    return remediate(ctx, job.incident_id, progress=progress, at_point=at_point)


def evaluate_escalations(ctx: Context, *, now: datetime | None = None) -> list[str]:
    """Escalate what the rules say is overdue; one line per escalation done.

    Each incident is settled once: escalated, or found acknowledged/resolved when its rule came
    due (then ``escalated_to`` is 0 and it is not asked about again). One incident's error
    does not stop the others.
    """
    now = now or datetime.now(UTC)
    done: list[str] = []
    for remediation in ctx.store.remediations():
        if remediation.noted_at is None or remediation.escalated_to is not None:
            continue
        try:
            line = _escalate_if_due(ctx, remediation, now)
        except AdsError as exc:
            failure = {"event": "escalation.failed", "incident": remediation.incident_id}
            log.warning(json.dumps({**failure, "error": str(exc)}))
            continue
        if line:
            done.append(line)
    return done


def _escalate_if_due(ctx: Context, remediation: Remediation, now: datetime) -> str | None:
    diagnosis = ctx.store.diagnosis(remediation.incident_id)
    if diagnosis is None or diagnosis.service not in ctx.settings.services:
        return None
    service = ctx.settings.service(diagnosis.service)
    assert remediation.noted_at is not None
    waited_minutes = (now - remediation.noted_at).total_seconds() * ctx.settings.time_scale / 60
    severity = (diagnosis.severity or "").lower()
    for rule in service.escalation:
        if severity != rule.severity or waited_minutes < rule.after_minutes:
            continue
        incident = ctx.pagerduty.get_incident(remediation.incident_id)
        if incident.status != "triggered":
            remediation.escalated_to = 0  # someone responded in time: settled, never asked again
            ctx.store.save_remediation(remediation)
            return None
        ctx.pagerduty.escalate(incident.id, rule.to_level)
        reason = (
            f"[ADS] Escalated to level {rule.to_level}: {rule.severity} incident still "
            f"unacknowledged {rule.after_minutes:g} min after the diagnosis was posted."
        )
        ctx.pagerduty.add_note(incident.id, reason)
        remediation.escalated_to = rule.to_level
        remediation.escalated_at = now
        ctx.store.save_remediation(remediation)
        return reason
    return None
