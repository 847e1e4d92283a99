"""The report of a diagnosis: its text wherever it is shown, and its files.

``write_report`` writes the files: a self-contained HTML page (memory chart, diff) and Markdown.
The text renderings of ``actions.report`` (``diagnosis_markdown``, ``diagnosis_json``,
``analysis_block``, ``line_span``) are re-exported here, so the CLI, the MCP server and the demo
show a diagnosis exactly as the report and the incident note do, without reaching below the
workflow.
"""

from __future__ import annotations

from pathlib import Path

from ..actions.report import analysis_block, diagnosis_json, diagnosis_markdown, line_span
from ..actions.report_html import diagnosis_html
from ..models import Diagnosis
from .context import Context

__all__ = ["analysis_block", "diagnosis_json", "diagnosis_markdown", "line_span", "write_report"]


def write_report(ctx: Context, diagnosis: Diagnosis, output: Path | None = None) -> list[Path]:
    """report.html + report.md for a diagnosis (with its remediation when there is one), in
    ``output`` or ``<state dir>/reports/<incident id>``."""
    target = output or ctx.settings.state_dir / "reports" / diagnosis.incident.id
    target.mkdir(parents=True, exist_ok=True)
    remediation = ctx.store.remediation(diagnosis.incident.id)
    html_path, md_path = target / "report.html", target / "report.md"
    html_path.write_text(diagnosis_html(diagnosis, remediation), encoding="utf-8")
    md_path.write_text(diagnosis_markdown(diagnosis), encoding="utf-8")
    return [html_path, md_path]
