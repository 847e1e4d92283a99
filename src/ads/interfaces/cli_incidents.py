"""``ads incidents``, ``ads ack``, ``ads resolve``, ``ads analyze``, ``ads remediate``,
``ads report``: finding and handling incidents from the terminal.

Every command that takes an incident takes its number (``1``, ``#1``) or its PagerDuty id.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError
from .cli_common import config_option, reports_errors

if TYPE_CHECKING:
    from ..models import Diagnosis

__all__ = ["ack", "analyze", "incidents", "remediate_command", "report", "resolve"]

FORMATS = click.Choice(["text", "markdown", "json"])
STATUSES = ("triggered", "acknowledged", "resolved")  # as ads.workflow.incidents
URGENCIES = ("high", "low")


def _print(diagnosis: Diagnosis, fmt: str) -> None:
    from rich.markdown import Markdown

    from ..workflow.report import diagnosis_json, diagnosis_markdown
    from .console import console

    if fmt == "json":
        click.echo(diagnosis_json(diagnosis))
    elif fmt == "markdown":
        click.echo(diagnosis_markdown(diagnosis))
    else:
        console.print(Markdown(diagnosis_markdown(diagnosis)))


@click.command()
@click.argument("incident", required=False)
@config_option
@click.option(
    "--incident",
    "incident_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Offline: a saved GET /incidents/{id} body (optionally with its alerts).",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Offline: the repository to analyse (the whole repo is the service's code).",
)
@click.option("--service", "service_name", help="Offline: the service's name.")
@click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="text",
    show_default=True,
    help="text: rendered for the terminal; markdown: the report's Markdown; json: the diagnosis.",
)
@reports_errors
def analyze(
    incident: str | None,
    config_path: Path | None,
    incident_file: Path | None,
    repo: Path | None,
    service_name: str | None,
    fmt: str,
) -> None:
    """Diagnose INCIDENT (its number or id): root cause (file, function, line), impact and
    confidence.

    With --incident FILE.json --repo DIR it works offline on a saved incident, with no
    ads.yaml and no PagerDuty.

    \b
    Examples:
      ads analyze 1
      ads analyze Q1ABCDEF --format json
      ads analyze --incident saved.json --repo ~/src/worker --service worker
    """
    from ..config import ServiceConfig, load_settings
    from ..workflow import Context, diagnose, diagnose_offline, incident_ref
    from .console import console

    if incident_file is not None or repo is not None:
        if incident_file is None or repo is None:
            raise ConfigError("offline analysis needs both --incident FILE.json and --repo DIR")
        service = ServiceConfig(name=service_name) if service_name else None
        with console.status("analysing…"):
            diagnosis = diagnose_offline(incident_file, repo, service=service)
    else:
        if not incident:
            raise ConfigError(
                "give an INCIDENT (number or id), or --incident FILE.json --repo DIR",
                hint="`ads incidents` lists them",
            )
        ref = incident_ref(incident)
        ctx = Context.from_settings(load_settings(config_path))
        with console.status(f"diagnosing incident {incident}…"):
            diagnosis = diagnose(ctx, ref)
    _print(diagnosis, fmt)


@click.command("remediate")
@click.argument("incident")
@config_option
@click.option("--no-verify", is_flag=True, help="Skip the verification by reproduction.")
@click.option("--no-pr", is_flag=True, help="Do not make the fix branch / pull request.")
@click.option("--no-note", is_flag=True, help="Do not write the note on the incident.")
@reports_errors
def remediate_command(
    incident: str, config_path: Path | None, no_verify: bool, no_pr: bool, no_note: bool
) -> None:
    """Diagnose INCIDENT (number or id), verify the fix under the same memory limit, open the
    PR and add a note on the incident.

    \b
    Examples:
      ads remediate 1
      ads remediate 1 --no-pr --no-note      # diagnose and verify only
    """
    from ..config import load_settings
    from ..workflow import Context, incident_ref, remediate
    from .console import console, stage_progress

    ref = incident_ref(incident)
    ctx = Context.from_settings(load_settings(config_path))
    with stage_progress() as progress:
        result = remediate(
            ctx,
            ref,
            verify=not no_verify,
            open_pr=not no_pr,
            write_note=not no_note,
            progress=progress,
        )
    if result.verification is not None:
        console.print(f"verification: [bold]{result.verification.outcome.value}[/]")
    if result.branch:
        console.print(f"branch: {result.branch}")
    if result.pr_url or result.pr_file:
        console.print(f"pull request: {result.pr_url or result.pr_file}")
    if result.note_id:
        console.print(f"note on the incident: {result.note_id} (the diagnosis and the PR link)")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


@click.command()
@click.argument("incident")
@config_option
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for report.html and report.md (default: <state dir>/reports/<id>).",
)
@reports_errors
def report(incident: str, config_path: Path | None, output: Path | None) -> None:
    """Write the stored diagnosis of INCIDENT (number or id) as a self-contained HTML page and
    Markdown.

    \b
    Examples:
      ads report 1
      ads report 1 --output /tmp/incident-1
    """
    from ..config import load_settings
    from ..workflow import Context, incident_ref, stored_diagnosis, write_report
    from .console import console

    incident_ref(incident)  # one line for what cannot be an incident, before reading anything
    ctx = Context.from_settings(load_settings(config_path))
    diagnosis = stored_diagnosis(ctx, incident)
    if diagnosis is None:
        raise ConfigError(
            f"no stored diagnosis for incident {incident}",
            hint=f"run `ads analyze {incident}` or `ads remediate {incident}` first",
        )
    paths = write_report(ctx, diagnosis, output)
    for path in paths:
        console.print(f"wrote {path}")


def _split(values: tuple[str, ...], allowed: tuple[str, ...], option: str) -> list[str]:
    """Repeated and comma-separated values (``--status triggered,acknowledged``), checked."""
    wanted = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in allowed]
    if unknown:
        raise ConfigError(f"{option} {', '.join(unknown)}: not one of {', '.join(allowed)}")
    return wanted


@click.command()
@config_option
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="triggered, acknowledged or resolved (repeat or comma-separate; default: the open "
    "ones, triggered and acknowledged).",
)
@click.option("--all", "all_statuses", is_flag=True, help="Every status, resolved included.")
@click.option(
    "--urgency", "urgencies", multiple=True, help="high or low (repeat or comma-separate)."
)
@click.option("--service", default=None, help="Only this service (its ads.yaml name).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table; json: one object per incident.",
)
@reports_errors
def incidents(
    config_path: Path | None,
    statuses: tuple[str, ...],
    all_statuses: bool,
    urgencies: tuple[str, ...],
    service: str | None,
    fmt: str,
) -> None:
    """List incidents, newest first (like `pd incident list`): number, status, urgency,
    service, title, who is assigned.

    \b
    Examples:
      ads incidents
      ads incidents --status triggered --urgency high --service ads-demo-service
      ads incidents --all --format json
    """
    from rich.table import Table

    from ..config import load_settings
    from ..workflow import Context, list_incidents
    from .console import console

    wanted = _split(statuses, STATUSES, "--status")
    if all_statuses:
        wanted = list(STATUSES)
    elif not wanted:
        wanted = ["triggered", "acknowledged"]
    ctx = Context.from_settings(load_settings(config_path))
    found = list_incidents(
        ctx, statuses=wanted, urgencies=_split(urgencies, URGENCIES, "--urgency"), service=service
    )
    if fmt == "json":
        for item in found:
            click.echo(item.model_dump_json(include=_LISTED))
        return
    if not found:
        console.print(f"no {' or '.join(wanted)} incidents", highlight=False)
        return
    table = Table(box=None, header_style="bold")
    for column in ("#", "id", "status", "urgency", "service", "title", "created", "assigned"):
        table.add_column(column, overflow="fold")
    for item in found:
        table.add_row(
            str(item.number or ""),
            item.id,
            item.status,
            item.urgency or "",
            item.service_name or "",
            item.title,
            item.created_at.strftime("%Y-%m-%d %H:%M"),
            ", ".join(item.assigned_to or item.assignees),
        )
    console.print(table)


_LISTED = {"id", "number", "title", "status", "urgency", "service_name", "created_at",
           "html_url", "assignees", "assigned_to"}  # fmt: skip


def _changed(verb: str, incident: str, config_path: Path | None) -> None:
    from ..config import load_settings
    from ..workflow import Context, acknowledge_incident, resolve_incident
    from .console import console

    ctx = Context.from_settings(load_settings(config_path))
    action = acknowledge_incident if verb == "acknowledged" else resolve_incident
    changed = action(ctx, incident)
    number = f"#{changed.number}" if changed.number is not None else changed.id
    console.print(f"incident {number} {verb}: {changed.title}", highlight=False)


@click.command()
@click.argument("incident")
@config_option
@reports_errors
def ack(incident: str, config_path: Path | None) -> None:
    """Acknowledge INCIDENT (number or id): you are on it; PagerDuty stops escalating it.

    \b
    Examples:
      ads ack 1
    """
    _changed("acknowledged", incident, config_path)


@click.command()
@click.argument("incident")
@config_option
@reports_errors
def resolve(incident: str, config_path: Path | None) -> None:
    """Resolve INCIDENT (number or id): the problem is fixed. Until it is resolved, new OOM
    kills of the same workload are added to it as alerts instead of opening a new incident.

    \b
    Examples:
      ads resolve 1
    """
    _changed("resolved", incident, config_path)
