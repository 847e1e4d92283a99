"""`make demo`'s flow, hands-free: each step leaves its artefact, checked after the fact.

The demo runs in process with the local PagerDuty's clock pinned to a Monday in each of two
consecutive weeks: the seed's weekly rotation puts a different person on call in each, and the
PR must tag whoever the local PagerDuty says is on call then — in any week the suite runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ads.interfaces.demo import run_demo
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.sources.storage import Store
from pagerduty_local import LocalPagerDuty

WEEK_ONE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
WEEK_TWO = WEEK_ONE + timedelta(days=7)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def pinned(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and runs at real speed."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def level_one_handle(workdir: Path, start: datetime) -> tuple[str, str]:
    """Who the local PagerDuty says is on call at level 1 of the demo service at ``start``."""
    with LocalPagerDuty(workdir / "pagerduty", clock=pinned(start)) as server:
        client = PagerDuty(
            server.token, api_url=server.api_url, events_url=server.events_url,
            verify=server.ssl_context(),
        )  # fmt: skip
        service = client.find_service("ads-demo-service")
        (first,) = [o for o in client.oncalls_for_service(service["id"]) if o.level == 1]
    assert first.github, first
    return first.name, first.github


@pytest.mark.slow
@pytest.mark.cgroup
@pytest.mark.parametrize("start", [WEEK_ONE, WEEK_TWO], ids=["week-one", "week-two"])
def test_demo_runs_the_whole_loop(
    tmp_path: Path,
    cgroup_limiter: MemoryLimiter,
    capsys: pytest.CaptureFixture[str],
    start: datetime,
) -> None:
    workdir = tmp_path / "demo"
    run_demo(workdir, kills=2, timeout=120, clock=pinned(start))
    out = capsys.readouterr().out
    assert "webhook incident.triggered received" in out

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
    _, handle = level_one_handle(workdir, start)
    assert pr[7] == f"- On-Call: @{handle}"
    assert any("**verified**" in line for line in pr)

    # The incident and its note, read back from the local PagerDuty's saved state.
    with LocalPagerDuty(workdir / "pagerduty", clock=pinned(start)) as server:
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

    assert incident.created_at.date() == start.date()

    # The report with its chart.
    html = (workdir / "state" / "reports" / incident.id / "report.html").read_text()
    assert "<svg" in html and 'id="run-current-build"' in html and 'id="run-patched-build"' in html
    assert 'id="oom-kill-1"' in html  # the kill is marked where the current build died
    assert "webhook received by ads serve" in html  # the timeline has the job's arrival


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


def test_the_two_pinned_weeks_have_different_people_on_call(tmp_path: Path) -> None:
    """What makes the demo test above meaningful in every week: the rotation does turn."""
    one = level_one_handle(tmp_path / "one", WEEK_ONE)
    two = level_one_handle(tmp_path / "two", WEEK_TWO)
    assert one != two
