"""``ads demo --service py-pages-service``: the whole loop on the Python demo service.

A real kernel OOM kill of the Python worker in a memory cgroup, the incident on the local
PagerDuty, the diagnosis naming file, function, line and the commit that removed the cache's
eviction, tracemalloc naming the same site at run time, the verified fix on its branch, the PR
in the brief's format and the note on the incident.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ads.interfaces.demo import run_demo
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.sources.storage import Store
from pagerduty_local import LocalPagerDuty
from tests.interfaces.test_demo import WEEK_ONE, level_one_handle, pinned


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
@pytest.mark.cgroup
def test_python_demo_runs_the_whole_loop(
    tmp_path: Path, cgroup_limiter: MemoryLimiter, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    run_demo(workdir, kills=1, timeout=150, clock=pinned(WEEK_ONE), service="py-pages-service")
    out = capsys.readouterr().out
    assert re.search(r"OOM kill #1 after [\d.]+ s, peak [\d.]+ MiB, exit 137", out), out

    (job,) = Store(workdir / "state" / "ads.db").jobs()
    assert job.status == "done" and job.error is None

    repo = workdir / "py-pages-service"
    branch = "ads/incident-1-fix-memory-leak"
    diff = git(repo, "diff", f"main...{branch}", "--unified=0")
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert added == [
        "+    while len(_pages) > MAX_CACHED_PAGES:",
        "+        _pages.popitem(last=False)",
    ]
    assert removed == []

    pr = (workdir / "state" / "pull-requests" / "1.md").read_text()
    lines = pr.splitlines()
    assert lines[0] == "Title: [Incident #1] Fix memory leak in worker service"
    assert lines[1] == "Description:"
    assert lines[2].startswith("- Incident: https://127.0.0.1:")
    assert lines[3] == "- Severity: SEV-1 (critical)"
    assert lines[4] == "- Root Cause: Memory leak in render_page() function"
    assert lines[5].startswith("- Fix: Bounded _pages to MAX_CACHED_PAGES entries")
    assert lines[6] == "- Affected Service: py-pages-service"
    _, handle = level_one_handle(workdir, WEEK_ONE)
    assert lines[7] == f"- On-Call: @{handle}"
    assert "- Finding: `pages/worker.py:28` in `render_page()`" in pr
    assert '"Keep rendered pages cached: stop evicting hot pages"' in pr  # the commit
    assert "**verified**" in pr
    # tracemalloc at run time: the same function as the static finding, and the patched
    # build's snapshots no longer grow there
    assert "leak site at run time: pages/worker.py:27 in render_page() (matches the finding)" in pr
    verification = next(line for line in lines if line.startswith("- Verification:"))
    assert "tracemalloc on the patched build: no growth at render_page()" in pr, verification
    assert "  - growth site seen at run time: pages/worker.py:27 in render_page()" in pr

    with LocalPagerDuty(workdir / "pagerduty", clock=pinned(WEEK_ONE)) as server:
        client = PagerDuty(
            server.token, api_url=server.api_url, events_url=server.events_url,
            verify=server.ssl_context(),
        )  # fmt: skip
        (incident,) = client.list_incidents()
        notes = client.list_notes(incident.id)
    assert incident.service_name == "py-pages-service"
    assert len(notes) == 1
    assert "pages/worker.py:28 in render_page()" in notes[0].content
    assert branch in notes[0].content and "verified" in notes[0].content

    # The report with its chart, as for C.
    html = (workdir / "state" / "reports" / incident.id / "report.html").read_text()
    assert "<svg" in html and 'id="run-current-build"' in html and 'id="run-patched-build"' in html
    assert 'id="oom-kill-1"' in html
    assert "render_page()" in html


def test_an_unknown_demo_service_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "ads", "demo", "--service", "billing", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "'billing' is not one of 'ads-demo-service', 'py-pages-service'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_demo_the_cli_offers_exists() -> None:
    from ads.interfaces.cli_demo import DEMO_SERVICES
    from ads.interfaces.demo import DEMOS

    assert set(DEMO_SERVICES) == set(DEMOS)
