"""Escalation by severity and response time, on an accelerated clock (time_scale)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.models import Diagnosis, Remediation
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context, evaluate_escalations
from pagerduty_local import LocalPagerDuty
from tests.fixtures.pagerduty import demo_kill, page_oom


def setup(tmp_path: Path, server: LocalPagerDuty, client: PagerDuty) -> tuple[Context, str]:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    text = (repo / "ads.yaml").read_text()
    text = "time_scale: 60\n" + text.replace(
        "    alert_rules:",
        "    escalation:\n      - {severity: critical, after_minutes: 5, to_level: 2}\n"
        "    alert_rules:",
    )
    (repo / "ads.yaml").write_text(text)
    settings = load_settings(repo / "ads.yaml")
    ctx = Context(settings=settings, pagerduty_factory=lambda: client)
    page_oom(server, client, demo_kill())
    incident = client.list_incidents()[0]
    full = client.get_incident(incident.id)
    ctx.store.save_diagnosis(
        Diagnosis(
            incident=full, service="ads-demo-service", severity="critical",
            created_at=datetime.now(UTC),
        )
    )  # fmt: skip
    return ctx, incident.id


def noted(ctx: Context, incident_id: str, at: datetime) -> None:
    ctx.store.save_remediation(
        Remediation(incident_id=incident_id, fix_summary="Added free(buffer)", noted_at=at)
    )


def test_unacknowledged_critical_incident_is_escalated_with_a_note(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    ctx, incident_id = setup(tmp_path, local_pagerduty, pagerduty_client)
    posted = datetime.now(UTC)
    noted(ctx, incident_id, posted)
    level2 = [o.user_id for o in pagerduty_client.oncalls_for_service(
        pagerduty_client.get_incident(incident_id).service_id or "") if o.level == 2]  # fmt: skip

    # 4 scaled minutes (4 s): not yet.
    assert evaluate_escalations(ctx, now=posted + timedelta(seconds=4)) == []
    # 5 scaled minutes: escalated to level 2, with a note saying why; only once.
    (done,) = evaluate_escalations(ctx, now=posted + timedelta(seconds=5))
    assert "level 2" in done and "unacknowledged 5 min" in done
    incident = pagerduty_client.get_incident(incident_id)
    assert incident.assignees == level2
    notes = [n.content for n in pagerduty_client.list_notes(incident_id)]
    assert any("Escalated to level 2" in note for note in notes)
    assert evaluate_escalations(ctx, now=posted + timedelta(seconds=60)) == []


def test_acknowledged_incident_is_left_alone(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    ctx, incident_id = setup(tmp_path, local_pagerduty, pagerduty_client)
    posted = datetime.now(UTC)
    noted(ctx, incident_id, posted)
    pagerduty_client.acknowledge(incident_id)
    assert evaluate_escalations(ctx, now=posted + timedelta(seconds=30)) == []
    assert pagerduty_client.list_notes(incident_id) == []
    settled = ctx.store.remediation(incident_id)
    assert settled is not None and settled.escalated_to == 0  # not asked about again
