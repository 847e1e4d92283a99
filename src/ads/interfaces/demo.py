"""``ads demo``: the whole ADS loop on this machine, hands-free, nothing to configure.

It starts the local PagerDuty server (with a webhook subscription pointing at ADS) and
``ads serve``'s webhook receiver and worker, then runs the demo worker under its 64Mi limit in
a real memory cgroup. The kernel OOM-kills it → ADS sends the kill to PagerDuty → an incident
is opened and the on-call paged → PagerDuty posts a signed webhook → the worker diagnoses the
incident, verifies the fix by re-running the service under the same limit, makes the PR branch
and writes the note. At the end it prints the timeline, the diagnosis, the PR and the report,
and shuts everything down.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from pagerduty_local import LocalPagerDuty, LocalPagerDutyError

from .. import interrupts
from ..config import load_settings
from ..errors import AdsError, ConfigError, RuntimeUnavailableError
from ..models import OomEvent, Remediation
from ..units import format_bytes
from ..workflow import (
    Context,
    RunObserver,
    housekeeping,
    respond,
    run_locally,
    runtime_alerter,
    write_report,
)
from ..workflow.report import ReportModel, analysis_block, report_model
from ..workflow.webhooks import Job
from .console import LiveRunStatus, console, oom_table, when_terminal
from .demo_workspace import create_demo_workspace, create_python_demo_workspace
from .http_server import BackgroundServer
from .webhook import WebhookService

__all__ = ["run_demo"]

SERVICE = "ads-demo-service"
#: the services ``ads demo --service`` runs, each with the history its workspace is built with
DEMOS: dict[str, Callable[..., Path]] = {
    SERVICE: create_demo_workspace,  # C: a worker that stopped freeing its buffer
    "py-pages-service": create_python_demo_workspace,  # Python: a cache that lost its eviction
}


@dataclass
class Timeline:
    """Moments of the run, in seconds since the demo started."""

    started: float = field(default_factory=time.perf_counter)
    steps: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, what: str) -> None:
        with self.lock:
            at = time.perf_counter() - self.started
            self.steps.append((at, what))
        console.print(f"[dim]{at:6.2f} s[/] {what}")

    def table(self) -> Table:
        table = Table(title="Timeline")
        table.add_column("t (s)", justify="right")
        table.add_column("step")
        table.add_column("since previous (s)", justify="right")
        previous = 0.0
        for at, what in self.steps:
            table.add_row(f"{at:.2f}", what, f"{at - previous:.2f}")
            previous = at
        return table


@dataclass
class Outcome:
    remediation: Remediation | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


def run_demo(
    workdir: Path,
    *,
    kills: int = 2,
    timeout: float = 60.0,
    clock: Callable[[], datetime] | None = None,
    service: str = SERVICE,
    verbose: bool = False,
) -> None:
    """The demo, end to end; ``AdsError`` if it does not finish within ``timeout`` seconds.

    ``service`` is one of ``DEMOS``: the C worker (the default) or the Python page service.

    ``timeout`` bounds the whole demo: when it passes, the step under way is stopped at once
    (``ads.interrupts``, as Ctrl-C does) and nothing is posted or pushed after it. ``clock`` is
    the local PagerDuty's time (so its weekly on-call rotation) and dates the demo repository's
    history; the real time if None. ``verbose`` adds the timeline and kill tables, the whole
    analysis, the diff and the PR text after the summary (all of which the report has).
    """
    reason = f"ads demo did not finish within {timeout:g} s (--timeout)"
    deadline = threading.Timer(timeout, interrupts.request, [reason])
    deadline.daemon = True
    deadline.start()
    try:
        _run_demo(
            workdir, kills=kills, timeout=timeout, clock=clock, service=service, verbose=verbose
        )
    except interrupts.Interrupted as exc:
        if exc.reason != reason:
            raise
        raise RuntimeUnavailableError(
            reason, hint="nothing was posted or pushed after it; try a larger --timeout"
        ) from None
    finally:
        deadline.cancel()
        interrupts.reset()


def _run_demo(
    workdir: Path,
    *,
    kills: int,
    timeout: float,
    clock: Callable[[], datetime] | None,
    service: str = SERVICE,
    verbose: bool = False,
) -> None:
    if service not in DEMOS:
        raise ConfigError(
            f"no demo service {service!r}", hint=f"choose one of {', '.join(sorted(DEMOS))}"
        )
    console.rule(f"[bold]ADS demo: {service} under a 64Mi memory limit")
    timeline = Timeline()
    workdir = _fresh_workdir(workdir.resolve())
    repo = DEMOS[service](workdir / service, now=clock() if clock else None)
    settings = load_settings(repo / "ads.yaml")
    settings.state_dir = workdir / "state"
    timeline.mark(f"workspace ready (a private git copy with history): {repo}")

    with _local_pagerduty(workdir / "pagerduty", clock) as pagerduty:
        ctx = Context.with_pagerduty(
            settings,
            token=pagerduty.token,
            api_url=pagerduty.api_url,
            events_url=pagerduty.events_url,
            verify=pagerduty.ssl_context(),
        )
        timeline.mark(f"local PagerDuty at {pagerduty.api_url}")
        outcome = Outcome()

        def work(job: Job) -> None:
            timeline.mark(f"webhook incident.triggered received: job for {job.incident_id}")

            started: dict[str, float] = {}

            def progress(stage: str, state: str) -> None:
                if state == "start":
                    started[stage] = time.perf_counter()
                    timeline.mark(f"{stage} {_said(state)}")
                    return
                took = time.perf_counter() - started.get(stage, time.perf_counter())
                timeline.mark(f"{stage} {_said(state)}" + (f" in {took:.1f} s" if took else ""))

            try:
                outcome.remediation = respond(ctx, job, progress=progress)
            except AdsError as exc:
                outcome.error = str(exc)
                raise
            finally:
                outcome.done.set()

        secrets: list[str] = []
        receiver = WebhookService(
            store=ctx.store,
            secrets=secrets,
            handler=work,
            services=lambda name: name in {s.pagerduty_name for s in settings.services.values()},
            poll_interval=0.05,
            housekeeping=lambda: housekeeping(ctx),
        )
        with BackgroundServer(receiver.app()) as ads_server:
            _, secret = pagerduty.add_webhook_subscription(
                ads_server.url + "/webhooks/pagerduty", events=["incident.triggered"]
            )
            secrets.append(secret)
            receiver.start_worker()
            timeline.mark(f"ads serve at {ads_server.url}, subscribed to its webhooks")
            try:
                _reproduce(ctx, repo, pagerduty, timeline, kills=kills, timeout=timeout,
                           name=service, verbose=verbose)  # fmt: skip
                with when_terminal("ADS is diagnosing, verifying and opening the PR…"):
                    while not outcome.done.wait(0.1):
                        interrupts.check()
            finally:
                receiver.stop_worker()  # after Ctrl-C or the deadline: it stops at its next check
        interrupts.check()  # the worker may have been stopped mid-job: no summary of half a job
        if outcome.error or outcome.remediation is None:
            raise RuntimeUnavailableError(f"remediation failed: {outcome.error}")
        _summarise(ctx, outcome.remediation, timeline, service, verbose=verbose)


def _said(state: str) -> str:
    """A stage's state on the timeline (``ads.workflow.remediate.Stage``)."""
    if state.startswith("nothing"):
        return f"not done ({state.partition(':')[2].strip() or 'nothing to do'})"
    said = {"start": "started", "skipped": "resumed from its checkpoint"}
    return said.get(state, state)


