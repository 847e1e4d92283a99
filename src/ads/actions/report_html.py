"""The self-contained HTML report: the picture an SRE looks at first.

One file, no scripts, no external assets: the diagnosis, the fix diff, and an inline SVG chart
of memory over time for the current build (climbing into the limit line, killed) and the patched
build (flat), drawn from the samples the verification recorded.
"""

from __future__ import annotations

import html

from ..models import Diagnosis, MemorySample, Remediation, RunResult
from ..units import format_bytes, format_quantity
from .report import diagnosis_markdown

__all__ = ["diagnosis_html", "memory_chart_svg"]

WIDTH, HEIGHT, PAD = 720, 300, 48


def _series(samples: list[MemorySample]) -> list[tuple[float, int]]:
    if not samples:
        return []
    start = samples[0].t
    return [(s.t - start, s.bytes) for s in samples]


def memory_chart_svg(before: RunResult | None, after: RunResult | None, limit: int) -> str:
    """An SVG line chart of memory (MiB) against seconds, with the limit as a red line."""
    runs = [("current build", "#d62728", before), ("patched build", "#2ca02c", after)]
    series = [(name, colour, _series(run.samples)) for name, colour, run in runs if run]
    max_t = max((p[0] for _, _, pts in series for p in pts), default=1.0) or 1.0
    max_y = max([limit, *(p[1] for _, _, pts in series for p in pts)]) * 1.1

    def x(t: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * t / max_t

    def y(b: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * b / max_y

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="memory over time" class="memory-chart">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}" stroke="#444"/>',
        f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{y(0):.1f}" stroke="#444"/>',
        f'<line x1="{PAD}" y1="{y(limit):.1f}" x2="{WIDTH - PAD}" y2="{y(limit):.1f}" '
        f'stroke="red" stroke-dasharray="6 4"/>',
        f'<text x="{WIDTH - PAD}" y="{y(limit) - 6:.1f}" text-anchor="end" fill="red" '
        f'font-size="12">limit {format_quantity(limit)}</text>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle" font-size="12">'
        f"seconds (0 – {max_t:.1f})</text>",
        f'<text x="12" y="{HEIGHT / 2}" font-size="12" transform="rotate(-90 12 {HEIGHT / 2})" '
        f'text-anchor="middle">memory (max {format_bytes(max_y)})</text>',
    ]
    for index, (name, colour, points) in enumerate(series):
        if points:
            path = " ".join(f"{x(t):.1f},{y(b):.1f}" for t, b in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}" '
                f'data-series="{html.escape(name)}"/>'
            )
        parts.append(
            f'<text x="{PAD + 10}" y="{PAD / 2 + 16 * (index + 1)}" fill="{colour}" '
            f'font-size="12">{html.escape(name)}</text>'
        )
    if before is not None and before.events and series and series[0][2]:
        t, b = series[0][2][-1]
        top = min(y(b), y(limit)) - 8
        parts.append(
            f'<text x="{x(t) + 6:.1f}" y="{top:.1f}" fill="#d62728" font-size="12" '
            f'font-weight="bold" class="oom-kill">✕ OOMKilled (exit 137)</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _figures(run: RunResult | None, label: str) -> str:
    if run is None:
        return f"<li>{label}: not run</li>"
    peak = max((s.bytes for s in run.samples), default=0)
    kills = len(run.events)
    return (
        f"<li>{label}: {run.duration:.1f} s, peak {format_bytes(peak)}, "
        f"{kills} OOM kill{'s' if kills != 1 else ''} ({html.escape(run.mode.value)})</li>"
    )


def diagnosis_html(diagnosis: Diagnosis, remediation: Remediation | None) -> str:
    """The whole report as one HTML page."""
    incident = diagnosis.incident
    title = f"ADS diagnosis: incident #{incident.number or incident.id}"
    body = [f"<h1>{html.escape(title)}</h1>"]
    verification = remediation.verification if remediation else None
    if verification is not None:
        runs = [r for r in (verification.before, verification.after) if r is not None]
        limit = runs[0].memory_limit if runs else 0
        body += [
            f"<h2>Memory, before and after the fix: {html.escape(verification.outcome.value)}</h2>",
            memory_chart_svg(verification.before, verification.after, limit),
            "<ul>",
            _figures(verification.before, "current build"),
            _figures(verification.after, "patched build"),
            "</ul>",
            f"<p>{html.escape(verification.detail)}</p>",
        ]
    body += ["<h2>Diagnosis</h2>", f"<pre>{html.escape(diagnosis_markdown(diagnosis))}</pre>"]
    if remediation and remediation.fix_diff:
        body += ["<h2>Fix</h2>", f"<pre class='diff'>{html.escape(remediation.fix_diff)}</pre>"]
    if remediation and remediation.branch:
        link = remediation.pr_url or remediation.branch
        body.append(f"<p>Pull request: {html.escape(link)}</p>")
    if remediation and remediation.rollback:
        body += ["<h2>Rollback</h2>", f"<pre>{html.escape(remediation.rollback)}</pre>"]
    if remediation and remediation.mitigation:
        body += ["<h2>Mitigation</h2>", f"<pre>{html.escape(remediation.mitigation)}</pre>"]
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "pre{background:#f6f8fa;padding:1em;overflow-x:auto}"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
