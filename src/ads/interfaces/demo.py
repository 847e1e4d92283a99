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

from rich.markdown import Markdown
from rich.table import Table

from pagerduty_local import LocalPagerDuty, LocalPagerDutyError

from .. import interrupts
from ..config import load_settings
from ..errors import AdsError, ConfigError, RuntimeUnavailableError
from ..models import OomEvent, Remediation
from ..workflow import (
    Context,
    RunObserver,
    housekeeping,
    respond,
    run_locally,
    runtime_alerter,
    write_report,
)
from ..workflow.report import analysis_block
from ..workflow.webhooks import Job
from .console import LiveRunStatus, console, oom_table
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
) -> None:
    """The demo, end to end; ``AdsError`` if it does not finish within ``timeout`` seconds.

    ``service`` is one of ``DEMOS``: the C worker (the default) or the Python page service.

    ``timeout`` bounds the whole demo: when it passes, the step under way is stopped at once
    (``ads.interrupts``, as Ctrl-C does) and nothing is posted or pushed after it. ``clock`` is
    the local PagerDuty's time (so its weekly on-call rotation) and dates the demo repository's
    history; the real time if None.
    """
    reason = f"ads demo did not finish within {timeout:g} s (--timeout)"
    deadline = threading.Timer(timeout, interrupts.request, [reason])
    deadline.daemon = True
    deadline.start()
    try:
        _run_demo(workdir, kills=kills, timeout=timeout, clock=clock, service=service)
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
    timeline.mark(f"workspace ready: {repo} (a private git copy with history)")

    with _local_pagerduty(workdir / "pagerduty", clock) as pagerduty:
        ctx = Context.with_pagerduty(
            settings,
            token=pagerduty.token,
            api_url=pagerduty.api_url,
            events_url=pagerduty.events_url,
            verify=pagerduty.ssl_context(),
        )
        timeline.mark(f"local PagerDuty at {pagerduty.api_url} (CA {pagerduty.ca_file})")
        outcome = Outcome()

        def work(job: Job) -> None:
            timeline.mark(f"webhook incident.triggered received: job for {job.incident_id}")

            def progress(stage: str, state: str) -> None:
                timeline.mark(f"{stage} {_said(state)}")

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
            timeline.mark(f"ads serve at {ads_server.url}, subscribed to PagerDuty webhooks")
            try:
                _reproduce(
                    ctx, repo, pagerduty, timeline, kills=kills, timeout=timeout, name=service
                )
                with console.status("ADS is diagnosing, verifying and opening the PR…"):
                    while not outcome.done.wait(0.1):
                        interrupts.check()
            finally:
                receiver.stop_worker()  # after Ctrl-C or the deadline: it stops at its next check
        interrupts.check()  # the worker may have been stopped mid-job: no summary of half a job
        if outcome.error or outcome.remediation is None:
            raise RuntimeUnavailableError(f"remediation failed: {outcome.error}")
        _summarise(ctx, outcome.remediation, timeline, service)


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
) -> None:
    service = ctx.settings.service(name)
    with LiveRunStatus(name) as status:
        alerter = runtime_alerter(
            ctx, service, repo, routing_key=pagerduty.routing_key(name), notify=status.notice
        )

        observers = [status, alerter, _Marker(timeline)]
        result = run_locally(service, repo, observers, max_kills=kills, duration=timeout)
    console.print(oom_table(result.events))
    if len(result.events) < kills:
        raise RuntimeUnavailableError(
            f"expected {kills} OOM kills within {timeout:.0f} s, saw {len(result.events)}"
        )


class _Marker(RunObserver):
    """Puts the runtime's build and kills on the timeline."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline

    def built(self, git_sha: str | None) -> None:
        self.timeline.mark(f"built worker at {(git_sha or '?')[:12]}")

    def oom_killed(self, event: OomEvent) -> None:
        self.timeline.mark("kernel OOM-killed the worker (exit 137) → Events API v2 trigger")


def _summarise(
    ctx: Context, remediation: Remediation, timeline: Timeline, name: str = SERVICE
) -> None:
    client = ctx.pagerduty
    incident = client.get_incident(remediation.incident_id)
    diagnosis = ctx.store.diagnosis(incident.id)
    assert diagnosis is not None
    console.print(timeline.table())
    console.rule("Incident")
    oncall = ", ".join(
        f"level {o.level}: {o.name}" + (f" (@{o.github})" if o.github else "")
        for o in diagnosis.oncall
    )
    console.print(f"#{incident.number} {incident.title}\n{incident.html_url}")
    console.print(f"alerts: {len(incident.alerts)} · status: {incident.status} · on call: {oncall}")
    console.rule("Diagnosis")
    console.print(Markdown("\n".join(analysis_block(diagnosis))))
    console.rule("Fix")
    verification = remediation.verification
    if verification is not None:
        outcome = verification.outcome.value
        console.print(f"verification: [bold]{outcome}[/] — {verification.detail}")
    console.print(remediation.fix_diff or remediation.fix_summary, highlight=False, markup=False)
    console.rule("Pull request")
    repo = ctx.settings.repo_path(ctx.settings.service(name))
    console.print(f"branch {remediation.branch} in {repo}")
    console.print(f"Title: {remediation.pr_title}", markup=False)
    console.print(remediation.pr_body or "", markup=False)
    if remediation.pr_file:
        console.print(f"(written to {remediation.pr_file})")
    notes = client.list_notes(incident.id)
    first = notes[0].content.splitlines()[1] if notes else "-"
    said = f"{len(notes)} note{'s' if len(notes) != 1 else ''} on the incident"
    console.print(f"{said} (ADS's diagnosis with the PR link), the first: {first}", markup=False)
    html, markdown = write_report(ctx, diagnosis)
    console.print(f"report: {html} (and {markdown.name})")
    console.print(f"[green]done[/] in {time.perf_counter() - timeline.started:.1f} s")
