"""What a report shows, gathered once from the stored diagnosis and remediation.

The HTML page, the ``ads serve`` pages and the tests read this model, never the raw diagnosis:
the summary box, the timeline, the kill history, the links and every run's figures are decided
here, so each number is computed once (``run_figures``) and shown the same everywhere. Nothing
here renders anything: ``report_html`` and ``report_chart`` do, from this model.

The model has room for what a diagnosis may grow: any number of memory runs (the current and
patched builds, the rollback, bisection runs, the service at the old and the new limit) and the
hypotheses that were considered and rejected, with why. They are shown when present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..models import (
    BisectResult,
    Diagnosis,
    Incident,
    Remediation,
    RunResult,
    Verdict,
    VerificationOutcome,
    VerificationResult,
)
from ..units import format_quantity
from .report import diagnosis_markdown, line_span
from .run_figures import RunFigures, run_figures

__all__ = [
    "KillRow",
    "Link",
    "Rejected",
    "ReportModel",
    "RunView",
    "Summary",
    "TimelineEvent",
    "build_report_model",
]

# One colour per kind of run, so "current build" is the same red in every report.
RUN_COLOURS = {
    "current build": "#d62728",
    "patched build": "#2ca02c",
    "rollback": "#1f77b4",
}
OTHER_COLOURS = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


@dataclass(frozen=True)
class RunView:
    """One memory run as the chart and the figures list show it."""

    label: str
    colour: str
    figures: RunFigures
    points: list[tuple[float, int]]  # (seconds since the run started, bytes), up to the kill
    kills: list[tuple[float, int]]  # where each OOM kill happened: (seconds, bytes)
    mode: str = ""


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str
    took: float | None = None  # seconds the step lasted, when it is a step
    kind: str = "step"  # kill, incident, page, webhook, step, note, escalation


@dataclass(frozen=True)
class KillRow:
    number: int
    killed_at: datetime | None
    seconds_to_kill: float | None
    peak: int | None
    limit: str | None
    restart_count: int | None
    git_sha: str | None
    where: str  # pod/container, or the local service


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Rejected:
    """A cause that was considered and ruled out, and the evidence that ruled it out."""

    cause: str
    why: str


@dataclass(frozen=True)
class Summary:
    root_cause: str
    confidence: str
    verdict: str  # "verified", "not verified (analysis only)", "fix failed", …
    verified: bool
    verdict_detail: str = ""
    pr_url: str | None = None
    branch: str | None = None
    pr_file: str | None = None
    introduced_by: str | None = None  # "b2dbefb Reuse payload buffer… (Sam Rivera)"
    introduced_sha: str | None = None
    introduced_url: str | None = None


@dataclass
class ReportModel:
    title: str
    service: str
    incident_label: str  # "#1", or the id when PagerDuty gave no number
    incident_id: str
    incident_url: str | None
    date: datetime
    severity: str | None
    summary: Summary
    runs: list[RunView] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    kills: list[KillRow] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    diagnosis_markdown: str = ""
    fix_diff: str | None = None
    fix_summary: str | None = None
    rollback: str | None = None
    mitigation: str | None = None
    verification_detail: str | None = None
    limit: int | None = None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _run_view(label: str, run: RunResult, colour: str) -> RunView:
    figures = run_figures(run)
    start = run.samples[0].t if run.samples else 0.0
    points = [(s.t - start, s.bytes) for s in run.samples]
    kills: list[tuple[float, int]] = []
    for event in run.events:
        at = event.seconds_to_kill
        if at is None:
            at = points[-1][0] if points else run.duration
        kills.append((at, event.peak_usage or figures.peak))
    if kills:
        # The line ends where the kernel killed it, at the peak it recorded: a polled sample
        # after the kill would draw memory falling, which it never did.
        # Samples polled around the kill read the emptied cgroup: the curve is cut at its
        # highest sample before the kill and joined to the kill's point.
        first_t, first_b = kills[0]
        before = [p for p in points if p[0] < first_t]
        if before:
            top = max(range(len(before)), key=lambda i: before[i][1])
            before = before[: top + 1]
        points = [*before, (first_t, first_b)]
    return RunView(label, colour, figures, points, kills, run.mode.value)


def run_views(runs: Sequence[tuple[str, RunResult]]) -> list[RunView]:
    """A view per (label, run), each with its own colour."""
    views = []
    spare = iter(OTHER_COLOURS)
    for label, run in runs:
        colour = RUN_COLOURS.get(label) or next(spare, "#333333")
        views.append(_run_view(label, run, colour))
    return views


def _verdict(remediation: Remediation | None) -> tuple[str, bool, str]:
    verification = remediation.verification if remediation else None
    if verification is None:
        return "not verified (analysis only: the fix was not run here)", False, ""
    verified = verification.outcome is VerificationOutcome.VERIFIED
    verdict = verification.outcome.value if verified else f"not verified: {verification.outcome}"
    return verdict, verified, verification.detail


def _summary(
    diagnosis: Diagnosis, remediation: Remediation | None, commit_url: Callable[[str], str | None]
) -> Summary:
    verdict, verified, detail = _verdict(remediation)
    if diagnosis.findings:
        top = diagnosis.findings[0]
        cause = f"{top.file}:{line_span(top)} in {top.function}() — {top.issue}"
        confidence = top.confidence.value
        if top.reasons:
            confidence += f" ({'; '.join(top.reasons)})"
        change = top.introduced_by
    else:
        cause, confidence, change = (
            "not found in the analysed code",
            diagnosis.confidence.value,
            None,
        )
    return Summary(
        root_cause=cause,
        confidence=confidence,
        verdict=verdict,
        verified=verified,
        verdict_detail=detail,
        pr_url=remediation.pr_url if remediation else None,
        branch=remediation.branch if remediation else None,
        pr_file=remediation.pr_file if remediation else None,
        introduced_by=(
            f"{change.sha[:7]} {change.subject} ({change.author})" if change is not None else None
        ),
        introduced_sha=change.sha if change is not None else None,
        introduced_url=commit_url(change.sha) if change is not None else None,
    )


def _kill_rows(incident: Incident) -> list[KillRow]:
    rows = []
    alerts = sorted(incident.alerts, key=lambda a: str(a.custom_details.get("killed_at", "")))
    for number, alert in enumerate(alerts, 1):
        details = alert.custom_details
        killed = details.get("killed_at")
        try:
            killed_at = _utc(datetime.fromisoformat(str(killed))) if killed else alert.created_at
        except ValueError:
            killed_at = alert.created_at
        seconds = details.get("seconds_to_kill")
        peak = details.get("peak_usage_bytes")
        restarts = details.get("restart_count")
        where = "/".join(
            str(details[k]) for k in ("namespace", "pod", "container") if details.get(k)
        ) or str(details.get("service", ""))
        rows.append(
            KillRow(
                number=number,
                killed_at=_utc(killed_at) if killed_at else None,
                seconds_to_kill=float(seconds) if isinstance(seconds, int | float) else None,
                peak=peak if isinstance(peak, int) else None,
                limit=str(details["memory_limit"]) if details.get("memory_limit") else None,
                restart_count=restarts if isinstance(restarts, int) else None,
                git_sha=str(details["git_sha"]) if details.get("git_sha") else None,
                where=where,
            )
        )
    return rows


PAGE_ENTRIES = {"assign_log_entry", "notify_log_entry", "escalate_log_entry"}
STAGE_WORDS = {
    "diagnose": "diagnosis",
    "verification": "fix verified by reproduction",
    "rollback": "rollback prepared and verified",
    "branch": "fix branch committed",
    "push": "fix branch pushed",
    "pull request": "pull request opened",
    "note": "note written on the incident",
}


def _levels(diagnosis: Diagnosis) -> dict[str, int]:
    return {person.name: person.level for person in diagnosis.oncall}


def _paged(summary: str, levels: dict[str, int]) -> str:
    """ "Notified Bob Martins by email" with the level Bob is on call at."""
    for name, level in levels.items():
        if name in summary:
            return f"{summary} (on call, level {level})"
    return summary


def _timeline(
    diagnosis: Diagnosis,
    remediation: Remediation | None,
    kills: list[KillRow],
    webhook_at: datetime | None,
) -> list[TimelineEvent]:
    incident = diagnosis.incident
    events: list[TimelineEvent] = []
    for kill in kills:
        if kill.killed_at is not None:
            ran = f" after {kill.seconds_to_kill:.1f} s" if kill.seconds_to_kill else ""
            events.append(
                TimelineEvent(
                    kill.killed_at,
                    f"OOM kill #{kill.number}{ran} (exit 137)",
                    kill.seconds_to_kill,
                    "kill",
                )
            )
    logged = {entry.type for entry in incident.log_entries}
    if "trigger_log_entry" not in logged:
        events.append(TimelineEvent(_utc(incident.created_at), "incident opened", None, "incident"))
    levels = _levels(diagnosis)
    for entry in incident.log_entries:
        if entry.created_at is None:
            continue
        if entry.type == "trigger_log_entry":
            what = f"incident {diagnosis_label(incident)} opened ({entry.summary})"
            events.append(TimelineEvent(_utc(entry.created_at), what, None, "incident"))
        elif entry.type in PAGE_ENTRIES:
            events.append(
                TimelineEvent(_utc(entry.created_at), _paged(entry.summary, levels), None, "page")
            )
    if webhook_at is not None:
        events.append(TimelineEvent(webhook_at, "webhook received by ads serve", None, "webhook"))
    started = remediation.started_at if remediation else {}
    timings = remediation.timings if remediation else {}
    if "diagnose" not in started:
        events.append(TimelineEvent(_utc(diagnosis.created_at), "diagnosis stored", None, "step"))
    for stage, at in started.items():
        what = STAGE_WORDS.get(stage, stage)
        if stage == "verification" and remediation and remediation.verification:
            what = f"fix verification: {remediation.verification.outcome.value}"
        kind = "note" if stage == "note" else "step"
        events.append(TimelineEvent(_utc(at), what, timings.get(stage), kind))
    if remediation and remediation.noted_at and "note" not in started:
        events.append(TimelineEvent(_utc(remediation.noted_at), "note written", None, "note"))
    if remediation and remediation.escalated_at and remediation.escalated_to:
        what = f"escalated to level {remediation.escalated_to}: still unacknowledged"
        events.append(TimelineEvent(_utc(remediation.escalated_at), what, None, "escalation"))
    # PagerDuty's times have whole seconds: within one second the kill came first, then the
    # incident, then the pages; a kill at .300 must not be shown after the incident at .000.
    rank = {"kill": 0, "incident": 1, "page": 2, "webhook": 3}
    return sorted(events, key=lambda e: (e.at.replace(microsecond=0), rank.get(e.kind, 4), e.at))


def diagnosis_label(incident: Incident) -> str:
    return f"#{incident.number}" if incident.number is not None else incident.id


def _links(diagnosis: Diagnosis, remediation: Remediation | None, summary: Summary) -> list[Link]:
    links = []
    if diagnosis.incident.html_url:
        links.append(
            Link(f"incident {diagnosis_label(diagnosis.incident)}", diagnosis.incident.html_url)
        )
    if summary.pr_url:
        links.append(Link("pull request", summary.pr_url))
    elif remediation and remediation.pr_file:
        links.append(
            Link(
                f"pull request text (branch {remediation.branch})", f"file://{remediation.pr_file}"
            )
        )
    if summary.introduced_sha:
        url = summary.introduced_url or f"#commit-{summary.introduced_sha[:12]}"
        links.append(Link(f"commit {summary.introduced_sha[:7]} that introduced it", url))
    return links


def _verification_runs(verification: VerificationResult | None) -> list[tuple[str, RunResult]]:
    """The verification's runs, named for what they were: the current and the patched build,
    or (a limit fix) the current build at the lowered and at the restored limit."""
    if verification is None:
        return []
    before, after = verification.before, verification.after
    if before is not None and after is not None and before.memory_limit != after.memory_limit:
        return [
            (f"current build at {format_quantity(before.memory_limit)}", before),
            (f"current build at {format_quantity(after.memory_limit)}", after),
        ]
    named = (("current build", before), ("patched build", after))
    return [(label, run) for label, run in named if run is not None]


def _bisection_runs(diagnosis: Diagnosis) -> list[tuple[str, RunResult]]:
    """The runs of a bisection that found (or looked for) the cause, each named by its commit
    and verdict; builds that did not compile were not run and draw nothing."""
    found: list[BisectResult] = [h.bisection for h in diagnosis.hypotheses if h.bisection]
    runs = []
    for result in found:
        for run in result.runs:
            if run.mode is None or not run.samples:
                continue  # skipped (no build), or recorded before runs kept their kills
            result_run = RunResult(
                service=result.service,
                mode=run.mode,
                memory_limit=result.memory_limit,
                git_sha=run.sha,
                events=run.events,
                samples=run.samples,
                duration=run.duration,
            )
            runs.append((f"bisection {run.sha[:7]} ({run.verdict})", result_run))
    return runs


def _rejected(diagnosis: Diagnosis) -> list[Rejected]:
    """The causes the diagnosis weighed and ruled out, with the evidence that did."""
    rejected = []
    for h in diagnosis.hypotheses:
        if h.verdict is Verdict.REJECTED:
            cause = f"{h.kind.value}: {h.summary}" if h.summary else h.kind.value
            rejected.append(Rejected(cause, "; ".join(h.reasons) or "ruled out by the evidence"))
    return rejected


def build_report_model(
    diagnosis: Diagnosis,
    remediation: Remediation | None,
    *,
    webhook_at: datetime | None = None,
    runs: Sequence[tuple[str, RunResult]] = (),
    rejected: Sequence[Rejected] = (),
    commit_url: Callable[[str], str | None] = lambda sha: None,
) -> ReportModel:
    """The report of ``diagnosis``: ``runs`` are memory runs besides the verification's own
    (bisection, the old and new limit), ``rejected`` the causes ruled out, ``commit_url`` the web
    page of a commit when the repository has one (GitHub)."""
    incident = diagnosis.incident
    summary = _summary(diagnosis, remediation, commit_url)
    verification = remediation.verification if remediation else None
    all_runs = _verification_runs(verification) + _bisection_runs(diagnosis) + list(runs)
    views = run_views(all_runs)
    kills = _kill_rows(incident)
    date = _utc(incident.created_at)
    label = diagnosis_label(incident)
    limit = next((run.memory_limit for _, run in all_runs), None)
    if limit is None:
        for alert in incident.alerts:
            raw = alert.custom_details.get("memory_limit_bytes")
            if isinstance(raw, int):
                limit = raw
                break
    return ReportModel(
        title=f"{diagnosis.service} · incident {label} · {date:%Y-%m-%d %H:%M} UTC",
        service=diagnosis.service,
        incident_label=label,
        incident_id=incident.id,
        incident_url=incident.html_url,
        date=date,
        severity=diagnosis.severity,
        summary=summary,
        runs=views,
        timeline=_timeline(diagnosis, remediation, kills, webhook_at),
        kills=kills,
        links=_links(diagnosis, remediation, summary),
        rejected=[*_rejected(diagnosis), *rejected],
        diagnosis_markdown=diagnosis_markdown(diagnosis),
        fix_diff=remediation.fix_diff if remediation else None,
        fix_summary=remediation.fix_summary if remediation else None,
        rollback=remediation.rollback if remediation else None,
        mitigation=remediation.mitigation if remediation else None,
        verification_detail=verification.detail if verification else None,
        limit=limit,
    )