@contextlib.contextmanager
def _local_pagerduty(
    state_dir: Path, clock: Callable[[], datetime] | None
) -> Iterator[LocalPagerDuty]:
    """The local PagerDuty server (its own product), its start-up errors as ADS's."""
    try:
        server = LocalPagerDuty(state_dir, clock=clock).start()
    except LocalPagerDutyError as exc:
        raise ConfigError(exc.message, hint=exc.hint) from None
    try:
        yield server
    finally:
        server.stop()


MARKER = ".ads-demo"


def _fresh_workdir(workdir: Path) -> Path:
    """Each demo starts from a clean account (no incident left open): the previous demo's
    directory is removed, but only one that a demo made (it holds the marker file)."""
    if workdir.exists():
        ours = {MARKER, *DEMOS, "pagerduty", "state"}
        if not (workdir / MARKER).is_file() and not {p.name for p in workdir.iterdir()} <= ours:
            raise ConfigError(
                f"{workdir} exists and was not made by ads demo; refusing to overwrite it",
                hint="pass an empty or new --workdir",
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by ads demo; removed by the next one\n")
    return workdir


def _reproduce(
    ctx: Context,
    repo: Path,
    pagerduty: LocalPagerDuty,
    timeline: Timeline,
    *,
    kills: int,
    timeout: float,
    name: str = SERVICE,
    verbose: bool = False,
) -> None:
    service = ctx.settings.service(name)
    with LiveRunStatus(name, events=False) as status:  # the timeline prints the events
        alerter = runtime_alerter(
            ctx, service, repo, routing_key=pagerduty.routing_key(name), notify=timeline.mark
        )

        # the kill goes on the timeline before the alerter sends its event: the webhook that
        # event triggers (another thread) must not print before the kill it reports
        observers = [status, _Marker(timeline), alerter]
        result = run_locally(service, repo, observers, max_kills=kills, duration=timeout)
    if verbose:
        console.print(oom_table(result.events))
    if len(result.events) < kills:
        raise RuntimeUnavailableError(
            f"expected {kills} OOM kills within {timeout:.0f} s, saw {len(result.events)}"
        )


class _Marker(RunObserver):
    """Puts the runtime's build and kills on the timeline."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.kills = 0

    def built(self, git_sha: str | None) -> None:
        self.timeline.mark(f"built the worker at {(git_sha or '?')[:12]}")

    def oom_killed(self, event: OomEvent) -> None:
        self.kills += 1
        took = event.seconds_to_kill
        after = f" after {took:.1f} s" if took is not None else ""
        self.timeline.mark(
            f"OOM kill #{self.kills}{after}, peak {format_bytes(event.peak_usage or 0)}, "
            "exit 137 → PagerDuty event"
        )


def _summarise(
    ctx: Context,
    remediation: Remediation,
    timeline: Timeline,
    name: str = SERVICE,
    *,
    verbose: bool = False,
) -> None:
    """One screen (80×24): what happened and where to read more. ``verbose`` adds what the
    report has anyway: the timeline and the whole analysis, the diff, the PR text."""
    client = ctx.pagerduty
    incident = client.get_incident(remediation.incident_id)
    diagnosis = ctx.store.diagnosis(incident.id)
    assert diagnosis is not None
    html, markdown = write_report(ctx, diagnosis)
    report = report_model(ctx, diagnosis)  # the report's own numbers, so the two agree
    notes = client.list_notes(incident.id)
    if verbose:
        _details(ctx, remediation, timeline, diagnosis)
    summary = report.summary
    oncall = "; ".join(
        f"level {o.level} {o.name}" + (f" (@{o.github})" if o.github else "")
        for o in diagnosis.oncall
    )
    alerts = f"{len(incident.alerts)} OOM alert{'s' if len(incident.alerts) != 1 else ''}"
    rows: list[tuple[str, str]] = [
        ("incident", f"#{incident.number} {incident.title} · {alerts} · {incident.status}"),
        ("", incident.html_url or ""),
        ("on call", oncall or "nobody"),
        ("root cause", summary.root_cause),
        ("confidence", summary.confidence.split(" (")[0]),
    ]
    if summary.introduced_by:
        rows.append(("introduced", summary.introduced_by))
    rows.append(("verified", _verification_line(report)))
    rows.append(("fix", _fix_line(remediation)))
    rows.append(("PR", remediation.pr_url or f"branch {remediation.branch}"))
    rows.append(("", f"in {_shown(ctx.settings.repo_path(ctx.settings.service(name)))}"))
    if remediation.pr_file:
        rows.append(("", f"text: {_shown(Path(remediation.pr_file))}"))
    said = f"{len(notes)} note{'s' if len(notes) != 1 else ''} on the incident"
    rows.append(("note", f"{said}: the diagnosis and the PR link"))
    rows.append(("report", _shown(html)))
    rows.append(("", f"and {markdown.name}; --verbose prints the details here"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, Text(value))
    console.rule(f"[bold]done in {time.perf_counter() - timeline.started:.1f} s")
    console.print(grid)


def _shown(path: Path) -> str:
    """A path as short as it can be said: relative to the working directory when inside it
    (``.ads/demo/…`` after ``make demo``), so it fits a line and can be copied whole."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _verification_line(report: ReportModel) -> str:
    """The verdict with the runs' figures, as the report's bullets give them."""
    verdict = report.summary.verdict
    said = []
    for run in report.runs[:2]:
        f = run.figures
        if f.seconds_to_kill is not None:
            said.append(f"{run.label} OOM-killed after {f.seconds_to_kill:.1f} s "
                        f"(peak {format_bytes(f.peak)})")  # fmt: skip
        else:
            said.append(f"{run.label} flat for {f.duration:.1f} s (peak {format_bytes(f.peak)})")
    return f"{verdict}: {'; '.join(said)}" if said else verdict


def _fix_line(remediation: Remediation) -> str:
    added = [
        line[1:].strip()
        for line in (remediation.fix_diff or "").splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    if not added:
        return remediation.fix_summary
    return f"adds {' '.join(added[:2])}" + (" …" if len(added) > 2 else "")


def _details(ctx: Context, remediation: Remediation, timeline: Timeline, diagnosis: Any) -> None:
    """What ``--verbose`` adds before the summary."""
    console.print(timeline.table())
    console.rule("Diagnosis")
    console.print(Markdown("\n".join(analysis_block(diagnosis))))
    console.rule("Fix")
    verification = remediation.verification
    if verification is not None:
        console.print(f"verification: {verification.outcome.value} — {verification.detail}",
                      markup=False, highlight=False)  # fmt: skip
    console.print(remediation.fix_diff or remediation.fix_summary, highlight=False, markup=False,
                  overflow="fold")  # fmt: skip
    console.rule("Pull request")
    console.print(f"Title: {remediation.pr_title}", markup=False)
    console.print(remediation.pr_body or "", markup=False)
