"""Finding and handling incidents: ``ads incidents``, ``ads ack``, ``ads resolve``.

An incident is named the way people name it: by its number (``1``, or ``#1`` as ADS prints it)
or by its PagerDuty id (``Q1ABCDEF``). PagerDuty's ``GET /incidents/{id}`` takes either; every
other call is made with the id the incident itself reports, so numbers work everywhere.
"""

from __future__ import annotations

from ..errors import ConfigError, PagerDutyNotFoundError, excerpt
from ..models import Diagnosis, Incident
from .context import Context

__all__ = [
    "STATUSES",
    "URGENCIES",
    "acknowledge_incident",
    "find_incident",
    "incident_ref",
    "list_incidents",
    "resolve_incident",
    "stored_diagnosis",
]

STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
MAX_REF_CHARS = 128  # ids are 7-14 characters; anything longer is not one


def incident_ref(ref: str) -> str:
    """``ref`` as PagerDuty takes it: ``#1`` → ``1``; a one-line error for what cannot be one."""
    value = ref.strip().removeprefix("#")
    if not value or len(value) > MAX_REF_CHARS or not value.isalnum():
        raise ConfigError(
            f"{excerpt(ref, 40)} is not a PagerDuty incident id or number",
            hint="`ads incidents` lists them, e.g. 1 or Q1ABCDEF",
        )
    return value


def find_incident(ctx: Context, ref: str) -> Incident:
    """The incident ``ref`` (number or id) names, with its alerts and timeline."""
    value = incident_ref(ref)
    try:
        return ctx.pagerduty.get_incident(value)
    except PagerDutyNotFoundError:
        raise PagerDutyNotFoundError(
            f"no incident {ref} in this PagerDuty account",
            hint="`ads incidents` lists them",
        ) from None


def list_incidents(
    ctx: Context,
    *,
    statuses: list[str] | None = None,
    urgencies: list[str] | None = None,
    service: str | None = None,
) -> list[Incident]:
    """Incidents, newest first; ``service`` is an ads.yaml service (or PagerDuty service) name."""
    service_ids: list[str] | None = None
    if service:
        try:
            config = ctx.settings.service(service)
        except ConfigError:
            config = ctx.settings.service_for_pagerduty(service)
        service_ids = [str(ctx.pagerduty.find_service(config.pagerduty_name)["id"])]
    incidents = ctx.pagerduty.list_incidents(
        statuses=statuses or None, urgencies=urgencies or None, service_ids=service_ids
    )
    return sorted(incidents, key=lambda i: (i.created_at, i.number or 0), reverse=True)


def acknowledge_incident(ctx: Context, ref: str) -> Incident:
    """Acknowledge: someone is on it; PagerDuty stops escalating it."""
    return ctx.pagerduty.acknowledge(find_incident(ctx, ref).id)


def resolve_incident(ctx: Context, ref: str) -> Incident:
    """Resolve: the problem is fixed; the next OOM kill opens a new incident."""
    return ctx.pagerduty.resolve(find_incident(ctx, ref).id)


def stored_diagnosis(ctx: Context, ref: str) -> Diagnosis | None:
    """The diagnosis ADS stored for ``ref`` (number or id), without asking PagerDuty."""
    value = incident_ref(ref)
    found = ctx.store.diagnosis(value)
    if found is None and value.isdigit():
        found = ctx.store.diagnosis_by_number(int(value))
    return found
