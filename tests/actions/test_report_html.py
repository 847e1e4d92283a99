"""The HTML report, read the way an SRE reads it, from a diagnosis and remediation recorded
from a real ``ads demo`` run (tests/fixtures/report_recorded).

What is checked: the summary box answers first; the Markdown is rendered (no ``**`` left); the
links go to the incident, the PR text and the introducing commit; the timeline has the kill,
the page and every stage with its duration; the chart has ticks on both axes, the limit line and
a kill marker; every figure of a run is the same in the bullets, the chart and the text; an
analysis-only report says "Not verified"; the page loads nothing from the network.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ads.actions.report_html import diagnosis_html, report_html
from ads.actions.report_model import Rejected, build_report_model
from ads.actions.run_figures import run_figures
from ads.models import CauseKind, Diagnosis, Hypothesis, Remediation, Verdict
from ads.units import format_bytes

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "report_recorded"


@pytest.fixture(scope="module")
def diagnosis() -> Diagnosis:
    return Diagnosis.model_validate_json((RECORDED / "diagnosis.json").read_text())


@pytest.fixture(scope="module")
def remediation() -> Remediation:
    return Remediation.model_validate_json((RECORDED / "remediation.json").read_text())


@pytest.fixture(scope="module")
def page(diagnosis: Diagnosis, remediation: Remediation) -> str:
    return diagnosis_html(diagnosis, remediation)


def text_of(html: str) -> str:
    """What a reader sees: the page without its tags, styles and chart."""
    html = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_summary_box_answers_first(page: str) -> None:
    summary = page[
        page.index('id="summary"') : page.index("</section>", page.index('id="summary"'))
    ]
    seen = text_of(summary)
    assert "worker.c:26-27 in controller() — memory allocation without corresponding free" in seen
    assert "Confidence High" in seen and "Verification verified" in seen
    assert "ads/incident-1-fix-memory-leak" in seen
    assert page.index('id="summary"') < page.index('id="memory"') < page.index('id="timeline"')
    assert "<title>ADS: ads-demo-service · incident #1 · 2026-12-02" in page
    assert 'id="not-verified"' not in page


def test_markdown_is_rendered_not_shown_raw(page: str) -> None:
    seen = text_of(page)
    assert "**" not in seen and "`" not in seen
    assert "<strong>File</strong>" in page and "<code>worker.c</code>" in page
    assert "<pre>" not in page.split('id="diagnosis"')[1].split("</section>")[0]


def test_links_to_the_incident_the_pr_and_the_commit(
    page: str, diagnosis: Diagnosis, remediation: Remediation
) -> None:
    hrefs = set(re.findall(r'<a href="([^"]+)"', page))
    assert diagnosis.incident.html_url in hrefs
    assert f"file://{remediation.pr_file}" in hrefs
    sha = diagnosis.findings[0].introduced_by.sha  # type: ignore[union-attr]
    assert f"#commit-{sha[:12]}" in hrefs and f'id="commit-{sha[:12]}"' in page


def test_the_diff_is_coloured(page: str) -> None:
    fix = page.split('id="fix"')[1].split("</section>")[0]
    assert re.search(r'<span class="gi">\+\s+free\(buffer\);', fix)  # Pygments: inserted line
    assert ".diff .highlight .gi" in page  # … and the colour for it is in the page's style


def test_the_timeline_has_kill_page_and_stages_in_order(page: str) -> None:
    timeline = text_of(page.split('id="timeline"')[1].split("</section>")[0])
    order = [
        "OOM kill #1",
        "incident #1 opened",
        "Notified Bob Martins by email (on call, level 1)",
        "diagnosis",
        "fix verification: verified",
        "pull request",
        "note written on the incident",
    ]
    places = [timeline.index(step) for step in order]
    assert places == sorted(places), timeline
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3}", timeline)  # absolute times …
    assert re.search(r"fix verification: verified \d+\.\d\d s", timeline)  # … and durations


def test_the_kill_history_lists_each_kill(page: str, diagnosis: Diagnosis) -> None:
    kills = text_of(page.split('id="kills"')[1].split("</section>")[0])
    assert len(diagnosis.incident.alerts) >= 1
    assert "64.0 MiB" in kills and "64Mi" in kills and "default/unknown/worker" in kills


def test_the_chart_has_ticks_limit_marker_and_legend(page: str) -> None:
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'id="memory-chart"' in svg
    ticks = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert {"0", "10", "20", "30", "40", "50", "60"} <= {t.strip() for t in ticks}  # MiB
    assert {"0.0", "1.0", "2.0", "3.0"} <= {t.strip() for t in ticks}  # seconds
    assert "memory (MiB)" in ticks and "seconds since the run started" in ticks
    assert 'id="limit-line"' in svg and "limit 64Mi" in ticks
    assert 'id="oom-kill-1"' in svg and 'id="oom-kill-2"' not in svg  # one kill, one marker
    assert {"current build", "patched build", "OOM kill"} <= set(ticks)  # the legend


def test_one_set_of_numbers_in_bullets_chart_and_text(page: str, remediation: Remediation) -> None:
    assert remediation.verification is not None and remediation.verification.before is not None
    figures = run_figures(remediation.verification.before)
    assert figures.seconds_to_kill is not None
    bullets = page.split('id="run-figures"')[1].split("</ul>")[0]
    current = text_of(bullets.split("<li>")[1])
    peak, took = format_bytes(figures.peak), f"{figures.seconds_to_kill:.1f} s"
    growth = f"{format_bytes(figures.growth)}/s"
    assert f"peak {peak}" in current and f"after {took}" in current
    assert f"growth {growth}" in current
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert f"OOMKilled at {took}" in svg
    # The verification text (written when it ran) says the same of the same run.
    detail = remediation.verification.detail
    assert f"after {took}" in detail and f"peak {peak}" in detail and f"growth {growth}" in detail


def test_analysis_only_says_not_verified(diagnosis: Diagnosis) -> None:
    page = diagnosis_html(diagnosis, None)
    banner = text_of(page.split('id="not-verified"')[1].split("</p>")[0])
    assert "Not verified" in banner and "analysis only" in banner
    assert "<svg" not in page  # no run, no chart
    assert "none opened" in text_of(page)


def test_rejected_hypotheses_and_more_runs_are_shown_when_there_are(
    diagnosis: Diagnosis, remediation: Remediation
) -> None:
    assert remediation.verification is not None and remediation.verification.before is not None
    old_limit = remediation.verification.after
    assert old_limit is not None
    model = build_report_model(
        diagnosis,
        remediation,
        runs=[
            ("bisection: 998e833", remediation.verification.before),
            ("at the old limit 128Mi", old_limit),
        ],
        rejected=[Rejected("memory limit lowered", "the service grows at any limit")],
    )
    page = report_html(model)
    assert "memory limit lowered" in text_of(page.split('id="rejected"')[1])
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "bisection: 998e833" in svg and "at the old limit 128Mi" in svg
    assert 'id="oom-kill-2"' in svg  # the bisection run was killed too: its own marker
    assert [r.label for r in model.runs][:2] == ["current build", "patched build"]


def test_self_contained_and_escaped(diagnosis: Diagnosis, remediation: Remediation) -> None:
    hostile = diagnosis.model_copy(deep=True)
    hostile.findings[0].issue = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
    page = diagnosis_html(hostile, remediation)
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1)', page.split("<body>")[0])
    assert "<link" not in page  # no stylesheet fetched: the style is inline
    assert '<meta name="viewport"' in page and "@media print" in page


def test_the_diagnosis_rejected_hypotheses_and_a_limit_fix_runs_are_shown(
    diagnosis: Diagnosis, remediation: Remediation
) -> None:
    """What issue 14's differential diagnosis stores: hypotheses with verdicts, and a limit fix
    verified by the current build at the lowered and at the restored limit."""
    judged = diagnosis.model_copy(deep=True)
    judged.hypotheses = [
        Hypothesis(kind=CauseKind.LEAK, verdict=Verdict.SUPPORTED, summary="loop leak"),
        Hypothesis(
            kind=CauseKind.LIMIT_LOWERED,
            verdict=Verdict.REJECTED,
            summary="limit 128Mi → 64Mi by 4b5e2bf",
            reasons=["the current build is OOM-killed at 128Mi too"],
        ),
        Hypothesis(kind=CauseKind.LOAD, verdict=Verdict.UNDECIDED, summary="load"),
    ]
    limit_fix = remediation.model_copy(deep=True)
    assert limit_fix.verification is not None and limit_fix.verification.after is not None
    limit_fix.verification.after.memory_limit = 128 * 1024 * 1024
    page = diagnosis_html(judged, limit_fix)
    rejected = text_of(page.split('id="rejected"')[1].split("</section>")[0])
    assert "memory limit lowered: limit 128Mi → 64Mi by 4b5e2bf" in rejected
    assert "OOM-killed at 128Mi too" in rejected
    assert "load" not in rejected and "loop leak" not in rejected  # only what was ruled out
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "current build at 64Mi" in svg and "current build at 128Mi" in svg
    assert 'id="limit-line"' in svg and 'id="limit-line-2"' in svg and "limit 128Mi" in svg
