"""An OOM kill becomes one PagerDuty trigger with a stable dedup_key and all the details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ads.analysis.alert_rules import build_alert_event, dedup_key, should_alert
from ads.config import AlertRules
from ads.models import OomEvent

KILLED = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def kill(restarts: int = 3, **fields: object) -> OomEvent:
    body: dict[str, object] = {
        "service": "ads-demo-service",
        "pid": 4242,
        "memory_limit": 64 * 1024 * 1024,
        "peak_usage": 64 * 1024 * 1024,
        "killed_at": KILLED,
        "started_at": KILLED - timedelta(seconds=1.8),
        "restart_count": restarts,
        "git_sha": "a" * 40,
        "namespace": "default",
        "workload": "ads-demo-service",
        "container": "worker",
        "node": "vm",
    }
    body.update(fields)
    return OomEvent.model_validate(body)


def test_summary_and_details_match_the_kill() -> None:
    event = build_alert_event(kill(), AlertRules())
    # the incident's title: nothing in it goes stale when later kills join the incident
    assert event.summary == "ads-demo-service OOMKilled (64Mi limit)"
    assert event.custom_details["restart_count"] == 3
    assert event.severity == "critical"
    assert event.dedup_key == "oomkilled/default/ads-demo-service/worker"
    details = event.custom_details
    assert details["memory_limit"] == "64Mi"
    assert details["exit_code"] == 137
    assert details["git_sha"] == "a" * 40
    assert details["seconds_to_kill"] == 1.8
    assert details["pod"] == "unknown"


def test_every_kill_of_one_container_shares_the_dedup_key() -> None:
    keys = {build_alert_event(kill(restarts=n), AlertRules()).dedup_key for n in range(5)}
    assert keys == {"oomkilled/default/ads-demo-service/worker"}
    other = build_alert_event(kill(container="sidecar"), AlertRules()).dedup_key
    assert other != "oomkilled/default/ads-demo-service/worker"


def test_pod_without_limit_or_owner_still_alerts_with_unknowns() -> None:
    event = build_alert_event(
        kill(memory_limit=None, workload=None, namespace=None), AlertRules(severity="error")
    )
    assert event.summary == "ads-demo-service OOMKilled (no limit)"
    assert event.custom_details["memory_limit"] == "unknown"
    assert event.dedup_key == "oomkilled/unknown/ads-demo-service/worker"
    assert event.severity == "error"
    assert dedup_key(None, None, None) == "oomkilled/unknown/unknown/unknown"


def test_rules_choose_what_pages() -> None:
    assert should_alert(kill(), AlertRules())
    assert not should_alert(kill(), AlertRules(oomkilled=False))
    crash = kill(reason="Error", exit_code=1, restarts=5)
    assert not should_alert(crash, AlertRules())
    assert should_alert(crash, AlertRules(crashloop_after_restarts=5))
    assert should_alert(crash, AlertRules(exit_codes=[1]))
