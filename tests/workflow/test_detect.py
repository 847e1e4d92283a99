"""Detection: real OOM kills under the local runtime become one PagerDuty incident, in real time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace, worker_with_free
from ads.sources.monitors import LocalRuntime, MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.sources.repository import GitRepository
from ads.workflow import Context, runtime_alerter
from pagerduty_local import LocalPagerDuty


@pytest.mark.cgroup
def test_three_kills_make_one_incident_with_three_alerts(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    limiter = cgroup_limiter
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    settings = load_settings(repo / "ads.yaml")
    service = settings.service("ads-demo-service").model_copy(
        update={"backoff": settings.service("ads-demo-service").backoff.model_copy(
            update={"initial_seconds": 0.1, "max_seconds": 0.2})}
    )  # fmt: skip
    ctx = Context(settings=settings, pagerduty_factory=lambda: pagerduty_client)
    alerter = runtime_alerter(
        ctx, service, repo, routing_key=local_pagerduty.routing_key("ads-demo-service")
    )
    run = LocalRuntime(service, repo, limiter=limiter, observers=[alerter]).run(
        max_kills=3, duration=40
    )
    assert len(run.events) == 3

    (incident,) = pagerduty_client.list_incidents()
    full = pagerduty_client.get_incident(incident.id)
    assert len(full.alerts) == 3
    oncall = pagerduty_client.oncalls_for_service(full.service_id or "")
    level1 = [o.user_id for o in oncall if o.level == 1]
    assert full.assignees == level1  # paged the level-1 on-call, nobody else
    details = full.alerts[0].custom_details
    assert details["memory_limit"] == "64Mi"
    assert details["exit_code"] == 137
    assert details["git_sha"] == run.git_sha
    changes = pagerduty_client.change_events_for_service(full.service_id or "")
    assert any(run.git_sha and run.git_sha[:12] in c.get("summary", "") for c in changes)


def test_ads_change_sends_the_deploy_with_its_sha(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": local_pagerduty.token,
        "PAGERDUTY_API_HOST": local_pagerduty.api_url,
        "ADS_PAGERDUTY_CA": str(local_pagerduty.ca_file),
        "PAGERDUTY_ROUTING_KEY": local_pagerduty.routing_key("ads-demo-service"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "change", "ads-demo-service", "--config",
         str(repo / "ads.yaml")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sha = GitRepository(repo).head_sha()
    service = pagerduty_client.find_service("ads-demo-service")
    changes = pagerduty_client.change_events_for_service(service["id"])
    assert any(sha[:12] in c.get("summary", "") for c in changes)

    no_key = {k: v for k, v in env.items() if k != "PAGERDUTY_ROUTING_KEY"}
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "change", "ads-demo-service", "--config",
         str(repo / "ads.yaml")],
        env=no_key, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "PAGERDUTY_ROUTING_KEY is not set" in proc.stderr


@pytest.mark.cgroup
def test_healthy_run_after_the_fix_resolves_the_incident(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    limiter = cgroup_limiter
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    settings = load_settings(repo / "ads.yaml")
    base = settings.service("ads-demo-service")
    service = base.model_copy(
        update={"alert_rules": base.alert_rules.model_copy(
            update={"resolve_after_healthy_seconds": 1.0})}
    )  # fmt: skip
    ctx = Context(settings=settings, pagerduty_factory=lambda: pagerduty_client)
    key = local_pagerduty.routing_key("ads-demo-service")

    def run(**limits: float) -> None:
        alerter = runtime_alerter(ctx, service, repo, routing_key=key)
        LocalRuntime(service, repo, limiter=limiter, observers=[alerter]).run(**limits)  # type: ignore[arg-type]

    run(max_kills=1, duration=30)
    (incident,) = pagerduty_client.list_incidents()
    assert incident.status == "triggered"

    worker = repo / "worker.c"  # the fix lands (as the PR would), and the service is redeployed
    worker.write_text(worker_with_free(worker.read_text()))
    who = {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "A",
           "GIT_COMMITTER_EMAIL": "a@x"}  # fmt: skip
    git = ["git", "-C", str(repo), "commit", "-qam", "Free the payload buffer"]
    subprocess.run(git, check=True, env={**os.environ, **who})
    run(duration=2.5)

    assert pagerduty_client.get_incident(incident.id).status == "resolved"
