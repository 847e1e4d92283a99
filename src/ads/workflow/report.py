"""The report of a diagnosis: its text wherever it is shown, and its files and pages.

``write_report`` writes the files: a self-contained HTML page (memory chart, timeline, diff) and
Markdown. ``report_model`` gathers what the report shows from ADS's store (the diagnosis, its
remediation, when the webhook's job arrived) and the repository (its GitHub commit links);
``report_page`` renders it as the ``ads serve`` page. The text renderings of ``actions.report``
(``diagnosis_markdown``, ``diagnosis_json``, ``analysis_block``, ``line_span``) are re-exported
here, so the CLI, the MCP server and the demo show a diagnosis exactly as the report and the
incident note do, without reaching below the workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..actions.report import analysis_block, diagnosis_json, diagnosis_markdown, line_span
from ..actions.report_html import render_page, report_html
from ..actions.report_model import Rejected, ReportModel, build_report_model, run_views
from ..actions.run_figures import RunFigures, run_figures
from ..actions.worktrees import git
from ..errors import AdsError
from ..models import Diagnosis, RunResult
from .context import Context

__all__ = [
    "Rejected",
    "ReportModel",
    "RunFigures",
    "analysis_block",
    "diagnosis_json",
    "diagnosis_markdown",
    "line_span",
    "render_page",
    "report_model",
    "report_page",
    "run_figures",
    "run_views",
    "write_report",
]


def _commit_links(ctx: Context, diagnosis: Diagnosis) -> Callable[[str], str | None]:
    """The web page of a commit when the service's repository is on GitHub."""
    from ..actions.github_pr import github_repo_from_remote  # PyGithub: only when reporting

    service = ctx.settings.services.get(diagnosis.service)
    if service is None:
        return lambda sha: None
    remote = service.repo
    if github_repo_from_remote(remote) is None:
        try:
            root = ctx.settings.repo_path(service)
            remote = git(root, "remote", "get-url", "origin", check=False).stdout.strip()
        except (AdsError, OSError):
            remote = ""
    name = github_repo_from_remote(remote) if remote else None
    if name is None:
        return lambda sha: None
    return lambda sha: f"https://github.com/{name}/commit/{sha}"


def report_model(
    ctx: Context,
    diagnosis: Diagnosis,
    *,
    runs: Sequence[tuple[str, RunResult]] = (),
    rejected: Sequence[Rejected] = (),
) -> ReportModel:
    """Everything the report of ``diagnosis`` shows, from the store (one place for its numbers).
    ``runs`` and ``rejected``: further memory runs (bisection, old/new limit) and the causes
    ruled out, when the diagnosis has them."""
    remediation = ctx.store.remediation(diagnosis.incident.id)
    job = ctx.store.job(diagnosis.incident.id)
    webhook_at = datetime.fromtimestamp(job.created, UTC) if job is not None else None
    return build_report_model(
        diagnosis,
        remediation,
        webhook_at=webhook_at,
        runs=runs,
        rejected=rejected,
        commit_url=_commit_links(ctx, diagnosis),
    )


def report_page(ctx: Context, diagnosis: Diagnosis, *, nav: str | None = None) -> str:
    """The report as an HTML page (``ads serve``'s, with a link back to ``nav``)."""
    return report_html(report_model(ctx, diagnosis), nav=nav)


def write_report(ctx: Context, diagnosis: Diagnosis, output: Path | None = None) -> list[Path]:
    """report.html + report.md for a diagnosis (with its remediation when there is one), in
    ``output`` or ``<state dir>/reports/<incident id>``."""
    target = output or ctx.settings.state_dir / "reports" / diagnosis.incident.id
    target.mkdir(parents=True, exist_ok=True)
    html_path, md_path = target / "report.html", target / "report.md"
    html_path.write_text(report_html(report_model(ctx, diagnosis)), encoding="utf-8")
    md_path.write_text(diagnosis_markdown(diagnosis), encoding="utf-8")
    return [html_path, md_path]
