"""What the web pages of ``ads serve`` show: each incident with its job, and its report.

One row per webhook job (an incident ADS was asked to handle), from ADS's store alone: the
job's status and attempts, the stage under way (from the crash-only checkpoint, so it is live
while the worker runs), and once diagnosed the root cause and the verification verdict. The
report page is the same template as ``ads report``'s file (``report_page``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..actions.report_html import render_page
from .context import Context
from .remediate import STAGES
from .report import report_model, report_page

__all__ = [
    "IncidentRow",
    "incident_page",
    "incident_row",
    "incident_rows",
    "index_page",
    "login_page",
]

REFRESH_SECONDS = 2  # how often a page with a job under way reloads itself
ACTIVE = {"queued", "running"}


@dataclass(frozen=True)
class IncidentRow:
    incident_id: str
    label: str  # "#1", or the id
    title: str | None
    service: str | None
    status: str  # the job's: queued, running, done, failed
    attempts: int
    updated: datetime
    error: str | None = None
    stage: str | None = None  # "verification under way" while the job runs
    done_stages: list[str] = field(default_factory=list)
    root_cause: str | None = None
    verdict: str | None = None
    has_report: bool = False

    @property
    def href(self) -> str:
        return f"/incidents/{self.incident_id}"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _from_payload(payload: dict[str, object]) -> tuple[int | None, str | None, str | None]:
    """Number, title and service of the incident as the webhook described it."""
    event = payload.get("event")
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return None, None, None
    number = data.get("number")
    title = data.get("title")
    service = data.get("service")
    name = service.get("summary") if isinstance(service, dict) else None
    return (
        number if isinstance(number, int) else None,
        title if isinstance(title, str) else None,
        name if isinstance(name, str) else None,
    )


def incident_row(ctx: Context, incident_id: str) -> IncidentRow | None:
    """The row of one incident; None when ADS has no job for it."""
    job = ctx.store.job(incident_id)
    if job is None:
        return None
    number, title, service = _from_payload(job.payload)
    diagnosis = ctx.store.diagnosis(incident_id)
    checkpoint = ctx.store.checkpoint(incident_id)
    done = list(checkpoint.stages) if checkpoint else []
    stage = None
    if job.status == "running":
        upcoming = [s for s in STAGES if s not in done]
        stage = f"{upcoming[0]} under way" if upcoming else "finishing"
    root_cause = verdict = None
    if diagnosis is not None:
        model = report_model(ctx, diagnosis)
        root_cause, verdict = model.summary.root_cause, model.summary.verdict
        number = diagnosis.incident.number if number is None else number
        title = title or diagnosis.incident.title
        service = service or diagnosis.service
    return IncidentRow(
        incident_id=incident_id,
        label=f"#{number}" if number is not None else incident_id,
        title=title,
        service=service,
        status=job.status,
        attempts=job.attempts,
        updated=datetime.fromtimestamp(job.updated, UTC),
        error=job.error,
        stage=stage,
        done_stages=done,
        root_cause=root_cause,
        verdict=verdict,
        has_report=diagnosis is not None and job.status not in ACTIVE,
    )


def incident_rows(ctx: Context) -> list[IncidentRow]:
    """Every incident ADS has a job for, newest first."""
    jobs = sorted(ctx.store.jobs(), key=lambda j: j.created, reverse=True)
    rows = [incident_row(ctx, job.incident_id) for job in jobs]
    return [row for row in rows if row is not None]


def index_page(ctx: Context) -> str:
    rows = incident_rows(ctx)
    refresh = REFRESH_SECONDS if any(row.active for row in rows) else None
    return render_page("index.html.j2", page_title="ADS: incidents", rows=rows, refresh=refresh)


def incident_page(ctx: Context, incident_id: str) -> str | None:
    """The report once the job is done (or failed after its diagnosis); until then the job's
    live status, reloading itself. None when ADS has no job and no diagnosis for it."""
    row = incident_row(ctx, incident_id)
    diagnosis = ctx.store.diagnosis(incident_id)
    if diagnosis is not None and (row is None or not row.active):
        return report_page(ctx, diagnosis, nav="/")
    if row is None:
        return None
    return render_page(
        "job.html.j2", page_title=f"ADS: incident {row.label}", row=row, nav="/",
        refresh=REFRESH_SECONDS if row.active else None,  # a failed job: nothing to wait for
    )  # fmt: skip


def login_page(next_path: str, error: str | None) -> str:
    """The sign-in form of ``ads serve`` beyond loopback: the admin token, then ``next_path``."""
    return render_page("login.html.j2", page_title="ADS: sign in", next_path=next_path, error=error)
