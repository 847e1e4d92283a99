"""``ads demo`` piped into a log at 80 columns: plain one-line events, one short summary.

What a person scrolling a CI log or a ``| tee`` checks: no line wider than the terminal, no
progress-bar frames or cursor codes in the log, the whole run in at most 70 lines, and a final
summary that fits one 80×24 screen with the root cause, the verification, the PR, the note and
where the report is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ads.sources.monitors import MemoryLimiter


@pytest.mark.slow
@pytest.mark.cgroup
def test_piped_demo_is_short_plain_and_fits_80_columns(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "demo", "--workdir", str(tmp_path / "demo"), "--kills", "2"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    everything = lines + proc.stderr.splitlines()
    assert len(everything) <= 70, proc.stdout
    too_wide = [line for line in everything if len(line) > 80]
    assert too_wide == [], too_wide
    for frame in ("█", "░", "\r", "\x1b[", "⠋", "⠙"):  # bars, spinners, cursor movement
        assert frame not in proc.stdout, f"progress frame {frame!r} in the piped output"

    # The events, one line each, in the order they happened.
    order = ["built the worker", "OOM kill #1", "webhook incident.triggered received",
             "diagnose done", "verification done", "note done", "─ done in"]  # fmt: skip
    places = [next(i for i, line in enumerate(lines) if step in line) for step in order]
    assert places == sorted(places), proc.stdout

    # The summary: one screen, the answers in it.
    summary = lines[places[-1] :]
    assert len(summary) <= 24, "\n".join(summary)
    said = "\n".join(summary)
    assert "worker.c:26-27 in controller()" in said
    for label in ("root cause", "verified", "PR", "note", "report"):
        assert any(line.startswith(label) for line in summary), (label, said)
    report = next(line for line in summary if line.startswith("report")).split()[-1]
    assert (tmp_path / report).is_file() and report.endswith("report.html")  # relative to cwd
    assert "ads/incident-1-fix-memory-leak" in said
    # Counters agree: the summary counts the alerts the incident has, one per kill sent.
    assert "OOM alert" in said
