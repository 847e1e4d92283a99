"""Terminal output shared by the commands: a live status for runs, tables for OOM kills.

Anything a person waits on for more than a second shows a live line (rich), so nobody stares at
a silent terminal while a worker climbs towards its limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..models import BisectRun, MemorySample, OomEvent
from ..units import format_bytes, format_quantity

__all__ = [
    "LiveRunStatus",
    "bisect_progress",
    "console",
    "err_console",
    "oom_table",
    "stage_line",
    "stage_progress",
    "when_terminal",
]

console = Console()
err_console = Console(stderr=True)

BAR_WIDTH = 30


def _bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


class LiveRunStatus:
    """A one-line live status of a local run: restart, memory against the limit, last output.

    It has every hook of the local runtime's ``RunObserver`` (a protocol), so it is one.
    """

    def __init__(self, service: str, *, target: Console | None = None, events: bool = True) -> None:
        self.service = service
        self.console = target or console
        self.events = events  # print builds, kills, exits and back-offs (the demo has its own)
        self.restart = 0
        self.usage = 0
        self.limit = 1
        self.last_output = ""
        self.kills = 0
        # Only a terminal gets the live line, and it goes away when the run ends (transient):
        # piped, frames would pile up in the log between the events.
        self.live = (
            Live(self._render(), console=self.console, refresh_per_second=10, transient=True)
            if self.console.is_terminal
            else None
        )

    def __enter__(self) -> LiveRunStatus:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def _render(self) -> Text:
        """One line, never wider than the terminal: the run under way, the kills so far, its
        memory against the limit; below it, that run's last output line (cut to fit)."""
        width = self.console.width
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{self.service} ", style="bold")
        kills = f"{self.kills} OOM kill{'s' if self.kills != 1 else ''}"
        line.append(f"run {self.restart + 1} · {kills} · ")
        fraction = self.usage / self.limit if self.limit else 0.0
        style = "red" if fraction > 0.85 else "yellow" if fraction > 0.5 else "green"
        line.append(_bar(fraction, max(5, min(BAR_WIDTH, width - len(line) - 22))), style=style)
        line.append(f" {format_bytes(self.usage)} / {format_quantity(self.limit)}")
        line.truncate(width, overflow="ellipsis")
        if self.last_output:
            output = Text(f"  {self.last_output}", style="dim", no_wrap=True)
            output.truncate(width, overflow="ellipsis")
            return Text("\n").join([line, output])
        return line

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def notice(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {message}")

    def built(self, git_sha: str | None) -> None:
        sha = git_sha[:12] if git_sha else "not a git checkout"
        if self.events:
            self.console.print(f"built {self.service} ({sha})")

    def started(self, restart: int, pid: int) -> None:
        self.restart = restart
        self.usage = 0
        self.last_output = ""  # the line shown is always this run's own
        self._refresh()

    def sample(self, sample: MemorySample, limit: int) -> None:
        self.usage, self.limit = sample.bytes, limit
        self._refresh()

    def output(self, line: str) -> None:
        self.last_output = line
        self._refresh()

    def oom_killed(self, event: OomEvent) -> None:
        self.kills += 1
        took = event.seconds_to_kill
        after = f" after {took:.1f} s" if took is not None else ""
        self._refresh()
        if not self.events:
            return
        self.console.print(
            f"[bold red]OOMKilled[/] {event.service} pid {event.pid} exit {event.exit_code}"
            f"{after}, peak {format_bytes(event.peak_usage or 0)} ({event.mode.value})"
        )

    def exited(self, restart: int, exit_code: int) -> None:
        if self.events:
            self.console.print(f"{self.service} exited with code {exit_code}")

    def backing_off(self, restart: int, delay: float) -> None:
        if delay > 0 and self.events:
            self.console.print(f"[dim]back-off {delay:.1f} s before restart {restart}[/]")


def oom_table(events: list[OomEvent]) -> Table:
    """The recorded OOM kills, as a kubelet's restart history would show them."""
    services = {event.service for event in events}
    title = f"OOM kills of {', '.join(sorted(services))}" if services else "OOM kills"
    table = Table(title=title)  # the service once in the title: every column fits 80 columns
    for column in ("#", "pid", "exit", "limit", "peak", "after", "killed at", "sha"):
        table.add_column(column, no_wrap=True)
    for number, event in enumerate(events, 1):
        took = event.seconds_to_kill
        table.add_row(
            str(number),
            str(event.pid),
            str(event.exit_code),
            format_quantity(event.memory_limit or 0),
            format_bytes(event.peak_usage or 0),
            f"{took:.1f} s" if took is not None else "?",
            event.killed_at.strftime("%H:%M:%S"),
            (event.git_sha or "-")[:7],
        )
    return table


def stage_line(stage: str, state: str, took: float | None = None) -> str | None:
    """How a finished stage is shown: ✓ only for "done"; a failure, an interruption or a stage
    with nothing to do is never shown as a success (``ads.workflow.remediate.Stage``)."""
    timing = f" [dim]({took:.1f} s)[/]" if took is not None else ""
    if state == "done":
        return f"[green]✓[/] {stage}{timing}"
    if state == "failed":
        return f"[red]✗[/] {stage} [red]failed[/]{timing}"
    if state == "interrupted":
        return f"[red]✗[/] {stage} [red]interrupted[/]{timing}"
    if state.startswith("nothing"):
        why = state.partition(":")[2].strip() or "nothing to do"
        return f"[yellow]–[/] {stage} [yellow]({why})[/]{timing}"
    if state == "skipped":
        return f"[green]✓[/] {stage} [dim](done before: resumed from its checkpoint)[/]"
    return None


@contextmanager
def when_terminal(message: str, target: Console | None = None) -> Iterator[None]:
    """A spinner saying what is under way, on a terminal only; piped, nothing (its frames would
    end up in the log)."""
    out = target or console
    if not out.is_terminal:
        yield
        return
    with out.status(message):
        yield


@contextmanager
def stage_progress(target: Console | None = None) -> Iterator[Callable[[str, str], None]]:
    """A live spinner naming the stage under way; each finished stage printed with its time."""
    out = target or console
    started: dict[str, float] = {}
    with out.status("starting…") as status:

        def progress(stage: str, state: str) -> None:
            if state == "start":
                started[stage] = time.perf_counter()
                status.update(f"{stage}…")
                return
            took = time.perf_counter() - started[stage] if stage in started else None
            line = stage_line(stage, state, took)
            if line is not None:
                out.print(line, highlight=False)

        yield progress


@contextmanager
def bisect_progress(
    service: str, *, quiet: bool = False, target: Console | None = None
) -> Iterator[Callable[[BisectRun, int], None]]:
    """Progress of ``ads bisect``: a line per run (sha, subject, verdict, why, how many are
    left), under a live spinner on a terminal; plain lines when piped. ``quiet`` sends the
    lines to stderr, so ``--format json`` keeps stdout for the JSON."""
    out = err_console if quiet else (target or console)
    count = 0
    status = (
        out.status(f"bisecting {service}: building the first candidate")
        if out.is_terminal
        else None
    )

    def show(run: BisectRun, left: int) -> None:
        nonlocal count
        count += 1
        out.print(
            f"run {count}: {run.sha[:12]} {run.subject} — {run.verdict} ({run.detail}); "
            f"{left} commit(s) left to test",
            highlight=False,
            soft_wrap=True,
        )
        if status is not None:
            status.update(f"bisecting {service}: {count} run(s) done, {left} commit(s) left")

    if status is None:
        yield show
        return
    with status:
        yield show
