"""The self-contained HTML report, from Jinja2 templates: the page an SRE looks at first.

One file, no scripts, no external assets: inline CSS, the inline SVG chart (``report_chart``),
the diagnosis' Markdown rendered by markdown-it-py (raw HTML in it is escaped, never passed
through), the fix diff coloured by Pygments. Readable at phone width, printable. The templates
(``templates/``, shipped in the wheel) are shared with the pages of ``ads serve``
(``render_page``), so a report looks the same in a file and in the browser.

Jinja2, markdown-it-py, Pygments and matplotlib are imported inside the functions: only
rendering a report pays for them (``ads --help`` loads none).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..models import Diagnosis, Remediation
from ..units import format_bytes, format_quantity
from .report_model import ReportModel, build_report_model

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["diagnosis_html", "render_markdown", "render_page", "report_html"]


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("ads.actions", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = format_bytes
    env.filters["quantity"] = format_quantity
    env.filters["clock"] = _clock
    return env


@cache
def _css() -> str:
    return (resources.files("ads.actions") / "templates" / "style.css").read_text("utf-8")


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    """Markdown as HTML; HTML inside the text is shown as text, never run."""
    return str(_markdown().render(text))


@cache
def _diff_css() -> str:
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style="default").get_style_defs(".diff .highlight"))


def _diff_html(diff: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    return str(highlight(diff, DiffLexer(), HtmlFormatter(style="default")))


def render_page(template: str, *, page_title: str, **context: object) -> str:
    """One page from ``templates/`` with the shared style (the report, the ``ads serve``
    pages)."""
    page = _environment().get_template(template)
    return page.render(page_title=page_title, css=_css(), extra_css=_diff_css(), **context)


def _without_title(markdown: str) -> str:
    """The diagnosis' Markdown without its first heading: the page has its own title."""
    lines = markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines)


def report_context(report: ReportModel) -> dict[str, object]:
    """What the report templates need, rendered: the chart, the Markdown, the diff."""
    from .report_chart import memory_chart_svg

    return {
        "report": report,
        "chart": memory_chart_svg(report.runs, report.limit) if report.runs else "",
        "diagnosis_html": render_markdown(_without_title(report.diagnosis_markdown)),
        "diff_html": _diff_html(report.fix_diff) if report.fix_diff else "",
        "rollback_html": render_markdown(report.rollback) if report.rollback else "",
        "mitigation_html": render_markdown(report.mitigation) if report.mitigation else "",
    }


def report_html(report: ReportModel, *, nav: str | None = None) -> str:
    """The report page of ``report``; ``nav`` links back to a list (the ``ads serve`` page)."""
    return render_page(
        "report.html.j2", page_title=f"ADS: {report.title}", nav=nav, **report_context(report)
    )


def diagnosis_html(diagnosis: Diagnosis, remediation: Remediation | None) -> str:
    """The whole report as one HTML page, from what is stored alone."""
    return report_html(build_report_model(diagnosis, remediation))
