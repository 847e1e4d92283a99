"""``ads analyze``, ``ads remediate`` and ``ads report`` as a user runs them (local PagerDuty)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ads.interfaces.demo_workspace import create_demo_workspace
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty
from tests.fixtures.cli import Ran, run_ads
from tests.fixtures.pagerduty import demo_kill, page_oom


def ads(repo: Path, server: LocalPagerDuty, *args: str, token: str | None = None) -> Ran:
    """``ads *args --config repo/ads.yaml`` against ``server``, in-process (``fixtures.cli``)."""
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": token or server.token,
        "PAGERDUTY_API_HOST": server.api_url,
        "ADS_PAGERDUTY_CA": str(server.ca_file),
    }
    return run_ads(*args, "--config", str(repo / "ads.yaml"), cwd=repo, env=env)


@pytest.mark.slow
@pytest.mark.cgroup
def test_analyze_remediate_report(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    page_oom(local_pagerduty, pagerduty_client, demo_kill(restart_count=2))
    (incident,) = pagerduty_client.list_incidents()

    analyzed = ads(repo, local_pagerduty, "analyze", incident.id, "--format", "json")
    assert analyzed.returncode == 0, analyzed.stderr
    top = json.loads(analyzed.stdout)["findings"][0]
    assert (top["file"], top["function"], top["line"], top["confidence"]) == (
        "worker.c", "controller", 26, "High"
    )  # fmt: skip

    remediated = ads(repo, local_pagerduty, "remediate", incident.id)
    assert remediated.returncode == 0, remediated.stderr
    assert "verification: verified" in remediated.stdout
    assert "branch: ads/incident-1-fix-memory-leak" in remediated.stdout
    notes = pagerduty_client.list_notes(incident.id)
    assert len(notes) == 1 and "ads/incident-1-fix-memory-leak" in notes[0].content

    again = ads(repo, local_pagerduty, "remediate", incident.id, "--no-verify")
    assert again.returncode == 0, again.stderr
    assert len(pagerduty_client.list_notes(incident.id)) == 1  # same branch: no second note
    branches = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "ads/*fix*"], capture_output=True, text=True
    ).stdout.split()
    assert branches == ["ads/incident-1-fix-memory-leak"]

    reported = ads(repo, local_pagerduty, "report", incident.id)
    assert reported.returncode == 0, reported.stderr
    html = repo / ".ads" / "reports" / incident.id / "report.html"
    assert html.is_file() and "<svg" in html.read_text()


def test_wrong_token_and_unknown_incident_are_one_line(
    tmp_path: Path, local_pagerduty: LocalPagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    wrong = ads(repo, local_pagerduty, "analyze", "PNOPE12", token="not-the-token")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "PAGERDUTY_API_HOST" in wrong.stderr and "not-the-token" not in wrong.stderr
    missing = ads(repo, local_pagerduty, "analyze", "PNOPE12")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "PNOPE12" in missing.stderr
    for odd in ("a/b", "PABC?x=1", "PABC#frag", "../incidents"):
        proc = ads(repo, local_pagerduty, "analyze", odd)  # refused before asking PagerDuty
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (odd, proc.stderr)
        assert "is not a PagerDuty incident id or number" in proc.stderr
    no_report = ads(repo, local_pagerduty, "report", "PNOPE12")
    assert no_report.returncode == 2 and "no stored diagnosis" in no_report.stderr


def test_port_in_use_and_unwritable_state_dir_are_one_line(
    tmp_path: Path, local_pagerduty: LocalPagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    port = local_pagerduty.api_url.rsplit(":", 1)[1]
    env = {**os.environ, "ADS_WEBHOOK_SECRETS": "s"}
    busy = subprocess.run(
        [sys.executable, "-m", "ads", "serve", "--config", str(repo / "ads.yaml"), "--port", port],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert busy.returncode == 2 and "cannot listen on" in busy.stderr
    assert "Traceback" not in busy.stderr
    config = repo / "ads.yaml"
    config.write_text("state_dir: /proc/ads-cannot-be-here\n" + config.read_text())
    unwritable = ads(repo, local_pagerduty, "report", "PNOPE12")
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr
    assert "/proc/ads-cannot-be-here" in unwritable.stderr
