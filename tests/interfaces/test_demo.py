"""`make demo`'s flow, hands-free: each step leaves its artefact, checked after the fact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ads.interfaces.pagerduty_server import LocalPagerDuty
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.sources.storage import Store


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.cgroup
def test_demo_runs_the_whole_loop(tmp_path: Path, cgroup_limiter: MemoryLimiter) -> None:
    workdir = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "demo", "--workdir", str(workdir), "--kills", "2"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "webhook incident.triggered received" in proc.stdout

    # The job: exactly one, done.
    (job,) = Store(workdir / "state" / "ads.db").jobs()
    assert job.status == "done" and job.error is None

    # The branch: one commit on top of main, holding exactly the one-line fix.
    repo = workdir / "ads-demo-service"
    branch = "ads/incident-1-fix-memory-leak"
    diff = git(repo, "diff", f"main...{branch}", "--unified=0")
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert added == ["+        free(buffer);"] and removed == []
    assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "status", "--porcelain").strip() == ""

    # The PR text, field by field in the brief's format.
    pr = (workdir / "state" / "pull-requests" / "1.md").read_text().splitlines()
    assert pr[0] == "Title: [Incident #1] Fix memory leak in worker service"
    assert pr[1] == "Description:"
    assert pr[2].startswith("- Incident: https://127.0.0.1:")
    assert pr[3] == "- Severity: SEV-1 (critical)"
    assert pr[4] == "- Root Cause: Memory leak in controller() function"
    assert pr[5] == "- Fix: Added free(buffer) to prevent memory leak"
    assert pr[6] == "- Affected Service: ads-demo-service"
    assert pr[7] == "- On-Call: @alice-sre"
    assert any("**verified**" in line for line in pr)

    # The incident and its note, read back from the local PagerDuty's saved state.
    with LocalPagerDuty(workdir / "pagerduty") as server:
        client = PagerDuty(
            server.token,
            api_url=server.api_url,
            events_url=server.events_url,
            verify=server.ssl_context(),
        )
        (incident,) = client.list_incidents()
        notes = client.list_notes(incident.id)
    assert len(notes) == 1
    assert "worker.c:26-27 in controller()" in notes[0].content
    assert branch in notes[0].content and "verified" in notes[0].content

    # The report with its chart.
    html = (workdir / "state" / "reports" / incident.id / "report.html").read_text()
    assert "<svg" in html and 'data-series="current build"' in html
    assert 'class="oom-kill"' in html  # the kill is marked where the current build died


def test_demo_refuses_a_workdir_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "my-service"
    precious.mkdir()
    (precious / "main.c").write_text("int main(void) { return 0; }\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "demo", "--workdir", str(precious)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr
    assert (precious / "main.c").is_file()
