"""``ads analyze``, ``ads remediate``, ``ads report``: one incident, from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError, excerpt
from .cli_common import config_option, reports_errors

if TYPE_CHECKING:
    from ..models import Diagnosis

__all__ = ["analyze", "remediate_command", "report"]

FORMATS = click.Choice(["text", "markdown", "json"])
MAX_INCIDENT_ID_CHARS = 128  # as the PagerDuty facade: ids are 7-14 characters


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
@click.argument("incident_id", required=False)
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
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@reports_errors
def analyze(
    incident_id: str | None,
    config_path: Path | None,
    incident_file: Path | None,
    repo: Path | None,
    service_name: str | None,
    fmt: str,
) -> None:
    """Diagnose INCIDENT_ID: root cause (file, function, line), impact and confidence.

    With --incident FILE.json --repo DIR it works offline on a saved incident, with no
    ads.yaml and no PagerDuty.
    """
    from ..config import ServiceConfig, load_settings
    from ..workflow import Context, diagnose, diagnose_offline
    from .console import console

    if incident_file is not None or repo is not None:
        if incident_file is None or repo is None:
            raise ConfigError("offline analysis needs both --incident FILE.json and --repo DIR")
        service = ServiceConfig(name=service_name) if service_name else None
        with console.status("analysing…"):
            diagnosis = diagnose_offline(incident_file, repo, service=service)
    else:
        if not incident_id:
            raise ConfigError("give an INCIDENT_ID, or --incident FILE.json --repo DIR")
        ctx = Context.from_settings(load_settings(config_path))
        with console.status(f"diagnosing incident {incident_id}…"):
            diagnosis = diagnose(ctx, incident_id)
    _print(diagnosis, fmt)


@click.command("remediate")
@click.argument("incident_id")
@config_option
@click.option("--no-verify", is_flag=True, help="Skip the verification by reproduction.")
@click.option("--no-pr", is_flag=True, help="Do not make the fix branch / pull request.")
@click.option("--no-note", is_flag=True, help="Do not write the note on the incident.")
@reports_errors
def remediate_command(
    incident_id: str, config_path: Path | None, no_verify: bool, no_pr: bool, no_note: bool
) -> None:
    """Diagnose INCIDENT_ID, verify the fix under the same memory limit, open the PR, add a note."""
    from ..config import load_settings
    from ..workflow import Context, remediate
    from .console import console, stage_progress

    ctx = Context.from_settings(load_settings(config_path))
    with stage_progress() as progress:
        result = remediate(
            ctx,
            incident_id,
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
        console.print(f"note on the incident: {result.note_id}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


@click.command()
@click.argument("incident_id")
@config_option
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for report.html and report.md (default: <state dir>/reports/<id>).",
)
@reports_errors
def report(incident_id: str, config_path: Path | None, output: Path | None) -> None:
    """Write the stored diagnosis of INCIDENT_ID as a self-contained HTML page and Markdown."""
    from ..config import load_settings
    from ..workflow import Context, write_report
    from .console import console

    if len(incident_id) > MAX_INCIDENT_ID_CHARS:
        raise ConfigError(
            f"{excerpt(incident_id, 40)} is not a PagerDuty incident id or number "
            f"(at most {MAX_INCIDENT_ID_CHARS} characters)"
        )
    ctx = Context.from_settings(load_settings(config_path))
    diagnosis = ctx.store.diagnosis(incident_id)
    if diagnosis is None:
        raise ConfigError(
            f"no stored diagnosis for incident {incident_id}",
            hint=f"run `ads analyze {incident_id}` or `ads remediate {incident_id}` first",
        )
    paths = write_report(ctx, diagnosis, output)
    for path in paths:
        console.print(f"wrote {path}")
